#!/usr/bin/env bash
# scripts/artifact.sh [OUT_DIR] — regenerates every table of the paper artifact (docs/ARTIFACT.md)
# with one command: obligations and proof times per model, compile times, code-object
# statistics, CPU speed against OpenBLAS, and numerical conformance against the reference.
# Times come from this run on this machine; nothing here is committed.
set -euo pipefail
cd "$(dirname "$0")/.."
out=${1:-build/artifact}
mkdir -p "$out"
tables=$out/tables.md

scripts/install-deps.sh
dpkg-query -W -f='${Status}' libopenblas-dev 2>/dev/null | grep -q "ok installed" ||
  { echo "artifact: installing libopenblas-dev (bench baseline)"; apt-get install -y -qq libopenblas-dev; }
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
  echo "| model | shape | padding | bounds | no_overflow | race | topk | dataflow | total | solver time |"
  echo "|---|---|---|---|---|---|---|---|---|---|"
} >"$tables"
for m in $models; do
  dir=$out/proofs/$m
  $bin/tkc verify models/$m.arch.json --proofs-dir "$dir" >"$out/verify.$m.out" 2>"$out/verify.$m.err"
  python3 - "$dir/index.json" "$out/verify.$m.err" "$m" >>"$tables" <<'PY'
import json, re, sys, collections
rep = json.load(open(sys.argv[1]))["obligations"]
c = collections.Counter(o["class"] for o in rep)
err = open(sys.argv[2]).read()
t = re.findall(r"solver time ([0-9.]+) s", err)
solver = (t[-1] + " s") if t else "see stderr"
cls = ["shape", "padding", "bounds", "no_overflow", "race", "topk", "dataflow"]
print("| %s | %s | %d | %s |" % (sys.argv[3], " | ".join(str(c[k]) for k in cls), len(rep), solver))
PY
done

{
  echo
  echo "## Table 2 — compile time per stage (tkc compile, all default targets)"
  echo
  echo '```'
} >>"$tables"
for m in nano custom-small dense tiny; do
  echo "$m:" >>"$tables"
  $bin/tkc compile models/$m.arch.json -o "$out/bundles/$m" 2>&1 | sed 's/^/  /' >>"$tables"
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
  echo "AMDGPU kernel resources per gfx (from llvm-readelf-19 --notes):"
  echo '```'
} >>"$tables"
tmpd=$(mktemp -d); trap 'rm -rf "$tmpd"' EXIT
for t in $(clang-offload-bundler-19 --list --type=o --input="$out/bundles/nano/model.hsaco" | grep hipv4); do
  clang-offload-bundler-19 --unbundle --type=o --input="$out/bundles/nano/model.hsaco" --targets="$t" --output="$tmpd/co"
  llvm-readelf-19 --notes "$tmpd/co" | awk -v t="$t" '/\.sgpr_count:/ {s=$2} /\.vgpr_count:/ {v=$2} /\.symbol:/ {n++; if (s>ms) ms=s; if (v>mv) mv=v}
    END {printf "%s: %d kernels, max SGPR %d, max VGPR %d\n", t, n, ms, mv}' >>"$tables"
done
echo '```' >>"$tables"

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
echo "artifact: tables written to $tables"
