package proxy

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"io"
	"net"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/xmpp-oauth-proxy/xmpp-oauth-proxy/saslauth"
)

// fakeFAST is one user's FAST token store: it verifies like the credential
// store and mints tokens on request.
type fakeFAST struct {
	mu     sync.Mutex
	token  string // juliet's
	minted []UserAgent
	rotate bool
}

func (f *fakeFAST) VerifyFAST(_ context.Context, username, _ string, match func([]byte) bool) (saslauth.Identity, []byte, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if username != "juliet" || !match([]byte(f.token)) {
		return saslauth.Identity{}, nil, saslauth.ErrInvalidCredentials
	}
	return saslauth.Identity{Username: username, CredentialID: "fast-1", GrantID: "g-1"}, []byte(f.token), nil
}

func (f *fakeFAST) IssueFAST(_ context.Context, id saslauth.Identity, _ string, ua UserAgent) (string, time.Time, error) {
	if id.GrantID == "" {
		return "", time.Time{}, ErrNoGrant
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	f.minted = append(f.minted, ua)
	return "new-token", time.Date(2030, 1, 2, 3, 4, 5, 0, time.UTC), nil
}

func (f *fakeFAST) InvalidateFAST(context.Context, saslauth.Identity) error { return nil }
func (f *fakeFAST) RotateFAST(saslauth.Identity) bool                       { return f.rotate }

func withFAST(f *fakeFAST) envOption {
	return func(c *Config) {
		c.Domains[0].FAST = f
		c.Domains[0].SASL.FAST = f
	}
}

var iqID = regexp.MustCompile(`id='([^']+)'`)

// answerBind plays the upstream after its login for a SASL2 client: the
// proxy's own restart header, then its bind request.
func answerBind(c net.Conn) {
	br, _, err := answerRestart(c)
	if err != nil {
		return
	}
	got, err := readThrough(br, "</iq>")
	if err != nil {
		return
	}
	id := iqID.FindStringSubmatch(got)[1]
	_, _ = io.WriteString(c, "<iq type='result' id='"+id+"'><bind xmlns='urn:ietf:params:xml:ns:xmpp-bind'><jid>juliet@example.com/r.1</jid></bind></iq>")
	_, _ = io.Copy(io.Discard, br)
}

func htInitial(token string, cb []byte) string {
	m := hmac.New(sha256.New, []byte(token))
	m.Write([]byte("Initiator"))
	m.Write(cb)
	return base64.StdEncoding.EncodeToString(append([]byte("juliet\x00"), m.Sum(nil)...))
}

const sasl2UA = "<user-agent id='ua-1'><software>t</software></user-agent>"

// TestSASL2FASTOffer: FAST is offered inline only where the domain has a
// token store, and only the mechanisms the connection can bind (TLS 1.3:
// tls-exporter and tls-server-end-point, no tls-unique).
func TestSASL2FASTOffer(t *testing.T) {
	without := newEnv(t, nil)
	wc := without.dial(without.addr)
	wc.startTLS(without.pool)
	if strings.Contains(wc.seen.String(), nsFAST) {
		t.Fatal("FAST offered without a token store")
	}
	with := newEnv(t, nil, withFAST(&fakeFAST{token: "tok"}))
	fc := with.dial(with.addr)
	fc.startTLS(with.pool)
	if !strings.Contains(fc.seen.String(), "<fast xmlns='urn:xmpp:fast:0'><mechanism>HT-SHA-256-EXPR</mechanism><mechanism>HT-SHA-256-ENDP</mechanism><mechanism>HT-SHA-256-NONE</mechanism></fast>") {
		t.Fatalf("FAST offer: %s", fc.seen.String())
	}
}

// TestSASL2FASTFailures: a FAST login without a device is malformed, a
// mechanism the connection cannot bind is invalid, a wrong token is
// not-authorized; each is a SASL2 failure and counts toward the attempt limit.
func TestSASL2FASTFailures(t *testing.T) {
	e := newEnv(t, answerBind, withFAST(&fakeFAST{token: "tok"}))
	c := e.dial(e.addr)
	c.startTLS(e.pool)
	fast := "<fast xmlns='urn:xmpp:fast:0'/>"
	c.send("<authenticate xmlns='urn:xmpp:sasl:2' mechanism='HT-SHA-256-NONE'><initial-response>" + htInitial("tok", nil) + "</initial-response>" + fast + "</authenticate>")
	c.expect("<failure xmlns='urn:xmpp:sasl:2'><malformed-request xmlns='urn:ietf:params:xml:ns:xmpp-sasl'/></failure>")
	c.send("<authenticate xmlns='urn:xmpp:sasl:2' mechanism='HT-SHA-256-UNIQ'><initial-response>" + htInitial("tok", nil) + "</initial-response>" + sasl2UA + fast + "</authenticate>")
	c.expect("<failure xmlns='urn:xmpp:sasl:2'><invalid-mechanism xmlns='urn:ietf:params:xml:ns:xmpp-sasl'/></failure>")
	c.send("<authenticate xmlns='urn:xmpp:sasl:2' mechanism='HT-SHA-256-NONE'><initial-response>" + htInitial("wrong", nil) + "</initial-response>" + sasl2UA + fast + "</authenticate>")
	c.expect("<failure xmlns='urn:xmpp:sasl:2'><not-authorized xmlns='urn:ietf:params:xml:ns:xmpp-sasl'/></failure>")
	c.expect(streamErrorXML(condPolicyViolation))
}

// TestSASL2FASTLoginRotates: a good token logs in with the responder proof and
// the bound JID; when the store says the token is due, <success/> carries a
// new one for the same device, then the features follow.
func TestSASL2FASTLoginRotates(t *testing.T) {
	f := &fakeFAST{token: "tok", rotate: true}
	e := newEnv(t, answerBind, withFAST(f))
	c := e.dial(e.addr)
	c.startTLS(e.pool)
	c.send("<authenticate xmlns='urn:xmpp:sasl:2' mechanism='HT-SHA-256-NONE'><initial-response>" + htInitial("tok", nil) + "</initial-response>" +
		sasl2UA + "<bind xmlns='urn:xmpp:bind:0'><tag>r</tag></bind><fast xmlns='urn:xmpp:fast:0'/></authenticate>")
	m := hmac.New(sha256.New, []byte("tok"))
	m.Write([]byte("Responder"))
	c.expect("<success xmlns='urn:xmpp:sasl:2'><additional-data>" + base64.StdEncoding.EncodeToString(m.Sum(nil)) + "</additional-data>" +
		"<authorization-identifier>juliet@example.com/r.1</authorization-identifier><bound xmlns='urn:xmpp:bind:0'></bound>" +
		"<token xmlns='urn:xmpp:fast:0' expiry='2030-01-02T03:04:05Z' token='new-token'/></success><stream:features></stream:features>")
	f.mu.Lock()
	defer f.mu.Unlock()
	if len(f.minted) != 1 || f.minted[0].ID != "ua-1" || f.minted[0].Software != "t" {
		t.Fatalf("minted for %+v", f.minted)
	}
}
