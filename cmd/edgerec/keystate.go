package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"
	"time"

	periph "periph.io/x/conn/v3/gpio"

	"github.com/edgerec/edgerec/edge/health"
	"github.com/edgerec/edgerec/edge/uplink"
	"github.com/edgerec/edgerec/edge/uplink/wire"
	"github.com/edgerec/edgerec/hal/gpio"
	"github.com/edgerec/edgerec/policy"
	"github.com/edgerec/edgerec/policy/audit"
	"github.com/edgerec/edgerec/storage"
)

// keyProviderHealth is what the health view (page, API, beacon, LED) says
// about where the root key lives (issue 13). The file provider carries the
// standing warning.
func keyProviderHealth(p storage.Provider) health.KeyProvider {
	kp := health.KeyProvider{Name: p.String(), Note: storage.ProviderNote(p.String())}
	if p == storage.ProviderFile {
		kp.Warning = storage.FileProviderWarning
	}
	return kp
}

// keyFaultFile is the small local record of starts refused because the
// root key was unavailable. It is plain text (one JSON line) and holds no
// secret. While the root key is missing nothing else can be told: the
// uplink's client key and the policy store's secrets are sealed under that
// root, so the refusal cannot be sent or audited then; the next start that
// gets the key audits it, sends it upstream as a keys.unavailable event and
// removes the file.
const keyFaultFile = "keys-unavailable"

// keyFaultHold is how long the status LED shows the fault before the
// process exits non-zero (the supervisor restarts it with a back-off of at
// most 60 s, so the LED shows the fault most of the time).
const keyFaultHold = 2 * time.Minute

// maxKeyFaultFile bounds what is read back.
const maxKeyFaultFile = 4 << 10

// keyFaultRecord is the content of keyFaultFile.
type keyFaultRecord struct {
	Event    string    `json:"event"` // "keys.unavailable"
	Provider string    `json:"provider"`
	First    time.Time `json:"first"`
	Last     time.Time `json:"last"`
	Count    uint64    `json:"count"`
	Cause    string    `json:"cause"`
}

// reportedError is a failure already reported in one log line: dispatch
// exits 1 without printing it again.
type reportedError struct{ err error }

func (e reportedError) Error() string { return e.err.Error() }
func (e reportedError) Unwrap() error { return e.err }

// isKeyFault reports whether err means the root key could not be had from
// the provider the store records (or it gave a key that does not open the
// ring): never a reason to fall back to another provider.
func isKeyFault(err error) bool {
	return errors.Is(err, storage.ErrKeyUnavailable) || errors.Is(err, storage.ErrWrongKey)
}

// refuseKeyFault is what a start does when the root key is unavailable
// (issue 13): exactly one ERROR line naming the provider and the cause,
// the refusal noted in keyFaultFile (the only file it writes), the fault
// pattern on the status LED if one is configured (for dc.keyFaultHold or
// until ctx ends), then a non-zero exit. Recording does not start.
func refuseKeyFault(ctx context.Context, dc daemonConfig, cause error, log *slog.Logger) error {
	prov := "unknown"
	if p, err := storage.ReadProvider(dc.DataDir); err == nil {
		prov = p.String()
	}
	led := ""
	if dc.Config != nil {
		led = dc.Config.GPIO.StatusLED
	}
	msg := fmt.Sprintf("recording refused: the root key is unavailable from provider %s (no fallback)", prov)
	attrs := []any{"provider", prov, "cause", cause.Error(), "data", dc.DataDir}
	if led != "" {
		attrs = append(attrs, "fault_led", led)
	}
	log.Error(msg, attrs...)
	if err := noteKeyFault(dc.DataDir, prov, cause, time.Now()); err != nil {
		log.Warn("the refusal could not be noted for the next start", "err", err)
	}
	if led != "" {
		hold := dc.keyFaultHold
		if hold <= 0 {
			hold = keyFaultHold
		}
		showFault(ctx, led, dc.gpioLookup, hold, log.With("part", "panel"))
	}
	return reportedError{fmt.Errorf("%s: %w", msg, cause)}
}

// showFault drives the status LED with the fault pattern for hold (or
// until ctx ends). No GPIO on the machine is not an error.
func showFault(ctx context.Context, led string, lookup func(string) (periph.PinIO, error), hold time.Duration, log *slog.Logger) {
	g, err := gpio.New(gpio.Pins{StatusLED: led}, gpio.Deps{
		Logger: log, Lookup: lookup,
		Health: func() gpio.Level { return gpio.LevelFault },
	})
	if err != nil || !g.Available() {
		if err != nil {
			log.Warn("fault LED", "err", err)
		}
		return
	}
	ctx, cancel := context.WithTimeout(ctx, hold)
	defer cancel()
	_ = g.Run(ctx)
}

// noteKeyFault adds one refused start to keyFaultFile (first, last, count).
func noteKeyFault(dir, prov string, cause error, now time.Time) error {
	rec, ok := readKeyFault(dir)
	if !ok {
		rec = keyFaultRecord{First: now}
	}
	rec.Event, rec.Provider, rec.Last = uplink.EventKeysUnavailable, prov, now
	rec.Count++
	rec.Cause = cause.Error()
	if len(rec.Cause) > 1024 {
		rec.Cause = rec.Cause[:1024]
	}
	b, err := json.Marshal(rec)
	if err != nil {
		return err
	}
	return writeFileAtomic(filepath.Join(dir, keyFaultFile), append(b, '\n'), 0o600)
}

// readKeyFault reads keyFaultFile. A file that cannot be parsed still
// counts as one refused start at its modification time.
func readKeyFault(dir string) (keyFaultRecord, bool) {
	f, err := os.Open(filepath.Join(dir, keyFaultFile))
	if err != nil {
		return keyFaultRecord{}, false
	}
	defer f.Close()
	b, err := io.ReadAll(io.LimitReader(f, maxKeyFaultFile))
	var rec keyFaultRecord
	if err != nil || json.Unmarshal(b, &rec) != nil || rec.Count == 0 || rec.First.IsZero() {
		rec = keyFaultRecord{Event: uplink.EventKeysUnavailable, Provider: "unknown", Count: 1, Cause: "unreadable record"}
		if fi, err := f.Stat(); err == nil {
			rec.First, rec.Last = fi.ModTime(), fi.ModTime()
		}
	}
	if rec.Last.Before(rec.First) {
		rec.Last = rec.First
	}
	return rec, true
}

// reportKeyFaults tells, once the root key is back, about the starts that
// were refused without it: a device audit record, an upstream
// keys.unavailable event (when an uplink is configured) and a log line;
// then the record is removed.
func reportKeyFaults(ctx context.Context, dir string, up *uplink.Uplink, ps *policy.Store, tracker *health.Tracker, log *slog.Logger) {
	rec, ok := readKeyFault(dir)
	if !ok {
		return
	}
	code := rec.Provider
	if code == "" || !wire.ValidCode(code) {
		code = "unknown"
	}
	log.Warn("recording was refused earlier: the root key was unavailable", "provider", rec.Provider, "starts", rec.Count,
		"first", rec.First.UTC().Format(time.RFC3339), "last", rec.Last.UTC().Format(time.RFC3339), "cause", rec.Cause)
	detail := fmt.Sprintf("recording refused at %d start(s) from %s to %s: root key unavailable from provider %s: %s",
		rec.Count, rec.First.UTC().Format(time.RFC3339), rec.Last.UTC().Format(time.RFC3339), rec.Provider, rec.Cause)
	if len(detail) > 900 {
		detail = detail[:900]
	}
	auditDevice(ctx, ps, tracker, log, audit.Event{Action: uplink.EventKeysUnavailable, TargetKind: audit.KindDevice, Result: "refused", Detail: detail})
	if up != nil {
		if err := up.Event(ctx, uplink.Event{Kind: uplink.EventKeysUnavailable, Code: code, Count: rec.Count, Time: rec.First, Value: rec.Last.UnixMilli()}); err != nil {
			log.Warn("keys.unavailable event not queued", "err", err)
		}
	}
	if err := os.Remove(filepath.Join(dir, keyFaultFile)); err != nil && !errors.Is(err, fs.ErrNotExist) {
		log.Warn("removing the key fault record", "err", err)
	}
}
