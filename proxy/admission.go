package proxy

import (
	"errors"
	"net"
	"net/netip"
	"time"
)

// admission decides at accept, before a byte is read or a handshake begun, whether
// a connection may go on. Refused connections are answered and dropped, never
// counted as connections. Its state is guarded by Server.mu.
type admission struct {
	limits   *Limits
	rates    *connRates
	preAuth  int                  // connections before <success/>
	byClient map[netip.Prefix]int // the same, per client
}

func newAdmission(l *Limits) *admission {
	return &admission{limits: l, rates: newConnRates(l), byClient: make(map[netip.Prefix]int)}
}

var (
	errTooManyConnections = errors.New("connection limit reached")
	errTooManyPreAuth     = errors.New("limit of connections before authentication reached")
	errClientPreAuth      = errors.New("limit of this client's connections before authentication reached")
	errConnectionRate     = errors.New("connection rate limit reached")
)

// admit checks the limits for a new connection from client, with open connections
// already there. On success (nil) the connection holds a pre-auth slot until
// release; else the stream error and the refusal's metric reason say why not.
func (a *admission) admit(open int, client netip.Prefix) (*streamErr, string) {
	l := a.limits
	switch {
	case l.MaxConnections > 0 && open >= l.MaxConnections:
		return &streamErr{cond: condResourceConstraint, text: "too many connections", cause: errTooManyConnections}, "max_connections"
	case l.MaxPreAuth > 0 && a.preAuth >= l.MaxPreAuth:
		return &streamErr{cond: condResourceConstraint, text: "too many connections", cause: errTooManyPreAuth}, "pre_auth_connections"
	case l.MaxPreAuthPerClient > 0 && client.IsValid() && a.byClient[client] >= l.MaxPreAuthPerClient:
		return &streamErr{cond: condPolicyViolation, text: "too many connections from your address", cause: errClientPreAuth}, "pre_auth_per_ip"
	case !a.rates.allow(client.Addr()):
		return &streamErr{cond: condPolicyViolation, text: "connecting too often", cause: errConnectionRate}, "connection_rate"
	}
	a.preAuth++
	if client.IsValid() {
		a.byClient[client]++
	}
	return nil, ""
}

// release gives back a slot admit handed out.
func (a *admission) release(client netip.Prefix) {
	a.preAuth--
	if !client.IsValid() {
		return
	}
	if n := a.byClient[client] - 1; n > 0 {
		a.byClient[client] = n
	} else {
		delete(a.byClient, client)
	}
}

const (
	// maxRefusing bounds the refused connections being answered at once; beyond it
	// they are closed without a word.
	maxRefusing = 256
	// refusalLinger bounds the life of a refused connection: our answer, then
	// reading what the client sent meanwhile, so that closing does not reset the
	// connection before it has read the answer.
	refusalLinger = time.Second
)

// answerRefusal tells a refused STARTTLS client why in a stream error (nothing
// is read first: RFC 6120 section 4.9.1.3 lets us answer at once) and closes.
// A Direct TLS client is closed at once: a stream error would need a handshake.
// It runs in its own goroutine, counted in s.wg.
func (s *Server) answerRefusal(nc net.Conn, directTLS bool, se *streamErr) {
	defer s.wg.Done()
	defer s.refusing.Add(-1)
	defer nc.Close()
	if directTLS {
		return
	}
	_ = nc.SetDeadline(time.Now().Add(refusalLinger))
	b := append(streamHeader("", newStreamID()), streamError(se.cond, se.text)...)
	if _, err := nc.Write(b); err != nil {
		return
	}
	closeWrite(nc)
	var buf [512]byte
	for {
		if _, err := nc.Read(buf[:]); err != nil {
			return
		}
	}
}
