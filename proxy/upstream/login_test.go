package upstream

import (
	"context"
	"crypto/x509"
	"errors"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/rs/zerolog"

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
	testenv.ForEachServer(t, testManagedCreatesThenReuses)
}

func testManagedCreatesThenReuses(t *testing.T, srv testenv.Server) {
	for _, mode := range tlsModes(srv) {
		t.Run(mode, func(t *testing.T) {
			d, cmds := newDialer(t, serverConfig(t, srv, mode))
			user := newUser("new")

			if _, err := login(t, d, Credentials{Username: user}); err != nil {
				t.Fatalf("first login: %v", err)
			}
			if got, want := cmds.take(), []string{nodeAddUser}; !slices.Equal(got, want) {
				t.Fatalf("commands = %q, want %q", got, want)
			}
			if ok, err := srv.UserExists(t.Context(), user); err != nil || !ok {
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

// TestManagedResetsForeignPassword: with the migration switch on, an account that
// predates SSO gets the managed secret; its old password stops working.
func TestManagedResetsForeignPassword(t *testing.T) {
	testenv.ForEachServer(t, testManagedResetsForeignPassword)
}

func testManagedResetsForeignPassword(t *testing.T, srv testenv.Server) {
	user := newUser("migrant")
	if err := srv.Register(t.Context(), user, "the-old-password"); err != nil {
		t.Fatal(err)
	}
	cfg := serverConfig(t, srv, TLSStartTLS)
	cfg.TakeOverExisting = true
	var prov provisionLog
	cfg.OnProvision = prov.add
	d, cmds := newDialer(t, cfg)
	if _, err := login(t, d, Credentials{Username: user}); err != nil {
		t.Fatalf("login: %v", err)
	}
	if got, want := cmds.take(), []string{nodeAddUser, nodeChangePassword}; !slices.Equal(got, want) {
		t.Fatalf("commands = %q, want %q", got, want)
	}
	if got, want := prov.take(), []string{"change-user-password/ok"}; !slices.Equal(got, want) {
		t.Fatalf("provisioning events = %q, want %q", got, want)
	}
	if passwordWorks(t, srv, user, "the-old-password") {
		t.Fatal("the old password still works after the take-over")
	}
}

// TestManagedRefusesExistingAccount: by default an account the proxy did not
// create is never taken over: the login is refused and the password stays.
func TestManagedRefusesExistingAccount(t *testing.T) {
	testenv.ForEachServer(t, testManagedRefusesExistingAccount)
}

func testManagedRefusesExistingAccount(t *testing.T, srv testenv.Server) {
	user := newUser("local")
	if err := srv.Register(t.Context(), user, "the-local-password"); err != nil {
		t.Fatal(err)
	}
	cfg := serverConfig(t, srv, TLSStartTLS)
	var prov provisionLog
	cfg.OnProvision = prov.add
	d, cmds := newDialer(t, cfg)
	if _, err := login(t, d, Credentials{Username: user}); !errors.Is(err, ErrRejected) || errors.Is(err, ErrUnavailable) {
		t.Fatalf("err = %v, want ErrRejected only", err)
	}
	if got, want := cmds.take(), []string{nodeAddUser}; !slices.Equal(got, want) {
		t.Fatalf("commands = %q, want %q (add-user refused, no change-user-password)", got, want)
	}
	if got, want := prov.take(), []string{"take-over-refused/ok"}; !slices.Equal(got, want) {
		t.Fatalf("provisioning events = %q, want %q", got, want)
	}
	if !passwordWorks(t, srv, user, "the-local-password") {
		t.Fatal("the account's own password was changed")
	}
}

// TestManagedTakeOverMissingAccount: with the migration switch on but account
// creation off, a user without an upstream account is refused (Prosody: error
// note "User does not exist"; ejabberd: <item-not-found/>), not told to retry.
func TestManagedTakeOverMissingAccount(t *testing.T) {
	testenv.ForEachServer(t, func(t *testing.T, srv testenv.Server) {
		cfg := serverConfig(t, srv, TLSStartTLS)
		cfg.CreateAccounts, cfg.TakeOverExisting = false, true
		d, cmds := newDialer(t, cfg)
		user := newUser("absent")
		if _, err := login(t, d, Credentials{Username: user}); !errors.Is(err, ErrRejected) || errors.Is(err, ErrUnavailable) {
			t.Fatalf("err = %v, want ErrRejected only", err)
		}
		if got, want := cmds.take(), []string{nodeChangePassword}; !slices.Equal(got, want) {
			t.Fatalf("commands = %q, want %q", got, want)
		}
		if ok, err := srv.UserExists(t.Context(), user); err != nil || ok {
			t.Fatalf("account exists=%v (err %v) after a refused take-over", ok, err)
		}
	})
}

// passwordWorks logs in straight to srv with user's own password.
func passwordWorks(t *testing.T, srv testenv.Server, user, password string) bool {
	t.Helper()
	cfg := serverConfig(t, srv, TLSStartTLS)
	cfg.Credentials = CredPassthrough
	cfg.AdminJID, cfg.ReservedUsernames = "", []string{} // this dialer may check the admin's own password
	p, _ := newDialer(t, cfg)
	_, err := login(t, p, Credentials{Username: user, Password: password})
	if err != nil && !errors.Is(err, ErrRejected) {
		t.Fatalf("passthrough login: %v", err)
	}
	return err == nil
}

func TestManagedWithoutCreateRejects(t *testing.T) {
	testenv.ForEachServer(t, testManagedWithoutCreateRejects)
}

func testManagedWithoutCreateRejects(t *testing.T, srv testenv.Server) {
	cfg := serverConfig(t, srv, TLSStartTLS)
	cfg.CreateAccounts = false
	d, cmds := newDialer(t, cfg)
	_, err := login(t, d, Credentials{Username: newUser("stranger")})
	if !errors.Is(err, ErrRejected) || errors.Is(err, ErrUnavailable) {
		t.Fatalf("err = %v, want ErrRejected only", err)
	}
	if got := cmds.take(); len(got) != 0 {
		t.Fatalf("commands = %q, want none", got)
	}
}

// TestReservedAndFoldedNamesRefused: the admin's localpart, a reserved name, and
// a name the server's Nodeprep would fold onto another account are refused
// before any upstream contact; the admin account keeps working.
func TestReservedAndFoldedNamesRefused(t *testing.T) {
	testenv.ForEachServer(t, testReservedAndFoldedNamesRefused)
}

func testReservedAndFoldedNamesRefused(t *testing.T, srv testenv.Server) {
	victim := newUser("strasse")
	if err := srv.Register(t.Context(), victim, "victim-password"); err != nil {
		t.Fatal(err)
	}
	cfg := serverConfig(t, srv, TLSStartTLS)
	cfg.TakeOverExisting = true // even with the migration switch on
	cfg.ReservedUsernames = []string{"Support"}
	logs := &syncBuffer{}
	cfg.Logger = zerolog.New(logs)
	d, cmds := newDialer(t, cfg)
	adminLocal, _, _ := splitJID(srv.Info().AdminJID)
	folded := strings.Replace(victim, "ss", "ß", 1)
	for _, user := range []string{adminLocal, "support", folded} {
		if _, err := login(t, d, Credentials{Username: user}); !errors.Is(err, ErrRejected) {
			t.Errorf("%q: err = %v, want ErrRejected", user, err)
		}
	}
	if got := cmds.take(); len(got) != 0 {
		t.Fatalf("refused names ran commands %q", got)
	}
	for _, why := range []string{"reserved", "canonical"} {
		if !strings.Contains(logs.String(), why) {
			t.Errorf("no log line says %q:\n%s", why, logs.String())
		}
	}
	if !passwordWorks(t, srv, victim, "victim-password") {
		t.Fatal("the victim's password changed")
	}
	if !passwordWorks(t, srv, adminLocal, srv.Info().AdminPassword) {
		t.Fatal("the admin's password changed")
	}
}

// provisionLog records OnProvision events as "action/outcome".
type provisionLog struct {
	mu     sync.Mutex
	events []string
}

func (p *provisionLog) add(action, outcome string) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.events = append(p.events, action+"/"+outcome)
}

func (p *provisionLog) take() []string {
	p.mu.Lock()
	defer p.mu.Unlock()
	e := p.events
	p.events = nil
	return e
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
	testenv.ForEachServer(t, testManagedAdminNotPrivileged)
}

func testManagedAdminNotPrivileged(t *testing.T, srv testenv.Server) {
	impostor := newUser("notadmin")
	if err := srv.Register(t.Context(), impostor, "impostor-pw"); err != nil {
		t.Fatal(err)
	}
	cfg := serverConfig(t, srv, TLSStartTLS)
	cfg.AdminJID, cfg.AdminPassword = impostor+"@"+srv.Info().Domain, "impostor-pw"
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
	testenv.ForEachServer(t, testPassthrough)
}

func testPassthrough(t *testing.T, srv testenv.Server) {
	user := newUser("pt")
	if err := srv.Register(t.Context(), user, "correct horse"); err != nil {
		t.Fatal(err)
	}
	for _, mode := range []string{TLSStartTLS, TLSDirect} {
		t.Run(mode, func(t *testing.T) {
			cfg := serverConfig(t, srv, mode)
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
	testenv.ForEachServer(t, func(t *testing.T, srv testenv.Server) {
		for _, mode := range tlsModes(srv) {
			d, _ := newDialer(t, serverConfig(t, srv, mode))
			if err := d.Probe(t.Context()); err != nil {
				t.Fatalf("%s: %v", mode, err)
			}
		}
	})
}

func TestTLSVerified(t *testing.T) {
	cfg := prosodyConfig(t, TLSDirect)
	cfg.RootCAs = nil // system pool: the self-signed certificate is not in it
	d, _ := newDialer(t, cfg)
	var unknownCA x509.UnknownAuthorityError
	if err := d.Probe(t.Context()); !errors.Is(err, ErrUnavailable) || !errors.As(err, &unknownCA) {
		t.Fatalf("probe with untrusted certificate: %v, want ErrUnavailable wrapping x509.UnknownAuthorityError", err)
	}
	cfg = prosodyConfig(t, TLSStartTLS)
	cfg.ServerName = "not-localhost.example"
	d, _ = newDialer(t, cfg)
	var wrongName x509.HostnameError
	if err := d.Probe(t.Context()); !errors.Is(err, ErrUnavailable) || !errors.As(err, &wrongName) || wrongName.Host != "not-localhost.example" {
		t.Fatalf("probe with wrong server name: %v, want ErrUnavailable wrapping x509.HostnameError", err)
	}
}
