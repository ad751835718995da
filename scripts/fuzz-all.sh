#!/usr/bin/env bash
# Runs every Fuzz* target in the module for a short time each. A finding fails the
# run (the input is saved under the package's testdata/fuzz, to be committed with its
# fix). Go's engine sometimes ends a time-boxed run with a bare "context deadline
# exceeded" and no input (seen on a loaded 2-core machine): such a run is repeated, at
# most twice, never ignored.
set -euo pipefail
fuzztime=${1:-8s}
log=$(mktemp)
trap 'rm -f "$log"' EXIT
pkgs=$(go list ./...)   # set -e: a broken module fails here
ran=0
for pkg in $pkgs; do
  # A package that does not compile must fail the run, not list no targets.
  if ! listing=$(go test -list '^Fuzz' "$pkg" 2>&1); then
    echo "fuzz: cannot list the fuzz targets of $pkg:"; echo "$listing"; exit 1
  fi
  for target in $(grep '^Fuzz' <<<"$listing" || true); do
    ran=$((ran + 1))
    for try in 1 2 3; do
      echo "fuzz: $pkg $target ($fuzztime)"
      if go test -run '^$' -fuzz "^${target}\$" -fuzztime "$fuzztime" "$pkg" >"$log" 2>&1; then
        tail -n 1 "$log"
        break
      fi
      cat "$log"
      if [ "$try" -lt 3 ] && grep -q 'context deadline exceeded' "$log" && ! grep -q 'Failing input written' "$log"; then
        echo "fuzz: engine deadline hiccup without a finding; running $target once more"
        continue
      fi
      exit 1
    done
  done
done
if [ "$ran" = 0 ]; then
  echo "fuzz: no fuzz target found"; exit 1
fi
echo "fuzz: $ran targets, no finding"
