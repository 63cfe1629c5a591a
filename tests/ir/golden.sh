#!/usr/bin/env bash
# tests/ir/golden.sh — regenerates every stage dump (arch, ir, ir-fused, ir-gpu, ir-cpu) of
# nano, custom-small and dense with `tkc compile --emit=STAGE` and diffs it against
# tests/ir/golden/<model>.<stage>.txt. To accept a deliberate change:
#   TK_BIN=build/bin tests/ir/golden.sh --update
set -euo pipefail
cd "${TK_SOURCE_DIR:-$(dirname "$0")/../..}"
tkc="${TK_BIN:-build/bin}/tkc"
update=0
[[ "${1:-}" == "--update" ]] && update=1
failed=0
for model in nano custom-small dense; do
  for stage in arch ir ir-fused ir-gpu ir-cpu; do
    golden="tests/ir/golden/$model.$stage.txt"
    out=$("$tkc" compile "models/$model.arch.json" --emit="$stage") || { echo "FAIL: tkc compile $model --emit=$stage exited $?"; failed=1; continue; }
    if (( update )); then
      printf '%s\n' "$out" > "$golden"
    elif ! diff -u "$golden" <(printf '%s\n' "$out") > /tmp/tk_golden_diff.$$ 2>&1; then
      echo "FAIL: $golden differs (run tests/ir/golden.sh --update if the change is deliberate):"
      head -40 /tmp/tk_golden_diff.$$
      failed=1
    fi
  done
done
rm -f /tmp/tk_golden_diff.$$
(( update )) && echo "golden dumps updated" && exit 0
(( failed == 0 )) && echo "golden dumps: all 15 match"
exit $failed
