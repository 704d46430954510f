package storage

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"math"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/edgerec/edgerec/storage/index"
	"github.com/edgerec/edgerec/storage/keys"
	"github.com/edgerec/edgerec/storage/seal"
)

// chunkOffsets returns the file offset and size of every chunk of segment id.
func chunkOffsets(t *testing.T, s *Store, id uint64) (offs []int64, sizes []int) {
	t.Helper()
	var row index.Segment
	if err := s.idx.View(func(tx *index.Tx) error {
		var err error
		row, err = tx.Segment(id)
		return err
	}); err != nil {
		t.Fatal(err)
	}
	it := newChunkIter(s, &row, 0)
	for c := uint32(0); c < row.Chunks; c++ {
		h, err := it.header()
		if err != nil {
			t.Fatal(err)
		}
		size := seal.HeaderSize + int(h.Length)
		if row.InHold {
			offs = append(offs, s.hdr.HoldOff+int64(it.pos))
		} else {
			offs = append(offs, s.ring.Pos(it.pos))
		}
		sizes = append(sizes, size)
		it.advance(size)
	}
	return offs, sizes
}

func flipByte(t *testing.T, path string, off int64) {
	t.Helper()
	f, err := os.OpenFile(path, os.O_RDWR, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	b := []byte{0}
	if _, err := f.ReadAt(b, off); err != nil {
		t.Fatal(err)
	}
	b[0] ^= 0x5a
	if _, err := f.WriteAt(b, off); err != nil {
		t.Fatal(err)
	}
}

// R5, R9: flip one byte anywhere in a sealed chunk (every header byte and a
// sample of ciphertext and tag bytes): reading stops at that chunk with an
// error wrapping ErrTampered that names segment and chunk, every frame
// returned before it is authentic, and Check reports the damage with camera,
// segment and time range.
func TestR5TamperOneByteAnywhere(t *testing.T) {
	dir := provision(t, ProvisionOptions{})
	s := openStore(t, dir, Options{ChunkSize: 8 << 10})
	defer s.Close()
	var seq uint64
	w := recordSegment(t, s, "door", 7, &seq, t0, 60, 15, 3000, 66*time.Millisecond)
	offs, sizes := chunkOffsets(t, s, w.id)
	if len(offs) < 5 {
		t.Fatalf("only %d chunks", len(offs))
	}
	target := len(offs) / 2
	ringPath := filepath.Join(dir, RingFile)
	positions := make([]int, 0, 120)
	for i := 0; i < seal.HeaderSize; i++ {
		positions = append(positions, i)
	}
	r := rand.New(rand.NewPCG(1, 2))
	for i := 0; i < 40; i++ {
		positions = append(positions, seal.HeaderSize+r.IntN(sizes[target]-seal.HeaderSize-seal.Overhead))
	}
	for i := sizes[target] - seal.Overhead; i < sizes[target]; i++ {
		positions = append(positions, i)
	}
	// Frames of the chunks before the target.
	var before int
	_ = s.ReadSegment(context.Background(), w.id, func(Frame) error { before++; return nil })
	if before != len(w.frames) {
		t.Fatalf("clean read returned %d frames", before)
	}
	for _, p := range positions {
		off := offs[target] + int64(p)
		flipByte(t, ringPath, off)
		var got []Frame
		err := s.ReadSegment(context.Background(), w.id, func(f Frame) error { got = append(got, f); return nil })
		if !errors.Is(err, ErrTampered) {
			t.Fatalf("byte %d of chunk %d flipped: read error %v, want ErrTampered", p, target, err)
		}
		if want := fmt.Sprintf("segment %d chunk %d", w.id, target); !strings.Contains(err.Error(), want) {
			t.Fatalf("error %q does not name %q", err, want)
		}
		if err := sameFrames(got, w.frames[:len(got)]); err != nil {
			t.Fatalf("frames returned before the damage are not the originals: %v", err)
		}
		if len(got) >= len(w.frames) {
			t.Fatalf("read past the damaged chunk")
		}
		if p%13 == 0 {
			rep, err := s.Check(context.Background(), CheckOptions{})
			if err != nil {
				t.Fatal(err)
			}
			if rep.OK() || len(rep.Damage) != 1 || rep.Damage[0].Segment != w.id || rep.Damage[0].Chunk != target ||
				rep.Damage[0].Camera != "door" || !rep.Damage[0].From.Equal(t0) {
				t.Fatalf("check after flipping byte %d:\n%s", p, rep)
			}
			if !strings.Contains(rep.String(), "camera door segment") {
				t.Fatalf("report does not name the camera: %s", rep)
			}
		}
		flipByte(t, ringPath, off) // restore
	}
	mustCheck(t, s, false)
}

// R5: truncation (the index claims fewer chunks than a closed segment has,
// so the last chunk read has no last flag) and swapping two chunks
// (reordering) are detected.
func TestR5TruncateAndReorder(t *testing.T) {
	dir := provision(t, ProvisionOptions{})
	s := openStore(t, dir, Options{ChunkSize: 4 << 10})
	defer s.Close()
	var seq uint64
	w := recordSegment(t, s, "c", 1, &seq, t0, 40, 10, 2000, 66*time.Millisecond)
	err := s.idx.Update(func(tx *index.Tx) error {
		row, err := tx.Segment(w.id)
		if err != nil {
			return err
		}
		row.Chunks--
		row.Runs[len(row.Runs)-1].N--
		return tx.PutSegment(&row)
	})
	if err != nil {
		t.Fatal(err)
	}
	err = s.ReadSegment(context.Background(), w.id, func(Frame) error { return nil })
	if !errors.Is(err, ErrTampered) || !strings.Contains(err.Error(), "truncated") {
		t.Fatalf("truncation: %v", err)
	}

	w2 := recordSegment(t, s, "d", 2, &seq, t0, 40, 10, 2000, 66*time.Millisecond)
	offs, sizes := chunkOffsets(t, s, w2.id)
	// Swap chunks 1 and 2 in place where the sizes allow, else copy 2 over 1.
	f, _ := os.OpenFile(filepath.Join(dir, RingFile), os.O_RDWR, 0)
	defer f.Close()
	c2 := make([]byte, sizes[2])
	f.ReadAt(c2, offs[2])
	f.WriteAt(c2, offs[1])
	err = s.ReadSegment(context.Background(), w2.id, func(Frame) error { return nil })
	if !errors.Is(err, ErrTampered) || !strings.Contains(err.Error(), "chunk 1") {
		t.Fatalf("reorder: %v", err)
	}
}

// R5, D4 at rest: the ring holds none of the H.264 start codes/SPS/PPS of
// the input, the sealed payload bytes look uniformly random (chi-square,
// 255 degrees of freedom, p > 0.001), and no key (root, epoch, segment)
// appears in clear in the ring, the bbolt file or the key files.
func TestR5AtRestNothingInClear(t *testing.T) {
	dir := provision(t, ProvisionOptions{RingSize: 6 << 20})
	s := openStore(t, dir, Options{})
	var seq uint64
	var frames []Frame
	for k := 0; k < 20; k++ {
		w := recordSegment(t, s, "yard", 3, &seq, t0.Add(time.Duration(k)*time.Minute), 60, 30, 12000, 66*time.Millisecond)
		frames = append(frames, w.frames...)
	}
	if _, err := s.Hold(context.Background(), "yard", t0.Add(19*time.Minute), t0.Add(20*time.Minute), "grant-1"); err != nil {
		t.Fatal(err)
	}
	// Collect every key.
	root, err := keys.FileRoot{Path: filepath.Join(dir, RootKeyFile)}.Load(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	secrets := [][]byte{root}
	var bodies []byte
	err = s.idx.View(func(tx *index.Tx) error {
		if err := tx.Epochs("", func(e *index.Epoch) error {
			k, err := s.ks.EpochKey(keys.EpochID{Camera: e.Camera, Day: e.Day, Gen: e.Gen}, false)
			secrets = append(secrets, bytes.Clone(k))
			return err
		}); err != nil {
			return err
		}
		if k, err := s.ks.HoldKey(1, false); err == nil {
			secrets = append(secrets, bytes.Clone(k))
		}
		return tx.AllSegments(func(r *index.Segment) error {
			k, err := s.segmentKey(tx, r)
			if err != nil {
				return err
			}
			secrets = append(secrets, k)
			it := newChunkIter(s, r, 0)
			for c := uint32(0); c < r.Chunks; c++ {
				raw, err := it.read(nil)
				if err != nil {
					return err
				}
				bodies = append(bodies, raw[seal.HeaderSize:]...)
				it.advance(len(raw))
			}
			return nil
		})
	})
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	if len(secrets) < 10 {
		t.Fatalf("only %d keys collected", len(secrets))
	}
	ringBytes, _ := os.ReadFile(filepath.Join(dir, RingFile))
	idxBytes, _ := os.ReadFile(filepath.Join(dir, IndexFile))
	var keyFiles []byte
	filepath.WalkDir(filepath.Join(dir, KeysDir), func(p string, d os.DirEntry, err error) error {
		if err == nil && !d.IsDir() {
			b, _ := os.ReadFile(p)
			keyFiles = append(keyFiles, b...)
		}
		return nil
	})
	patterns := [][]byte{sps, sps[:8], pps}
	for i := 0; i < len(frames); i += 17 {
		d := frames[i].Data
		j := bytes.Index(d, []byte{0, 0, 0, 1, 0x65})
		if j < 0 {
			j = bytes.Index(d, []byte{0, 0, 0, 1, 0x41})
		}
		patterns = append(patterns, d[j:j+16], d[len(d)-16:])
	}
	for _, p := range patterns {
		if bytes.Contains(ringBytes, p) {
			t.Fatalf("ring contains input bytes % x", p)
		}
	}
	for i, k := range secrets {
		for name, b := range map[string][]byte{"ring": ringBytes, "index": idxBytes, "key files": keyFiles} {
			if bytes.Contains(b, k) {
				t.Fatalf("key %d appears in clear in the %s", i, name)
			}
		}
	}
	// Chi-square on the sealed bodies.
	var hist [256]float64
	for _, b := range bodies {
		hist[b]++
	}
	exp := float64(len(bodies)) / 256
	var chi float64
	for _, o := range hist {
		chi += (o - exp) * (o - exp) / exp
	}
	// Critical value for df=255 at p=0.0001 is about 350 (flake rate 1e-4).
	if chi > 350 || math.IsNaN(chi) || len(bodies) < 1<<20 {
		t.Fatalf("chi-square %.1f over %d sealed bytes: not uniform", chi, len(bodies))
	}
	t.Logf("chi-square %.1f over %d sealed bytes (df 255)", chi, len(bodies))
	// Same on the plaintext input, to show the test can fail.
	var in [256]float64
	var n float64
	for _, f := range frames {
		for _, b := range f.Data {
			in[b]++
			n++
		}
	}
	var chiIn float64
	for _, o := range in {
		chiIn += (o - n/256) * (o - n/256) / (n / 256)
	}
	if chiIn < 10000 {
		t.Fatalf("input chi-square %.0f: the input is too random to prove anything", chiIn)
	}
	// File modes.
	for name, want := range map[string]os.FileMode{RootKeyFile: 0o600, RingFile: 0o600, IndexFile: 0o600, KeysDir: 0o700, ".": 0o700} {
		st, err := os.Stat(filepath.Join(dir, name))
		if err != nil || st.Mode().Perm() != want {
			t.Fatalf("%s mode %v, want %v (%v)", name, st.Mode().Perm(), want, err)
		}
	}
}
