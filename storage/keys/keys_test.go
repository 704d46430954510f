package keys

import (
	"bytes"
	"context"
	"errors"
	"os"
	"path/filepath"
	"testing"
)

func TestRootFileAndEpochErase(t *testing.T) {
	dir := t.TempDir()
	p := filepath.Join(dir, "root.key")
	root, err := CreateFileRoot(p)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := CreateFileRoot(p); !errors.Is(err, ErrExists) {
		t.Fatalf("overwrote the root key: %v", err)
	}
	st, _ := os.Stat(p)
	if st.Mode().Perm() != 0o600 {
		t.Fatalf("mode %v", st.Mode())
	}
	got, err := FileRoot{Path: p}.Load(context.Background())
	if err != nil || !bytes.Equal(got, root) {
		t.Fatal(err)
	}
	var id [16]byte
	if err := CheckKCV(root, id, KCV(root, id)); err != nil {
		t.Fatal(err)
	}
	other, _ := NewKey()
	if err := CheckKCV(other, id, KCV(root, id)); !errors.Is(err, ErrWrongKey) {
		t.Fatal(err)
	}
	ks, err := Open(filepath.Join(dir, "keys"), root, false)
	if err != nil {
		t.Fatal(err)
	}
	e := EpochID{Camera: "gate", Day: "2025-01-02"}
	if _, err := ks.EpochKey(e, false); !errors.Is(err, ErrErased) {
		t.Fatal(err)
	}
	k1, err := ks.EpochKey(e, true)
	if err != nil {
		t.Fatal(err)
	}
	// A fresh store (cold cache) unwraps the same key; the file holds no clear key
	// and its name does not reveal the camera (R19).
	ks2, _ := Open(filepath.Join(dir, "keys"), root, false)
	k2, err := ks2.EpochKey(e, false)
	if err != nil || !bytes.Equal(k1, k2) {
		t.Fatal(err)
	}
	ents, _ := os.ReadDir(filepath.Join(dir, "keys", "epochs"))
	if len(ents) != 1 || bytes.Contains([]byte(ents[0].Name()), []byte("gate")) {
		t.Fatalf("epoch files %v", ents)
	}
	b, _ := os.ReadFile(filepath.Join(dir, "keys", "epochs", ents[0].Name()))
	if bytes.Contains(b, k1) || bytes.Contains(b, root) {
		t.Fatal("key in clear in its file")
	}
	// A wrong root cannot read it (it does not even find it: names are keyed).
	ks3, _ := Open(filepath.Join(dir, "keys"), other, false)
	if _, err := ks3.EpochKey(e, false); !errors.Is(err, ErrWrongKey) && !errors.Is(err, ErrErased) {
		t.Fatal(err)
	}
	if _, err := parseKeyFile(derive(other, "kek"), b, epochAAD(e)); !errors.Is(err, ErrWrongKey) {
		t.Fatal(err)
	}
	if err := ks.EraseEpoch(e); err != nil {
		t.Fatal(err)
	}
	if _, err := ks2.EpochKey(EpochID{Camera: "gate", Day: "2025-01-02", Gen: 0}, false); err != nil {
		// ks2 still has it cached: erase is per store instance; the file is gone.
		t.Log(err)
	}
	ks4, _ := Open(filepath.Join(dir, "keys"), root, false)
	if _, err := ks4.EpochKey(e, false); !errors.Is(err, ErrErased) {
		t.Fatalf("after erase: %v", err)
	}
	if err := ks.EraseEpoch(e); err != nil {
		t.Fatalf("erase is not idempotent: %v", err)
	}
	// Wipe: root destroyed, hold keys gone.
	if _, err := ks.HoldKey(5, true); err != nil {
		t.Fatal(err)
	}
	if err := (FileRoot{Path: p}).Destroy(context.Background()); err != nil {
		t.Fatal(err)
	}
	if err := Wipe(filepath.Join(dir, "keys")); err != nil {
		t.Fatal(err)
	}
	if _, err := (FileRoot{Path: p}).Load(context.Background()); !errors.Is(err, ErrErased) {
		t.Fatal(err)
	}
	if ks.HoldExists(5) {
		t.Fatal("hold key survived wipe")
	}
}

func FuzzKeyFiles(f *testing.F) {
	root := bytes.Repeat([]byte{1}, Size)
	f.Add(encodeRoot(root))
	w, _ := Wrap(derive(root, "kek"), root, epochAAD(EpochID{Camera: "a", Day: "2025-01-01"}))
	f.Add(append([]byte(fileMag), w...))
	f.Fuzz(func(t *testing.T, in []byte) {
		if k, err := ParseRootFile(in); err == nil && !bytes.Equal(encodeRoot(k), in) {
			t.Fatal("root file re-encode differs")
		}
		_, _ = parseKeyFile(derive(root, "kek"), in, epochAAD(EpochID{Camera: "a", Day: "2025-01-01"}))
	})
}
