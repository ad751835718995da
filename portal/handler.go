package portal

import (
	"context"
	"embed"
	"io/fs"
	"net/http"
	"strings"
	"time"
)

//go:embed static
var staticFiles embed.FS

// requestTimeout bounds each request's work (IdP and store calls included).
const requestTimeout = 20 * time.Second

// maxFormBytes bounds a POST body: our forms hold a label, an id and a token.
const maxFormBytes = 4 << 10

// Handler serves the portal. Create it with New.
type Handler struct {
	cfg      Config
	base     string
	mux      *http.ServeMux
	pages    *pages
	sessions *sessions
	logins   *sealer
	used     *usedStates
}

// New builds the handler; it touches neither the network nor the store.
func New(cfg Config) (*Handler, error) {
	cfg, err := cfg.withDefaults()
	if err != nil {
		return nil, err
	}
	pg, err := loadPages()
	if err != nil {
		return nil, err
	}
	h := &Handler{
		cfg:      cfg,
		base:     cfg.basePath(),
		mux:      http.NewServeMux(),
		pages:    pg,
		sessions: newSessions(cfg.MaxSessions, cfg.SessionIdle, cfg.SessionLifetime, cfg.Now),
		logins:   newSealer(),
		used:     &usedStates{seen: map[string]time.Time{}, max: 100000},
	}
	static, _ := fs.Sub(staticFiles, "static")
	b := h.base
	h.mux.Handle("GET "+b+"/static/", http.StripPrefix(b+"/static/", staticHandler(static)))
	h.mux.HandleFunc("GET "+b+"/{$}", h.home)
	if b != "" {
		h.mux.Handle("GET "+b, http.RedirectHandler(b+"/", http.StatusMovedPermanently))
	}
	h.mux.HandleFunc("GET "+b+"/login", h.login)
	h.mux.HandleFunc("GET "+b+"/callback", h.callback)
	h.mux.HandleFunc("POST "+b+"/logout", h.logout)
	h.mux.HandleFunc("POST "+b+"/app-passwords", h.createAppPassword)
	h.mux.HandleFunc("POST "+b+"/app-passwords/revoke", h.revokeAppPassword)
	h.mux.HandleFunc("GET "+b+"/favicon.ico", http.NotFound) // browsers ask; not worth a log line
	h.mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		h.fail(w, r, http.StatusNotFound, "Page not found", "There is no such page here.", "no route")
	})
	return h, nil
}

// ServeHTTP sets the security headers every answer carries, bounds the
// request's time and body, and routes it.
func (h *Handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	hd := w.Header()
	hd.Set("Content-Security-Policy", "default-src 'none'; style-src 'self'; script-src 'self'; img-src 'self'; "+
		"form-action 'self'; frame-ancestors 'none'; base-uri 'none'")
	hd.Set("X-Content-Type-Options", "nosniff")
	hd.Set("Referrer-Policy", "no-referrer")
	hd.Set("X-Frame-Options", "DENY")
	hd.Set("Cross-Origin-Opener-Policy", "same-origin")
	ctx, cancel := context.WithTimeout(r.Context(), requestTimeout)
	defer cancel()
	r = r.WithContext(ctx)
	if r.Body != nil {
		r.Body = http.MaxBytesReader(w, r.Body, maxFormBytes)
	}
	h.mux.ServeHTTP(w, r)
}

// staticHandler serves the embedded CSS and script; they may be cached.
func staticHandler(files fs.FS) http.Handler {
	fsrv := http.FileServerFS(files)
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "" || strings.HasSuffix(r.URL.Path, "/") {
			http.NotFound(w, r) // no directory listings
			return
		}
		w.Header().Set("Cache-Control", "public, max-age=3600")
		fsrv.ServeHTTP(w, r)
	})
}

// NewServer is an http.Server for h with every timeout set, so a slow or
// idle client cannot hold a connection open.
func NewServer(h http.Handler) *http.Server {
	return &http.Server{
		Handler:           h,
		ReadHeaderTimeout: 5 * time.Second,
		ReadTimeout:       15 * time.Second,
		WriteTimeout:      requestTimeout + 10*time.Second,
		IdleTimeout:       60 * time.Second,
		MaxHeaderBytes:    16 << 10,
	}
}
