#!/usr/bin/env bash
# tests/proofs/cli.sh — `tkc verify` on the command line: --help, usage errors (exit 2), an
# invalid arch (exit 1), a proved model (exit 0) with one summary line per class on stdout,
# and --proofs-dir: a directory holding a file tkc did not write refused, untouched (more in
# tests/cli/output_dir.sh); the store laid out as docs/proofs.md says (queries/<sha256>.smt2,
# one per distinct query, named by the sha256sum of its bytes; index.json naming one of them
# per obligation; the output marker), nothing left beside it, byte-identical on a second run.
set -uo pipefail
root=${TK_SOURCE_DIR:-$(cd "$(dirname "$0")/../.." && pwd)}
tkc=${TK_BIN:-$root/build/bin}/tkc
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
fail=0
expect() { # expect CODE DESCRIPTION -- command...
  local want=$1 what=$2
  shift 3
  "$@" >"$work/out" 2>"$work/err"
  local got=$?
  if [[ $got != "$want" ]]; then
    echo "FAIL $what: exit $got, expected $want" >&2
    cat "$work/err" >&2
    fail=1
  fi
}

expect 0 "--help" -- "$tkc" verify --help
grep -q "usage: tkc verify" "$work/out" || { echo "FAIL --help text" >&2; fail=1; }
expect 2 "no arch" -- "$tkc" verify
expect 2 "unknown option" -- "$tkc" verify "$root/models/nano.arch.json" --frobnicate
expect 2 "bad --max-batch" -- "$tkc" verify "$root/models/nano.arch.json" --max-batch 0
echo '{"size": "Nano"}' >"$work/bad.arch.json"
expect 1 "invalid arch" -- "$tkc" verify "$work/bad.arch.json"
expect 1 "missing arch" -- "$tkc" verify "$work/none.arch.json"

mkdir -p "$work/proofs" && echo mine >"$work/proofs/mine.smt2"
expect 1 "a directory with a file tkc did not write" -- "$tkc" verify "$root/models/nano.arch.json" --proofs-dir "$work/proofs"
grep -q "refusing to replace .*mine.smt2" "$work/err" || { echo "FAIL the refusal does not name mine.smt2: $(cat "$work/err")" >&2; fail=1; }
[[ $(cat "$work/proofs/mine.smt2") == mine ]] || { echo "FAIL the user's file was touched" >&2; fail=1; }
rm "$work/proofs/mine.smt2"
expect 0 "nano verifies" -- "$tkc" verify "$root/models/nano.arch.json" --proofs-dir "$work/proofs"
for c in shape padding bounds no_overflow race topk dataflow layout dispatch address control host; do
  grep -Eq "^$c +[0-9]+ obligations proved \([0-9]+ without path hypotheses\)$" "$work/out" || { echo "FAIL no summary line for $c" >&2; fail=1; }
done
[[ $(wc -l <"$work/out") == 12 ]] || { echo "FAIL stdout has more than the 12 summary lines" >&2; fail=1; }
# address and control are the translation validation of `tkc compile` (docs/proofs.md)
grep -qE "^address +0 obligations proved \(0 without path hypotheses\)$" "$work/out" || { echo "FAIL tkc verify proved address obligations" >&2; fail=1; }
grep -q "solver time" "$work/err" || { echo "FAIL no solver time on stderr" >&2; fail=1; }
[[ -f $work/proofs/.tkc-output ]] || { echo "FAIL no output marker in the store" >&2; fail=1; }
entries=$(grep -c '"class"' "$work/proofs/index.json")
used=$(grep -o '"query": "[0-9a-f]*"' "$work/proofs/index.json" | sort -u | wc -l)
files=$(ls "$work/proofs/queries"/*.smt2 | wc -l)
[[ $used == "$files" && $files -gt 100 && $entries -gt $files ]] || { echo "FAIL $files query files for $used distinct queries of $entries obligations" >&2; fail=1; }
[[ $(ls "$work/proofs" | tr '\n' ' ') == "index.json queries " ]] || { echo "FAIL proofs dir holds $(ls "$work/proofs")" >&2; fail=1; }
(cd "$work/proofs/queries" && sha256sum -- *.smt2 | awk '$2 != $1 ".smt2" { print "FAIL query file " $2 " hashes to " $1; bad = 1 } END { exit bad }') >&2 || fail=1
[[ $(ls -A "$work" | grep -c '^\.') == 0 ]] || { echo "FAIL temporary directory left beside --proofs-dir" >&2; fail=1; }
grep -rlE '/tmp|[0-9]+\.[0-9]+ s' "$work/proofs" && { echo "FAIL a path or a time in the proofs" >&2; fail=1; }
expect 0 "second run" -- "$tkc" verify "$root/models/nano.arch.json" --proofs-dir "$work/proofs2"
diff -r "$work/proofs" "$work/proofs2" >/dev/null || { echo "FAIL two runs differ" >&2; fail=1; }
[[ $fail == 0 ]] && echo "ok: tkc verify command line"
exit $fail
