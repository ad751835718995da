package upstream

import (
	"encoding/base64"
	"testing"
)

func TestManagedPassword(t *testing.T) {
	a := managedPassword(testKey, "alice@localhost")
	if b, err := base64.RawURLEncoding.DecodeString(a); err != nil || len(b) != 32 {
		t.Fatalf("not unpadded base64url of 32 bytes: %q %v", a, err)
	}
	if managedPassword(testKey, "bob@localhost") == a {
		t.Error("two users share a secret")
	}
	if managedPassword([]byte("another-key-0123456789"), "alice@localhost") == a {
		t.Error("the key does not change the secret")
	}
}
