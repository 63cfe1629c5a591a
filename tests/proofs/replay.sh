#!/usr/bin/env bash
# tests/proofs/replay.sh — replays every distinct committed query, proofs/<model>/queries/
# <sha256>.smt2, in two independent solvers: `z3` and `cvc5` must each print `unsat` for the
# file as it is; and the file's hypotheses alone (the last assert, the negated goal, removed)
# must be `sat` in z3, so no proof holds because its hypotheses contradict each other. Each
# file must hash to its name (sha256sum). Runs two files at a time.
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
  out=$(awk '/^\(assert \(! \(not /{skip=1} /^\(check-sat\)/{skip=0} !skip' "$f" | timeout 20 z3 -in 2>&1 || true)
  [[ $out == sat ]] || { echo "FAIL $f: hypotheses alone are '$out' in z3 (expected sat: the proof would be vacuous)"; return 1; }
}
export -f check_one

n=0
for d in "${dirs[@]}"; do
  files=$(ls "$d"/queries/*.smt2 2>/dev/null | wc -l)
  [[ $files -gt 0 ]] || { echo "FAIL $d: no queries/*.smt2 files" >&2; exit 1; }
  grep -L '^(assert (! (not ' "$d"/queries/*.smt2 | sed 's/^/FAIL missing named goal: /' | grep . && exit 1
  (cd "$d/queries" && sha256sum -- *.smt2 | awk '$2 != $1 ".smt2" { print "FAIL " $2 " hashes to " $1; bad = 1 } END { exit bad }') >&2 || exit 1
  n=$((n + files))
done
printf '%s\n' "${dirs[@]}" | while read -r d; do ls "$d"/queries/*.smt2; done |
  xargs -P 2 -n 1 bash -c 'check_one "$0"' >"${TMPDIR:-/tmp}/tk_replay.$$" 2>&1 || true
if grep -q '^FAIL' "${TMPDIR:-/tmp}/tk_replay.$$"; then
  grep '^FAIL' "${TMPDIR:-/tmp}/tk_replay.$$" | head -n 20 >&2
  rm -f "${TMPDIR:-/tmp}/tk_replay.$$"
  exit 1
fi
rm -f "${TMPDIR:-/tmp}/tk_replay.$$"
echo "ok: $n distinct queries replayed unsat in z3 and cvc5, hypotheses satisfiable"
