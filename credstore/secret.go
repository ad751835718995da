package credstore

import (
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"fmt"
	"io"
	"strings"
)

// App passwords are groups of lowercase letters, easy to type on a phone:
// 6 groups of 5 from 26 letters are 30·log2(26) ≈ 141 random bits.
const (
	passwordGroups    = 6
	passwordGroupSize = 5
	passwordLetters   = passwordGroups * passwordGroupSize
	alphabet          = "abcdefghijklmnopqrstuvwxyz"
)

// Secret is a plaintext secret handed out once (an app password) or read
// back for use (a refresh token). Printing, logging or marshalling it shows
// a placeholder; Reveal returns the value.
type Secret struct{ value string }

const redacted = "[redacted]"

// Reveal returns the plaintext. Call it only where the value must leave the
// process: the page that shows a new password, the IdP's token endpoint.
func (s Secret) Reveal() string { return s.value }

// IsZero reports whether the secret is empty.
func (s Secret) IsZero() bool { return s.value == "" }

func (Secret) String() string   { return redacted }
func (Secret) GoString() string { return redacted }

// Format covers every verb: without it %d would print the fields.
func (Secret) Format(f fmt.State, _ rune) { io.WriteString(f, redacted) }

// MarshalText keeps the value out of JSON, YAML and structured logs.
func (Secret) MarshalText() ([]byte, error) { return []byte(redacted), nil }

// newAppPassword returns a random password, grouped with dashes.
func newAppPassword() string {
	letters := make([]byte, 0, passwordLetters)
	var buf [64]byte
	for len(letters) < passwordLetters {
		rand.Read(buf[:])
		for _, b := range buf {
			// 234 = 9·26: rejecting bytes above it keeps every letter equally likely.
			if b < 234 && len(letters) < passwordLetters {
				letters = append(letters, alphabet[b%26])
			}
		}
	}
	var sb strings.Builder
	for i := 0; i < passwordLetters; i += passwordGroupSize {
		if i > 0 {
			sb.WriteByte('-')
		}
		sb.Write(letters[i : i+passwordGroupSize])
	}
	return sb.String()
}

// normalizePassword turns what a user typed into the canonical letters:
// spaces and dashes dropped, ASCII upper case folded. ok is false when the
// result cannot be an app password, so Verify can refuse without a query.
func normalizePassword(typed string) (norm string, ok bool) {
	if len(typed) > 4*passwordLetters {
		return "", false // no amount of separators makes this one of ours
	}
	out := make([]byte, 0, passwordLetters)
	for i := 0; i < len(typed); i++ {
		c := typed[i]
		switch {
		case c == ' ' || c == '-':
			continue
		case c >= 'A' && c <= 'Z':
			c += 'a' - 'A'
		case c < 'a' || c > 'z':
			return "", false
		}
		if len(out) == passwordLetters {
			return "", false
		}
		out = append(out, c)
	}
	if len(out) != passwordLetters {
		return "", false
	}
	return string(out), true
}

// credentialKind separates the hashes of different credential kinds made
// under one hash key.
type credentialKind string

const kindAppPassword credentialKind = "app_password"

// secretHash is the lookup key of a credential: HMAC-SHA256 under the
// server's hash key of the kind and the normalised secret.
func secretHash(key []byte, kind credentialKind, norm string) []byte {
	m := hmac.New(sha256.New, key)
	m.Write([]byte(kind))
	m.Write([]byte{0})
	m.Write([]byte(norm))
	return m.Sum(nil)
}
