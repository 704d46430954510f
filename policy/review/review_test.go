package review

import (
	"strings"
	"testing"
	"time"

	"github.com/edgerec/edgerec/policy/grants"
	"github.com/edgerec/edgerec/policy/users"
)

// TestR14Review: stale accounts are flagged and picked for disabling; the
// last admin is kept; active grants and last use are reported.
func TestR14Review(t *testing.T) {
	now := time.Date(2026, 6, 1, 0, 0, 0, 0, time.UTC)
	ago := func(d int) int64 { return now.Add(-time.Duration(d) * 24 * time.Hour).UnixNano() }
	far := now.Add(100 * 24 * time.Hour).UnixNano()
	us := []users.User{
		{ID: "u-1", Name: "admin", Role: "admin", RoleExpires: far, LastLogin: ago(200)},
		{ID: "u-2", Name: "op", Role: "operator", RoleExpires: far, LastLogin: ago(1), LastUse: ago(1)},
		{ID: "u-3", Name: "idle", Role: "auditor", RoleExpires: far, LastLogin: ago(70)},
		{ID: "u-4", Name: "gone", Role: "approver", RoleExpires: far, LastLogin: ago(91)},
		{ID: "u-5", Name: "off", Disabled: true, LastLogin: ago(300)},
	}
	gs := []grants.Grant{{ID: "g-1", Action: grants.Playback, Requester: "u-2", Status: grants.Approved,
		Issued: ago(1), Expires: far, Uses: 3, LastUse: ago(1)}}
	r := Build(us, gs, now, Config{DisableAfter: 90 * 24 * time.Hour})
	by := map[string]Account{}
	for _, a := range r.Accounts {
		by[a.Name] = a
	}
	if a := by["admin"]; !a.Stale || a.Disable || !strings.Contains(a.Note, "last admin") {
		t.Errorf("admin: %+v", a)
	}
	if a := by["op"]; a.Stale || len(a.ActiveGrants) != 1 || !strings.Contains(a.Note, "training") {
		t.Errorf("op: %+v", a)
	}
	if a := by["idle"]; !a.Stale || a.Disable {
		t.Errorf("idle: %+v", a)
	}
	if a := by["gone"]; !a.Stale || !a.Disable {
		t.Errorf("gone: %+v", a)
	}
	if a := by["off"]; a.Stale || a.Disable {
		t.Errorf("disabled account flagged again: %+v", a)
	}
	s := r.String()
	if !strings.Contains(s, "STALE") || !strings.Contains(s, "g-1 playback by u-2 approved uses=3") {
		t.Error(s)
	}
}
