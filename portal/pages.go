package portal

import (
	"bytes"
	"embed"
	"html/template"
	"net/http"
	"time"

	"github.com/xmpp-oauth-proxy/xmpp-oauth-proxy/credstore"
)

//go:embed templates
var templateFiles embed.FS

// pages holds one parsed template per page, each with the shared layout.
type pages struct{ byName map[string]*template.Template }

var pageNames = []string{"signin.html", "home.html", "created.html", "error.html"}

func loadPages() (*pages, error) {
	funcs := template.FuncMap{"when": formatTime}
	p := &pages{byName: map[string]*template.Template{}}
	for _, name := range pageNames {
		t, err := template.New(name).Funcs(funcs).ParseFS(templateFiles, "templates/layout.html", "templates/"+name)
		if err != nil {
			return nil, err
		}
		p.byName[name] = t
	}
	return p, nil
}

// formatTime shows a time in UTC, minutes precision; zero is "never".
func formatTime(t time.Time) string {
	if t.IsZero() {
		return "never"
	}
	return t.UTC().Format("2 Jan 2006, 15:04 UTC")
}

// view is what every page template receives.
type view struct {
	Title  string
	Base   string
	JID    string // set when signed in: the header shows it and Sign out
	CSRF   string
	Notice string

	// home
	Server    string
	Ports     []Port
	Passwords []credstore.AppPassword
	Devices   []credstore.FASTToken // FAST tokens, one per device
	MaxLabel  int

	// created: the new password, shown this once
	Created  credstore.AppPassword
	Password string

	// error
	Status  int
	Message string
}

// render writes a page; pages are never cached (they may hold a secret or a
// CSRF token).
func (h *Handler) render(w http.ResponseWriter, status int, name string, v view) {
	v.Base = h.base
	var buf bytes.Buffer
	if err := h.pages.byName[name].ExecuteTemplate(&buf, "layout", v); err != nil {
		h.cfg.Logger.Error().Err(err).Str("page", name).Msg("portal: rendering failed")
		http.Error(w, "internal error", http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	w.Write(buf.Bytes())
}

// fail answers with a readable error page and logs why (reason is ours,
// never user input or a secret).
func (h *Handler) fail(w http.ResponseWriter, r *http.Request, status int, title, message, reason string) {
	ev := h.cfg.Logger.Info()
	if status >= 500 {
		ev = h.cfg.Logger.Error()
	}
	ev.Int("status", status).Str("method", r.Method).Str("path", r.URL.Path).Str("reason", reason).Msg("portal: request refused")
	v := view{Title: title, Status: status, Message: message}
	if sess, ok := h.currentSession(r); ok {
		v.JID, v.CSRF = sess.owner.JID, sess.csrf
	}
	h.render(w, status, "error.html", v)
}
