#!/usr/bin/env bash
# scripts/check-compilers.sh [BIN_A BIN_B [MODEL...]] — tkc's output must not depend on the
# C compiler that built tkc. Compiles each model (default: nano custom-small) with two tkc
# builds, BIN_A (default build/bin: gcc, Release) and BIN_B (default build-asan/bin: clang-19,
# ASan+UBSan; scripts/test.sh builds both), and runs `tkc verify --proofs-dir` with each; the
# bundles (every file: code objects, model_host.*, manifest.json, proofs/) and the proofs
# directories must be byte-identical (`diff -r`). C leaves the order of a call's arguments
# unspecified, so a call whose arguments each create a Z3 term, a declaration or an id makes
# the two compilers write different proofs (verify/verify_internal.h, "Term order").
# Each tkc run is bounded by TK_CHECK_TIMEOUT seconds (default 900); runs go in parallel, at
# most TK_CHECK_JOBS at once (default nproc). Exit 0 identical, 1 a difference or a failed run.
set -euo pipefail
cd "$(dirname "$0")/.."
bin_a=${1:-build/bin}
bin_b=${2:-build-asan/bin}
models=("${@:3}")
[[ ${#models[@]} -gt 0 ]] || models=(nano custom-small)
limit=${TK_CHECK_TIMEOUT:-900}
jobs=${TK_CHECK_JOBS:-$(nproc)}
for bin in "$bin_a" "$bin_b"; do
  [[ -x $bin/tkc ]] || { echo "check-compilers: $bin/tkc not found (build it first)" >&2; exit 1; }
done
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

# run SIDE MODEL KIND: one tkc run into $work/SIDE/MODEL.KIND, its stderr in .log, status in .rc.
run() {
  local side=$1 model=$2 kind=$3 bin out
  bin=$([[ $side == a ]] && echo "$bin_a" || echo "$bin_b")
  out=$work/$side/$model.$kind
  local cmd=(compile "models/$model.arch.json" -o "$out" --quiet)
  [[ $kind == proofs ]] && cmd=(verify "models/$model.arch.json" --proofs-dir "$out")
  local rc=0
  timeout "$limit" "$bin/tkc" "${cmd[@]}" >/dev/null 2>"$out.log" || rc=$?
  echo "$rc" >"$out.rc"
}

mkdir -p "$work/a" "$work/b"
start=$SECONDS
for model in "${models[@]}"; do
  for kind in bundle proofs; do
    for side in a b; do
      while [[ $(jobs -rp | wc -l) -ge $jobs ]]; do wait -n || true; done
      run "$side" "$model" "$kind" &
    done
  done
done
wait

bad=0
for model in "${models[@]}"; do
  for kind in bundle proofs; do
    ran=1
    for side in a b; do
      rc=$(cat "$work/$side/$model.$kind.rc")
      if [[ $rc != 0 ]]; then
        bin=$([[ $side == a ]] && echo "$bin_a" || echo "$bin_b")
        echo "check-compilers: $bin/tkc on $model ($kind) exited $rc$([[ $rc == 124 ]] && echo " (over ${limit} s)"):" >&2
        tail -n 20 "$work/$side/$model.$kind.log" >&2
        bad=1 ran=0
      fi
    done
    [[ $ran == 1 ]] || continue
    if ! diff -rq "$work/a/$model.$kind" "$work/b/$model.$kind" >"$work/diff" 2>&1; then
      echo "check-compilers: $model $kind differs between $bin_a/tkc and $bin_b/tkc:" >&2
      sed -e "s|$work/a/|A: |g" -e "s|$work/b/|B: |g" "$work/diff" | head -n 20 >&2
      echo "  ($(wc -l <"$work/diff") files; A: $bin_a/tkc, B: $bin_b/tkc)" >&2
      bad=1
    else
      echo "ok $model $kind: $(find "$work/a/$model.$kind" -type f | wc -l) files identical"
    fi
  done
done
echo "check-compilers: $((SECONDS - start)) s"
exit $bad
