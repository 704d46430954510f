package web

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strings"
	"sync"
	"testing"

	"github.com/edgerec/edgerec/policy/kind"
)

var errTestRefused = kind.New(kind.Invalid, "update: bundle refused")

// testUpdates stages any body starting with "signed" and refuses the rest.
type testUpdates struct {
	mu      sync.Mutex
	staged  string
	applied []string
}

func (u *testUpdates) Stage(_ context.Context, r io.Reader) (UpdateStaged, error) {
	b, _ := io.ReadAll(r)
	if !bytes.HasPrefix(b, []byte("signed")) {
		return UpdateStaged{}, fmt.Errorf("%w: signature does not verify against the vendor keyring", errTestRefused)
	}
	sum := sha256.Sum256(b)
	u.mu.Lock()
	defer u.mu.Unlock()
	u.staged = hex.EncodeToString(sum[:])
	return UpdateStaged{Digest: u.staged, Version: "2.0", Size: int64(len(b))}, nil
}

func (u *testUpdates) Apply(_ context.Context, grantID, actorID, digest string) error {
	u.mu.Lock()
	defer u.mu.Unlock()
	u.applied = append(u.applied, grantID+" "+actorID+" "+digest)
	return nil
}

func (u *testUpdates) Status() any { return map[string]string{"slot": "A"} }

// TestUpdateUploadFourEyes (issue 16, R21): only an admin uploads; a
// refused bundle is a 400 with the reason, audited; an accepted one files
// an update request that only another user with grants.approve can
// approve, and the approval applies exactly that digest.
func TestUpdateUploadFourEyes(t *testing.T) {
	up := &testUpdates{}
	e := newEnv(t, envOptions{updates: up, noCams: true})
	tm := e.makeTeam()
	upload := func(c *http.Cookie, body string) (int, string) {
		resp := e.do("POST", "/api/v1/update", "application/octet-stream", body, c)
		return resp.StatusCode, string(readAll(t, resp))
	}
	if code, _ := upload(tm.cookies["installer"], "signed v2"); code != http.StatusForbidden {
		t.Errorf("installer uploaded: %d", code)
	}
	if code, _ := upload(tm.cookies["approver"], "signed v2"); code != http.StatusForbidden {
		t.Errorf("approver uploaded: %d", code)
	}
	code, msg := upload(tm.cookies["admin"], "garbage")
	if code != http.StatusBadRequest || !strings.Contains(msg, "does not verify") {
		t.Errorf("refused bundle: %d %s", code, msg)
	}
	code, msg = upload(tm.cookies["admin"], "signed v2")
	if code != http.StatusAccepted || !strings.Contains(msg, "waiting_for_approval") {
		t.Fatalf("upload: %d %s", code, msg)
	}
	var pending struct {
		Request string `json:"request"`
		Bundle  struct {
			Digest string `json:"digest"`
		} `json:"bundle"`
	}
	if err := json.Unmarshal([]byte(msg), &pending); err != nil || pending.Request == "" {
		t.Fatalf("upload answer %s: %v", msg, err)
	}
	if len(up.applied) != 0 {
		t.Fatal("applied before approval")
	}
	if resp := e.do("POST", "/api/v1/grants/"+pending.Request+"/approve", "", "", tm.cookies["admin"]); resp.StatusCode != http.StatusForbidden {
		t.Errorf("the uploader approved: %d", resp.StatusCode)
	}
	e.must(200, "POST", "/api/v1/grants/"+pending.Request+"/approve", nil, tm.cookies["approver"], nil)
	if len(up.applied) != 1 || up.applied[0] != pending.Request+" "+tm.ids["approver"]+" "+pending.Bundle.Digest {
		t.Errorf("applied %v", up.applied)
	}
	var refused, staged bool
	for _, r := range e.audit() {
		if r.Action == "update.upload" && r.Result != "ok" && strings.Contains(r.Detail, "does not verify") {
			refused = true
		}
		if r.Action == "update.upload" && r.Result == "ok" && r.Grant == pending.Request {
			staged = true
		}
	}
	if !refused || !staged {
		t.Errorf("audit: refused upload %v, staged upload citing the request %v", refused, staged)
	}
}
