#!/usr/bin/env bash
# tests/cli/qwen3_block.sh — issue 16: the Qwen3-MoE block of models/qwen3-moe-tiny compiled from
# its Hugging Face config.json: the verifier's topk class proves the renormalisation (its
# obligations are counted in the proof store), the bundle runs through the runtime and agrees
# with the reference (tests/cli/qwen3_conformance.c), and --layer errors name the problem.
set -u
TKC="${TK_BIN:-build/bin}/tkc"
BUILD="${TK_BUILD_DIR:-build}"
cd "${TK_SOURCE_DIR:-.}"
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
failures=0
fail() { echo "FAIL: $*" >&2; failures=$((failures + 1)); }
config=models/qwen3-moe-tiny/config.json

# One CPU level keeps the test short; every class runs as in a default compile.
if ! "$TKC" compile "$config" --targets x86_64 --cpu x86-64-v3 --quiet -o "$tmp/bundle" 2>"$tmp/err"; then
  fail "tkc compile $config: $(head -c 600 "$tmp/err")"
  exit 1
fi
grep -q '"model_kind":"Qwen3MoE"' "$tmp/bundle/manifest.json" || fail "manifest lacks the Qwen3MoE arch"
grep -q '"norm_topk_prob":true' "$tmp/bundle/manifest.json" || fail "manifest lacks norm_topk_prob"
# The renormalisation obligations are in the proof store, proved (docs/proofs.md topk).
for words in "renorm, sum loop entry" "renorm, sum loop step" "weights sum to 1, step" \
  "weights sum to 1, ends" "p[e] / SUM(E)"; do
  grep -F -- "$words" "$tmp/bundle/proofs/index.json" | grep -q '"result": "proved"' ||
    fail "no proved obligation says '$words'"
done

"$TKC" compile "$config" --emit=arch >"$tmp/arch.json" || fail "--emit=arch"
"$TKC" init-checkpoint "$tmp/arch.json" -o "$tmp/ck.tkp1" >/dev/null || fail "init-checkpoint"
"$BUILD/tests/qwen3_conformance" "$tmp/bundle" "$tmp/ck.tkp1" || fail "qwen3_conformance"

# Mutants on the new ops and the renormalisation: each refuted (exit 3, a kernel named), two at
# a time. The generic kinds reach the SwiGLU kernels (silu, mul epilogues, bias-free GEMMs).
mutants="graph.op7_expert_0_mlp_silu.wrong_shape graph.op9_expert_0_mlp_mul.wrong_shape
cpu.expert_0_mlp_gemm_2.load_off_by_one cpu.expert_0_mlp_gemm_3.tile_overrun
gpu.expert_0_mlp_gemm.phases_reversed cpu.expert_0_mlp_gemm_2.chain_rows_b
cpu.router.topk_ties_high gpu.router.topk_renorm_skipped cpu.router.topk_renorm_skipped
gpu.router.topk_renorm_sums_all cpu.router.topk_renorm_sums_all"
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

# --layer: the config's layers only; an arch.json has none.
"$TKC" compile "$config" --layer 1 --emit=arch >/dev/null 2>"$tmp/err"
[ $? -eq 1 ] && grep -q "num_hidden_layers" "$tmp/err" || fail "--layer 1 of a 1-layer config: $(cat "$tmp/err")"
"$TKC" compile models/nano.arch.json --layer 0 --emit=arch >/dev/null 2>"$tmp/err"
[ $? -eq 1 ] && grep -q "applies to a Hugging Face config.json" "$tmp/err" ||
  fail "--layer with an arch.json: $(cat "$tmp/err")"

[ "$failures" -eq 0 ] && echo "qwen3_block: all passed"
exit $((failures > 0))
