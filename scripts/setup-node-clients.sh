#!/usr/bin/env bash
# Installs the Node.js test clients (clients/xmppjs: @xmpp/client, pinned in its
# package-lock.json) with the machine's node and npm. Idempotent: npm ci runs only
# when node_modules is missing or older than the lock file.
set -euo pipefail
dir="$(cd "$(dirname "$0")/.." && pwd)/clients/xmppjs"
command -v node >/dev/null && command -v npm >/dev/null || { echo "setup: node and npm are needed for clients/xmppjs" >&2; exit 1; }
if [ ! -d "$dir/node_modules/@xmpp/client" ] || [ "$dir/package-lock.json" -nt "$dir/node_modules/.package-lock.json" ]; then
  echo "setup: npm ci in clients/xmppjs" >&2
  (cd "$dir" && npm ci --no-audit --no-fund --loglevel=error)
fi
