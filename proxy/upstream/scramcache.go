package upstream

import (
	"crypto/sha256"
	"encoding/hex"

	lru "github.com/hashicorp/golang-lru/v2"
	"github.com/xdg-go/scram"
)

// scramCacheSize bounds the SCRAM clients kept; each caches its PBKDF2 result per
// salt and iteration count, which turns a repeat login from ~10k hash iterations
// into a few HMACs.
const scramCacheSize = 4096

// scramClients keeps one scram.Client per (mechanism, user, password).
type scramClients struct {
	lru *lru.Cache[string, *scram.Client]
}

func newScramClients(size int) *scramClients {
	c, err := lru.New[string, *scram.Client](size)
	if err != nil {
		panic(err) // only for size <= 0
	}
	return &scramClients{lru: c}
}

// get returns the cached client or makes one. The key holds a hash of the password,
// never the password, so a changed password gets a new client.
func (s *scramClients) get(mech, user, password string) (*scram.Client, error) {
	h := sha256.New()
	h.Write([]byte(mech + "\x00" + user + "\x00"))
	h.Write([]byte(password))
	key := hex.EncodeToString(h.Sum(nil))
	if c, ok := s.lru.Get(key); ok {
		return c, nil
	}
	gen := scram.SHA1
	if mech == "SCRAM-SHA-256" {
		gen = scram.SHA256
	}
	c, err := gen.NewClient(user, password, "")
	if err != nil {
		return nil, err // SASLprep failure; the message names no part of the password
	}
	s.lru.Add(key, c)
	return c, nil
}
