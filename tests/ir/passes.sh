#!/usr/bin/env bash
# tests/ir/passes.sh — each IR pass on its own, as text: for nano, custom-small and dense,
# tests/ir/passes/<model>.<pass>.in.ir is the module before the pass and <pass>.out.ir the
# module after it, both printed by the normal pipeline (`tkc compile --emit=VIEW`; the fused
# stage before buffer planning, which no view prints, by tests/ir_stage_dump). The test runs
# `tkc opt IN --passes=PASS` (parse, pass, print) and diffs with OUT: two independent routes.
# It also checks that IN and OUT are still what the pipeline prints, the whole chain from the
# graph, and `tkc opt`'s errors (wrong stage: exit 1; not an IR pass: exit 2). To accept a
# deliberate change:   TK_BIN=build/bin TK_BUILD_DIR=build tests/ir/passes.sh --update
set -euo pipefail
cd "${TK_SOURCE_DIR:-$(dirname "$0")/../..}"
tkc="${TK_BIN:-build/bin}/tkc"
stage_dump="${TK_BUILD_DIR:-build}/tests/ir_stage_dump"
update=0
[[ "${1:-}" == "--update" ]] && update=1
dir=tests/ir/passes
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
failed=0
fail() { echo "FAIL: $*"; failed=1; }

# The module at a stage, as the pipeline prints it.
print_stage() { # model stage
  local arch="models/$1.arch.json"
  case "$2" in
    graph) "$tkc" compile "$arch" --emit=ir ;;
    padded) "$tkc" compile "$arch" --emit=ir-padded ;;
    fused) "$stage_dump" "$arch" fused ;;
    planned) "$tkc" compile "$arch" --emit=ir-fused ;;
    gpu) "$tkc" compile "$arch" --emit=ir-gpu ;;
    cpu) "$tkc" compile "$arch" --emit=ir-cpu ;;
  esac
}

# pass, the stage it needs, the stage it makes
PASSES=("pad graph padded" "fuse padded fused" "plan-buffers fused planned"
        "schedule-gpu planned gpu" "schedule-cpu gpu cpu")
n=0
for model in nano custom-small dense; do
  for entry in "${PASSES[@]}"; do
    read -r pass before after <<< "$entry"
    in="$dir/$model.$pass.in.ir" out="$dir/$model.$pass.out.ir"
    print_stage "$model" "$before" > "$tmp/in" || { fail "printing $model at stage $before"; continue; }
    print_stage "$model" "$after" > "$tmp/out" || { fail "printing $model at stage $after"; continue; }
    if (( update )); then
      mkdir -p "$dir"
      cp "$tmp/in" "$in"
      cp "$tmp/out" "$out"
      continue
    fi
    cmp -s "$tmp/in" "$in" || fail "$in is not what the pipeline prints at stage $before (--update?)"
    cmp -s "$tmp/out" "$out" || fail "$out is not what the pipeline prints at stage $after (--update?)"
    if ! "$tkc" opt "$in" --passes="$pass" > "$tmp/opt" 2> "$tmp/err"; then
      fail "tkc opt $in --passes=$pass exited $?: $(head -3 "$tmp/err")"
    elif ! diff -u "$out" "$tmp/opt" > "$tmp/diff"; then
      fail "tkc opt $in --passes=$pass differs from $out:"
      head -40 "$tmp/diff"
    fi
    n=$((n + 1))
  done
done
(( update )) && echo "per-pass goldens updated" && exit 0

# The whole chain from the graph, written with -o.
for model in nano custom-small dense; do
  "$tkc" opt "$dir/$model.pad.in.ir" --passes=pad,fuse,plan-buffers,schedule-gpu,schedule-cpu -o "$tmp/chain" ||
    fail "the chain on $model exited $?"
  cmp -s "$tmp/chain" "$dir/$model.schedule-cpu.out.ir" || fail "the chain on $model differs from schedule-cpu.out"
done
ls "$tmp" | grep -q 'chain.tmp' && fail "tkc opt -o left a temp file"

# Errors: a pass at the wrong stage (1), a stage that is not an IR pass (2), usage (2).
expect() { # code message-substring args...
  local code=$1 msg=$2; shift 2
  set +e; "$tkc" opt "$@" > "$tmp/o" 2> "$tmp/e"; local rc=$?; set -e
  [[ $rc == "$code" ]] || fail "tkc opt $*: exit $rc, expected $code ($(head -2 "$tmp/e"))"
  grep -qF -- "$msg" "$tmp/e" || fail "tkc opt $*: stderr lacks '$msg': $(head -2 "$tmp/e")"
  [[ ! -s "$tmp/o" ]] || fail "tkc opt $*: wrote to stdout on error"
}
expect 1 "pass fuse needs stage padded, the input is at stage cpu" "$dir/nano.schedule-cpu.out.ir" --passes=fuse
expect 1 "pass pad needs stage graph, the input is at stage padded" "$dir/dense.pad.out.ir" --passes=pad,pad
expect 2 "'lower' is not an IR pass: expected one of pad, fuse, plan-buffers, schedule-gpu, schedule-cpu" \
  "$dir/nano.pad.in.ir" --passes=lower
expect 2 "'codegen' is not an IR pass" "$dir/nano.pad.in.ir" --passes=pad,codegen
expect 2 "missing --passes" "$dir/nano.pad.in.ir"
expect 2 "missing FILE.ir" --passes=pad
expect 1 "cannot open" "$tmp/no-such.ir" --passes=
rm -f "$tmp/x"
set +e; "$tkc" opt "$dir/nano.pad.in.ir" --passes=fuse -o "$tmp/x" 2> /dev/null; set -e
[[ ! -e "$tmp/x" ]] || fail "tkc opt -o wrote its output on error"
"$tkc" opt --help | grep -q "usage: tkc opt" || fail "tkc opt --help"

(( failed == 0 )) && echo "per-pass goldens: all $n match; chain, -o and errors ok"
exit $failed
