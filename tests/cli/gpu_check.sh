#!/usr/bin/env bash
# tests/cli/gpu_check.sh — scripts/gpu-check.sh, the prepared GPU check (issue 17), without a
# GPU: `prepare` on nano at B = 1 and 17 (a bundle per GPU schedule, simple and tiled), then
# `run --device cpu` (the dry run: the "GPU" columns are the CPU backend) must agree with
# tests/ref and write its report; a reference
# value moved by 0.01 must make it fail (exit 1, FAIL, "**NO**"); `run` without a GPU exits 3
# (only checked where this machine has none), and without a prepared directory 2.
source "$(dirname "$0")/lib.sh"
gc=$tmp/gc
TK_BUILD_DIR=${TK_BUILD_DIR:-build} scripts/gpu-check.sh prepare "$gc" --models nano --batches 1,17 \
  >"$tmp/prep.out" 2>&1 || { fail "prepare: $(tail -5 "$tmp/prep.out")"; finish gpu_check; }
for f in bin/tk_forward bin/tk_init_checkpoint nano/bundle/manifest.json nano/bundle-tiled/manifest.json \
  nano/x-17.bin nano/ref-17.bin; do
  [ -s "$gc/$f" ] || fail "prepare wrote no $f"
done
[ -e "$gc/nano/bundle/proofs" ] && fail "prepare copied the proof store (the runtime never reads it)"

scripts/gpu-check.sh run "$gc" --out "$tmp/r1" --device cpu --threads 2 --reps 2 --no-torch \
  >"$tmp/run1.out" 2>&1
rc=$?
[ "$rc" -eq 0 ] || fail "run --device cpu: exit $rc: $(tail -5 "$tmp/run1.out")"
report=$tmp/r1/gpu-check.md
grep -q 'Verdict: \*\*PASS\*\*' "$report" || fail "the report's verdict is not PASS"
grep -q 'DRY RUN' "$report" || fail "a --device cpu report does not say it is a dry run"
grep -q '"gpu_schedule": *"tiled"' "$gc/nano/bundle-tiled/manifest.json" ||
  fail "bundle-tiled was not compiled with --gpu-schedule tiled"
rows=$(grep -cE '^\| nano \| (1|17) \| [0-9.]+ \| [0-9.]+ \| [0-9.]+ \| n/a \| .* \| yes \|$' "$report")
[ "$rows" -eq 2 ] || fail "expected 2 timed, agreeing nano rows in the report, found $rows: $(cat "$report")"
python3 -c "import json,sys; r=json.load(open(sys.argv[1])); assert r['verdict']=='PASS' and len(r['points'])==2" \
  "$tmp/r1/gpu-check.json" || fail "gpu-check.json: not PASS with 2 points"

# One reference logit moved by 0.01: the check must notice (tolerance 1e-4 + 1e-3·|ref|).
python3 - "$gc/nano/ref-17.bin" <<'PY'
import array, sys
a = array.array("d"); a.frombytes(open(sys.argv[1], "rb").read()); a[5] += 0.01
open(sys.argv[1], "wb").write(a.tobytes())
PY
scripts/gpu-check.sh run "$gc" --out "$tmp/r2" --device cpu --threads 2 --reps 1 --no-torch \
  >"$tmp/run2.out" 2>&1
rc=$?
[ "$rc" -eq 1 ] || fail "run with a moved reference: exit $rc, expected 1"
grep -q 'Verdict: \*\*FAIL\*\*' "$tmp/r2/gpu-check.md" || fail "a moved reference does not give FAIL"
grep -qE '^\| nano \| 17 \|.*\*\*NO\*\* \|$' "$tmp/r2/gpu-check.md" || fail "the B = 17 row does not say NO"

if ! command -v nvidia-smi >/dev/null && [ ! -e /dev/kfd ]; then
  scripts/gpu-check.sh run "$gc" --out "$tmp/r3" >"$tmp/run3.out" 2>&1
  rc=$?
  [ "$rc" -eq 3 ] || fail "run without a GPU: exit $rc, expected 3"
  grep -q "no GPU found" "$tmp/run3.out" || fail "run without a GPU does not say why"
fi
scripts/gpu-check.sh run "$tmp/nothing" --device cpu >"$tmp/run4.out" 2>&1
rc=$?
[ "$rc" -eq 2 ] || fail "run without a prepared directory: exit $rc, expected 2"
grep -q "prepared.json is missing" "$tmp/run4.out" || fail "run without a prepared directory does not say so"
finish gpu_check
