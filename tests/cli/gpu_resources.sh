#!/usr/bin/env bash
# tests/cli/gpu_resources.sh — static GPU figures (issue 17 item 5, codegen/gpu_resources.h):
#   1. the oracle (gpu_resources.py): on generated kernels for every gfx tkc accepts, the
#      metadata reader agrees with llvm-readelf-19 and the occupancy with llc-19's own;
#   2. nano's bundle: each amdgcn target's manifest "kernels" are its code object's kernels
#      (unbundled from model.hsaco) with llvm-readelf-19's registers, LDS and scratch, and the
#      occupancy gpu_resources_dump computes for that gfx;
#   3. nano's GEMM launches state their arithmetic intensity (2 FLOPs per 8 bytes), and
#      scripts/artifact.sh's table shows these figures;
#   4. a code object cut short or with its note corrupted is an error (exit 1), never a crash.
source "$(dirname "$0")/lib.sh"
dump=${TK_BUILD_DIR:-build}/tests/gpu_resources_dump
for tool in llc-19 ld.lld-19 llvm-readelf-19 clang-offload-bundler-19; do
  command -v "$tool" >/dev/null || { fail "$tool not found (scripts/install-deps.sh installs it)"; finish gpu_resources; }
done
python3 tests/cli/gpu_resources.py "$dump" >"$tmp/oracle.out" 2>&1 || fail "oracle: $(grep -E 'DIFF|Error|error' "$tmp/oracle.out" | head -5)"
tail -1 "$tmp/oracle.out"

"$BIN/tkc" compile models/nano.arch.json -o "$tmp/nano" --targets amdgcn,nvptx --quiet 2>"$tmp/err" ||
  { fail "tkc compile --targets amdgcn,nvptx: $(head -3 "$tmp/err")"; finish gpu_resources; }
for id in $(clang-offload-bundler-19 --list --type=o --input="$tmp/nano/model.hsaco" | grep hipv4); do
  gfx=${id##*--}
  clang-offload-bundler-19 --unbundle --type=o --input="$tmp/nano/model.hsaco" --targets="$id" --output="$tmp/$gfx.co"
  llvm-readelf-19 --notes "$tmp/$gfx.co" >"$tmp/$gfx.notes"
  "$dump" "$gfx" "$tmp/$gfx.co" >"$tmp/$gfx.dump" || fail "gpu_resources_dump $gfx: exit $?"
  python3 - "$tmp/nano/manifest.json" "$gfx" "$tmp/$gfx.notes" "$tmp/$gfx.dump" <<'PY' || fail "$gfx: the manifest's kernels differ"
import json, re, sys
manifest, gfx, notes_path, dump_path = sys.argv[1:]
entry = [t for t in json.load(open(manifest))["targets"] if t.get("arch") == gfx][0]
mine = {k["name"]: k for k in entry["kernels"]}
notes, cur = {}, None
for line in open(notes_path):
    m = re.match(r"^(?:  - |    )\.(\w+):\s*(\S*)", line)
    if m:
        if line.startswith("  - "):
            cur = {}
        cur[m.group(1)] = m.group(2)
        if m.group(1) == "name":
            notes[m.group(2)] = cur
dump = {l.split()[0]: dict(x.split("=") for x in l.split()[1:]) for l in open(dump_path)}
gpu_kernels = {k["name"] for k in json.load(open(manifest))["kernels"]}
bad = []
if set(mine) != set(notes) or set(mine) != gpu_kernels:
    bad.append(f"kernel names: manifest {len(mine)}, notes {len(notes)}, GPU schedule {len(gpu_kernels)}")
pairs = [("sgpr", "sgpr_count"), ("vgpr", "vgpr_count"), ("agpr", "agpr_count"),
         ("lds_bytes", "group_segment_fixed_size"), ("scratch_bytes", "private_segment_fixed_size"),
         ("wavefront_size", "wavefront_size")]
for name, k in mine.items():
    for ours, theirs in pairs:
        if str(k[ours]) != notes.get(name, {}).get(theirs, "0"):
            bad.append(f"{name}.{ours} = {k[ours]}, llvm-readelf .{theirs} = {notes.get(name, {}).get(theirs)}")
    if str(k["waves_per_simd"]) != dump[name]["occupancy"] or k["limited_by"] != dump[name]["limited_by"]:
        bad.append(f"{name}: waves_per_simd {k['waves_per_simd']} ({k['limited_by']}), computed {dump[name]}")
for b in bad[:10]:
    print(f"{gfx}: {b}")
print(f"{gfx}: {len(mine)} kernels, {len(bad)} differences")
sys.exit(1 if bad else 0)
PY
done
[ -s "$tmp/gfx90a.co" ] || fail "model.hsaco has no gfx90a code object"

# The GEMM launches' arithmetic intensity: the simple schedule computes one output per thread,
# so each reduction step is one fma on two f32 loads (2 FLOPs, 8 bytes); every *_gemm launch
# of nano (4 experts x 3 layers) must say so, and no launch may claim more reuse than that.
python3 - "$tmp/nano/manifest.json" <<'PY' || fail "intensity of the GEMM launches"
import json, sys
ks = json.load(open(sys.argv[1]))["kernels"]
gemm = [k for k in ks if k["name"].endswith("_gemm")]
bad = [k["name"] for k in gemm if k.get("intensity") != {"flops": 2, "bytes": 8}]
bad += [k["name"] for k in ks if "intensity" in k and 4 * k["intensity"]["flops"] != k["intensity"]["bytes"]]
if len(gemm) != 12 or bad:
    print(f"{len(gemm)} *_gemm launches (expected 12); wrong intensity: {bad}")
    sys.exit(1)
PY

# scripts/artifact.sh's table of them (nano's 39 launches: router, dispatch, per expert a gather,
# three GEMM + norm pairs, its head and a scatter, and the combine): one row per gfx with the
# manifest's largest figures, and (where ptxas is installed) one per sm with ptxas -v's
# largest register count; CUDA's occupancy formula on cases worked by hand (registers per warp
# rounded to 256, 64K per SM, at most 64 warps and 32 blocks).
export PYTHONDONTWRITEBYTECODE=1
ptxas=$(command -v ptxas || ls /usr/local/cuda/bin/ptxas /usr/lib/nvidia-cuda-toolkit/bin/ptxas 2>/dev/null | head -1)
python3 scripts/artifact_figures.py gpu-table --manifest "$tmp/nano/manifest.json" ${ptxas:+--ptxas "$ptxas"} \
  >"$tmp/table.md" 2>"$tmp/table.err" || fail "gpu-table: $(cat "$tmp/table.err")"
for gfx in gfx90a gfx942 gfx1100; do
  vgpr=$(python3 -c "import json,sys; t=[t for t in json.load(open(sys.argv[1]))['targets'] if t.get('arch')==sys.argv[2]][0]; print(max(k['vgpr'] for k in t['kernels']))" "$tmp/nano/manifest.json" "$gfx")
  grep -qE "^\| $gfx \| 39 \| [0-9]+ \| $vgpr \| 0 \| 0 \| [0-9]+–[0-9]+ waves/SIMD" "$tmp/table.md" ||
    fail "gpu-table: no $gfx row with 39 kernels and max VGPR $vgpr: $(cat "$tmp/table.md")"
done
if [ -n "$ptxas" ]; then
  regs=$("$ptxas" -v -arch=sm_90 "$tmp/nano/model.sm_90.ptx" -o /dev/null 2>&1 | sed -n 's/.*Used \([0-9]*\) registers.*/\1/p' | sort -n | tail -1)
  grep -qE "^\| sm_90 \(ptxas -v\) \| 39 \| — \| $regs registers/thread" "$tmp/table.md" ||
    fail "gpu-table: no sm_90 row with ptxas's $regs registers: $(cat "$tmp/table.md")"
fi
python3 - <<'PY' || fail "CUDA occupancy formula"
import sys
sys.path.insert(0, "scripts")
from artifact_figures import cuda_warps_per_sm
cases = {(32, 256): 64, (40, 256): 48, (64, 128): 32, (255, 32): 8, (16, 32): 32, (128, 1024): 0, (96, 64): 20}
bad = {c: cuda_warps_per_sm(*c) for c, want in cases.items() if cuda_warps_per_sm(*c) != want}
print("CUDA occupancy: wrong for", bad) if bad else None
sys.exit(1 if bad else 0)
PY

# Malformed code objects: every prefix length class, and bytes flipped inside the note.
co=$tmp/gfx90a.co
size=$(stat -c %s "$co")
for cut in 0 1 16 63 64 200 $((size / 2)) $((size - 1)); do
  head -c "$cut" "$co" >"$tmp/cut.co"
  "$dump" gfx90a "$tmp/cut.co" >/dev/null 2>"$tmp/cut.err"
  rc=$?
  [ "$rc" -eq 1 ] || fail "a code object cut to $cut bytes: exit $rc, expected 1 ($(head -c 200 "$tmp/cut.err"))"
done
note_at=$(grep -abo 'AMDGPU' "$co" | head -1 | cut -d: -f1)
for delta in 8 12 40 200 900; do
  cp "$co" "$tmp/flip.co"
  printf '\xff\xff\xff\xff' | dd of="$tmp/flip.co" bs=1 seek=$((note_at + delta)) conv=notrunc status=none
  "$dump" gfx90a "$tmp/flip.co" >/dev/null 2>"$tmp/flip.err"
  rc=$?
  [ "$rc" -le 1 ] || fail "a note with 4 bytes flipped at +$delta: exit $rc ($(head -c 200 "$tmp/flip.err"))"
done
"$dump" gfx9999 "$co" >/dev/null 2>"$tmp/gfx.err" && fail "an unknown gfx was accepted"
grep -q "no limits for 'gfx9999'" "$tmp/gfx.err" || fail "an unknown gfx: $(cat "$tmp/gfx.err")"
finish gpu_resources
