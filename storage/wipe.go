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
	log := o.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	now := o.Now
	if now == nil {
		now = time.Now
	}
	if err := ctx.Err(); err != nil {
		return rep, err
	}
	if o.Passes < 0 {
		return rep, fmt.Errorf("%w: %d overwrite passes", ErrInvalid, o.Passes)
	}
	marked, finished := Wiped(dir)
	if finished {
		return rep, fmt.Errorf("%w (%s: already wiped)", ErrWiped, dir)
	}
	present := marked
	for _, n := range append([]string{RingFile, IndexFile, KeysDir}, providerFiles...) {
		if _, err := os.Lstat(filepath.Join(dir, n)); err == nil {
			present = true
		}
	}
	if !present {
		return rep, fmt.Errorf("%w: %s holds no store to wipe", ErrNotProvisioned, dir)
	}

	rep.Passes = o.Passes
	rep.Started = now().UTC()
	ringLink := filepath.Join(dir, RingFile)
	rep.RingPath = ringLink
	ringTarget := ringLink
	isLink := false
	if st, err := os.Lstat(ringLink); err == nil && st.Mode()&fs.ModeSymlink != 0 {
		isLink = true
		if t, err := filepath.EvalSymlinks(ringLink); err == nil {
			ringTarget = t
			rep.RingPath = t
		}
	}
	// Read what identifies the ring before anything is destroyed.
	var (
		rf   *os.File
		prov Provider
	)
	if f, err := os.OpenFile(ringTarget, os.O_RDWR, 0); err == nil {
		rf = f
		defer rf.Close()
		rep.RingIsDevice = blockdev.IsBlockDevice(f)
		if n, err := blockdev.Size(f); err == nil {
			rep.RingBytes = n
		}
		b := make([]byte, ring.BlockSize)
		if _, err := f.ReadAt(b, 0); err == nil {
			if h, err := ring.ParseHeader(b); err == nil {
				rep.RingID = hex.EncodeToString(h.RingID[:])
				rep.KeyProvider = h.Provider.String()
				prov = h.Provider
				if rep.RingIsDevice {
					rep.RingBytes = h.Size // only the ring's part of a larger device
				}
			}
		}
	} else if !errors.Is(err, fs.ErrNotExist) {
		return rep, fmt.Errorf("storage: wipe: open ring: %w", err)
	}

	add := func(s WipeStep) {
		if s.Ended.IsZero() {
			s.Ended = now().UTC()
		}
		rep.Steps = append(rep.Steps, s)
		lvl := slog.LevelInfo
		if s.Result == ResultFailed {
			lvl = slog.LevelError
		}
		log.Log(ctx, lvl, "wipe step", "step", s.Name, "target", s.Target, "result", s.Result, "bytes", s.Bytes, "note", s.Note, "err", s.Error)
	}
	fail := func(s WipeStep, e error) error {
		s.Result, s.Error = ResultFailed, e.Error()
		add(s)
		return fmt.Errorf("storage: wipe: %s: %w", s.Name, e)
	}

	if prov == 0 {
		prov = guessProvider(dir) // header already gone: an interrupted wipe
		rep.KeyProvider = prov.String()
	}

	// 1. Marker.
	st := WipeStep{Name: StepMarker, Target: WipeMarkerFile, Started: now().UTC()}
	if err := writeMarker(dir, wipeMarker{State: "wiping", RingID: rep.RingID, Provider: rep.KeyProvider, Started: rep.Started}); err != nil {
		return rep, fail(st, err)
	}
	st.Result = ResultOK
	add(st)

	// 2. Root key: the provider's secret first (a TPM object is evicted;
	// the Raspberry Pi OTP cannot be erased, so its wrapped root key file is
	// what goes), then every file in the data directory that holds or names
	// the root key.
	if prov != ProviderFile {
		st = WipeStep{Name: StepProviderKey, Target: prov.String(), Method: providerMethod(prov), Started: now().UTC()}
		kp, err := provider(dir, o.Keys, prov)
		if err == nil {
			err = kp.Destroy(ctx)
		}
		if err != nil {
			// Recorded as failed (the certificate says so) but the wipe
			// goes on: without the wrapped keys destroyed below, the
			// footage is noise on this medium even if the TPM kept its
			// object; a copy taken before the wipe is the residual risk,
			// and the report is not OK.
			st.Result, st.Error = ResultFailed, err.Error()
			add(st)
		} else {
			st.Result = ResultOK
			if prov == ProviderRPiOTP {
				st.Note = "the OTP key is one-time programmable and cannot be erased; the root key it wrapped is destroyed"
			}
			rep.KeysDestroyed++
			add(st)
		}
	}
	st = WipeStep{Name: StepRootKey, Target: RootKeyFile, Method: "overwrite+fdatasync+discard+unlink", Started: now().UTC()}
	for _, name := range append(providerFiles, filepath.Join(KeysDir, keys.VaultFile), filepath.Join(keysNewDir, keys.VaultFile)) {
		n, found, note, err := destroyFile(filepath.Join(dir, name))
		st.Bytes += n
		if note != "" {
			st.Note = note
		}
		if err != nil {
			return rep, fail(st, err)
		}
		if found {
			st.Files++
			if !strings.HasSuffix(name, keys.VaultFile) {
				st.Target = name
			}
			rep.KeysDestroyed++
		}
		rep.BytesOverwritten += n
	}
	st.Result = ResultAbsent
	if st.Files > 0 {
		st.Result = ResultOK
	}
	add(st)

	// 3. Epoch and hold keys.
	for _, k := range []struct{ step, sub string }{{StepEpochKeys, "epochs"}, {StepHoldKeys, "holds"}} {
		if err := ctx.Err(); err != nil {
			return rep, err
		}
		st = WipeStep{Name: k.step, Target: filepath.Join(KeysDir, k.sub), Method: "overwrite+fdatasync+discard+unlink", Started: now().UTC()}
		files, n, notes, err := destroyTree(filepath.Join(dir, KeysDir, k.sub))
		st.Files, st.Bytes, st.Note = files, n, notes
		rep.BytesOverwritten += n
		rep.KeysDestroyed += files
		if err != nil {
			return rep, fail(st, err)
		}
		st.Result = ResultOK
		if files == 0 {
			st.Result = ResultAbsent
		}
		add(st)
	}

	// 4. Ring header.
	st = WipeStep{Name: StepRingHeader, Target: rep.RingPath, Method: "overwrite+fdatasync", Started: now().UTC()}
	if rf == nil {
		st.Result = ResultAbsent
		add(st)
	} else {
		junk := make([]byte, min(int64(ring.BlockSize), max(rep.RingBytes, 0)))
		_, _ = rand.Read(junk)
		if _, err := rf.WriteAt(junk, 0); err != nil {
			return rep, fail(st, err)
		}
		if err := datasync(rf); err != nil {
			return rep, fail(st, err)
		}
		st.Result, st.Bytes = ResultOK, int64(len(junk))
		rep.BytesOverwritten += int64(len(junk))
		add(st)
	}

	// 5. Index.
	st = WipeStep{Name: StepIndex, Target: IndexFile, Method: "overwrite+fdatasync+discard+unlink", Started: now().UTC()}
	n, found, note, err := destroyFile(filepath.Join(dir, IndexFile))
	st.Bytes, st.Note = n, note
	rep.BytesOverwritten += n
	if err != nil {
		return rep, fail(st, err)
	}
	for _, tmp := range []string{"." + IndexFile + ".tmp"} { // left by an interrupted Provision
		if m, f2, _, err := destroyFile(filepath.Join(dir, tmp)); err == nil && f2 {
			st.Bytes += m
			rep.BytesOverwritten += m
		}
	}
	st.Result = ResultAbsent
	if found {
		st.Result, st.Files = ResultOK, 1
	}
	add(st)

	// 6. Overwrite passes.
	if rf != nil && o.Passes > 0 {
		total := int64(o.Passes) * rep.RingBytes
		var done int64
		buf := make([]byte, 1<<20)
		var seed [32]byte
		_, _ = rand.Read(seed[:])
		gen := mrand.NewChaCha8(seed)
		for p := 1; p <= o.Passes; p++ {
			st = WipeStep{Name: StepOverwrite, Target: rep.RingPath, Method: fmt.Sprintf("random pass %d/%d", p, o.Passes), Started: now().UTC()}
			for off := int64(0); off < rep.RingBytes; off += int64(len(buf)) {
				if err := ctx.Err(); err != nil {
					st.Note = fmt.Sprintf("cancelled at byte %d", off)
					return rep, fail(st, err)
				}
				b := buf[:min(int64(len(buf)), rep.RingBytes-off)]
				_, _ = gen.Read(b)
				if _, err := rf.WriteAt(b, off); err != nil {
					return rep, fail(st, err)
				}
				st.Bytes += int64(len(b))
				rep.BytesOverwritten += int64(len(b))
				done += int64(len(b))
				if o.Progress != nil {
					o.Progress(done, total)
				}
			}
			if err := datasync(rf); err != nil {
				return rep, fail(st, err)
			}
			st.Result = ResultOK
			add(st)
		}
	}

	// 7. Discard.
	st = WipeStep{Name: StepDiscard, Target: rep.RingPath, Started: now().UTC()}
	if rf == nil {
		st.Result = ResultAbsent
		add(st)
	} else {
		res, err := blockdev.Discard(rf, 0, rep.RingBytes, true)
		st.Method, st.Note = string(res.Method), res.Note
		if err != nil {
			return rep, fail(st, err)
		}
		st.Result = ResultNotSupported
		if res.Supported {
			st.Result, st.Bytes = ResultOK, rep.RingBytes
			rep.BytesDiscarded += rep.RingBytes
		}
		if err := datasync(rf); err != nil {
			return rep, fail(st, err)
		}
		add(st)
	}

	// 8. Remove the ring file (or the symlink to a device) and the keys dir.
	st = WipeStep{Name: StepRemove, Target: RingFile, Started: now().UTC()}
	var removed []string
	if rf != nil && !rep.RingIsDevice && isLink {
		// A ring file outside dir that Provision created: remove it too.
		if err := os.Remove(ringTarget); err != nil && !errors.Is(err, fs.ErrNotExist) {
			return rep, fail(st, err)
		}
		removed = append(removed, ringTarget)
	}
	if err := os.Remove(ringLink); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return rep, fail(st, err)
	} else if err == nil {
		removed = append(removed, RingFile)
	}
	for _, kd := range []string{KeysDir, keysNewDir, keysOldDir} { // keys.new/old: an interrupted rekey
		if !exists(filepath.Join(dir, kd)) {
			continue
		}
		if _, _, _, err := destroyTree(filepath.Join(dir, kd)); err != nil { // stray temp files
			return rep, fail(st, err)
		}
		if err := os.RemoveAll(filepath.Join(dir, kd)); err != nil {
			return rep, fail(st, err)
		}
		removed = append(removed, kd)
	}
	if err := removeIfExists(filepath.Join(dir, RekeyMarkerFile)); err != nil {
		return rep, fail(st, err)
	}
	if rep.RingIsDevice {
		st.Note = "the ring device stays (header overwritten); symlink removed"
	}
	if err := fsutil.SyncDir(dir); err != nil {
		return rep, fail(st, err)
	}
	st.Result, st.Method = ResultOK, "unlink: "+strings.Join(removed, ", ")
	add(st)

	// 9. Done.
	rep.Finished = now().UTC()
	st = WipeStep{Name: StepDone, Target: WipeMarkerFile, Started: rep.Finished}
	if err := writeMarker(dir, wipeMarker{State: "wiped", RingID: rep.RingID, Started: rep.Started, Finished: rep.Finished}); err != nil {
		return rep, fail(st, err)
	}
	st.Result = ResultOK
	add(st)
	return rep, nil
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
