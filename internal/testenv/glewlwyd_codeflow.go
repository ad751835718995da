package testenv

import (
	"context"
	"net/http"
	"net/url"
	"slices"
)

// AllowRedirectURI registers uri as a redirect URI of the client, for a
// portal on a port picked at run time.
func (g *Glewlwyd) AllowRedirectURI(ctx context.Context, uri string) error {
	g.clientMu.Lock()
	if !slices.Contains(g.redirects, uri) {
		g.redirects = append(g.redirects, uri)
	}
	g.clientMu.Unlock()
	if err := g.adminLogin(ctx); err != nil {
		return err
	}
	return g.adminDo(ctx, http.MethodPut, "/client/"+url.PathEscape(g.ClientID), g.clientBody())
}

// GrantConsent records, as an admin, that user consents to the client's
// scopes, so the login page skips its consent screen.
func (g *Glewlwyd) GrantConsent(ctx context.Context, user string) error {
	if err := g.adminLogin(ctx); err != nil {
		return err
	}
	return g.adminDo(ctx, http.MethodPut, "/delegate/"+url.PathEscape(user)+"/auth/grant/"+url.PathEscape(g.ClientID),
		map[string]string{"scope": g.Scope})
}
