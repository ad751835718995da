package config

import (
	"errors"
	"math"
	"strings"
)

// minSecretKeyBytes: a managed-credentials key is the root of every user's
// upstream password, so it must be at least 256 bits of random data.
const minSecretKeyBytes = 32

// secretKeyHint tells an admin how to make a good key.
const secretKeyHint = "generate one with: openssl rand -base64 32 > secret-key (then secret_key_file: secret-key)"

// placeholderWords appear in example and demo keys, never in random ones.
var placeholderWords = []string{"change-me", "changeme", "change_me", "placeholder", "example", "replace", "demo", "secret", "password"}

// checkSecretKey refuses keys that are short, copied from documentation, or too
// predictable to be random. It errs on the side of refusing: a random key of
// 32 bytes or more passes every rule.
func checkSecretKey(key string) error {
	if len(key) < minSecretKeyBytes {
		return errors.New("too short: use at least 32 random bytes; " + secretKeyHint)
	}
	lower := strings.ToLower(key)
	for _, w := range placeholderWords {
		if strings.Contains(lower, w) {
			return errors.New("looks like a placeholder from an example (" + w + "), not a random key; " + secretKeyHint)
		}
	}
	if entropyBits(key) < 128 {
		return errors.New("too predictable (too few distinct characters) to be a random key; " + secretKeyHint)
	}
	return nil
}

// entropyBits estimates the information in s from its byte frequencies
// (Shannon), an upper bound that repeated or patterned keys fall far below.
func entropyBits(s string) float64 {
	var counts [256]int
	for i := 0; i < len(s); i++ {
		counts[s[i]]++
	}
	n := float64(len(s))
	var perByte float64
	for _, c := range counts {
		if c > 0 {
			p := float64(c) / n
			perByte -= p * math.Log2(p)
		}
	}
	return perByte * n
}
