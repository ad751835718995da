package app_test

import (
	"context"
	"crypto/tls"
	"encoding/base64"
	"encoding/xml"
	"errors"
	"fmt"
	"net"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/xdg-go/scram"
)

// benchConn is a byte-level XMPP client for benchmarks: like rawClient, but it
// returns errors instead of failing a test (its logins run in goroutines) and
// registers no cleanup per connection (a benchmark makes thousands).
type benchConn struct {
	conn net.Conn
	dec  *xml.Decoder
	jid  string // full JID once bound
}

// benchIOTimeout bounds each whole login and each wait for a message.
const benchIOTimeout = 20 * time.Second

// errBench is the class of every protocol surprise in a benchmark login.
var errBench = errors.New("bench client")

func newBenchConn(conn net.Conn) *benchConn {
	return &benchConn{conn: conn, dec: xml.NewDecoder(conn)}
}

func (c *benchConn) send(s string) error {
	_, err := c.conn.Write([]byte(s))
	return err
}

// next reads the next top-level element.
func (c *benchConn) next() (element, error) { return nextElement(c.dec) }

// open sends a stream header and returns the features after the server's header.
func (c *benchConn) open(domain string) (element, error) { return c.openWith(domain, "", "") }

// openWith is open with from= (the client's bare JID) on the header, if set,
// and pipelined sent right behind the header in the same write.
func (c *benchConn) openWith(domain, from, pipelined string) (element, error) {
	header := clientStreamHeader(domain)
	if from != "" {
		header = strings.Replace(header, "<stream:stream ", "<stream:stream from='"+from+"' ", 1)
	}
	if err := c.send(header + pipelined); err != nil {
		return element{}, err
	}
	for range 8 {
		tok, err := c.dec.Token()
		if err != nil {
			return element{}, err
		}
		if se, ok := tok.(xml.StartElement); ok {
			if se.Name.Local != "stream" {
				return element{}, fmt.Errorf("%w: <%s> instead of a stream header", errBench, se.Name.Local)
			}
			return c.next()
		}
	}
	return element{}, fmt.Errorf("%w: no stream header", errBench)
}

// expect reads the next element and checks its name.
func (c *benchConn) expect(name string) (element, error) {
	el, err := c.next()
	if err == nil && el.XMLName.Local != name {
		err = fmt.Errorf("%w: want <%s>, got <%s>%s", errBench, name, el.XMLName.Local, el.Inner)
	}
	return el, err
}

func (c *benchConn) auth(mech string, payload []byte) error {
	return c.send(fmt.Sprintf("<auth xmlns='urn:ietf:params:xml:ns:xmpp-sasl' mechanism='%s'>%s</auth>",
		mech, base64.StdEncoding.EncodeToString(payload)))
}

// loginOpts says where and how a benchmark client logs in.
type loginOpts struct {
	addr     string
	direct   bool // XEP-0368 Direct TLS; else STARTTLS
	tls      *tls.Config
	domain   string
	mech     string // PLAIN | SCRAM-SHA-1 | OAUTHBEARER
	user     string
	secret   string        // password or access token
	scram    *scram.Client // SCRAM-SHA-1: shared, so the salted password is cached like a real client's
	resource string
	quickAck bool // set TCP_QUICKACK before every read (Linux)
	// wrap, when set, sees the raw connection (round-trip counting).
	wrap func(net.Conn) net.Conn
	ws   bool // XMPP over WebSocket (wss://addr/xmpp-websocket)
	// pipeline goes with the post-TLS stream header (XEP-0509: an
	// <authenticate/> that need not wait for the features).
	pipeline string
	// from is the post-TLS stream header's from=, as SASL2 clients send it:
	// mod_sasl2_fast offers FAST only to a stream that names its user.
	from string
}

// loginPhases are the client-side durations of one login.
type loginPhases struct {
	handshake time.Duration // TCP connect, (pre-TLS stream and STARTTLS,) TLS handshake
	features  time.Duration // post-TLS stream header to the features with mechanisms
	sasl      time.Duration // <auth/> to <success/>: through the proxy this holds the upstream login
	restart   time.Duration // restarted stream header to its features
	bind      time.Duration // bind request to result
	resumed   bool          // the TLS handshake resumed a session
}

func (p loginPhases) total() time.Duration {
	return p.handshake + p.features + p.sasl + p.restart + p.bind
}

// benchLogin logs in up to a bound resource and returns the open session.
func benchLogin(ctx context.Context, o loginOpts) (*benchConn, loginPhases, error) {
	var ph loginPhases
	ctx, cancel := context.WithTimeout(ctx, benchIOTimeout)
	defer cancel()
	t0 := time.Now()
	c, handshake, resumed, err := benchTLS(ctx, o)
	if err != nil {
		return nil, ph, err
	}
	ok := false
	defer func() {
		if !ok {
			c.conn.Close()
		}
	}()
	t1 := time.Now()
	if err := c.sasl(o); err != nil {
		return nil, ph, err
	}
	t2 := time.Now()
	f, err := c.open(o.domain)
	if err != nil {
		return nil, ph, err
	}
	if !strings.Contains(f.Inner, "urn:ietf:params:xml:ns:xmpp-bind") {
		return nil, ph, fmt.Errorf("%w: no bind offered: %s", errBench, f.Inner)
	}
	t3 := time.Now()
	if err := c.send("<iq type='set' id='b1'><bind xmlns='urn:ietf:params:xml:ns:xmpp-bind'><resource>" + o.resource + "</resource></bind></iq>"); err != nil {
		return nil, ph, err
	}
	el, err := c.expect("iq")
	if err != nil {
		return nil, ph, err
	}
	if el.attr("type") != "result" {
		return nil, ph, fmt.Errorf("%w: bind failed: %s", errBench, el.Inner)
	}
	t4 := time.Now()
	var bound struct {
		JID string `xml:"bind>jid"`
	}
	if err := xml.Unmarshal([]byte("<iq>"+el.Inner+"</iq>"), &bound); err != nil || bound.JID == "" {
		return nil, ph, fmt.Errorf("%w: no JID in the bind result: %s", errBench, el.Inner)
	}
	c.jid = bound.JID
	_ = c.conn.SetDeadline(time.Time{})
	ok = true
	return c, loginPhases{handshake: handshake, features: t1.Sub(t0) - handshake, sasl: t2.Sub(t1), restart: t3.Sub(t2), bind: t4.Sub(t3), resumed: resumed}, nil
}

// benchTLS connects and negotiates TLS, up to the post-TLS features; it returns
// how long it took until the handshake was done and whether it resumed a session.
func benchTLS(ctx context.Context, o loginOpts) (_ *benchConn, handshake time.Duration, resumed bool, err error) {
	if o.ws {
		c, handshake, err := benchWS(ctx, o)
		return c, handshake, false, err
	}
	t0 := time.Now()
	deadline, _ := ctx.Deadline()
	d := &net.Dialer{Deadline: deadline}
	raw, err := d.DialContext(ctx, "tcp", o.addr)
	if err != nil {
		return nil, 0, false, err
	}
	_ = raw.SetDeadline(deadline)
	conn := raw
	if o.wrap != nil {
		conn = o.wrap(raw)
	}
	if o.quickAck {
		if conn, _ = withQuickAck(raw); conn == raw {
			raw.Close()
			return nil, 0, false, fmt.Errorf("%w: no TCP_QUICKACK here", errBench)
		}
	}
	cfg := o.tls.Clone()
	if o.direct {
		cfg.NextProtos = []string{"xmpp-client"}
	} else {
		c := newBenchConn(conn)
		f, err := c.open(o.domain)
		if err == nil && !strings.Contains(f.Inner, "starttls") {
			err = fmt.Errorf("%w: no starttls: %s", errBench, f.Inner)
		}
		if err == nil {
			err = c.send("<starttls xmlns='urn:ietf:params:xml:ns:xmpp-tls'/>")
		}
		if err == nil {
			_, err = c.expect("proceed")
		}
		if err != nil {
			raw.Close()
			return nil, 0, false, err
		}
	}
	tc := tls.Client(conn, cfg)
	if err := tc.HandshakeContext(ctx); err != nil {
		raw.Close()
		return nil, 0, false, err
	}
	handshake = time.Since(t0)
	c := newBenchConn(tc)
	if _, err := c.openWith(o.domain, o.from, o.pipeline); err != nil {
		raw.Close()
		return nil, 0, false, err
	}
	return c, handshake, tc.ConnectionState().DidResume, nil
}

// sasl runs one SASL exchange up to <success/>.
func (c *benchConn) sasl(o loginOpts) error {
	switch o.mech {
	case "PLAIN":
		if err := c.auth("PLAIN", plainPayload("", o.user, o.secret)); err != nil {
			return err
		}
	case "OAUTHBEARER":
		if err := c.auth("OAUTHBEARER", bearerPayload("", o.secret)); err != nil {
			return err
		}
	case "SCRAM-SHA-1":
		return c.scram(o.scram.NewConversation())
	default:
		return fmt.Errorf("%w: mechanism %s", errBench, o.mech)
	}
	_, err := c.expect("success")
	return err
}

// scram runs SCRAM-SHA-1 and checks the server's signature.
func (c *benchConn) scram(conv *scram.ClientConversation) error {
	first, err := conv.Step("")
	if err != nil {
		return err
	}
	if err := c.auth("SCRAM-SHA-1", []byte(first)); err != nil {
		return err
	}
	el, err := c.expect("challenge")
	if err != nil {
		return err
	}
	challenge, err := base64.StdEncoding.DecodeString(strings.TrimSpace(el.Inner))
	if err != nil {
		return err
	}
	final, err := conv.Step(string(challenge))
	if err != nil {
		return err
	}
	if err := c.send("<response xmlns='urn:ietf:params:xml:ns:xmpp-sasl'>" + base64.StdEncoding.EncodeToString([]byte(final)) + "</response>"); err != nil {
		return err
	}
	el, err = c.expect("success")
	if err != nil {
		return err
	}
	verifier, err := base64.StdEncoding.DecodeString(strings.TrimSpace(el.Inner))
	if err != nil {
		return err
	}
	_, err = conv.Step(string(verifier))
	return err
}

// durations collects samples and reports percentiles as custom metrics.
type durations []time.Duration

// percentile is the q-quantile (0..1) of the sorted samples.
func (d durations) percentile(q float64) time.Duration {
	if len(d) == 0 {
		return 0
	}
	s := slices.Clone(d)
	slices.Sort(s)
	i := int(q * float64(len(s)))
	if i >= len(s) {
		i = len(s) - 1
	}
	return s[i]
}

// stalled is the share (%) of samples at least 30 ms above the median: the mark of
// a Nagle / delayed-ACK stall (40 ms on Linux) rather than of slow CPU.
func (d durations) stalled() float64 {
	if len(d) == 0 {
		return 0
	}
	limit := d.percentile(0.5) + 30*time.Millisecond
	n := 0
	for _, v := range d {
		if v >= limit {
			n++
		}
	}
	return 100 * float64(n) / float64(len(d))
}

// report sets p50/p90/p99 metrics in the given unit ("ms" or "us").
func (d durations) report(b *testing.B, prefix, unit string) {
	div := map[string]float64{"ms": 1e6, "us": 1e3}[unit]
	for _, p := range []struct {
		name string
		q    float64
	}{{"p50", 0.5}, {"p90", 0.9}, {"p99", 0.99}} {
		b.ReportMetric(float64(d.percentile(p.q))/div, prefix+p.name+"-"+unit)
	}
}
