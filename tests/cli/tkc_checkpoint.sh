#!/usr/bin/env bash
# tests/cli/tkc_checkpoint.sh — `tkc init-checkpoint` and `tkc inspect-checkpoint` from the
# outside: determinism, validation against the right and the wrong arch, --help, exit codes
# (docs/formats.md §4: 0 ok, 1 invalid input file, 2 usage), nothing left behind by a failed write.
set -uo pipefail
tkc="${TK_BIN:?TK_BIN not set}/tkc"
models="${TK_SOURCE_DIR:?TK_SOURCE_DIR not set}/models"
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
failures=0

# run WANT_RC CMD...: runs CMD with stdout/stderr in $tmp/out, $tmp/err; checks the exit code.
run() {
  local want=$1
  shift
  "$@" >"$tmp/out" 2>"$tmp/err"
  local rc=$?
  if [ "$rc" -ne "$want" ]; then
    echo "  '$*' exited $rc, expected $want; stderr:" && sed 's/^/    /' "$tmp/err"
    return 1
  fi
}
# has FILE TEXT: FILE contains TEXT (fixed string).
has() {
  grep -qF -- "$2" "$1" || { echo "  $1 lacks '$2':" && sed 's/^/    /' "$1" | head -5; return 1; }
}
check() {
  local what=$1
  shift
  if "$@"; then echo "ok   $what"; else echo "FAIL $what"; failures=$((failures + 1)); fi
}

nano="$models/nano.arch.json"
t_determinism() {
  run 0 "$tkc" init-checkpoint "$nano" -o "$tmp/a.tkp1" && has "$tmp/out" "58 tensors" &&
    run 0 "$tkc" init-checkpoint "$nano" -o "$tmp/b.tkp1" && cmp -s "$tmp/a.tkp1" "$tmp/b.tkp1" &&
    run 0 "$tkc" init-checkpoint "$nano" --seed 20260101 -o "$tmp/c.tkp1" && cmp -s "$tmp/a.tkp1" "$tmp/c.tkp1"
}
t_other_seed() {
  run 0 "$tkc" init-checkpoint "$nano" --seed 7 -o "$tmp/s7.tkp1" && ! cmp -s "$tmp/a.tkp1" "$tmp/s7.tkp1" &&
    run 0 "$tkc" inspect-checkpoint "$tmp/s7.tkp1" --arch "$nano"
}
t_inspect_ok() {
  run 0 "$tkc" inspect-checkpoint "$tmp/a.tkp1" --arch "$nano" && has "$tmp/out" "records: 58" &&
    has "$tmp/out" "expert_3.param_13" && has "$tmp/out" '"generator":"tkc init-checkpoint"' &&
    has "$tmp/out" "valid for $nano (fingerprint "
}
t_inspect_no_arch() {
  run 0 "$tkc" inspect-checkpoint "$tmp/s7.tkp1" && has "$tmp/out" "router.param_0" && has "$tmp/out" '"seed":7}'
}
t_step() {
  run 0 "$tkc" init-checkpoint "$models/custom-small.arch.json" --step 5 -o "$tmp/cs.tkp1" &&
    run 0 "$tkc" inspect-checkpoint "$tmp/cs.tkp1" && has "$tmp/out" "step: 5"
}
t_wrong_arch() {
  run 1 "$tkc" inspect-checkpoint "$tmp/a.tkp1" --arch "$models/custom-small.arch.json" &&
    has "$tmp/err" 'record 0 ("router.param_0")' && has "$tmp/err" "weight_len"
}
t_wrong_fingerprint() { # same shapes, another seed: only the config's fingerprint differs
  sed 's/"seed": *[0-9]*/"seed": 1/' "$nano" >"$tmp/nano-seed1.arch.json" &&
    run 1 "$tkc" inspect-checkpoint "$tmp/a.tkp1" --arch "$tmp/nano-seed1.arch.json" &&
    has "$tmp/err" "arch_fingerprint"
}
t_truncated() {
  head -c -1 "$tmp/a.tkp1" >"$tmp/cut.tkp1" && run 1 "$tkc" inspect-checkpoint "$tmp/cut.tkp1" &&
    has "$tmp/err" "cut.tkp1" && has "$tmp/err" "truncated"
}
t_missing_file() {
  run 1 "$tkc" inspect-checkpoint "$tmp/none.tkp1" && has "$tmp/err" "none.tkp1"
}
t_failed_write_leaves_nothing() {
  mkdir "$tmp/empty" && run 1 "$tkc" init-checkpoint "$nano" -o "$tmp/empty/no/such/x.tkp1" &&
    echo '{"size": "Nano"}' >"$tmp/bad.arch.json" &&
    run 1 "$tkc" init-checkpoint "$tmp/bad.arch.json" -o "$tmp/empty/x.tkp1" &&
    [ -z "$(ls -A "$tmp/empty")" ]
}
t_help() {
  run 0 "$tkc" init-checkpoint --help && has "$tmp/out" "usage: tkc init-checkpoint" &&
    has "$tmp/out" "Exit codes: 0 ok, 1 invalid arch" &&
    run 0 "$tkc" inspect-checkpoint --help && has "$tmp/out" "usage: tkc inspect-checkpoint" &&
    has "$tmp/out" "Exit codes: 0 ok, 1 unreadable"
}
t_usage() {
  run 2 "$tkc" init-checkpoint && run 2 "$tkc" init-checkpoint "$nano" &&
    run 2 "$tkc" init-checkpoint "$nano" -o && run 2 "$tkc" init-checkpoint "$nano" -o x --seed abc &&
    run 2 "$tkc" init-checkpoint "$nano" -o x --seed -1 && run 2 "$tkc" init-checkpoint "$nano" -o x --step 4294967296 &&
    run 2 "$tkc" init-checkpoint "$nano" "$nano" -o x && run 2 "$tkc" init-checkpoint "$nano" -o x --bogus &&
    has "$tmp/err" "Try 'tkc init-checkpoint --help'" &&
    run 2 "$tkc" inspect-checkpoint && run 2 "$tkc" inspect-checkpoint a b &&
    run 2 "$tkc" inspect-checkpoint a --arch && run 2 "$tkc" inspect-checkpoint a --bogus &&
    [ ! -e x ]
}

check "init-checkpoint is deterministic (default seed = arch seed)" t_determinism
check "another --seed gives other weights" t_other_seed
check "inspect --arch with the right arch" t_inspect_ok
check "inspect without --arch lists records" t_inspect_no_arch
check "--step is stored" t_step
check "inspect --arch with the wrong arch names the record" t_wrong_arch
check "wrong arch fingerprint in the config" t_wrong_fingerprint
check "truncated checkpoint" t_truncated
check "missing checkpoint" t_missing_file
check "a failed write leaves nothing" t_failed_write_leaves_nothing
check "--help" t_help
check "usage errors exit 2" t_usage

[ "$failures" -eq 0 ] && echo "tkc_checkpoint: all passed" || echo "tkc_checkpoint: $failures failed"
[ "$failures" -eq 0 ]
