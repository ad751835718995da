package testenv

import (
	"os"
	"regexp"
	"strconv"
	"strings"
	"testing"
)

// TestEjabberdDeploymentDocConfig starts ejabberd with the ejabberd.yml that
// docs/deployment.md tells admins to write (names, addresses and paths made
// local) and checks that the admin it names may run XEP-0133 add-user.
func TestEjabberdDeploymentDocConfig(t *testing.T) {
	if _, err := ejabberdLibs(); err != nil && os.Getenv("CI") != "true" {
		t.Skip(err)
	}
	doc, err := os.ReadFile("../../docs/deployment.md")
	if err != nil {
		t.Fatal(err)
	}
	m := regexp.MustCompile("(?s)### ejabberd.*?```yaml\n(.*?)```").FindSubmatch(doc)
	if m == nil {
		t.Fatal("no ejabberd yaml block in docs/deployment.md")
	}
	documented := string(m[1])
	config := func(e *Ejabberd, c2s, tls int) string {
		return strings.NewReplacer(
			"example.org.pem", "localhost.pem", "/etc/ejabberd/", e.Dir+"/etc/", "example.org", e.Domain,
			"10.0.0.5", "127.0.0.1", "port: 5222", "port: "+strconv.Itoa(c2s), "port: 5223", "port: "+strconv.Itoa(tls),
		).Replace(documented)
	}
	e, err := startEjabberdIn(testCtx(t), "", t.Logf, config)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { e.Close() })
	// The documented admin, registered as the doc says (ejabberdctl register).
	e.AdminJID = regexp.MustCompile(`"([^"@]+)@example\.org"`).FindStringSubmatch(documented)[1] + "@" + e.Domain
	admin, _, _ := cutJID(e.AdminJID)
	if err := e.Register(testCtx(t), admin, e.AdminPassword); err != nil {
		t.Fatal(err)
	}
	testAdminAddsUser(t, e)
}
