#!/bin/sh
# tests/cli/stub_mutants.sh — mutation testing of class host (issue 12): every codegen mutant
# `tkc compile --list-cg-mutants` lists (host stub text, GPU kernel ABI) makes `tkc compile
# models/nano.arch.json --targets x86_64,amdgcn,nvptx --dispatch dense --cg-mutant ID -o DIR`
# (one code unit each: x86-64-v3, gfx90a, sm_80; dense dispatch, whose proofs take half the
# time: the stub is proved after every kernel, so each mutant costs a whole compile) exit 3
# with a counterexample naming class host and the stub function (model_host.c:LINE) or the
# kernel and code unit, and leaves no DIR and no temp dir;
# the list has >= 9 entries with both kinds; an unknown ID is a usage error (exit 2); without
# a mutant the same compile succeeds, with dense and with the default (sparse) dispatch, and
# its proofs/index.json holds host obligations. Runs two compiles at a time.
set -u
TKC="$TK_BIN/tkc"
ARCH="$TK_SOURCE_DIR/models/nano.arch.json"
FLAGS="--targets x86_64,amdgcn,nvptx --offload-arch gfx90a --cuda-arch sm_80 --cpu x86-64-v3 --quiet"
MUTANT_FLAGS="$FLAGS --dispatch dense"

check_one() { # id
  d="$W/out.$1"
  "$TKC" compile "$ARCH" $MUTANT_FLAGS --cg-mutant "$1" -o "$d" >/dev/null 2>"$W/$1.err"
  rc=$?
  [ $rc -eq 3 ] || { echo "SURVIVED $1 (exit $rc)"; cat "$W/$1.err"; }
  grep -q "class host" "$W/$1.err" || { echo "FAIL $1: no class host in the message"; cat "$W/$1.err"; }
  case "$1" in
    stub.*) grep -q "model_host.c:[0-9]" "$W/$1.err" || { echo "FAIL $1: no stub line"; cat "$W/$1.err"; } ;;
    abi.*) grep -q "in kernel [a-z_0-9]* (gpu)" "$W/$1.err" && grep -q "amdgcn gfx90a\|nvptx sm_80" "$W/$1.err" ||
      { echo "FAIL $1: no kernel or code unit"; cat "$W/$1.err"; } ;;
  esac
  [ -e "$d" ] && echo "FAIL $1: left $d behind"
  return 0
}
if [ "${1:-}" = --one ]; then check_one "$2"; exit 0; fi
W=$(mktemp -d)
trap 'rm -rf "$W"' EXIT
export W TKC ARCH FLAGS MUTANT_FLAGS
fail=0

"$TKC" compile --list-cg-mutants >"$W/all" || { echo "FAIL: --list-cg-mutants"; exit 1; }
grep -P '\thost: ' "$W/all" >"$W/list" # the kernel ones are tests/cli/cg_mutants.sh's
n=$(wc -l <"$W/list")
[ "$n" -ge 9 ] || { echo "FAIL: $n codegen mutants, want >= 9"; fail=1; }
grep -q '^stub\.' "$W/list" && grep -q '^abi\.' "$W/list" || { echo "FAIL: stub and abi mutants"; fail=1; }
cut -f1 "$W/list" | sort | uniq -d | grep . && { echo "FAIL: duplicate IDs"; fail=1; }
cut -f1 "$W/list" | xargs -P2 -I{} sh "$0" --one {} >"$W/res" 2>&1
if [ -s "$W/res" ]; then cat "$W/res"; fail=1; fi
echo "nano: $n codegen mutants checked"
ls -a "$W" | grep -q '\.tmp\.' && { echo "FAIL: temp dirs left: $(ls -a "$W" | grep '\.tmp\.')"; fail=1; }

"$TKC" compile "$ARCH" $FLAGS --cg-mutant no.such.mutant -o "$W/unk" >/dev/null 2>"$W/unk.err"
rc=$?
[ $rc -eq 2 ] && [ ! -e "$W/unk" ] && grep -q -- "--list-cg-mutants" "$W/unk.err" ||
  { echo "FAIL: unknown codegen mutant: exit $rc"; cat "$W/unk.err"; fail=1; }

# Without a mutant both compiles succeed: the mutants' (else a false alarm of class host would
# pass for every mutant refuted) and the default dispatch's.
for dispatch in dense sparse; do
  "$TKC" compile "$ARCH" $FLAGS --dispatch $dispatch -o "$W/sound-$dispatch" ||
    { echo "FAIL: the sound compile, --dispatch $dispatch"; fail=1; continue; }
  h=$(grep -o '"class": "host"' "$W/sound-$dispatch/proofs/index.json" 2>/dev/null | wc -l)
  [ "$h" -gt 0 ] || { echo "FAIL: --dispatch $dispatch: no host obligations in proofs/"; fail=1; }
  grep -q '"host": '"$h" "$W/sound-$dispatch/manifest.json" ||
    { echo "FAIL: --dispatch $dispatch: manifest host count != $h"; fail=1; }
  echo "nano, --dispatch $dispatch: $h host obligations"
done
exit $fail
