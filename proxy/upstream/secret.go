package upstream

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
)

// managedPassword derives the upstream password of a managed account:
// base64url(HMAC-SHA256(key, bare JID)), no padding. Deterministic, so the proxy
// needs no storage. bareJID must be the form the upstream stores (a Nodeprep'd
// localpart, a lower-cased domain): one account, one secret.
func managedPassword(key []byte, bareJID string) string {
	m := hmac.New(sha256.New, key)
	m.Write([]byte(bareJID))
	return base64.RawURLEncoding.EncodeToString(m.Sum(nil))
}
