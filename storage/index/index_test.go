package index

import (
	"bytes"
	"path/filepath"
	"testing"
)

func TestCameraLookups(t *testing.T) {
	p := filepath.Join(t.TempDir(), "i.db")
	if err := Create(p, Head{NextSeg: 1}); err != nil {
		t.Fatal(err)
	}
	d, err := Open(p, false)
	if err != nil {
		t.Fatal(err)
	}
	defer d.Close()
	err = d.Update(func(tx *Tx) error {
		for i := uint64(1); i <= 10; i++ {
			if err := tx.InsertSegment(&Segment{ID: i, Camera: "c", Start: int64(i) * 100, End: int64(i)*100 + 50, Closed: true}); err != nil {
				return err
			}
		}
		return tx.InsertSegment(&Segment{ID: 11, Camera: "c", Start: -500, Closed: true})
	})
	if err != nil {
		t.Fatal(err)
	}
	d.View(func(tx *Tx) error {
		for at, want := range map[int64]uint64{-600: 0, -500: 11, 0: 11, 100: 1, 150: 1, 199: 1, 1000: 10, 5000: 10} {
			if got := tx.SegmentAt("c", at); got != want {
				t.Errorf("SegmentAt(%d) = %d, want %d", at, got, want)
			}
		}
		var ids []uint64
		tx.CameraSegments("c", 250, 520, func(id uint64, _ int64) bool { ids = append(ids, id); return true })
		if len(ids) != 4 || ids[0] != 2 || ids[3] != 5 {
			t.Errorf("range %v", ids)
		}
		return nil
	})
}

// FuzzSegmentRecord: decoding arbitrary bytes never panics, and what
// decodes re-encodes to something that decodes to the same record.
func FuzzSegmentRecord(f *testing.F) {
	s := Segment{ID: 3, Camera: "gate", Start: 1, End: 2, Key: []byte{1, 2, 3}, Runs: []Run{{LSN: 9, N: 2}},
		Keys: []KeyFrame{{T: 1, Chunk: 0, LSN: 9}}, Holds: []uint64{4}}
	b, _ := s.MarshalMsg(nil)
	f.Add(b)
	h := Head{LSN: 5, NextSeg: 6}
	b, _ = h.MarshalMsg(nil)
	f.Add(b)
	f.Fuzz(func(t *testing.T, in []byte) {
		var s Segment
		if _, err := s.UnmarshalMsg(in); err == nil {
			out, err := s.MarshalMsg(nil)
			if err != nil {
				t.Fatal(err)
			}
			var s2 Segment
			if _, err := s2.UnmarshalMsg(out); err != nil {
				t.Fatal(err)
			}
			o2, _ := s2.MarshalMsg(nil)
			if !bytes.Equal(out, o2) {
				t.Fatal("not stable")
			}
		}
		var hd Head
		_, _ = hd.UnmarshalMsg(in)
		var e Epoch
		_, _ = e.UnmarshalMsg(in)
		var ho Hold
		_, _ = ho.UnmarshalMsg(in)
	})
}
