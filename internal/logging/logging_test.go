package logging

import (
	"bytes"
	"encoding/json"
	"strings"
	"testing"
)

func TestJSONByDefault(t *testing.T) {
	var buf bytes.Buffer
	log, err := New(&buf, "info", "")
	if err != nil {
		t.Fatal(err)
	}
	log.Debug().Msg("hidden")
	log.Info().Str("conn", "c1").Msg("shown")
	var line map[string]any
	if err := json.Unmarshal(buf.Bytes(), &line); err != nil {
		t.Fatalf("not one JSON line: %q", buf.String())
	}
	if line["message"] != "shown" || line["conn"] != "c1" {
		t.Errorf("line = %v", line)
	}
}

func TestConsoleFormat(t *testing.T) {
	var buf bytes.Buffer
	log, err := New(&buf, "debug", "console")
	if err != nil {
		t.Fatal(err)
	}
	log.Debug().Msg("human")
	if out := buf.String(); strings.HasPrefix(out, "{") || !strings.Contains(out, "human") {
		t.Errorf("console output = %q", out)
	}
}

func TestBadSettings(t *testing.T) {
	if _, err := New(nil, "loud", "json"); err == nil {
		t.Error("bad level accepted")
	}
	if _, err := New(nil, "info", "xml"); err == nil {
		t.Error("bad format accepted")
	}
}
