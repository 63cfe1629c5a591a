#!/usr/bin/env bash
# bench/forward/qwen3.sh [--out DIR] [qwen3.py flags...] — the Qwen3-30B-A3B MoE block: tkc
# against PyTorch eager (the block as Hugging Face computes it) and ONNX Runtime (the same block
# as an ONNX graph, F32 only), F32 and BF16 weights
# (bench/README.md, "Qwen3-MoE block"; issue 16 item 6).
#
# Idempotent setup, then qwen3.py:
#   - bench/.venv (python3 -m venv): numpy; onnx and onnxruntime, and torch (TKB_NO_TORCH=1
#     skips), if pip can install them;
#   - the build directory ($TKB_BUILD, default build-bench; configured Release if new) with the
#     targets tkc, tk_forward and fwd_bound;
#   - under BUILD/bench-qwen3/: the random weights (2.4 GB F32 and 1.2 GB BF16 safetensors,
#     seed 0), the ONNX graph (2.4 GB of external data) and the bundle of
#     models/qwen3-30b-a3b/config.json, made once.
set -euo pipefail
root=$(cd "$(dirname "$0")/../.." && pwd)
build=${TKB_BUILD:-$root/build-bench}
venv=$root/bench/.venv
py=${PYTHON:-python3}
out=$root/bench/forward/results-qwen3
if [[ ${1:-} == --out ]]; then
  out=$2
  shift 2
fi

[[ -x $venv/bin/python ]] || "$py" -m venv "$venv"
"$venv/bin/python" -c 'import numpy' 2>/dev/null || "$venv/bin/pip" install -q numpy
if ! "$venv/bin/python" -c 'import onnx, onnxruntime' 2>/dev/null; then
  echo "bench/qwen3: pip install onnx onnxruntime" >&2
  "$venv/bin/pip" install -q onnx onnxruntime || echo "bench/qwen3: ONNX Runtime could not be installed; skipped" >&2
fi
torch_flag=()
if [[ ${TKB_NO_TORCH:-0} == 1 ]]; then
  torch_flag=(--no-torch)
elif ! "$venv/bin/python" -c 'import torch' 2>/dev/null; then
  echo "bench/qwen3: pip install torch (large; TKB_NO_TORCH=1 skips)" >&2
  "$venv/bin/pip" install -q torch || echo "bench/qwen3: torch could not be installed; skipped" >&2
fi
if [[ ! -f $build/CMakeCache.txt ]]; then
  gen=()
  command -v ninja >/dev/null && gen=(-G Ninja)
  cmake -S "$root" -B "$build" "${gen[@]}" -DCMAKE_BUILD_TYPE=Release >/dev/null
fi
nice cmake --build "$build" -j "$(nproc)" --target tkc tk_forward fwd_bound >/dev/null

export PYTHONDONTWRITEBYTECODE=1
exec "$venv/bin/python" "$root/bench/forward/qwen3.py" --build "$build" --work "$build/bench-qwen3" \
  --out "$out" --config "$root/models/qwen3-30b-a3b/config.json" "${torch_flag[@]}" "$@"
