package config

import (
	"encoding/base64"
	"fmt"
	"os"
	"strings"
)

// ReadSessionTicketKeys reads tls.session_ticket_keys_file: one base64 key of
// 32 random bytes per line (openssl rand -base64 32), newest first; '#' starts
// a comment. The first key encrypts new tickets, all decrypt: rotate by
// putting a new key on top and dropping the oldest, then SIGHUP every replica.
// Errors never echo a key.
func ReadSessionTicketKeys(path string) ([][32]byte, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("tls.session_ticket_keys_file: %w", err)
	}
	var keys [][32]byte
	n := 0
	for line := range strings.Lines(string(b)) {
		n++
		line = strings.TrimSpace(line)
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		raw, err := base64.StdEncoding.DecodeString(line)
		if err != nil || len(raw) != 32 {
			return nil, fmt.Errorf("tls.session_ticket_keys_file %s, line %d: want 32 bytes in base64 (openssl rand -base64 32)", path, n)
		}
		keys = append(keys, [32]byte(raw))
	}
	if len(keys) == 0 {
		return nil, fmt.Errorf("tls.session_ticket_keys_file %s: no key", path)
	}
	return keys, nil
}
