package portal

import (
	"crypto/subtle"
	"errors"
	"net/http"
	"regexp"
	"slices"

	"github.com/xmpp-oauth-proxy/xmpp-oauth-proxy/credstore"
	"github.com/xmpp-oauth-proxy/xmpp-oauth-proxy/oauthx"
)

// login starts a sign-in: fresh state, nonce and PKCE verifier, sealed into
// a cookie only the callback path receives, then off to the IdP.
func (h *Handler) login(w http.ResponseWriter, r *http.Request) {
	req := oauthx.NewAuthRequest(h.cfg.redirectURL())
	target, err := h.cfg.IdP.AuthCodeURL(req)
	if err != nil {
		h.cfg.Logger.Warn().Err(err).Msg("portal: cannot start a sign-in")
		h.fail(w, r, http.StatusServiceUnavailable, "Sign-in unavailable",
			"The identity provider cannot be reached right now. Please try again in a minute.", "IdP not ready")
		return
	}
	ls := loginState{State: req.State, Nonce: req.Nonce, Verifier: req.Verifier, Expires: h.cfg.Now().Add(loginTTL)}
	http.SetCookie(w, h.cookie(loginCookie, h.logins.seal(ls), h.base+"/callback", int(loginTTL.Seconds())))
	w.Header().Set("Cache-Control", "no-store")
	http.Redirect(w, r, target, http.StatusSeeOther)
}

// callback finishes a sign-in: the state must match the cookie's and be
// fresh, the code is exchanged and the ID token verified (nonce included),
// then a session starts.
func (h *Handler) callback(w http.ResponseWriter, r *http.Request) {
	// The login cookie is single-use whatever happens next.
	http.SetCookie(w, h.cookie(loginCookie, "", h.base+"/callback", -1))
	q := r.URL.Query()
	c, err := r.Cookie(loginCookie)
	if err != nil {
		h.fail(w, r, http.StatusBadRequest, "Sign-in expired",
			"This sign-in link was already used or has expired. Please start again.", "no sign-in cookie")
		return
	}
	now := h.cfg.Now()
	ls, err := h.logins.open(c.Value, now)
	if err != nil || subtle.ConstantTimeCompare([]byte(q.Get("state")), []byte(ls.State)) != 1 {
		h.fail(w, r, http.StatusBadRequest, "Sign-in not recognised",
			"This answer from the identity provider does not belong to the sign-in this browser started. Please start again.",
			"state does not match the sign-in cookie")
		return
	}
	if !h.used.take(ls.State, ls.Expires, now) {
		h.fail(w, r, http.StatusBadRequest, "Sign-in already used",
			"This sign-in was already completed. Please start again.", "replayed state")
		return
	}
	if e := q.Get("error"); e != "" {
		// The IdP's error text is not echoed to the page; the code goes to the
		// log only when it looks like an RFC 6749 code, not arbitrary input.
		reason := "IdP returned an error"
		if oauthErrorCode.MatchString(e) {
			reason += ": " + e
		}
		h.fail(w, r, http.StatusForbidden, "Sign-in cancelled",
			"The identity provider did not sign you in. Please try again.", reason)
		return
	}
	in, err := h.cfg.IdP.ExchangeCode(r.Context(), q.Get("code"), ls.request(h.cfg.redirectURL()))
	switch {
	case errors.Is(err, oauthx.ErrInvalidToken) || errors.Is(err, oauthx.ErrInvalidCredentials):
		h.fail(w, r, http.StatusForbidden, "Sign-in refused",
			"The identity provider's answer could not be verified. Please start again.", "code exchange or ID token refused")
		return
	case err != nil:
		h.fail(w, r, http.StatusBadGateway, "Sign-in failed",
			"The identity provider could not complete the sign-in. Please try again later.", "code exchange failed")
		return
	case in.RefreshToken == "":
		h.fail(w, r, http.StatusBadGateway, "Sign-in incomplete",
			"The identity provider issued no refresh token, so app passwords cannot be tied to your sign-in. Ask your administrator.",
			"no refresh token from the code exchange (allow refresh tokens or offline_access for the client)")
		return
	}
	if in.Realm != "" && len(h.cfg.Realms) > 0 && !slices.Contains(h.cfg.Realms, in.Realm) {
		h.fail(w, r, http.StatusForbidden, "Not for this server",
			"Your account belongs to another domain than this XMPP server's.", "username realm belongs to another domain")
		return
	}
	owner := credstore.Owner{JID: in.Username + "@" + h.cfg.Domain, Subject: in.Subject}
	sess := h.sessions.create(owner, in.RefreshToken)
	http.SetCookie(w, h.cookie(sessionCookie, sess.id, h.base+"/", int(h.cfg.SessionLifetime.Seconds())))
	h.cfg.Logger.Info().Str("jid", owner.JID).Msg("portal: signed in")
	http.Redirect(w, r, h.base+"/", http.StatusSeeOther)
}

var oauthErrorCode = regexp.MustCompile(`^[a-z_]{1,40}$`)

// logout ends the session here; the IdP session is the IdP's.
func (h *Handler) logout(w http.ResponseWriter, r *http.Request) {
	sess, ok := h.postSession(w, r)
	if !ok {
		return
	}
	h.sessions.delete(sess.id)
	http.SetCookie(w, h.cookie(sessionCookie, "", h.base+"/", -1))
	h.cfg.Logger.Info().Str("jid", sess.owner.JID).Msg("portal: signed out")
	http.Redirect(w, r, h.base+"/?notice=signed-out", http.StatusSeeOther)
}

// postSession parses a POST form (bounded by ServeHTTP) and checks that it
// comes from a live session with its CSRF token. On false the answer is
// written and nothing may change.
func (h *Handler) postSession(w http.ResponseWriter, r *http.Request) (session, bool) {
	if err := r.ParseForm(); err != nil {
		var tooBig *http.MaxBytesError
		if errors.As(err, &tooBig) {
			h.fail(w, r, http.StatusRequestEntityTooLarge, "Form too large", "That form was larger than this page accepts.", "body over limit")
		} else {
			h.fail(w, r, http.StatusBadRequest, "Bad form", "That form could not be read.", "unparsable form")
		}
		return session{}, false
	}
	sess, ok := h.currentSession(r)
	if !ok {
		h.fail(w, r, http.StatusForbidden, "Signed out",
			"Your session has ended. Please sign in again; nothing was changed.", "POST without a session")
		return session{}, false
	}
	if !validCSRF(r, sess) {
		h.fail(w, r, http.StatusForbidden, "Request refused",
			"This form did not come from this page (its security token is missing or wrong). Nothing was changed.", "CSRF token missing or wrong")
		return session{}, false
	}
	return sess, true
}
