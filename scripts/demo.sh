#!/usr/bin/env bash
# The README's demo: install, build, then the main job on the default model as far as it
# exists: validate models/nano.arch.json, make a checkpoint, and run the reference forward
# pass on a few rows.
set -euo pipefail
cd "$(dirname "$0")/.."

scripts/install-deps.sh
scripts/build.sh build -DCMAKE_BUILD_TYPE=Release

model=models/nano.arch.json
out=build/demo
mkdir -p "$out"

echo "== tkc check $model =="
build/bin/tkc check "$model"

echo "== tkc init-checkpoint =="
build/bin/tkc init-checkpoint "$model" -o "$out/nano.tkp1"
build/bin/tkc inspect-checkpoint "$out/nano.tkp1" --arch "$model" | tail -n 3

echo "== reference forward pass (tkref, double precision) on 2 rows =="
awk 'BEGIN { printf "{\"features\": ["
  for (r = 0; r < 2; r++) { printf "%s[", (r ? ", " : "")
    for (i = 0; i < 96; i++) printf "%s%.6f", (i ? ", " : ""), sin(0.1 * (i + 1) * (r + 1))
    printf "]" }
  print "]}" }' > "$out/request.json"
build/bin/tkref --arch "$model" --checkpoint "$out/nano.tkp1" < "$out/request.json"
