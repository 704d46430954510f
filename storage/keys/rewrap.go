package keys

import (
	"fmt"
	"github.com/edgerec/edgerec/hal/fsutil"
	"os"
	"path/filepath"
	"strconv"
)

// RewrapReport counts what Rewrap wrote.
type RewrapReport struct {
	Epochs, Holds int
	Vault         bool
}

// Rewrap writes, under the empty or missing directory dst, a copy of this
// key store whose files are wrapped by the KEK of newRoot (rekey, issue
// 13): the epoch keys named in epochs, the hold keys in holds and the vault
// key. Key values do not change, so nothing wrapped by them (segment keys in
// the index, sealed secrets) is rewritten. Epochs and holds whose file is
// missing (erased) are skipped. Every file is written atomically and the
// directories synced before Rewrap returns.
func (s *Store) Rewrap(dst string, newRoot []byte, epochs []EpochID, holds []uint64) (RewrapReport, error) {
	var rep RewrapReport
	ns, err := Open(dst, newRoot, false)
	if err != nil {
		return rep, err
	}
	defer ns.Close()
	copyKey := func(oldPath, newPath string, aad []byte) (bool, error) {
		b, err := os.ReadFile(oldPath)
		if os.IsNotExist(err) {
			return false, nil
		}
		if err != nil {
			return false, fmt.Errorf("keys: rewrap: %w", err)
		}
		k, err := parseKeyFile(s.kek, b, aad)
		if err != nil {
			return false, fmt.Errorf("keys: rewrap %s: %w", filepath.Base(oldPath), err)
		}
		defer clear(k)
		w, err := Wrap(ns.kek, k, aad)
		if err != nil {
			return false, err
		}
		os.Remove(newPath) // a leftover of an interrupted rewrap into dst
		if err := WriteFileAtomic(newPath, append([]byte(fileMag), w...), 0o600); err != nil {
			return false, fmt.Errorf("keys: rewrap: %w", err)
		}
		return true, nil
	}
	for _, id := range epochs {
		ok, err := copyKey(s.epochPath(id), ns.epochPath(id), epochAAD(id))
		if err != nil {
			return rep, err
		}
		if ok {
			rep.Epochs++
		}
	}
	for _, id := range holds {
		ok, err := copyKey(s.holdPath(id), ns.holdPath(id), holdAAD(id))
		if err != nil {
			return rep, fmt.Errorf("hold %s: %w", strconv.FormatUint(id, 10), err)
		}
		if ok {
			rep.Holds++
		}
	}
	ok, err := copyKey(filepath.Join(s.dir, VaultFile), filepath.Join(ns.dir, VaultFile), vaultAAD)
	if err != nil {
		return rep, err
	}
	rep.Vault = ok
	for _, d := range []string{filepath.Join(dst, epochDir), filepath.Join(dst, holdDir), dst} {
		if err := fsutil.SyncDir(d); err != nil {
			return rep, fmt.Errorf("keys: rewrap: %w", err)
		}
	}
	return rep, nil
}

// CountFiles returns the number of epoch and hold key files under dir.
func CountFiles(dir string) (epochs, holds int) {
	e, _ := os.ReadDir(filepath.Join(dir, epochDir))
	h, _ := os.ReadDir(filepath.Join(dir, holdDir))
	return len(e), len(h)
}
