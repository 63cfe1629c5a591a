#!/usr/bin/env bash
# tests/ir/parse_errors.sh — broken dumps (tests/ir/bad/NAME.ir: truncated, unknown op,
# undefined tensor or variable, a variable out of scope, bad index expressions, an unknown
# value op, a bad header, an unknown tile set, a sparse op whose row count names another expert) are refused by `tkc opt NAME.ir --passes=` with exit 1, nothing on
# stdout, and one error line "tkc opt: error: tests/ir/bad/NAME.ir:LINE:COL: expected ..."
# holding the text of NAME.expect. Run by the sanitizer build too (no crash, no leak).
set -euo pipefail
cd "${TK_SOURCE_DIR:-$(dirname "$0")/../..}"
tkc="${TK_BIN:-build/bin}/tkc"
tmp=$(mktemp)
trap 'rm -f "$tmp" "$tmp.err"' EXIT
failed=0 n=0
for f in tests/ir/bad/*.ir; do
  n=$((n + 1))
  want=$(cat "${f%.ir}.expect")
  set +e; "$tkc" opt "$f" --passes= > "$tmp" 2> "$tmp.err"; rc=$?; set -e
  err=$(cat "$tmp.err")
  if [[ $rc != 1 ]]; then
    echo "FAIL: $f: exit $rc, expected 1: $err"; failed=1
  elif [[ -s "$tmp" ]]; then
    echo "FAIL: $f: wrote to stdout"; failed=1
  elif ! grep -qE "^tkc opt: error: $f:[0-9]+:[0-9]+: expected " <<< "$err"; then
    echo "FAIL: $f: no 'file:line:col: expected' in: $err"; failed=1
  elif ! grep -qF -- "$want" <<< "$err"; then
    echo "FAIL: $f: the error lacks '$want': $err"; failed=1
  elif [[ $(wc -l <<< "$err") != 1 ]]; then
    echo "FAIL: $f: more than one line on stderr: $err"; failed=1
  fi
done
(( failed == 0 )) && echo "parse errors: all $n broken dumps refused with file:line:col"
exit $failed
