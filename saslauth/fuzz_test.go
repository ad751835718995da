package saslauth

import (
	"bytes"
	"context"
	"errors"
	"testing"
	"unicode/utf8"

	"mellium.im/xmpp/jid"
)

// checkStep asserts the Session contract for one step: errors are *Failure with a
// known condition and end the exchange; success leaves a usable Result.
func checkStep(t *testing.T, s Session, ch []byte, done bool, err error) {
	t.Helper()
	if err != nil {
		var f *Failure
		if !errors.As(err, &f) || !knownConditions[f.Condition] {
			t.Fatalf("error %v (%T) is not a *Failure with a known condition", err, err)
		}
		if !done || ch != nil {
			t.Fatalf("failure with done=%v challenge=%q", done, ch)
		}
		if s.Result() != (Result{}) {
			t.Fatalf("result after failure: %+v", s.Result())
		}
		return
	}
	if done {
		r := s.Result()
		if _, jerr := jid.New(r.Username, "example.com", ""); jerr != nil || r.Username == "" || r.Mechanism == "" {
			t.Fatalf("success with unusable result %+v", r)
		}
	}
}

// run drives a session through up to three client messages.
func run(t *testing.T, cfg Config, mech string, msgs ...[]byte) {
	s, err := cfg.Start(mech)
	if err != nil {
		t.Fatal(err)
	}
	for _, m := range msgs {
		ch, done, err := s.Next(context.Background(), m)
		checkStep(t, s, ch, done, err)
		if done {
			return
		}
		// The only challenges are "send your response" and the RFC 7628 error.
		if len(ch) != 0 && !bytes.Equal(ch, cfg.ErrorChallenge()) {
			t.Fatalf("unexpected challenge %q", ch)
		}
	}
}

func FuzzPlain(f *testing.F) {
	f.Add([]byte("\x00alice\x00secret"), false)
	f.Add([]byte("alice@example.com\x00ALICE@example.com\x00secret"), true)
	f.Fuzz(func(t *testing.T, msg []byte, noInitial bool) {
		if noInitial {
			run(t, plainConfig(newFakePlain()), "PLAIN", nil, msg, msg)
		} else {
			run(t, plainConfig(newFakePlain()), "PLAIN", msg, msg)
		}
	})
}

func FuzzOAuthBearer(f *testing.F) {
	f.Add([]byte("n,,\x01auth=Bearer tok-alice\x01\x01"), []byte{kvsep}, false)
	f.Add([]byte("n,,\x01auth=Bearer \x01\x01"), []byte{kvsep}, true)
	f.Fuzz(func(t *testing.T, msg, second []byte, noInitial bool) {
		if noInitial {
			run(t, bearerConfig(newFakeBearer()), "OAUTHBEARER", nil, msg, second)
		} else {
			run(t, bearerConfig(newFakeBearer()), "OAUTHBEARER", msg, second, second)
		}
	})
}

func FuzzGS2Header(f *testing.F) {
	f.Add([]byte("n,a=a=2Cb@example.com,\x01"))
	f.Fuzz(func(t *testing.T, msg []byte) {
		authzid, rest, err := parseGS2Header(msg)
		if err != nil {
			return
		}
		if !bytes.HasSuffix(msg, rest) || len(rest) >= len(msg) {
			t.Fatalf("rest %q is not a proper suffix of %q", rest, msg)
		}
		if !utf8.ValidString(authzid) || bytes.IndexByte([]byte(authzid), 0) >= 0 {
			t.Fatalf("bad authzid %q", authzid)
		}
	})
}
