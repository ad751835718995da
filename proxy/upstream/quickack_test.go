package upstream

import (
	"fmt"
	"io"
	"net"
	"strings"
	"testing"
)

func TestQuickAckWrapper(t *testing.T) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	go func() {
		c, err := l.Accept()
		if err != nil {
			return
		}
		_, _ = c.Write([]byte("hello"))
		_, _ = io.Copy(io.Discard, c) // until the client half-closes
		_ = c.Close()
	}()
	raw, err := net.Dial("tcp", l.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer raw.Close()

	if c := withQuickAck(raw, false); c != raw {
		t.Fatal("disabled: connection should stay unwrapped")
	}
	a, b := net.Pipe()
	defer a.Close()
	defer b.Close()
	if c := withQuickAck(a, true); c != a {
		t.Fatal("non-TCP connection should stay unwrapped")
	}
	c := withQuickAck(raw, true)
	q, ok := c.(*quickAckConn)
	if quickAckSupported != ok {
		t.Fatalf("wrapped = %v on a platform with quickack support %v", ok, quickAckSupported)
	}
	buf := make([]byte, 5)
	if _, err := io.ReadFull(c, buf); err != nil || string(buf) != "hello" {
		t.Fatalf("read through wrapper: %q %v", buf, err)
	}
	if ok {
		if !q.on.Load() {
			t.Fatal("quickack switched itself off on a live socket")
		}
		if err := q.CloseWrite(); err != nil {
			t.Fatalf("CloseWrite: %v", err)
		}
	}
}

func TestConfigStringHidesSecrets(t *testing.T) {
	c := Config{Domain: "example.org", SecretKey: []byte("key-material-123"), AdminPassword: "admin-pw-456"}
	for _, s := range []string{c.String(), fmt.Sprintf("%v", c), fmt.Sprintf("%+v", c)} {
		if strings.Contains(s, "key-material-123") || strings.Contains(s, "admin-pw-456") || !strings.Contains(s, "example.org") {
			t.Fatalf("config rendering %q", s)
		}
	}
}
