#!/usr/bin/env bash
# Installs the pinned web clients of tools/webclients (@xmpp/client, Converse.js,
# ws) from the npm registry, exactly as package-lock.json says. Idempotent: does
# nothing when node_modules matches the lock file.
set -euo pipefail
dir=$(cd "$(dirname "$0")/../tools/webclients" && pwd)
stamp="$dir/node_modules/.package-lock.json"
if [ -f "$stamp" ] && [ "$stamp" -nt "$dir/package-lock.json" ]; then
  exit 0
fi
echo "setup: installing the web clients in $dir (npm ci)" >&2
# --ignore-scripts: no package runs code at install time.
(cd "$dir" && npm ci --no-audit --no-fund --ignore-scripts >/dev/null)
