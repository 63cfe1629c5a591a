#!/usr/bin/env bash
# tests/cli/tkc_driver.sh — the one driver (issue 11): the pass table and its views.
# - --list-passes names every pass of the table in order, and every view;
# - --emit=VIEW works for every view, each is the dump after its pass (ir-padded is the graph
#   after pad: clamps appear that ir lacks; llvm-unopt is LLVM IR before O3: it still has
#   allocas and differs from llvm);
# - --dump-after=LIST prints "> After PASS:" per pass in table order; --stop-after writes
#   nothing; unknown passes and views are refused;
# - one CPU table: --cpu znver4 is accepted by --emit=asm, by -o DIR (manifest cpu = the level
#   the runtime checks, cpu_name = znver4) and by tkc verify, whose CPU schedule then differs
#   from the default one (8x32 tiles); an unknown CPU is refused by all three alike.
source "$(dirname "$0")/lib.sh"
tkc="$BIN/tkc"
nano=models/nano.arch.json
: >"$tmp/req"

passes="arch lower pad fuse plan-buffers schedule-gpu schedule-cpu verify codegen offload stub write"
views="arch ir ir-padded ir-fused ir-gpu ir-cpu obligations llvm-unopt llvm asm"
expect_exit 0 "$tkc" compile --list-passes
listed=$(awk '/^passes/{p=1;next} /^views/{p=0} p{print $1}' "$tmp/out" | tr '\n' ' ')
[ "$listed" = "$passes " ] || fail "--list-passes: passes '$listed', expected '$passes'"
for v in $views; do grep -q "^  $v " "$tmp/out" || fail "--list-passes lacks view $v"; done

for v in $views; do
  expect_exit 0 "$tkc" compile $nano --emit="$v" --targets x86_64
  [ -s "$tmp/out" ] || fail "--emit=$v printed nothing"
  cp "$tmp/out" "$tmp/view.$v"
done
grep -q "^; tkc IR, stage graph" "$tmp/view.ir" || fail "--emit=ir is not the graph dump"
grep -q "min(" "$tmp/view.ir-padded" && ! cmp -s "$tmp/view.ir" "$tmp/view.ir-padded" ||
  fail "--emit=ir-padded shows no row clamp, or equals --emit=ir"
grep -q "alloca" "$tmp/view.llvm-unopt" || fail "--emit=llvm-unopt has no alloca (optimised?)"
cmp -s "$tmp/view.llvm-unopt" "$tmp/view.llvm" && fail "--emit=llvm-unopt equals --emit=llvm"
grep -q "(set-logic\|(assert" "$tmp/view.obligations" || fail "--emit=obligations is not SMT-LIB2"

expect_exit 0 "$tkc" compile $nano --dump-after=schedule-gpu,pad --stop-after=schedule-gpu
got=$(grep '^> After' "$tmp/out" | tr '\n' '|')
[ "$got" = "> After pad:|> After schedule-gpu:|" ] || fail "--dump-after headers: '$got'"
grep -q "tkc compile: schedule-gpu" "$tmp/err" || fail "no progress line for schedule-gpu"
grep -q "tkc compile: schedule-cpu" "$tmp/err" && fail "--stop-after=schedule-gpu ran schedule-cpu"

expect_exit 0 "$tkc" compile $nano --stop-after=fuse --dump-after=fuse --quiet
sed -n 2p "$tmp/out" | grep -q "^; tkc IR, stage fused" || fail "--dump-after=fuse is not the fused module"
expect_exit 1 "$tkc" compile $nano --stop-after=stub --dump-after=stub
grep -q "has no dump" "$tmp/err" || fail "--dump-after=stub: $(cat "$tmp/err")"

expect_exit 0 "$tkc" compile $nano --stop-after=verify --quiet
[ -z "$(ls -A "$tmp" | grep -v '^req$\|^out$\|^err$\|^view\.')" ] || fail "--stop-after wrote files"
expect_exit 1 "$tkc" compile $nano --stop-after=optimise
grep -q "no such pass" "$tmp/err" || fail "unknown --stop-after: $(cat "$tmp/err")"
expect_exit 1 "$tkc" compile $nano --dump-after=pad,nope --stop-after=pad
grep -q "nope" "$tmp/err" || fail "unknown --dump-after pass not named"
expect_exit 2 "$tkc" compile $nano --emit=ir-planned
expect_exit 2 "$tkc" compile $nano --emit=asm
grep -q "give one target" "$tmp/err" || fail "--emit=asm without one target"

# One CPU table: the same names for --emit, -o and verify.
expect_exit 0 "$tkc" compile $nano --emit=asm --targets x86_64 --cpu znver4
grep -q zmm "$tmp/out" || fail "--cpu znver4 asm uses no zmm register"
expect_exit 0 "$tkc" compile $nano -o "$tmp/zn4" --targets x86_64 --cpu znver4 --quiet
python3 - "$tmp/zn4/manifest.json" <<'PY' || fail "manifest of --cpu znver4"
import json, sys
t = [t for t in json.load(open(sys.argv[1]))["targets"] if t["kind"] == "x86_64"][0]
assert t["cpu"] == "x86-64-v4" and t["cpu_name"] == "znver4", t
PY
expect_exit 0 "$tkc" verify $nano --cpu znver4
cp "$tmp/out" "$tmp/verify.zn4"
expect_exit 0 "$tkc" verify $nano
grep -q "obligations proved" "$tmp/out" || fail "tkc verify prints no summary"
expect_exit 0 "$tkc" compile $nano --emit=ir-cpu --cpu znver4
cp "$tmp/out" "$tmp/ircpu.zn4"
expect_exit 0 "$tkc" compile $nano --emit=ir-cpu
cmp -s "$tmp/out" "$tmp/ircpu.zn4" && fail "--cpu znver4 did not change the CPU schedule"
for cmd in "compile $nano --emit=asm --targets x86_64" "compile $nano -o $tmp/bad" "verify $nano"; do
  expect_exit 1 "$tkc" $cmd --cpu pentium4
  grep -q "not a known x86-64 CPU" "$tmp/err" || fail "tkc $cmd --cpu pentium4: $(cat "$tmp/err")"
done
[ ! -e "$tmp/bad" ] || fail "a refused --cpu left $tmp/bad"
expect_exit 2 "$tkc" verify $nano -o "$tmp/x"
finish tkc_driver
