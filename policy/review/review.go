package review

import (
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/edgerec/edgerec/policy/grants"
	"github.com/edgerec/edgerec/policy/perm"
	"github.com/edgerec/edgerec/policy/users"
)

// Config sets the thresholds.
type Config struct {
	FlagAfter    time.Duration // default 2/3 of DisableAfter
	DisableAfter time.Duration // default 90 days
}

func (c Config) withDefaults() Config {
	if c.DisableAfter <= 0 {
		c.DisableAfter = 90 * 24 * time.Hour
	}
	if c.FlagAfter <= 0 || c.FlagAfter > c.DisableAfter {
		c.FlagAfter = c.DisableAfter * 2 / 3
	}
	return c
}

// Account is one row of the report (ids and names; no hashes).
type Account struct {
	ID, Name     string
	Role         string // current role ("" none or expired)
	RoleGrant    string
	RoleExpires  time.Time
	Cameras      []string
	Disabled     bool
	LastLogin    time.Time
	LastUse      time.Time
	LastActivity time.Time
	Trained      time.Time
	ActiveGrants []string // footage/decommission grants held, active now
	Stale        bool     // inactive for FlagAfter or more
	Disable      bool     // inactive for DisableAfter or more: to be disabled
	Note         string
}

// GrantRow summarises one grant.
type GrantRow struct {
	ID, Action, Requester, State string
	Issued, Expires, LastUse     time.Time
	Uses                         uint64
}

// Report is the permission review.
type Report struct {
	At       time.Time
	Accounts []Account
	Grants   []GrantRow
	// Visits are the maintenance visits of the last VisitWindow (issue 18),
	// oldest first.
	Visits []Visit
}

// Visit is one maintenance visit in the report.
type Visit struct {
	ID      string
	At      time.Time
	Who     string // login name
	Cameras []string
	Work    string
}

// VisitWindow is how far back the report lists maintenance visits.
const VisitWindow = 90 * 24 * time.Hour

func ts(n int64) time.Time {
	if n == 0 {
		return time.Time{}
	}
	return time.Unix(0, n).UTC()
}

// Build makes the report at now.
func Build(us []users.User, gs []grants.Grant, now time.Time, c Config) Report {
	c = c.withDefaults()
	rep := Report{At: now.UTC()}
	admins := 0
	for i := range us {
		if !us[i].Disabled && us[i].CurrentRole(now) == string(perm.Admin) {
			admins++
		}
	}
	held := map[string][]string{}
	for i := range gs {
		g := &gs[i]
		rep.Grants = append(rep.Grants, GrantRow{ID: g.ID, Action: g.Action, Requester: g.Requester, State: g.State(now),
			Issued: ts(g.Issued), Expires: ts(g.Expires), LastUse: ts(g.LastUse), Uses: g.Uses})
		if g.Action != grants.AssignRole && g.Active(now) {
			held[g.Requester] = append(held[g.Requester], g.ID)
		}
	}
	for i := range us {
		u := &us[i]
		last := max(u.LastLogin, u.LastUse, u.Created)
		a := Account{ID: u.ID, Name: u.Name, Role: u.CurrentRole(now), RoleGrant: u.RoleGrant, RoleExpires: ts(u.RoleExpires),
			Cameras: slices.Clone(u.Cameras), Disabled: u.Disabled, LastLogin: ts(u.LastLogin), LastUse: ts(u.LastUse),
			LastActivity: ts(last), Trained: ts(u.Trained), ActiveGrants: held[u.ID]}
		idle := now.Sub(time.Unix(0, last))
		if !u.Disabled {
			a.Stale = idle >= c.FlagAfter
			a.Disable = idle >= c.DisableAfter
			if a.Disable && a.Role == string(perm.Admin) && admins <= 1 {
				a.Disable, a.Note = false, "last admin: flagged, not disabled"
			}
			if a.Role == string(perm.Operator) && u.Trained == 0 {
				a.Note = strings.TrimPrefix(a.Note+"; operator without training date: no video (R15)", "; ")
			}
		}
		rep.Accounts = append(rep.Accounts, a)
	}
	slices.SortFunc(rep.Accounts, func(a, b Account) int { return strings.Compare(a.Name, b.Name) })
	return rep
}

// String renders the report as text, times in UTC.
func (r Report) String() string { return r.Text(time.UTC) }

// Text renders the report as text with times in loc (the site's zone,
// issue 18; RFC 3339 with the offset), UTC if loc is nil.
func (r Report) Text(loc *time.Location) string {
	if loc == nil {
		loc = time.UTC
	}
	var b strings.Builder
	d := func(t time.Time) string {
		if t.IsZero() {
			return "never"
		}
		return t.In(loc).Format(time.RFC3339)
	}
	fmt.Fprintf(&b, "permission review at %s\n", r.At.In(loc).Format(time.RFC3339))
	for _, a := range r.Accounts {
		flag := ""
		switch {
		case a.Disabled:
			flag = " [disabled]"
		case a.Disable:
			flag = " [STALE: to disable]"
		case a.Stale:
			flag = " [stale]"
		}
		fmt.Fprintf(&b, "%s %s role=%q grants=%d last-login=%s last-use=%s%s", a.ID, a.Name, a.Role, len(a.ActiveGrants), d(a.LastLogin), d(a.LastUse), flag)
		if a.Note != "" {
			fmt.Fprintf(&b, " (%s)", a.Note)
		}
		b.WriteByte('\n')
	}
	for _, g := range r.Grants {
		fmt.Fprintf(&b, "%s %s by %s %s uses=%d last-use=%s\n", g.ID, g.Action, g.Requester, g.State, g.Uses, d(g.LastUse))
	}
	fmt.Fprintf(&b, "maintenance visits (last %d days): %d\n", int(VisitWindow/(24*time.Hour)), len(r.Visits))
	for _, v := range r.Visits {
		cams := "no camera"
		if len(v.Cameras) > 0 {
			cams = strings.Join(v.Cameras, ",")
		}
		fmt.Fprintf(&b, "%s %s by %s on %s: %s\n", v.ID, d(v.At), v.Who, cams, strings.Join(strings.Fields(v.Work), " "))
	}
	return b.String()
}
