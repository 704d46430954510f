package keys

import (
	"context"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"github.com/edgerec/edgerec/hal/fsutil"
	"io/fs"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"time"

	"golang.org/x/crypto/chacha20poly1305"
)

// Errors returned by this package; match with errors.Is.
var (
	// ErrErased means the key was destroyed (cryptographic erase) or never
	// existed.
	ErrErased = errors.New("key erased")
	// ErrWrongKey means a root key does not match the store it is used with,
	// or a wrapped key does not unwrap under the given key.
	ErrWrongKey = errors.New("wrong key")
	// ErrCorrupt means a key file does not parse.
	ErrCorrupt = errors.New("corrupt key file")
	// ErrExists means a key file that must be new already exists.
	ErrExists = errors.New("key file exists")
)

// Size is the size of every key in the hierarchy.
const Size = 32

// RootProvider holds the device root key. The file provider is the only one
// today; a TPM 2.0 provider (sealed object or NV index) fits the same shape.
type RootProvider interface {
	// Load returns the root key. Callers keep it in memory only and never
	// log it.
	Load(ctx context.Context) ([]byte, error)
	// Destroy makes the root key unrecoverable through this provider (see
	// the threat model in the package doc for what that means on flash).
	Destroy(ctx context.Context) error
}

// NewKey returns a fresh random key.
func NewKey() ([]byte, error) {
	k := make([]byte, Size)
	if _, err := rand.Read(k); err != nil {
		return nil, fmt.Errorf("keys: random: %w", err)
	}
	return k, nil
}

func derive(root []byte, label string) []byte {
	m := hmac.New(sha256.New, root)
	m.Write([]byte("edgerec/v1/" + label))
	return m.Sum(nil)
}

// KCV is the key check value of root for the ring ringID. It is stored in the
// ring header so a wrong root key is detected before anything is written.
func KCV(root []byte, ringID [16]byte) [32]byte {
	return [32]byte(derive(root, "kcv/"+hex.EncodeToString(ringID[:])))
}

// CheckKCV compares in constant time.
func CheckKCV(root []byte, ringID [16]byte, kcv [32]byte) error {
	want := KCV(root, ringID)
	if subtle.ConstantTimeCompare(want[:], kcv[:]) != 1 {
		return fmt.Errorf("%w: the root key does not match this ring", ErrWrongKey)
	}
	return nil
}

// Wrap seals key under kek with XChaCha20-Poly1305 and a random nonce; aad
// binds the wrapped key to its use (which segment, epoch or hold).
func Wrap(kek, key, aad []byte) ([]byte, error) {
	a, err := chacha20poly1305.NewX(kek)
	if err != nil {
		return nil, fmt.Errorf("keys: wrap: %w", err)
	}
	n := make([]byte, a.NonceSize(), a.NonceSize()+len(key)+a.Overhead())
	if _, err := rand.Read(n); err != nil {
		return nil, fmt.Errorf("keys: random: %w", err)
	}
	return a.Seal(n, n, key, aad), nil
}

// Unwrap reverses Wrap.
func Unwrap(kek, wrapped, aad []byte) ([]byte, error) {
	a, err := chacha20poly1305.NewX(kek)
	if err != nil {
		return nil, fmt.Errorf("keys: unwrap: %w", err)
	}
	if len(wrapped) != a.NonceSize()+Size+a.Overhead() {
		return nil, fmt.Errorf("%w: wrapped key is %d bytes", ErrCorrupt, len(wrapped))
	}
	k, err := a.Open(nil, wrapped[:a.NonceSize()], wrapped[a.NonceSize():], aad)
	if err != nil {
		return nil, fmt.Errorf("%w: unwrap failed", ErrWrongKey)
	}
	return k, nil
}

// SegmentAAD is the associated data binding a wrapped segment key to its
// segment id.
func SegmentAAD(segID uint64) []byte {
	b := []byte("edgerec/v1/segment/")
	return binary.LittleEndian.AppendUint64(b, segID)
}

// EpochID names an epoch key: one camera, one UTC day, and a generation (a
// day whose key was erased and that receives footage again gets a new
// generation, never the old key back).
type EpochID struct {
	Camera string
	Day    string // "2006-01-02", UTC
	Gen    uint32
}

// DayOf returns the UTC day of t in EpochID form.
func DayOf(t time.Time) string { return t.UTC().Format(time.DateOnly) }

func (e EpochID) String() string { return e.Camera + "/" + e.Day + "#" + strconv.Itoa(int(e.Gen)) }

// Store is the key store of one data directory: epoch keys and hold keys,
// each in its own small file, wrapped by a key derived from the root key.
// It keeps unwrapped keys in memory while the store is open.
type Store struct {
	dir     string
	kek     []byte
	nameKey []byte
	ro      bool

	mu    sync.Mutex
	cache map[string][]byte
}

const (
	epochDir = "epochs"
	holdDir  = "holds"
	fileMag  = "EDGEKEY1"
)

// Open returns the key store under dir (created 0700 if missing unless
// readOnly) for root.
func Open(dir string, root []byte, readOnly bool) (*Store, error) {
	if len(root) != Size {
		return nil, fmt.Errorf("%w: root key is %d bytes", ErrCorrupt, len(root))
	}
	if !readOnly {
		for _, d := range []string{dir, filepath.Join(dir, epochDir), filepath.Join(dir, holdDir)} {
			if err := os.MkdirAll(d, 0o700); err != nil {
				return nil, fmt.Errorf("keys: %w", err)
			}
		}
	}
	return &Store{dir: dir, kek: derive(root, "kek"), nameKey: derive(root, "names"), ro: readOnly, cache: map[string][]byte{}}, nil
}

func (s *Store) epochPath(id EpochID) string {
	m := hmac.New(sha256.New, s.nameKey)
	m.Write([]byte(id.Camera))
	// Camera ids are confidential (R19): the file name carries a keyed hash.
	return filepath.Join(s.dir, epochDir, fmt.Sprintf("%x-%s-%d.key", m.Sum(nil)[:12], id.Day, id.Gen))
}

func (s *Store) holdPath(id uint64) string {
	return filepath.Join(s.dir, holdDir, fmt.Sprintf("%016x.key", id))
}

func epochAAD(id EpochID) []byte {
	return []byte("edgerec/v1/epoch/" + id.Camera + "\x00" + id.Day + "\x00" + strconv.Itoa(int(id.Gen)))
}

func holdAAD(id uint64) []byte {
	return binary.LittleEndian.AppendUint64([]byte("edgerec/v1/hold/"), id)
}

// EpochKey returns the key of epoch id. With create, a missing key is made
// (written atomically and durably before it is returned); without, a missing
// key is ErrErased.
func (s *Store) EpochKey(id EpochID, create bool) ([]byte, error) {
	return s.key("e/"+id.String(), s.epochPath(id), epochAAD(id), create)
}

// HoldKey returns the key of hold id (see EpochKey for create).
func (s *Store) HoldKey(id uint64, create bool) ([]byte, error) {
	return s.key("h/"+strconv.FormatUint(id, 10), s.holdPath(id), holdAAD(id), create)
}

// EraseEpoch destroys the key of epoch id. Erasing a missing key is not an
// error (erase is idempotent so that an interrupted retention run can be
// repeated).
func (s *Store) EraseEpoch(id EpochID) error {
	return s.erase("e/"+id.String(), s.epochPath(id))
}

// EraseHold destroys the key of hold id.
func (s *Store) EraseHold(id uint64) error {
	return s.erase("h/"+strconv.FormatUint(id, 10), s.holdPath(id))
}

// EpochExists reports whether the key file of id exists.
func (s *Store) EpochExists(id EpochID) bool {
	_, err := os.Stat(s.epochPath(id))
	return err == nil
}

// HoldExists reports whether the key file of hold id exists.
func (s *Store) HoldExists(id uint64) bool {
	_, err := os.Stat(s.holdPath(id))
	return err == nil
}

func (s *Store) key(cacheKey, path string, aad []byte, create bool) ([]byte, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if k, ok := s.cache[cacheKey]; ok {
		return k, nil
	}
	b, err := os.ReadFile(path)
	switch {
	case err == nil:
		k, err := parseKeyFile(s.kek, b, aad)
		if err != nil {
			return nil, fmt.Errorf("keys: %s: %w", filepath.Base(path), err)
		}
		s.cache[cacheKey] = k
		return k, nil
	case errors.Is(err, fs.ErrNotExist) && create:
	case errors.Is(err, fs.ErrNotExist):
		return nil, ErrErased
	default:
		return nil, fmt.Errorf("keys: %w", err)
	}
	k, err := NewKey()
	if err != nil {
		return nil, err
	}
	w, err := Wrap(s.kek, k, aad)
	if err != nil {
		return nil, err
	}
	if err := WriteFileAtomic(path, append([]byte(fileMag), w...), 0o600); err != nil {
		return nil, fmt.Errorf("keys: %w", err)
	}
	s.cache[cacheKey] = k
	return k, nil
}

// parseKeyFile unwraps the contents of an epoch or hold key file.
func parseKeyFile(kek, b, aad []byte) ([]byte, error) {
	if len(b) < len(fileMag) || string(b[:len(fileMag)]) != fileMag {
		return nil, fmt.Errorf("%w: bad magic", ErrCorrupt)
	}
	return Unwrap(kek, b[len(fileMag):], aad)
}

func (s *Store) erase(cacheKey, path string) error {
	s.mu.Lock()
	if k, ok := s.cache[cacheKey]; ok {
		clear(k)
		delete(s.cache, cacheKey)
	}
	s.mu.Unlock()
	return DestroyFile(path)
}

// Close forgets every cached key (best effort: Go cannot guarantee that no
// copy of a key remains in memory).
func (s *Store) Close() {
	s.mu.Lock()
	defer s.mu.Unlock()
	for n, k := range s.cache {
		clear(k)
		delete(s.cache, n)
	}
	clear(s.kek)
	clear(s.nameKey)
}

// Wipe destroys every epoch and hold key file under dir. It does not need the
// root key. Call it after the root key was destroyed.
func Wipe(dir string) error {
	var errs []error
	for _, sub := range []string{epochDir, holdDir} {
		ents, err := os.ReadDir(filepath.Join(dir, sub))
		if err != nil && !errors.Is(err, fs.ErrNotExist) {
			errs = append(errs, err)
			continue
		}
		for _, e := range ents {
			if strings.HasSuffix(e.Name(), ".key") {
				if err := DestroyFile(filepath.Join(dir, sub, e.Name())); err != nil {
					errs = append(errs, err)
				}
			}
		}
	}
	return errors.Join(errs...)
}

// DestroyFile overwrites path in place with random bytes, syncs, removes it
// and syncs its directory. The overwrite defeats readers of the file system
// and of the block device on non-copy-on-write file systems; it is NOT a
// guarantee on flash (see the package doc). A missing file is not an error.
func DestroyFile(path string) error {
	if err := fsutil.Destroy(path); err != nil {
		return fmt.Errorf("keys: %w", err)
	}
	return nil
}

// WriteFileAtomic writes data to path via a temporary file in the same
// directory (hal/fsutil.CreateFile: write, fsync, link, fsync the
// directory). It refuses to replace an existing file (ErrExists).
func WriteFileAtomic(path string, data []byte, mode os.FileMode) error {
	if _, err := os.Lstat(path); err == nil {
		return fmt.Errorf("%w: %s", ErrExists, path)
	}
	// Link, not rename: a concurrent creator of path makes this fail rather
	// than be silently replaced.
	if err := fsutil.CreateFile(path, data, mode); err != nil {
		if errors.Is(err, fs.ErrExist) {
			return fmt.Errorf("%w: %s", ErrExists, path)
		}
		return err
	}
	return nil
}
