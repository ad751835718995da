package testenv

import (
	"encoding/xml"
	"strings"
	"testing"
)

// iqReply is the part of an <iq/> answer the XEP-0133 test reads.
type iqReply struct {
	ID      string `xml:"id,attr"`
	Type    string `xml:"type,attr"`
	Command *struct {
		SessionID string `xml:"sessionid,attr"`
		Status    string `xml:"status,attr"`
	} `xml:"http://jabber.org/protocol/commands command"`
}

// iq sends an <iq/> and returns the answer with the same id, skipping any
// other stanza.
func (c *xmppClient) iq(id, stanza string) iqReply {
	c.t.Helper()
	c.send(stanza)
	for range 20 {
		var r iqReply
		if name := c.next(&r); name.Local == "iq" && r.ID == id {
			return r
		}
	}
	c.t.Fatalf("no answer to iq %s", id)
	return iqReply{}
}

// TestAdminAddsUser checks that AdminJID may run XEP-0133 add-user (Prosody:
// mod_admin_adhoc; ejabberd: mod_configure), as the proxy's managed mode does.
func TestAdminAddsUser(t *testing.T) {
	ForEachServer(t, testAdminAddsUser)
}

func testAdminAddsUser(t *testing.T, srv Server) {
	ctx, p := testCtx(t), srv.Info()
	user := "grace" + randomSecret()[:8]
	admin, _, _ := strings.Cut(p.AdminJID, "@")

	c, _ := dialXMPP(t, p, false)
	if got := c.plainLogin(admin, p.AdminPassword); got != "success" {
		t.Fatalf("admin login: <%s>", got)
	}
	c.open(p.Domain)
	if r := c.iq("b", "<iq type='set' id='b'><bind xmlns='urn:ietf:params:xml:ns:xmpp-bind'/></iq>"); r.Type != "result" {
		t.Fatalf("bind: %+v", r)
	}
	const node = "http://jabber.org/protocol/admin#add-user"
	r := c.iq("c1", "<iq type='set' id='c1' to='"+p.Domain+"'><command xmlns='http://jabber.org/protocol/commands' node='"+node+"' action='execute'/></iq>")
	if r.Type != "result" || r.Command == nil || r.Command.SessionID == "" {
		t.Fatalf("execute add-user: %+v", r)
	}
	field := func(name, value string) string {
		var b strings.Builder
		b.WriteString("<field var='" + name + "'><value>")
		xml.EscapeText(&b, []byte(value))
		b.WriteString("</value></field>")
		return b.String()
	}
	r = c.iq("c2", "<iq type='set' id='c2' to='"+p.Domain+"'><command xmlns='http://jabber.org/protocol/commands' node='"+node+
		"' sessionid='"+r.Command.SessionID+"'><x xmlns='jabber:x:data' type='submit'>"+
		field("FORM_TYPE", "http://jabber.org/protocol/admin")+field("accountjid", user+"@"+p.Domain)+
		field("password", "grace-pw")+field("password-verify", "grace-pw")+"</x></command></iq>")
	if r.Type != "result" || r.Command == nil || r.Command.Status != "completed" {
		t.Fatalf("submit add-user: %+v", r)
	}
	if ok, err := srv.UserExists(ctx, user); err != nil || !ok {
		t.Fatalf("after add-user: exists=%v err=%v", ok, err)
	}
	c2, _ := dialXMPP(t, p, true)
	if got := c2.plainLogin(user, "grace-pw"); got != "success" {
		t.Fatalf("login as the added user: <%s>", got)
	}
}
