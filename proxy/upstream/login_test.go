package upstream

import (
	"context"
	"errors"
	"slices"
	"testing"
	"time"

	"github.com/xmpp-oauth-proxy/xmpp-oauth-proxy/internal/testenv"
)

func login(t *testing.T, d *Dialer, c Credentials) (*Session, error) {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), 20*time.Second)
	defer cancel()
	s, err := d.Login(ctx, c)
	if s != nil {
		t.Cleanup(func() { _ = s.Conn.Close() })
	}
	return s, err
}

func TestManagedCreatesThenReuses(t *testing.T) {
	for _, mode := range []string{TLSStartTLS, TLSDirect, TLSNone} {
		t.Run(mode, func(t *testing.T) {
			env := testenv.Require(t)
			d, cmds := newDialer(t, prosodyConfig(t, mode))
			user := newUser("new")

			if _, err := login(t, d, Credentials{Username: user}); err != nil {
				t.Fatalf("first login: %v", err)
			}
			// Prosody refuses to change the password of a missing account, so the
			// dialer falls back to creating it.
			if got, want := cmds.take(), []string{nodeChangePassword, nodeAddUser}; !slices.Equal(got, want) {
				t.Fatalf("commands = %q, want %q", got, want)
			}
			if ok, err := env.Prosody.UserExists(t.Context(), user); err != nil || !ok {
				t.Fatalf("account not created upstream: %v %v", ok, err)
			}

			if _, err := login(t, d, Credentials{Username: user}); err != nil {
				t.Fatalf("second login: %v", err)
			}
			if got := cmds.take(); len(got) != 0 {
				t.Fatalf("second login ran commands %q", got)
			}
		})
	}
}

func TestManagedResetsForeignPassword(t *testing.T) {
	env := testenv.Require(t)
	user := newUser("migrant")
	if err := env.Prosody.Register(t.Context(), user, "the-old-password"); err != nil {
		t.Fatal(err)
	}
	d, cmds := newDialer(t, prosodyConfig(t, TLSStartTLS))
	if _, err := login(t, d, Credentials{Username: user}); err != nil {
		t.Fatalf("login: %v", err)
	}
	if got, want := cmds.take(), []string{nodeChangePassword}; !slices.Equal(got, want) {
		t.Fatalf("commands = %q, want %q", got, want)
	}
	// The old password is gone: the managed secret replaced it.
	pcfg := prosodyConfig(t, TLSStartTLS)
	pcfg.Credentials = CredPassthrough
	p, _ := newDialer(t, pcfg)
	if _, err := login(t, p, Credentials{Username: user, Password: "the-old-password"}); !errors.Is(err, ErrRejected) {
		t.Fatalf("old password still works or wrong error: %v", err)
	}
}

func TestManagedWithoutCreateRejects(t *testing.T) {
	cfg := prosodyConfig(t, TLSStartTLS)
	cfg.CreateAccounts = false
	d, cmds := newDialer(t, cfg)
	_, err := login(t, d, Credentials{Username: newUser("stranger")})
	if !errors.Is(err, ErrRejected) || errors.Is(err, ErrUnavailable) {
		t.Fatalf("err = %v, want ErrRejected only", err)
	}
	if got, want := cmds.take(), []string{nodeChangePassword}; !slices.Equal(got, want) {
		t.Fatalf("commands = %q, want %q", got, want)
	}
}

func TestManagedConcurrentLoginsShareProvisioning(t *testing.T) {
	d, cmds := newDialer(t, prosodyConfig(t, TLSStartTLS))
	user := newUser("crowd")
	const n = 6
	errs := make(chan error, n)
	for range n {
		go func() {
			s, err := d.Login(t.Context(), Credentials{Username: user})
			if err == nil {
				_ = s.Conn.Close()
			}
			errs <- err
		}()
	}
	for range n {
		if err := <-errs; err != nil {
			t.Errorf("login: %v", err)
		}
	}
	adds := 0
	for _, c := range cmds.take() {
		if c == nodeAddUser {
			adds++
		}
	}
	if adds != 1 {
		t.Fatalf("add-user ran %d times, want 1", adds)
	}
}

func TestManagedAdminSessionRecovers(t *testing.T) {
	d, _ := newDialer(t, prosodyConfig(t, TLSStartTLS))
	if _, err := login(t, d, Credentials{Username: newUser("a")}); err != nil {
		t.Fatal(err)
	}
	d.admin.mu.Lock()
	first := d.admin.cur
	d.admin.mu.Unlock()
	first.close() // as if the upstream had dropped it
	if _, err := login(t, d, Credentials{Username: newUser("b")}); err != nil {
		t.Fatalf("login after admin stream loss: %v", err)
	}
	d.admin.mu.Lock()
	defer d.admin.mu.Unlock()
	if d.admin.cur == first || d.admin.cur.isDone() {
		t.Fatal("admin session was not replaced")
	}
}

func TestManagedAdminNotPrivileged(t *testing.T) {
	env := testenv.Require(t)
	impostor := newUser("notadmin")
	if err := env.Prosody.Register(t.Context(), impostor, "impostor-pw"); err != nil {
		t.Fatal(err)
	}
	cfg := prosodyConfig(t, TLSStartTLS)
	cfg.AdminJID, cfg.AdminPassword = impostor+"@"+env.Prosody.Domain, "impostor-pw"
	d, _ := newDialer(t, cfg)
	_, err := login(t, d, Credentials{Username: newUser("victim")})
	// A broken admin set-up is the operator's problem: temporary failure, not "wrong password".
	if !errors.Is(err, ErrUnavailable) || errors.Is(err, ErrRejected) {
		t.Fatalf("err = %v, want ErrUnavailable only", err)
	}
}

func TestManagedAdminWrongPassword(t *testing.T) {
	cfg := prosodyConfig(t, TLSStartTLS)
	cfg.AdminPassword = "not-the-admin-password"
	d, _ := newDialer(t, cfg)
	_, err := login(t, d, Credentials{Username: newUser("victim")})
	if !errors.Is(err, ErrUnavailable) || errors.Is(err, ErrRejected) {
		t.Fatalf("err = %v, want ErrUnavailable only", err)
	}
}

func TestManagedStartConnectsAdmin(t *testing.T) {
	d, _ := newDialer(t, prosodyConfig(t, TLSDirect))
	d.Start(t.Context())
	deadline := time.Now().Add(15 * time.Second)
	for {
		d.admin.mu.Lock()
		c := d.admin.cur
		d.admin.mu.Unlock()
		if c != nil && !c.isDone() {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("Start did not connect the admin session")
		}
		time.Sleep(20 * time.Millisecond)
	}
	if _, err := login(t, d, Credentials{Username: newUser("started")}); err != nil {
		t.Fatal(err)
	}
}

func TestPassthrough(t *testing.T) {
	env := testenv.Require(t)
	user := newUser("pt")
	if err := env.Prosody.Register(t.Context(), user, "correct horse"); err != nil {
		t.Fatal(err)
	}
	for _, mode := range []string{TLSStartTLS, TLSDirect} {
		t.Run(mode, func(t *testing.T) {
			cfg := prosodyConfig(t, mode)
			cfg.Credentials = CredPassthrough
			d, cmds := newDialer(t, cfg)
			if _, err := login(t, d, Credentials{Username: user, Password: "correct horse"}); err != nil {
				t.Fatalf("login: %v", err)
			}
			_, err := login(t, d, Credentials{Username: user, Password: "wrong horse"})
			if !errors.Is(err, ErrRejected) || errors.Is(err, ErrUnavailable) {
				t.Fatalf("wrong password: err = %v, want ErrRejected", err)
			}
			if got := cmds.take(); len(got) != 0 {
				t.Fatalf("passthrough ran admin commands %q", got)
			}
		})
	}
}

func TestUpstreamDown(t *testing.T) {
	addr := closedPort(t)
	for _, creds := range []string{CredManaged, CredPassthrough} {
		d, err := New(Config{Domain: "localhost", Address: addr, Credentials: creds,
			SecretKey: testKey, AdminJID: "admin@localhost", AdminPassword: "x"})
		if err != nil {
			t.Fatal(err)
		}
		_, err = login(t, d, Credentials{Username: "alice", Password: "pw"})
		if !errors.Is(err, ErrUnavailable) || errors.Is(err, ErrRejected) {
			t.Fatalf("%s: err = %v, want ErrUnavailable", creds, err)
		}
		if err := d.Probe(t.Context()); !errors.Is(err, ErrUnavailable) {
			t.Fatalf("probe: %v", err)
		}
	}
}

func TestProbe(t *testing.T) {
	for _, mode := range []string{TLSStartTLS, TLSDirect, TLSNone} {
		d, _ := newDialer(t, prosodyConfig(t, mode))
		if err := d.Probe(t.Context()); err != nil {
			t.Fatalf("%s: %v", mode, err)
		}
	}
}

func TestTLSVerified(t *testing.T) {
	cfg := prosodyConfig(t, TLSDirect)
	cfg.RootCAs = nil // system pool: the self-signed certificate is not in it
	d, _ := newDialer(t, cfg)
	if err := d.Probe(t.Context()); !errors.Is(err, ErrUnavailable) {
		t.Fatalf("probe with untrusted certificate: %v", err)
	}
	cfg = prosodyConfig(t, TLSStartTLS)
	cfg.ServerName = "not-localhost.example"
	d, _ = newDialer(t, cfg)
	if err := d.Probe(t.Context()); !errors.Is(err, ErrUnavailable) {
		t.Fatalf("probe with wrong server name: %v", err)
	}
}
