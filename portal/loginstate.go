package portal

import (
	"crypto/aes"
	"crypto/cipher"
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"errors"
	"sync"
	"time"

	"github.com/xmpp-oauth-proxy/xmpp-oauth-proxy/oauthx"
)

// loginTTL bounds how long a sign-in at the IdP may take.
const loginTTL = 10 * time.Minute

const loginCookie = "portal_login"

// loginState is what the browser carries from /login to /callback: sealed
// (AES-GCM under a key that never leaves the process), so it can be neither
// read nor forged, and it expires.
type loginState struct {
	State    string    `json:"s"`
	Nonce    string    `json:"n"`
	Verifier string    `json:"v"`
	Expires  time.Time `json:"e"`
}

type sealer struct{ aead cipher.AEAD }

func newSealer() *sealer {
	key := make([]byte, 32)
	rand.Read(key)
	block, _ := aes.NewCipher(key)
	aead, _ := cipher.NewGCM(block)
	return &sealer{aead}
}

func (s *sealer) seal(ls loginState) string {
	plain, _ := json.Marshal(ls)
	nonce := make([]byte, s.aead.NonceSize())
	rand.Read(nonce)
	return base64.RawURLEncoding.EncodeToString(s.aead.Seal(nonce, nonce, plain, []byte(loginCookie)))
}

var errBadLoginState = errors.New("sign-in state missing, forged or expired")

func (s *sealer) open(value string, now time.Time) (loginState, error) {
	raw, err := base64.RawURLEncoding.DecodeString(value)
	if err != nil || len(raw) < s.aead.NonceSize() {
		return loginState{}, errBadLoginState
	}
	plain, err := s.aead.Open(nil, raw[:s.aead.NonceSize()], raw[s.aead.NonceSize():], []byte(loginCookie))
	if err != nil {
		return loginState{}, errBadLoginState
	}
	var ls loginState
	if json.Unmarshal(plain, &ls) != nil || ls.State == "" || !now.Before(ls.Expires) {
		return loginState{}, errBadLoginState
	}
	return ls, nil
}

func (ls loginState) request(redirectURL string) oauthx.AuthRequest {
	return oauthx.AuthRequest{State: ls.State, Nonce: ls.Nonce, Verifier: ls.Verifier, RedirectURL: redirectURL}
}

// usedStates remembers states already taken to the IdP until they expire,
// so a replayed callback is refused even by a browser that kept the cookie.
type usedStates struct {
	mu   sync.Mutex
	seen map[string]time.Time
	max  int
}

// take marks state used; false if it was used before, or if the set is
// full of unexpired states (a flood of sign-ins: refuse, do not forget).
func (u *usedStates) take(state string, expires, now time.Time) bool {
	u.mu.Lock()
	defer u.mu.Unlock()
	if _, ok := u.seen[state]; ok {
		return false
	}
	if len(u.seen) >= u.max {
		for s, exp := range u.seen {
			if !now.Before(exp) {
				delete(u.seen, s)
			}
		}
		if len(u.seen) >= u.max {
			return false
		}
	}
	u.seen[state] = expires
	return true
}
