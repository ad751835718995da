package saslauth

import (
	"errors"
	"net/url"
	"strings"
	"testing"
)

// A password or token must not reach Failure.Error() or Text, nor any error a
// logger can reach by unwrapping, whatever the Authenticator put in its error.
func TestSecretsNeverInFailures(t *testing.T) {
	const secret = "S3cr3t+Pw/ü"
	const token = "tok-s3cr3t"
	var fails []*Failure
	collect := func(err error) {
		t.Helper()
		var f *Failure
		if !errors.As(err, &f) {
			t.Fatalf("not a *Failure: %v", err)
		}
		fails = append(fails, f)
	}
	for _, class := range []error{ErrInvalidCredentials, ErrTemporary, errors.New("unclassified")} {
		a := &fakeAuth{err: leakyErr(class, secret+" "+url.QueryEscape(secret))}
		_, err := plainOnce(t, plainConfig(a), "\x00alice\x00"+secret)
		collect(err)

		b := &fakeAuth{err: leakyErr(class, token)}
		s, _, done, err := bearerStep(t, bearerConfig(b), bearerMsg("n,,", "Bearer "+token))
		if !done {
			_, _, err = s.Next(t.Context(), []byte{kvsep})
		}
		collect(err)
	}
	// Malformed messages carrying the secret.
	_, err := plainOnce(t, plainConfig(newFakePlain()), "\x00alice\x00"+secret+"\x00x")
	collect(err)
	_, _, _, err = bearerStep(t, bearerConfig(newFakeBearer()), bearerMsg("n,,", "Bearer "+token+"!"))
	collect(err)

	for _, f := range fails {
		for e := error(f); e != nil; e = errors.Unwrap(e) {
			for _, s := range []string{secret, url.QueryEscape(secret), token} {
				if strings.Contains(e.Error(), s) || strings.Contains(f.Text, s) {
					t.Errorf("secret in failure %q (text %q)", e.Error(), f.Text)
				}
			}
		}
	}
}

// Redaction must keep the error classes visible to errors.Is.
func TestRedactedCauseKeepsClass(t *testing.T) {
	for _, class := range []error{ErrInvalidCredentials, ErrTemporary} {
		f := authFailure(leakyErr(class, "pw"), "pw")
		if !errors.Is(f, class) {
			t.Errorf("errors.Is(%v, %v) = false", f, class)
		}
		if strings.Contains(f.Error(), "pw") {
			t.Errorf("secret in %q", f.Error())
		}
	}
}
