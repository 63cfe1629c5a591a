#!/bin/sh
# tests/cli/verify_wide.sh — issue 5 item 2: tests/archs/wide-e64.arch.json (E = 64, K = 8)
# verifies; each distinct query of its topk obligations (index.json → queries/<sha256>.smt2)
# prints `unsat` in z3 and in cvc5 within one second.
set -u
W=$(mktemp -d)
trap 'rm -rf "$W"' EXIT
"$TK_BIN/tkc" verify "$TK_SOURCE_DIR/tests/archs/wide-e64.arch.json" --proofs-dir "$W/p" >"$W/out" 2>&1 || { cat "$W/out"; exit 1; }
n=0
grep -o '"class": "topk",.*"query": "[0-9a-f]*"' "$W/p/index.json" | sed 's/.*"query": "\([0-9a-f]*\)"/\1/' | sort -u >"$W/topk"
[ -s "$W/topk" ] || { echo "FAIL: no topk queries"; exit 1; }
for h in $(cat "$W/topk"); do
  f="$W/p/queries/$h.smt2"
  [ -e "$f" ] || { echo "FAIL: topk query $h has no file"; exit 1; }
  for solver in "z3" "cvc5 --lang=smt2"; do
    r=$(timeout 1 $solver "$f" 2>&1 | head -1)
    [ "$r" = unsat ] || { echo "FAIL: $solver $f: '$r' (want unsat within 1 s)"; exit 1; }
  done
  n=$((n + 1))
done
echo "wide-e64: $n topk queries replayed in z3 and cvc5"
