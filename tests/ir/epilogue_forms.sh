#!/usr/bin/env bash
# tests/ir/epilogue_forms.sh — which norms the tiled GPU schedule takes as a GEMM's epilogue
# (tk_ir_gpu_epilogue_fits, docs/ir.md "Norm epilogues"). From nano's fused dump with
# --gpu-schedule tiled, `tkc opt --passes=schedule-gpu` must run expert_0_in's GEMM and norm
# in one launch as it is, and in two launches (expert_0_in_gemm, expert_0_in_norm) after each
# edit of its norm phase that would make the epilogue wrong:
#   store_before_read  the output loop stores the GEMM's output before reading it again (the
#                      epilogue would read the accumulator, the value from before that store);
#   wider_guard        the norm's row guard is r < count * 2 inside r < B (the epilogue would
#                      read accumulators of rows the GEMM skipped);
#   narrower_guard     the norm's row guard is r < count div 2 (rows the GEMM computed would
#                      never be stored: the GEMM's own store is dropped in an epilogue).
# The other experts stay fused in every case. The dump's `from K.P+Q` header is checked too:
# a phase that does not follow P in K is refused with file:line:col.
set -euo pipefail
cd "${TK_SOURCE_DIR:-$(dirname "$0")/../..}"
tkc="${TK_BIN:-build/bin}/tkc"
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
failed=0
fail() { echo "FAIL: $*"; failed=1; }

"$tkc" compile models/nano.arch.json --gpu-schedule tiled --emit=ir-fused >"$tmp/fused.ir"
# expert_0_in's norm phase: its guard line and the output loop's first statement
guard_line=$(awk '/^kernel expert_0_in \(fused/ {k = 1} k && /phase norm/ {n = 1} k && n && /if r < %dispatch.count\[0\] \{/ {print NR; exit}' "$tmp/fused.ir")
y_line=$(awk -v g="$guard_line" 'NR > g && /y = fma/ {print NR; exit}' "$tmp/fused.ir")
[[ -n $guard_line && -n $y_line ]] || { echo "FAIL: no norm phase of expert_0_in in the dump"; exit 1; }

edit() { # edit NAME: the fused dump with expert_0_in's norm edited as NAME says
  case $1 in
    as_is) cat "$tmp/fused.ir" ;;
    store_before_read)
      sed "${y_line}i\\        %expert_0.h_0[r * 128 + j.3] = (%expert_0.h_0[r * 128 + j.3] * 0.5f)" "$tmp/fused.ir" ;;
    wider_guard)
      awk -v g="$guard_line" -v y="$y_line" '
        NR == g {print "    if r < %dispatch.count[0] * 2 {"; print "    if r < B {"; next}
        {print}
        NR > y && !done && /^    }$/ {print "    }"; done = 1}' "$tmp/fused.ir" ;;
    narrower_guard)
      sed "${guard_line}s/if r < %dispatch.count\[0\] {/if r < %dispatch.count[0] div 2 {/" "$tmp/fused.ir" ;;
  esac
}

for form in as_is store_before_read wider_guard narrower_guard; do
  edit "$form" >"$tmp/$form.ir"
  if ! "$tkc" opt "$tmp/$form.ir" --passes=schedule-gpu -o "$tmp/$form.gpu" 2>"$tmp/$form.err"; then
    fail "$form: tkc opt: $(head -3 "$tmp/$form.err")"
    continue
  fi
  fused_launches=$(grep -c '^kernel expert_[0-9]*_[a-z_0-9]* (gpu, from [a-z_0-9]*\.gemm+norm,' "$tmp/$form.gpu" || true)
  if [[ $form == as_is ]]; then
    grep -q '^kernel expert_0_in (gpu, from expert_0_in.gemm+norm,' "$tmp/$form.gpu" ||
      fail "$form: expert_0_in is not one launch of its GEMM and norm"
    [[ $fused_launches == 12 ]] || fail "$form: $fused_launches GEMM + norm launches, expected 12"
  else
    grep -q '^kernel expert_0_in_gemm (gpu, from expert_0_in.gemm,' "$tmp/$form.gpu" &&
      grep -q '^kernel expert_0_in_norm (gpu, from expert_0_in.norm,' "$tmp/$form.gpu" ||
      fail "$form: expert_0_in's norm was taken as the GEMM's epilogue"
    [[ $fused_launches == 11 ]] || fail "$form: $fused_launches GEMM + norm launches, expected 11"
  fi
done

# the header's further phase must be the next phase of the source kernel
gpu=tests/ir/golden/nano-tiled.ir-gpu.txt
sed 's/from expert_0_in\.gemm+norm,/from expert_0_in.gemm+bogus,/' "$gpu" >"$tmp/bogus.ir"
sed 's/^kernel expert_0_out (gpu, from expert_0_out\.gemm,/kernel expert_0_out (gpu, from expert_0_out.gemm+norm,/' "$gpu" >"$tmp/after_last.ir"
for f in bogus after_last; do
  set +e; "$tkc" opt "$tmp/$f.ir" --passes= >"$tmp/$f.out" 2>"$tmp/$f.err"; rc=$?; set -e
  if [[ $rc != 1 ]] || ! grep -qE "^tkc opt: error: $tmp/$f.ir:[0-9]+:[0-9]+: expected phase" "$tmp/$f.err"; then
    fail "$f: exit $rc, expected 1 with 'file:line:col: expected phase ...': $(head -2 "$tmp/$f.err")"
  fi
done
(( failed == 0 )) && echo "epilogue forms: the as-is norm is an epilogue, three wrong ones are not; bad phase headers refused"
exit $failed
