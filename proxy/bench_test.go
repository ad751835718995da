package proxy

import (
	"bufio"
	"context"
	"crypto/tls"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"runtime"
	"runtime/pprof"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/rs/zerolog"
	"github.com/xmpp-oauth-proxy/xmpp-oauth-proxy/internal/tlsrecord"
	"github.com/xmpp-oauth-proxy/xmpp-oauth-proxy/proxy/upstream"
	"github.com/xmpp-oauth-proxy/xmpp-oauth-proxy/saslauth"
)

// The memory benchmark runs the proxy in a child process (this test binary again,
// running TestHelperProxyProcess), so that its heap holds nothing but the proxy:
// the clients and the fake upstream stay in the parent.
const (
	envHelperUpstream    = "PROXY_HELPER_UPSTREAM"
	envHelperUpstreamTLS = "PROXY_HELPER_UPSTREAM_TLS"
)

// BenchmarkIdleSessionMemory holds N idle relayed sessions (STARTTLS, PLAIN, the
// restarted stream answered by the upstream) and reports the proxy's heap and stack
// in use per session (runtime.MemStats HeapInuse and StackInuse, after GC).
// HAProxy terminating TLS needs about 17.5 KiB.
func BenchmarkIdleSessionMemory(b *testing.B) {
	n := 2000
	if v, err := strconv.Atoi(os.Getenv("PROXY_BENCH_SESSIONS")); err == nil && v > 0 {
		n = v
	}
	for _, upTLS := range []bool{false, true} {
		name := "upstream=tcp"
		if upTLS {
			name = "upstream=tls"
		}
		b.Run(name, func(b *testing.B) {
			for i := 0; i < b.N; i++ {
				m := measureIdleSessions(b, n, upTLS)
				b.ReportMetric(m.heap+m.stack, "B/session")
				b.ReportMetric(m.heap, "heap-B/session")
				b.ReportMetric(m.stack, "stack-B/session")
				b.ReportMetric(m.goroutines, "goroutines/session")
			}
		})
	}
}

func measureIdleSessions(b *testing.B, n int, upTLS bool) sessionMemory {
	cert, _ := certificate(b)
	up := startParkingUpstream(b, upTLS, cert)

	cmd := exec.Command(os.Args[0], "-test.run=^TestHelperProxyProcess$")
	cmd.Env = append(os.Environ(), envHelperUpstream+"="+up.addr(), envHelperUpstreamTLS+"="+strconv.FormatBool(upTLS))
	cmd.Stderr = os.Stderr
	stdin, _ := cmd.StdinPipe()
	stdoutPipe, _ := cmd.StdoutPipe()
	if err := cmd.Start(); err != nil {
		b.Fatal(err)
	}
	defer func() {
		stdin.Close()
		_ = cmd.Wait()
	}()
	out := bufio.NewReader(stdoutPipe)
	var addr string
	for addr == "" {
		line, err := out.ReadString('\n')
		if err != nil {
			b.Fatalf("helper: %v", err)
		}
		addr, _ = strings.CutPrefix(strings.TrimSpace(line), "ADDR ")
	}
	measure := func() (heap, stack, goroutines float64) {
		fmt.Fprintln(stdin, "mem")
		for {
			line, err := out.ReadString('\n')
			if err != nil {
				b.Fatalf("helper: %v", err)
			}
			if f := strings.Fields(line); len(f) == 4 && f[0] == "MEM" {
				h, _ := strconv.ParseFloat(f[1], 64)
				s, _ := strconv.ParseFloat(f[2], 64)
				g, _ := strconv.ParseFloat(f[3], 64)
				return h, s, g
			}
		}
	}

	var conns []net.Conn
	defer func() {
		for _, c := range conns {
			c.Close()
		}
	}()
	// Warm up pools and package state, then measure from there.
	for i := 0; i < 20; i++ {
		conns = append(conns, idleSession(b, addr))
	}
	heap0, stack0, g0 := measure()
	b.ResetTimer()
	for i := 0; i < n; i++ {
		conns = append(conns, idleSession(b, addr))
	}
	b.StopTimer()
	heap1, stack1, g1 := measure()
	if path := os.Getenv("PROXY_BENCH_HEAPPROFILE"); path != "" {
		fmt.Fprintln(stdin, "prof "+path)
		measure() // waits until the profile is written
	}
	per := func(a, b float64) float64 { return (b - a) / float64(n) }
	return sessionMemory{heap: per(heap0, heap1), stack: per(stack0, stack1), goroutines: per(g0, g1)}
}

// sessionMemory is the proxy's cost of one idle session.
type sessionMemory struct{ heap, stack, goroutines float64 }

// idleSession logs in through the proxy and leaves the session idle.
func idleSession(b *testing.B, addr string) net.Conn {
	raw, err := net.Dial("tcp", addr)
	if err != nil {
		b.Fatal(err)
	}
	_ = raw.SetDeadline(time.Now().Add(ioTimeout))
	c := &client{t: b, conn: raw, br: bufio.NewReaderSize(raw, 512)}
	c.send(clientHeader)
	c.expect("</stream:features>")
	c.send("<starttls xmlns='urn:ietf:params:xml:ns:xmpp-tls'/>")
	c.expect("<proceed")
	tc := tls.Client(raw, &tls.Config{ServerName: testDomain, InsecureSkipVerify: true})
	c.conn, c.br = tc, bufio.NewReaderSize(tc, 512)
	c.send(clientHeader)
	c.expect("</stream:features>")
	c.send(plainAuth("juliet", "s3cret"))
	c.expect("<success")
	c.send(restartHeader)
	c.expect(upstreamFeatures)
	_ = raw.SetDeadline(time.Time{})
	return tc
}

// parkingUpstream answers each restarted stream and then keeps the connection open
// without a goroutine, like an idle server.
type parkingUpstream struct {
	ln    net.Listener
	mu    sync.Mutex
	conns []net.Conn
}

func (p *parkingUpstream) addr() string { return p.ln.Addr().String() }

func startParkingUpstream(b testing.TB, useTLS bool, cert tls.Certificate) *parkingUpstream {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		b.Fatal(err)
	}
	p := &parkingUpstream{ln: ln}
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			if useTLS {
				c = tls.Server(c, &tls.Config{Certificates: []tls.Certificate{cert}})
			}
			wg.Add(1)
			go func() {
				defer wg.Done()
				_ = c.SetDeadline(time.Now().Add(ioTimeout))
				if _, _, err := answerRestart(c); err != nil {
					c.Close()
					return
				}
				_ = c.SetDeadline(time.Time{})
				p.mu.Lock()
				p.conns = append(p.conns, c)
				p.mu.Unlock()
			}()
		}
	}()
	b.Cleanup(func() {
		ln.Close()
		wg.Wait()
		for _, c := range p.conns {
			c.Close()
		}
	})
	return p
}

// dialUpstream is the helper process's Upstream: it dials the parent's parking
// upstream, over TLS if asked.
type dialUpstream struct {
	addr   string
	useTLS bool
}

func (d dialUpstream) Login(ctx context.Context, _ upstream.Credentials) (*upstream.Session, error) {
	var nd net.Dialer
	c, err := nd.DialContext(ctx, "tcp", d.addr)
	if err != nil {
		return nil, upstream.ErrUnavailable
	}
	if d.useTLS {
		// Over a tlsrecord.Conn, as upstream.Dialer does, so the relay can park it.
		tc := tls.Client(&tlsrecord.Conn{Conn: c}, &tls.Config{ServerName: testDomain, InsecureSkipVerify: true})
		if err := tc.HandshakeContext(ctx); err != nil {
			c.Close()
			return nil, upstream.ErrUnavailable
		}
		c = tc
	}
	return &upstream.Session{Conn: c}, nil
}

// TestHelperProxyProcess is the child of BenchmarkIdleSessionMemory; it skips
// unless started by it. On "mem" it prints the heap and stacks in use.
func TestHelperProxyProcess(t *testing.T) {
	upAddr := os.Getenv(envHelperUpstream)
	if upAddr == "" {
		t.Skip("helper process for BenchmarkIdleSessionMemory")
	}
	upTLS, _ := strconv.ParseBool(os.Getenv(envHelperUpstreamTLS))
	cert, _ := certificate(t)
	srv, err := New(Config{
		Domains: []Domain{{
			Name:     testDomain,
			SASL:     saslauth.Config{Authenticator: &fakeAuth{passwords: map[string]string{"juliet": "s3cret"}}, AllowPlain: true},
			Upstream: dialUpstream{addr: upAddr, useTLS: upTLS},
		}},
		Certificates: &certSource{cert: cert},
		Logger:       zerolog.Nop(),
		// Thousands of logins from one address in seconds: no per-IP rate limit.
		Limits: Limits{ConnectionRate: -1},
	})
	if err != nil {
		t.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	go func() { _ = srv.Serve(context.Background(), ln, false) }()
	fmt.Printf("ADDR %s\n", ln.Addr())
	in := bufio.NewScanner(os.Stdin)
	for in.Scan() {
		if path, ok := strings.CutPrefix(in.Text(), "prof "); ok {
			runtime.GC()
			f, err := os.Create(path)
			if err == nil {
				_ = pprof.Lookup("heap").WriteTo(f, 0)
				f.Close()
			}
		}
		if in.Text() == "mem" {
			var ms runtime.MemStats
			runtime.GC()
			runtime.GC()
			runtime.ReadMemStats(&ms)
			fmt.Printf("MEM %d %d %d\n", ms.HeapInuse, ms.StackInuse, runtime.NumGoroutine())
		}
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Second)
	defer cancel()
	_ = srv.Shutdown(ctx)
	_, _ = io.Copy(io.Discard, os.Stdin)
}
