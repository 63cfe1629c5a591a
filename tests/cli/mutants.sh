#!/bin/sh
# tests/cli/mutants.sh — tkc's mutation testing (issue 5): for nano, custom-small and dense
# (tkc's defaults: sparse dispatch for an MoE) and nano-dense (nano with --dispatch dense),
# the mutants `tkc verify --list-mutants` lists are killed (exit 3, the counterexample names a
# kernel) by `tkc verify --mutant` (a layout mutant by class layout, the only one that can):
# all of them but those of experts 1..E-2, whose kernels are expert 0's with other buffers
# (about half of nano's list); the first and the last expert's show that the instances are
# checked.
# `tkc compile --mutant -o DIR` must refuse a mutant too and leave no DIR and no temp dir
# beside it: checked for the first mutant of each class and level (module, graph, gpu, cpu) of
# nano, custom-small and dense, leaving out experts 1..E-1 (their kernels are expert 0's with
# other buffers). Compile runs the same verifier, so every mutant would only double the time.
# MoE models list >= 25 mutants, dense >= 20, with at least one of every class, and nano one
# of every dispatch kind on each target; an unknown ID is a usage error (exit 2). nano-tiled
# (--gpu-schedule tiled): the five barrier kinds on the GEMM launches of experts 0 and 3, whose
# LayerNorm + GELU is the epilogue (sum_unsynced included), and held_register_swapped there (by
# class layout); tiny-tiled, whose rows are too wide
# for an epilogue: the four GEMM kinds on expert 0's first GEMM launch and the five of a row
# launch on its first norm, and the four GEMM kinds on that GEMM under the nvidia (--targets
# nvptx) and rdna (gfx1100) tile sets; each refuted by verify. Runs two mutants at a time.
set -u
TKC="$TK_BIN/tkc"
fail=0

check_one() { # model id (MODEL-dense / MODEL-tiled: MODEL with --dispatch dense / --gpu-schedule
  # tiled; MODEL-tilednvidia / MODEL-tiledrdna: tiled for sm_80 / gfx1100, their tile sets)
  m="$TK_SOURCE_DIR/models/${1%-*}.arch.json"
  case "$1" in *-dense | *-tiled*) ;; *) m="$TK_SOURCE_DIR/models/$1.arch.json" ;; esac
  flags=""
  case "$1" in
    *-dense) flags="--dispatch dense" ;;
    *-tiled) flags="--gpu-schedule tiled" ;;
    *-tilednvidia) flags="--gpu-schedule tiled --targets nvptx --cuda-arch sm_80" ;;
    *-tiledrdna) flags="--gpu-schedule tiled --targets amdgcn --offload-arch gfx1100" ;;
  esac
  d="$W/out.$1.$2"
  "$TKC" verify "$m" $flags --mutant "$2" >/dev/null 2>"$d.verr"
  rc=$?
  if [ $rc -ne 3 ] || ! grep -q "kernel" "$d.verr"; then echo "SURVIVED verify $1 $2 (exit $rc)"; cat "$d.verr"; fi
  # a layout mutant stays inside every buffer: only class layout can refute it
  case "$2" in *.panel_rowmajor | *.held_register_swapped) grep -q "class layout" "$d.verr" || { echo "NOT BY LAYOUT $1 $2"; cat "$d.verr"; } ;; esac
  # the row tail by pairs: its last row dropped leaves rows uncovered; a pair past R reads a row
  # no launch wrote
  case "$2" in *.odd_row_dropped | *.rows_block_short) grep -q "class race" "$d.verr" || { echo "NOT BY RACE $1 $2"; cat "$d.verr"; } ;; esac
  case "$2" in *.pair_overrun) grep -q "class dataflow" "$d.verr" || { echo "NOT BY DATAFLOW $1 $2"; cat "$d.verr"; } ;; esac
  grep -qxF -- "$2" "$W/$1.compile" || return 0
  "$TKC" compile "$m" $flags --mutant "$2" --targets x86_64 -o "$d/bundle" >/dev/null 2>"$d.cerr"
  rc=$?
  if [ $rc -ne 3 ] || ! grep -q "kernel" "$d.cerr"; then echo "SURVIVED compile $1 $2 (exit $rc)"; cat "$d.cerr"; fi
  if [ -e "$d" ]; then echo "compile $1 $2 left $d behind"; fi
}
if [ "${1:-}" = --one ]; then check_one "$2" "$3"; exit 0; fi # one mutant (run by xargs below)
W=$(mktemp -d)
trap 'rm -rf "$W"' EXIT
export W

for model in nano custom-small dense nano-dense; do
  arch="$TK_SOURCE_DIR/models/${model%-dense}.arch.json" flags=""
  [ "$model" = nano-dense ] && flags="--dispatch dense"
  "$TKC" verify "$arch" $flags --list-mutants >"$W/$model.list" || { echo "FAIL: --list-mutants $model"; fail=1; continue; }
  n=$(wc -l <"$W/$model.list")
  min=25; [ "$model" = dense ] && min=20
  [ "$n" -ge "$min" ] || { echo "FAIL: $model lists $n mutants, want >= $min"; fail=1; }
  for cls in shape padding bounds no_overflow race topk dataflow layout; do
    [ "$model" = dense ] && [ "$cls" = topk ] && continue
    grep -q "	$cls:" "$W/$model.list" || { echo "FAIL: $model has no $cls mutant"; fail=1; }
  done
  for t in gpu cpu; do grep -q "^$t\." "$W/$model.list" || { echo "FAIL: $model has no $t mutant"; fail=1; }; done
  if [ "$model" = dense ] && grep -q topk "$W/$model.list"; then echo "FAIL: dense lists topk mutants"; fail=1; fi
  cut -f1 "$W/$model.list" | sort | uniq -d | grep . && { echo "FAIL: $model: duplicate IDs"; fail=1; }
  : >"$W/$model.compile"
  [ "$model" = nano-dense ] ||
    grep -vE '(^|[._])expert_[1-9][0-9]*_' "$W/$model.list" | awk -F'\t' '{ split($1, at, "."); split($2, c, ":"); if (!seen[at[1] c[1]]++) print $1 }' >"$W/$model.compile"
  last=$(grep -oE 'expert_[0-9]+_' "$W/$model.list" | tr -dc '0-9\n' | sort -n | tail -n 1)
  awk -F'\t' -v last="${last:-0}" 'match($1, /expert_[0-9]+_/) { k = substr($1, RSTART + 7, RLENGTH - 8) + 0
    if (k != 0 && k != last) next } { print $1 }' "$W/$model.list" >"$W/$model.checked"
  xargs -P2 -I{} sh "$0" --one "$model" {} <"$W/$model.checked" >"$W/$model.res" 2>&1
  if [ -s "$W/$model.res" ]; then cat "$W/$model.res"; fail=1; fi
  echo "$model: $(wc -l <"$W/$model.checked") of $n mutants checked${last:+ (experts 0 and $last)}"
done
# the CPU row tail by pairs (docs/ir.md): both kinds on one kernel of every model
for model in nano custom-small dense nano-dense; do
  for kind in odd_row_dropped pair_overrun; do
    [ "$(grep -c "^cpu\..*\.$kind	" "$W/$model.list")" = 1 ] || { echo "FAIL: $model lists no single cpu $kind mutant"; fail=1; }
  done
done
# sparse dispatch (nano's default): every dispatch kind on each target, and none in dense form
for kind in dispatch_slot_plus_1 dispatch_no_advance dispatch_count_plus_1 dispatch_rows_short moves_unguarded scatter_no_zero chain_rows_b; do
  for t in gpu cpu; do grep -q "^$t\..*\.$kind	" "$W/nano.list" || { echo "FAIL: nano has no $t $kind mutant"; fail=1; }; done
done
grep -qE '\.(dispatch_|moves_|scatter_|chain_)' "$W/nano-dense.list" && { echo "FAIL: nano-dense lists dispatch mutants"; fail=1; }
# an expert's row phase tests that its row block holds some of its count[e] rows (sparse only:
# with B rows every block does); on expert 0, so that the checks above ran it
for model in nano custom-small; do
  [ "$(grep -c '\.rows_block_short	' "$W/$model.list")" = 1 ] || { echo "FAIL: $model lists no single rows_block_short mutant"; fail=1; }
  grep -q '^cpu\.expert_0_[^	]*\.rows_block_short	' "$W/$model.list" || { echo "FAIL: $model's rows_block_short is not on expert 0"; fail=1; }
done
for model in dense nano-dense; do
  grep -q '\.rows_block_short	' "$W/$model.list" && { echo "FAIL: $model lists rows_block_short"; fail=1; }
done
# the tiled GPU schedule (issue 17): its barrier kinds and held_register_swapped, on the GEMM
# launches (norm epilogue) of expert 0 and the last expert, and the barrier kinds on Tiny's
# first GEMM launch and first row launch (its rows are too wide for an epilogue), each refuted
# (race or bounds; held_register_swapped by layout); none in the simple one
barrier_kinds='no_barrier|barrier_divergent|lds_off_by_one|tile_overlap|sum_unsynced|held_register_swapped'
for tm in nano tiny; do
  "$TKC" verify "$TK_SOURCE_DIR/models/$tm.arch.json" --gpu-schedule tiled --list-mutants >"$W/$tm-tiled.list" || { echo "FAIL: --list-mutants $tm-tiled"; fail=1; }
  : >"$W/$tm-tiled.compile"
done
for kind in no_barrier barrier_divergent lds_off_by_one tile_overlap sum_unsynced held_register_swapped; do
  grep -q "^gpu\.expert_0_in\.$kind	" "$W/nano-tiled.list" || { echo "FAIL: nano-tiled's GEMM + epilogue launch has no $kind mutant"; fail=1; }
done
for kind in no_barrier barrier_divergent lds_off_by_one tile_overlap sum_unsynced; do
  grep -q "^gpu\.expert_0_in_norm\.$kind	" "$W/tiny-tiled.list" || { echo "FAIL: tiny-tiled's row launch has no $kind mutant"; fail=1; }
done
grep -q "\.held_register_swapped	" "$W/tiny-tiled.list" && { echo "FAIL: tiny-tiled (no epilogue) lists held_register_swapped"; fail=1; }
for kind in no_barrier barrier_divergent lds_off_by_one tile_overlap; do
  grep -q "^gpu\.expert_0_in_gemm\.$kind	" "$W/tiny-tiled.list" || { echo "FAIL: tiny-tiled's GEMM launch has no $kind mutant"; fail=1; }
done
grep -q "_gemm\.sum_unsynced	" "$W/tiny-tiled.list" && { echo "FAIL: a GEMM launch lists sum_unsynced"; fail=1; }
grep -qE "\.($barrier_kinds)	" "$W/nano.list" && { echo "FAIL: nano (simple schedule) lists barrier mutants"; fail=1; }
grep -E "\.($barrier_kinds)	" "$W/nano-tiled.list" | grep -E '^gpu\.expert_(0|3)_' | cut -f1 | sed 's/^/nano-tiled /' >"$W/tiled.checked"
grep -E "\.($barrier_kinds)	" "$W/tiny-tiled.list" | grep -E '^gpu\.expert_0_in_(gemm|norm)\.' | cut -f1 | sed 's/^/tiny-tiled /' >>"$W/tiled.checked"
# the other tile sets' GEMM tiles (docs/ir.md "Tiles per target"): 16 x 128 with K-slices of 32
# (nvidia), 16 x 32 on one wave32 (rdna); Tiny's first GEMM launch, its four barrier kinds
for set in nvidia rdna; do
  : >"$W/tiny-tiled$set.compile"
  for kind in no_barrier barrier_divergent lds_off_by_one tile_overlap; do
    echo "tiny-tiled$set gpu.expert_0_in_gemm.$kind" >>"$W/tiled.checked"
  done
done
xargs -P2 -L1 sh "$0" --one <"$W/tiled.checked" >"$W/tiled.res" 2>&1
if [ -s "$W/tiled.res" ]; then cat "$W/tiled.res"; fail=1; fi
echo "tiled: $(wc -l <"$W/tiled.checked") mutants checked (barrier kinds and held values; nano: experts 0 and 3's GEMM + epilogue launches; tiny: expert 0's first GEMM and norm, and its first GEMM under the nvidia and rdna tile sets)"
ls -a "$W" | grep -q '\.tmp\.' && { echo "FAIL: temp dirs left: $(ls -a "$W" | grep '\.tmp\.')"; fail=1; }

"$TKC" verify "$TK_SOURCE_DIR/models/nano.arch.json" --mutant no.such.mutant >/dev/null 2>"$W/unk"
rc=$?
[ $rc -eq 2 ] && grep -q -- "--list-mutants" "$W/unk" || { echo "FAIL: unknown mutant: exit $rc"; cat "$W/unk"; fail=1; }
"$TKC" compile "$TK_SOURCE_DIR/models/nano.arch.json" --mutant no.such.mutant -o "$W/unk.out" >/dev/null 2>"$W/unk"
rc=$?
[ $rc -eq 2 ] && [ ! -e "$W/unk.out" ] || { echo "FAIL: compile unknown mutant: exit $rc"; fail=1; }
exit $fail
