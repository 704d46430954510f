package rpiotp

import (
	"bytes"
	"crypto/hkdf"
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"errors"
	"fmt"

	"golang.org/x/crypto/chacha20poly1305"
)

// Wrapped-file errors; match with errors.Is.
var (
	// ErrCorrupt: the wrapped root key file does not parse or its
	// checksum does not match (damaged medium, truncated write, edits).
	ErrCorrupt = errors.New("rpiotp: corrupt wrapped root key file")
	// ErrVersion: the file is of a format version this build does not
	// know (written by a newer edgerec).
	ErrVersion = errors.New("rpiotp: unknown wrapped root key file version")
	// ErrOtherBoard: the file was wrapped on a board with another serial:
	// the medium was moved to (or copied onto) another board.
	ErrOtherBoard = errors.New("rpiotp: wrapped root key belongs to another board")
	// ErrWrongKey: the file is intact and names this board, but this
	// board's OTP key does not open it (the file was forged or made under
	// another OTP key).
	ErrWrongKey = errors.New("rpiotp: this board's OTP key does not open the wrapped root key")
)

// RootKeySize is the size of the root key that is wrapped.
const RootKeySize = 32

// KEKInfo is the HKDF info string of the key-encryption key.
const KEKInfo = "edgerec/v1/otp-kek"

// Wrapped root key file, version 1 (all sizes in bytes):
//
//	magic    15  "EDGEREC-OTPWRAP"
//	version   1  1
//	slen      1  length of the serial, 1..64
//	serial slen  board serial (Serial's form), ASCII hex
//	nonce    24  random XChaCha20-Poly1305 nonce
//	sealed   48  XChaCha20-Poly1305(KEK, nonce, root key, AAD)
//	sum      16  first 16 bytes of SHA-256(everything before)
//
// KEK = HKDF-SHA256(secret = OTP key, salt = none, info = KEKInfo, 32).
// AAD = "edgerec/v1/otp-wrapped-root-key" 0x00 header, where header is
// magic..serial: the use, the version and the board serial are
// authenticated. The checksum only tells damage (ErrCorrupt) from a wrong
// key (ErrWrongKey); the AEAD is what protects the key.
const (
	wrapMagic   = "EDGEREC-OTPWRAP"
	wrapVersion = 1
	wrapAADUse  = "edgerec/v1/otp-wrapped-root-key\x00"
	maxSerial   = 64
	nonceSize   = chacha20poly1305.NonceSizeX
	sealedSize  = RootKeySize + chacha20poly1305.Overhead
	sumSize     = 16
)

// WrappedInfo is what a wrapped file says in the clear.
type WrappedInfo struct {
	Version int
	Serial  string
}

func kek(otpKey []byte) ([]byte, error) {
	if len(otpKey) != KeySize || allZero(otpKey) {
		return nil, ErrBadKey
	}
	k, err := hkdf.Key(sha256.New, otpKey, nil, KEKInfo, chacha20poly1305.KeySize)
	if err != nil {
		return nil, fmt.Errorf("rpiotp: hkdf: %w", err)
	}
	return k, nil
}

func validSerial(s string) bool {
	if len(s) == 0 || len(s) > maxSerial {
		return false
	}
	for i := 0; i < len(s); i++ {
		if c := s[i]; c <= ' ' || c > '~' {
			return false
		}
	}
	return true
}

func wrapHeader(serial string) []byte {
	h := append([]byte(wrapMagic), wrapVersion, byte(len(serial)))
	return append(h, serial...)
}

// Wrap seals rootKey under the KEK derived from otpKey and binds it to the
// board serial; the result is the content of a wrapped root key file.
func Wrap(otpKey, rootKey []byte, serial string) ([]byte, error) {
	if len(rootKey) != RootKeySize {
		return nil, fmt.Errorf("rpiotp: root key is %d bytes, want %d", len(rootKey), RootKeySize)
	}
	if !validSerial(serial) {
		return nil, fmt.Errorf("rpiotp: invalid board serial %q", serial)
	}
	k, err := kek(otpKey)
	if err != nil {
		return nil, err
	}
	defer clear(k)
	a, err := chacha20poly1305.NewX(k)
	if err != nil {
		return nil, fmt.Errorf("rpiotp: wrap: %w", err)
	}
	hdr := wrapHeader(serial)
	out := bytes.Clone(hdr)
	nonce := make([]byte, nonceSize)
	if _, err := rand.Read(nonce); err != nil {
		return nil, fmt.Errorf("rpiotp: random: %w", err)
	}
	out = append(out, nonce...)
	out = a.Seal(out, nonce, rootKey, append([]byte(wrapAADUse), hdr...))
	sum := sha256.Sum256(out)
	return append(out, sum[:sumSize]...), nil
}

type wrapped struct {
	info   WrappedInfo
	hdr    []byte
	nonce  []byte
	sealed []byte
}

func parseWrapped(b []byte) (wrapped, error) {
	var w wrapped
	if len(b) < len(wrapMagic)+2 || string(b[:len(wrapMagic)]) != wrapMagic {
		return w, fmt.Errorf("%w: bad magic or too short (%d bytes)", ErrCorrupt, len(b))
	}
	w.info.Version = int(b[len(wrapMagic)])
	if w.info.Version != wrapVersion {
		return w, fmt.Errorf("%w: version %d (this build reads %d)", ErrVersion, w.info.Version, wrapVersion)
	}
	slen := int(b[len(wrapMagic)+1])
	hlen := len(wrapMagic) + 2 + slen
	if want := hlen + nonceSize + sealedSize + sumSize; len(b) != want {
		return w, fmt.Errorf("%w: %d bytes, want %d", ErrCorrupt, len(b), want)
	}
	body := b[:len(b)-sumSize]
	sum := sha256.Sum256(body)
	if subtle.ConstantTimeCompare(sum[:sumSize], b[len(body):]) != 1 {
		return w, fmt.Errorf("%w: checksum mismatch", ErrCorrupt)
	}
	w.info.Serial = string(b[len(wrapMagic)+2 : hlen])
	if !validSerial(w.info.Serial) {
		return w, fmt.Errorf("%w: invalid serial", ErrCorrupt)
	}
	w.hdr = b[:hlen]
	w.nonce = b[hlen : hlen+nonceSize]
	w.sealed = b[hlen+nonceSize : len(body)]
	return w, nil
}

// ParseWrapped reports what a wrapped root key file says in the clear
// (version and board serial), checking its structure and checksum.
func ParseWrapped(b []byte) (WrappedInfo, error) {
	w, err := parseWrapped(b)
	return w.info, err
}

// Unwrap opens a wrapped root key file on the board with serial and OTP
// key otpKey. Errors: ErrCorrupt/ErrVersion (the file), ErrOtherBoard (made
// on another board), ErrWrongKey (this board's OTP key does not open it).
func Unwrap(otpKey, file []byte, serial string) ([]byte, error) {
	w, err := parseWrapped(file)
	if err != nil {
		return nil, err
	}
	if w.info.Serial != serial {
		return nil, fmt.Errorf("%w: made on board %s, this is board %s", ErrOtherBoard, w.info.Serial, serial)
	}
	k, err := kek(otpKey)
	if err != nil {
		return nil, err
	}
	defer clear(k)
	a, err := chacha20poly1305.NewX(k)
	if err != nil {
		return nil, fmt.Errorf("rpiotp: unwrap: %w", err)
	}
	root, err := a.Open(nil, w.nonce, w.sealed, append([]byte(wrapAADUse), w.hdr...))
	if err != nil {
		return nil, ErrWrongKey
	}
	return root, nil
}
