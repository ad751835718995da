package app_test

import (
	"context"
	"errors"
	"fmt"
	"net"
	"strconv"
	"strings"
	"sync"
	"time"
)

// soakSession is one client of the soak with XEP-0198 on: a sender numbers its
// messages and keeps them until the server acks them (<a h/>), resending the
// rest after a reconnect, as real clients do; a receiver records what arrives.
type soakSession struct {
	run    *soakRun
	pair   int
	sender bool
	o      loginOpts
	peer   string // the receiver's full JID (senders)

	mu       sync.Mutex
	c        *benchConn
	smID     string   // resumable stream id
	inbound  uint32   // stanzas received in this XEP-0198 session (our h)
	base     uint32   // the server's last h for our stanzas
	queue    []uint64 // sequence numbers sent and not yet acked, in order
	nextSeq  uint64
	connects int // successful logins or resumptions
}

// loop keeps the session connected until the run stops.
func (s *soakSession) loop() {
	backoff := 100 * time.Millisecond
	for !s.run.stopped() {
		c, err := s.connect()
		if err != nil {
			s.run.loginFailed(err)
			time.Sleep(backoff)
			backoff = min(2*backoff, 2*time.Second)
			continue
		}
		backoff = 100 * time.Millisecond
		s.read(c)
	}
}

func loginOutcome(err error) string {
	for _, cond := range []string{"temporary-auth-failure", "not-authorized", "system-shutdown"} {
		if strings.Contains(err.Error(), cond) {
			return cond
		}
	}
	var ne net.Error
	if errors.As(err, &ne) && ne.Timeout() {
		return "client-timeout" // the client gave up after benchIOTimeout, and retries
	}
	return "connection-lost"
}

// connect logs in, then resumes the old XEP-0198 session or binds a new one,
// and resends what the server has not acked.
func (s *soakSession) connect() (*benchConn, error) {
	ctx, cancel := context.WithTimeout(context.Background(), benchIOTimeout)
	defer cancel()
	c, _, _, err := benchTLS(ctx, s.o)
	if err != nil {
		return nil, err
	}
	if err := c.sasl(s.o); err != nil {
		c.conn.Close()
		return nil, err
	}
	resumed, err := s.establish(c)
	if err != nil {
		c.conn.Close()
		return nil, err
	}
	_ = c.conn.SetDeadline(time.Time{})
	s.mu.Lock()
	defer s.mu.Unlock()
	s.c = c
	s.connects++
	if resumed {
		s.run.login("resumed")
	} else {
		s.run.login("ok")
	}
	for _, seq := range s.queue {
		s.run.resent.Add(1)
		_ = c.send(s.message(seq))
	}
	if len(s.queue) > 0 {
		_ = c.send("<r xmlns='urn:xmpp:sm:3'/>")
	}
	return c, nil
}

// establish opens the restarted stream and resumes or binds.
func (s *soakSession) establish(c *benchConn) (resumed bool, err error) {
	if _, err := c.open(s.o.domain); err != nil {
		return false, err
	}
	if s.smID != "" {
		if err := c.send(fmt.Sprintf("<resume xmlns='urn:xmpp:sm:3' h='%d' previd='%s'/>", s.inbound, s.smID)); err != nil {
			return false, err
		}
		el, err := c.next()
		if err != nil {
			return false, err
		}
		if el.XMLName.Local == "resumed" {
			s.mu.Lock()
			s.ackTo(el.attr("h"))
			s.mu.Unlock()
			return true, nil
		}
		s.smID = "" // <failed/>: the server lost the session; bind a new one
	}
	if err := c.send("<iq type='set' id='b'><bind xmlns='urn:ietf:params:xml:ns:xmpp-bind'><resource>" + s.o.resource + "</resource></bind></iq>"); err != nil {
		return false, err
	}
	if el, err := c.expect("iq"); err != nil || el.attr("type") != "result" {
		return false, fmt.Errorf("%w: bind: %v %s", errBench, err, el.Inner)
	}
	if err := c.send("<enable xmlns='urn:xmpp:sm:3' resume='true'/>"); err != nil {
		return false, err
	}
	el, err := c.expect("enabled")
	if err != nil {
		return false, err
	}
	s.mu.Lock()
	s.smID, s.inbound, s.base = el.attr("id"), 0, 0
	s.mu.Unlock()
	return false, nil
}

// read handles what arrives until the connection ends.
func (s *soakSession) read(c *benchConn) {
	defer func() {
		s.mu.Lock()
		if s.c == c {
			s.c = nil
		}
		s.mu.Unlock()
		c.conn.Close()
	}()
	for {
		el, err := c.next()
		if err != nil {
			return
		}
		s.mu.Lock()
		switch el.XMLName.Local {
		case "a":
			s.ackTo(el.attr("h"))
		case "r":
			_ = c.send(fmt.Sprintf("<a xmlns='urn:xmpp:sm:3' h='%d'/>", s.inbound))
		case "message":
			s.inbound++
			s.run.received(s.pair, el)
		case "iq", "presence":
			s.inbound++
		case "error":
			s.mu.Unlock()
			s.run.streamError(el.child())
			return
		}
		s.mu.Unlock()
	}
}

// ackTo drops the stanzas the server's h covers; they count as acked. Needs mu.
func (s *soakSession) ackTo(attr string) {
	h, err := strconv.ParseUint(attr, 10, 32)
	if err != nil {
		return
	}
	for n := uint32(h) - s.base; n > 0 && len(s.queue) > 0; n-- {
		s.run.acked(s.pair, s.queue[0])
		s.queue = s.queue[1:]
	}
	s.base = uint32(h)
}

func (s *soakSession) message(seq uint64) string {
	return fmt.Sprintf("<message to='%s' id='m%d' type='chat'><body>%d:%d</body></message>", s.peer, seq, s.pair, seq)
}

// send numbers and sends one message, asking for an ack; offline, it waits.
func (s *soakSession) send() {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.c == nil {
		return
	}
	seq := s.nextSeq
	s.nextSeq++
	s.queue = append(s.queue, seq)
	s.run.sent.Add(1)
	_ = s.c.send(s.message(seq) + "<r xmlns='urn:xmpp:sm:3'/>") // a failed write is resent after reconnecting
}

// state is what the run's waits look at.
func (s *soakSession) state() (connected bool, unacked, connects int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.c != nil, len(s.queue), s.connects
}

// close ends the stream politely.
func (s *soakSession) close() {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.c != nil {
		_ = s.c.send("</stream:stream>")
		s.c.conn.Close()
	}
}
