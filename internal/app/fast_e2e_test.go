package app_test

import (
	"crypto/hmac"
	"crypto/sha256"
	"crypto/tls"
	"encoding/base64"
	"strings"
	"testing"
)

// htProof is an HT-SHA-256-* initial response: user NUL HMAC(token, "Initiator" || cb).
func htProof(user, token string, cb []byte) []byte {
	return append([]byte(user+"\x00"), htMAC(token, "Initiator", cb)...)
}

func htMAC(token, label string, cb []byte) []byte {
	m := hmac.New(sha256.New, []byte(token))
	m.Write([]byte(label))
	m.Write(cb)
	return m.Sum(nil)
}

const (
	fastUA  = "<user-agent id='7d0e5a1c-2b9f-4c3e-8a61-d2f0b7c9e410'><software>raw FAST</software><device>ci</device></user-agent>"
	fastUA2 = "<user-agent id='1c9b7e22-0d4f-4f7a-b0a5-6e3d2c1b0a99'><software>raw FAST</software><device>tablet</device></user-agent>"
)

// fastToken logs alice in with an app password over SASL2 and asks for a
// FAST token for mech; it returns the token.
func (s *stack) fastToken(t *testing.T, password, mech, ua string) string {
	t.Helper()
	c, f := s.dialRaw(t, true)
	if !strings.Contains(f.Inner, "urn:xmpp:fast:0") || !strings.Contains(f.Inner, mech) {
		t.Fatalf("FAST %s not offered: %s", mech, f.Inner)
	}
	ok := wantSASL2Success(t, c.authenticate2("PLAIN", plainPayload("", "alice", password),
		ua+"<bind xmlns='urn:xmpp:bind:0'><tag>fast</tag></bind><request-token xmlns='urn:xmpp:fast:0' mechanism='"+mech+"'/>"))
	if ok.Token == nil || ok.Token.Token == "" || ok.Token.Expiry == "" {
		t.Fatalf("no FAST token in success (authzid %s)", ok.AuthzID)
	}
	c.send("</stream:stream>")
	c.conn.Close()
	return ok.Token.Token
}

// TestFASTRawClient: a login with the IdP password gets no FAST token (no
// grant to hang it off); after an app-password login that asked for one, a FAST
// token logs alice in over SASL2 with HT-SHA-256-NONE and, bound to the TLS
// channel, HT-SHA-256-EXPR, each with Bind2 and the responder proof, without
// a single request to the IdP; a counter that does not grow is refused as a
// failed login; the token never shows in the logs; revoking it at the store
// ends the live session (the other device's goes on) and refuses the next
// login; revoking the app password ends the tokens its logins minted.
func TestFASTRawClient(t *testing.T) {
	s := startStack(t, storeConfig(t, "15m"))
	ap, pw := s.newAppPassword(t, "alice", s.env.IdP.Users["alice"], "laptop")
	// The IdP password has no stored grant a token could hang off: none is minted.
	nogrant, _ := s.dialRaw(t, true)
	if ok := wantSASL2Success(t, nogrant.authenticate2("PLAIN", plainPayload("", "alice", s.env.IdP.Users["alice"]),
		fastUA+"<request-token xmlns='urn:xmpp:fast:0' mechanism='HT-SHA-256-NONE'/>")); ok.Token != nil {
		t.Fatal("a FAST token was minted for a password-grant login")
	}
	nogrant.conn.Close()
	token := s.fastToken(t, pw, "HT-SHA-256-NONE", fastUA)
	if aps, err := s.app.CredentialStore().List(t.Context(), s.jid("alice")); err != nil || aps[0].LastUsedAgent != "raw FAST ci" {
		t.Fatalf("the app password's last use names %q (%v), want the client's user-agent", aps[0].LastUsedAgent, err)
	}
	idp := s.tokenRequests(t)

	c, _ := s.dialRaw(t, true)
	ok := wantSASL2Success(t, c.authenticate2("HT-SHA-256-NONE", htProof("alice", token, nil),
		fastUA+"<bind xmlns='urn:xmpp:bind:0'><tag>fast</tag></bind><fast xmlns='urn:xmpp:fast:0' count='1'/>"))
	if ok.Bound == nil || ok.Data != base64.StdEncoding.EncodeToString(htMAC(token, "Responder", nil)) {
		t.Fatalf("FAST success: bound %v, additional data %q", ok.Bound != nil, ok.Data)
	}
	c.next() // features
	c.ping(t, "ping1")

	replay, _ := s.dialRaw(t, true)
	wantSASL2Failure(t, replay.authenticate2("HT-SHA-256-NONE", htProof("alice", token, nil),
		fastUA+"<fast xmlns='urn:xmpp:fast:0' count='1'/>"), "not-authorized")
	replay.conn.Close()

	exprToken := s.fastToken(t, pw, "HT-SHA-256-EXPR", fastUA2)
	e, _ := s.dialRaw(t, true)
	st := e.conn.(*tls.Conn).ConnectionState()
	cb, err := st.ExportKeyingMaterial("EXPORTER-Channel-Binding", nil, 32)
	if err != nil {
		t.Fatal(err)
	}
	wantSASL2Failure(t, e.authenticate2("HT-SHA-256-EXPR", htProof("alice", exprToken, nil),
		fastUA2+"<fast xmlns='urn:xmpp:fast:0'/>"), "not-authorized") // proof without the binding
	wantSASL2Success(t, e.authenticate2("HT-SHA-256-EXPR", htProof("alice", exprToken, cb),
		fastUA2+"<bind xmlns='urn:xmpp:bind:0'/><fast xmlns='urn:xmpp:fast:0'/>"))
	e.next() // features

	if got := s.tokenRequests(t); got != idp {
		t.Errorf("IdP token requests went from %v to %v during FAST logins, want none", idp, got)
	}
	for _, secret := range []string{token, exprToken, pw} {
		if strings.Contains(s.logs.String(), secret) {
			t.Fatal("a FAST token or app password is in the proxy's log")
		}
	}

	toks, err := s.app.CredentialStore().ListFAST(t.Context(), s.jid("alice"))
	if err != nil || len(toks) != 2 || toks[1].Label != "raw FAST ci" || toks[0].Label != "raw FAST tablet" {
		t.Fatalf("ListFAST = %+v, %v; want the two devices", toks, err)
	}
	if err := s.app.CredentialStore().Revoke(t.Context(), s.jid("alice"), toks[1].ID); err != nil {
		t.Fatal(err)
	}
	wantStreamError(t, c, "not-authorized", "")
	e.ping(t, "ping2") // the other device's FAST session goes on
	again, _ := s.dialRaw(t, true)
	wantSASL2Failure(t, again.authenticate2("HT-SHA-256-NONE", htProof("alice", token, nil),
		fastUA+"<fast xmlns='urn:xmpp:fast:0'/>"), "not-authorized")

	// Revoking the app password takes the tokens its logins minted with it.
	if err := s.app.CredentialStore().Revoke(t.Context(), s.jid("alice"), ap.ID); err != nil {
		t.Fatal(err)
	}
	wantStreamError(t, e, "not-authorized", "")
}

// ping sends an XEP-0199 ping to the server and wants its answer next.
func (c *rawClient) ping(t *testing.T, id string) {
	t.Helper()
	c.send("<iq type='get' id='" + id + "'><ping xmlns='urn:xmpp:ping'/></iq>")
	if el := c.next(); el.attr("id") != id || el.attr("type") != "result" {
		t.Fatalf("ping %s: got <%s %v>%s", id, el.XMLName.Local, el.Attrs, el.Inner)
	}
}

// TestFASTUniqOnTLS12: on a TLS 1.2 connection the proxy offers
// HT-SHA-256-UNIQ, and a token bound to it logs in with the tls-unique of that
// connection only.
func TestFASTUniqOnTLS12(t *testing.T) {
	s := startStack(t, storeConfig(t, "15m"))
	_, pw := s.newAppPassword(t, "alice", s.env.IdP.Users["alice"], "old phone")
	dial12 := func() (*rawClient, element) {
		cfg := s.tlsConfig()
		cfg.MaxVersion, cfg.NextProtos = tls.VersionTLS12, []string{"xmpp-client"}
		conn, err := tls.Dial("tcp", s.direct, cfg)
		if err != nil {
			t.Fatal(err)
		}
		c := newRaw(t, conn)
		return c, c.open(s.env.Prosody.Domain)
	}
	c, f := dial12()
	if !strings.Contains(f.Inner, "HT-SHA-256-UNIQ") {
		t.Fatalf("UNIQ not offered on TLS 1.2: %s", f.Inner)
	}
	ok := wantSASL2Success(t, c.authenticate2("PLAIN", plainPayload("", "alice", pw),
		fastUA+"<request-token xmlns='urn:xmpp:fast:0' mechanism='HT-SHA-256-UNIQ'/>"))
	if ok.Token == nil {
		t.Fatal("no UNIQ token")
	}
	c.conn.Close()
	u, _ := dial12()
	unique := u.conn.(*tls.Conn).ConnectionState().TLSUnique
	wantSASL2Failure(t, u.authenticate2("HT-SHA-256-UNIQ", htProof("alice", ok.Token.Token, []byte("another channel")),
		fastUA+"<fast xmlns='urn:xmpp:fast:0'/>"), "not-authorized")
	done := wantSASL2Success(t, u.authenticate2("HT-SHA-256-UNIQ", htProof("alice", ok.Token.Token, unique),
		fastUA+"<fast xmlns='urn:xmpp:fast:0'/>"))
	if done.Data != base64.StdEncoding.EncodeToString(htMAC(ok.Token.Token, "Responder", unique)) {
		t.Fatal("responder proof not bound to tls-unique")
	}
}
