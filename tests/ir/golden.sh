#!/usr/bin/env bash
# tests/ir/golden.sh — regenerates every stage dump (arch, ir, ir-padded, ir-fused, ir-gpu,
# ir-cpu) of nano, custom-small and dense (tkc's defaults: sparse dispatch for an MoE), and the
# IR stages of nano with dense dispatch (nano-dense: --dispatch dense), and nano's gpu stage
# with the tiled GPU schedule (nano-tiled: --gpu-schedule tiled) and under the nvidia tile set
# (nano-tilednvidia: --gpu-schedule tiled --targets nvptx; docs/ir.md "Tiles per target"), with
# `tkc compile --emit=STAGE` and diffs it, byte for
# byte, against tests/ir/golden/<name>.<stage>.txt. To accept a deliberate change:
#   TK_BIN=build/bin tests/ir/golden.sh --update
set -euo pipefail
cd "${TK_SOURCE_DIR:-$(dirname "$0")/../..}"
tkc="${TK_BIN:-build/bin}/tkc"
update=0
[[ "${1:-}" == "--update" ]] && update=1
failed=0
tmp=$(mktemp)
trap 'rm -f "$tmp"' EXIT
count=0
for name in nano custom-small dense nano-dense nano-tiled nano-tilednvidia; do
  model=${name%-dense} model=${model%-tiled*} stages="arch ir ir-padded ir-fused ir-gpu ir-cpu" flags=()
  [[ $name == nano-dense ]] && stages="ir ir-padded ir-fused ir-gpu ir-cpu" flags=(--dispatch dense)
  [[ $name == nano-tiled ]] && stages="ir-gpu" flags=(--gpu-schedule tiled)
  [[ $name == nano-tilednvidia ]] && stages="ir-gpu" flags=(--gpu-schedule tiled --targets nvptx)
  for stage in $stages; do
    count=$((count + 1))
    golden="tests/ir/golden/$name.$stage.txt"
    "$tkc" compile "models/$model.arch.json" "${flags[@]}" --emit="$stage" > "$tmp" || { echo "FAIL: tkc compile $name --emit=$stage exited $?"; failed=1; continue; }
    if (( update )); then
      cp "$tmp" "$golden"
    elif ! diff -u "$golden" "$tmp" > "$tmp.diff" 2>&1; then
      echo "FAIL: $golden differs (run tests/ir/golden.sh --update if the change is deliberate):"
      head -40 "$tmp.diff"
      failed=1
    fi
    rm -f "$tmp.diff"
  done
done
(( update )) && echo "golden dumps updated" && exit 0
(( failed == 0 )) && echo "golden dumps: all $count match"
exit $failed
