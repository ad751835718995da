package saslauth

import (
	"context"
	"strings"
	"testing"

	"github.com/xdg-go/scram"
	"mellium.im/sasl"
)

// fakeSCRAM holds SCRAM keys made the way a client derives them, one salt per user.
type fakeSCRAM struct {
	keys   map[string]SCRAMKeys // localpart -> keys
	logins []string             // credential ids SCRAMLogin was asked about
	err    error                // SCRAMLogin's answer, when set
}

var testSalt = []byte("0123456789abcdef")

func newFakeSCRAM(t testing.TB, user string, passwords ...string) *fakeSCRAM {
	f := &fakeSCRAM{keys: map[string]SCRAMKeys{}}
	k := SCRAMKeys{Salt: testSalt, Iterations: 4096}
	for i, pw := range passwords {
		c, err := scram.SHA256.NewClient(user, pw, "")
		if err != nil {
			t.Fatal(err)
		}
		sc := c.GetStoredCredentials(scram.KeyFactors{Salt: string(testSalt), Iters: 4096})
		k.Keys = append(k.Keys, SCRAMKey{CredentialID: "cred" + string(rune('1'+i)), StoredKey: sc.StoredKey, ServerKey: sc.ServerKey})
	}
	f.keys[user] = k
	return f
}

func (f *fakeSCRAM) SCRAMKeys(_ context.Context, user string) (SCRAMKeys, error) {
	if k, ok := f.keys[user]; ok {
		return k, nil
	}
	return SCRAMKeys{Salt: []byte("made-up-salt-" + user), Iterations: 4096}, nil
}

func (f *fakeSCRAM) SCRAMLogin(_ context.Context, user string, match func() string) (Identity, error) {
	id := match()
	if id == "" {
		return Identity{}, ErrInvalidCredentials
	}
	f.logins = append(f.logins, id)
	if f.err != nil {
		return Identity{}, f.err
	}
	return Identity{Username: user, CredentialID: id, GrantID: "grant"}, nil
}

func scramConfig(f *fakeSCRAM) Config {
	return Config{Domain: "example.com", SCRAM: f}
}

var testBinding = ChannelBinding{Type: "tls-exporter", Data: []byte("32 bytes of exported keying data")}

// xdgExchange runs an exchange with xdg-go/scram's client conversation; it
// returns the error of the step that failed (nil: success, server verified).
func xdgExchange(t *testing.T, cfg Config, mech string, ctx context.Context, conv *scram.ClientConversation) (Session, error) {
	t.Helper()
	s, err := cfg.Start(mech)
	if err != nil {
		t.Fatal(err)
	}
	c1, err := conv.Step("")
	if err != nil {
		t.Fatal(err)
	}
	ch, done, err := s.Next(ctx, []byte(c1))
	if err != nil || done {
		return s, err
	}
	c2, err := conv.Step(string(ch))
	if err != nil {
		t.Fatalf("client rejected server-first %q: %v", ch, err)
	}
	v, done, err := s.Next(ctx, []byte(c2))
	if err != nil {
		return s, err
	}
	if !done {
		t.Fatal("exchange not done after client-final")
	}
	if _, err := conv.Step(string(v)); err != nil || !conv.Valid() {
		t.Fatalf("client rejected the server signature %q: %v", v, err)
	}
	return s, nil
}

func xdgClient(t *testing.T, user, pw, authzid string) *scram.Client {
	c, err := scram.SHA256.NewClient(user, pw, authzid)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// TestSCRAMWithMellium: an independent client (mellium.im/sasl) logs in with the
// second of alice's two passwords; the server names that credential, and the
// client checks the server's signature.
func TestSCRAMWithMellium(t *testing.T) {
	f := newFakeSCRAM(t, "alice", "first-pass", "second-pass")
	cfg := scramConfig(f)
	s, err := cfg.Start(MechSCRAMSHA256)
	if err != nil {
		t.Fatal(err)
	}
	client := sasl.NewClient(sasl.ScramSha256, sasl.Credentials(func() ([]byte, []byte, []byte) {
		return []byte("alice"), []byte("second-pass"), nil
	}))
	_, resp, err := client.Step(nil)
	if err != nil {
		t.Fatal(err)
	}
	for i := 0; ; i++ {
		ch, done, err := s.Next(context.Background(), resp)
		if err != nil {
			t.Fatalf("step %d: %v", i, err)
		}
		if _, resp, err = client.Step(ch); err != nil {
			t.Fatalf("client step %d: %v", i, err)
		}
		if done {
			break
		}
	}
	r := s.Result()
	if r.Username != "alice" || r.CredentialID != "cred2" || r.Mechanism != MechSCRAMSHA256 || r.Password != "" {
		t.Fatalf("result %+v, want alice by cred2 and no password", r)
	}
	if len(f.logins) != 1 || f.logins[0] != "cred2" {
		t.Fatalf("SCRAMLogin calls %v, want [cred2]", f.logins)
	}
}

func TestSCRAMWrongPassword(t *testing.T) {
	f := newFakeSCRAM(t, "alice", "first-pass")
	_, err := xdgExchange(t, scramConfig(f), MechSCRAMSHA256, context.Background(),
		xdgClient(t, "alice", "guess", "").NewConversation())
	fl := wantFailure(t, err, NotAuthorized)
	if strings.Contains(fl.Error(), "guess") || len(f.logins) != 0 {
		t.Fatalf("failure %v, logins %v", fl, f.logins)
	}
}

// An unknown user gets a server-first message like anyone (a salt, no sign
// that the name is unknown) and fails only at the proof.
func TestSCRAMUnknownUser(t *testing.T) {
	f := newFakeSCRAM(t, "alice", "first-pass")
	_, err := xdgExchange(t, scramConfig(f), MechSCRAMSHA256, context.Background(),
		xdgClient(t, "mallory", "first-pass", "").NewConversation())
	wantFailure(t, err, NotAuthorized)
}

func TestSCRAMPlus(t *testing.T) {
	f := newFakeSCRAM(t, "alice", "first-pass")
	cfg := scramConfig(f)
	ctx := WithChannelBinding(context.Background(), testBinding)
	cb := scram.ChannelBinding{Type: scram.ChannelBindingTLSExporter, Data: testBinding.Data}
	s, err := xdgExchange(t, cfg, MechSCRAMSHA256Plus, ctx, xdgClient(t, "alice", "first-pass", "").NewConversationWithChannelBinding(cb))
	if err != nil {
		t.Fatal(err)
	}
	if r := s.Result(); r.Mechanism != MechSCRAMSHA256Plus || r.CredentialID != "cred1" {
		t.Fatalf("result %+v", r)
	}
	// Another TLS connection's binding (a relayed exchange) fails.
	other := scram.ChannelBinding{Type: scram.ChannelBindingTLSExporter, Data: []byte("another connection's exporter..")}
	_, err = xdgExchange(t, cfg, MechSCRAMSHA256Plus, ctx, xdgClient(t, "alice", "first-pass", "").NewConversationWithChannelBinding(other))
	wantFailure(t, err, NotAuthorized)
	// A binding type the connection does not offer.
	uniq := scram.ChannelBinding{Type: scram.ChannelBindingTLSUnique, Data: testBinding.Data}
	_, err = xdgExchange(t, cfg, MechSCRAMSHA256Plus, ctx, xdgClient(t, "alice", "first-pass", "").NewConversationWithChannelBinding(uniq))
	wantFailure(t, err, NotAuthorized)
}

// A client that supports binding but saw none offered ("y") while the
// connection offers one was downgraded on the way: refused.
func TestSCRAMDowngradeRefused(t *testing.T) {
	f := newFakeSCRAM(t, "alice", "first-pass")
	ctx := WithChannelBinding(context.Background(), testBinding)
	_, err := xdgExchange(t, scramConfig(f), MechSCRAMSHA256, ctx,
		xdgClient(t, "alice", "first-pass", "").NewConversationAdvertisingChannelBinding())
	fl := wantFailure(t, err, NotAuthorized)
	if fl.Cause != errSCRAMDowngrade {
		t.Fatalf("cause %v, want the downgrade", fl.Cause)
	}
	// Without a binding on offer, "y" is fine.
	if _, err := xdgExchange(t, scramConfig(f), MechSCRAMSHA256, context.Background(),
		xdgClient(t, "alice", "first-pass", "").NewConversationAdvertisingChannelBinding()); err != nil {
		t.Fatal(err)
	}
}

func TestSCRAMFlagMustFitMechanism(t *testing.T) {
	f := newFakeSCRAM(t, "alice", "first-pass")
	ctx := WithChannelBinding(context.Background(), testBinding)
	cfg := scramConfig(f)
	for _, tc := range []struct{ mech, first string }{
		{MechSCRAMSHA256Plus, "n,,n=alice,r=abc"},
		{MechSCRAMSHA256, "p=tls-exporter,,n=alice,r=abc"},
	} {
		s, _ := cfg.Start(tc.mech)
		_, _, err := s.Next(ctx, []byte(tc.first))
		wantFailure(t, err, MalformedRequest)
	}
	// -PLUS on a connection without binding data.
	s, _ := cfg.Start(MechSCRAMSHA256Plus)
	_, _, err := s.Next(context.Background(), []byte("p=tls-exporter,,n=alice,r=abc"))
	wantFailure(t, err, MalformedRequest)
}

func TestSCRAMAuthzid(t *testing.T) {
	f := newFakeSCRAM(t, "alice", "first-pass")
	cfg := scramConfig(f)
	if _, err := xdgExchange(t, cfg, MechSCRAMSHA256, context.Background(),
		xdgClient(t, "alice", "first-pass", "alice@example.com").NewConversation()); err != nil {
		t.Fatal(err)
	}
	_, err := xdgExchange(t, cfg, MechSCRAMSHA256, context.Background(),
		xdgClient(t, "alice", "first-pass", "admin@example.com").NewConversation())
	wantFailure(t, err, InvalidAuthzid)
}

// A credential revoked between the key lookup and the proof check.
func TestSCRAMLoginRefusedAfterProof(t *testing.T) {
	f := newFakeSCRAM(t, "alice", "first-pass")
	f.err = ErrInvalidCredentials
	_, err := xdgExchange(t, scramConfig(f), MechSCRAMSHA256, context.Background(),
		xdgClient(t, "alice", "first-pass", "").NewConversation())
	wantFailure(t, err, NotAuthorized)
	f.err = ErrTemporary
	_, err = xdgExchange(t, scramConfig(f), MechSCRAMSHA256, context.Background(),
		xdgClient(t, "alice", "first-pass", "").NewConversation())
	wantFailure(t, err, TemporaryAuthFailure)
}

func TestSCRAMMalformed(t *testing.T) {
	cfg := scramConfig(newFakeSCRAM(t, "alice", "first-pass"))
	for _, first := range []string{"", "n,,", "n,,m=ext,n=alice,r=abc", "n,,n=al=ZZice,r=abc", "x,,n=alice,r=abc",
		"n,,n=alice,r=abc" + strings.Repeat("x", maxSCRAMMessage)} {
		s, _ := cfg.Start(MechSCRAMSHA256)
		ch, done, err := s.Next(context.Background(), []byte(first))
		wantFailure(t, err, MalformedRequest)
		if !done || ch != nil {
			t.Fatalf("%q: failure with done=%v challenge=%q", first, done, ch)
		}
	}
	// A good first message, then garbage and a wrong nonce.
	for _, final := range []string{"garbage", "c=biws,r=not-the-nonce,p=AAAA"} {
		s, _ := cfg.Start(MechSCRAMSHA256)
		if _, _, err := s.Next(context.Background(), []byte("n,,n=alice,r=abc")); err != nil {
			t.Fatal(err)
		}
		_, _, err := s.Next(context.Background(), []byte(final))
		wantFailure(t, err, MalformedRequest)
	}
}

// The server's nonce is fresh per exchange and extends the client's.
func TestSCRAMServerFirst(t *testing.T) {
	cfg := scramConfig(newFakeSCRAM(t, "alice", "first-pass"))
	seen := map[string]bool{}
	for range 3 {
		s, _ := cfg.Start(MechSCRAMSHA256)
		ch, done, err := s.Next(context.Background(), []byte("n,,n=alice,r=clientnonce"))
		if err != nil || done {
			t.Fatal(err, done)
		}
		parts := strings.Split(string(ch), ",")
		if len(parts) != 3 || !strings.HasPrefix(parts[0], "r=clientnonce") || len(parts[0]) < len("r=clientnonce")+16 ||
			parts[1] != "s=MDEyMzQ1Njc4OWFiY2RlZg==" || parts[2] != "i=4096" || seen[parts[0]] {
			t.Fatalf("server-first %q", ch)
		}
		seen[parts[0]] = true
	}
}

// FuzzSCRAM: any client-first and client-final message ends in a challenge,
// a *Failure with a known condition, or (never, without the password) success.
func FuzzSCRAM(f *testing.F) {
	f.Add("n,,n=alice,r=abc", "c=biws,r=abc,p=AAAA", false)
	f.Add("p=tls-exporter,a=alice@example.com,n=alice,r=abc", "c=cD10bHMtZXhwb3J0ZXIsLA==,r=abc,p=dGVzdA==", true)
	f.Add("y,,n=al=2Cice,r=abc", "c=eSws,r=abc,p=", false)
	fake := newFakeSCRAM(f, "alice", "first-pass")
	cfg := scramConfig(fake)
	f.Fuzz(func(t *testing.T, first, final string, plus bool) {
		mech := MechSCRAMSHA256
		if plus {
			mech = MechSCRAMSHA256Plus
		}
		ctx := WithChannelBinding(context.Background(), testBinding)
		s, err := cfg.Start(mech)
		if err != nil {
			t.Fatal(err)
		}
		ch, done, err := s.Next(ctx, []byte(first))
		checkStep(t, s, ch, done, err)
		if done {
			return
		}
		if !strings.HasPrefix(string(ch), "r=") && len(ch) != 0 {
			t.Fatalf("challenge %q is no server-first message", ch)
		}
		ch, done, err = s.Next(ctx, []byte(final))
		checkStep(t, s, ch, done, err)
		if err == nil && done {
			t.Fatalf("a made-up proof was accepted: %q %q", first, final)
		}
	})
}
