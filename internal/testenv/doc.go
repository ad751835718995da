// Package testenv starts the real services the proxy is tested against: an
// unchanged Prosody or ejabberd (the upstream XMPP servers), a Glewlwyd OpenID Connect
// provider and PostgreSQL (the credential store's shared backend), from
// their installed Debian binaries, on free loopback ports in temporary
// directories.
//
// From a program (the demo stack):
//
//	env, err := testenv.Start(ctx, testenv.Options{Logf: log.Printf})
//	if err != nil { ... }
//	defer env.Close()
//	tok, err := env.IdP.PasswordToken(ctx, "alice", env.IdP.Users["alice"])
//
// From tests, one environment is shared per test binary:
//
//	func TestMain(m *testing.M) { testenv.Main(m) }
//	func TestX(t *testing.T) { env := testenv.Require(t); ... }
//
// A throwaway PostgreSQL cluster (Debian's postgresql package; as the
// postgres user when run as root) is shared the same way, with a fresh
// database per test:
//
//	dsn := testenv.PostgresDatabase(t)
//
// ejabberd (Debian's 23.01, run as erl itself with its own node name,
// cookie and distribution port, no epmd) is the second upstream server,
// started lazily and shared the same way. Tests that should hold for both
// servers run per server:
//
//	testenv.ForEachServer(t, func(t *testing.T, srv testenv.Server) { ... })
//	yaml := env.ProxyConfigFor(srv, listeners, "")
//
// A reference Prosody, the same 0.12 with prosody-modules' SASL2, Bind2,
// FAST and inline SM (and our test-only glue, prosody_modules/, that makes
// that 2023 snapshot run on 0.12), is what the proxy's own SASL2 is held
// against; shared the same way:
//
//	ref := testenv.RequireReferenceProsody(t)
//
// Every process is started in its own process group with a parent-death
// signal, and Close kills the groups, so nothing outlives the caller.
//
// The package does not install anything, does not use Docker, and is not a
// production launcher: the Glewlwyd admin account keeps its well-known
// default password and listens on loopback only.
package testenv
