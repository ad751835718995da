package app_test

import (
	"fmt"
	"maps"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"strings"
	"sync"
	"testing"
)

// idpCounter puts a transparent counter in front of a Glewlwyd plugin's token,
// introspection and userinfo endpoints and points the proxy config yaml (whose
// discovery URL is discovery) at it, so requests are counted where Glewlwyd
// receives them. hits returns the counts by the endpoint's last path element.
func idpCounter(t testing.TB, yaml, discovery, issuer string) (counted string, hits func() map[string]int) {
	t.Helper()
	disc, err := url.Parse(discovery)
	if err != nil {
		t.Fatal(err)
	}
	var mu sync.Mutex
	count := map[string]int{}
	forward := httputil.NewSingleHostReverseProxy(&url.URL{Scheme: disc.Scheme, Host: disc.Host})
	counter := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		count[r.URL.Path[strings.LastIndex(r.URL.Path, "/")+1:]]++
		mu.Unlock()
		forward.ServeHTTP(w, r)
	}))
	t.Cleanup(counter.Close)
	base := counter.URL + strings.TrimSuffix(strings.TrimPrefix(issuer, disc.Scheme+"://"+disc.Host), "/")
	counted = strings.Replace(yaml, "\noauth:\n", fmt.Sprintf("\noauth:\n  token_endpoint: %q\n  introspection_endpoint: %q\n  validation_endpoint: %q\n",
		base+"/token", base+"/introspect", base+"/userinfo"), 1)
	return counted, func() map[string]int {
		mu.Lock()
		defer mu.Unlock()
		return maps.Clone(count)
	}
}
