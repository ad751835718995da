package proxy

import (
	"strings"
	"sync"
	"time"
)

// SessionRef names what a session logged in with, so that revoking it can end
// the session. Empty fields match nothing.
type SessionRef struct {
	CredentialID string // an app password or FAST token
	GrantID      string // the IdP grant the credential hangs off
}

func (r SessionRef) keys() []string {
	var k []string
	if r.CredentialID != "" {
		k = append(k, "cred:"+r.CredentialID)
	}
	if r.GrantID != "" {
		k = append(k, "grant:"+r.GrantID)
	}
	return k
}

// liveSessions indexes relayed sessions by the credential and grant they
// logged in with. Its zero value is ready to use.
type liveSessions struct {
	mu    sync.Mutex
	byKey map[string]map[*relay]struct{}
	// ended remembers revoked keys for a while: a login whose credential was
	// checked before the revocation but registers after it must end too.
	ended map[string]tombstone
}

type tombstone struct {
	why   string
	until time.Time
}

// tombstoneLifetime outlasts any login in flight (the pre-auth phase is
// bounded by limits.pre_auth_timeout, far less).
const tombstoneLifetime = 10 * time.Minute

// add indexes r under keys; when one of them was revoked lately it returns
// the reason, and r must end.
func (l *liveSessions) add(r *relay, keys []string) (revokedWhy string, revoked bool) {
	if len(keys) == 0 {
		return "", false
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.byKey == nil {
		l.byKey = map[string]map[*relay]struct{}{}
	}
	now := time.Now()
	for _, k := range keys {
		if t, ok := l.ended[k]; ok && now.Before(t.until) {
			revokedWhy, revoked = t.why, true
		}
	}
	for _, k := range keys {
		set := l.byKey[k]
		if set == nil {
			set = map[*relay]struct{}{}
			l.byKey[k] = set
		}
		set[r] = struct{}{}
	}
	return revokedWhy, revoked
}

// bury records keys as revoked and forgets those whose time is up.
func (l *liveSessions) bury(keys []string, why string) {
	l.mu.Lock()
	defer l.mu.Unlock()
	now := time.Now()
	for k, t := range l.ended {
		if !now.Before(t.until) {
			delete(l.ended, k)
		}
	}
	if l.ended == nil {
		l.ended = map[string]tombstone{}
	}
	for _, k := range keys {
		l.ended[k] = tombstone{why: why, until: now.Add(tombstoneLifetime)}
	}
}

func (l *liveSessions) remove(r *relay, keys []string) {
	if len(keys) == 0 {
		return
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	for _, k := range keys {
		if set := l.byKey[k]; set != nil {
			delete(set, r)
			if len(set) == 0 {
				delete(l.byKey, k)
			}
		}
	}
}

// matching returns the sessions indexed under any of keys.
func (l *liveSessions) matching(keys []string) []*relay {
	l.mu.Lock()
	defer l.mu.Unlock()
	seen := map[*relay]struct{}{}
	var out []*relay
	for _, k := range keys {
		for r := range l.byKey[k] {
			if _, dup := seen[r]; !dup {
				seen[r] = struct{}{}
				out = append(out, r)
			}
		}
	}
	return out
}

// EndSessions ends every relayed session that logged in with ref's credential
// or grant: the client gets a not-authorized stream error carrying text (what
// a client shows the user), the upstream a clean end of stream, so that no
// stream-management session lingers to be resumed. It returns how many ended.
func (s *Server) EndSessions(ref SessionRef, text string) int {
	s.live.bury(ref.keys(), text)
	ended := 0
	for _, r := range s.live.matching(ref.keys()) {
		if r.revoke(text) {
			ended++
		}
	}
	if ended > 0 {
		s.cfg.Observer.Revoked(ended)
		s.log.Info().Str("credential", ref.CredentialID).Str("grant", ref.GrantID).Int("sessions", ended).
			Str("why", text).Msg("sessions ended: credential revoked")
	}
	return ended
}

// LiveCredentials lists the credential ids that relayed sessions logged in
// with, each once: after missed revocation events the caller asks the store
// which of them are gone and ends those sessions.
func (s *Server) LiveCredentials() []string {
	s.live.mu.Lock()
	defer s.live.mu.Unlock()
	var ids []string
	for k := range s.live.byKey {
		if id, ok := strings.CutPrefix(k, "cred:"); ok {
			ids = append(ids, id)
		}
	}
	return ids
}
