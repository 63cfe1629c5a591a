#!/bin/sh
# tests/cli/mutants.sh — tkc's mutation testing (issue 5): for nano, custom-small and dense,
# every mutant `tkc verify --list-mutants` lists is killed (exit 3, the counterexample names a
# kernel) by `tkc verify --mutant` and by `tkc compile --mutant -o DIR`, which must leave no DIR
# and no temp dir beside it (a layout mutant by class layout, the only one that can); MoE
# models list >= 25 mutants, dense >= 20, with at least one of every class; an unknown ID is
# a usage error (exit 2). nano-sparse (nano with --dispatch sparse) lists a mutant of every
# dispatch kind, and those of its counting sort and of expert 0's kernels are killed the same
# way. Runs two mutants at a time.
set -u
TKC="$TK_BIN/tkc"
fail=0

check_one() { # model id (nano-sparse: nano with --dispatch sparse)
  m="$TK_SOURCE_DIR/models/${1%-sparse}.arch.json"
  flags=""
  case "$1" in *-sparse) flags="--dispatch sparse" ;; esac
  d="$W/out.$1.$2"
  "$TKC" verify "$m" $flags --mutant "$2" >/dev/null 2>"$d.verr"
  rc=$?
  if [ $rc -ne 3 ] || ! grep -q "kernel" "$d.verr"; then echo "SURVIVED verify $1 $2 (exit $rc)"; cat "$d.verr"; fi
  # a layout mutant stays inside every buffer: only class layout can refute it
  case "$2" in *.panel_rowmajor) grep -q "class layout" "$d.verr" || { echo "NOT BY LAYOUT $1 $2"; cat "$d.verr"; } ;; esac
  "$TKC" compile "$m" $flags --mutant "$2" --targets x86_64 -o "$d/bundle" >/dev/null 2>"$d.cerr"
  rc=$?
  if [ $rc -ne 3 ] || ! grep -q "kernel" "$d.cerr"; then echo "SURVIVED compile $1 $2 (exit $rc)"; cat "$d.cerr"; fi
  if [ -e "$d" ]; then echo "compile $1 $2 left $d behind"; fi
}
if [ "${1:-}" = --one ]; then check_one "$2" "$3"; exit 0; fi # one mutant (run by xargs below)
W=$(mktemp -d)
trap 'rm -rf "$W"' EXIT
export W

for model in nano custom-small dense; do
  "$TKC" verify "$TK_SOURCE_DIR/models/$model.arch.json" --list-mutants >"$W/$model.list" || { echo "FAIL: --list-mutants $model"; fail=1; continue; }
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
  cut -f1 "$W/$model.list" | xargs -P2 -I{} sh "$0" --one "$model" {} >"$W/$model.res" 2>&1
  if [ -s "$W/$model.res" ]; then cat "$W/$model.res"; fail=1; fi
  echo "$model: $n mutants checked"
done
# sparse dispatch: every dispatch kind listed; the counting sort's and expert 0's killed
"$TKC" verify "$TK_SOURCE_DIR/models/nano.arch.json" --dispatch sparse --list-mutants >"$W/sparse.list" || { echo "FAIL: --list-mutants nano-sparse"; fail=1; }
for kind in dispatch_slot_plus_1 dispatch_no_advance dispatch_count_plus_1 dispatch_rows_short moves_unguarded scatter_no_zero chain_rows_b; do
  for t in gpu cpu; do grep -q "^$t\..*\.$kind	" "$W/sparse.list" || { echo "FAIL: nano-sparse has no $t $kind mutant"; fail=1; }; done
done
cut -f1 "$W/sparse.list" | grep -E '^(gpu|cpu)\.(dispatch|expert_0_[a-z_0-9]*)\.(dispatch_|moves_|scatter_|chain_)' >"$W/sparse.ids"
n=$(wc -l <"$W/sparse.ids")
[ "$n" -ge 20 ] || { echo "FAIL: nano-sparse: $n dispatch mutants of the sort and expert 0, want >= 20"; fail=1; }
xargs -P2 -I{} sh "$0" --one nano-sparse {} <"$W/sparse.ids" >"$W/sparse.res" 2>&1
if [ -s "$W/sparse.res" ]; then cat "$W/sparse.res"; fail=1; fi
echo "nano-sparse: $n dispatch mutants checked"
ls -a "$W" | grep -q '\.tmp\.' && { echo "FAIL: temp dirs left: $(ls -a "$W" | grep '\.tmp\.')"; fail=1; }

"$TKC" verify "$TK_SOURCE_DIR/models/nano.arch.json" --mutant no.such.mutant >/dev/null 2>"$W/unk"
rc=$?
[ $rc -eq 2 ] && grep -q -- "--list-mutants" "$W/unk" || { echo "FAIL: unknown mutant: exit $rc"; cat "$W/unk"; fail=1; }
"$TKC" compile "$TK_SOURCE_DIR/models/nano.arch.json" --mutant no.such.mutant -o "$W/unk.out" >/dev/null 2>"$W/unk"
rc=$?
[ $rc -eq 2 ] && [ ! -e "$W/unk.out" ] || { echo "FAIL: compile unknown mutant: exit $rc"; fail=1; }
exit $fail
