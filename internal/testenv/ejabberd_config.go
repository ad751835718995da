package testenv

import (
	"bytes"
	"os"
	"strconv"
	"text/template"
)

// ejabberdConfig is close to Debian's stock ejabberd.yml, except where the
// stock values hurt tests: no shaper (stock c2s_shaper: 3000 B/s), backlog
// 1024 (stock 5), no mod_fail2ban (bans an IP after failed logins), only
// two c2s listeners on loopback and no s2s. Nagle is not touched (ejabberd
// sets TCP_NODELAY itself).
var ejabberdConfig = template.Must(template.New("ejabberd").Parse(`# written by internal/testenv
loglevel: info
log_rotate_count: 0
hosts:
  - {{.Domain}}
certfiles:
  - "{{.PEM}}"
c2s_ciphers: "HIGH:!aNULL:!eNULL:!3DES:@STRENGTH"
c2s_protocol_options: [no_sslv3, no_tlsv1, no_tlsv1_1, cipher_server_preference, no_compression]
listen:
  - port: {{.C2SPort}}
    ip: "127.0.0.1"
    module: ejabberd_c2s
    starttls_required: true
    shaper: none
    backlog: 1024
    max_stanza_size: 262144
    access: c2s
  - port: {{.DirectTLSPort}}
    ip: "127.0.0.1"
    module: ejabberd_c2s
    tls: true
    shaper: none
    backlog: 1024
    max_stanza_size: 262144
    access: c2s
s2s_access: none
auth_method: internal
auth_password_format: scram
disable_sasl_mechanisms: [digest-md5, x-oauth2]
acl:
  admin:
    user:
      - "{{.AdminJID}}"
  local:
    user_regexp: ""
access_rules:
  local:
    allow: local
  c2s:
    deny: blocked
    allow: all
  announce:
    allow: admin
  configure:
    allow: admin
api_permissions:
  "console commands":
    from: [ejabberd_ctl]
    who: all
    what: "*"
shaper_rules:
  max_user_sessions: 100
  max_user_offline_messages: 100
modules:
  mod_adhoc: {}
  mod_admin_extra: {}
  mod_announce:
    access: announce
  mod_blocking: {}
  mod_caps: {}
  mod_carboncopy: {}
  mod_client_state: {}
  mod_configure: {}
  mod_disco: {}
  mod_last: {}
  mod_offline:
    access_max_user_messages: max_user_offline_messages
  mod_ping: {}
  mod_privacy: {}
  mod_private: {}
  mod_roster:
    versioning: true
  mod_stream_mgmt: {}
  mod_version: {}
`))

// writeConfig (re)writes ejabberd.yml for a set of ports.
func (e *Ejabberd) writeConfig(c2sPort, tlsPort, distPort int) error {
	e.C2SAddr = "127.0.0.1:" + strconv.Itoa(c2sPort)
	e.DirectTLSAddr = "127.0.0.1:" + strconv.Itoa(tlsPort)
	e.distPort = distPort
	if e.config != nil {
		return os.WriteFile(e.ConfigPath, []byte(e.config(e, c2sPort, tlsPort)), 0o600)
	}
	var buf bytes.Buffer
	err := ejabberdConfig.Execute(&buf, map[string]any{
		"Domain": e.Domain, "PEM": e.pemFile(), "C2SPort": c2sPort, "DirectTLSPort": tlsPort, "AdminJID": e.AdminJID,
	})
	if err != nil {
		return err
	}
	return os.WriteFile(e.ConfigPath, buf.Bytes(), 0o600)
}
