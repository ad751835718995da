package upstream

import (
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/rs/zerolog"
)

// After Login the stream sits at the restart point: a restart header written on
// Session.Conn gets the upstream's post-SASL features (bind), and the session is
// the user's.
func TestHandoffAtRestartPoint(t *testing.T) {
	for _, mode := range []string{TLSStartTLS, TLSDirect} {
		t.Run(mode, func(t *testing.T) {
			cfg := prosodyConfig(t, mode)
			d, _ := newDialer(t, cfg)
			user := newUser("handoff")
			s, err := login(t, d, Credentials{Username: user})
			if err != nil {
				t.Fatal(err)
			}
			if len(s.Buffered) != 0 {
				t.Fatalf("unexpected bytes after <success/>: %q", s.Buffered)
			}
			_ = s.Conn.SetDeadline(time.Now().Add(10 * time.Second))
			if _, err := s.Conn.Write([]byte(streamHeader(cfg.Domain) +
				"<iq type='set' id='b1'><bind xmlns='urn:ietf:params:xml:ns:xmpp-bind'><resource>r</resource></bind></iq>")); err != nil {
				t.Fatal(err)
			}
			r := newXMLReader(s.Conn)
			f, err := readFeatures(r)
			if err != nil {
				t.Fatal(err)
			}
			if f.Bind == nil || len(f.Mechanisms) != 0 {
				t.Fatalf("features after restart: %+v, want bind and no SASL", f)
			}
			se, err := r.next()
			if err != nil {
				t.Fatal(err)
			}
			var res struct {
				Type string `xml:"type,attr"`
				JID  string `xml:"urn:ietf:params:xml:ns:xmpp-bind bind>jid"`
			}
			if err := r.decode(&res, se); err != nil {
				t.Fatal(err)
			}
			if want := user + "@" + cfg.Domain + "/r"; res.Type != "result" || res.JID != want {
				t.Fatalf("bind: type %q jid %q, want result %q", res.Type, res.JID, want)
			}
		})
	}
}

// Secrets (managed secret, user and admin passwords) appear in no log line and no
// error, whatever happens.
func TestSecretsNeverLogged(t *testing.T) {
	var buf syncBuffer
	cfg := prosodyConfig(t, TLSStartTLS)
	cfg.Logger = debugLogger(&buf)
	d, _ := newDialer(t, cfg)
	user := newUser("secret")
	secret := managedPassword(testKey, user+"@"+cfg.Domain)
	var errs []error
	_, err := login(t, d, Credentials{Username: user}) // provisions: the secret crosses the admin session
	errs = append(errs, err)
	if err != nil {
		t.Fatal(err)
	}

	bad := cfg
	bad.AdminPassword = "admin-password-that-is-wrong"
	bd, _ := newDialer(t, bad)
	_, err = login(t, bd, Credentials{Username: newUser("other")})
	errs = append(errs, err)

	pt := cfg
	pt.Credentials = CredPassthrough
	pd, _ := newDialer(t, pt)
	_, err = login(t, pd, Credentials{Username: user, Password: "typed-password-1234"})
	errs = append(errs, err)

	logs := buf.String()
	if !strings.Contains(logs, user) {
		t.Fatalf("expected log lines about %s, got %q", user, logs)
	}
	for _, s := range []string{secret, cfg.AdminPassword, bad.AdminPassword, "typed-password-1234", string(testKey)} {
		if strings.Contains(logs, s) {
			t.Errorf("logs contain a secret")
		}
		for _, e := range errs {
			if e != nil && strings.Contains(e.Error(), s) {
				t.Errorf("error %q contains a secret", e)
			}
		}
	}
}

func TestConfigValidation(t *testing.T) {
	good := Config{Domain: "example.org", Address: "xmpp.example.org:5222", SecretKey: testKey,
		AdminJID: "admin@example.org", AdminPassword: "pw"}
	cases := []struct {
		name string
		edit func(*Config)
		ok   bool
	}{
		{"defaults", func(*Config) {}, true},
		{"none remote", func(c *Config) { c.TLSMode = TLSNone }, false},
		{"none remote allowed", func(c *Config) { c.TLSMode = TLSNone; c.AllowPlaintext = true }, true},
		{"none loopback", func(c *Config) { c.TLSMode = TLSNone; c.Address = "127.0.0.1:5222" }, true},
		{"none localhost", func(c *Config) { c.TLSMode = TLSNone; c.Address = "localhost:5222" }, true},
		{"none v6 loopback", func(c *Config) { c.TLSMode = TLSNone; c.Address = "[::1]:5222" }, true},
		{"bad tls mode", func(c *Config) { c.TLSMode = "tls" }, false},
		{"no domain", func(c *Config) { c.Domain = "" }, false},
		{"no port", func(c *Config) { c.Address = "xmpp.example.org" }, false},
		{"short key", func(c *Config) { c.SecretKey = []byte("short") }, false},
		{"no admin", func(c *Config) { c.AdminJID = "" }, false},
		{"admin full jid", func(c *Config) { c.AdminJID = "admin@example.org/res" }, false},
		{"passthrough needs no admin", func(c *Config) { c.Credentials = CredPassthrough; c.AdminJID = ""; c.SecretKey = nil }, true},
		{"token", func(c *Config) { c.Credentials = CredToken; c.SecretKey = nil }, true},
		{"bad strategy", func(c *Config) { c.Credentials = "ldap" }, false},
	}
	for _, tc := range cases {
		c := good
		tc.edit(&c)
		d, err := New(c)
		if tc.ok != (err == nil) {
			t.Errorf("%s: err = %v, want ok=%v", tc.name, err, tc.ok)
		}
		if err != nil && !errors.Is(err, ErrConfig) {
			t.Errorf("%s: %v is not ErrConfig", tc.name, err)
		}
		if err == nil {
			if d.cfg.ServerName != c.Domain || d.cfg.DialTimeout != 5*time.Second || d.cfg.LoginTimeout != 10*time.Second {
				t.Errorf("%s: defaults not applied: %+v", tc.name, d.cfg)
			}
		}
	}
	// The config error names no secret either.
	c := good
	c.AdminPassword = "hunter2-admin"
	c.Address = "bad"
	if _, err := New(c); err == nil || strings.Contains(err.Error(), "hunter2") {
		t.Errorf("err = %v", err)
	}
}

func TestBadUsernamesRejectedLocally(t *testing.T) {
	d, err := New(Config{Domain: "localhost", Address: closedPort(t), Credentials: CredPassthrough, Logger: zerolog.Nop()})
	if err != nil {
		t.Fatal(err)
	}
	for _, u := range []string{"", "a@b", "a/b", "a'b", "a<b", "a b", "a\x00b"} {
		if _, err := d.Login(t.Context(), Credentials{Username: u, Password: "x"}); !errors.Is(err, ErrRejected) {
			t.Errorf("%q: err = %v, want ErrRejected", u, err)
		}
	}
}
