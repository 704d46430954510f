package update

import (
	"crypto/x509"
	"errors"
	"os"
	"strings"
	"testing"
)

const goodManifest = `[update]
compatible=edgerec-gateway
version=2026.12.1

[bundle]
format=plain

[image.rootfs]
sha256=0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef
size=12345
filename=rootfs.ext4
`

func TestParseManifest(t *testing.T) {
	m, err := ParseManifest([]byte(goodManifest))
	if err != nil {
		t.Fatal(err)
	}
	if m.Compatible != "edgerec-gateway" || m.Version != "2026.12.1" || m.Images["rootfs"].Size != 12345 || m.Images["rootfs"].Filename != "rootfs.ext4" {
		t.Errorf("%+v", m)
	}
	bad := map[string]string{
		"unknown key":      strings.Replace(goodManifest, "size=12345", "size=12345\ncolor=red", 1),
		"unknown section":  goodManifest + "[extra]\n",
		"hooks":            goodManifest + "[hooks]\nfilename=hook.sh\n",
		"verity":           strings.Replace(goodManifest, "format=plain", "format=verity", 1),
		"path in filename": strings.Replace(goodManifest, "filename=rootfs.ext4", "filename=../etc/shadow", 1),
		"bad sha":          strings.Replace(goodManifest, "sha256=0123", "sha256=XY23", 1),
		"no version":       strings.Replace(goodManifest, "version=2026.12.1\n", "", 1),
		"bad version":      strings.Replace(goodManifest, "version=2026.12.1", "version=1 2", 1),
		"no size":          strings.Replace(goodManifest, "size=12345\n", "", 1),
		"no image":         "[update]\ncompatible=x\nversion=1\n",
		"twice":            goodManifest + "[update]\n",
		"not key=value":    goodManifest + "hello\n",
	}
	for name, m := range bad {
		if _, err := ParseManifest([]byte(m)); !errors.Is(err, ErrManifest) {
			t.Errorf("%s: want ErrManifest, got %v", name, err)
		}
	}
	_, err = ParseManifest([]byte(strings.Replace(goodManifest, "size=12345", "size=12345\ncolor=red", 1)))
	if err == nil || !strings.Contains(err.Error(), "line 11") {
		t.Errorf("the error does not name the line: %v", err)
	}
}

func FuzzParseManifest(f *testing.F) {
	f.Add([]byte(goodManifest))
	f.Add([]byte("[update]\ncompatible=x\nversion=1\n[image.a]\nfilename=a\nsha256=00\nsize=1\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		m, err := ParseManifest(data)
		if err != nil {
			if !errors.Is(err, ErrManifest) {
				t.Fatalf("not ErrManifest: %v", err)
			}
			return
		}
		if m.Version == "" || m.Compatible == "" || len(m.Images) == 0 {
			t.Fatalf("accepted an incomplete manifest: %+v", m)
		}
		for _, img := range m.Images {
			if img.Size <= 0 || len(img.SHA256) != 64 || !validName(img.Filename) {
				t.Fatalf("accepted a bad image: %+v", img)
			}
		}
	})
}

// loadTestRoots is a fixed keyring for the fuzzer (testdata/ca.pem).
func loadTestRoots() (*x509.CertPool, error) {
	if _, err := os.Stat("testdata/ca.pem"); err != nil {
		return nil, err
	}
	return LoadKeyring("testdata/ca.pem")
}
