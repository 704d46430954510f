package web

import (
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"fmt"
	"sync"
	"time"
)

const (
	sessionCookie   = "edgerec_session"
	sessionIdle     = 15 * time.Minute
	sessionAbsolute = 8 * time.Hour
	// maxSessions bounds memory; the oldest session is dropped beyond it.
	maxSessions = 64
)

type session struct {
	who      principal
	created  time.Time
	lastSeen time.Time
}

// sessions is the in-memory session store. Tokens are 32 random bytes,
// base64url without padding; the store keys sessions by the SHA-256 of the
// token, so it never holds a usable token and lookups do not compare secrets.
// Sessions end at restart, which also mints a new setup credential.
type sessions struct {
	mu   sync.Mutex
	now  func() time.Time
	byID map[[sha256.Size]byte]*session
}

func newSessions(now func() time.Time) *sessions {
	return &sessions{now: now, byID: make(map[[sha256.Size]byte]*session)}
}

func tokenKey(token string) [sha256.Size]byte { return sha256.Sum256([]byte(token)) }

// create starts a session for p and returns its token.
func (s *sessions) create(p principal) (string, error) {
	var raw [32]byte
	if _, err := rand.Read(raw[:]); err != nil {
		return "", fmt.Errorf("web: session token: %w", err)
	}
	token := base64.RawURLEncoding.EncodeToString(raw[:])
	now := s.now()
	s.mu.Lock()
	defer s.mu.Unlock()
	s.pruneLocked(now)
	for len(s.byID) >= maxSessions {
		var oldest [sha256.Size]byte
		var oldestT time.Time
		first := true
		for k, v := range s.byID {
			if first || v.lastSeen.Before(oldestT) {
				oldest, oldestT, first = k, v.lastSeen, false
			}
		}
		delete(s.byID, oldest)
	}
	s.byID[tokenKey(token)] = &session{who: p, created: now, lastSeen: now}
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
		delete(s.byID, k)
		return principal{}, false
	}
	ss.lastSeen = now
	return ss.who, true
}

// remove ends a session (logout).
func (s *sessions) remove(token string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	delete(s.byID, tokenKey(token))
}

func expired(ss *session, now time.Time) bool {
	return now.Sub(ss.lastSeen) >= sessionIdle || now.Sub(ss.created) >= sessionAbsolute
}

func (s *sessions) pruneLocked(now time.Time) {
	for k, v := range s.byID {
		if expired(v, now) {
			delete(s.byID, k)
		}
	}
}

// removeUser ends every session of user id (account gone or disabled).
func (s *sessions) removeUser(id string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for k, v := range s.byID {
		if v.who.ID == id {
			delete(s.byID, k)
		}
	}
}
