package composetest

import (
	"encoding/json"
	"fmt"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
)

// instruction is one Dockerfile line after continuations are joined.
type instruction struct {
	cmd  string // upper case: FROM, RUN, ...
	args string
	line int
}

// stage is one FROM and what follows it.
type stage struct {
	image, name string
	body        []instruction
}

func parseDockerfile(t *testing.T, text string) []stage {
	t.Helper()
	var (
		stages  []stage
		pending strings.Builder
		start   int
	)
	for i, raw := range strings.Split(text, "\n") {
		line := strings.TrimSpace(raw)
		if pending.Len() == 0 && (line == "" || strings.HasPrefix(line, "#")) {
			continue
		}
		if pending.Len() == 0 {
			start = i + 1
		}
		if cont, ok := strings.CutSuffix(line, `\`); ok {
			pending.WriteString(cont + " ")
			continue
		}
		pending.WriteString(line)
		full := pending.String()
		pending.Reset()
		cmd, args, _ := strings.Cut(full, " ")
		in := instruction{cmd: strings.ToUpper(cmd), args: strings.TrimSpace(args), line: start}
		if in.cmd == "FROM" {
			words := strings.Fields(in.args)
			words = slices.DeleteFunc(words, func(w string) bool { return strings.HasPrefix(w, "--") })
			st := stage{image: words[0]}
			if len(words) == 3 && strings.EqualFold(words[1], "AS") {
				st.name = words[2]
			}
			stages = append(stages, st)
			continue
		}
		if len(stages) == 0 {
			if in.cmd == "ARG" {
				continue // global ARGs before the first FROM
			}
			t.Fatalf("Dockerfile:%d: %s before FROM", in.line, in.cmd)
		}
		stages[len(stages)-1].body = append(stages[len(stages)-1].body, in)
	}
	if len(stages) == 0 {
		t.Fatal("Dockerfile has no FROM")
	}
	return stages
}

func loadDockerfile(t *testing.T) []stage {
	t.Helper()
	return parseDockerfile(t, string(readFile(t, filepath.Join(repoRoot(t), "Dockerfile"))))
}

// splitWords splits a shell command line on blanks, honouring double and single quotes.
// Enough for the one build command; no escapes, no substitutions.
func splitWords(s string) ([]string, error) {
	var (
		words []string
		cur   strings.Builder
		quote rune
		have  bool
	)
	for _, r := range s {
		switch {
		case quote != 0 && r == quote:
			quote = 0
		case quote != 0:
			cur.WriteRune(r)
		case r == '"' || r == '\'':
			quote, have = r, true
		case r == ' ' || r == '\t':
			if have || cur.Len() > 0 {
				words = append(words, cur.String())
				cur.Reset()
				have = false
			}
		case r == ';' || r == '&' || r == '|' || r == '`':
			return nil, fmt.Errorf("shell operator %q: keep the build command a single command", r)
		default:
			cur.WriteRune(r)
		}
	}
	if quote != 0 {
		return nil, fmt.Errorf("unterminated quote in %q", s)
	}
	if have || cur.Len() > 0 {
		words = append(words, cur.String())
	}
	return words, nil
}

// buildCommand is the builder's `go build` RUN line, split into its environment
// assignments and the go command's arguments, with the stage's ARG defaults.
type buildCommand struct {
	env    []string // NAME=value, as written (may hold ${ARG})
	args   []string // after "go": build, -trimpath, ...
	argDef map[string]string
	stage  stage
}

func findBuildCommand(t *testing.T, stages []stage) buildCommand {
	t.Helper()
	for _, st := range stages {
		bc := buildCommand{argDef: map[string]string{}, stage: st}
		for _, in := range st.body {
			if in.cmd == "ARG" {
				for _, a := range strings.Fields(in.args) {
					name, def, _ := strings.Cut(a, "=")
					bc.argDef[name] = def
				}
			}
			if in.cmd != "RUN" || !strings.Contains(in.args, "go build") {
				continue
			}
			words, err := splitWords(in.args)
			if err != nil {
				t.Fatalf("Dockerfile:%d: %v", in.line, err)
			}
			i := 0
			for ; i < len(words) && strings.Contains(words[i], "=") && !strings.HasPrefix(words[i], "-"); i++ {
				bc.env = append(bc.env, words[i])
			}
			if i+1 >= len(words) || words[i] != "go" || words[i+1] != "build" {
				t.Fatalf("Dockerfile:%d: want [VAR=value ...] go build ..., got %q", in.line, in.args)
			}
			bc.args = words[i+1:]
			return bc
		}
	}
	t.Fatal("Dockerfile: no RUN ... go build in any stage")
	return buildCommand{}
}

func TestDockerfileBuildCommand(t *testing.T) {
	stages := loadDockerfile(t)
	if len(stages) < 2 {
		t.Fatalf("want a multi-stage build, got %d stage(s)", len(stages))
	}
	bc := findBuildCommand(t, stages)
	if !strings.HasPrefix(bc.stage.image, "golang:1.26") {
		t.Errorf("builder image %q, want golang:1.26 (go.mod's toolchain)", bc.stage.image)
	}
	if !slices.Contains(bc.env, "CGO_ENABLED=0") {
		t.Errorf("build environment %q lacks CGO_ENABLED=0: the final image has no libc", bc.env)
	}
	if !slices.Contains(bc.args, "-trimpath") {
		t.Errorf("go %s: no -trimpath", strings.Join(bc.args, " "))
	}
	ld := flagValue(bc.args, "-ldflags")
	for _, want := range []string{"-s", "-w", "-X main.version="} {
		if !strings.Contains(ld, want) {
			t.Errorf("-ldflags %q lacks %q", ld, want)
		}
	}
	if bc.args[len(bc.args)-1] != "./cmd/xmpp-oauth-proxy" {
		t.Errorf("builds %q, want ./cmd/xmpp-oauth-proxy", bc.args[len(bc.args)-1])
	}
	if flagValue(bc.args, "-o") == "" {
		t.Errorf("no -o: the final stage copies a known path")
	}
}

func TestDockerfileFinalStage(t *testing.T) {
	stages := loadDockerfile(t)
	final := stages[len(stages)-1]
	if !strings.HasPrefix(final.image, "gcr.io/distroless/static") && final.image != "scratch" {
		t.Errorf("final image %q: want distroless static or scratch", final.image)
	}
	bc := findBuildCommand(t, stages)
	var (
		user                     string
		entrypoint, cmd, exposed []string
		copied                   bool
	)
	for _, in := range final.body {
		switch in.cmd {
		case "RUN":
			t.Errorf("Dockerfile:%d: RUN in the final stage needs a shell it does not have", in.line)
		case "USER":
			user = in.args
		case "ENTRYPOINT":
			entrypoint = execForm(t, in)
		case "CMD":
			cmd = execForm(t, in)
		case "EXPOSE":
			exposed = append(exposed, strings.Fields(in.args)...)
		case "COPY":
			words := strings.Fields(in.args)
			from := strings.TrimPrefix(words[0], "--from=")
			if from == bc.stage.name && len(words) == 3 && words[1] == flagValue(bc.args, "-o") && words[2] == "/xmpp-oauth-proxy" {
				copied = true
			}
		}
	}
	if !copied {
		t.Errorf("final stage does not COPY --from=%s %s /xmpp-oauth-proxy", bc.stage.name, flagValue(bc.args, "-o"))
	}
	uid, _, _ := strings.Cut(user, ":")
	if n, err := strconv.Atoi(uid); user == "" || uid == "root" || (err == nil && n == 0) {
		t.Errorf("USER %q: want a non-root user", user)
	} else if err != nil {
		t.Errorf("USER %q: use a numeric uid so Kubernetes' runAsNonRoot can check it", user)
	}
	if !slices.Equal(entrypoint, []string{"/xmpp-oauth-proxy"}) {
		t.Errorf("ENTRYPOINT %q", entrypoint)
	}
	if !slices.Equal(cmd, []string{"serve", "-c", "/etc/xmpp-oauth-proxy/config.yaml"}) {
		t.Errorf("CMD %q", cmd)
	}
	for _, p := range []string{"5222", "5223", "5281", "9090"} {
		if !slices.Contains(exposed, p) {
			t.Errorf("EXPOSE %q lacks %s", exposed, p)
		}
	}
}

// execForm parses the JSON form of ENTRYPOINT/CMD; the shell form needs /bin/sh.
func execForm(t *testing.T, in instruction) []string {
	t.Helper()
	var words []string
	if err := json.Unmarshal([]byte(in.args), &words); err != nil {
		t.Errorf("Dockerfile:%d: %s %s is not the exec (JSON) form: %v", in.line, in.cmd, in.args, err)
	}
	return words
}
