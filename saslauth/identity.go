package saslauth

import (
	"errors"
	"strings"

	"mellium.im/xmpp/jid"
)

// Log-only causes. None of them carries client input, so they are safe anywhere.
var (
	errBadDomain        = errors.New("configured domain is not a valid XMPP domainpart")
	errNoAuthenticator  = errors.New("no authenticator configured")
	errBadUsername      = errors.New("username is not a valid XMPP localpart or bare JID")
	errForeignDomain    = errors.New("username names another domain")
	errUnusableIdentity = errors.New("authenticator returned an unusable username")
	errAuthzidMismatch  = errors.New("authzid is not the authenticated user's bare JID")
)

// parseDomain normalises the configured domain (IDNA, case, trailing dot).
func parseDomain(domain string) (jid.JID, error) {
	d, err := jid.Parse(domain)
	if err != nil || d.Localpart() != "" || d.Resourcepart() != "" {
		return jid.JID{}, errBadDomain
	}
	return d, nil
}

// typedLocalpart turns what a user typed as PLAIN authcid into a normalised
// localpart (PRECIS UsernameCaseMapped, RFC 7622 rules). A bare JID is accepted
// when its domain is ours.
func typedLocalpart(typed string, domain jid.JID) (string, error) {
	var j jid.JID
	var err error
	if strings.Contains(typed, "@") {
		j, err = jid.Parse(typed)
		if err != nil || j.Localpart() == "" || j.Resourcepart() != "" {
			return "", errBadUsername
		}
		if !j.Domain().Equal(domain) {
			return "", errForeignDomain
		}
	} else {
		j, err = jid.New(typed, domain.Domainpart(), "")
		if err != nil || j.Localpart() == "" {
			return "", errBadUsername
		}
	}
	return j.Localpart(), nil
}

// bareJID makes the authenticated user's bare JID from the username the
// authenticator vouched for; it must be a valid localpart.
func bareJID(username string, domain jid.JID) (jid.JID, error) {
	if username == "" {
		return jid.JID{}, errUnusableIdentity
	}
	j, err := jid.New(username, domain.Domainpart(), "")
	if err != nil {
		return jid.JID{}, errUnusableIdentity
	}
	return j, nil
}

// checkAuthzid enforces RFC 6120 section 6.3.8: an authzid, when given, must be
// the authenticated user's own bare JID (compared after normalisation).
func checkAuthzid(authzid string, user jid.JID) error {
	if authzid == "" {
		return nil
	}
	j, err := jid.Parse(authzid)
	if err != nil || j.Resourcepart() != "" || !j.Equal(user) {
		return errAuthzidMismatch
	}
	return nil
}
