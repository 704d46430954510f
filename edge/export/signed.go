package export

import (
	"bytes"
	"crypto/ed25519"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
)

// Document kinds.
const (
	KindManifest        = "edgerec.export-manifest/v1"
	KindWipeCertificate = "edgerec.wipe-certificate/v1"
)

// Errors; match with errors.Is.
var (
	// ErrBadDocument: the file is not a well-formed signed document.
	ErrBadDocument = errors.New("export: not a valid signed document")
	// ErrBadSignature: the signature does not verify, or the document was
	// changed.
	ErrBadSignature = errors.New("export: signature check failed")
	// ErrWrongDevice: signed by another key than the pinned device key, or
	// the payload names another key than the one that signed it.
	ErrWrongDevice = errors.New("export: signed by another device")
	// ErrHashMismatch: the MP4 is not the one the manifest describes.
	ErrHashMismatch = errors.New("export: the video file does not match the manifest")
)

const sigDomain = "edgerec-signed-doc/v1\n"

// envelope is the on-disk form; field order is the canonical order.
type envelope struct {
	Kind      string          `json:"kind"`
	Payload   json.RawMessage `json:"payload"`
	PublicKey string          `json:"public_key"`
	Signature string          `json:"signature"`
}

var b64 = base64.StdEncoding.Strict()

func signedBytes(kind string, payload []byte) []byte {
	m := make([]byte, 0, len(sigDomain)+len(kind)+1+len(payload))
	m = append(m, sigDomain...)
	m = append(m, kind...)
	m = append(m, '\n')
	return append(m, payload...)
}

// SignDoc signs payload (marshalled to compact JSON) as a document of kind
// with key and returns the document, newline-terminated.
func SignDoc(kind string, payload any, key ed25519.PrivateKey) ([]byte, error) {
	if len(key) != ed25519.PrivateKeySize {
		return nil, fmt.Errorf("export: sign: private key has %d bytes", len(key))
	}
	if kind == "" {
		return nil, fmt.Errorf("export: sign: empty kind")
	}
	p, err := marshalCompact(payload)
	if err != nil {
		return nil, fmt.Errorf("export: sign: %w", err)
	}
	env := envelope{
		Kind:      kind,
		Payload:   p,
		PublicKey: b64.EncodeToString(key.Public().(ed25519.PublicKey)),
		Signature: b64.EncodeToString(ed25519.Sign(key, signedBytes(kind, p))),
	}
	out, err := marshalCompact(env)
	if err != nil {
		return nil, fmt.Errorf("export: sign: %w", err)
	}
	return append(out, '\n'), nil
}

func marshalCompact(v any) ([]byte, error) {
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil {
		return nil, err
	}
	return bytes.TrimSuffix(buf.Bytes(), []byte("\n")), nil
}

// VerifyOption adjusts verification.
type VerifyOption func(*verifyConfig)

type verifyConfig struct{ pinned ed25519.PublicKey }

// WithDeviceKey pins the device's public key: a document signed by any
// other key fails with ErrWrongDevice.
func WithDeviceKey(pub ed25519.PublicKey) VerifyOption {
	return func(c *verifyConfig) { c.pinned = pub }
}

// Doc is an opened, verified document.
type Doc struct {
	Kind      string
	Payload   json.RawMessage
	PublicKey ed25519.PublicKey
}

// OpenDoc parses doc, checks that it is in canonical form (exactly what
// SignDoc wrote; one trailing newline optional) and verifies the signature
// with the key it carries (and the pinned key, if any).
func OpenDoc(doc []byte, opts ...VerifyOption) (Doc, error) {
	var c verifyConfig
	for _, o := range opts {
		o(&c)
	}
	body := bytes.TrimSuffix(doc, []byte("\n"))
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.DisallowUnknownFields()
	var env envelope
	if err := dec.Decode(&env); err != nil {
		return Doc{}, fmt.Errorf("%w: %v", ErrBadDocument, err)
	}
	if dec.More() {
		return Doc{}, fmt.Errorf("%w: trailing data", ErrBadDocument)
	}
	if env.Kind == "" || len(env.Payload) == 0 || env.PublicKey == "" || env.Signature == "" {
		return Doc{}, fmt.Errorf("%w: kind, payload, public_key and signature are required", ErrBadDocument)
	}
	pub, err := b64.DecodeString(env.PublicKey)
	if err != nil || len(pub) != ed25519.PublicKeySize {
		return Doc{}, fmt.Errorf("%w: public_key is not a base64 ed25519 key", ErrBadDocument)
	}
	sig, err := b64.DecodeString(env.Signature)
	if err != nil || len(sig) != ed25519.SignatureSize {
		return Doc{}, fmt.Errorf("%w: signature is not a base64 ed25519 signature", ErrBadSignature)
	}
	if c.pinned != nil && !bytes.Equal(pub, c.pinned) {
		return Doc{}, fmt.Errorf("%w: signed by key %s, expected the device key %s", ErrWrongDevice, KeyID(pub), KeyID(c.pinned))
	}
	// Canonical form: re-encode (payload compacted) and compare byte for byte.
	var compact bytes.Buffer
	if err := json.Compact(&compact, env.Payload); err != nil {
		return Doc{}, fmt.Errorf("%w: payload: %v", ErrBadDocument, err)
	}
	if !bytes.Equal(compact.Bytes(), env.Payload) {
		return Doc{}, fmt.Errorf("%w: payload is not in canonical (compact) form", ErrBadSignature)
	}
	canon, err := marshalCompact(env)
	if err != nil || !bytes.Equal(canon, body) {
		return Doc{}, fmt.Errorf("%w: document is not in canonical form (changed)", ErrBadSignature)
	}
	if !ed25519.Verify(pub, signedBytes(env.Kind, env.Payload), sig) {
		return Doc{}, fmt.Errorf("%w: ed25519 signature does not verify", ErrBadSignature)
	}
	return Doc{Kind: env.Kind, Payload: env.Payload, PublicKey: pub}, nil
}

// decodePayload strictly decodes a verified payload and checks that it
// names the key that signed it.
func decodePayload(d Doc, v any, named func() string) error {
	dec := json.NewDecoder(bytes.NewReader(d.Payload))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		return fmt.Errorf("%w: %s payload: %v", ErrBadDocument, d.Kind, err)
	}
	if named() != b64.EncodeToString(d.PublicKey) {
		return fmt.Errorf("%w: the payload names device key %q but the document is signed by %s", ErrWrongDevice, named(), KeyID(d.PublicKey))
	}
	return nil
}

// EncodeKey is the form of a public key in documents (standard base64).
func EncodeKey(pub ed25519.PublicKey) string { return b64.EncodeToString(pub) }

// KeyID is a short printable fingerprint of a public key: the first 16 hex
// digits of SHA-256 of the key.
func KeyID(pub []byte) string {
	s := sha256Sum(pub)
	return fmt.Sprintf("%x", s[:8])
}
