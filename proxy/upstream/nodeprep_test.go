package upstream

import (
	"bufio"
	"context"
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"
)

// nodeprepCases are localparts where PRECIS and Nodeprep disagree, or that sit
// at the edges of Nodeprep's tables.
var nodeprepCases = []string{
	"alice", "Alice", "straße", "strasse", "σας", "σασ", "ΣΑΣ", "ς", "i̇", "İ", "ﬁ", "fi",
	"a\u200bb", "ab", "a\u00adb", "café", "cafe\u0301", "ｆｕｌｌ", "full", "ǅ", "ǆ", "ⅸ", "ix",
	"a b", "a@b", "a/b", "a:b", "a'b", "a\"b", "a&b", "a<b", "a>b", "😀", "\u0627\u0644",
	"\u0627a", "x\u0301", "ㄱ", "ﾊ", "µ", "μ", "ǰ", "ŉ", "ß", "ss", "admin", "ADMIN", "\u2126", "ω",
}

func TestCanonicalLocalpart(t *testing.T) {
	for _, in := range []string{"alice", "strasse", "σασ", "café", "μ", "ω"} {
		if out, err := canonicalLocalpart(in); err != nil || out != in {
			t.Errorf("canonicalLocalpart(%q) = %q, %v; want it unchanged", in, out, err)
		}
	}
	// Each of these is a different string that Nodeprep folds onto another account.
	for _, in := range []string{"straße", "σας", "Alice", "ﬁ", "a\u200bb", "ǅ", "µ", "\u2126", "", "a@b", "😀"} {
		if out, err := canonicalLocalpart(in); err == nil {
			t.Errorf("canonicalLocalpart(%q) = %q, want errNotCanonical", in, out)
		}
	}
}

// TestNodeprepMatchesProsody holds our Nodeprep against Prosody's own
// util.encodings (libidn): whatever we accept, Prosody stores unchanged, and
// whatever Prosody's strict Nodeprep leaves unchanged, we accept.
func TestNodeprepMatchesProsody(t *testing.T) {
	const lib = "/usr/lib/prosody/util/encodings.so"
	if _, err := os.Stat(lib); err != nil || !hasLua() {
		if os.Getenv("CI") == "true" {
			t.Fatalf("Prosody's util.encodings or lua5.4 missing on CI: %v", err)
		}
		t.Skip("Prosody not installed")
	}
	script := `package.cpath = "/usr/lib/prosody/?.so;" .. package.cpath
local enc = require "util.encodings"
for line in io.lines() do
  print(tostring(enc.stringprep.nodeprep(line)) .. "\t" .. tostring(enc.stringprep.nodeprep(line, true)))
end`
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, "lua5.4", "-e", script)
	cmd.Stdin = strings.NewReader(strings.Join(nodeprepCases, "\n") + "\n")
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("lua: %v", err)
	}
	sc := bufio.NewScanner(strings.NewReader(string(out)))
	for i := 0; sc.Scan(); i++ {
		in := nodeprepCases[i]
		loose, strict, _ := strings.Cut(sc.Text(), "\t")
		ours, err := canonicalLocalpart(in)
		if err == nil && loose != ours {
			t.Errorf("%q: we accept it, Prosody stores %q", in, loose)
		}
		if strict == in && err != nil {
			t.Errorf("%q: Prosody's strict Nodeprep keeps it, we refuse it", in)
		}
		if strict != "nil" && strict != in && err == nil {
			t.Errorf("%q: Prosody folds it to %q, we accept it unchanged", in, strict)
		}
	}
}

func hasLua() bool {
	_, err := exec.LookPath("lua5.4")
	return err == nil
}

func FuzzCanonicalLocalpart(f *testing.F) {
	for _, c := range nodeprepCases {
		f.Add(c)
	}
	f.Fuzz(func(t *testing.T, in string) {
		out, err := canonicalLocalpart(in)
		if err != nil {
			return
		}
		if out != in {
			t.Fatalf("accepted %q as %q", in, out)
		}
		if strings.ContainsAny(out, "\"&'/:<>@ \x00") {
			t.Fatalf("accepted %q with a JID-breaking character", out)
		}
		if again, err := canonicalLocalpart(out); err != nil || again != out {
			t.Fatalf("not idempotent: %q -> %q, %v", out, again, err)
		}
	})
}
