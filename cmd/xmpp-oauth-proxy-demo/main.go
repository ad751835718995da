package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"path/filepath"
	"sort"
	"syscall"
	"time"

	"github.com/xmpp-oauth-proxy/xmpp-oauth-proxy/internal/app"
	"github.com/xmpp-oauth-proxy/xmpp-oauth-proxy/internal/config"
	"github.com/xmpp-oauth-proxy/xmpp-oauth-proxy/internal/logging"
	"github.com/xmpp-oauth-proxy/xmpp-oauth-proxy/internal/testenv"
)

func main() {
	starttls := flag.String("starttls", "127.0.0.1:5222", "proxy STARTTLS listener")
	direct := flag.String("direct", "127.0.0.1:5223", "proxy Direct TLS listener")
	metrics := flag.String("metrics", "127.0.0.1:9090", "metrics listener (empty: off)")
	portal := flag.String("portal", "127.0.0.1:8080", "self-service page listener")
	server := flag.String("server", testenv.ServerProsody, "XMPP server behind the proxy: prosody or ejabberd")
	ws := flag.String("websocket", "127.0.0.1:5281", "proxy XMPP-over-WebSocket listener (plain ws:// on loopback)")
	chat := flag.String("webchat", "127.0.0.1:8081", "Converse.js page listener (empty: off)")
	clients := flag.String("webclients", "tools/webclients", "directory of the web clients (scripts/setup-webclients.sh installs them)")
	flag.Parse()
	if *server != testenv.ServerProsody && *server != testenv.ServerEjabberd {
		fmt.Fprintf(os.Stderr, "demo: -server %q: want prosody or ejabberd\n", *server)
		os.Exit(2)
	}
	l := testenv.ProxyListeners{StartTLS: *starttls, Direct: *direct, Metrics: *metrics, WebSocket: *ws, WebSocketPlain: true}
	if err := run(*server, l, *portal, webChat{addr: *chat, dir: *clients}); err != nil {
		fmt.Fprintln(os.Stderr, "demo:", err)
		os.Exit(1)
	}
}

func run(server string, l testenv.ProxyListeners, portalAddr string, chat webChat) error {
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGINT, syscall.SIGTERM)
	defer stop()

	dir, err := os.MkdirTemp("", "xmpp-oauth-proxy-demo-")
	if err != nil {
		return err
	}
	fmt.Println("demo: starting Glewlwyd and", server, "in", dir)
	// Prosody always starts (Env needs it); ejabberd on top when asked for.
	env, err := testenv.Start(ctx, testenv.Options{Dir: dir, Ejabberd: server == testenv.ServerEjabberd})
	if err != nil {
		return err
	}
	defer os.RemoveAll(dir)
	defer env.Close()
	srv := env.Server(server)

	portal, err := env.PortalConfig(ctx, portalAddr, dir)
	if err != nil {
		return err
	}
	cfgPath := filepath.Join(dir, "proxy.yaml")
	extra := "log: {level: info, format: console}\n" + portal.Extra
	if err := os.WriteFile(cfgPath, []byte(env.ProxyConfigFor(srv, l, extra)), 0o600); err != nil {
		return err
	}
	cfg, err := config.Load(cfgPath)
	if err != nil {
		return err
	}
	log, err := logging.New(os.Stderr, "info", "console")
	if err != nil {
		return err
	}
	a, err := app.New(cfg, log)
	if err != nil {
		return err
	}
	if err := a.Listen(); err != nil { // listening before the how-to is printed
		return err
	}
	chatURL, err := chat.serve(ctx, env, l.WebSocket)
	if err != nil {
		return err
	}
	done := make(chan error, 1)
	go func() { done <- a.Run(ctx) }()
	// The how-to comes once logins can work: the IdP's metadata and keys are in.
	readyCtx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	if err := a.WaitReady(readyCtx); err != nil {
		stop()
		<-done
		return fmt.Errorf("the proxy did not get ready: %w", err)
	}
	printHowTo(env, srv, l.StartTLS, l.Direct, cfgPath, portal.PublicURL, chatURL)
	return <-done
}

// serverLabels describe the demo's upstream server.
var serverLabels = map[string]string{
	testenv.ServerProsody:  "Prosody (stock config)",
	testenv.ServerEjabberd: "ejabberd (stock config minus shaper and fail2ban)",
}

func printHowTo(env *testenv.Env, srv testenv.Server, starttls, direct, cfgPath, portalURL, chatURL string) {
	p, idp := srv.Info(), env.IdP
	names := make([]string, 0, len(idp.Users))
	for n := range idp.Users {
		names = append(names, n)
	}
	sort.Strings(names)
	fmt.Printf(`
xmpp-oauth-proxy demo is running (Ctrl-C stops it and cleans up).

  XMPP server behind the proxy : %s at %s
  OpenID Connect provider      : Glewlwyd, discovery %s
  Proxy                        : STARTTLS %s, Direct TLS %s (config %s)
  TLS certificate (self-signed): %s
  Self-service page            : %s (sign in at the IdP, create app passwords)
  Chat in the browser          : %s

Demo users (their passwords live in the IdP only; the XMPP server never sees them):
`, serverLabels[p.Name], p.C2SAddr, idp.DiscoveryURL, starttls, direct, cfgPath, p.CertFile, portalURL, chatURL)
	for _, n := range names {
		fmt.Printf("  %s@%s  password %s\n", n, p.Domain, idp.Users[n])
	}
	first := names[0]
	fmt.Printf(`
Send a message with a Debian client (SASL PLAIN, checked with the IdP's password grant):
  echo hello | go-sendxmpp -u %[1]s@%[2]s -p '%[3]s' -j %[4]s -n bob@%[2]s

Any XMPP client works: account %[1]s@%[2]s, password %[3]s, server %[5]s, accept the self-signed certificate.
For OAUTHBEARER, get a token first:
  curl -s -u '%[6]s:%[7]s' -d grant_type=password -d username=%[1]s -d 'password=%[3]s' -d 'scope=%[8]s' %[9]s
`, first, p.Domain, idp.Users[first], starttls, starttls, idp.ClientID, idp.ClientSecret, idp.Scope, idp.TokenURL)
}
