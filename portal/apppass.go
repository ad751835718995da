package portal

import (
	"errors"
	"net/http"
	"strings"

	"github.com/xmpp-oauth-proxy/xmpp-oauth-proxy/credstore"
)

// notices are the fixed messages a redirect may ask for (never echoed input).
var notices = map[string]string{
	"signed-out":   "You are signed out.",
	"revoked":      "The app password was revoked. Apps using it can no longer log in.",
	"fast-revoked": "The device's quick-login token was revoked. It is signed out and must log in with an app password again.",
}

// home is the sign-in page, or the signed-in user's settings and passwords.
func (h *Handler) home(w http.ResponseWriter, r *http.Request) {
	notice := notices[r.URL.Query().Get("notice")]
	sess, ok := h.currentSession(r)
	if !ok {
		h.render(w, http.StatusOK, "signin.html", view{Title: "Sign in", Notice: notice})
		return
	}
	list, err := h.cfg.Store.List(r.Context(), sess.owner.JID)
	var devices []credstore.FASTToken
	if err == nil {
		devices, err = h.cfg.Store.ListFAST(r.Context(), sess.owner.JID)
	}
	if err != nil {
		h.cfg.Logger.Error().Err(err).Msg("portal: listing app passwords")
		h.fail(w, r, http.StatusServiceUnavailable, "Temporarily unavailable",
			"Your app passwords cannot be shown right now. Please try again in a minute.", "store list failed")
		return
	}
	h.render(w, http.StatusOK, "home.html", view{
		Title: "Your XMPP account", JID: sess.owner.JID, CSRF: sess.csrf, Notice: notice,
		Server: h.cfg.ServerHost, Ports: h.cfg.Ports, Passwords: list, Devices: devices, MaxLabel: credstore.MaxLabelLength,
	})
}

// createAppPassword makes a password for a device label and shows it once.
func (h *Handler) createAppPassword(w http.ResponseWriter, r *http.Request) {
	sess, ok := h.postSession(w, r)
	if !ok {
		return
	}
	sess.creating.Lock()
	defer sess.creating.Unlock()
	grantID := h.sessions.grantOf(sess.id)
	req := credstore.NewAppPassword{Owner: sess.owner, Label: strings.TrimSpace(r.PostForm.Get("label"))}
	if grantID != "" {
		req.GrantID = grantID
	} else {
		req.RefreshToken = sess.refreshToken
	}
	ap, secret, err := h.cfg.Store.CreateAppPassword(r.Context(), req)
	switch {
	case errors.Is(err, credstore.ErrInvalidLabel):
		h.fail(w, r, http.StatusBadRequest, "Device name not accepted",
			"Give the device a name of 1 to 64 characters, without control characters. No password was created.", "invalid label")
		return
	case errors.Is(err, credstore.ErrRevoked) || errors.Is(err, credstore.ErrNotFound):
		// The sign-in's grant was disabled meanwhile (the IdP refused it).
		h.sessions.delete(sess.id)
		h.fail(w, r, http.StatusConflict, "Please sign in again",
			"Your sign-in is no longer valid at the identity provider. Sign in again to create app passwords.", "grant disabled")
		return
	case err != nil:
		h.cfg.Logger.Error().Err(err).Msg("portal: creating an app password")
		h.fail(w, r, http.StatusServiceUnavailable, "Temporarily unavailable",
			"The app password could not be created. Please try again in a minute.", "store create failed")
		return
	}
	if grantID == "" {
		h.sessions.setGrant(sess.id, ap.GrantID)
	}
	h.cfg.Logger.Info().Str("jid", sess.owner.JID).Str("credential", ap.ID).Msg("portal: app password created")
	h.render(w, http.StatusOK, "created.html", view{
		Title: "New app password", JID: sess.owner.JID, CSRF: sess.csrf, Created: ap, Password: secret.Reveal(),
	})
}

// revokeAppPassword revokes one of the user's app passwords; credstore
// announces it so live sessions using it end.
func (h *Handler) revokeAppPassword(w http.ResponseWriter, r *http.Request) {
	sess, ok := h.postSession(w, r)
	if !ok {
		return
	}
	id := r.PostForm.Get("id")
	err := h.cfg.Store.Revoke(r.Context(), sess.owner.JID, id)
	switch {
	case errors.Is(err, credstore.ErrNotFound):
		h.fail(w, r, http.StatusNotFound, "No such app password",
			"That app password does not exist or is already revoked.", "revoke of an unknown id")
		return
	case err != nil:
		h.cfg.Logger.Error().Err(err).Msg("portal: revoking an app password")
		h.fail(w, r, http.StatusServiceUnavailable, "Temporarily unavailable",
			"The app password could not be revoked. Please try again in a minute.", "store revoke failed")
		return
	}
	h.cfg.Logger.Info().Str("jid", sess.owner.JID).Str("credential", id).Msg("portal: app password revoked")
	notice := "revoked"
	if r.PostForm.Get("kind") == "fast" { // the same store call ends a FAST token
		notice = "fast-revoked"
	}
	http.Redirect(w, r, h.base+"/?notice="+notice, http.StatusSeeOther)
}
