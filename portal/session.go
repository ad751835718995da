package portal

import (
	"crypto/rand"
	"encoding/base64"
	"net/http"
	"sync"
	"time"

	"github.com/xmpp-oauth-proxy/xmpp-oauth-proxy/credstore"
)

// session is one signed-in browser. It lives in memory only.
type session struct {
	id    string
	csrf  string
	owner credstore.Owner
	// refreshToken is the sign-in's; the first app password makes a grant
	// of it, later ones of this sign-in join that grant (grantID), so one
	// rotating refresh token is never stored twice.
	refreshToken string
	grantID      string
	// creating serialises app-password creation within the session, so two
	// quick submits cannot both make a grant of the one refresh token.
	creating *sync.Mutex

	created, lastSeen time.Time
}

// sessions is a bounded, expiring map of sessions by id.
type sessions struct {
	mu             sync.Mutex
	byID           map[string]*session
	max            int
	idle, lifetime time.Duration
	now            func() time.Time
}

func newSessions(max int, idle, lifetime time.Duration, now func() time.Time) *sessions {
	return &sessions{byID: map[string]*session{}, max: max, idle: idle, lifetime: lifetime, now: now}
}

// create starts a session; when full, expired sessions go first, then the
// least recently seen.
func (s *sessions) create(owner credstore.Owner, refreshToken string) *session {
	now := s.now()
	sess := &session{id: randomToken(), csrf: randomToken(), owner: owner, refreshToken: refreshToken,
		creating: new(sync.Mutex), created: now, lastSeen: now}
	s.mu.Lock()
	defer s.mu.Unlock()
	if len(s.byID) >= s.max {
		var oldest *session
		for id, x := range s.byID {
			if s.expired(x, now) {
				delete(s.byID, id)
			} else if oldest == nil || x.lastSeen.Before(oldest.lastSeen) {
				oldest = x
			}
		}
		if len(s.byID) >= s.max && oldest != nil {
			delete(s.byID, oldest.id)
		}
	}
	s.byID[sess.id] = sess
	return sess
}

// get returns a live session and marks it seen; a copy, so handlers read
// it without the lock.
func (s *sessions) get(id string) (session, bool) {
	now := s.now()
	s.mu.Lock()
	defer s.mu.Unlock()
	x, ok := s.byID[id]
	if !ok {
		return session{}, false
	}
	if s.expired(x, now) {
		delete(s.byID, id)
		return session{}, false
	}
	x.lastSeen = now
	return *x, true
}

// grantOf is the grant the session's first app password created, if any.
func (s *sessions) grantOf(id string) string {
	s.mu.Lock()
	defer s.mu.Unlock()
	if x, ok := s.byID[id]; ok {
		return x.grantID
	}
	return ""
}

// setGrant records the grant the session's first app password created.
func (s *sessions) setGrant(id, grantID string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if x, ok := s.byID[id]; ok {
		x.grantID = grantID
	}
}

func (s *sessions) delete(id string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	delete(s.byID, id)
}

func (s *sessions) expired(x *session, now time.Time) bool {
	return now.Sub(x.lastSeen) >= s.idle || now.Sub(x.created) >= s.lifetime
}

// randomToken is 256 random bits, URL-safe.
func randomToken() string {
	b := make([]byte, 32)
	rand.Read(b)
	return base64.RawURLEncoding.EncodeToString(b)
}

// cookie builds one of our cookies: HttpOnly, SameSite=Lax, Secure over
// https. maxAge < 0 deletes it.
func (h *Handler) cookie(name, value, path string, maxAge int) *http.Cookie {
	return &http.Cookie{
		Name: name, Value: value, Path: path, MaxAge: maxAge,
		HttpOnly: true, Secure: h.cfg.secure(), SameSite: http.SameSiteLaxMode,
	}
}

const sessionCookie = "portal_session"

// currentSession is the request's live session, if any.
func (h *Handler) currentSession(r *http.Request) (session, bool) {
	c, err := r.Cookie(sessionCookie)
	if err != nil || c.Value == "" {
		return session{}, false
	}
	return h.sessions.get(c.Value)
}
