package perm

import (
	"errors"
	"os"
	"strings"
	"testing"
)

// TestR11Matrix checks every permission × role against the matrix documented
// in the issue (R11), written out here independently of Table: admin (users
// and roles, no video), installer (cameras, masks, network, live view for
// aiming), operator (live view, may request playback), approver (approves or
// denies, no video by the role alone), auditor (audit and reports, no video).
// Columns: admin installer operator approver auditor.
func TestR11Matrix(t *testing.T) {
	want := map[Permission]string{
		HealthRead:      "y y y y y",
		MetricsRead:     "y y - - y",
		OwnAccountWrite: "y y y y y",
		CamerasRead:     "- y y y y",
		CamerasManage:   "- y - - -",
		MasksManage:     "- y - - -",
		NetworkManage:   "- y - - -",
		ConfigChange:    "y y - - -",
		CameraLive:      "- y y - -",
		RecordingsReq:   "- - y y -",
		Playback:        "- - g g -",
		Export:          "- - g g -",
		LegalHold:       "- - g g -",
		GrantsRead:      "y - - y y",
		GrantsApprove:   "- - - y -",
		GrantsRevoke:    "y - - y -",
		UsersManage:     "y - - - -",
		AuditRead:       "- - - - y",
		ReportsRead:     "y - - - y",
		Decommission:    "g - - - -",
		BackupExport:    "y - - - -",
		Maintenance:     "y y - - -",
		DeviceUpdate:    "y - - - -",
	}
	m := NewMatrix()
	if len(Table()) != len(want) {
		t.Fatalf("table has %d permissions, documented matrix %d", len(Table()), len(want))
	}
	for _, row := range Table() {
		cells, ok := want[row.Perm]
		if !ok {
			t.Errorf("%s: not in the documented matrix", row.Perm)
			continue
		}
		for i, c := range strings.Fields(cells) {
			r := Roles()[i]
			var exp Cell
			switch c {
			case "y":
				exp = Allow
			case "g":
				exp = Grant
			}
			if got := m.Cell(r, row.Perm); got != exp {
				t.Errorf("%s × %s = %s, documented %s", row.Perm, r, got, exp)
			}
			if m.Allows(r, row.Perm) != (exp == Allow) || m.MayHoldGrant(r, row.Perm) != (exp == Grant) {
				t.Errorf("%s × %s: Allows/MayHoldGrant disagree with the cell", row.Perm, r)
			}
		}
	}
}

// TestR11NoVideoWithoutGrant: no role reaches recorded footage by the role
// alone; admin, approver and auditor have no video permission at all by role.
func TestR11NoVideoWithoutGrant(t *testing.T) {
	m := NewMatrix()
	for _, p := range []Permission{Playback, Export, LegalHold} {
		for _, r := range Roles() {
			if m.Allows(r, p) {
				t.Errorf("%s allows %s without a grant", r, p)
			}
		}
	}
	for _, row := range Table() {
		if !row.Video {
			continue
		}
		for _, r := range []Role{Admin, Approver, Auditor} {
			if m.Allows(r, row.Perm) {
				t.Errorf("%s may see video (%s) by role alone", r, row.Perm)
			}
		}
	}
}

func TestParse(t *testing.T) {
	for _, r := range Roles() {
		if got, err := ParseRole(string(r)); err != nil || got != r {
			t.Errorf("ParseRole(%q) = %q, %v", r, got, err)
		}
	}
	_, err := ParseRole("superuser")
	if !errors.Is(err, ErrUnknownRole) || !strings.Contains(err.Error(), "superuser") || !strings.Contains(err.Error(), "auditor") {
		t.Errorf("ParseRole(superuser) = %v, want unknown role naming it and the known ones", err)
	}
	if _, err := ParsePermission("recordings.delete"); !errors.Is(err, ErrUnknownPermission) {
		t.Errorf("ParsePermission: %v", err)
	}
}

// TestR11PermissionsDocUpToDate: policy/PERMISSIONS.md is rendered from the
// same data. UPDATE_PERMISSIONS=1 rewrites it.
func TestR11PermissionsDocUpToDate(t *testing.T) {
	const path = "../PERMISSIONS.md"
	want := Markdown()
	if os.Getenv("UPDATE_PERMISSIONS") != "" {
		if err := os.WriteFile(path, []byte(want), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	got, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run: go generate ./policy/perm)", err)
	}
	if string(got) != want {
		t.Fatalf("%s is out of date: run go generate ./policy/perm", path)
	}
}
