package keyprov

import (
	"encoding/json"
	"errors"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"time"

	"github.com/edgerec/edgerec/hal/fsutil"
)

// FaultFile is the small local record of starts refused because the root
// key was unavailable. It is plain text (one JSON line) and holds no
// secret. While the root key is missing nothing else can be told: the
// uplink's client key and the policy store's secrets are sealed under that
// root, so the refusal cannot be sent or audited then; the next start that
// gets the key audits it, sends it upstream as a keys.unavailable event and
// removes the file (ClearFault).
const FaultFile = "keys-unavailable"

// FaultEvent is the event name of a refused start (the uplink's
// keys.unavailable).
const FaultEvent = "keys.unavailable"

// maxFaultFile bounds what is read back.
const maxFaultFile = 4 << 10

// Fault is the content of FaultFile.
type Fault struct {
	Event    string    `json:"event"` // FaultEvent
	Provider string    `json:"provider"`
	First    time.Time `json:"first"`
	Last     time.Time `json:"last"`
	Count    uint64    `json:"count"`
	Cause    string    `json:"cause"`
}

// NoteFault adds one refused start to FaultFile (first, last, count).
func NoteFault(dir, prov string, cause error, now time.Time) error {
	rec, ok := ReadFault(dir)
	if !ok {
		rec = Fault{First: now}
	}
	rec.Event, rec.Provider, rec.Last = FaultEvent, prov, now
	rec.Count++
	rec.Cause = cause.Error()
	if len(rec.Cause) > 1024 {
		rec.Cause = rec.Cause[:1024]
	}
	b, err := json.Marshal(rec)
	if err != nil {
		return err
	}
	return fsutil.WriteFile(filepath.Join(dir, FaultFile), append(b, '\n'), 0o600)
}

// ReadFault reads FaultFile. A file that cannot be parsed still counts as
// one refused start at its modification time.
func ReadFault(dir string) (Fault, bool) {
	f, err := os.Open(filepath.Join(dir, FaultFile))
	if err != nil {
		return Fault{}, false
	}
	defer f.Close()
	b, err := io.ReadAll(io.LimitReader(f, maxFaultFile))
	var rec Fault
	if err != nil || json.Unmarshal(b, &rec) != nil || rec.Count == 0 || rec.First.IsZero() {
		rec = Fault{Event: FaultEvent, Provider: "unknown", Count: 1, Cause: "unreadable record"}
		if fi, err := f.Stat(); err == nil {
			rec.First, rec.Last = fi.ModTime(), fi.ModTime()
		}
	}
	if rec.Last.Before(rec.First) {
		rec.Last = rec.First
	}
	return rec, true
}

// ClearFault removes FaultFile once the refusals were reported.
func ClearFault(dir string) error {
	if err := os.Remove(filepath.Join(dir, FaultFile)); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return err
	}
	return nil
}
