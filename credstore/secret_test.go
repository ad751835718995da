package credstore

import (
	"math"
	"regexp"
	"strings"
	"testing"
)

// The format carries more than 128 random bits, and generated passwords
// have that format and differ.
func TestAppPasswordShape(t *testing.T) {
	if bits := float64(passwordLetters) * math.Log2(float64(len(alphabet))); bits <= 128 {
		t.Fatalf("%d letters from %d carry %.1f bits, want more than 128", passwordLetters, len(alphabet), bits)
	}
	shape := regexp.MustCompile(`^[a-z]{5}(-[a-z]{5}){5}$`)
	seen := map[string]bool{}
	for range 100 {
		pw := newAppPassword()
		if !shape.MatchString(pw) {
			t.Fatalf("%q is not 6 dash-separated groups of 5 letters", pw)
		}
		if seen[pw] {
			t.Fatalf("%q generated twice", pw)
		}
		seen[pw] = true
	}
}

func TestNormalizePassword(t *testing.T) {
	const canonical = "abcdefghijklmnopqrstuvwxyzabcd"
	for in, ok := range map[string]bool{
		canonical:                                true,
		"abcde-fghij-klmno-pqrst-uvwxy-zabcd":    true,
		"ABCDE FGHIJ KLMNO PQRST UVWXY ZABCD":    true,
		" abcde--fghij klmno-pqrst uvwxy zabcd ": true,
		canonical[:29]:                           false,
		canonical + "e":                          false,
		"abcde-fghij-klmno-pqrst-uvwxy-zabc1":    false,
		"abcde\tfghij-klmno-pqrst-uvwxy-zabcd":   false,
		"abcdé-fghij-klmno-pqrst-uvwxy-zabcd":    false,
		"":                                       false,
		strings.Repeat(" ", 200) + canonical:     false,
		strings.Repeat("-", 4*passwordLetters+1): false,
	} {
		got, gotOK := normalizePassword(in)
		if gotOK != ok || ok && got != canonical {
			t.Errorf("normalizePassword(%q) = %q, %v; want ok=%v", in, got, gotOK, ok)
		}
	}
}

// The normaliser reads what clients type: whatever the input, it must not
// panic, and what it accepts is canonical, stable and what a grouped
// rendering of it maps back to.
func FuzzNormalizePassword(f *testing.F) {
	f.Add("abcde-fghij-klmno-pqrst-uvwxy-zabcd")
	f.Add("ABCDE FGHIJ KLMNO PQRST UVWXY ZABCD")
	f.Add("")
	f.Add("\xff\xfe")
	f.Fuzz(func(t *testing.T, typed string) {
		norm, ok := normalizePassword(typed)
		if !ok {
			if norm != "" {
				t.Fatalf("refused %q but returned %q", typed, norm)
			}
			return
		}
		if len(norm) != passwordLetters || strings.Trim(norm, alphabet) != "" {
			t.Fatalf("accepted %q as %q, not %d lowercase letters", typed, norm, passwordLetters)
		}
		if again, ok := normalizePassword(norm); !ok || again != norm {
			t.Fatalf("not stable: %q -> %q -> %q, %v", typed, norm, again, ok)
		}
		grouped := strings.ToUpper(norm[:5]) + " - " + norm[5:]
		if back, ok := normalizePassword(grouped); !ok || back != norm {
			t.Fatalf("%q -> %q, want %q", grouped, back, norm)
		}
	})
}
