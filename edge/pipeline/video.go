package pipeline

import (
	"github.com/edgerec/edgerec/edge/codec"
	"github.com/edgerec/edgerec/edge/mask"
	"github.com/edgerec/edgerec/edge/media"
)

// Video is an access unit that may be recorded and shown (R2): the encoding
// of a picture that went through the camera's masks, or the camera's own
// unit when the camera has no masks. Its field is unexported and only this
// package makes one (encodeMasked, passthrough), so code outside the
// pipeline cannot put anything on a Hub — the one way to the recorder and
// the live view. The zero Video is empty and the hub refuses it.
type Video struct {
	au media.AccessUnit
}

// AU returns the access unit (read-only: its Data is shared by every
// reader).
func (v Video) AU() media.AccessUnit { return v.au }

// encodeMasked encodes a masked picture: the only place in the firmware
// where encoder output becomes publishable.
func encodeMasked(enc *codec.Encoder, m mask.Masked) (Video, bool, error) {
	au, ok, err := enc.Encode(m.Frame())
	if err != nil || !ok {
		return Video{}, ok, err
	}
	return Video{au: au}, true, nil
}

// passthrough makes a camera's own unit publishable; callers hold the
// camera's mask state and call it only while the camera has no masks.
func passthrough(au media.AccessUnit) Video { return Video{au: au} }
