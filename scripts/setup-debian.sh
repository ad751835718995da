#!/usr/bin/env bash
# Installs the Debian packages the demo and the tests run for real: Prosody and
# ejabberd (the upstream XMPP servers), Glewlwyd (the OpenID Connect provider), PostgreSQL (the
# credential store's second backend; tests start throwaway clusters), Chromium (the
# headless browser that signs in on the self-service page), node and npm (the web
# clients, scripts/setup-webclients.sh) and their tools.
# Idempotent: does nothing when everything is already there.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"

need=()
for bin in prosody prosodyctl lua5.4 erl glewlwyd sqlite3 openssl jq curl go-sendxmpp docker-compose systemd-analyze chromium haproxy; do
  command -v "$bin" >/dev/null 2>&1 || need+=("$bin")
done
dpkg -s lua-unbound >/dev/null 2>&1 || need+=(lua-unbound)
# The reference server's SASL2 stack (mod_sasl2 and friends) comes from prosody-modules.
[ -f /usr/lib/prosody/modules/mod_sasl2/mod_sasl2.lua ] || need+=(prosody-modules)
# ejabberd's Erlang application lives in /usr/lib/<triplet>/ejabberd-<version>.
compgen -G '/usr/lib/*/ejabberd-*/ebin/ejabberd.app' >/dev/null || need+=(ejabberd)
# Debian puts initdb and postgres in a versioned directory, not on PATH.
compgen -G '/usr/lib/postgresql/*/bin/initdb' >/dev/null || need+=(postgresql)
command -v node >/dev/null 2>&1 && command -v npm >/dev/null 2>&1 || need+=(nodejs npm)
if [ ${#need[@]} -eq 0 ]; then
  bash "$here/setup-webclients.sh"
  exec bash "$here/setup-node-clients.sh"
fi

echo "setup: installing Debian packages for: ${need[*]}" >&2
sudo=""
if [ "$(id -u)" != 0 ]; then
  command -v sudo >/dev/null || { echo "setup: run as root or install sudo" >&2; exit 1; }
  sudo=sudo
fi
export DEBIAN_FRONTEND=noninteractive
had_ejabberd=0
dpkg -s ejabberd >/dev/null 2>&1 && had_ejabberd=1
$sudo apt-get update -qq
# Without this preseed glewlwyd's postinst tries to configure a database and fails.
echo 'glewlwyd glewlwyd/config_type select No configuration' | $sudo debconf-set-selections
$sudo apt-get install -y -qq --no-install-recommends \
  prosody lua-unbound prosody-modules ejabberd glewlwyd sqlite3 openssl jq curl go-sendxmpp ca-certificates postgresql chromium haproxy \
  $(printf '%s\n' "${need[@]}" | grep -x -e nodejs -e npm || true) \
  docker-compose systemd >/dev/null
# A half-configured glewlwyd from an earlier run without the preseed recovers here.
$sudo dpkg --configure -a
# Tests and the demo run throwaway ejabberd instances of their own; the packaged
# service (every interface, 5222/5269/5280/5443, epmd on 4369) is stopped again
# when this script is what installed it.
if [ "$had_ejabberd" = 0 ] && [ -d /run/systemd/system ]; then
  echo "setup: stopping and disabling the packaged ejabberd service (tests start their own)" >&2
  $sudo systemctl disable --now ejabberd >/dev/null 2>&1 || true
fi
# The node test clients: xmpp.js over TCP (SASL2, FAST) and the web clients (WebSocket, Converse.js).
bash "$here/setup-node-clients.sh"
bash "$here/setup-webclients.sh"
