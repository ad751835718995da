package testenv

import (
	"context"
	"net"
	"testing"
	"time"
)

// Both services come back on the same addresses after a restart, and the IdP
// still issues tokens for its users.
func TestRestartServices(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	env, err := Start(ctx, Options{})
	if err != nil {
		skipOrFail(t, err)
	}
	defer env.Close()
	c2s := env.Prosody.C2SAddr
	if err := env.RestartProsody(ctx); err != nil {
		t.Fatal(err)
	}
	if env.Prosody.C2SAddr != c2s {
		t.Fatalf("Prosody moved from %s to %s", c2s, env.Prosody.C2SAddr)
	}
	conn, err := net.DialTimeout("tcp", c2s, 5*time.Second)
	if err != nil {
		t.Fatalf("Prosody after the restart: %v", err)
	}
	conn.Close()
	if err := env.RestartIdP(ctx); err != nil {
		t.Fatal(err)
	}
	if _, err := env.IdP.PasswordToken(ctx, "alice", env.IdP.Users["alice"]); err != nil {
		t.Fatalf("token after the IdP restart: %v", err)
	}
}
