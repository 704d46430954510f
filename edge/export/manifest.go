package export

import (
	"crypto/ed25519"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"strings"
	"time"
)

// Manifest describes one export (R17). Times are UTC.
type Manifest struct {
	Device string         `json:"device"`
	Camera ManifestCamera `json:"camera"`
	// From and To are the range the grant allowed and the requester asked
	// for; Start and End what the file holds (Start is the keyframe at or
	// before From; End is at most To).
	From  time.Time `json:"from"`
	To    time.Time `json:"to"`
	Start time.Time `json:"start"`
	End   time.Time `json:"end"`
	// Coverage is the recorded footage within [Start, End); what lies
	// between spans is a gap (the file shows the frame before the gap).
	Coverage []Span `json:"coverage"`
	// Gaps are the holes between the coverage spans, with their lengths
	// (issue 14: a camera outage, a reconnect or lost frames): the signed
	// record of what the file does not hold.
	Gaps []Gap `json:"gaps,omitempty"`

	Grant     string    `json:"grant"`
	Requester string    `json:"requester"`
	Approver  string    `json:"approver"`
	Exporter  string    `json:"exporter"`
	Created   time.Time `json:"created"`
	AuditSeq  uint64    `json:"audit_seq"`

	File  FileInfo  `json:"file"`
	Video VideoInfo `json:"video"`

	// DeviceKey is the device's ed25519 public key (base64); SignManifest
	// fills it in from the signing key.
	DeviceKey string `json:"device_key"`
}

// ManifestCamera names the camera: the opaque id used upstream (R19) and
// its local name (confidential, but the grant covered it).
type ManifestCamera struct {
	ID   string `json:"id"`
	Name string `json:"name"`
}

// Span is a stretch of continuous footage.
type Span struct {
	From time.Time `json:"from"`
	To   time.Time `json:"to"`
}

// Gap is a stretch without footage between two coverage spans.
type Gap struct {
	From    time.Time `json:"from"`
	To      time.Time `json:"to"`
	Seconds float64   `json:"seconds"`
}

// GapsOf returns the holes between consecutive spans.
func GapsOf(cov []Span) []Gap {
	var out []Gap
	for i := 1; i < len(cov); i++ {
		a, b := cov[i-1].To, cov[i].From
		if b.After(a) {
			out = append(out, Gap{From: a, To: b, Seconds: b.Sub(a).Seconds()})
		}
	}
	return out
}

// FileInfo identifies the MP4.
type FileInfo struct {
	Name   string `json:"name,omitempty"` // base name, set by the caller (e.g. "cam1-20250310.mp4")
	Format string `json:"format"`         // "fmp4"
	Size   int64  `json:"size"`
	SHA256 string `json:"sha256"` // hex
}

// VideoInfo describes the stream.
type VideoInfo struct {
	Codec      string  `json:"codec"` // RFC 6381, e.g. "avc1.42c01e"
	Width      int     `json:"width"`
	Height     int     `json:"height"`
	Timescale  uint32  `json:"timescale"`
	Frames     int     `json:"frames"`
	Keyframes  int     `json:"keyframes"`
	Fragments  int     `json:"fragments"`
	DurationMS int64   `json:"duration_ms"`
	FPS        float64 `json:"fps"`
}

// Duration is End − Start.
func (m Manifest) Duration() time.Duration { return m.End.Sub(m.Start) }

// SignManifest fills in the device key and signs m with key.
func SignManifest(m Manifest, key ed25519.PrivateKey) ([]byte, error) {
	if len(key) != ed25519.PrivateKeySize {
		return nil, fmt.Errorf("export: sign manifest: private key has %d bytes", len(key))
	}
	m.DeviceKey = EncodeKey(key.Public().(ed25519.PublicKey))
	return SignDoc(KindManifest, m, key)
}

// VerifyManifest checks a manifest document (signature, canonical form,
// device key) without the MP4.
func VerifyManifest(doc []byte, opts ...VerifyOption) (Manifest, error) {
	d, err := OpenDoc(doc, opts...)
	if err != nil {
		return Manifest{}, err
	}
	if d.Kind != KindManifest {
		return Manifest{}, fmt.Errorf("%w: kind %q is not an export manifest", ErrBadDocument, d.Kind)
	}
	var m Manifest
	if err := decodePayload(d, &m, func() string { return m.DeviceKey }); err != nil {
		return Manifest{}, err
	}
	if len(m.File.SHA256) != 64 {
		return Manifest{}, fmt.Errorf("%w: manifest has no SHA-256", ErrBadDocument)
	}
	return m, nil
}

// Verify checks the manifest document and that mp4 is exactly the file it
// describes (size and SHA-256). Any changed byte of either fails.
func Verify(manifestJSON []byte, mp4 io.Reader, opts ...VerifyOption) (Manifest, error) {
	m, err := VerifyManifest(manifestJSON, opts...)
	if err != nil {
		return Manifest{}, err
	}
	h := sha256.New()
	n, err := io.Copy(h, mp4)
	if err != nil {
		return Manifest{}, fmt.Errorf("export: verify: read video: %w", err)
	}
	sum := hex.EncodeToString(h.Sum(nil))
	if n != m.File.Size {
		return Manifest{}, fmt.Errorf("%w: the file has %d bytes, the manifest says %d (truncated or extended)", ErrHashMismatch, n, m.File.Size)
	}
	if sum != strings.ToLower(m.File.SHA256) {
		return Manifest{}, fmt.Errorf("%w: SHA-256 %s, the manifest says %s", ErrHashMismatch, sum, m.File.SHA256)
	}
	return m, nil
}

func sha256Sum(b []byte) [32]byte { return sha256.Sum256(b) }

// Summary is a human description: who approved what.
func (m Manifest) Summary() string {
	var b strings.Builder
	fmt.Fprintf(&b, "export manifest: signature OK, video SHA-256 OK (%d bytes)\n", m.File.Size)
	fmt.Fprintf(&b, "  device    %s (key %s)\n", m.Device, keyIDOf(m.DeviceKey))
	fmt.Fprintf(&b, "  camera    %s (%s)\n", m.Camera.Name, m.Camera.ID)
	fmt.Fprintf(&b, "  range     %s .. %s (file %s .. %s, %s)\n", m.From.Format(time.RFC3339), m.To.Format(time.RFC3339),
		m.Start.Format(time.RFC3339Nano), m.End.Format(time.RFC3339Nano), m.Duration().Round(time.Millisecond))
	fmt.Fprintf(&b, "  grant     %s: requested by %s, approved by %s, exported by %s\n", m.Grant, m.Requester, m.Approver, m.Exporter)
	fmt.Fprintf(&b, "  created   %s, audit record #%d\n", m.Created.Format(time.RFC3339), m.AuditSeq)
	gaps := GapsOf(m.Coverage)
	fmt.Fprintf(&b, "  video     %s %dx%d, %d frames, %d gaps\n", m.Video.Codec, m.Video.Width, m.Video.Height, m.Video.Frames, len(gaps))
	for _, g := range gaps {
		fmt.Fprintf(&b, "  gap       %s .. %s (%.1f s without footage)\n", g.From.Format(time.RFC3339Nano), g.To.Format(time.RFC3339Nano), g.Seconds)
	}
	return b.String()
}

func keyIDOf(b64key string) string {
	k, err := b64.DecodeString(b64key)
	if err != nil {
		return "?"
	}
	return KeyID(k)
}
