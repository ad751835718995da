package composetest

import (
	"io/fs"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

// ignoreRule is one .dockerignore line with Docker's semantics: paths are relative
// to the context root, "*" stays within one path element, "**" spans any number, a
// rule that matches a directory covers everything below it, "!" re-includes, and the
// last matching rule wins.
type ignoreRule struct {
	re      *regexp.Regexp
	include bool
}

func parseDockerignore(text string) []ignoreRule {
	var rules []ignoreRule
	for _, line := range strings.Split(text, "\n") {
		line = strings.TrimSpace(line)
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		include := false
		if rest, ok := strings.CutPrefix(line, "!"); ok {
			include, line = true, strings.TrimSpace(rest)
		}
		line = filepath.ToSlash(filepath.Clean(strings.TrimPrefix(line, "/")))
		rules = append(rules, ignoreRule{re: regexp.MustCompile("^" + globToRegexp(line) + "$"), include: include})
	}
	return rules
}

func globToRegexp(p string) string {
	var b strings.Builder
	for i := 0; i < len(p); i++ {
		switch c := p[i]; c {
		case '*':
			if i+1 < len(p) && p[i+1] == '*' {
				i++
				if i+1 < len(p) && p[i+1] == '/' {
					i++
					b.WriteString("(.*/)?")
				} else {
					b.WriteString(".*")
				}
			} else {
				b.WriteString("[^/]*")
			}
		case '?':
			b.WriteString("[^/]")
		case '\\':
			if i+1 < len(p) {
				i++
				b.WriteString(regexp.QuoteMeta(string(p[i])))
			}
		default:
			b.WriteString(regexp.QuoteMeta(string(c)))
		}
	}
	return b.String()
}

// ignored reports whether rel (slash-separated) is left out of the build context.
func ignored(rules []ignoreRule, rel string) bool {
	out := false
	for _, r := range rules {
		for p := rel; ; {
			if r.re.MatchString(p) {
				out = !r.include
				break
			}
			i := strings.LastIndex(p, "/")
			if i < 0 {
				break
			}
			p = p[:i]
		}
	}
	return out
}

// buildContext copies what `docker build .` would send into dir and returns the
// context's file list.
func buildContext(t *testing.T, root, dir string) []string {
	t.Helper()
	rules := parseDockerignore(string(readFile(t, filepath.Join(root, ".dockerignore"))))
	var files []string
	err := filepath.WalkDir(root, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, err := filepath.Rel(root, path)
		if err != nil || rel == "." {
			return err
		}
		rel = filepath.ToSlash(rel)
		if ignored(rules, rel) {
			if d.IsDir() {
				return filepath.SkipDir // no rule here re-includes below an ignored directory
			}
			return nil
		}
		if d.IsDir() || !d.Type().IsRegular() {
			return nil
		}
		files = append(files, rel)
		return copyFile(path, filepath.Join(dir, filepath.FromSlash(rel)))
	})
	if err != nil {
		t.Fatal(err)
	}
	return files
}

func TestDockerignoreRules(t *testing.T) {
	rules := parseDockerignore("# comment\n.git\n*.md\n**/testdata\n**/*_test.go\n!keep.md\nconfigs/compose\n")
	cases := map[string]bool{
		".git":                          true,
		".git/objects/ab/cdef":          true,
		"README.md":                     true,
		"keep.md":                       false,
		"docs/design.md":                false, // *.md is anchored at the root
		"proxy/testdata/fuzz/F/seed":    true,
		"testdata/x":                    true,
		"proxy/server_test.go":          true,
		"proxy/server.go":               false,
		"configs/compose/proxy.yaml":    true,
		"configs/example.yaml":          false,
		"configs/composer/whatever.txt": false,
		"go.mod":                        false,
	}
	for path, want := range cases {
		if got := ignored(rules, path); got != want {
			t.Errorf("ignored(%q) = %v, want %v", path, got, want)
		}
	}
}

func TestBuildContextIsSmall(t *testing.T) {
	root := repoRoot(t)
	files := buildContext(t, root, t.TempDir())
	need := map[string]bool{"go.mod": false, "go.sum": false, "cmd/xmpp-oauth-proxy/main.go": false}
	for _, f := range files {
		if _, ok := need[f]; ok {
			need[f] = true
		}
		if strings.HasPrefix(f, ".git/") || strings.HasSuffix(f, "_test.go") || strings.HasPrefix(f, "configs/compose/") {
			t.Errorf("%s is in the build context", f)
		}
	}
	for f, ok := range need {
		if !ok {
			t.Errorf("%s is not in the build context", f)
		}
	}
}
