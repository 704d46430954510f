package web

import (
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/edgerec/edgerec/policy"
)

const (
	sessionCookie   = "edgerec_session"
	sessionIdle     = 15 * time.Minute
	sessionAbsolute = 8 * time.Hour
	// maxSessions bounds memory. When the device is full a new login is
	// refused (errSessionsFull, 503); nobody else's session is evicted.
	maxSessions = 64
	// maxSessionsPerUser bounds one user's sessions: a further login of
	// that user ends that user's least recently used session, nobody
	// else's.
	maxSessionsPerUser = 4
	// endedKeep is how long the reason a session ended is remembered (for
	// the audit record of the live views it closes).
	endedKeep = 2 * time.Minute
)

// errSessionsFull: the device holds maxSessions sessions of other users.
var errSessionsFull = errors.New("the device has too many signed-in sessions; try again later or ask someone to sign out")

type session struct {
	who      principal // who.session is ref
	ref      string    // random handle naming the session to its live views; not a credential
	created  time.Time
	lastSeen time.Time
}

// endNote is why a session ended and who ended it ("system" or the user).
type endNote struct {
	why, actor string
	at         time.Time
}

// sessions is the in-memory session store. Tokens are 32 random bytes,
// base64url without padding; the store keys sessions by the SHA-256 of the
// token, so it never holds a usable token and lookups do not compare secrets.
// Sessions end at restart, which also mints a new setup credential.
type sessions struct {
	mu    sync.Mutex
	now   func() time.Time
	byID  map[[sha256.Size]byte]*session
	ended map[string]endNote // by ref, kept endedKeep
}

func newSessions(now func() time.Time) *sessions {
	return &sessions{now: now, byID: make(map[[sha256.Size]byte]*session), ended: make(map[string]endNote)}
}

func tokenKey(token string) [sha256.Size]byte { return sha256.Sum256([]byte(token)) }

// create starts a session for p and returns its token. Beyond
// maxSessionsPerUser it ends p's own least recently used session; when the
// device holds maxSessions it returns errSessionsFull.
func (s *sessions) create(p principal) (string, error) {
	var raw [32]byte
	if _, err := rand.Read(raw[:]); err != nil {
		return "", fmt.Errorf("web: session token: %w", err)
	}
	var rb [12]byte
	if _, err := rand.Read(rb[:]); err != nil {
		return "", fmt.Errorf("web: session ref: %w", err)
	}
	token := base64.RawURLEncoding.EncodeToString(raw[:])
	ref := hex.EncodeToString(rb[:])
	now := s.now()
	s.mu.Lock()
	defer s.mu.Unlock()
	s.pruneLocked(now)
	for {
		var oldest [sha256.Size]byte
		var oldestT time.Time
		n := 0
		for k, v := range s.byID {
			if v.who.ID != p.ID {
				continue
			}
			if n == 0 || v.lastSeen.Before(oldestT) {
				oldest, oldestT = k, v.lastSeen
			}
			n++
		}
		if n < maxSessionsPerUser {
			break
		}
		s.endLocked(oldest, endNote{why: "session replaced by a newer login of the same user", actor: policy.ActorSystem}, now)
	}
	if len(s.byID) >= maxSessions {
		return "", errSessionsFull
	}
	p.session = ref
	s.byID[tokenKey(token)] = &session{who: p, ref: ref, created: now, lastSeen: now}
	return token, nil
}

// lookup returns the principal of a live session and refreshes its idle
// timer. Expired sessions are removed.
func (s *sessions) lookup(token string) (principal, bool) {
	if len(token) != base64.RawURLEncoding.EncodedLen(32) {
		return principal{}, false
	}
	now := s.now()
	k := tokenKey(token)
	s.mu.Lock()
	defer s.mu.Unlock()
	ss, ok := s.byID[k]
	if !ok {
		return principal{}, false
	}
	if expired(ss, now) {
		s.endLocked(k, endNote{why: "session expired", actor: policy.ActorSystem}, now)
		return principal{}, false
	}
	ss.lastSeen = now
	return ss.who, true
}

// alive reports whether the session named ref is still valid, without
// refreshing it (a running live view is not activity). When it is not, the
// note says why it ended.
func (s *sessions) alive(ref string) (bool, endNote) {
	now := s.now()
	s.mu.Lock()
	defer s.mu.Unlock()
	for k, v := range s.byID {
		if v.ref != ref {
			continue
		}
		if expired(v, now) {
			s.endLocked(k, endNote{why: "session expired", actor: policy.ActorSystem}, now)
			break
		}
		return true, endNote{}
	}
	if n, ok := s.ended[ref]; ok {
		return false, n
	}
	return false, endNote{why: "session ended", actor: policy.ActorSystem}
}

// remove ends the session of token (logout), noting why and who.
func (s *sessions) remove(token, why, actor string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.endLocked(tokenKey(token), endNote{why: why, actor: actor}, s.now())
}

func expired(ss *session, now time.Time) bool {
	return now.Sub(ss.lastSeen) >= sessionIdle || now.Sub(ss.created) >= sessionAbsolute
}

func (s *sessions) pruneLocked(now time.Time) {
	for k, v := range s.byID {
		if expired(v, now) {
			s.endLocked(k, endNote{why: "session expired", actor: policy.ActorSystem}, now)
		}
	}
	for ref, n := range s.ended {
		if now.Sub(n.at) > endedKeep {
			delete(s.ended, ref)
		}
	}
}

func (s *sessions) endLocked(k [sha256.Size]byte, n endNote, now time.Time) {
	v, ok := s.byID[k]
	if !ok {
		return
	}
	delete(s.byID, k)
	n.at = now
	s.ended[v.ref] = n
}

// removeUser ends every session of user id (account gone or disabled,
// password reset, role revoked), noting why.
func (s *sessions) removeUser(id, why string) {
	s.removeUserExcept(id, "", why, policy.ActorSystem)
}

// removeUserExcept ends every session of user id but the one named keep
// (own password change).
func (s *sessions) removeUserExcept(id, keep, why, actor string) {
	now := s.now()
	s.mu.Lock()
	defer s.mu.Unlock()
	for k, v := range s.byID {
		if v.who.ID == id && (keep == "" || v.ref != keep) {
			s.endLocked(k, endNote{why: why, actor: actor}, now)
		}
	}
}
