package update

import (
	"bytes"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func TestVerifyRaucBundle(t *testing.T) {
	v := newVendor(t, "vendor")
	other := newVendor(t, "mallory")
	img := bytes.Repeat([]byte("edgerec rootfs "), 4096)
	good := makeBundle(t, v, "edgerec-gateway", "2026.12.1", img)
	roots, err := LoadKeyring(v.CA)
	if err != nil {
		t.Fatal(err)
	}
	// The host's rauc agrees that the bundle is valid for this keyring.
	if out, err := exec.Command("rauc", "info", "--keyring="+v.CA, good).CombinedOutput(); err != nil {
		t.Fatalf("rauc info: %v\n%s", err, out)
	}
	b, err := Verify(good, roots, time.Now())
	if err != nil {
		t.Fatalf("good bundle: %v", err)
	}
	if len(b.Digest) != 64 || b.ContentSize <= 0 || b.ContentSize >= b.Size || !strings.Contains(b.Signer, "vendor release") {
		t.Errorf("bundle %+v", b)
	}

	data, _ := os.ReadFile(good)
	write := func(name string, d []byte) string {
		p := filepath.Join(t.TempDir(), name)
		os.WriteFile(p, d, 0o600)
		return p
	}
	squash := data[:b.ContentSize]
	flipped := bytes.Clone(data)
	flipped[100] ^= 1
	cases := map[string]struct {
		path string
		want string
	}{
		"unsigned (squashfs only)": {write("unsigned", squash), "bundle"},
		"wrongly signed":           {makeBundle(t, other, "edgerec-gateway", "2026.12.1", img), "does not verify"},
		"truncated":                {write("trunc", data[:len(data)-1000]), "bundle"},
		"truncated to half":        {write("half", data[:len(data)/2]), "bundle"},
		"content changed":          {write("flip", flipped), "does not verify"},
		"empty":                    {write("empty", nil), "too short"},
		"zero trailer":             {write("zero", append(bytes.Clone(squash), 0, 0, 0, 0, 0, 0, 0, 0)), "unsigned"},
	}
	for name, c := range cases {
		_, err := Verify(c.path, roots, time.Now())
		if !errors.Is(err, ErrBundle) || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s: want ErrBundle with %q, got %v", name, c.want, err)
		}
	}
	// A signature that was valid is refused once the signer expired.
	if _, err := Verify(good, roots, time.Now().Add(48*time.Hour)); !errors.Is(err, ErrBundle) {
		t.Errorf("expired signer accepted: %v", err)
	}
}

func TestLoadKeyringRefusesEmpty(t *testing.T) {
	p := filepath.Join(t.TempDir(), "ca.pem")
	os.WriteFile(p, []byte("not pem"), 0o600)
	if _, err := LoadKeyring(p); err == nil {
		t.Error("empty keyring accepted")
	}
}

func FuzzVerify(f *testing.F) {
	f.Add([]byte("hsqs"))
	f.Add(append(bytes.Repeat([]byte{0}, 100), 0, 0, 0, 0, 0, 0, 0, 20))
	sq := make([]byte, 200)
	copy(sq, "hsqs")
	sq[40] = 100
	f.Add(append(append(sq, bytes.Repeat([]byte{0x30}, 20)...), 0, 0, 0, 0, 0, 0, 0, 20))
	roots, err := loadTestRoots()
	if err != nil {
		f.Fatal(err)
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		_, err := verifyReader(bytes.NewReader(data), int64(len(data)), roots, time.Now())
		if err == nil {
			t.Fatal("random bytes verified")
		}
		if !errors.Is(err, ErrBundle) {
			t.Fatalf("not ErrBundle: %v", err)
		}
	})
}
