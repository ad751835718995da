#!/usr/bin/env bash
# Checks that every parser listed in scripts/fuzz-targets.txt still has its fuzz
# target, and that every fuzz target in the module starts from a seed corpus
# (f.Add in its body or files in testdata/fuzz/<target>).
set -euo pipefail
cd "$(dirname "$0")/.."
fail=0
while read -r pkg target _; do
  [[ -z "$pkg" || "$pkg" == \#* ]] && continue
  if ! grep -q "^func ${target}(" "$pkg"/*_test.go 2>/dev/null; then
    echo "fuzz-check: $pkg has no $target (listed in scripts/fuzz-targets.txt)"; fail=1
  fi
done <scripts/fuzz-targets.txt
for file in $(git ls-files '*_test.go'); do
  dir=$(dirname "$file")
  for target in $(sed -n 's/^func \(Fuzz[A-Za-z0-9_]*\)(.*/\1/p' "$file"); do
    adds=$(awk -v t="$target" '$0 ~ "^func "t"\\(" {in_=1} in_ && /f\.Add\(/ {n++} in_ && /^}/ {in_=0} END {print n+0}' "$file")
    files=$(find "$dir/testdata/fuzz/$target" -type f 2>/dev/null | wc -l || true)
    if [ "$adds" = 0 ] && [ "$files" = 0 ]; then
      echo "fuzz-check: $dir $target has no seed corpus"; fail=1
    fi
    if ! grep -q "^\./$dir[[:space:]]*$target " scripts/fuzz-targets.txt; then
      echo "fuzz-check: $dir $target is not listed in scripts/fuzz-targets.txt"; fail=1
    fi
  done
done
exit $fail
