#!/usr/bin/env bash
# tests/cli/qwen3_mutants.sh — issue 16: mutants on the Qwen3-MoE block's new ops (silu, mul,
# bias-free GEMMs in the SwiGLU kernels) and on the renormalisation are each refuted by
# `tkc verify --mutant` (exit 3, a kernel named). Label slow: the Release suite runs it.
set -u
TKC="${TK_BIN:-build/bin}/tkc"
cd "${TK_SOURCE_DIR:-.}"
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
failures=0
fail() { echo "FAIL: $*" >&2; failures=$((failures + 1)); }
config=models/qwen3-moe-tiny/config.json

# Two at a time. The generic kinds reach the SwiGLU kernels (silu, mul epilogues, bias-free
# GEMMs); the renorm kinds are the topk class's; panel_rowmajor is class layout's on a weight
# stored [out, in] and packed from its transpose.
mutants="graph.op7_expert_0_mlp_silu.wrong_shape graph.op9_expert_0_mlp_mul.wrong_shape
cpu.expert_0_mlp_gemm_2.load_off_by_one cpu.expert_0_mlp_gemm_3.tile_overrun
gpu.expert_0_mlp_gemm.phases_reversed cpu.expert_0_mlp_gemm_2.chain_rows_b
cpu.router.topk_ties_high gpu.router.topk_renorm_skipped cpu.router.topk_renorm_skipped
gpu.router.topk_renorm_sums_all cpu.router.topk_renorm_sums_all
cpu.expert_0_mlp_gemm.panel_rowmajor"
"$TKC" verify "$config" --list-mutants >"$tmp/mutants" || fail "--list-mutants"
for id in $mutants; do
  grep -q "^$id	" "$tmp/mutants" || fail "mutant $id is not listed"
done
export TKC config tmp
echo $mutants | tr ' ' '\n' | xargs -P 2 -I{} sh -c \
  '"$TKC" verify "$config" --mutant {} >/dev/null 2>"$tmp/{}.err"; rc=$?;
   if [ $rc -ne 3 ] || ! grep -q kernel "$tmp/{}.err"; then echo "SURVIVED {} (exit $rc)"; fi' \
  >"$tmp/survivors"
[ -s "$tmp/survivors" ] && fail "mutants survived: $(cat "$tmp/survivors")"

[ "$failures" -eq 0 ] && echo "qwen3_mutants: every mutant refuted"
exit $((failures > 0))
