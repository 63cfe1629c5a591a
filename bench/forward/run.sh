#!/usr/bin/env bash
# bench/forward/run.sh [--quick] [--out DIR] [bench.py flags...] — tkc against ONNX Runtime,
# PyTorch eager and C + OpenBLAS on nano, tiny and medium (bench/README.md, "forward").
#
# Idempotent setup, then bench.py:
#   - bench/.venv (python3 -m venv): numpy, onnx, onnxruntime, matplotlib; torch if pip can
#     install it (CPU use only; set TKB_NO_TORCH=1 to skip trying);
#   - the build directory ($TKB_BUILD, default build-bench; configured Release if new) with the
#     targets tkc, tk_forward, blas_forward and fwd_bound (libopenblas-dev is needed);
#   - checkpoints, bundles and ONNX graphs are made once under BUILD/bench-forward/.
set -euo pipefail
root=$(cd "$(dirname "$0")/../.." && pwd)
build=${TKB_BUILD:-$root/build-bench}
venv=$root/bench/.venv
py=${PYTHON:-python3}

if [[ ! -x $venv/bin/python ]]; then
  echo "bench/forward: creating $venv" >&2
  "$py" -m venv "$venv"
fi
if ! "$venv/bin/python" -c 'import numpy, onnx, onnxruntime, matplotlib' 2>/dev/null; then
  echo "bench/forward: pip install numpy onnx onnxruntime matplotlib" >&2
  "$venv/bin/pip" install -q numpy onnx onnxruntime matplotlib
fi
torch_flag=()
if [[ ${TKB_NO_TORCH:-0} == 1 ]]; then
  torch_flag=(--no-torch)
elif ! "$venv/bin/python" -c 'import torch' 2>/dev/null; then
  echo "bench/forward: pip install torch (large; TKB_NO_TORCH=1 skips)" >&2
  if ! "$venv/bin/pip" install -q torch; then
    echo "bench/forward: torch could not be installed; PyTorch is skipped" >&2
  fi
fi

if ! pkg-config --exists openblas; then
  echo "bench/forward: libopenblas-dev is missing (apt-get install libopenblas-dev)" >&2
  exit 1
fi
if [[ ! -f $build/CMakeCache.txt ]]; then
  gen=()
  command -v ninja >/dev/null && gen=(-G Ninja)
  cmake -S "$root" -B "$build" "${gen[@]}" -DCMAKE_BUILD_TYPE=Release >/dev/null
fi
nice cmake --build "$build" -j "$(nproc)" --target tkc tk_forward blas_forward fwd_bound >/dev/null

export PYTHONDONTWRITEBYTECODE=1 # no __pycache__ in the source tree
exec "$venv/bin/python" "$root/bench/forward/bench.py" --build "$build" "${torch_flag[@]}" "$@"
