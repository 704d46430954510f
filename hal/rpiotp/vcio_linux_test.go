//go:build linux

package rpiotp

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"testing"
	"unsafe"
)

func TestIoctlNumber(t *testing.T) {
	want := uintptr(0xC0046400) // 32-bit arm
	if unsafe.Sizeof(uintptr(0)) == 8 {
		want = 0xC0086400 // arm64
	}
	if ioctlMboxProperty != want {
		t.Fatalf("IOCTL_MBOX_PROPERTY = %#x, want %#x", ioctlMboxProperty, want)
	}
}

// The real mailbox on a machine without one: a clear ErrNoDevice, never a
// fallback.
func TestVCIONoDevice(t *testing.T) {
	ctx := context.Background()
	missing := VCIO{Path: filepath.Join(t.TempDir(), "vcio")}
	if _, err := New(missing).ReadKey(ctx); !errors.Is(err, ErrNoDevice) {
		t.Fatalf("missing device: %v", err)
	}
	// A file that is not the vcio device answers ENOTTY.
	reg := filepath.Join(t.TempDir(), "notvcio")
	if err := os.WriteFile(reg, make([]byte, 64), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := New(VCIO{Path: reg}).ReadKey(ctx); !errors.Is(err, ErrNoDevice) {
		t.Fatalf("regular file: %v", err)
	}
	if _, err := os.Stat(DefaultDevice); err != nil {
		if _, err := New(VCIO{}).ReadKey(ctx); !errors.Is(err, ErrNoDevice) {
			t.Fatalf("%s: %v", DefaultDevice, err)
		}
	}
}

// A size word that does not match the slice never reaches the kernel (it
// would copy past the slice).
func TestVCIORefusesMismatchedSizeWord(t *testing.T) {
	buf := keyRequest(TagGetPrivateKey, nil)
	buf[0] += 4
	if err := (VCIO{Path: "/nonexistent"}).Property(buf); !errors.Is(err, errBadMessage) {
		t.Fatalf("size word too big: %v", err)
	}
	if err := (VCIO{}).Property(nil); !errors.Is(err, errBadMessage) {
		t.Fatalf("empty: %v", err)
	}
}
