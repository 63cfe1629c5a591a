#!/bin/sh
# tests/cli/verify_wide.sh — issue 5 item 2: tests/archs/wide-e64.arch.json (E = 64, K = 8)
# verifies; each of its topk .smt2 files prints `unsat` in z3 and in cvc5 within one second.
set -u
W=$(mktemp -d)
trap 'rm -rf "$W"' EXIT
"$TK_BIN/tkc" verify "$TK_SOURCE_DIR/tests/archs/wide-e64.arch.json" --proofs-dir "$W/p" >"$W/out" 2>&1 || { cat "$W/out"; exit 1; }
n=0
for f in "$W"/p/*.topk.*.smt2; do
  [ -e "$f" ] || { echo "FAIL: no topk files"; exit 1; }
  for solver in "z3" "cvc5 --lang=smt2"; do
    r=$(timeout 1 $solver "$f" 2>&1 | head -1)
    [ "$r" = unsat ] || { echo "FAIL: $solver $f: '$r' (want unsat within 1 s)"; exit 1; }
  done
  n=$((n + 1))
done
echo "wide-e64: $n topk files replayed in z3 and cvc5"
