package provision

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"

	"golang.org/x/sys/unix"

	"github.com/edgerec/edgerec/hal/board"
)

// installChecks runs the idempotent install-time checks of provisioning
// before anything is written: free space for the ring (the recorder must
// never fill the disk later, so the whole ring is reserved now), that the
// file system can preallocate (a sparse ring could hit a full disk in the
// middle of a write), and the clock state (a Pi has no RTC; segments stay
// flagged until NTP syncs). A ring on a raw partition skips the first two.
func installChecks(dir, ringPath string, ringSize int64) (notes []string, err error) {
	target := ringPath
	if target == "" {
		target = filepath.Join(dir, "ring")
	}
	if fi, err := os.Stat(target); err == nil && fi.Mode()&os.ModeDevice != 0 {
		notes = append(notes, fmt.Sprintf("ring on block device %s", target))
	} else {
		where := filepath.Dir(target)
		var st unix.Statfs_t
		if err := unix.Statfs(where, &st); err != nil {
			return notes, fmt.Errorf("install check: free space in %s: %w", where, err)
		}
		free := int64(st.Bavail) * int64(st.Bsize)
		const margin = 64 << 20
		if free < ringSize+margin {
			return notes, fmt.Errorf("install check: %s has %d MiB free; the ring needs %d MiB plus %d MiB headroom (choose a smaller --ring-size)", where, free>>20, ringSize>>20, margin>>20)
		}
		notes = append(notes, fmt.Sprintf("free space: %d MiB, ring %d MiB", free>>20, ringSize>>20))
		f, err := os.CreateTemp(where, ".fallocate-probe-*")
		if err != nil {
			return notes, fmt.Errorf("install check: %s is not writable: %w", where, err)
		}
		name := f.Name()
		ferr := unix.Fallocate(int(f.Fd()), 0, 0, 1<<20)
		f.Close()
		os.Remove(name)
		if errors.Is(ferr, unix.EOPNOTSUPP) || errors.Is(ferr, unix.ENOSYS) {
			return notes, fmt.Errorf("install check: the file system of %s cannot preallocate (fallocate unsupported): use ext4/xfs or a raw partition for the ring", where)
		} else if ferr != nil {
			return notes, fmt.Errorf("install check: fallocate in %s: %w", where, ferr)
		}
		notes = append(notes, "fallocate: supported")
	}
	st, err := board.New(board.Config{}, board.Deps{}).ClockSync()
	if err != nil {
		notes = append(notes, "clock: state unknown ("+err.Error()+")")
	} else {
		notes = append(notes, "clock: "+st.String()+" (segments are flagged until NTP syncs)")
	}
	return notes, nil
}
