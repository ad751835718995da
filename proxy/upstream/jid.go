package upstream

import (
	"errors"
	"strings"
)

// splitJID splits a bare JID local@domain.
func splitJID(j string) (local, domain string, err error) {
	local, domain, ok := strings.Cut(j, "@")
	if !ok || local == "" || domain == "" || strings.ContainsAny(j, "/ <>'\"&") {
		return "", "", errors.New("not a bare jid local@domain")
	}
	return local, domain, nil
}
