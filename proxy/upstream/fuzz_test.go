package upstream

import (
	"bytes"
	"errors"
	"net"
	"testing"
	"time"
)

// replayConn plays back what the upstream "sent" and swallows what we write.
type replayConn struct {
	net.Conn // nil: only the methods below are used
	r        *bytes.Reader
}

func (c *replayConn) Read(p []byte) (int, error)       { return c.r.Read(p) }
func (c *replayConn) Write(p []byte) (int, error)      { return len(p), nil }
func (c *replayConn) Close() error                     { return nil }
func (c *replayConn) SetDeadline(time.Time) error      { return nil }
func (c *replayConn) SetReadDeadline(time.Time) error  { return nil }
func (c *replayConn) SetWriteDeadline(time.Time) error { return nil }

// FuzzUpstreamResponse feeds arbitrary upstream bytes through the stream reader
// and a SASL exchange (the first byte picks PLAIN, SCRAM-SHA-1 or OAUTHBEARER).
// The login must end, classify its error, and on success give back exactly the
// bytes that followed <success/>.
// Seeds: testdata/fuzz/FuzzUpstreamResponse.
func FuzzUpstreamResponse(f *testing.F) {
	f.Fuzz(func(t *testing.T, data []byte) {
		if len(data) == 0 {
			return
		}
		conn := &replayConn{r: bytes.NewReader(data[1:])}
		w := &wire{conn: conn, r: newXMLReader(conn), secure: true, stop: func() bool { return true }}
		feats, err := readFeatures(w.r)
		if err != nil {
			return
		}
		if len(feats.Mechanisms) > 64 {
			t.Fatal("unbounded mechanism list accepted")
		}
		var m mechanism
		switch data[0] % 3 {
		case 0:
			m = &plainMech{user: "u", password: "p"}
		case 1:
			c, err := newScramClients(1).get("SCRAM-SHA-1", "u", "p")
			if err != nil {
				t.Fatal(err)
			}
			m = &scramMech{mech: "SCRAM-SHA-1", conv: c.NewConversation()}
		default:
			m = &oauthBearerMech{jid: "u@localhost", token: "t"}
		}
		err = authenticate(w, m)
		if err != nil {
			if !errors.Is(err, ErrUnavailable) && !errors.Is(err, ErrRejected) {
				t.Fatalf("unclassified error: %v", err)
			}
			return
		}
		s, err := handoff(w)
		if err != nil {
			return
		}
		// The handoff point is right behind an element's '>' and Buffered is
		// exactly what came after it.
		in := data[1:]
		consumed := len(in) - conn.r.Len() - len(s.Buffered)
		if consumed < 1 || in[consumed-1] != '>' {
			t.Fatalf("handoff not at an element end (offset %d)", consumed)
		}
		if !bytes.Equal(in[consumed:consumed+len(s.Buffered)], s.Buffered) {
			t.Fatalf("buffered bytes lost or reordered")
		}
	})
}

// FuzzAdminReply feeds arbitrary bytes to the admin stream's reply parsing.
// Seeds: testdata/fuzz/FuzzAdminReply (Prosody- and ejabberd-shaped replies).
func FuzzAdminReply(f *testing.F) {
	f.Fuzz(func(t *testing.T, data []byte) {
		conn := &replayConn{r: bytes.NewReader(data)}
		r := newXMLReader(conn)
		if _, err := r.openStream(); err != nil {
			return
		}
		for range 16 {
			se, err := r.next()
			if err != nil {
				return
			}
			var iq iqReply
			if err := r.decode(&iq, se); err != nil {
				return
			}
			_ = iq.condition()
			if ce := submitRefusal("n", &iq); ce != nil && ce.Condition == "" {
				t.Fatal("refusal without a condition")
			}
			if res, err := commandReply("n", &iq); err == nil && res == nil {
				t.Fatal("nil command without error")
			} else if err != nil && !errors.Is(err, ErrUnavailable) {
				t.Fatalf("unclassified error: %v", err)
			}
		}
	})
}
