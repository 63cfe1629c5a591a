#!/usr/bin/env bash
# scripts/gpu-check.sh — the one prepared GPU check (issue 17; bench/README.md "GPU check").
# A lent GPU machine has CUDA and PyTorch but not tkc's toolchain (LLVM 19, Z3) and no network,
# so the check comes in two halves:
#
#   scripts/gpu-check.sh prepare [DIR] [--models nano,tiny]
#       here (installs the Debian packages it needs, builds Release in $TK_BUILD_DIR, default
#       build-gpu-check): compiles nano and tiny with every target, once per GPU schedule
#       (--gpu-schedule simple and tiled), writes inputs at
#       B in {1, 16, 256, 1024} and tests/ref's logits for them, and copies tk_forward and
#       tk_init_checkpoint with their shared libraries into DIR (default gpu-check/, ignored
#       by git; about 40 MiB, so it travels with the working tree).
#   scripts/gpu-check.sh run [DIR] [--out OUT] [--device auto|cuda|hip|cpu] [gpu_check.py flags]
#       on the GPU machine, in a few minutes: the forward on the GPU backend (both schedules),
#       the CPU backend and PyTorch eager on the GPU (if present), each checked against
#       tests/ref and timed;
#       OUT/gpu-check.md and OUT/gpu-check.json (OUT default DIR/report). Exit 0 all agree,
#       1 a disagreement or failure, 3 no GPU (`--device cpu` is the dry run CI does).
#
# With a lent device (docs: the `device` tool), after `prepare`:
#   run(command="scripts/gpu-check.sh run gpu-check --out $OUT", carry=["gpu-check"])
set -euo pipefail
cd "$(dirname "$0")/.."
mode=${1:-}
case $mode in
  prepare | run) shift ;;
  -h | --help) sed -n '2,21p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
  *) echo "usage: scripts/gpu-check.sh prepare|run [DIR] [options] (--help)" >&2; exit 2 ;;
esac
dir=gpu-check
if [[ $# -gt 0 && $1 != -* ]]; then dir=$1; shift; fi
export PYTHONDONTWRITEBYTECODE=1 # bench/forward's modules are imported: no __pycache__ there
py=${PYTHON:-python3}
# Debian's python3-numpy (scripts/install-deps.sh) is for Debian's python3, which may not be
# the first python3 on PATH (pyenv, a venv); a GPU machine's python3 has numpy and PyTorch.
"$py" -c 'import numpy' 2>/dev/null || py=/usr/bin/python3

if [[ $mode == prepare ]]; then
  build=${TK_BUILD_DIR:-build-gpu-check}
  if [[ -z ${TK_BUILD_DIR:-} ]]; then
    scripts/install-deps.sh
    scripts/build.sh "$build" -DCMAKE_BUILD_TYPE=Release
  fi
  cmake --build "$build" --target tk_forward tk_init_checkpoint >/dev/null
  exec "$py" bench/gpu/gpu_check.py prepare --dir "$dir" --build "$build" "$@"
fi
out=$dir/report
args=()
while [[ $# -gt 0 ]]; do
  if [[ $1 == --out ]]; then out=$2; shift 2; else args+=("$1"); shift; fi
done
exec "$py" bench/gpu/gpu_check.py run --dir "$dir" --out "$out" "${args[@]}"
