#!/usr/bin/env bash
# tests/proofs/regen.sh — regenerates the proofs of every model in models/ with `tkc verify`
# and compares them with the committed proofs/<model>/ (index.json and queries/<sha256>.smt2,
# docs/proofs.md "The files"; any difference fails), or, with --update, replaces
# proofs/<model>/ by the regenerated store. The output marker (.tkc-output, what tkc verify
# wrote) is not part of the committed store: left out of both.
# Env: TK_BIN (the build's bin directory, default build/bin), TK_SOURCE_DIR (repo root).
set -euo pipefail
root=${TK_SOURCE_DIR:-$(cd "$(dirname "$0")/../.." && pwd)}
tkc=${TK_BIN:-$root/build/bin}/tkc
update=0
[[ ${1:-} == --update ]] && update=1
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
fail=0
for arch in "$root"/models/*.arch.json; do
  model=$(basename "$arch" .arch.json)
  if ! "$tkc" verify "$arch" --proofs-dir "$work/$model" >"$work/$model.out" 2>"$work/$model.err"; then
    echo "FAIL $model: tkc verify failed:" >&2
    cat "$work/$model.err" >&2
    fail=1
    continue
  fi
  if [[ $update == 1 ]]; then
    rm -rf "$root/proofs/$model"
    mkdir -p "$root/proofs"
    cp -r "$work/$model" "$root/proofs/$model"
    rm "$root/proofs/$model/.tkc-output"
    echo "updated proofs/$model ($(ls "$work/$model/queries" | wc -l) distinct queries)"
  elif ! diff -r -x .tkc-output "$root/proofs/$model" "$work/$model" >"$work/$model.diff" 2>&1; then
    echo "FAIL $model: regenerated proofs differ from proofs/$model (run tests/proofs/regen.sh --update):" >&2
    head -n 40 "$work/$model.diff" >&2
    fail=1
  else
    echo "ok $model: index.json and $(ls "$work/$model/queries" | wc -l) query files identical"
  fi
done
exit $fail
