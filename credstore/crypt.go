package credstore

import (
	"crypto/aes"
	"crypto/cipher"
	"crypto/rand"
	"errors"
	"fmt"
	"io"
)

// EncryptionKey seals refresh tokens at rest. ID is stored beside every
// ciphertext, so keys can rotate: keep old keys configured until Rotate has
// re-encrypted everything under the current one.
type EncryptionKey struct {
	ID  string
	Key []byte // 32 bytes: AES-256
}

func (k EncryptionKey) String() string {
	return "EncryptionKey{ID: " + k.ID + ", Key: " + redacted + "}"
}
func (k EncryptionKey) GoString() string { return k.String() }

// Format covers every verb: without it %d would print the key bytes.
func (k EncryptionKey) Format(f fmt.State, _ rune) { io.WriteString(f, k.String()) }

// MarshalText keeps the key out of JSON and structured logs.
func (k EncryptionKey) MarshalText() ([]byte, error) { return []byte(k.String()), nil }

// errUnknownKey: a ciphertext names a key id that is not configured.
var errUnknownKey = errors.New("sealed under a key id that is not configured")

// keyring decrypts with any configured key and encrypts with the first.
type keyring struct {
	current string
	aeads   map[string]cipher.AEAD
}

func newKeyring(keys []EncryptionKey) (*keyring, error) {
	if len(keys) == 0 {
		return nil, errors.New("no encryption key configured")
	}
	kr := &keyring{current: keys[0].ID, aeads: make(map[string]cipher.AEAD, len(keys))}
	for _, k := range keys {
		if k.ID == "" {
			return nil, errors.New("an encryption key has no id")
		}
		if _, dup := kr.aeads[k.ID]; dup {
			return nil, fmt.Errorf("encryption key id %q configured twice", k.ID)
		}
		if len(k.Key) != 32 {
			return nil, fmt.Errorf("encryption key %q: want 32 bytes, have %d", k.ID, len(k.Key))
		}
		block, err := aes.NewCipher(k.Key)
		if err != nil {
			return nil, fmt.Errorf("encryption key %q: %w", k.ID, err)
		}
		aead, err := cipher.NewGCM(block)
		if err != nil {
			return nil, fmt.Errorf("encryption key %q: %w", k.ID, err)
		}
		kr.aeads[k.ID] = aead
	}
	return kr, nil
}

// seal encrypts under the current key with a random nonce, prepended. The
// additional data binds the ciphertext to its row, so it cannot be copied to
// another grant.
func (kr *keyring) seal(plaintext, aad []byte) (keyID string, sealed []byte) {
	aead := kr.aeads[kr.current]
	nonce := make([]byte, aead.NonceSize(), aead.NonceSize()+len(plaintext)+aead.Overhead())
	rand.Read(nonce)
	return kr.current, aead.Seal(nonce, nonce, plaintext, aad)
}

func (kr *keyring) open(keyID string, sealed, aad []byte) ([]byte, error) {
	aead, ok := kr.aeads[keyID]
	if !ok {
		return nil, fmt.Errorf("key %q: %w", keyID, errUnknownKey)
	}
	if len(sealed) < aead.NonceSize() {
		return nil, errors.New("ciphertext too short")
	}
	nonce, body := sealed[:aead.NonceSize()], sealed[aead.NonceSize():]
	plain, err := aead.Open(nil, nonce, body, aad)
	if err != nil {
		// GCM's message names nothing secret, but say which key failed.
		return nil, fmt.Errorf("key %q: decryption failed", keyID)
	}
	return plain, nil
}

// grantAAD is the additional data sealed with a grant's refresh token.
func grantAAD(grantID string) []byte { return []byte("credstore grant refresh token " + grantID) }
