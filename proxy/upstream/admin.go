package upstream

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/xml"
	"errors"
	"fmt"
	"net"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/rs/zerolog"
	"golang.org/x/sync/singleflight"
)

// adminRequestTimeout bounds one admin IQ round trip (a variable for tests).
var adminRequestTimeout = 5 * time.Second

const (
	adminKeepalive = 60 * time.Second
	backoffMin     = 500 * time.Millisecond
	backoffMax     = 30 * time.Second
)

// adminSession keeps one authenticated, resource-bound stream as the admin JID,
// shared by all logins. It connects on first use or from Start, and again after
// the stream dies.
type adminSession struct {
	d          *Dialer
	ctx        context.Context // ends on close
	cancel     context.CancelFunc
	dials      singleflight.Group
	provisions singleflight.Group // keyed by bare JID

	mu  sync.Mutex
	cur *adminConn
}

func newAdminSession(d *Dialer) *adminSession {
	ctx, cancel := context.WithCancel(context.Background())
	return &adminSession{d: d, ctx: ctx, cancel: cancel}
}

// conn returns the live admin connection, connecting if there is none.
// Concurrent callers share one dial.
func (a *adminSession) conn(ctx context.Context) (*adminConn, error) {
	a.mu.Lock()
	c := a.cur
	a.mu.Unlock()
	if c != nil && !c.isDone() {
		return c, nil
	}
	ch := a.dials.DoChan("dial", func() (any, error) {
		dctx, cancel := context.WithTimeout(a.ctx, a.d.cfg.LoginTimeout)
		defer cancel()
		c, err := a.d.dialAdmin(dctx)
		if err != nil {
			return nil, err
		}
		a.mu.Lock()
		defer a.mu.Unlock()
		if a.ctx.Err() != nil {
			c.close()
			return nil, fmt.Errorf("%w: dialer closed", ErrUnavailable)
		}
		a.cur = c
		return c, nil
	})
	select {
	case r := <-ch:
		if r.Err != nil {
			return nil, r.Err
		}
		return r.Val.(*adminConn), nil
	case <-ctx.Done():
		return nil, fmt.Errorf("%w: admin session: %w", ErrUnavailable, ctx.Err())
	}
}

// run keeps the admin session connected until ctx ends or close.
func (a *adminSession) run(ctx context.Context) {
	backoff := backoffMin
	for {
		c, err := a.conn(ctx)
		if err != nil {
			a.d.log.Warn().Err(err).Dur("retry_in", backoff).Msg("upstream admin session")
			select {
			case <-time.After(backoff):
			case <-ctx.Done():
				return
			case <-a.ctx.Done():
				return
			}
			backoff = min(2*backoff, backoffMax)
			continue
		}
		backoff = backoffMin
		select {
		case <-c.done:
			a.d.log.Warn().Err(c.err).Msg("upstream admin session lost; reconnecting")
		case <-ctx.Done():
			return
		case <-a.ctx.Done():
			return
		}
	}
}

func (a *adminSession) close() {
	a.cancel()
	a.mu.Lock()
	c := a.cur
	a.cur = nil
	a.mu.Unlock()
	if c != nil {
		c.close()
	}
}

// dialAdmin logs in as the admin, restarts the stream and binds a resource.
// Errors wrap ErrUnavailable only: a refused admin is a configuration problem, not
// the user's.
func (d *Dialer) dialAdmin(ctx context.Context) (*adminConn, error) {
	local, _, _ := splitJID(d.cfg.AdminJID)
	w, f, err := d.connect(ctx)
	if err != nil {
		return nil, err
	}
	m, err := d.passwordMech(f, w.secure, local, d.cfg.AdminPassword)
	if err == nil {
		err = authenticate(w, m)
	}
	if err != nil {
		w.close()
		return nil, fmt.Errorf("%w: admin login: %v", ErrUnavailable, err) // %v: never ErrRejected
	}
	// Restart and bind in one write: bind is mandatory-to-offer after SASL.
	var rnd [6]byte
	_, _ = rand.Read(rnd[:])
	resource := "xmpp-oauth-proxy-" + hex.EncodeToString(rnd[:])
	if err := w.write(streamHeader(d.cfg.Domain) +
		"<iq type='set' id='bind'><bind xmlns='urn:ietf:params:xml:ns:xmpp-bind'><resource>" + resource + "</resource></bind></iq>"); err != nil {
		w.close()
		return nil, fmt.Errorf("%w: admin: %w", ErrUnavailable, err)
	}
	w.r.restart()
	if err := readBind(w.r); err != nil {
		w.close()
		return nil, fmt.Errorf("%w: admin bind: %w", ErrUnavailable, err)
	}
	conn, err := w.release()
	if err != nil {
		return nil, err
	}
	c := &adminConn{
		conn:    conn,
		r:       w.r,
		server:  d.cfg.Domain,
		log:     d.log,
		pending: make(map[string]chan *iqReply),
		done:    make(chan struct{}),
	}
	go c.readLoop()
	go c.keepalive()
	d.log.Info().Str("admin", d.cfg.AdminJID).Msg("upstream admin session up")
	return c, nil
}

// readBind reads the restarted stream's features and the bind result.
func readBind(r *xmlReader) error {
	f, err := readFeatures(r)
	if err != nil {
		return err
	}
	if f.Bind == nil {
		return errors.New("no resource binding offered")
	}
	se, err := r.next()
	if err != nil {
		return err
	}
	var iq iqReply
	if err := r.decode(&iq, se); err != nil {
		return err
	}
	if se.Name.Local != "iq" || iq.ID != "bind" || iq.Type != "result" {
		return fmt.Errorf("bind failed: %s", iq.condition())
	}
	return nil
}

// iqReply is an IQ result or error as the admin session reads it.
type iqReply struct {
	XMLName xml.Name
	ID      string         `xml:"id,attr"`
	Type    string         `xml:"type,attr"`
	From    string         `xml:"from,attr"`
	Command *commandResult `xml:"http://jabber.org/protocol/commands command"`
	Error   *struct {
		Type  string `xml:"type,attr"`
		Text  string `xml:"urn:ietf:params:xml:ns:xmpp-stanzas text"`
		Inner []struct {
			XMLName xml.Name
		} `xml:",any"`
	} `xml:"error"`
}

// condition names the stanza error, for errors and logs.
func (r *iqReply) condition() string {
	if r.Error == nil {
		return "iq type " + strconv.Quote(r.Type)
	}
	for _, c := range r.Error.Inner {
		if c.XMLName.Space == nsStanzas && c.XMLName.Local != "text" {
			return c.XMLName.Local
		}
	}
	return "undefined-condition"
}

// adminConn is one live admin stream. IQs are matched to replies by id, so
// concurrent requests share it.
type adminConn struct {
	conn   net.Conn
	r      *xmlReader
	log    zerolog.Logger
	server string // the domain: the only sender of replies we accept
	seq    atomic.Uint64
	wmu    sync.Mutex

	mu      sync.Mutex
	pending map[string]chan *iqReply
	done    chan struct{}
	err     error // set before done closes
	once    sync.Once
}

func (c *adminConn) isDone() bool {
	select {
	case <-c.done:
		return true
	default:
		return false
	}
}

func (c *adminConn) fail(err error) {
	c.once.Do(func() {
		c.mu.Lock()
		c.err = err
		c.mu.Unlock()
		_ = c.conn.Close()
		close(c.done)
	})
}

func (c *adminConn) close() { c.fail(errors.New("closed")) }

// readLoop delivers IQ replies and answers requests; everything else is dropped.
func (c *adminConn) readLoop() {
	for {
		se, err := c.r.next()
		if err != nil {
			c.fail(err)
			return
		}
		if se.Name.Space != nsClient || se.Name.Local != "iq" {
			if err := c.r.skip(); err != nil {
				c.fail(err)
				return
			}
			continue
		}
		var iq iqReply
		if err := c.r.decode(&iq, se); err != nil {
			c.fail(err)
			return
		}
		switch iq.Type {
		case "result", "error":
			// Only the server answers our requests; a reply from anyone else
			// (who would have to guess our random resource) is dropped.
			if iq.From != "" && !strings.EqualFold(iq.From, c.server) {
				continue
			}
			c.mu.Lock()
			ch := c.pending[iq.ID]
			delete(c.pending, iq.ID)
			c.mu.Unlock()
			if ch != nil {
				ch <- &iq
			}
		case "get", "set":
			// RFC 6120 8.2.3: every request gets an answer; we serve none.
			reply := "<iq type='error' id='" + xmlAttr(iq.ID) + "'"
			if iq.From != "" {
				reply += " to='" + xmlAttr(iq.From) + "'"
			}
			reply += "><error type='cancel'><service-unavailable xmlns='urn:ietf:params:xml:ns:xmpp-stanzas'/></error></iq>"
			if err := c.write(context.Background(), reply); err != nil {
				c.fail(err)
				return
			}
		}
	}
}

// keepalive sends a whitespace ping now and then, so a dead stream is noticed
// before a login needs it.
func (c *adminConn) keepalive() {
	t := time.NewTicker(adminKeepalive)
	defer t.Stop()
	for {
		select {
		case <-t.C:
			if err := c.write(context.Background(), " "); err != nil {
				c.fail(err)
				return
			}
		case <-c.done:
			return
		}
	}
}

func (c *adminConn) write(ctx context.Context, s string) error {
	c.wmu.Lock()
	defer c.wmu.Unlock()
	dl, ok := ctx.Deadline()
	if !ok {
		dl = time.Now().Add(adminRequestTimeout)
	}
	_ = c.conn.SetWriteDeadline(dl)
	_, err := c.conn.Write([]byte(s))
	return err
}

// request sends an IQ (payload is its inner XML, type set, to the domain) and
// waits for the reply. A request that times out takes the stream down with it, as
// a stream that does not answer is no use to the next login either.
func (c *adminConn) request(ctx context.Context, to, payload string) (*iqReply, error) {
	ctx, cancel := context.WithTimeout(ctx, adminRequestTimeout)
	defer cancel()
	id := "xop" + strconv.FormatUint(c.seq.Add(1), 10)
	ch := make(chan *iqReply, 1)
	c.mu.Lock()
	if c.err != nil {
		c.mu.Unlock()
		return nil, c.err
	}
	c.pending[id] = ch
	c.mu.Unlock()
	defer func() {
		c.mu.Lock()
		delete(c.pending, id)
		c.mu.Unlock()
	}()
	if err := c.write(ctx, "<iq type='set' id='"+id+"' to='"+xmlAttr(to)+"'>"+payload+"</iq>"); err != nil {
		c.fail(err)
		return nil, err
	}
	select {
	case r := <-ch:
		return r, nil
	case <-c.done:
		return nil, c.err
	case <-ctx.Done():
		if errors.Is(ctx.Err(), context.DeadlineExceeded) {
			c.fail(errors.New("admin request timed out"))
		}
		return nil, ctx.Err()
	}
}

// xmlAttr escapes s for a single- or double-quoted attribute.
func xmlAttr(s string) string {
	var b strings.Builder
	_ = xml.EscapeText(&b, []byte(s))
	return b.String()
}
