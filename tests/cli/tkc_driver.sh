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
#   from the default one (8x32 tiles); an unknown CPU is refused by all three alike;
# - --cpu LIST (issue 13): x86-64-v3,znver4 gives one x86_64 entry per level (the second with
#   its own code object, stub and proof store, bound by certificate.cpu_levels); a CPU given
#   twice, two CPUs of one level, an unknown one or an empty item are refused naming the value;
#   tkc verify takes one CPU.
source "$(dirname "$0")/lib.sh"
tkc="$BIN/tkc"
nano=models/nano.arch.json
: >"$tmp/req"

passes="arch lower pad fuse plan-buffers schedule-gpu schedule-cpu verify codegen offload stub levels tile-sets write"
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
# A CPU list: one x86_64 entry per level, the first CPU's as before, each further one with its
# own code object, stub and proof store (docs/abi.md "Bundle layout").
expect_exit 0 "$tkc" compile $nano -o "$tmp/zn4" --targets x86_64 --cpu x86-64-v3,znver4 --quiet
python3 - "$tmp/zn4" <<'PY' || fail "manifest of --cpu x86-64-v3,znver4"
import json, os, sys
m = json.load(open(os.path.join(sys.argv[1], "manifest.json")))
v3, v4 = [t for t in m["targets"] if t["kind"] == "x86_64"]
assert v3["cpu"] == "x86-64-v3" and v3["file"] == "model.x86_64.so" and "host_stub" not in v3, v3
assert v4["cpu"] == "x86-64-v4" and v4["cpu_name"] == "znver4", v4
assert v4["file"] == "model.x86_64.x86-64-v4.so", v4
assert v4["host_stub"]["library"]["file"] == "model_host.x86-64-v4.so", v4
c = m["certificate"]
assert c["options"]["cpu"] == "x86-64-v3,znver4", c["options"]
(level,) = c["cpu_levels"]
assert level["cpu"] == "x86-64-v4" and level["proofs"] == "proofs/x86-64-v4", level
index = json.load(open(os.path.join(sys.argv[1], "proofs/x86-64-v4/index.json")))
assert index["root"] == level["proofs_root"] and len(index["obligations"]) == level["obligations"]
assert level["proofs_root"] != c["proofs_root"], "the two levels have the same proofs"
for f in ("model.x86_64.x86-64-v4.so", "model_host.x86-64-v4.c", "model_host.x86-64-v4.h"):
    assert os.path.isfile(os.path.join(sys.argv[1], f)), f
PY
for bad in "x86-64-v3,x86-64-v3:'x86-64-v3' given twice" "x86-64-v4,znver4:both level x86-64-v4" \
    "x86-64-v3,pentium4:\"pentium4\" is not a known" "x86-64-v3,:empty name"; do
  expect_exit 1 "$tkc" compile $nano -o "$tmp/bad" --targets x86_64 --cpu "${bad%%:*}" --quiet
  grep -qF -- "${bad#*:}" "$tmp/err" || fail "--cpu ${bad%%:*}: $(cat "$tmp/err")"
done
expect_exit 2 "$tkc" verify $nano --cpu x86-64-v3,x86-64-v4
grep -q "give one CPU" "$tmp/err" || fail "tkc verify with a CPU list: $(cat "$tmp/err")"
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
