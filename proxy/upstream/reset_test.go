package upstream

import (
	"errors"
	"net"
	"testing"
)

// reset ends the fake server's connection with a TCP reset, as a crashing
// server or a middlebox does.
func (f *fakeConn) reset() {
	if tc, ok := f.c.(*net.TCPConn); ok {
		_ = tc.SetLinger(0)
	}
	_ = f.c.Close()
}

// The server resets the connection at each step of the login: the login fails
// as unavailable (the client gets temporary-auth-failure and may retry), never
// as a refusal of the user's credentials. A reset after <success/> is the
// relay's to see (proxy's TestUpstreamVanishes).
func TestUpstreamResetMidLogin(t *testing.T) {
	steps := map[string]func(c *fakeConn){
		"before the header": func(c *fakeConn) { c.reset() },
		"after the header":  func(c *fakeConn) { c.header(); c.send(fakeHeader); c.reset() },
		"after the auth": func(c *fakeConn) {
			c.header()
			c.send(fakeHeader + fakeFeatures("PLAIN"))
			c.until("</auth>")
			c.reset()
		},
	}
	for name, script := range steps {
		t.Run(name, func(t *testing.T) {
			d := fakeDialer(t, fakeServer(t, script), CredPassthrough)
			_, err := d.Login(t.Context(), Credentials{Username: "bob", Password: "pw"})
			if !errors.Is(err, ErrUnavailable) || errors.Is(err, ErrRejected) {
				t.Fatalf("err = %v, want ErrUnavailable only", err)
			}
		})
	}
}
