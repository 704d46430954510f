package web

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/hex"
	"errors"
	"fmt"
	"github.com/edgerec/edgerec/hal/fsutil"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"sync"
)

// setupFile holds the SHA-256 (hex) of the one-time setup code under
// <DataDir>/web. The code has 100 random bits, so a plain hash suffices (no
// password KDF): it cannot be guessed from the hash, and guessing it online
// is throttled per address.
const (
	setupDir  = "web"
	setupFile = "setup-code.sha256"
)

// credentialAlphabet is Crockford's base32 in lower case: no i, l, o or u, so
// a technician copying from a console cannot confuse 1/l or 0/o.
const credentialAlphabet = "0123456789abcdefghjkmnpqrstvwxyz"

// newCredential returns 20 random symbols (100 bits) grouped by four with
// dashes, e.g. "k3f9-2mzq-…".
func newCredential() ([]byte, error) {
	raw := make([]byte, 20)
	if _, err := rand.Read(raw); err != nil {
		return nil, fmt.Errorf("web: setup code: %w", err)
	}
	out := make([]byte, 0, 24)
	for i, b := range raw {
		if i > 0 && i%4 == 0 {
			out = append(out, '-')
		}
		out = append(out, credentialAlphabet[b&31])
	}
	clear(raw)
	return out, nil
}

// normalizeCode lower-cases a typed code and drops spaces and dashes, so
// "K3F9 2MZQ…" matches.
func normalizeCode(code string) []byte {
	var b []byte
	for _, r := range strings.ToLower(code) {
		if r == '-' || r == ' ' {
			continue
		}
		b = append(b, string(r)...)
	}
	return b
}

func codeHash(code []byte) string {
	sum := sha256.Sum256(normalizeCode(string(code)))
	return hex.EncodeToString(sum[:])
}

// ProvisionSetupCode creates a fresh one-time setup code for dataDir
// (replacing an unused one) and returns it for `edgerec provision` to
// print. Only its hash is written (0600, atomic).
func ProvisionSetupCode(dataDir string) (string, error) {
	code, err := newCredential()
	if err != nil {
		return "", err
	}
	if err := writeSetupHash(dataDir, codeHash(code)); err != nil {
		return "", err
	}
	return string(code), nil
}

func writeSetupHash(dataDir, h string) error {
	dir := filepath.Join(dataDir, setupDir)
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return fmt.Errorf("web: setup code: %w", err)
	}
	if err := fsutil.WriteFile(filepath.Join(dir, setupFile), []byte(h+"\n"), 0o600); err != nil {
		return fmt.Errorf("web: setup code: %w", err)
	}
	return nil
}

// setupCode is the state of first-run setup.
type setupCode struct {
	dir string

	mu    sync.Mutex
	hash  string // "" = no code (setup done)
	plain []byte // set only when New generated the code; cleared by takePlain
}

// openSetupCode reads the provisioned code hash; when the policy store has
// no usable user (none, or only restored ones) and no code exists, it generates one (plain kept for SetupCode).
// When users exist, a leftover code file is removed: it is dead.
func openSetupCode(ctx context.Context, dataDir string, pol Policy) (*setupCode, error) {
	sc := &setupCode{dir: dataDir}
	us, err := pol.Users(ctx)
	if err != nil {
		return nil, fmt.Errorf("web: setup: list users: %w", err)
	}
	path := filepath.Join(dataDir, setupDir, setupFile)
	// Accounts restored from a replaced gateway (issue 18) have no
	// password and no role until the first admin is set up: the code
	// stays valid while only such accounts exist (policy.Store.Restore).
	usable := 0
	for _, u := range us {
		if u.Hash != "" || u.Role != "" || u.RoleGrant != "" {
			usable++
		}
	}
	if usable > 0 {
		if err := os.Remove(path); err != nil && !errors.Is(err, fs.ErrNotExist) {
			return nil, fmt.Errorf("web: setup: remove used code: %w", err)
		}
		return sc, nil
	}
	b, err := os.ReadFile(path)
	switch {
	case err == nil:
		h := strings.TrimSpace(string(b))
		if len(h) != 64 {
			return nil, fmt.Errorf("web: setup: %s is damaged; run provision again", path)
		}
		sc.hash = h
		return sc, nil
	case !errors.Is(err, fs.ErrNotExist):
		return nil, fmt.Errorf("web: setup: %w", err)
	}
	code, err := newCredential()
	if err != nil {
		return nil, err
	}
	sc.hash = codeHash(code)
	if err := writeSetupHash(dataDir, sc.hash); err != nil {
		return nil, err
	}
	sc.plain = code
	return sc, nil
}

func (sc *setupCode) pending() bool {
	sc.mu.Lock()
	defer sc.mu.Unlock()
	return sc.hash != ""
}

func (sc *setupCode) takePlain() string {
	sc.mu.Lock()
	defer sc.mu.Unlock()
	p := string(sc.plain)
	clear(sc.plain)
	sc.plain = nil
	return p
}

// check compares a typed code in constant time.
func (sc *setupCode) check(code string) bool {
	sc.mu.Lock()
	h := sc.hash
	sc.mu.Unlock()
	if h == "" {
		return false
	}
	got := codeHash([]byte(code))
	return subtle.ConstantTimeCompare([]byte(got), []byte(h)) == 1
}

// consume kills the code after the first admin exists.
func (sc *setupCode) consume() error {
	sc.mu.Lock()
	sc.hash = ""
	clear(sc.plain)
	sc.plain = nil
	sc.mu.Unlock()
	err := os.Remove(filepath.Join(sc.dir, setupDir, setupFile))
	if err != nil && !errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("web: setup: remove code: %w", err)
	}
	return nil
}
