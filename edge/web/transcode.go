package web

import (
	"errors"
	"fmt"
	"time"

	"github.com/edgerec/edgerec/edge/codec"
	"github.com/edgerec/edgerec/edge/mask"
	"github.com/edgerec/edgerec/edge/media"
	"github.com/edgerec/edgerec/storage"
)

// burnTranscoder re-encodes played-back footage with the viewer burned in
// (R18): stored H.264 → decode (edge/codec) → the camera's current masks
// applied once more (the stored footage already carries the masks it was
// recorded with; applying today's masks on top can only hide more) → the
// viewer's name, the grant id, the footage time and the wall time on a
// dark band → encode (edge/codec, one thread) → access units for the
// fMP4 muxer, with the stored frame times. Not safe for concurrent use.
type burnTranscoder struct {
	dec    *codec.Decoder
	enc    *codec.Encoder
	masker *mask.Masker
	burn   burner
	who    string         // first line: viewer and grant id
	loc    *time.Location // the times are burned in the site's zone
	now    func() time.Time
	start  time.Time // pictures before it are decoded (references) but not sent

	w, h             int
	waitKey          bool // after a decode error: skip to the next keyframe
	pending          *media.Frame
	pendAt           time.Time
	in, out, skipped int
}

// Playback encoder settings.
const (
	playKeyframe   = 2 * time.Second
	playDefaultFPS = 15
)

func newBurnTranscoder(masks mask.Set, viewer, grant string, start time.Time, now func() time.Time, loc *time.Location) (*burnTranscoder, error) {
	m, err := masks.Masker(mask.Options{})
	if err != nil {
		return nil, fmt.Errorf("web: playback masks: %w", err)
	}
	dec, err := codec.NewDecoder()
	if err != nil {
		return nil, err
	}
	return &burnTranscoder{dec: dec, masker: m, who: clip(viewer, 40) + " " + grant, now: now, start: start, waitKey: true, loc: loc}, nil
}

// playBitrate is the playback encoder's rate: about 0.12 bit per pixel,
// at least 1 Mbit/s, so the burned-in text stays sharp.
func playBitrate(w, h int, fps float64) int {
	return max(1000, int(float64(w*h)*fps*0.12/1000))
}

// frame transcodes one stored frame and passes what the encoder produced
// to out.
func (t *burnTranscoder) frame(f storage.Frame, out func(storage.Frame) error) error {
	t.in++
	if t.waitKey && !f.Key {
		t.skipped++
		return nil
	}
	pic, err := t.dec.Decode(f.Data)
	if err != nil {
		if errors.Is(err, codec.ErrDecode) {
			t.waitKey = true // a damaged picture is dropped, never concealed
			t.skipped++
			return nil
		}
		return err
	}
	t.waitKey = false
	if pic == nil || f.Time.Before(t.start) {
		// Storage starts at the keyframe before the window: those
		// pictures only serve as references. The encoder starts with
		// an IDR at the window's first picture, so the stream holds
		// exactly [from, to) and its times never precede the origin.
		return nil
	}
	if t.enc != nil && (pic.Width != t.w || pic.Height != t.h) {
		_ = t.enc.Close() // new size (camera reconfigured): new encoder, new IDR
		t.enc = nil
	}
	if t.enc == nil {
		if t.pending == nil || t.pending.Width != pic.Width || t.pending.Height != pic.Height {
			// The encoder is opened at the second picture, with the
			// frame rate the first two show.
			t.pending, t.pendAt = pic, f.Time
			return nil
		}
		fps := float64(playDefaultFPS)
		if d := f.Time.Sub(t.pendAt); d > 0 {
			fps = min(60, max(1, float64(time.Second)/float64(d)))
		}
		if err := t.open(pic.Width, pic.Height, fps); err != nil {
			return err
		}
		if err := t.encode(t.pending, t.pendAt, out); err != nil {
			return err
		}
		t.pending = nil
	}
	return t.encode(pic, f.Time, out)
}

func (t *burnTranscoder) open(w, h int, fps float64) error {
	enc, err := codec.NewEncoder(codec.EncoderConfig{Width: w, Height: h, FPS: fps, BitrateKbps: playBitrate(w, h, fps),
		KeyframeInterval: playKeyframe, Threads: 1})
	if err != nil {
		return err
	}
	t.enc, t.w, t.h = enc, w, h
	return nil
}

func (t *burnTranscoder) encode(pic *media.Frame, at time.Time, out func(storage.Frame) error) error {
	m := t.masker.ApplyHeld(pic, t.enc.NextKeyframe()) // pixelation changes only at keyframes (edge/mask)
	t.burn.draw(m.Frame(), t.who, "rec "+siteTime(at, t.loc), "now "+siteTime(t.now(), t.loc))
	au, ok, err := t.enc.Encode(m.Frame())
	if err != nil || !ok {
		return err
	}
	t.out++
	return out(storage.Frame{Time: at, Key: au.Key, Data: au.Data})
}

// finish encodes a picture still waiting for its encoder (a one-frame
// window).
func (t *burnTranscoder) finish(out func(storage.Frame) error) error {
	if t.pending == nil {
		return nil
	}
	if err := t.open(t.pending.Width, t.pending.Height, playDefaultFPS); err != nil {
		return err
	}
	err := t.encode(t.pending, t.pendAt, out)
	t.pending = nil
	return err
}

// Close releases the decoder and the encoder.
func (t *burnTranscoder) Close() {
	_ = t.dec.Close()
	if t.enc != nil {
		_ = t.enc.Close()
	}
}

// siteTime formats t for a person at the site (issue 18): local time with
// its offset in loc ("2026-03-29 03:00:01 +02:00"), or "… UTC" when loc is
// nil or UTC.
func siteTime(t time.Time, loc *time.Location) string {
	if loc == nil || loc == time.UTC {
		return t.UTC().Format("2006-01-02 15:04:05") + " UTC"
	}
	return t.In(loc).Format("2006-01-02 15:04:05 -07:00")
}
