package app_test

import (
	"bufio"
	"context"
	"crypto/tls"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"runtime/pprof"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/rs/zerolog"
	"golang.org/x/sync/errgroup"
)

// The memory benchmark runs the proxy in a child process (this test binary again,
// running TestHelperBenchProxyProcess) so that the measured heap holds the proxy
// and nothing of the clients, which stay in the parent.
const envBenchProxyConfig = "APP_BENCH_PROXY_CONFIG"

// BenchmarkIdleSessionMemory holds N idle sessions relayed to the real Prosody
// (Direct TLS, OAUTHBEARER with one token, one resource each, bound) and reports
// the proxy's heap and stacks in use per session after GC, its RSS growth per
// session, and Prosody's RSS growth per session for comparison. N is
// APP_BENCH_SESSIONS (default 1500); APP_BENCH_HEAPPROFILE names a file for the
// proxy's heap profile with the sessions held. Run it with -benchtime 1x.
func BenchmarkIdleSessionMemory(b *testing.B) {
	n := 1500
	if v, err := strconv.Atoi(os.Getenv("APP_BENCH_SESSIONS")); err == nil && v > 0 {
		n = v
	}
	env := benchEnv(b)
	path := filepath.Join(b.TempDir(), "proxy.yaml")
	l := listenAny
	l.WebSocket = "127.0.0.1:0"
	yaml := env.ProxyConfig(l, benchLimits)
	if err := os.WriteFile(path, []byte(yaml), 0o600); err != nil {
		b.Fatal(err)
	}
	token := idpToken(b, env, "alice")
	p := prosodyStack(b, env) // for the TLS config: the proxy reuses Prosody's certificate
	// Go's client offers a post-quantum key share (X25519MLKEM768, 1.2 KB) and so a
	// ClientHello of ~1.5 KB; the proxy's *tls.Conn keeps an input buffer that size.
	// Most XMPP clients today send a classic X25519 hello of ~0.5 KB.
	for _, hello := range []struct {
		name   string
		curves []tls.CurveID
		ws     bool
	}{{"client-hello=x25519mlkem768", nil, false}, {"client-hello=x25519", []tls.CurveID{tls.X25519}, false}, {"websocket", []tls.CurveID{tls.X25519}, true}} {
		b.Run(hello.name, func(b *testing.B) {
			cfg := p.tlsConfig()
			cfg.CurvePreferences = hello.curves
			o := loginOpts{direct: !hello.ws, ws: hello.ws, tls: cfg, domain: env.Prosody.Domain, mech: "OAUTHBEARER", user: "alice", secret: token}
			for i := 0; i < b.N; i++ {
				measureIdle(b, path, env.Prosody.ConfigPath, o, n, hello.name, fmt.Sprintf("%s-%d-", hello.name, i))
			}
		})
	}
	// The baseline in the same run: Debian's HAProxy terminating Direct TLS in
	// front of the same Prosody, its RSS growth per idle session (x25519 hello).
	b.Run("haproxy", func(b *testing.B) {
		hp, err := env.StartHAProxy(context.Background(), "", "")
		if err != nil {
			b.Skip(err) // a baseline: only `make bench` needs haproxy
		}
		defer hp.Close()
		const user = "benchidlehp"
		prosodyUser(b, env, user)
		cfg := p.tlsConfig()
		cfg.CurvePreferences = []tls.CurveID{tls.X25519}
		o := loginOpts{addr: hp.DirectTLSAddr, direct: true, tls: cfg, domain: env.Prosody.Domain, mech: "SCRAM-SHA-1",
			user: user, scram: scramClient(b, user, benchDirectPassword)}
		status := fmt.Sprintf("/proc/%d/status", hp.Pid())
		for i := 0; i < b.N; i++ {
			var held sessions
			if err := held.open(o, fmt.Sprintf("hp%d-w", i), 20); err != nil {
				b.Fatal(err)
			}
			time.Sleep(idleSettle)
			r0 := rssOf(status)
			if err := held.open(o, fmt.Sprintf("hp%d-s", i), n); err != nil {
				b.Fatal(err)
			}
			time.Sleep(idleSettle)
			b.ReportMetric(float64(rssOf(status)-r0)/float64(n), "haproxy-RSS-B/session")
			held.close()
		}
	})
}

// idleSettle outlasts the proxy's hot window (proxy/relaydir.go: a direction
// that just moved data waits 250 ms on its socket before it parks): idle sessions
// are measured once they are idle.
const idleSettle = 3 * time.Second

// prosodyMeasured: Prosody's RSS grows only on its first thousands of sessions;
// later runs reuse what Lua freed, so only the first measurement is reported.
var prosodyMeasured bool

// measureIdle starts the proxy (config at configPath) in a child, holds n idle
// sessions through it and reports the proxy's memory per session, and Prosody's
// (config at prosodyConfig) on the first call.
func measureIdle(b *testing.B, configPath, prosodyConfig string, o loginOpts, n int, name, prefix string) {
	child := startBenchChild(b, configPath)
	defer child.stop()
	o.addr = child.direct
	if o.ws {
		o.addr = child.ws
	}
	var held sessions
	defer held.close()
	// Warm up pools, caches and the admin session, then measure from there.
	if err := held.open(o, prefix+"w", 20); err != nil {
		b.Fatal(err)
	}
	time.Sleep(idleSettle)
	m0, pr0 := child.mem(b), prosodyRSS(prosodyConfig)
	b.ResetTimer()
	if err := held.open(o, prefix+"s", n); err != nil {
		b.Fatal(err)
	}
	b.StopTimer()
	time.Sleep(idleSettle)
	m1, pr1 := child.mem(b), prosodyRSS(prosodyConfig)
	if path := os.Getenv("APP_BENCH_HEAPPROFILE"); path != "" {
		child.heapProfile(b, path+"."+name)
	}
	per := func(a, b int64) float64 { return float64(b-a) / float64(n) }
	b.ReportMetric(per(m0.heap+m0.stack, m1.heap+m1.stack), "B/session")
	b.ReportMetric(per(m0.heap, m1.heap), "heap-B/session")
	b.ReportMetric(per(m0.stack, m1.stack), "stack-B/session")
	b.ReportMetric(per(m0.goroutines, m1.goroutines), "goroutines/session")
	b.ReportMetric(per(m0.rss, m1.rss), "proxy-RSS-B/session")
	if pr0 > 0 && pr1 > 0 && !prosodyMeasured {
		prosodyMeasured = true
		b.ReportMetric(per(pr0, pr1), "prosody-RSS-B/session")
	}
}

// sessions are idle logged-in connections held open.
type sessions struct {
	mu    sync.Mutex
	conns []*benchConn
}

// open logs in n sessions, four at a time, with resources prefix0..prefix(n-1).
func (s *sessions) open(o loginOpts, prefix string, n int) error {
	var g errgroup.Group
	g.SetLimit(4)
	for i := range n {
		g.Go(func() error {
			o := o
			o.resource = prefix + strconv.Itoa(i)
			c, _, err := benchLogin(context.Background(), o)
			if err != nil {
				return fmt.Errorf("session %d: %w", i, err)
			}
			s.mu.Lock()
			s.conns = append(s.conns, c)
			s.mu.Unlock()
			return nil
		})
	}
	return g.Wait()
}

func (s *sessions) close() {
	for _, c := range s.conns {
		c.conn.Close()
	}
}

// benchChild is the proxy running in a child process.
type benchChild struct {
	cmd    *exec.Cmd
	stdin  io.WriteCloser
	out    *bufio.Reader
	direct string
	ws     string
}

// childMem is what the child reports: bytes, and a count of goroutines.
type childMem struct{ heap, stack, goroutines, rss int64 }

func startBenchChild(b *testing.B, configPath string) *benchChild {
	b.Helper()
	cmd, stdin, stdout := startHelper(b, "TestHelperBenchProxyProcess", envBenchProxyConfig+"="+configPath, os.Stderr)
	c := &benchChild{cmd: cmd, stdin: stdin, out: bufio.NewReader(stdout)}
	b.Cleanup(c.stop)
	for range 100 {
		line, err := c.out.ReadString('\n')
		if err != nil {
			b.Fatalf("helper process: %v", err)
		}
		if f := strings.Fields(line); len(f) == 4 && f[0] == "ADDR" {
			c.direct, c.ws = f[2], f[3]
			return c
		}
	}
	b.Fatal("helper process printed no address")
	return nil
}

// startHelper runs this test binary again as the helper test name, with one
// more environment variable, and returns its stdin and stdout.
func startHelper(tb testing.TB, name, env string, stderr io.Writer) (*exec.Cmd, io.WriteCloser, io.Reader) {
	tb.Helper()
	cmd := exec.Command(os.Args[0], "-test.run=^"+name+"$", "-test.v")
	cmd.Env = append(os.Environ(), env)
	cmd.Stderr = stderr
	stdin, err := cmd.StdinPipe()
	if err != nil {
		tb.Fatal(err)
	}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		tb.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		tb.Fatal(err)
	}
	return cmd, stdin, stdout
}

func (c *benchChild) mem(b *testing.B) childMem {
	b.Helper()
	fmt.Fprintln(c.stdin, "mem")
	for range 100 {
		line, err := c.out.ReadString('\n')
		if err != nil {
			b.Fatalf("helper process: %v", err)
		}
		f := strings.Fields(line)
		if len(f) != 5 || f[0] != "MEM" {
			continue
		}
		var v [4]int64
		for i := range v {
			v[i], _ = strconv.ParseInt(f[i+1], 10, 64)
		}
		return childMem{heap: v[0], stack: v[1], goroutines: v[2], rss: v[3]}
	}
	b.Fatal("helper process gave no memory figures")
	return childMem{}
}

// heapProfile has the child write its heap profile (after GC) to path.
func (c *benchChild) heapProfile(b *testing.B, path string) {
	b.Helper()
	fmt.Fprintln(c.stdin, "prof "+path)
	c.mem(b) // answered after the profile is written
}

func (c *benchChild) stop() {
	if c.stdin != nil {
		c.stdin.Close()
		c.stdin = nil
		_ = c.cmd.Wait()
	}
}

// TestHelperBenchProxyProcess is the child of BenchmarkIdleSessionMemory; it skips
// unless started by it. It prints "ADDR starttls direct websocket", then answers each "mem"
// line on stdin with "MEM heapInuse stackInuse goroutines rss" ("prof path" writes a
// heap profile first), and stops at EOF.
func TestHelperBenchProxyProcess(t *testing.T) {
	path := os.Getenv(envBenchProxyConfig)
	if path == "" {
		t.Skip("helper process for BenchmarkIdleSessionMemory")
	}
	if os.Getenv("APP_BENCH_HEAPPROFILE") != "" {
		runtime.MemProfileRate = 1 // every allocation, for an exact split; profiling buckets live off the heap
	}
	level := zerolog.ErrorLevel
	if l, err := zerolog.ParseLevel(os.Getenv("APP_BENCH_CHILD_LOG")); err == nil && l != zerolog.NoLevel {
		level = l // e.g. info, to see refusals while a benchmark runs
	}
	a := runBenchApp(t, path, zerolog.New(os.Stderr).Level(level))
	addrs := append(a.Addrs(), "-", "-", "-") // configs without a WebSocket listener have two
	fmt.Printf("ADDR %s %s %s\n", addrs[0], addrs[1], addrs[2])
	in := bufio.NewScanner(os.Stdin)
	for in.Scan() {
		if path, ok := strings.CutPrefix(in.Text(), "prof "); ok {
			runtime.GC()
			if f, err := os.Create(path); err == nil {
				_ = pprof.Lookup("heap").WriteTo(f, 0)
				f.Close()
			}
		} else if in.Text() != "mem" {
			continue
		}
		var ms runtime.MemStats
		runtime.GC()
		runtime.GC()
		runtime.ReadMemStats(&ms)
		fmt.Printf("MEM %d %d %d %d\n", ms.HeapInuse, ms.StackInuse, runtime.NumGoroutine(), selfRSS())
	}
}

func selfRSS() int64 { return rssOf("/proc/self/status") }

// prosodyRSS reads Prosody's resident set from its pidfile's process; 0 if unknown.
func prosodyRSS(configPath string) int64 {
	pid, err := os.ReadFile(filepath.Join(filepath.Dir(configPath), "prosody.pid"))
	if err != nil {
		return 0
	}
	return rssOf("/proc/" + strings.TrimSpace(string(pid)) + "/status")
}

// rssOf parses VmRSS (kB) from a /proc status file; 0 if unreadable.
func rssOf(path string) int64 {
	data, err := os.ReadFile(path)
	if err != nil {
		return 0
	}
	for line := range strings.SplitSeq(string(data), "\n") {
		if v, ok := strings.CutPrefix(line, "VmRSS:"); ok {
			f := strings.Fields(v)
			if len(f) > 0 {
				kb, _ := strconv.ParseInt(f[0], 10, 64)
				return kb << 10
			}
		}
	}
	return 0
}
