#!/bin/sh
# tests/cli/cg_mutants.sh — codegen mutation testing (issue 12 item 2): every mutant `tkc compile
# --list-cg-mutants` lists (at least 15, ID<TAB>class: description, classes address and control
# both present, IDs unique) makes `tkc compile models/nano.arch.json --targets
# x86_64,x86_64-simt,amdgcn,nvptx --cg-mutant ID -o DIR` exit 3 with a message naming a kernel
# and the class, and leave no DIR and no temp dir; the unmutated compile of the same targets
# succeeds and its proofs/index.json holds address and control entries for all four targets; an
# unknown ID is a usage error (exit 2) naming --list-cg-mutants. One code unit per target
# (x86-64-v3, gfx90a, sm_80): the mutants change the lowering all units share. The tiled.*
# mutants (barriers, shared locals) compile with --gpu-schedule tiled for amdgcn and nvptx, the
# targets that have them. Two mutants at a time.
set -u
TKC="$TK_BIN/tkc"
MODEL="$TK_SOURCE_DIR/models/nano.arch.json"
TARGETS=x86_64,x86_64-simt,amdgcn,nvptx
UNITS="--cpu x86-64-v3 --offload-arch gfx90a --cuda-arch sm_80"
fail=0

check_one() { # id (tiled.*: the tiled GPU schedule's, on the GPU targets)
  d="$W/out.$1"
  targets=$TARGETS flags=""
  case "$1" in tiled.*) targets=amdgcn,nvptx flags="--gpu-schedule tiled" ;; esac
  "$TKC" compile "$MODEL" --targets "$targets" $UNITS $flags --cg-mutant "$1" -o "$d/bundle" >/dev/null 2>"$d.err"
  rc=$?
  if [ $rc -ne 3 ] || ! grep -q "kernel " "$d.err" || ! grep -Eq "class (address|control)" "$d.err"; then
    echo "SURVIVED $1 (exit $rc)"
    cat "$d.err"
  fi
  if [ -e "$d" ]; then echo "--cg-mutant $1 left $d behind"; fi
}
if [ "${1:-}" = --one ]; then check_one "$2"; exit 0; fi
W=$(mktemp -d)
trap 'rm -rf "$W"' EXIT
export W

"$TKC" compile --list-cg-mutants >"$W/all" || { echo "FAIL: --list-cg-mutants"; exit 1; }
grep -P '\t(address|control): ' "$W/all" >"$W/list"
n=$(wc -l <"$W/list")
[ "$n" -ge 15 ] || { echo "FAIL: $n codegen mutants, want >= 15"; fail=1; }
grep -vqP '^[a-z0-9._-]+\t(address|control|host): .+$' "$W/all" && { echo "FAIL: malformed lines:"; grep -vP '^[a-z0-9._-]+\t(address|control|host): .+$' "$W/all"; fail=1; }
for cls in address control; do grep -q "	$cls:" "$W/list" || { echo "FAIL: no $cls mutant"; fail=1; }; done
cut -f1 "$W/all" | sort | uniq -d | grep . && { echo "FAIL: duplicate IDs"; fail=1; }

"$TKC" compile "$MODEL" --targets "$TARGETS" $UNITS -o "$W/ok" >/dev/null 2>"$W/ok.err" || { echo "FAIL: unmutated compile"; cat "$W/ok.err"; fail=1; }
for t in x86_64 x86_64-simt amdgcn nvptx; do
  for cls in address control; do
    grep -q "\"class\": *\"$cls\", *\"kernel\": *\"[^\"]*\", *\"target\": *\"$t\"" "$W/ok/proofs/index.json" ||
      { echo "FAIL: index.json has no $cls obligation for $t"; fail=1; }
  done
done

cut -f1 "$W/list" | xargs -P2 -I{} sh "$0" --one {} >"$W/res" 2>&1
if [ -s "$W/res" ]; then cat "$W/res"; fail=1; fi
ls -a "$W" | grep -q '\.tmp\.' && { echo "FAIL: temp dirs left"; fail=1; }

"$TKC" compile "$MODEL" --cg-mutant no-such-mutant -o "$W/unk" >/dev/null 2>"$W/unk.err"
rc=$?
[ $rc -eq 2 ] && grep -q -- "--list-cg-mutants" "$W/unk.err" && [ ! -e "$W/unk" ] || { echo "FAIL: unknown codegen mutant: exit $rc"; cat "$W/unk.err"; fail=1; }
echo "$n codegen mutants checked"
exit $fail
