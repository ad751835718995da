package oauthx

import (
	"context"
	"errors"
	"io"
	"net/http"
	"testing"
	"time"
)

// hang answers nothing until the client gives up. The body is drained first:
// the server notices a closed connection only once it has read the request.
func hang(w http.ResponseWriter, r *http.Request) {
	_, _ = io.Copy(io.Discard, r.Body)
	select {
	case <-r.Context().Done():
	case <-time.After(30 * time.Second):
	}
}

// Faults of the validation endpoint, for each remote method: each ends in the
// right error class, and a hang ends at the configured timeout (the test's own
// deadline is far longer, so a missing timeout would show as a failure here).
func TestValidationFaults(t *testing.T) {
	status := func(code int, body string) http.HandlerFunc {
		return func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Content-Type", "application/json")
			w.WriteHeader(code)
			_, _ = w.Write([]byte(body))
		}
	}
	faults := map[string]struct {
		h    http.HandlerFunc
		want error
	}{
		"500":               {status(500, `{"error":"server_error"}`), ErrUnavailable},
		"503":               {status(503, ""), ErrUnavailable},
		"hang":              {hang, ErrUnavailable},
		"not JSON":          {status(200, "<html>login page</html>"), ErrUnavailable},
		"JSON array":        {status(200, `[1,2]`), ErrUnavailable},
		"no username field": {status(200, `{"sub":"x","active":true,"name":"Alice"}`), ErrMisconfigured},
		"username a number": {status(200, `{"sub":"x","active":true,"preferred_username":42}`), ErrMisconfigured},
		"404":               {status(404, ""), ErrMisconfigured},
	}
	for _, mode := range []string{ValidationUserinfo, ValidationIntrospection} {
		path := map[string]string{ValidationUserinfo: "/userinfo", ValidationIntrospection: "/introspect"}[mode]
		for name, fault := range faults {
			t.Run(mode+"/"+name, func(t *testing.T) {
				t.Parallel()
				f := newFakeIdP(t)
				f.opaque = true
				cfg := f.config(mode)
				cfg.Timeout = 300 * time.Millisecond
				c, _ := start(t, cfg)
				tok := f.issue("alice")
				f.set(path, fault.h)
				ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
				defer cancel()
				_, err := c.ValidateToken(ctx, tok)
				wantClass(t, name, err, fault.want)
				if ctx.Err() != nil {
					t.Errorf("the call outlived its own timeout")
				}
				// Not a verdict on the token: nothing is cached, the next call asks again.
				before := f.hit(path)
				_, _ = c.ValidateToken(ctx, tok)
				if f.hit(path) != before+1 {
					t.Errorf("a %s failure was cached", name)
				}
			})
		}
	}
}

func TestPasswordFaults(t *testing.T) {
	for name, h := range map[string]http.HandlerFunc{
		"hang": hang,
		"502":  func(w http.ResponseWriter, r *http.Request) { w.WriteHeader(502) },
	} {
		t.Run(name, func(t *testing.T) {
			f := newFakeIdP(t)
			cfg := f.config(ValidationAuto)
			cfg.Timeout = 300 * time.Millisecond
			c, _ := start(t, cfg)
			f.set("/token", h)
			_, err := c.PasswordLogin(context.Background(), "alice", "alice-pw")
			wantClass(t, name, err, ErrUnavailable)
		})
	}
}

func TestConnectionRefused(t *testing.T) {
	f := newFakeIdP(t)
	cfg := Config{TokenEndpoint: f.url("/token"), UserinfoEndpoint: f.url("/userinfo"), ClientID: testClientID,
		ClientSecret: f.secret, ResourceOwnerPassword: true, Timeout: time.Second}
	c, _ := start(t, cfg)
	f.srv.Close()
	_, err := c.PasswordLogin(context.Background(), "alice", "alice-pw")
	wantClass(t, "password, refused", err, ErrUnavailable)
	_, err = c.ValidateToken(context.Background(), "some-token")
	wantClass(t, "userinfo, refused", err, ErrUnavailable)
}

// A caller that gives up gets its answer at once, even while the shared
// request is still running for others.
func TestCallerCancel(t *testing.T) {
	f := newFakeIdP(t)
	f.opaque = true
	release := make(chan struct{})
	defer close(release)
	c, _ := start(t, f.config(ValidationUserinfo))
	tok := f.issue("alice")
	f.set("/userinfo", func(w http.ResponseWriter, r *http.Request) { <-release })
	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	_, err := c.ValidateToken(ctx, tok)
	if !errors.Is(err, ErrUnavailable) || !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("ValidateToken = %v, want ErrUnavailable wrapping the deadline", err)
	}
}
