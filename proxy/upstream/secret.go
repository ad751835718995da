package upstream

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"strings"
)

// managedPassword derives the upstream password of a managed account:
// base64url(HMAC-SHA256(key, lower-cased bare JID)), no padding. Deterministic, so
// the proxy needs no storage; rotating the key re-provisions every account on its
// next login. Lower-cased because the upstream folds case in JIDs: "Alice" and
// "alice" are one account and must not fight over its password.
func managedPassword(key []byte, bareJID string) string {
	m := hmac.New(sha256.New, key)
	m.Write([]byte(strings.ToLower(bareJID)))
	return base64.RawURLEncoding.EncodeToString(m.Sum(nil))
}
