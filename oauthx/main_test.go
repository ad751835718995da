package oauthx

import (
	"testing"

	"github.com/xmpp-oauth-proxy/xmpp-oauth-proxy/internal/testenv"
)

// TestMain shares one real Glewlwyd (internal/testenv) among the tests that
// ask for it and stops it at the end.
func TestMain(m *testing.M) { testenv.Main(m) }
