package credstore

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
)

// fullDisk mounts a small tmpfs for the test (root only; skipped elsewhere) and
// returns its path and a function that fills it up.
func fullDisk(t *testing.T) (dir string, fill func()) {
	dir = filepath.Join(t.TempDir(), "fs")
	if err := os.Mkdir(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := syscall.Mount("tmpfs", dir, "tmpfs", 0, "size=4m"); err != nil {
		t.Skipf("cannot mount a tmpfs to fill (needs root): %v", err)
	}
	t.Cleanup(func() { _ = syscall.Unmount(dir, syscall.MNT_DETACH) })
	return dir, func() {
		f, err := os.Create(filepath.Join(dir, "filler"))
		if err != nil {
			t.Fatal(err)
		}
		defer f.Close()
		block := make([]byte, 64<<10)
		for {
			if _, err := f.Write(block); err != nil {
				if !errors.Is(err, syscall.ENOSPC) {
					t.Fatal(err)
				}
				return
			}
		}
	}
}

// TestSQLiteDiskFull: on a full disk, reading goes on (an app password used
// again from the same address within UseRecordingStep verifies: no write), while
// what must write fails with an error naming no secret: a new app password, and
// a use from a new address (the proxy answers that login temporary-auth-failure,
// as for a store that is down). Once space is free again, both work, no restart.
func TestSQLiteDiskFull(t *testing.T) {
	dir, fill := fullDisk(t)
	s := backend{name: DriverSQLite, base: Config{Driver: DriverSQLite, Path: filepath.Join(dir, "credstore.db")}}.open(t)
	_, secret := create(t, s, alice, "phone")
	mustVerify(t, s, secret, "192.0.2.1")

	fill()
	mustVerify(t, s, secret, "192.0.2.1")
	_, newSecret, err := s.CreateAppPassword(t.Context(), NewAppPassword{Owner: alice, Label: "laptop", RefreshToken: "rt-secret"})
	if err == nil {
		t.Fatal("created an app password on a full disk")
	}
	if strings.Contains(err.Error(), "rt-secret") || newSecret.Reveal() != "" && strings.Contains(err.Error(), newSecret.Reveal()) {
		t.Fatalf("error names a secret: %v", err)
	}
	if _, err := s.Verify(t.Context(), alice.JID, secret.Reveal(), "198.51.100.7"); err == nil || errors.Is(err, ErrNotFound) || errors.Is(err, ErrRevoked) {
		t.Fatalf("use from a new address on a full disk: %v, want a store error (not a verdict on the password)", err)
	}

	if err := os.Remove(filepath.Join(dir, "filler")); err != nil {
		t.Fatal(err)
	}
	mustVerify(t, s, secret, "198.51.100.7")
	create(t, s, alice, "laptop")
}
