package app

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/xmpp-oauth-proxy/xmpp-oauth-proxy/credstore"
	"github.com/xmpp-oauth-proxy/xmpp-oauth-proxy/grantcheck"
	"github.com/xmpp-oauth-proxy/xmpp-oauth-proxy/proxy"
	"github.com/xmpp-oauth-proxy/xmpp-oauth-proxy/saslauth"
)

// FAST tokens (XEP-0484) live in the credential store on the grant of the
// app-password login that asked for them: the IdP stays the authority the
// same way (grant rechecks, revocation), and a FAST login asks the IdP
// nothing unless that grant is overdue for its check.

// fastStore adapts credstore to saslauth.FASTVerifier and proxy.FASTTokens.
type fastStore struct {
	store    *credstore.Store
	checker  *grantcheck.Checker
	domain   string // tokens belong to username@domain
	lifetime time.Duration
}

func (f fastStore) VerifyFAST(ctx context.Context, username, mech string, match func([]byte) bool) (saslauth.Identity, []byte, error) {
	in, _ := saslauth.FASTInputFrom(ctx)
	v, err := f.store.VerifyFAST(ctx, username+"@"+f.domain, in.UserAgentID, mech, in.Count, saslauth.ClientAddr(ctx), match)
	switch {
	case errors.Is(err, credstore.ErrNotFound), errors.Is(err, credstore.ErrRevoked),
		errors.Is(err, credstore.ErrExpired), errors.Is(err, credstore.ErrReplayed):
		return saslauth.Identity{}, nil, fmt.Errorf("%w: %w", saslauth.ErrInvalidCredentials, err)
	case err != nil:
		return saslauth.Identity{}, nil, fmt.Errorf("%w: %w", saslauth.ErrTemporary, err)
	}
	if v.NeedsRecheck {
		if err := f.checker.CheckLogin(ctx, v.GrantID); errors.Is(err, grantcheck.ErrRevoked) {
			return saslauth.Identity{}, nil, fmt.Errorf("%w: %w", saslauth.ErrInvalidCredentials, err)
		} else if err != nil {
			return saslauth.Identity{}, nil, fmt.Errorf("%w: %w", saslauth.ErrTemporary, err)
		}
	}
	return saslauth.Identity{Username: username, CredentialID: v.ID, GrantID: v.GrantID, Expires: v.ExpiresAt},
		[]byte(v.Token.Reveal()), nil
}

func (f fastStore) IssueFAST(ctx context.Context, id saslauth.Identity, mech string, ua proxy.UserAgent) (string, time.Time, error) {
	if id.GrantID == "" {
		return "", time.Time{}, proxy.ErrNoGrant
	}
	exp := time.Now().Add(f.lifetime)
	_, secret, err := f.store.IssueFASTToken(ctx, credstore.NewFASTToken{
		Owner: id.Username + "@" + f.domain, GrantID: id.GrantID, UserAgentID: ua.ID,
		Label: fastLabel(ua), Mechanism: mech, Expires: exp, ParentID: id.CredentialID,
	})
	if err != nil {
		return "", time.Time{}, err
	}
	return secret.Reveal(), exp, nil
}

func (f fastStore) InvalidateFAST(ctx context.Context, id saslauth.Identity) error {
	return f.store.Revoke(ctx, id.Username+"@"+f.domain, id.CredentialID)
}

// RotateFAST: a token with less than half its lifetime left is replaced.
func (f fastStore) RotateFAST(id saslauth.Identity) bool {
	return time.Until(id.Expires) < f.lifetime/2
}

// fastLabel names the device on the portal from what the client said.
func fastLabel(ua proxy.UserAgent) string {
	label := strings.TrimSpace(strings.Join(strings.Fields(ua.Software+" "+ua.Device), " "))
	if label == "" {
		label = "device " + ua.ID
	}
	label = strings.Map(func(r rune) rune {
		if unicode.IsControl(r) {
			return -1
		}
		return r
	}, label)
	for utf8.RuneCountInString(label) > credstore.MaxLabelLength {
		_, n := utf8.DecodeLastRuneInString(label)
		label = label[:len(label)-n]
	}
	return label
}
