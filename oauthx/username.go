package oauthx

import (
	"errors"
	"fmt"
	"slices"
	"strings"

	"golang.org/x/text/secure/precis"
)

// maxLocalpart is RFC 7622's bound on a localpart, in bytes.
const maxLocalpart = 1023

// errNoUsername: the answer has no string at the username field. That is our
// configuration not matching the server, not a bad token.
var errNoUsername = errors.New("no string at the username field")

// lookupField follows a dotted path ("realm_access.name") through nested JSON
// objects. Only a string counts as found.
func lookupField(claims map[string]any, path string) (string, bool) {
	cur := any(claims)
	for name := range strings.SplitSeq(path, ".") {
		obj, ok := cur.(map[string]any)
		if !ok {
			return "", false
		}
		if cur, ok = obj[name]; !ok {
			return "", false
		}
	}
	s, ok := cur.(string)
	return s, ok
}

// usernameFrom finds the username in claims (trying the fields in order),
// maps and normalises it into id's Username and Realm. Errors: errNoUsername
// (misconfiguration) or errBadUsername (the value cannot be a localpart).
func (c *Client) usernameFrom(id *Identity, claims map[string]any, fields ...string) error {
	for _, f := range fields {
		if v, ok := lookupField(claims, f); ok {
			return c.normalise(id, v)
		}
	}
	return errNoUsername
}

// normalise applies username_mapping and then PRECIS UsernameCaseMapped
// (RFC 8265), and checks what RFC 7622 adds for a localpart.
func (c *Client) normalise(id *Identity, v string) error {
	split := c.cfg.UsernameMapping == "split"
	realm := ""
	if split {
		var err error
		if realm, err = c.acceptedRealm(v); err != nil {
			return err
		}
	}
	name, err := normaliseUsername(v, split)
	if err != nil {
		return err
	}
	id.Username, id.Realm = name, realm
	return nil
}

// acceptedRealm: split drops the realm, so only listed realms may be dropped;
// otherwise users of two realms would share one account.
func (c *Client) acceptedRealm(v string) (string, error) {
	_, realm, ok := strings.Cut(v, "@")
	if !ok {
		return "", fmt.Errorf("%w: no @realm, and username_mapping split needs one", errBadUsername)
	}
	if r := normaliseRealm(realm); slices.Contains(c.cfg.UsernameRealms, r) {
		return r, nil
	}
	return "", fmt.Errorf("%w: realm %q is not one of username_realms", errBadUsername, truncate(realm, 64))
}

// normaliseRealm makes realms comparable: no case, no trailing dot.
func normaliseRealm(r string) string { return strings.ToLower(strings.TrimSuffix(r, ".")) }

func normaliseUsername(v string, split bool) (string, error) {
	if split {
		v, _, _ = strings.Cut(v, "@")
	}
	out, err := precis.UsernameCaseMapped.String(v)
	if err != nil {
		return "", fmt.Errorf("%w: %w", errBadUsername, err)
	}
	if out == "" {
		return "", fmt.Errorf("%w: empty", errBadUsername)
	}
	if len(out) > maxLocalpart {
		return "", fmt.Errorf("%w: longer than %d bytes", errBadUsername, maxLocalpart)
	}
	if i := strings.IndexAny(out, "\"&'/:<>@"); i >= 0 {
		return "", fmt.Errorf("%w: contains %q", errBadUsername, out[i])
	}
	return out, nil
}
