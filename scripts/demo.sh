#!/usr/bin/env bash
# The README's demo: on a fresh machine, install what is missing, build, compile the default
# model (models/nano.arch.json) into a bundle for every target, make a checkpoint, and answer
# a few rows with tkrun on the best available device — then judge its answer against the
# independent double-precision reference (tkref --compare: max difference, PASS or FAIL).
set -euo pipefail
cd "$(dirname "$0")/.."

scripts/install-deps.sh
scripts/build.sh build -DCMAKE_BUILD_TYPE=Release

model=models/nano.arch.json
out=build/demo
bundle=$out/nano.bundle
mkdir -p "$out"

echo "== 1. validate the arch: tkc check $model =="
build/bin/tkc check "$model" | grep -E '^(canonical|fingerprint|total|weights)'

echo "== 2. compile: tkc compile $model -o $bundle (verify, codegen, host stub) =="
build/bin/tkc compile "$model" -o "$bundle"
ls -l "$bundle"

echo "== 3. a checkpoint with deterministic random weights =="
build/bin/tkc init-checkpoint "$model" -o "$out/nano.tkp1"

echo "== 4. three rows through tkrun (device auto) =="
awk 'BEGIN { printf "{\"features\": ["
  for (r = 0; r < 3; r++) { printf "%s[", (r ? ", " : "")
    for (i = 0; i < 96; i++) printf "%s%.6f", (i ? ", " : ""), sin(0.1 * (i + 1) * (r + 1))
    printf "]" }
  print "]}" }' > "$out/request.json"
build/bin/tkrun --bundle "$bundle" --checkpoint "$out/nano.tkp1" --device auto \
  < "$out/request.json" | tee "$out/response.json"

echo "== 5. tkrun's answer judged against the double-precision reference (tkref --compare) =="
build/bin/tkref --arch "$model" --checkpoint "$out/nano.tkp1" --compare "$out/response.json" \
  < "$out/request.json"

echo
echo "bundle:      $bundle (manifest.json lists its targets and kernels)"
if [ -f "$bundle/model.hsaco" ]; then
  echo "AMDGPU code: $bundle/model.hsaco (clang offload bundle; hipModuleLoadData loads it)"
fi
echo "proofs:      $bundle/proofs/"
