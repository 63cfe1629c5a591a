#!/usr/bin/env bash
# tests/cli/cpu_vector_tiles.sh — the CPU code's register tiles reach LLVM's vector units. The
# CPU schedule writes a tile as unrolled scalar statements (docs/ir.md) and counts on LLVM's SLP
# vectoriser to make them vector instructions; when it does not, the tile stays scalar, with
# no error, several times slower (nano's combine with 4-row tiles: 64 scalar fmas per k step,
# 39 % of the forward at B = 256; bench/README.md). For every MoE model and both CPU levels
# the optimised LLVM (`tkc compile --emit=llvm --cpu LEVEL`) must hold vector fmas in every
# kernel but the router (its dot products are one per expert: 4 wide, scalar), and no basic
# block with more than MAX_SCALAR scalar ones (a tile's column tail or the router's have at
# most 16). Medium's kernels are Tiny's with other sizes: not repeated.
source "$(dirname "$0")/lib.sh"
MAX_SCALAR=16

# fma_counts FILE: "KERNEL BLOCK scalar vector" per basic block with an fma.
fma_counts() {
  awk '/^define/ { f = $0; sub(/.*@/, "", f); sub(/\(.*/, "", f) }
       /^[A-Za-z_0-9.]+:/ { block = $1 }
       /@llvm\.fmuladd\.f32\(/ { s[f " " block]++ }
       /@llvm\.fmuladd\.v[0-9]+f32\(/ { v[f " " block]++ }
       END { for (k in s) print k, s[k], v[k] + 0; for (k in v) if (!(k in s)) print k, 0, v[k] }' "$1"
}

for model in nano custom-small tiny; do
  for cpu in x86-64-v3 x86-64-v4; do
    ll=$tmp/$model.$cpu.ll
    "$BIN/tkc" compile "models/$model.arch.json" --targets x86_64 --cpu "$cpu" --emit=llvm \
      >"$ll" 2>"$tmp/err" || { fail "tkc compile $model --cpu $cpu --emit=llvm: $(head -3 "$tmp/err")"; continue; }
    fma_counts "$ll" >"$tmp/counts"
    [ -s "$tmp/counts" ] || { fail "$model $cpu: no fma in the CPU code"; continue; }
    while read -r kernel block scalar vector; do
      ((scalar <= MAX_SCALAR)) ||
        fail "$model $cpu: $kernel block $block has $scalar scalar fmas (at most $MAX_SCALAR): a register tile left scalar"
    done <"$tmp/counts"
    awk '{ v[$1] += $4 } END { for (k in v) if (v[k] == 0 && k !~ /^router/) print k }' \
      "$tmp/counts" >"$tmp/novector"
    [ -s "$tmp/novector" ] && fail "$model $cpu: no vector fma in $(tr '\n' ' ' <"$tmp/novector")"
    echo "$model $cpu: $(wc -l <"$tmp/counts") blocks with fmas, the most scalar fmas in one: $(sort -k3 -n "$tmp/counts" | tail -1 | cut -d' ' -f3)"
  done
done
finish cpu_vector_tiles
