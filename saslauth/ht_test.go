package saslauth

import (
	"bytes"
	"context"
	"errors"
	"strings"
	"testing"
)

// fakeFAST holds one token per localpart; it checks what HT asks like a store.
type fakeFAST struct {
	tokens map[string]string
	err    error
}

func (f *fakeFAST) VerifyFAST(_ context.Context, username, _ string, match func([]byte) bool) (Identity, []byte, error) {
	if f.err != nil {
		return Identity{}, nil, f.err
	}
	tok, ok := f.tokens[username]
	if !ok || !match([]byte(tok)) {
		return Identity{}, nil, ErrInvalidCredentials
	}
	return Identity{Username: username, CredentialID: "fast-1", GrantID: "g-1"}, []byte(tok), nil
}

func fastConfig(f FASTVerifier) Config {
	return Config{Domain: "example.com", FAST: f}
}

// htMessage is what a client sends: authcid NUL HMAC(token, "Initiator" || cb).
func htMessage(user, token string, cb []byte) []byte {
	return append([]byte(user+"\x00"), htHMAC([]byte(token), "Initiator", cb)...)
}

// TestHTLogin: the token's HMAC with the channel binding lets the user in and
// the answer is the responder HMAC (what xmpp.js and go-xmpp verify); a proof
// over other binding data, a wrong token, a malformed message or a missing
// FAST context fail with the right condition.
func TestHTLogin(t *testing.T) {
	f := &fakeFAST{tokens: map[string]string{"alice": "tok-alice"}}
	cb := []byte("exporter-bytes")
	ctx := WithFASTInput(context.Background(), FASTInput{UserAgentID: "ua", Count: -1, Binding: cb})
	s, err := fastConfig(f).StartFAST(MechHTExpr)
	if err != nil {
		t.Fatal(err)
	}
	data, done, err := s.Next(ctx, htMessage("Alice", "tok-alice", cb))
	if err != nil || !done || !bytes.Equal(data, htHMAC([]byte("tok-alice"), "Responder", cb)) {
		t.Fatalf("HT login: data %x done %v err %v", data, done, err)
	}
	if r := s.Result(); r.Username != "alice" || r.Mechanism != MechHTExpr || r.CredentialID != "fast-1" {
		t.Fatalf("result %+v", r)
	}
	for name, c := range map[string]struct {
		ctx  context.Context
		msg  []byte
		cond string
	}{
		"other binding": {ctx, htMessage("alice", "tok-alice", []byte("other")), NotAuthorized},
		"wrong token":   {ctx, htMessage("alice", "tok-bob", cb), NotAuthorized},
		"short hmac":    {ctx, []byte("alice\x00abc"), MalformedRequest},
		"no authcid":    {ctx, htMessage("", "tok-alice", cb), MalformedRequest},
		"no message":    {ctx, nil, MalformedRequest},
		"bad username":  {ctx, htMessage("a@other.org", "tok-alice", cb), NotAuthorized},
		"no input":      {context.Background(), htMessage("alice", "tok-alice", cb), TemporaryAuthFailure},
	} {
		s, _ := fastConfig(f).StartFAST(MechHTExpr)
		_, _, err := s.Next(c.ctx, c.msg)
		f := wantFailure(t, err, c.cond)
		if strings.Contains(f.Error(), "tok-alice") {
			t.Errorf("%s: failure names the token: %v", name, f)
		}
	}
	if _, err := fastConfig(f).StartFAST(MechPlain); err == nil {
		t.Error("StartFAST accepted PLAIN")
	}
	if _, err := (Config{Domain: "example.com"}).StartFAST(MechHTNone); err == nil {
		t.Error("StartFAST without a verifier")
	}
	if _, err := fastConfig(f).Start(MechHTNone); err == nil {
		t.Error("Start offers an HT mechanism as ordinary SASL")
	}
	f.err = errors.Join(ErrTemporary, errors.New("store down"))
	s, _ = fastConfig(f).StartFAST(MechHTNone)
	_, _, err = s.Next(ctx, htMessage("alice", "tok-alice", cb))
	wantFailure(t, err, TemporaryAuthFailure)
}

func FuzzHT(f *testing.F) {
	f.Add(htMessage("alice", "tok-alice", nil))
	f.Add([]byte("alice\x00"))
	f.Fuzz(func(t *testing.T, msg []byte) {
		ctx := WithFASTInput(context.Background(), FASTInput{Count: -1})
		s, err := fastConfig(&fakeFAST{tokens: map[string]string{"alice": "tok-alice"}}).StartFAST(MechHTNone)
		if err != nil {
			t.Fatal(err)
		}
		ch, done, err := s.Next(ctx, msg)
		if !done {
			t.Fatal("HT asked for more")
		}
		if err == nil {
			checkStep(t, s, nil, done, nil)
			if len(ch) != 32 {
				t.Fatalf("responder message of %d bytes", len(ch))
			}
			return
		}
		checkStep(t, s, nil, done, err)
	})
}
