package password

import (
	"crypto/rand"
	"crypto/subtle"
	"encoding/base64"
	"errors"
	"fmt"
	"log/slog"
	"strconv"
	"strings"

	"golang.org/x/crypto/argon2"
)

// Params are the argon2id cost parameters, recorded with every hash.
type Params struct {
	Time    uint32 // passes
	Memory  uint32 // KiB
	Threads uint8
	KeyLen  uint32
	SaltLen uint32
}

// Default returns the parameters new hashes use (see the package doc).
func Default() Params {
	return Params{Time: 2, Memory: 19 * 1024, Threads: 1, KeyLen: 32, SaltLen: 16}
}

// Bounds accepted by Parse and New.
const (
	maxMemory  = 1 << 20 // KiB (1 GiB)
	maxTime    = 64
	maxThreads = 16
)

// ErrMalformed is returned by Parse for anything but a well-formed argon2id
// PHC string with bounded parameters.
var ErrMalformed = errors.New("password: malformed hash")

// ErrParams is returned by New for parameters out of bounds.
var ErrParams = errors.New("password: parameters out of bounds")

// Validate checks p against the bounds.
func (p Params) Validate() error {
	switch {
	case p.Memory < 8*uint32(max(p.Threads, 1)) || p.Memory > maxMemory:
		return fmt.Errorf("%w: memory %d KiB", ErrParams, p.Memory)
	case p.Time < 1 || p.Time > maxTime:
		return fmt.Errorf("%w: time %d", ErrParams, p.Time)
	case p.Threads < 1 || p.Threads > maxThreads:
		return fmt.Errorf("%w: threads %d", ErrParams, p.Threads)
	case p.KeyLen < 16 || p.KeyLen > 64:
		return fmt.Errorf("%w: key length %d", ErrParams, p.KeyLen)
	case p.SaltLen < 8 || p.SaltLen > 64:
		return fmt.Errorf("%w: salt length %d", ErrParams, p.SaltLen)
	}
	return nil
}

// Hash is an argon2id hash with its parameters and salt.
type Hash struct {
	params Params
	salt   []byte
	key    []byte
}

// New hashes password with p and a fresh random salt.
func New(password []byte, p Params) (Hash, error) {
	if err := p.Validate(); err != nil {
		return Hash{}, err
	}
	salt := make([]byte, p.SaltLen)
	if _, err := rand.Read(salt); err != nil {
		return Hash{}, fmt.Errorf("password: salt: %w", err)
	}
	key := argon2.IDKey(password, salt, p.Time, p.Memory, p.Threads, p.KeyLen)
	return Hash{params: p, salt: salt, key: key}, nil
}

// Verify reports whether password matches. It always runs the KDF once
// with the hash's parameters and compares in constant time; the zero Hash
// never matches (but still costs nothing, so callers use a dummy hash made by
// New for unknown users).
func (h Hash) Verify(password []byte) bool {
	if len(h.key) == 0 {
		return false
	}
	got := argon2.IDKey(password, h.salt, h.params.Time, h.params.Memory, h.params.Threads, uint32(len(h.key)))
	return subtle.ConstantTimeCompare(got, h.key) == 1
}

// Params returns the parameters the hash was made with.
func (h Hash) Params() Params { return h.params }

// IsZero reports whether h is the zero Hash.
func (h Hash) IsZero() bool { return len(h.key) == 0 }

// NeedsRehash reports whether h was made with weaker parameters than p.
func (h Hash) NeedsRehash(p Params) bool {
	return h.params.Memory < p.Memory || h.params.Time < p.Time || uint32(len(h.key)) < p.KeyLen
}

// PHC returns the stored form ($argon2id$v=19$m=…,t=…,p=…$salt$key).
func (h Hash) PHC() string {
	if h.IsZero() {
		return ""
	}
	b64 := base64.RawStdEncoding
	return fmt.Sprintf("$argon2id$v=%d$m=%d,t=%d,p=%d$%s$%s", argon2.Version,
		h.params.Memory, h.params.Time, h.params.Threads, b64.EncodeToString(h.salt), b64.EncodeToString(h.key))
}

// String is for logs and never shows the hash.
func (h Hash) String() string { return "[redacted]" }

// LogValue keeps hashes out of slog output.
func (h Hash) LogValue() slog.Value { return slog.StringValue("[redacted]") }

// Parse reads the PHC form written by PHC (and by edge/web).
func Parse(s string) (Hash, error) {
	parts := strings.Split(s, "$")
	if len(parts) != 6 || parts[0] != "" || parts[1] != "argon2id" {
		return Hash{}, ErrMalformed
	}
	if parts[2] != "v="+strconv.Itoa(argon2.Version) {
		return Hash{}, ErrMalformed
	}
	var p Params
	kv := strings.Split(parts[3], ",")
	if len(kv) != 3 {
		return Hash{}, ErrMalformed
	}
	for i, name := range []string{"m=", "t=", "p="} {
		v, ok := strings.CutPrefix(kv[i], name)
		if !ok || v == "" || (len(v) > 1 && v[0] == '0') {
			return Hash{}, ErrMalformed
		}
		n, err := strconv.ParseUint(v, 10, 32)
		if err != nil {
			return Hash{}, ErrMalformed
		}
		switch i {
		case 0:
			p.Memory = uint32(n)
		case 1:
			p.Time = uint32(n)
		case 2:
			if n > maxThreads {
				return Hash{}, ErrMalformed
			}
			p.Threads = uint8(n)
		}
	}
	b64 := base64.RawStdEncoding.Strict()
	salt, err := b64.DecodeString(parts[4])
	if err != nil {
		return Hash{}, ErrMalformed
	}
	key, err := b64.DecodeString(parts[5])
	if err != nil {
		return Hash{}, ErrMalformed
	}
	// The decoder skips CR and LF; accept only the canonical form.
	if b64.EncodeToString(salt) != parts[4] || b64.EncodeToString(key) != parts[5] {
		return Hash{}, ErrMalformed
	}
	p.SaltLen, p.KeyLen = uint32(len(salt)), uint32(len(key))
	if err := p.Validate(); err != nil {
		return Hash{}, fmt.Errorf("%w: %w", ErrMalformed, err)
	}
	return Hash{params: p, salt: salt, key: key}, nil
}
