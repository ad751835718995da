-- Prosody for the docker compose test bed: the UNCHANGED upstream XMPP server behind
-- xmpp-oauth-proxy. Mounted at /etc/prosody/prosody.cfg.lua in prosodyim/prosody:0.12.
-- Only the proxy reaches it (port 5222 on the compose network, not published).

admins = { "admin@localhost" }  -- the proxy's admin_jid: XEP-0133 add-user / change-password

pidfile = "/var/run/prosody/prosody.pid"
data_path = "/var/lib/prosody"

modules_enabled = {
	"roster"; "saslauth"; "tls"; "disco"; "ping";
	"carbons"; "smacks"; "blocklist"; "private"; "vcard4"; "vcard_legacy";
	"adhoc"; "admin_adhoc";  -- XEP-0133 for managed credentials
}
modules_disabled = { "s2s"; "offline" }

c2s_ports = { 5222 }
c2s_direct_tls_ports = {}
s2s_ports = {}
http_ports = {}
https_ports = {}
c2s_require_encryption = true  -- the proxy speaks STARTTLS to it

authentication = "internal_hashed"
storage = "internal"

log = { { levels = { min = "info" }, to = "console" } }

VirtualHost "localhost"
	-- configs/example-tls (self-signed, names localhost): the proxy trusts it as ca_file.
	ssl = {
		certificate = "/etc/prosody/certs/localhost.crt";
		key = "/etc/prosody/certs/localhost.key";
	}
