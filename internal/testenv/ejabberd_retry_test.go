package testenv

import (
	"os"
	"strconv"
	"strings"
	"testing"
)

// TestEjabberdRetriesTakenPort hands ejabberd a c2s port already in use on
// its first attempt: it must notice (not wait for its start-up timeout) and
// come up on fresh ports.
func TestEjabberdRetriesTakenPort(t *testing.T) {
	if _, err := ejabberdLibs(); err != nil && os.Getenv("CI") != "true" {
		t.Skip(err)
	}
	takenPort := takenLoopbackPort(t)
	calls := 0
	orig := pickPorts
	pickPorts = func(n int) ([]int, error) {
		ports, err := orig(n)
		if calls++; calls == 1 && err == nil {
			ports[0] = takenPort
		}
		return ports, err
	}
	defer func() { pickPorts = orig }()

	e, err := StartEjabberd(testCtx(t), t.Logf)
	if err != nil {
		t.Fatal(err)
	}
	defer e.Close()
	if calls != 2 {
		t.Errorf("%d port picks, want one retry", calls)
	}
	if strings.HasSuffix(e.C2SAddr, ":"+strconv.Itoa(takenPort)) {
		t.Errorf("ejabberd kept the taken port %s", e.C2SAddr)
	}
	if !streamFeatures(testCtx(t), e.C2SAddr, e.Domain) {
		t.Error("no stream features after the retry")
	}
}
