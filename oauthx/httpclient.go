package oauthx

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"time"
)

// maxBody bounds every answer read from the authorization server.
const maxBody = 1 << 20

// newHTTPClient builds the one client all requests share: bounded connect,
// TLS handshake and whole-request times, kept-alive connections (enough idle
// ones per host for a burst of logins), and certificate checks unless the
// configuration explicitly turns them off.
func newHTTPClient(cfg Config) (*http.Client, error) {
	tlsConf := &tls.Config{MinVersion: tls.VersionTLS12}
	if cfg.CAFile != "" {
		pem, err := os.ReadFile(cfg.CAFile)
		if err != nil {
			return nil, fmt.Errorf("%w: ca_file: %w", ErrMisconfigured, err)
		}
		pool, err := x509.SystemCertPool()
		if err != nil {
			pool = x509.NewCertPool()
		}
		if !pool.AppendCertsFromPEM(pem) {
			return nil, fmt.Errorf("%w: ca_file %s holds no PEM certificate", ErrMisconfigured, cfg.CAFile)
		}
		tlsConf.RootCAs = pool
	}
	tlsConf.InsecureSkipVerify = cfg.InsecureSkipVerify
	dialer := &net.Dialer{Timeout: cfg.Timeout, KeepAlive: 30 * time.Second}
	tr := &http.Transport{
		Proxy:                 http.ProxyFromEnvironment,
		DialContext:           dialer.DialContext,
		TLSClientConfig:       tlsConf,
		TLSHandshakeTimeout:   cfg.Timeout,
		ResponseHeaderTimeout: cfg.Timeout,
		IdleConnTimeout:       90 * time.Second,
		MaxIdleConns:          256,
		MaxIdleConnsPerHost:   64,
		ForceAttemptHTTP2:     true,
	}
	return &http.Client{
		Transport: tr,
		Timeout:   cfg.Timeout,
		// A redirect from a token or introspection endpoint would resend the
		// form (and secrets) somewhere else: follow none.
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	}, nil
}

// getJSON GETs u asking for JSON and returns the status and the (bounded) body.
// Transport failures are ErrUnavailable; a body that cannot be read is one
// only when the status is 200 (other statuses are judged by the caller).
func (c *Client) getJSON(ctx context.Context, what, u string) (int, []byte, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
	if err != nil {
		return 0, nil, classed(ErrMisconfigured, what+" URL", err)
	}
	req.Header.Set("Accept", "application/json")
	resp, err := c.http.Do(req)
	if err != nil {
		return 0, nil, transportError(what, err)
	}
	defer resp.Body.Close()
	body, err := readBody(resp.Body)
	if err != nil && resp.StatusCode == http.StatusOK {
		return 0, nil, classed(ErrUnavailable, what+": reading answer", err)
	}
	return resp.StatusCode, body, nil
}

// readBody reads at most maxBody bytes; a longer answer is garbage.
func readBody(r io.Reader) ([]byte, error) {
	b, err := io.ReadAll(io.LimitReader(r, maxBody+1))
	if err != nil {
		return nil, err
	}
	if len(b) > maxBody {
		return nil, errors.New("answer larger than 1 MiB")
	}
	return b, nil
}
