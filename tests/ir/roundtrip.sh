#!/usr/bin/env bash
# tests/ir/roundtrip.sh — every IR dump under tests/ir/ (the stage goldens and the per-pass
# goldens) parses back and prints to the same bytes: `tkc opt FILE --passes=` == FILE.
set -euo pipefail
cd "${TK_SOURCE_DIR:-$(dirname "$0")/../..}"
tkc="${TK_BIN:-build/bin}/tkc"
tmp=$(mktemp)
trap 'rm -f "$tmp" "$tmp.err"' EXIT
failed=0 n=0
shopt -s nullglob
for f in tests/ir/golden/*.ir*.txt tests/ir/passes/*.ir; do
  n=$((n + 1))
  if ! "$tkc" opt "$f" --passes= > "$tmp" 2> "$tmp.err"; then
    echo "FAIL: tkc opt $f --passes= exited $?: $(head -3 "$tmp.err")"
    failed=1
  elif ! cmp -s "$f" "$tmp"; then
    echo "FAIL: $f does not print back to the same bytes:"
    diff -u "$f" "$tmp" | head -20
    failed=1
  fi
done
(( n > 0 )) || { echo "FAIL: no dumps found"; exit 1; }
(( failed == 0 )) && echo "round trip: all $n dumps print back byte for byte"
exit $failed
