#!/usr/bin/env bash
# Installs the Debian packages the demo and the tests run for real: Prosody (the
# upstream XMPP server), Glewlwyd (the OpenID Connect provider), PostgreSQL (the
# credential store's second backend; tests start throwaway clusters), Chromium (the
# headless browser that signs in on the self-service page), node and npm (the web
# clients, scripts/setup-webclients.sh) and their tools.
# Idempotent: does nothing when everything is already there.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)

need=()
for bin in prosody prosodyctl lua5.4 glewlwyd sqlite3 openssl jq curl go-sendxmpp docker-compose systemd-analyze chromium node npm; do
  command -v "$bin" >/dev/null 2>&1 || need+=("$bin")
done
dpkg -s lua-unbound >/dev/null 2>&1 || need+=(lua-unbound)
# Debian puts initdb and postgres in a versioned directory, not on PATH.
compgen -G '/usr/lib/postgresql/*/bin/initdb' >/dev/null || need+=(postgresql)
if [ ${#need[@]} -eq 0 ]; then
  exec bash "$here/setup-webclients.sh"
fi

echo "setup: installing Debian packages for: ${need[*]}" >&2
sudo=""
if [ "$(id -u)" != 0 ]; then
  command -v sudo >/dev/null || { echo "setup: run as root or install sudo" >&2; exit 1; }
  sudo=sudo
fi
export DEBIAN_FRONTEND=noninteractive
$sudo apt-get update -qq
# Without this preseed glewlwyd's postinst tries to configure a database and fails.
echo 'glewlwyd glewlwyd/config_type select No configuration' | $sudo debconf-set-selections
$sudo apt-get install -y -qq --no-install-recommends \
  prosody lua-unbound glewlwyd sqlite3 openssl jq curl go-sendxmpp ca-certificates postgresql chromium nodejs npm \
  docker-compose systemd >/dev/null
# A half-configured glewlwyd from an earlier run without the preseed recovers here.
$sudo dpkg --configure -a
bash "$here/setup-webclients.sh"
