#!/usr/bin/env bash
# scripts/artifact.sh [OUT_DIR] — regenerates every table and figure of the paper artifact
# (docs/ARTIFACT.md) with one command: obligations and proof times per model, compile times,
# code-object statistics, CPU speed against OpenBLAS, numerical conformance against the
# reference, and three figures (scripts/artifact_figures.py). Times come from this run on this
# machine, except figure 1's, which come from bench/forward's saved run ($TK_FORWARD_JSON,
# default bench/forward/results/forward.json); nothing here is committed.
set -euo pipefail
cd "$(dirname "$0")/.."
out=${1:-build/artifact}
mkdir -p "$out"
tables=$out/tables.md
forward_json=${TK_FORWARD_JSON:-bench/forward/results/forward.json}
export PYTHONDONTWRITEBYTECODE=1 # scripts/artifact_figures.py imports bench/forward/forward_plot.py: no __pycache__ there

# need_package PKG WHY: installs a Debian package the artifact needs beyond install-deps.sh,
# with apt's and dpkg's hundreds of lines in a log shown only on failure.
need_package() {
  dpkg-query -W -f='${Status}' "$1" 2>/dev/null | grep -q "ok installed" && return 0
  echo "artifact: installing $1 ($2)"
  local sudo="" log=$out/apt-$1.log
  [[ $(id -u) -eq 0 ]] || sudo=sudo
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends "$1" >"$log" 2>&1 ||
    { tail -n 20 "$log" >&2; echo "artifact: apt-get install $1 failed; the log is $log" >&2; exit 1; }
}

scripts/install-deps.sh
need_package libopenblas-dev "the bench baseline"
need_package python3-matplotlib "the figures"
scripts/build.sh build -DCMAKE_BUILD_TYPE=Release
cmake --build build --target gemm_cpu >/dev/null
bin=build/bin
models="nano tiny medium full dense custom-small"

{
  echo "# tkc artifact tables"
  echo
  echo "Machine: $(nproc) cores, $(sed -n 's/^model name\s*: //p' /proc/cpuinfo | head -1); $($bin/tkc --version)"
  echo
  echo "## Table 1 — obligations per class and total solver time (tkc verify)"
  echo
} >"$tables"
obligations=()
for m in $models; do
  $bin/tkc verify models/$m.arch.json --proofs-dir "$out/proofs/$m" >"$out/verify.$m.out" 2>"$out/verify.$m.err"
  obligations+=(--obligations "$m=$out/proofs/$m/index.json" --solver-log "$m=$out/verify.$m.err")
done
python3 scripts/artifact_figures.py obligations-table "${obligations[@]}" >>"$tables"

{
  echo
  echo "## Table 2 — compile time per stage (tkc compile, all default targets)"
  echo
  echo '```'
} >>"$tables"
bundles="nano custom-small dense tiny"
for m in $bundles; do
  echo "$m:" >>"$tables"
  $bin/tkc compile models/$m.arch.json -o "$out/bundles/$m" 2>"$out/compile.$m.err"
  sed 's/^/  /' "$out/compile.$m.err" >>"$tables"
done
echo '```' >>"$tables"

{
  echo
  echo "## Table 3 — code objects (nano bundle)"
  echo
  echo "| file | bytes |"
  echo "|---|---|"
  for f in "$out/bundles/nano"/model.*; do echo "| $(basename "$f") | $(stat -c %s "$f") |"; done
  echo
  echo "Static GPU figures of the nano bundle's kernels (docs/abi.md \"Static GPU figures\"): AMDGPU"
  echo "from the manifest (each code object's metadata, LLVM's occupancy); NVPTX from ptxas -v"
  echo "where ptxas is installed, with CUDA's occupancy formula."
  echo
} >>"$tables"
ptxas=$(command -v ptxas || ls /usr/local/cuda/bin/ptxas /usr/lib/nvidia-cuda-toolkit/bin/ptxas 2>/dev/null | head -1 || true)
python3 scripts/artifact_figures.py gpu-table --manifest "$out/bundles/nano/manifest.json" ${ptxas:+--ptxas "$ptxas"} >>"$tables"

{
  echo
  echo "## Table 4 — CPU GEMM layers against OpenBLAS (bench/gemm_cpu, same process)"
  echo
  echo '```'
  $bin/gemm_cpu 2>&1
  echo '```'
} >>"$tables"

{
  echo
  echo "## Table 5 — numerical conformance (tkrun on the CPU vs tkref, B = 100)"
  echo
  echo "| model | max abs diff | max rel diff | keep-sets equal |"
  echo "|---|---|---|---|"
} >>"$tables"
for m in nano custom-small dense; do
  in=$(sed -n 's/.*"input_dim": *\([0-9]*\).*/\1/p' models/$m.arch.json)
  $bin/tkc init-checkpoint models/$m.arch.json -o "$out/$m.tkp1" >/dev/null
  awk -v w="$in" 'BEGIN { printf "{\"features\": ["; for (r = 0; r < 100; r++) { printf "%s[", (r ? "," : "");
    for (i = 0; i < w; i++) printf "%s%.6f", (i ? "," : ""), sin(0.37 * (i + 1) * (r + 1)); printf "]" } print "]}" }' >"$out/req.$m.json"
  $bin/tkrun --bundle "$out/bundles/$m" --checkpoint "$out/$m.tkp1" --device cpu <"$out/req.$m.json" >"$out/got.$m.json" 2>/dev/null
  $bin/tkref --arch models/$m.arch.json --checkpoint "$out/$m.tkp1" <"$out/req.$m.json" >"$out/ref.$m.json"
  python3 - "$out/got.$m.json" "$out/ref.$m.json" "$m" >>"$tables" <<'PY'
import json, sys
g, r = (json.load(open(p)) for p in sys.argv[1:3])
pairs = [(a, b) for ra, rb in zip(g["logits"], r["logits"]) for a, b in zip(ra, rb)]
absd = max(abs(a - b) for a, b in pairs)
reld = max(abs(a - b) / max(abs(b), 1e-30) for a, b in pairs)
keep = all([w != 0 for w in ra] == [w != 0 for w in rb] for ra, rb in zip(g["router_weights"], r["router_weights"]))
print("| %s | %.3g | %.3g | %s |" % (sys.argv[3], absd, reld, "yes" if keep else "NO"))
PY
done
# The figures: Debian's python3-matplotlib is for Debian's python3, which may not be the first
# python3 on PATH (pyenv, a venv).
py=python3
"$py" -c 'import matplotlib' 2>/dev/null || py=/usr/bin/python3
figures=(--forward "$forward_json")
for m in $models; do figures+=(--obligations "$m=$out/proofs/$m/index.json"); done
for m in $bundles; do
  figures+=(--obligations "$m=$out/bundles/$m/manifest.json" --compile-log "$m=$out/compile.$m.err")
done
{
  echo
  echo "## Figures"
  echo
  "$py" scripts/artifact_figures.py draw --out "$out/figures" --link-base "$out" "${figures[@]}"
} >>"$tables"
echo "artifact: tables and figures written to $tables ($out/figures/*.png)"
