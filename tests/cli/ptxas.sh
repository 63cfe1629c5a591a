#!/usr/bin/env bash
# tests/cli/ptxas.sh — NVIDIA's assembler accepts the NVPTX half of a bundle: `tkc compile
# models/nano.arch.json --targets nvptx` gives model.sm_80.ptx and model.sm_90.ptx, each
# declaring `.target sm_XX`, which ptxas assembles for its sm. ptxas is looked for on PATH, in
# $CUDA_HOME/bin and $CUDA_PATH/bin, and where the CUDA toolkit installs it (/usr/local/cuda/bin,
# /opt/cuda/bin, Debian's /usr/lib/nvidia-cuda-toolkit/bin); with --gpu-schedule tiled (the
# nvidia tile set: tiles up to 16 x 128, K-slices of 32; docs/ir.md "Tiles per target"), ptxas
# -v reports nano's first GEMM launch, its LayerNorm + GELU as the epilogue, using one barrier
# and 20,480 bytes of shared memory (its x and W tiles, 16 x 32 and 32 x 128 floats, and the
# sums' tree, 4 x 128: a float per register row and thread), Tiny's first tiled GEMM launch
# one barrier and 18,432 bytes (16 x 32 and 32 x 128 floats), and its first norm launch (a
# workgroup of 256 threads per row: Tiny's 2,048 columns are too wide for an epilogue) one
# barrier and 1,024 bytes. Without ptxas the test exits 77, which ctest reports as skipped
# (SKIP_RETURN_CODE in gpu_bundle.cmake).
source "$(dirname "$0")/lib.sh"
ptxas=$(command -v ptxas)
for dir in ${CUDA_HOME:+"$CUDA_HOME/bin"} ${CUDA_PATH:+"$CUDA_PATH/bin"} /usr/local/cuda/bin /opt/cuda/bin \
  /usr/lib/nvidia-cuda-toolkit/bin; do
  [ -n "$ptxas" ] && break
  [ -x "$dir/ptxas" ] && ptxas=$dir/ptxas
done
[ -n "$ptxas" ] || {
  echo "SKIP: ptxas not found (PATH, \$CUDA_HOME/bin, \$CUDA_PATH/bin, /usr/local/cuda/bin, /opt/cuda/bin, /usr/lib/nvidia-cuda-toolkit/bin)"
  exit 77
}
echo "ptxas: $ptxas ($("$ptxas" --version 2>&1 | tail -1))"

"$BIN/tkc" compile models/nano.arch.json -o "$tmp/nano" --targets nvptx --quiet 2>"$tmp/err" ||
  { fail "tkc compile --targets nvptx: $(head -5 "$tmp/err")"; finish ptxas; }
for sm in sm_80 sm_90; do
  ptx=$tmp/nano/model.$sm.ptx
  grep -q "^\.target $sm\$" "$ptx" || fail "model.$sm.ptx lacks .target $sm"
  "$ptxas" -arch="$sm" "$ptx" -o "$tmp/$sm.cubin" 2>"$tmp/ptxas.err" ||
    fail "ptxas -arch=$sm model.$sm.ptx: $(head -5 "$tmp/ptxas.err")"
  [ -s "$tmp/$sm.cubin" ] || fail "ptxas wrote no $sm.cubin"
done
# the tiled schedule (--gpu-schedule tiled): shared memory and bar.sync, which ptxas counts
"$BIN/tkc" compile models/nano.arch.json -o "$tmp/tiled" --targets nvptx --cuda-arch sm_80 \
  --gpu-schedule tiled --quiet 2>"$tmp/err" || { fail "tkc compile --gpu-schedule tiled: $(head -5 "$tmp/err")"; finish ptxas; }
"$ptxas" -arch=sm_80 -v "$tmp/tiled/model.sm_80.ptx" -o "$tmp/tiled.cubin" 2>"$tmp/ptxas.v" ||
  fail "ptxas tiled model.sm_80.ptx: $(head -5 "$tmp/ptxas.v")"
uses() { # uses FILE KERNEL BYTES: ptxas -v says KERNEL uses one barrier and BYTES of shared memory
  grep -A3 "entry function '$2'" "$1" | grep -q "used 1 barriers, $3 bytes smem" ||
    fail "ptxas -v: $2 (tiled) does not use 1 barrier and $3 bytes of shared memory: $(grep -A3 "'$2'" "$1")"
}
uses "$tmp/ptxas.v" expert_0_in 20480
"$BIN/tkc" compile models/tiny.arch.json -o "$tmp/tiny" --targets nvptx --cuda-arch sm_80 \
  --gpu-schedule tiled --quiet 2>"$tmp/err" || { fail "tkc compile tiny --gpu-schedule tiled: $(head -5 "$tmp/err")"; finish ptxas; }
"$ptxas" -arch=sm_80 -v "$tmp/tiny/model.sm_80.ptx" -o "$tmp/tiny.cubin" 2>"$tmp/tiny.v" ||
  fail "ptxas tiled tiny model.sm_80.ptx: $(head -5 "$tmp/tiny.v")"
uses "$tmp/tiny.v" expert_0_in_gemm 18432
uses "$tmp/tiny.v" expert_0_in_norm 1024
finish ptxas
