package perm

import (
	"errors"
	"fmt"
	"slices"
	"strings"

	"github.com/edgerec/edgerec/policy/kind"
)

//go:generate go run ./gen -o ../PERMISSIONS.md

// Role is a user's role (R11). A user holds at most one role at a time.
type Role string

// The roles of R11.
const (
	Admin     Role = "admin"
	Installer Role = "installer"
	Operator  Role = "operator"
	Approver  Role = "approver"
	Auditor   Role = "auditor"
)

// Permission is what an operation requires. Routes and calls name
// permissions, never roles.
type Permission string

// The permissions. The comment of each is its documentation (also rendered).
const (
	HealthRead      Permission = "health.read"
	CamerasRead     Permission = "cameras.read"
	CamerasManage   Permission = "cameras.manage"
	MasksManage     Permission = "masks.manage"
	NetworkManage   Permission = "network.manage"
	CameraLive      Permission = "cameras.live"
	RecordingsReq   Permission = "recordings.request"
	Playback        Permission = "recordings.playback"
	Export          Permission = "recordings.export"
	LegalHold       Permission = "recordings.hold"
	GrantsRead      Permission = "grants.read"
	GrantsApprove   Permission = "grants.approve"
	GrantsRevoke    Permission = "grants.revoke"
	UsersManage     Permission = "users.manage"
	AuditRead       Permission = "audit.read"
	ReportsRead     Permission = "reports.read"
	Decommission    Permission = "device.decommission"
	DeviceUpdate    Permission = "device.update"
	BackupExport    Permission = "backup.export"
	ConfigChange    Permission = "config.change"
	MetricsRead     Permission = "metrics.read"
	OwnAccountWrite Permission = "account.self"
	Maintenance     Permission = "maintenance.record"
)

// Cell is one entry of the matrix.
type Cell uint8

// Cell values; see the package doc.
const (
	Deny Cell = iota
	Allow
	Grant
)

func (c Cell) String() string {
	switch c {
	case Allow:
		return "yes"
	case Grant:
		return "grant"
	}
	return "-"
}

// PermInfo describes one permission row.
type PermInfo struct {
	Perm Permission
	// Doc is one line for the rendered table.
	Doc string
	// Video: the permission shows video (live or recorded). An operator
	// without a training date is refused every Video permission (R15).
	Video bool
	// CameraScoped: a user's camera scope (from the role assignment) limits
	// it to the cameras in scope.
	CameraScoped bool
	Cells        map[Role]Cell
}

// Roles returns the roles in table order.
func Roles() []Role { return []Role{Admin, Installer, Operator, Approver, Auditor} }

// Table returns the permission matrix (a fresh copy; callers may not change
// the policy by changing it). This is the one place that says what a role
// may do.
func Table() []PermInfo {
	y, g := Allow, Grant
	return []PermInfo{
		{HealthRead, "device and storage health, warnings", false, false,
			map[Role]Cell{Admin: y, Installer: y, Operator: y, Approver: y, Auditor: y}},
		{MetricsRead, "/metrics (Prometheus, no camera names)", false, false,
			map[Role]Cell{Admin: y, Installer: y, Auditor: y}},
		{OwnAccountWrite, "change one's own password", false, false,
			map[Role]Cell{Admin: y, Installer: y, Operator: y, Approver: y, Auditor: y}},
		{CamerasRead, "camera ids, names, zones and figures (R19)", false, true,
			map[Role]Cell{Installer: y, Operator: y, Approver: y, Auditor: y}},
		{CamerasManage, "add, change cameras; signage attestation; request removal, zone or source changes (R27)", false, true,
			map[Role]Cell{Installer: y}},
		{MasksManage, "add privacy masks (R2); request deleting, shrinking or weakening one (R27)", false, true,
			map[Role]Cell{Installer: y}},
		{NetworkManage, "LAN, allowlist, uplink settings", false, false,
			map[Role]Cell{Installer: y}},
		{ConfigChange, "device configuration other than cameras and network", false, false,
			map[Role]Cell{Admin: y, Installer: y}},
		{CameraLive, "masked live view and snapshot (installer: for aiming)", true, true,
			map[Role]Cell{Installer: y, Operator: y}},
		{RecordingsReq, "request playback, export or legal hold (R12)", false, true,
			map[Role]Cell{Operator: y, Approver: y}},
		{Playback, "play back recorded footage", true, true,
			map[Role]Cell{Operator: g, Approver: g}},
		{Export, "export footage with a signed manifest (R17)", true, true,
			map[Role]Cell{Operator: g, Approver: g}},
		{LegalHold, "place or release a legal hold (R8)", false, true,
			map[Role]Cell{Operator: g, Approver: g}},
		{GrantsRead, "list requests and grants of all users", false, false,
			map[Role]Cell{Admin: y, Approver: y, Auditor: y}},
		{GrantsApprove, "approve or deny others' requests (four eyes)", false, false,
			map[Role]Cell{Approver: y}},
		{GrantsRevoke, "revoke a grant or role assignment with a reason", false, false,
			map[Role]Cell{Admin: y, Approver: y}},
		{UsersManage, "create, disable users; request role assignments (R13)", false, false,
			map[Role]Cell{Admin: y}},
		{AuditRead, "read and verify the audit log (R16)", false, false,
			map[Role]Cell{Auditor: y}},
		{ReportsRead, "permission review report (R14)", false, false,
			map[Role]Cell{Admin: y, Auditor: y}},
		{Decommission, "request decommission (needs an approver too)", false, false,
			map[Role]Cell{Admin: g}},
		{BackupExport, "export device state without video (R26)", false, false,
			map[Role]Cell{Admin: y}},
		{Maintenance, "record a maintenance visit (what was done, on which cameras) and list visits (工作记录, issue 18)", false, false,
			map[Role]Cell{Admin: y, Installer: y}},
		{DeviceUpdate, "upload a signed system update and request its installation (needs an approver too; issue 16, R21)", false, false,
			map[Role]Cell{Admin: y}},
	}
}

// Matrix is the table indexed for lookups.
type Matrix struct {
	rows map[Permission]PermInfo
}

// NewMatrix indexes Table.
func NewMatrix() *Matrix {
	m := &Matrix{rows: make(map[Permission]PermInfo)}
	for _, r := range Table() {
		m.rows[r.Perm] = r
	}
	return m
}

// Cell returns the matrix cell for role and perm (Deny for unknown ones).
func (m *Matrix) Cell(r Role, p Permission) Cell { return m.rows[p].Cells[r] }

// Info returns the row of p.
func (m *Matrix) Info(p Permission) (PermInfo, bool) {
	i, ok := m.rows[p]
	return i, ok
}

// Allows reports whether role r alone allows p (Cell == Allow). A Grant
// cell is false here: the caller must check a grant (policy.Store.UseGrant).
func (m *Matrix) Allows(r Role, p Permission) bool { return m.Cell(r, p) == Allow }

// MayHoldGrant reports whether role r may request and use a grant for p.
func (m *Matrix) MayHoldGrant(r Role, p Permission) bool { return m.Cell(r, p) == Grant }

// Errors.
var (
	ErrUnknownRole       = kind.New(kind.Invalid, "unknown role")
	ErrUnknownPermission = errors.New("unknown permission")
)

// ParseRole returns the role named s or an error listing the known roles.
func ParseRole(s string) (Role, error) {
	r := Role(s)
	if slices.Contains(Roles(), r) {
		return r, nil
	}
	names := make([]string, 0, 5)
	for _, k := range Roles() {
		names = append(names, string(k))
	}
	return "", fmt.Errorf("role %q: %w (known: %s)", s, ErrUnknownRole, strings.Join(names, ", "))
}

// ParsePermission returns the permission named s.
func ParsePermission(s string) (Permission, error) {
	for _, r := range Table() {
		if string(r.Perm) == s {
			return r.Perm, nil
		}
	}
	return "", fmt.Errorf("permission %q: %w", s, ErrUnknownPermission)
}

// Markdown renders the matrix as the body of PERMISSIONS.md.
func Markdown() string {
	var b strings.Builder
	b.WriteString("# Roles and permissions (R11)\n\n")
	b.WriteString("<!-- Generated from policy/perm.Table by `go generate ./policy/perm`; do not edit. -->\n\n")
	b.WriteString("`yes`: the role alone allows it. `grant`: only under an approved, unexpired,\n")
	b.WriteString("unrevoked grant that the user requested and an approver who is not the\n")
	b.WriteString("requester approved (R12); the role alone never allows it. `-`: never.\n")
	b.WriteString("Video rows are refused to an operator without a training date (R15);\n")
	b.WriteString("camera-scoped rows are limited to the cameras of the user's role assignment.\n")
	b.WriteString("Decommission needs an admin's request and an approver's approval.\n\n")
	b.WriteString("| permission | what |")
	for _, r := range Roles() {
		fmt.Fprintf(&b, " %s |", r)
	}
	b.WriteString(" video | per camera |\n|---|---|")
	for range Roles() {
		b.WriteString("---|")
	}
	b.WriteString("---|---|\n")
	for _, row := range Table() {
		fmt.Fprintf(&b, "| `%s` | %s |", row.Perm, row.Doc)
		for _, r := range Roles() {
			fmt.Fprintf(&b, " %s |", row.Cells[r])
		}
		fmt.Fprintf(&b, " %s | %s |\n", yesNo(row.Video), yesNo(row.CameraScoped))
	}
	return b.String()
}

func yesNo(b bool) string {
	if b {
		return "yes"
	}
	return "-"
}
