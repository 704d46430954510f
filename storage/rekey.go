package storage

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"github.com/edgerec/edgerec/hal/fsutil"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"
	"time"

	"github.com/edgerec/edgerec/storage/index"
	"github.com/edgerec/edgerec/storage/keys"
	"github.com/edgerec/edgerec/storage/ring"
)

// Rekey files in the data directory.
const (
	RekeyMarkerFile = "REKEY"    // a rekey is in progress; Open refuses until `rekey` finishes it
	StagedSuffix    = ".new"     // the new root's provider file while a rekey runs
	keysNewDir      = "keys.new" // the key files rewrapped under the new root
	keysOldDir      = "keys.old" // the old key files, destroyed at the end
)

// ErrRekeyInProgress: a rekey was interrupted; run it again to finish.
var ErrRekeyInProgress = errors.New("storage: a rekey is in progress: run `edgerec rekey` again to finish it")

// KeyFileOf is the file in the data directory that holds (file), wraps
// (rpi-otp) or names (tpm2) the root key of provider p.
func KeyFileOf(p Provider) string {
	switch p {
	case ProviderTPM2:
		return TPMDescriptorFile
	case ProviderRPiOTP:
		return OTPWrappedFile
	}
	return RootKeyFile
}

// RekeyOptions configures Rekey.
type RekeyOptions struct {
	// Keys gives the providers at their usual files (the current root).
	Keys KeyProviders
	// Staged gives providers that create and load the new root at the
	// staged file (KeyFileOf(p)+StagedSuffix; a TPM provider uses
	// another persistent handle than the current one). Required.
	Staged KeyProviders
	// Provider is the new root's provider (0 = the current one): rekey can
	// move a store from the file provider to a TPM.
	Provider Provider
	Logger   *slog.Logger

	// crashAt stops Rekey after the named step (tests of the crash
	// procedure): "prepared", "committed", "swapped".
	crashAt string
}

var errRekeyCrash = errors.New("rekey: simulated crash")

// RekeyReport says what Rekey did.
type RekeyReport struct {
	From, To Provider
	Epochs   int  // epoch keys rewrapped
	Holds    int  // hold keys rewrapped
	Resumed  bool // an interrupted rekey was finished (or rolled back and redone)
	Took     time.Duration
}

type rekeyMarker struct {
	State string `json:"state"` // "prepare" or "commit"
	From  string `json:"from"`
	To    string `json:"to"`
}

// Rekey replaces the root key (issue 13): a new root is created by the new
// provider, every key file (epoch keys, hold keys, the vault key) is
// rewrapped under it, the ring header's key check value and provider are
// rewritten, and the old root is destroyed. Footage, the index and sealed
// secrets are not rewritten (their keys keep their values). The recorder
// must be stopped (the index is opened exclusively).
//
// Crash procedure. The ring header write is the commit point:
//
//  1. write REKEY {state: prepare}; create the new root at the staged file;
//     rewrap every key file into keys.new/ (synced);
//  2. REKEY {state: commit}; rewrite the header with the new key check
//     value and provider (one 4 KiB block, synced) — committed;
//  3. rename keys → keys.old, keys.new → keys; destroy the old root through
//     its provider; rename the staged file to the provider's file;
//  4. destroy keys.old; remove REKEY.
//
// While REKEY exists Open refuses (ErrRekeyInProgress). Rekey run again
// looks at which root the header accepts: the old one (not committed) →
// the staged root and keys.new are destroyed and the rekey starts over; the
// new one → steps 3–4 are finished, each idempotent.
func Rekey(ctx context.Context, dir string, o RekeyOptions) (rep RekeyReport, err error) {
	start := time.Now()
	log := o.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	if o.Staged == nil {
		return rep, fmt.Errorf("%w: rekey needs staged providers", ErrInvalid)
	}
	if err := checkWiped(dir); err != nil {
		return rep, err
	}
	idx, err := index.Open(filepath.Join(dir, IndexFile), false)
	if err != nil {
		if errors.Is(err, index.ErrLocked) {
			return rep, fmt.Errorf("storage: rekey: %s is in use: stop the recorder first: %w", dir, err)
		}
		if errors.Is(err, fs.ErrNotExist) {
			return rep, fmt.Errorf("%w: %s has no %s", ErrNotProvisioned, dir, IndexFile)
		}
		return rep, fmt.Errorf("storage: rekey: %w", err)
	}
	defer idx.Close()
	rg, err := ring.Open(filepath.Join(dir, RingFile), false, nil)
	if err != nil {
		return rep, fmt.Errorf("storage: rekey: %w", err)
	}
	defer rg.Close()
	h := rg.Header()

	var m rekeyMarker
	if b, err := os.ReadFile(filepath.Join(dir, RekeyMarkerFile)); err == nil {
		if err := json.Unmarshal(b, &m); err != nil {
			return rep, fmt.Errorf("%w: %s: %v", ErrCorrupt, RekeyMarkerFile, err)
		}
		rep.Resumed = true
		from, err1 := ring.ParseProvider(m.From)
		to, err2 := ring.ParseProvider(m.To)
		if err1 != nil || err2 != nil {
			return rep, fmt.Errorf("%w: %s names unknown providers", ErrCorrupt, RekeyMarkerFile)
		}
		rep.From, rep.To = from, to
		if committed(ctx, dir, o, h, m, to) {
			log.Info("rekey: finishing a committed rekey", "from", from, "to", to)
			if err := finishRekey(ctx, dir, o, from, to); err != nil {
				return rep, err
			}
			rep.Took = time.Since(start)
			return rep, nil
		}
		log.Info("rekey: rolling back an uncommitted rekey", "from", from, "to", to)
		if err := abortRekey(ctx, dir, o, to); err != nil {
			return rep, err
		}
	}

	// The current root.
	oldRoot, err := loadRoot(ctx, dir, o.Keys, h)
	if err != nil {
		return rep, err
	}
	defer clear(oldRoot)
	from, to := h.Provider, o.Provider
	if to == 0 {
		to = from
	}
	rep.From, rep.To = from, to
	if err := writeRekeyMarker(dir, rekeyMarker{State: "prepare", From: from.String(), To: to.String()}); err != nil {
		return rep, err
	}
	staged, err := provider(dir, o.Staged, to)
	if err != nil {
		return rep, err
	}
	newRoot, err := staged.Create(ctx)
	if err != nil {
		return rep, fmt.Errorf("storage: rekey: new root (%s): %w: %w", to, ErrKeyUnavailable, err)
	}
	defer clear(newRoot)

	// Every key file the index knows, rewrapped into keys.new.
	var epochs []keys.EpochID
	var holds []uint64
	if err := idx.View(func(tx *index.Tx) error {
		for _, c := range tx.Cameras() {
			if err := tx.Epochs(c, func(e *index.Epoch) error {
				if !e.Erased {
					epochs = append(epochs, keys.EpochID{Camera: e.Camera, Day: e.Day, Gen: e.Gen})
				}
				return nil
			}); err != nil {
				return err
			}
		}
		return tx.Holds(func(hd *index.Hold) error { holds = append(holds, hd.ID); return nil })
	}); err != nil {
		return rep, fmt.Errorf("storage: rekey: %w", err)
	}
	oldKS, err := keys.Open(filepath.Join(dir, KeysDir), oldRoot, true)
	if err != nil {
		return rep, fmt.Errorf("storage: rekey: %w", err)
	}
	defer oldKS.Close()
	if err := os.RemoveAll(filepath.Join(dir, keysNewDir)); err != nil {
		return rep, fmt.Errorf("storage: rekey: %w", err)
	}
	rw, err := oldKS.Rewrap(filepath.Join(dir, keysNewDir), newRoot, epochs, holds)
	if err != nil {
		return rep, err
	}
	rep.Epochs, rep.Holds = rw.Epochs, rw.Holds
	if ne, nh := keys.CountFiles(filepath.Join(dir, KeysDir)); ne != rw.Epochs || nh != rw.Holds {
		log.Warn("rekey: key files not named by the index are left behind and destroyed with the old keys", "epoch_files", ne, "rewrapped", rw.Epochs, "hold_files", nh, "holds", rw.Holds)
	}
	if err := fsutil.SyncDir(dir); err != nil {
		return rep, fmt.Errorf("storage: rekey: %w", err)
	}

	if o.crashAt == "prepared" {
		return rep, errRekeyCrash
	}
	// Commit.
	if err := writeRekeyMarker(dir, rekeyMarker{State: "commit", From: from.String(), To: to.String()}); err != nil {
		return rep, err
	}
	nh := h
	nh.KCV = keys.KCV(newRoot, h.RingID)
	nh.Provider = to
	if err := rg.SetHeader(nh); err != nil {
		return rep, fmt.Errorf("storage: rekey: commit: %w", err)
	}
	log.Info("rekey: committed", "from", from, "to", to, "epochs", rw.Epochs, "holds", rw.Holds)
	if o.crashAt == "committed" {
		return rep, errRekeyCrash
	}
	if err := finishRekey(ctx, dir, o, from, to); err != nil {
		return rep, err
	}
	rep.Took = time.Since(start)
	return rep, nil
}

// committed reports whether the header accepts the new root: the staged
// root opens it, or (state commit, staged file already promoted) the
// provider's own file does.
func committed(ctx context.Context, dir string, o RekeyOptions, h ring.Header, m rekeyMarker, to Provider) bool {
	if h.Provider != to {
		return false
	}
	if exists(filepath.Join(dir, KeyFileOf(to)+StagedSuffix)) {
		root, err := loadRoot(ctx, dir, o.Staged, h)
		if err == nil {
			clear(root)
		}
		return err == nil
	}
	if m.State != "commit" {
		return false
	}
	root, err := loadRoot(ctx, dir, o.Keys, h)
	if err == nil {
		clear(root)
	}
	return err == nil
}

// finishRekey runs steps 3–4; every step may already be done.
func finishRekey(ctx context.Context, dir string, o RekeyOptions, from, to Provider) error {
	keysDir, newDir, oldDir := filepath.Join(dir, KeysDir), filepath.Join(dir, keysNewDir), filepath.Join(dir, keysOldDir)
	if exists(newDir) {
		if exists(keysDir) {
			if exists(oldDir) {
				return fmt.Errorf("%w: rekey: %s, %s and %s all exist", ErrCorrupt, KeysDir, keysNewDir, keysOldDir)
			}
			if err := os.Rename(keysDir, oldDir); err != nil {
				return fmt.Errorf("storage: rekey: %w", err)
			}
		}
		if err := os.Rename(newDir, keysDir); err != nil {
			return fmt.Errorf("storage: rekey: %w", err)
		}
		if err := fsutil.SyncDir(dir); err != nil {
			return fmt.Errorf("storage: rekey: %w", err)
		}
	}
	if o.crashAt == "swapped" {
		return errRekeyCrash
	}
	stagedFile := filepath.Join(dir, KeyFileOf(to)+StagedSuffix)
	if exists(stagedFile) {
		// The old root goes first, through its provider (a TPM object is
		// evicted), then its file; then the staged file takes its place.
		if old, err := provider(dir, o.Keys, from); err == nil {
			if err := old.Destroy(ctx); err != nil && !errors.Is(err, fs.ErrNotExist) {
				return fmt.Errorf("storage: rekey: destroy the old root (%s): %w", from, err)
			}
		}
		if err := keys.DestroyFile(filepath.Join(dir, KeyFileOf(from))); err != nil {
			return fmt.Errorf("storage: rekey: %w", err)
		}
		if err := os.Rename(stagedFile, filepath.Join(dir, KeyFileOf(to))); err != nil {
			return fmt.Errorf("storage: rekey: %w", err)
		}
		if err := fsutil.SyncDir(dir); err != nil {
			return fmt.Errorf("storage: rekey: %w", err)
		}
	}
	if exists(oldDir) {
		if _, _, _, err := destroyTree(oldDir); err != nil {
			return fmt.Errorf("storage: rekey: destroy old key files: %w", err)
		}
		if err := os.RemoveAll(oldDir); err != nil {
			return fmt.Errorf("storage: rekey: %w", err)
		}
	}
	if err := removeIfExists(filepath.Join(dir, RekeyMarkerFile)); err != nil {
		return fmt.Errorf("storage: rekey: %w", err)
	}
	return fsutil.SyncDir(dir)
}

// abortRekey undoes an uncommitted rekey: the staged root is destroyed and
// keys.new removed.
func abortRekey(ctx context.Context, dir string, o RekeyOptions, to Provider) error {
	if exists(filepath.Join(dir, KeyFileOf(to)+StagedSuffix)) {
		if st, err := provider(dir, o.Staged, to); err == nil {
			_ = st.Destroy(ctx) // best effort: it never opened anything
		}
		if err := keys.DestroyFile(filepath.Join(dir, KeyFileOf(to)+StagedSuffix)); err != nil {
			return fmt.Errorf("storage: rekey: %w", err)
		}
	}
	if exists(filepath.Join(dir, keysNewDir)) {
		if _, _, _, err := destroyTree(filepath.Join(dir, keysNewDir)); err != nil {
			return fmt.Errorf("storage: rekey: %w", err)
		}
		if err := os.RemoveAll(filepath.Join(dir, keysNewDir)); err != nil {
			return fmt.Errorf("storage: rekey: %w", err)
		}
	}
	if err := removeIfExists(filepath.Join(dir, RekeyMarkerFile)); err != nil {
		return fmt.Errorf("storage: rekey: %w", err)
	}
	return fsutil.SyncDir(dir)
}

func writeRekeyMarker(dir string, m rekeyMarker) error {
	b, err := json.Marshal(m)
	if err != nil {
		return err
	}
	path := filepath.Join(dir, RekeyMarkerFile)
	tmp := path + ".tmp"
	if err := os.WriteFile(tmp, append(b, '\n'), 0o600); err != nil {
		return fmt.Errorf("storage: rekey: %w", err)
	}
	f, err := os.Open(tmp)
	if err == nil {
		err = f.Sync()
		f.Close()
	}
	if err != nil {
		return fmt.Errorf("storage: rekey: %w", err)
	}
	if err := os.Rename(tmp, path); err != nil {
		return fmt.Errorf("storage: rekey: %w", err)
	}
	return fsutil.SyncDir(dir)
}

func exists(path string) bool {
	_, err := os.Lstat(path)
	return err == nil
}
