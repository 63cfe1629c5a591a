#!/usr/bin/env bash
# tests/cli/tkref.sh — tkref as a user runs it: --help/--version, a one-row and a batch
# request on nano and dense (docs/formats.md §4 response shape; exactly K non-zero router weights per
# MoE row), a batch answers each row exactly as that row alone (padding never changes a real
# row, docs/formats.md §3), and the exit codes: 1 for an unusable checkpoint, 2 for a bad request.
set -u
. "$(dirname "$0")/lib.sh"
# row N W: a JSON array of W deterministic features for row N.
row() { awk -v n="$1" -v w="$2" 'BEGIN { printf "["; for (i = 0; i < w; i++) printf "%s%.5f", (i ? "," : ""), cos(0.37 * (i + 1) + n); printf "]" }'; }
# field KEY ROW: the JSON array of row ROW of KEY in $tmp/out (as printed, one line).
field() { python3 -c 'import json,sys; d=json.load(open(sys.argv[1])); print(json.dumps(d[sys.argv[2]][int(sys.argv[3])]))' "$tmp/out" "$1" "$2"; }

"$BIN/tkref" --help >"$tmp/out" 2>&1 && grep -q "usage: tkref" "$tmp/out" || fail "tkref --help"
"$BIN/tkref" --version >"$tmp/out" 2>&1 && grep -q "tkref" "$tmp/out" || fail "tkref --version"

for model in nano dense custom-small; do
  arch=models/$model.arch.json
  in=$(sed -n 's/.*"input_dim": *\([0-9]*\).*/\1/p' "$arch")
  "$BIN/tkc" init-checkpoint "$arch" -o "$tmp/$model.tkp1" >/dev/null 2>&1 || { fail "init-checkpoint $model"; continue; }
  run_ref() { expect_exit "$1" "$BIN/tkref" --arch "$arch" --checkpoint "$tmp/$model.tkp1"; }

  # A batch of 3 rows, then each row alone: identical answers.
  printf '{"features": [%s, %s, %s]}' "$(row 0 "$in")" "$(row 1 "$in")" "$(row 2 "$in")" >"$tmp/req"
  run_ref 0
  python3 -m json.tool "$tmp/out" >/dev/null || fail "$model: response is not JSON"
  cp "$tmp/out" "$tmp/batch"
  for r in 0 1 2; do
    printf '{"features": %s}' "$(row "$r" "$in")" >"$tmp/req"
    run_ref 0
    single=$(field logits 0); cp "$tmp/batch" "$tmp/out"; batched=$(field logits "$r")
    [ "$single" = "$batched" ] || fail "$model row $r: batch answer differs from the row alone"
  done
  cp "$tmp/batch" "$tmp/out"
  if [ "$model" = dense ]; then
    grep -q '"router_weights": \[\]' "$tmp/out" || fail "dense: router_weights must be []"
  else
    k=$(sed -n 's/.*"top_k": *\([0-9]*\).*/\1/p' "$arch")
    nz=$(python3 -c 'import json,sys; d=json.load(open(sys.argv[1])); print(sorted({sum(1 for w in r if w != 0) for r in d["router_weights"]}))' "$tmp/out")
    [ "$nz" = "[$k]" ] || fail "$model: non-zero router weights per row $nz, expected [$k]"
  fi

  # Bad requests: exit 2 with one line on stderr.
  for bad in '' '{' '[]' '{"features": []}' '{"features": [1, 2]}' '{"features": "x"}' '{"features": [null]}'; do
    printf '%s' "$bad" >"$tmp/req"
    run_ref 2
    [ "$(wc -l <"$tmp/err")" -le 1 ] || fail "$model: bad request '$bad' printed more than one line"
  done
done

# An unusable checkpoint: exit 1.
printf '{"features": %s}' "$(row 0 96)" >"$tmp/req"
head -c 100 "$tmp/nano.tkp1" >"$tmp/cut.tkp1"
expect_exit 1 "$BIN/tkref" --arch models/nano.arch.json --checkpoint "$tmp/cut.tkp1"
expect_exit 1 "$BIN/tkref" --arch models/dense.arch.json --checkpoint "$tmp/nano.tkp1"
expect_exit 2 "$BIN/tkref" --arch models/nano.arch.json

# --compare: the reference's own answer passes; one logit moved by 0.5 fails (exit 3) and the
# report names its row and column; a response of the wrong shape or no file is an input error.
printf '{"features": [%s, %s]}' "$(row 0 96)" "$(row 1 96)" >"$tmp/req"
expect_exit 0 "$BIN/tkref" --arch models/nano.arch.json --checkpoint "$tmp/nano.tkp1"
cp "$tmp/out" "$tmp/resp.json"
expect_exit 0 "$BIN/tkref" --arch models/nano.arch.json --checkpoint "$tmp/nano.tkp1" --compare "$tmp/resp.json"
grep -q "PASS$" "$tmp/out" || fail "--compare of the reference's own answer: $(cat "$tmp/out")"
python3 -c 'import json,sys; d=json.load(open(sys.argv[1])); d["logits"][1][3] += 0.5; json.dump(d, open(sys.argv[2], "w"))' "$tmp/resp.json" "$tmp/moved.json"
expect_exit 3 "$BIN/tkref" --arch models/nano.arch.json --checkpoint "$tmp/nano.tkp1" --compare "$tmp/moved.json"
grep -q "FAIL$" "$tmp/out" && grep -q "row 1, col 3" "$tmp/out" || fail "--compare of a moved logit: $(cat "$tmp/out")"
printf '{"logits": [[1]], "router_weights": [[1]]}' >"$tmp/short.json"
expect_exit 2 "$BIN/tkref" --arch models/nano.arch.json --checkpoint "$tmp/nano.tkp1" --compare "$tmp/short.json"
expect_exit 1 "$BIN/tkref" --arch models/nano.arch.json --checkpoint "$tmp/nano.tkp1" --compare "$tmp/none.json"

finish tkref_cli
