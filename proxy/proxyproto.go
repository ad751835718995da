package proxy

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/netip"
	"sync"
	"syscall"
	"time"

	"github.com/pires/go-proxyproto"
	"github.com/rs/zerolog"
)

// ProxyProtocol configures a listener that sits behind a load balancer speaking the
// PROXY protocol (v1 or v2): connections from Trusted addresses must start with a
// header, whose source address then stands for the client in logs and limits.
// Connections from anywhere else are refused: a header from them would be a lie.
type ProxyProtocol struct {
	Trusted []netip.Prefix
	// HeaderTimeout bounds the wait for the header; default 5s.
	HeaderTimeout time.Duration
	Logger        zerolog.Logger
	Observer      Observer
}

// maxV1Header is the longest PROXY v1 line (with CRLF); v2 carries its length.
const (
	maxV1Header = 107
	maxV2Body   = 4096 // addresses plus TLVs; real headers are far smaller
)

var v2Signature = []byte("\r\n\r\n\x00\r\nQUIT\n")

// Listen wraps ln. Accept returns connections whose header was read; reading
// happens off the accept path, so a slow load balancer cannot stall others.
func (p ProxyProtocol) Listen(ln net.Listener) net.Listener {
	if p.HeaderTimeout <= 0 {
		p.HeaderTimeout = 5 * time.Second
	}
	if p.Observer == nil {
		p.Observer = nopObserver{}
	}
	l := &ppListener{Listener: ln, cfg: p, ready: make(chan net.Conn), done: make(chan struct{})}
	go l.acceptLoop()
	return l
}

type ppListener struct {
	net.Listener
	cfg       ProxyProtocol
	ready     chan net.Conn
	done      chan struct{}
	closeOnce sync.Once
	mu        sync.Mutex
	err       error
}

func (l *ppListener) Accept() (net.Conn, error) {
	select {
	case c := <-l.ready:
		return c, nil
	case <-l.done:
		l.mu.Lock()
		defer l.mu.Unlock()
		return nil, l.err
	}
}

func (l *ppListener) Close() error {
	err := l.Listener.Close()
	l.stop(net.ErrClosed)
	return err
}

func (l *ppListener) stop(err error) {
	l.closeOnce.Do(func() {
		l.mu.Lock()
		l.err = err
		l.mu.Unlock()
		close(l.done)
	})
}

func (l *ppListener) acceptLoop() {
	// Closing l ends the backoff's wait too.
	ctx, cancel := context.WithCancel(context.Background())
	go func() {
		<-l.done
		cancel()
	}()
	var backoff acceptBackoff
	for {
		c, err := l.Listener.Accept()
		if err != nil {
			if backoff.retry(ctx, l.cfg.Logger, err) {
				continue
			}
			l.stop(net.ErrClosed)
			return
		}
		backoff.reset()
		go l.admit(c)
	}
}

// admit reads the header of a trusted peer's connection and hands it to Accept.
func (l *ppListener) admit(c net.Conn) {
	peer := addrOf(c.RemoteAddr())
	if !l.trusted(peer) {
		l.cfg.Observer.Refused("untrusted_proxy")
		l.cfg.Logger.Warn().Str("remote", c.RemoteAddr().String()).Msg("PROXY protocol listener: connection from an untrusted address refused")
		c.Close()
		return
	}
	src, err := readProxyHeader(c, l.cfg.HeaderTimeout)
	if err != nil {
		l.cfg.Observer.Refused("proxy_header")
		l.cfg.Logger.Warn().Str("remote", c.RemoteAddr().String()).Err(err).Msg("PROXY protocol header missing or invalid")
		c.Close()
		return
	}
	pc := &proxiedConn{Conn: c, remote: src}
	if tc, ok := c.(*net.TCPConn); ok {
		pc.tcp = tc
	}
	select {
	case l.ready <- pc.wrapped():
	case <-l.done:
		c.Close()
	}
}

func (l *ppListener) trusted(ip netip.Addr) bool {
	for _, p := range l.cfg.Trusted {
		if p.Contains(ip) {
			return true
		}
	}
	return false
}

func addrOf(a net.Addr) netip.Addr {
	if ta, ok := a.(*net.TCPAddr); ok {
		ip, _ := netip.AddrFromSlice(ta.IP)
		return ip.Unmap()
	}
	return netip.Addr{}
}

// readProxyHeader reads exactly one PROXY header, never a byte past it, so that
// the connection stays a plain socket for the relay. It returns the client address
// the header names, or the peer's own for a LOCAL (health check) header.
func readProxyHeader(c net.Conn, timeout time.Duration) (net.Addr, error) {
	_ = c.SetReadDeadline(time.Now().Add(timeout))
	defer c.SetReadDeadline(time.Time{})
	first := make([]byte, len(v2Signature))
	if _, err := io.ReadFull(c, first[:6]); err != nil {
		return nil, err
	}
	var raw []byte
	switch {
	case string(first[:6]) == "PROXY ":
		raw = append(raw, first[:6]...)
		var b [1]byte
		for !bytes.HasSuffix(raw, []byte("\r\n")) {
			if len(raw) >= maxV1Header {
				return nil, errors.New("PROXY v1 line too long")
			}
			if _, err := io.ReadFull(c, b[:]); err != nil {
				return nil, err
			}
			raw = append(raw, b[0])
		}
	case bytes.Equal(first[:6], v2Signature[:6]):
		if _, err := io.ReadFull(c, first[6:]); err != nil {
			return nil, err
		}
		fixed := make([]byte, 4) // version/command, family, length
		if _, err := io.ReadFull(c, fixed); err != nil {
			return nil, err
		}
		n := int(fixed[2])<<8 | int(fixed[3])
		if n > maxV2Body {
			return nil, fmt.Errorf("PROXY v2 header of %d bytes", n)
		}
		body := make([]byte, n)
		if _, err := io.ReadFull(c, body); err != nil {
			return nil, err
		}
		raw = append(append(append(raw, first...), fixed...), body...)
	default:
		return nil, errors.New("no PROXY protocol header")
	}
	h, err := proxyproto.Read(bufio.NewReader(bytes.NewReader(raw)))
	if err != nil {
		return nil, err
	}
	if h.Command.IsLocal() {
		return c.RemoteAddr(), nil
	}
	if src, _, ok := h.TCPAddrs(); ok {
		return src, nil
	}
	return nil, errors.New("PROXY header without a TCP source address")
}

// proxiedConn is a client socket whose remote address came from a PROXY header.
type proxiedConn struct {
	net.Conn
	tcp    *net.TCPConn
	remote net.Addr
}

func (p *proxiedConn) RemoteAddr() net.Addr { return p.remote }

// tcpProxiedConn also exposes the socket's SyscallConn, so the relay can still
// wait for readability without parking a buffer.
type tcpProxiedConn struct{ *proxiedConn }

func (p tcpProxiedConn) SyscallConn() (syscall.RawConn, error) { return p.tcp.SyscallConn() }

func (p *proxiedConn) wrapped() net.Conn {
	if p.tcp != nil {
		return tcpProxiedConn{p}
	}
	return p
}
