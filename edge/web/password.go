package web

import (
	"crypto/rand"
	"crypto/subtle"
	"encoding/base64"
	"errors"
	"fmt"
	"strings"

	"golang.org/x/crypto/argon2"
)

// argonParams are the argon2id cost parameters; they are recorded with every
// hash so that a stored hash stays verifiable when the defaults change.
type argonParams struct {
	Time    uint32 // passes
	Memory  uint32 // KiB
	Threads uint8
	KeyLen  uint32
	SaltLen uint32
}

// defaultArgonParams follows the OWASP minimum for argon2id (19 MiB, t=2,
// p=1). A Pi 4 needs a few hundred milliseconds for one check; logins are
// serialised (see Server.hashSem) so parallel attempts cannot exhaust memory.
func defaultArgonParams() argonParams {
	return argonParams{Time: 2, Memory: 19 * 1024, Threads: 1, KeyLen: 32, SaltLen: 16}
}

// passwordHash is an argon2id hash with its parameters and salt.
type passwordHash struct {
	params argonParams
	salt   []byte
	key    []byte
}

var errBadHash = errors.New("web: malformed password hash")

func hashPassword(password []byte, p argonParams) (passwordHash, error) {
	salt := make([]byte, p.SaltLen)
	if _, err := rand.Read(salt); err != nil {
		return passwordHash{}, fmt.Errorf("web: password salt: %w", err)
	}
	key := argon2.IDKey(password, salt, p.Time, p.Memory, p.Threads, p.KeyLen)
	return passwordHash{params: p, salt: salt, key: key}, nil
}

// verify reports in constant time (for a given hash) whether password matches.
func (h passwordHash) verify(password []byte) bool {
	if len(h.key) == 0 {
		return false
	}
	got := argon2.IDKey(password, h.salt, h.params.Time, h.params.Memory, h.params.Threads, uint32(len(h.key)))
	return subtle.ConstantTimeCompare(got, h.key) == 1
}

// String returns the PHC string form:
// $argon2id$v=19$m=19456,t=2,p=1$<salt b64>$<key b64>.
func (h passwordHash) String() string {
	b64 := base64.RawStdEncoding
	return fmt.Sprintf("$argon2id$v=%d$m=%d,t=%d,p=%d$%s$%s", argon2.Version,
		h.params.Memory, h.params.Time, h.params.Threads, b64.EncodeToString(h.salt), b64.EncodeToString(h.key))
}

// parsePasswordHash reads the PHC string form written by String.
func parsePasswordHash(s string) (passwordHash, error) {
	parts := strings.Split(s, "$")
	if len(parts) != 6 || parts[0] != "" || parts[1] != "argon2id" {
		return passwordHash{}, errBadHash
	}
	var v int
	if _, err := fmt.Sscanf(parts[2], "v=%d", &v); err != nil || v != argon2.Version {
		return passwordHash{}, errBadHash
	}
	var p argonParams
	if n, err := fmt.Sscanf(parts[3], "m=%d,t=%d,p=%d", &p.Memory, &p.Time, &p.Threads); err != nil || n != 3 ||
		p.Memory < 8 || p.Time < 1 || p.Threads < 1 || p.Memory > 1<<22 || p.Time > 64 {
		return passwordHash{}, errBadHash
	}
	b64 := base64.RawStdEncoding
	salt, err := b64.DecodeString(parts[4])
	if err != nil || len(salt) < 8 {
		return passwordHash{}, errBadHash
	}
	key, err := b64.DecodeString(parts[5])
	if err != nil || len(key) < 16 || len(key) > 64 {
		return passwordHash{}, errBadHash
	}
	p.SaltLen, p.KeyLen = uint32(len(salt)), uint32(len(key))
	return passwordHash{params: p, salt: salt, key: key}, nil
}

// credentialAlphabet is Crockford's base32 in lower case: no i, l, o or u, so
// a technician copying from a console cannot confuse 1/l or 0/o.
const credentialAlphabet = "0123456789abcdefghjkmnpqrstvwxyz"

// newCredential returns 20 random symbols (100 bits) grouped by four with
// dashes, e.g. "k3f9-2mzq-…".
func newCredential() ([]byte, error) {
	raw := make([]byte, 20)
	if _, err := rand.Read(raw); err != nil {
		return nil, fmt.Errorf("web: setup credential: %w", err)
	}
	out := make([]byte, 0, 24)
	for i, b := range raw {
		if i > 0 && i%4 == 0 {
			out = append(out, '-')
		}
		out = append(out, credentialAlphabet[b&31])
	}
	clear(raw)
	return out, nil
}
