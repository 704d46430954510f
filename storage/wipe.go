package storage

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"github.com/edgerec/edgerec/hal/fsutil"
	"io/fs"
	"log/slog"
	mrand "math/rand/v2"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/edgerec/edgerec/hal/blockdev"
	"github.com/edgerec/edgerec/storage/keys"
	"github.com/edgerec/edgerec/storage/ring"
	"golang.org/x/sys/unix"
)

// WipeMarkerFile is left in the data directory by Wipe. While it exists,
// Open and CheckDir refuse with ErrWiped; Provision removes it.
const WipeMarkerFile = "WIPED"

// ErrWiped: the store was wiped (or a wipe was started); nothing can be
// recorded or read until the device is provisioned again.
var ErrWiped = errors.New("storage: device wiped, no data: provision again")

// WipeOptions configures Wipe.
type WipeOptions struct {
	// Passes is the number of full overwrite passes of the ring with
	// random bytes (0 = none: the keys are what matters, see storage/keys).
	Passes int
	// Progress, if set, is called after every block written by the passes
	// with bytes done and the total (Passes × ring size).
	Progress func(done, total int64)
	Logger   *slog.Logger     // nil = discard
	Now      func() time.Time // nil = time.Now
	// Keys gives the provider recorded in the ring header, whose secret is
	// destroyed first (TPM: the sealed object is evicted). nil: file only.
	Keys KeyProviders
}

// Wipe step names, in the order Wipe runs them.
const (
	StepMarker      = "marker"       // WIPED marker written (state "wiping")
	StepProviderKey = "provider-key" // the hardware provider's secret destroyed (TPM object evicted; rpi-otp: the wrapped root)
	StepRootKey     = "root-key"     // root key file (or the TPM descriptor / OTP-wrapped root) overwritten, synced, discarded, unlinked
	StepEpochKeys   = "epoch-keys"   // every epoch key file destroyed
	StepHoldKeys    = "hold-keys"    // every hold key file destroyed
	StepRingHeader  = "ring-header"  // the ring's header block overwritten
	StepIndex       = "index"        // index.db (wrapped segment keys, camera ids) destroyed
	StepOverwrite   = "overwrite"    // one full overwrite pass of the ring (one step per pass)
	StepDiscard     = "discard"      // the whole ring discarded (BLKSECDISCARD/BLKDISCARD/punch hole)
	StepRemove      = "remove"       // ring file (or the symlink to a device) and the keys dir removed
	StepDone        = "done"         // marker state "wiped"
)

// Step results.
const (
	ResultOK           = "ok"
	ResultAbsent       = "absent"        // nothing to destroy (already gone)
	ResultNotSupported = "not-supported" // e.g. the medium cannot discard; not a failure
	ResultFailed       = "failed"
)

// WipeStep is one step of a wipe and its result.
type WipeStep struct {
	Name    string    `json:"name"`
	Target  string    `json:"target,omitempty"` // file or device (base name inside the data dir)
	Result  string    `json:"result"`
	Method  string    `json:"method,omitempty"` // overwrite, punch-hole, blkdiscard, ...
	Files   int       `json:"files,omitempty"`
	Bytes   int64     `json:"bytes"` // bytes overwritten (or discarded, for the discard step)
	Note    string    `json:"note,omitempty"`
	Error   string    `json:"error,omitempty"`
	Started time.Time `json:"started"`
	Ended   time.Time `json:"ended"`
}

// WipeReport is what Wipe did; the wipe certificate is built from it.
type WipeReport struct {
	RingID           string     `json:"ring_id,omitempty"` // hex, from the ring header ("" if unreadable)
	RingPath         string     `json:"ring_path"`
	RingIsDevice     bool       `json:"ring_is_device"`
	RingBytes        int64      `json:"ring_bytes"`
	Passes           int        `json:"passes"`
	Started          time.Time  `json:"started"`
	Finished         time.Time  `json:"finished"`
	Steps            []WipeStep `json:"steps"`
	BytesOverwritten int64      `json:"bytes_overwritten"`
	BytesDiscarded   int64      `json:"bytes_discarded"`
	KeysDestroyed    int        `json:"keys_destroyed"`         // root + epoch + hold key files
	KeyProvider      string     `json:"key_provider,omitempty"` // file, tpm2, rpi-otp (from the ring header)
}

// OK reports whether no step failed ("not-supported" and "absent" are not
// failures).
func (r WipeReport) OK() bool {
	for _, s := range r.Steps {
		if s.Result == ResultFailed {
			return false
		}
	}
	return len(r.Steps) > 0
}

type wipeMarker struct {
	State    string    `json:"state"` // "wiping" or "wiped"
	RingID   string    `json:"ring_id,omitempty"`
	Provider string    `json:"provider,omitempty"`
	Started  time.Time `json:"started"`
	Finished time.Time `json:"finished,omitzero"`
}

// checkWiped is Open's hook: a data directory with a wipe marker is refused.
func checkWiped(dir string) error {
	b, err := os.ReadFile(filepath.Join(dir, WipeMarkerFile))
	if errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	var m wipeMarker
	if err == nil {
		_ = json.Unmarshal(b, &m)
	}
	if m.State == "wiping" {
		return fmt.Errorf("%w (%s: a wipe was started and did not finish; run decommission again)", ErrWiped, dir)
	}
	return fmt.Errorf("%w (%s)", ErrWiped, dir)
}

// Wiped reports whether dir holds a wipe marker, and whether the wipe
// finished.
func Wiped(dir string) (wiped, finished bool) {
	b, err := os.ReadFile(filepath.Join(dir, WipeMarkerFile))
	if err != nil {
		return false, false
	}
	var m wipeMarker
	if json.Unmarshal(b, &m) != nil {
		return true, false
	}
	return true, m.State == "wiped"
}

// Wipe securely erases the store in dir for decommissioning (R25, D5), in
// this order:
//
//  1. write the WIPED marker (from here on Open refuses with ErrWiped);
//  2. destroy the root key: overwrite with random bytes, fdatasync, discard
//     (punch hole), unlink, fsync the directory. From this point every
//     wrapped key anywhere is noise (storage/keys' threat model);
//  3. destroy every epoch key file, then every hold key file, the same way;
//  4. overwrite the ring's header block (ring id, key check value, layout);
//  5. destroy index.db (segment keys wrapped by epoch keys, camera ids);
//  6. opts.Passes full overwrite passes of the ring with random bytes,
//     each fdatasync'ed, reporting progress;
//  7. discard the whole ring: BLKSECDISCARD, else BLKDISCARD, on a block
//     device; punch hole on a file; "not-supported" is reported, not failed;
//  8. remove the ring file (a device stays, its header gone; the symlink to
//     it is removed) and the keys directory;
//  9. mark the wipe finished.
//
// It does not need the root key and works on a damaged store. The caller
// must have closed every Store on dir (the recorder stopped) first. An
// interrupted wipe leaves the marker in state "wiping"; running Wipe again
// completes it. A directory that holds no store and no marker is
// ErrNotProvisioned; a finished wipe is ErrWiped. On an error the report
// holds the steps done so far.
func Wipe(ctx context.Context, dir string, o WipeOptions) (rep WipeReport, err error) {
	w, err := newWipeRun(ctx, dir, o)
	if err != nil {
		if w != nil {
			return w.rep, err // what was read before the ring failed to open
		}
		return rep, err
	}
	defer w.close()
	for _, step := range w.steps() {
		if err := step(); err != nil {
			return w.rep, err
		}
	}
	return w.rep, nil
}

// wipeRun is one Wipe in progress: what identifies the ring, read before
// anything is destroyed, and the report so far.
type wipeRun struct {
	ctx context.Context
	dir string
	o   WipeOptions
	log *slog.Logger
	now func() time.Time
	rep WipeReport

	ringLink   string   // dir/ring (a file, or a symlink to the ring)
	ringTarget string   // what ringLink names
	isLink     bool     // ringLink is a symlink
	rf         *os.File // the ring, nil when absent
	prov       Provider // from the ring header, else guessed
}

// steps is Wipe's order (see Wipe); each step records itself in the report
// and returns an error only when the wipe must stop.
func (w *wipeRun) steps() []func() error {
	return []func() error{
		w.stepMarker,      // 1
		w.stepProviderKey, // 2
		w.stepRootKey,     // 2
		w.stepEpochKeys,   // 3
		w.stepHoldKeys,    // 3
		w.stepRingHeader,  // 4
		w.stepIndex,       // 5
		w.stepOverwrite,   // 6
		w.stepDiscard,     // 7
		w.stepRemove,      // 8
		w.stepDone,        // 9
	}
}

// newWipeRun checks that dir holds something to wipe and reads what
// identifies the ring (id, size, provider) before anything is destroyed.
func newWipeRun(ctx context.Context, dir string, o WipeOptions) (*wipeRun, error) {
	w := &wipeRun{ctx: ctx, dir: dir, o: o, log: o.Logger, now: o.Now}
	if w.log == nil {
		w.log = slog.New(slog.DiscardHandler)
	}
	if w.now == nil {
		w.now = time.Now
	}
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	if o.Passes < 0 {
		return nil, fmt.Errorf("%w: %d overwrite passes", ErrInvalid, o.Passes)
	}
	marked, finished := Wiped(dir)
	if finished {
		return nil, fmt.Errorf("%w (%s: already wiped)", ErrWiped, dir)
	}
	present := marked
	for _, n := range append([]string{RingFile, IndexFile, KeysDir}, providerFiles...) {
		if _, err := os.Lstat(filepath.Join(dir, n)); err == nil {
			present = true
		}
	}
	if !present {
		return nil, fmt.Errorf("%w: %s holds no store to wipe", ErrNotProvisioned, dir)
	}
	w.rep.Passes = o.Passes
	w.rep.Started = w.now().UTC()
	if err := w.openRing(); err != nil {
		return w, err
	}
	if w.prov == 0 {
		w.prov = guessProvider(dir) // header already gone: an interrupted wipe
		w.rep.KeyProvider = w.prov.String()
	}
	return w, nil
}

// openRing follows the ring symlink and reads the ring header, if any.
func (w *wipeRun) openRing() error {
	w.ringLink = filepath.Join(w.dir, RingFile)
	w.rep.RingPath, w.ringTarget = w.ringLink, w.ringLink
	if st, err := os.Lstat(w.ringLink); err == nil && st.Mode()&fs.ModeSymlink != 0 {
		w.isLink = true
		if t, err := filepath.EvalSymlinks(w.ringLink); err == nil {
			w.ringTarget, w.rep.RingPath = t, t
		}
	}
	f, err := os.OpenFile(w.ringTarget, os.O_RDWR, 0)
	if errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("storage: wipe: open ring: %w", err)
	}
	w.rf = f
	w.rep.RingIsDevice = blockdev.IsBlockDevice(f)
	if n, err := blockdev.Size(f); err == nil {
		w.rep.RingBytes = n
	}
	b := make([]byte, ring.BlockSize)
	if _, err := f.ReadAt(b, 0); err != nil {
		return nil
	}
	h, err := ring.ParseHeader(b)
	if err != nil {
		return nil
	}
	w.rep.RingID = hex.EncodeToString(h.RingID[:])
	w.rep.KeyProvider = h.Provider.String()
	w.prov = h.Provider
	if w.rep.RingIsDevice {
		w.rep.RingBytes = h.Size // only the ring's part of a larger device
	}
	return nil
}

func (w *wipeRun) close() {
	if w.rf != nil {
		w.rf.Close()
	}
}

func (w *wipeRun) step(name, target, method string) WipeStep {
	return WipeStep{Name: name, Target: target, Method: method, Started: w.now().UTC()}
}

// add records a finished step and logs it.
func (w *wipeRun) add(s WipeStep) {
	if s.Ended.IsZero() {
		s.Ended = w.now().UTC()
	}
	w.rep.Steps = append(w.rep.Steps, s)
	lvl := slog.LevelInfo
	if s.Result == ResultFailed {
		lvl = slog.LevelError
	}
	w.log.Log(w.ctx, lvl, "wipe step", "step", s.Name, "target", s.Target, "result", s.Result, "bytes", s.Bytes, "note", s.Note, "err", s.Error)
}

// fail records s as failed and returns the error that stops the wipe.
func (w *wipeRun) fail(s WipeStep, e error) error {
	s.Result, s.Error = ResultFailed, e.Error()
	w.add(s)
	return fmt.Errorf("storage: wipe: %s: %w", s.Name, e)
}

// 1. The marker: from here on Open refuses with ErrWiped.
func (w *wipeRun) stepMarker() error {
	st := w.step(StepMarker, WipeMarkerFile, "")
	if err := writeMarker(w.dir, wipeMarker{State: "wiping", RingID: w.rep.RingID, Provider: w.rep.KeyProvider, Started: w.rep.Started}); err != nil {
		return w.fail(st, err)
	}
	st.Result = ResultOK
	w.add(st)
	return nil
}

// 2a. The provider's secret (a TPM object is evicted; the Raspberry Pi OTP
// cannot be erased, so its wrapped root key file is what goes, in 2b).
// A failure is recorded (the certificate says so) but the wipe goes on:
// without the wrapped keys destroyed below, the footage is noise on this
// medium even if the TPM kept its object; a copy taken before the wipe is
// the residual risk, and the report is not OK.
func (w *wipeRun) stepProviderKey() error {
	if w.prov == ProviderFile {
		return nil
	}
	st := w.step(StepProviderKey, w.prov.String(), providerMethod(w.prov))
	kp, err := provider(w.dir, w.o.Keys, w.prov)
	if err == nil {
		err = kp.Destroy(w.ctx)
	}
	if err != nil {
		st.Result, st.Error = ResultFailed, err.Error()
		w.add(st)
		return nil
	}
	st.Result = ResultOK
	if w.prov == ProviderRPiOTP {
		st.Note = "the OTP key is one-time programmable and cannot be erased; the root key it wrapped is destroyed"
	}
	w.rep.KeysDestroyed++
	w.add(st)
	return nil
}

// 2b. Every file in the data directory that holds or names the root key,
// and the vault key.
func (w *wipeRun) stepRootKey() error {
	st := w.step(StepRootKey, RootKeyFile, "overwrite+fdatasync+discard+unlink")
	for _, name := range append(providerFiles, filepath.Join(KeysDir, keys.VaultFile), filepath.Join(keysNewDir, keys.VaultFile)) {
		n, found, note, err := destroyFile(filepath.Join(w.dir, name))
		st.Bytes += n
		if note != "" {
			st.Note = note
		}
		if err != nil {
			return w.fail(st, err)
		}
		if found {
			st.Files++
			if !strings.HasSuffix(name, keys.VaultFile) {
				st.Target = name
			}
			w.rep.KeysDestroyed++
		}
		w.rep.BytesOverwritten += n
	}
	st.Result = ResultAbsent
	if st.Files > 0 {
		st.Result = ResultOK
	}
	w.add(st)
	return nil
}

// 3. Epoch keys, then hold keys.
func (w *wipeRun) stepEpochKeys() error { return w.destroyKeyTree(StepEpochKeys, "epochs") }
func (w *wipeRun) stepHoldKeys() error  { return w.destroyKeyTree(StepHoldKeys, "holds") }

func (w *wipeRun) destroyKeyTree(name, sub string) error {
	if err := w.ctx.Err(); err != nil {
		return err
	}
	st := w.step(name, filepath.Join(KeysDir, sub), "overwrite+fdatasync+discard+unlink")
	files, n, notes, err := destroyTree(filepath.Join(w.dir, KeysDir, sub))
	st.Files, st.Bytes, st.Note = files, n, notes
	w.rep.BytesOverwritten += n
	w.rep.KeysDestroyed += files
	if err != nil {
		return w.fail(st, err)
	}
	st.Result = ResultOK
	if files == 0 {
		st.Result = ResultAbsent
	}
	w.add(st)
	return nil
}

// 4. The ring's header block (ring id, key check value, layout).
func (w *wipeRun) stepRingHeader() error {
	st := w.step(StepRingHeader, w.rep.RingPath, "overwrite+fdatasync")
	if w.rf == nil {
		st.Result = ResultAbsent
		w.add(st)
		return nil
	}
	junk := make([]byte, min(int64(ring.BlockSize), max(w.rep.RingBytes, 0)))
	_, _ = rand.Read(junk)
	if _, err := w.rf.WriteAt(junk, 0); err != nil {
		return w.fail(st, err)
	}
	if err := datasync(w.rf); err != nil {
		return w.fail(st, err)
	}
	st.Result, st.Bytes = ResultOK, int64(len(junk))
	w.rep.BytesOverwritten += int64(len(junk))
	w.add(st)
	return nil
}

// 5. index.db (segment keys wrapped by epoch keys, camera ids).
func (w *wipeRun) stepIndex() error {
	st := w.step(StepIndex, IndexFile, "overwrite+fdatasync+discard+unlink")
	n, found, note, err := destroyFile(filepath.Join(w.dir, IndexFile))
	st.Bytes, st.Note = n, note
	w.rep.BytesOverwritten += n
	if err != nil {
		return w.fail(st, err)
	}
	for _, tmp := range []string{"." + IndexFile + ".tmp"} { // left by an interrupted Provision
		if m, f2, _, err := destroyFile(filepath.Join(w.dir, tmp)); err == nil && f2 {
			st.Bytes += m
			w.rep.BytesOverwritten += m
		}
	}
	st.Result = ResultAbsent
	if found {
		st.Result, st.Files = ResultOK, 1
	}
	w.add(st)
	return nil
}

// 6. Passes full overwrite passes of the ring with random bytes, each
// fdatasync'ed, reporting progress (one step per pass).
func (w *wipeRun) stepOverwrite() error {
	if w.rf == nil || w.o.Passes <= 0 {
		return nil
	}
	total := int64(w.o.Passes) * w.rep.RingBytes
	var done int64
	buf := make([]byte, 1<<20)
	var seed [32]byte
	_, _ = rand.Read(seed[:])
	gen := mrand.NewChaCha8(seed)
	for p := 1; p <= w.o.Passes; p++ {
		st := w.step(StepOverwrite, w.rep.RingPath, fmt.Sprintf("random pass %d/%d", p, w.o.Passes))
		for off := int64(0); off < w.rep.RingBytes; off += int64(len(buf)) {
			if err := w.ctx.Err(); err != nil {
				st.Note = fmt.Sprintf("cancelled at byte %d", off)
				return w.fail(st, err)
			}
			b := buf[:min(int64(len(buf)), w.rep.RingBytes-off)]
			_, _ = gen.Read(b)
			if _, err := w.rf.WriteAt(b, off); err != nil {
				return w.fail(st, err)
			}
			st.Bytes += int64(len(b))
			w.rep.BytesOverwritten += int64(len(b))
			done += int64(len(b))
			if w.o.Progress != nil {
				w.o.Progress(done, total)
			}
		}
		if err := datasync(w.rf); err != nil {
			return w.fail(st, err)
		}
		st.Result = ResultOK
		w.add(st)
	}
	return nil
}

// 7. Discard the whole ring (hal/blockdev: BLKSECDISCARD, else BLKDISCARD,
// on a block device; punch hole on a file); "not-supported" is reported,
// not failed.
func (w *wipeRun) stepDiscard() error {
	st := w.step(StepDiscard, w.rep.RingPath, "")
	if w.rf == nil {
		st.Result = ResultAbsent
		w.add(st)
		return nil
	}
	res, err := blockdev.Discard(w.rf, 0, w.rep.RingBytes, true)
	st.Method, st.Note = string(res.Method), res.Note
	if err != nil {
		return w.fail(st, err)
	}
	st.Result = ResultNotSupported
	if res.Supported {
		st.Result, st.Bytes = ResultOK, w.rep.RingBytes
		w.rep.BytesDiscarded += w.rep.RingBytes
	}
	if err := datasync(w.rf); err != nil {
		return w.fail(st, err)
	}
	w.add(st)
	return nil
}

// 8. Remove the ring file (a device stays, its header gone; the symlink
// to it is removed) and the keys directories.
func (w *wipeRun) stepRemove() error {
	st := w.step(StepRemove, RingFile, "")
	var removed []string
	if w.rf != nil && !w.rep.RingIsDevice && w.isLink {
		// A ring file outside dir that Provision created: remove it too.
		if err := os.Remove(w.ringTarget); err != nil && !errors.Is(err, fs.ErrNotExist) {
			return w.fail(st, err)
		}
		removed = append(removed, w.ringTarget)
	}
	if err := os.Remove(w.ringLink); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return w.fail(st, err)
	} else if err == nil {
		removed = append(removed, RingFile)
	}
	for _, kd := range []string{KeysDir, keysNewDir, keysOldDir} { // keys.new/old: an interrupted rekey
		if !exists(filepath.Join(w.dir, kd)) {
			continue
		}
		if _, _, _, err := destroyTree(filepath.Join(w.dir, kd)); err != nil { // stray temp files
			return w.fail(st, err)
		}
		if err := os.RemoveAll(filepath.Join(w.dir, kd)); err != nil {
			return w.fail(st, err)
		}
		removed = append(removed, kd)
	}
	if err := removeIfExists(filepath.Join(w.dir, RekeyMarkerFile)); err != nil {
		return w.fail(st, err)
	}
	if w.rep.RingIsDevice {
		st.Note = "the ring device stays (header overwritten); symlink removed"
	}
	if err := fsutil.SyncDir(w.dir); err != nil {
		return w.fail(st, err)
	}
	st.Result, st.Method = ResultOK, "unlink: "+strings.Join(removed, ", ")
	w.add(st)
	return nil
}

// 9. Mark the wipe finished.
func (w *wipeRun) stepDone() error {
	w.rep.Finished = w.now().UTC()
	st := WipeStep{Name: StepDone, Target: WipeMarkerFile, Started: w.rep.Finished}
	if err := writeMarker(w.dir, wipeMarker{State: "wiped", RingID: w.rep.RingID, Started: w.rep.Started, Finished: w.rep.Finished}); err != nil {
		return w.fail(st, err)
	}
	st.Result = ResultOK
	w.add(st)
	return nil
}

func writeMarker(dir string, m wipeMarker) error {
	b, err := json.Marshal(m)
	if err != nil {
		return err
	}
	return fsutil.WriteFile(filepath.Join(dir, WipeMarkerFile), append(b, '\n'), 0o600)
}

// destroyFile overwrites path in place with random bytes, fdatasyncs,
// punches a hole over it (a discard on file systems mounted with discard),
// unlinks it and fsyncs the directory. A missing file is (0, false, "", nil).
func destroyFile(path string) (n int64, found bool, note string, err error) {
	f, err := os.OpenFile(path, os.O_RDWR, 0)
	if errors.Is(err, fs.ErrNotExist) {
		return 0, false, "", nil
	}
	if err != nil {
		return 0, false, "", err
	}
	defer func() {
		if f != nil {
			f.Close()
		}
	}()
	st, err := f.Stat()
	if err != nil {
		return 0, true, "", err
	}
	if !st.Mode().IsRegular() {
		return 0, true, "", fmt.Errorf("%s is not a regular file", filepath.Base(path))
	}
	junk := make([]byte, st.Size())
	_, _ = rand.Read(junk)
	if _, err := f.WriteAt(junk, 0); err != nil {
		return 0, true, "", err
	}
	if err := datasync(f); err != nil {
		return 0, true, "", err
	}
	res, err := blockdev.Discard(f, 0, st.Size(), false)
	if err != nil {
		return int64(len(junk)), true, "", err
	}
	if !res.Supported {
		note = res.Note
	}
	if err := datasync(f); err != nil {
		return int64(len(junk)), true, note, err
	}
	if err := f.Close(); err != nil {
		f = nil
		return int64(len(junk)), true, note, err
	}
	f = nil
	if err := os.Remove(path); err != nil {
		return int64(len(junk)), true, note, err
	}
	return int64(len(junk)), true, note, fsutil.SyncDir(filepath.Dir(path))
}

// destroyTree destroys every regular file under dir (key files and any
// temporary file left by an interrupted write).
func destroyTree(dir string) (files int, n int64, note string, err error) {
	var notes []string
	err = filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if errors.Is(err, fs.ErrNotExist) {
			return nil
		}
		if err != nil {
			return err
		}
		if !d.Type().IsRegular() {
			return nil
		}
		m, found, nt, err := destroyFile(p)
		if err != nil {
			return fmt.Errorf("%s: %w", filepath.Base(p), err)
		}
		if found {
			files++
			n += m
		}
		if nt != "" && len(notes) == 0 {
			notes = append(notes, nt)
		}
		return nil
	})
	return files, n, strings.Join(notes, "; "), err
}

func datasync(f *os.File) error { return unix.Fdatasync(int(f.Fd())) }

// guessProvider names the provider of a store whose ring header is gone (an
// interrupted wipe): from the marker, else from the files present.
func guessProvider(dir string) Provider {
	if b, err := os.ReadFile(filepath.Join(dir, WipeMarkerFile)); err == nil {
		var m wipeMarker
		if json.Unmarshal(b, &m) == nil && m.Provider != "" {
			if p, err := ring.ParseProvider(m.Provider); err == nil {
				return p
			}
		}
	}
	if _, err := os.Lstat(filepath.Join(dir, TPMDescriptorFile)); err == nil {
		return ProviderTPM2
	}
	if _, err := os.Lstat(filepath.Join(dir, OTPWrappedFile)); err == nil {
		return ProviderRPiOTP
	}
	return ProviderFile
}

func providerMethod(p Provider) string {
	switch p {
	case ProviderTPM2:
		return "TPM2_EvictControl of the sealed object"
	case ProviderRPiOTP:
		return "destroy the OTP-wrapped root key file"
	}
	return ""
}
