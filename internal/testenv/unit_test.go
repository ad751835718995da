package testenv

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestProsodyEncode(t *testing.T) {
	for in, want := range map[string]string{
		"alice":     "alice",
		"erin.x":    "erin%2ex",
		"a_b-c":     "a%5fb%2dc",
		"localhost": "localhost",
		"é":         "%c3%a9",
	} {
		if got := prosodyEncode(in); got != want {
			t.Errorf("prosodyEncode(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestTailFile(t *testing.T) {
	path := filepath.Join(t.TempDir(), "log")
	var lines []string
	for i := range 50 {
		lines = append(lines, strings.Repeat("x", i))
	}
	if err := os.WriteFile(path, []byte(strings.Join(lines, "\n")+"\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	got := strings.Split(tailFile(path, 3), "\n")
	if want := lines[47:]; strings.Join(got, "|") != strings.Join(want, "|") {
		t.Errorf("tail = %q, want %q", got, want)
	}
	if err := os.WriteFile(path, []byte("only\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if got := tailFile(path, 3); got != "only" {
		t.Errorf("short file tail = %q", got)
	}
}

func TestCheckInstalledWithoutBinaries(t *testing.T) {
	t.Setenv("PATH", t.TempDir())
	err := checkInstalled()
	if !errors.Is(err, ErrUnavailable) {
		t.Fatalf("err = %v, want ErrUnavailable", err)
	}
	if !strings.Contains(err.Error(), "apt-get install") {
		t.Errorf("error lacks the install hint: %v", err)
	}
}

func TestUniq(t *testing.T) {
	got := uniq([]string{"a", "b", "a", "c", "b"})
	if strings.Join(got, ",") != "a,b,c" {
		t.Errorf("uniq = %v", got)
	}
}
