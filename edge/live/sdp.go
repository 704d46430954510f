package live

import (
	"fmt"
	"strings"
	"unicode/utf8"

	"github.com/pion/sdp/v3"

	"github.com/edgerec/edgerec/policy/kind"
)

// MaxOfferBytes bounds an SDP offer. Browsers send 3–8 KiB.
const MaxOfferBytes = 64 << 10

// ErrBadOffer is wrapped by every refusal of an offer (the web layer answers
// 400 with the message).
var ErrBadOffer = kind.New(kind.Invalid, "live: bad SDP offer")

// CheckOffer validates an offer before pion parses it again: bounded, UTF-8,
// well-formed SDP with at least one video section that can receive, no
// data-channel-only or audio-only offers. It is pure so it can be fuzzed.
func CheckOffer(offer string) error {
	if offer == "" {
		return fmt.Errorf("%w: empty", ErrBadOffer)
	}
	if len(offer) > MaxOfferBytes {
		return fmt.Errorf("%w: larger than %d bytes", ErrBadOffer, MaxOfferBytes)
	}
	if !utf8.ValidString(offer) || strings.ContainsRune(offer, 0) {
		return fmt.Errorf("%w: not UTF-8 text", ErrBadOffer)
	}
	var sd sdp.SessionDescription
	if err := sd.UnmarshalString(offer); err != nil {
		return fmt.Errorf("%w: %v", ErrBadOffer, err)
	}
	if len(sd.MediaDescriptions) > 16 {
		return fmt.Errorf("%w: more than 16 media sections", ErrBadOffer)
	}
	video := false
	for _, md := range sd.MediaDescriptions {
		if md.MediaName.Media != "video" {
			continue
		}
		dir := "sendrecv"
		for _, a := range md.Attributes {
			switch a.Key {
			case "recvonly", "sendonly", "inactive", "sendrecv":
				dir = a.Key
			}
		}
		if dir == "recvonly" || dir == "sendrecv" {
			video = true
		}
	}
	if !video {
		return fmt.Errorf("%w: no video section that receives", ErrBadOffer)
	}
	return nil
}
