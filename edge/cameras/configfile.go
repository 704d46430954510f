package cameras

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"slices"
	"strings"

	"github.com/edgerec/edgerec/edge/config"
	"github.com/edgerec/edgerec/edge/health"
	"github.com/edgerec/edgerec/policy/audit"
)

// writtenRecord is what the device itself last wrote to its config file
// (R16): the file's SHA-256 and each camera's digest. It is kept beside the
// file as <config>.written (0600), written atomically after the config.
type writtenRecord struct {
	SHA256  string            `json:"sha256"`
	Cameras map[string]string `json:"cameras"` // id → cameraDigest
}

func writtenPath(cfgPath string) string { return cfgPath + ".written" }

func recordOf(data []byte, c *config.Config) writtenRecord {
	sum := sha256.Sum256(data)
	r := writtenRecord{SHA256: hex.EncodeToString(sum[:]), Cameras: map[string]string{}}
	for i := range c.Cameras {
		r.Cameras[c.Cameras[i].ID] = cameraDigest(&c.Cameras[i])
	}
	return r
}

// WriteConfigFile writes the config file atomically and then the record of
// that write (a crash between the two is reported at the next start as an
// outside change: a false alarm, never a missed one). Every writer of the
// config file uses it (the manager, provision, rekey, the demo).
func WriteConfigFile(path string, data []byte, c *config.Config) error {
	if err := writeFileAtomic(path, data, 0o600); err != nil {
		return err
	}
	rec, err := json.Marshal(recordOf(data, c))
	if err != nil {
		return fmt.Errorf("config record: %w", err)
	}
	return writeFileAtomic(writtenPath(path), rec, 0o600)
}

// externalChange compares the config file with the device's record of its
// own last write. It returns "" when they match, otherwise a summary with
// camera ids only ("added=… removed=… changed=…", or that the record is
// missing).
func externalChange(path string, data []byte, c *config.Config) (string, error) {
	now := recordOf(data, c)
	raw, err := os.ReadFile(writtenPath(path))
	if errors.Is(err, fs.ErrNotExist) {
		return "no record of the device's own last write; cameras=" + strings.Join(sortedKeys(now.Cameras), ","), nil
	}
	if err != nil {
		return "", err
	}
	var was writtenRecord
	if err := json.Unmarshal(raw, &was); err != nil {
		return "record of the device's last write is damaged; cameras=" + strings.Join(sortedKeys(now.Cameras), ","), nil
	}
	if was.SHA256 == now.SHA256 {
		return "", nil
	}
	var added, removed, changed []string
	for id, d := range now.Cameras {
		switch w, ok := was.Cameras[id]; {
		case !ok:
			added = append(added, id)
		case w != d:
			changed = append(changed, id)
		}
	}
	for id := range was.Cameras {
		if _, ok := now.Cameras[id]; !ok {
			removed = append(removed, id)
		}
	}
	var b strings.Builder
	b.WriteString("edited outside the device")
	for _, part := range []struct {
		name string
		ids  []string
	}{{"added", added}, {"removed", removed}, {"changed", changed}} {
		if len(part.ids) > 0 {
			slices.Sort(part.ids)
			fmt.Fprintf(&b, "; %s=%s", part.name, strings.Join(part.ids, ","))
		}
	}
	return b.String(), nil
}

func sortedKeys(m map[string]string) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	slices.Sort(out)
	return out
}

// CheckExternalEdit runs at daemon start, before SealInlineCredentials and
// Run (R16): if the config file is not what the device last wrote, it
// writes the audit record "config.external_change" (camera ids only),
// raises the health alert "config.external" (which goes upstream as an
// alert.raised event with that code; the audit record goes upstream too)
// and records the file as seen, so one edit is reported once. Without a
// path it does nothing.
func (m *Manager) CheckExternalEdit(ctx context.Context) error {
	if m.cfgPath == "" {
		return nil
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	data, err := os.ReadFile(m.cfgPath)
	if err != nil {
		return fmt.Errorf("config record: %w", err)
	}
	summary, err := externalChange(m.cfgPath, data, m.cfg)
	if err != nil || summary == "" {
		return err
	}
	if m.audit != nil {
		if _, err := m.audit.Audit(ctx, audit.Event{Actor: actorDevice, Action: "config.external_change", TargetKind: audit.KindConfig,
			Target: "edgerec.yaml", Result: audit.ResultOK, Detail: clipDetail(summary, 1000)}); err != nil {
			return fmt.Errorf("audit config change: %w", err)
		}
	}
	m.tracker.Raise("config.external", health.SevWarning, "the config file was changed outside the device: "+clipDetail(summary, 300))
	rec, err := json.Marshal(recordOf(data, m.cfg))
	if err != nil {
		return err
	}
	return writeFileAtomic(writtenPath(m.cfgPath), rec, 0o600)
}
