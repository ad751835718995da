package config

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestReadSessionTicketKeys(t *testing.T) {
	dir := t.TempDir()
	write := func(name, body string) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte(body), 0o600); err != nil {
			t.Fatal(err)
		}
		return p
	}
	k1, k2 := randomB64(32), randomB64(32)
	keys, err := ReadSessionTicketKeys(write("good", "# newest first\n"+k1+"\n\n"+k2+"\n"))
	if err != nil || len(keys) != 2 {
		t.Fatalf("two keys: %d, %v", len(keys), err)
	}
	short := randomB64(16)
	for name, body := range map[string]string{"short key": k1 + "\n" + short + "\n", "not base64": "not-a-key!\n", "empty": "# nothing\n"} {
		_, err := ReadSessionTicketKeys(write(strings.ReplaceAll(name, " ", "-"), body))
		if err == nil {
			t.Errorf("%s accepted", name)
		} else if strings.Contains(err.Error(), short) || strings.Contains(err.Error(), k1) {
			t.Errorf("%s: the error echoes a key", name)
		}
	}
}
