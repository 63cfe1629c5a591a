#!/usr/bin/env bash
# tests/proofs/replay.sh — replays every distinct committed query, proofs/<model>/queries/
# <sha256>.smt2, in two independent solvers: `z3` and `cvc5` must each print `unsat` for the
# file as it is; and the file's hypotheses alone (the last assert, the negated goal, removed)
# must be `sat` in z3, so no proof holds because its hypotheses contradict each other. Each
# file must hash to its name (sha256sum). Files go to each solver in batches of 40, one
# process per batch, each file followed by `(reset)` (SMT-LIB: back to the start state, so a
# file sees nothing of the one before): solver start-up, not solving, was most of the time.
# A batch whose answers are not one expected word per file is rerun file by file, which names
# the failing file. Runs two batches at a time.
# Env: TK_SOURCE_DIR (repo root). Optional arguments: proof stores (directories holding
# queries/) to check instead.
set -euo pipefail
root=${TK_SOURCE_DIR:-$(cd "$(dirname "$0")/../.." && pwd)}
dirs=("$@")
[[ ${#dirs[@]} == 0 ]] && dirs=("$root"/proofs/*/)
command -v z3 >/dev/null || { echo "z3 not found" >&2; exit 1; }
command -v cvc5 >/dev/null || { echo "cvc5 not found" >&2; exit 1; }

check_one() {
  local f=$1 out
  out=$(timeout 20 z3 "$f" 2>&1 || true)
  [[ $out == unsat ]] || { echo "FAIL $f: z3 says '$out' (expected unsat)"; return 1; }
  out=$(timeout 20 cvc5 "$f" 2>&1 || true)
  [[ $out == unsat ]] || { echo "FAIL $f: cvc5 says '$out' (expected unsat)"; return 1; }
  # hypotheses only: drop the named goal (it may span several lines) up to (check-sat)
  out=$(hypotheses "$f" | timeout 20 z3 -in 2>&1 || true)
  [[ $out == sat ]] || { echo "FAIL $f: hypotheses alone are '$out' in z3 (expected sat: the proof would be vacuous)"; return 1; }
}
hypotheses() { awk '/^\(assert \(! \(not /{skip=1} /^\(check-sat\)/{skip=0} !skip' "$1"; }
# batch_answers WANT SOLVER...: each file of the batch (as `hypotheses` gives it with
# WANT=sat) through one solver process; true when the answers are exactly WANT per file
batch_answers() {
  local want=$1 f
  shift 1
  local -a solver=("$@")
  local n=${#files[@]}
  local out
  out=$(for f in "${files[@]}"; do
    if [[ $want == sat ]]; then hypotheses "$f"; else cat "$f"; fi
    echo "(reset)"
  done | timeout $((20 * n)) "${solver[@]}" 2>&1 || true)
  [[ $(printf '%s\n' "$out" | grep -cx "$want") == "$n" && $(printf '%s\n' "$out" | wc -l) == "$n" ]]
}
check_batch() {
  files=("$@")
  if batch_answers unsat z3 -in && batch_answers unsat cvc5 --lang smt2 - && batch_answers sat z3 -in; then return 0; fi
  local f
  for f in "$@"; do check_one "$f"; done # file by file, to name the failure
}
export -f check_one hypotheses batch_answers check_batch

# Every store's query files, by glob (ls under pipefail would end the script at an empty store
# before naming it).
all=()
for d in "${dirs[@]}"; do
  queries=("$d"/queries/*.smt2)
  [[ -e ${queries[0]} ]] || { echo "FAIL $d: no queries/*.smt2 files" >&2; exit 1; }
  all+=("${queries[@]}")
  grep -L '^(assert (! (not ' "$d"/queries/*.smt2 | sed 's/^/FAIL missing named goal: /' | grep . && exit 1
  (cd "$d/queries" && sha256sum -- *.smt2 | awk '$2 != $1 ".smt2" { print "FAIL " $2 " hashes to " $1; bad = 1 } END { exit bad }') >&2 || exit 1
done
# A query is named by its hash, so one that several stores hold (over a third of the files: the
# models share kernels of the same sizes) is replayed once.
distinct=$(printf '%s\n' "${all[@]}" | awk -F/ '!seen[$NF]++')
n=$(printf '%s\n' "$distinct" | wc -l)
printf '%s\n' "$distinct" |
  xargs -P 2 -n 40 bash -c 'check_batch "$0" "$@"' >"${TMPDIR:-/tmp}/tk_replay.$$" 2>&1 || true
if grep -q '^FAIL' "${TMPDIR:-/tmp}/tk_replay.$$"; then
  grep '^FAIL' "${TMPDIR:-/tmp}/tk_replay.$$" | head -n 20 >&2
  rm -f "${TMPDIR:-/tmp}/tk_replay.$$"
  exit 1
fi
rm -f "${TMPDIR:-/tmp}/tk_replay.$$"
echo "ok: $n distinct queries replayed unsat in z3 and cvc5, hypotheses satisfiable"
