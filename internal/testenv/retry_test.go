package testenv

import (
	"context"
	"net"
	"os"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
)

// TestStartRetriesTakenPorts hands each service a port that is already in
// use on its first attempt; Start must come up on fresh ports anyway.
func TestStartRetriesTakenPorts(t *testing.T) {
	if err := checkInstalled(); err != nil && os.Getenv("CI") != "true" {
		t.Skip(err)
	}
	takenPort := takenLoopbackPort(t)

	var mu sync.Mutex
	calls := map[int]int{} // by n: prosody asks for 2 ports, glewlwyd for 1
	orig := pickPorts
	pickPorts = func(n int) ([]int, error) {
		ports, err := orig(n)
		mu.Lock()
		defer mu.Unlock()
		if calls[n]++; calls[n] == 1 && err == nil {
			ports[0] = takenPort
		}
		return ports, err
	}
	defer func() { pickPorts = orig }()

	ctx, cancel := context.WithTimeout(t.Context(), time.Minute)
	defer cancel()
	env, err := Start(ctx, Options{Logf: t.Logf})
	if err != nil {
		t.Fatal(err)
	}
	defer env.Close()
	if calls[1] != 2 || calls[2] != 2 {
		t.Errorf("port picks by size = %v, want one retry for each service", calls)
	}
	tp := ":" + strconv.Itoa(takenPort)
	for _, addr := range []string{env.Prosody.C2SAddr, env.IdP.BaseURL} {
		if strings.Contains(addr, tp) {
			t.Errorf("service kept the taken port: %s", addr)
		}
	}
	if _, err := env.IdP.PasswordToken(ctx, "alice", env.IdP.Users["alice"]); err != nil {
		t.Errorf("IdP after retry: %v", err)
	}
}

// takenLoopbackPort is a loopback port held open until the test ends.
func takenLoopbackPort(t *testing.T) int {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { l.Close() })
	return l.Addr().(*net.TCPAddr).Port
}
