#!/usr/bin/env bash
# tests/cli/gpu_bundle.sh — the GPU half of a bundle (issue 7), checked without a GPU by tools
# that are not tkc: `tkc compile models/nano.arch.json` with the default targets gives
# - model.hsaco that clang-offload-bundler-19 lists (host + gfx90a, gfx942, gfx1100) and
#   unbundles, byte-identical to what the bundler itself writes from the same code objects;
# - per gfx an ET_DYN EM_AMDGPU code object whose ELF ABI version is the manifest's code-object
#   version (COV4 → 2, COV5 → 3) and whose `llvm-readelf-19 --notes` metadata lists exactly the
#   manifest's kernels (`.symbol` NAME.kd) with the manifest's kernarg_size, workgroup_size
#   (.max_flat_workgroup_size) and argument names/offsets/sizes, for amdgcn-amd-amdhsa--gfxN;
# - comgr (what HIP 5.2 vets code objects with) reads the gfx90a COV4 object as
#   amdgcn-amd-amdhsa--gfx90a;
# - byte-identical GPU code from a second compile into another directory;
# - --code-object-version 5 overriding gfx90a's default; bad --offload-arch, --cuda-arch and
#   --code-object-version values rejected, leaving no output;
# - `--emit=asm --targets nvptx --cuda-arch sm_90` printing exactly model.sm_90.ptx, and
#   `--emit=llvm --targets amdgcn` printing amdgpu_kernel definitions with the attributes;
# - with --gpu-schedule tiled, expert_0_in (the first GEMM, its LayerNorm + GELU the epilogue)
#   using 11,264 bytes of LDS in the gfx90a code object (.group_segment_fixed_size) and in every
#   gfx's manifest entry: x and W tiles of 16 x 16 and 16 x 128 floats, the sums' tree 4 x 128;
#   its tile of whole rows and its intensity in the manifest; gfx1100 in the rdna tile set:
#   its own code object (model.gpu-rdna.hsaco), stub and proof store, listed in the manifest.
set -uo pipefail
tkc="${TKC:-${TK_BIN:?TK_BIN not set}/tkc}"
models="${TK_SOURCE_DIR:?TK_SOURCE_DIR not set}/models"
comgr="${TK_BUILD_DIR:?TK_BUILD_DIR not set}/tests/comgr_isa"
bundler=clang-offload-bundler-19
readelf=llvm-readelf-19
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
failures=0
skipped=0 # a check that could not run: the test then reports itself skipped (exit 77), not passed
GFX="gfx90a gfx942 gfx1100"

check() {
  local what=$1
  shift
  if "$@"; then echo "ok   $what"; else echo "FAIL $what"; failures=$((failures + 1)); fi
}
run() { # run WANT_RC CMD...: stdout/stderr in $tmp/out, $tmp/err
  local want=$1
  shift
  "$@" >"$tmp/out" 2>"$tmp/err"
  local rc=$?
  if [ "$want" = nonzero ] && [ "$rc" -ne 0 ]; then return 0; fi
  [ "$rc" = "$want" ] || { echo "  '$*' exited $rc, expected $want:" && head -5 "$tmp/err"; return 1; }
}

a="$tmp/a/nano"
run 0 "$tkc" compile "$models/nano.arch.json" -o "$a" --quiet || { echo "FAIL compile"; exit 1; }
manifest="$a/manifest.json"

files_present() {
  local f
  for f in model.hsaco model.sm_80.ptx model.sm_90.ptx model.x86_64.so model.x86_64.x86-64-v4.so \
    model_host.x86-64-v4.so manifest.json; do
    [ -s "$a/$f" ] || { echo "  missing $f"; return 1; }
  done
}
check "default targets give model.hsaco, model.sm_80.ptx, model.sm_90.ptx, model.x86_64.so (and its x86-64-v4 level)" files_present

listed() {
  "$bundler" --list --type=o --input="$a/model.hsaco" | sort >"$tmp/list" || return 1
  printf '%s\n' host-x86_64-unknown-linux-gnu- hipv4-amdgcn-amd-amdhsa--gfx90a \
    hipv4-amdgcn-amd-amdhsa--gfx942 hipv4-amdgcn-amd-amdhsa--gfx1100 | sort >"$tmp/want"
  diff "$tmp/want" "$tmp/list"
}
check "clang-offload-bundler-19 --list lists the host and every gfx target" listed

unbundle() {
  local g
  for g in $GFX; do
    "$bundler" --unbundle --type=o --input="$a/model.hsaco" \
      --targets="hipv4-amdgcn-amd-amdhsa--$g" --output="$tmp/$g.co" || return 1
    [ -s "$tmp/$g.co" ] || { echo "  empty $g.co"; return 1; }
  done
}
check "clang-offload-bundler-19 --unbundle extracts every gfx code object" unbundle

same_as_bundler() {
  : >"$tmp/host.empty"
  local targets=host-x86_64-unknown-linux-gnu inputs=(--input="$tmp/host.empty") g
  for g in $GFX; do
    targets="$targets,hipv4-amdgcn-amd-amdhsa--$g"
    inputs+=(--input="$tmp/$g.co")
  done
  "$bundler" --type=o --bundle-align=4096 --targets="$targets" "${inputs[@]}" \
    --output="$tmp/ref.hsaco" && cmp "$tmp/ref.hsaco" "$a/model.hsaco"
}
check "model.hsaco is byte-identical to clang-offload-bundler-19 --bundle-align=4096's" same_as_bundler

# notes_match GFX CODE_OBJECT: the AMDGPU metadata against the manifest.
notes_match() {
  local g=$1 co=$2
  "$readelf" --notes "$co" >"$tmp/$g.notes" || return 1
  python3 - "$tmp/$g.notes" "$manifest" "$g" <<'PY'
import json, re, sys
lines = open(sys.argv[1]).read().splitlines()
man = json.load(open(sys.argv[2]))
gfx = sys.argv[3]
kernels, cur, arg, target, in_kernels = [], None, None, None, False
for line in lines:
    if re.match(r'^\S', line):
        in_kernels = line.startswith('amdhsa.kernels:')
        cur = None
        m = re.match(r'^amdhsa\.target:\s+(\S+)', line)
        if m: target = m.group(1)
        continue
    if not in_kernels: continue
    m = re.match(r'^  - \.', line)
    if m: cur, arg = {'args': []}, None; kernels.append(cur)
    m = re.match(r'^(?:  - |    )\.(\w+):\s*(.*)$', line)
    if m and cur is not None and m.group(1) != 'args': cur[m.group(1)] = m.group(2).strip()
    m = re.match(r'^      - \.', line)
    if m and cur is not None: arg = {}; cur['args'].append(arg)
    m = re.match(r'^(?:      - |        )\.(\w+):\s*(.*)$', line)
    if m and arg is not None: arg[m.group(1)] = m.group(2).strip()
bad = []
if target != 'amdgcn-amd-amdhsa--' + gfx: bad.append('amdhsa.target %s' % target)
got = {k.get('symbol'): k for k in kernels}
want = {k['name'] + '.kd': k for k in man['kernels']}
if set(got) != set(want):
    bad.append('symbols differ: only in notes %s, only in manifest %s'
               % (sorted(set(got) - set(want))[:5], sorted(set(want) - set(got))[:5]))
for sym in sorted(set(got) & set(want)):
    g, w = got[sym], want[sym]
    if int(g.get('kernarg_segment_size', -1)) != w['kernarg_size']:
        bad.append('%s kernarg_segment_size %s, manifest %d' % (sym, g.get('kernarg_segment_size'), w['kernarg_size']))
    if int(g.get('max_flat_workgroup_size', -1)) != w['workgroup_size']:
        bad.append('%s max_flat_workgroup_size %s, manifest %d' % (sym, g.get('max_flat_workgroup_size'), w['workgroup_size']))
    ga = [(x.get('name'), int(x.get('offset', -1)), int(x.get('size', -1))) for x in g['args']]
    wa = [(x['name'], x['offset'], x['size']) for x in w['args']]
    if ga != wa: bad.append('%s args %s, manifest %s' % (sym, ga[:3], wa[:3]))
for b in bad[:10]: print('  ' + gfx + ': ' + b)
sys.exit(1 if bad or not kernels else 0)
PY
}

# header_ok GFX CODE_OBJECT COV: ET_DYN, EM_AMDGPU, ELF ABI version COV - 2.
header_ok() {
  local g=$1 co=$2 cov=$3
  "$readelf" -h "$co" >"$tmp/$g.h" || return 1
  grep -qE 'Type:[[:space:]]+DYN' "$tmp/$g.h" && grep -qE 'Machine:[[:space:]]+EM_AMDGPU' "$tmp/$g.h" &&
    grep -qE "ABI Version:[[:space:]]+$((cov - 2))\$" "$tmp/$g.h" ||
    { echo "  $g: expected DYN, EM_AMDGPU, ABI version $((cov - 2)):" && grep -E 'Type|Machine|ABI' "$tmp/$g.h"; return 1; }
}

manifest_cov() { # manifest_cov GFX: the manifest's code_object_version for it
  python3 -c "import json,sys; print([t['code_object_version'] for t in json.load(open(sys.argv[1]))['targets'] if t['kind']=='amdgcn' and t['arch']==sys.argv[2]][0])" "$1" "$2"
}

for g in $GFX; do
  cov=$(manifest_cov "$manifest" "$g" 2>/dev/null)
  check "$g: ET_DYN AMDGPU code object with the manifest's COV (${cov:-none})" header_ok "$g" "$tmp/$g.co" "${cov:-0}"
  check "$g: --notes metadata lists exactly the manifest's kernels, kernarg sizes, workgroup sizes, args" notes_match "$g" "$tmp/$g.co"
done

manifest_targets() {
  python3 - "$manifest" "$a" <<'PY'
import hashlib, json, sys
m = json.load(open(sys.argv[1])); d = sys.argv[2]
got = [(t['kind'], t.get('arch') or t.get('cpu'), t.get('code_object_version'), t['file']) for t in m['targets']]
want = [('amdgcn', 'gfx90a', 4, 'model.hsaco'), ('amdgcn', 'gfx942', 5, 'model.hsaco'),
        ('amdgcn', 'gfx1100', 5, 'model.hsaco'), ('nvptx', 'sm_80', None, 'model.sm_80.ptx'),
        ('nvptx', 'sm_90', None, 'model.sm_90.ptx'), ('x86_64', 'x86-64-v3', None, 'model.x86_64.so'),
        ('x86_64', 'x86-64-v4', None, 'model.x86_64.x86-64-v4.so')]
ok = got == want
for t in m['targets']:
    h = hashlib.sha256(open(d + '/' + t['file'], 'rb').read()).hexdigest()
    if h != t['sha256']: print('  sha256 of', t['file'], 'differs'); ok = False
if got != want: print('  targets', got)
sys.exit(0 if ok else 1)
PY
}
check "manifest targets: amdgcn gfx90a cov4, gfx942/gfx1100 cov5, nvptx sm_80/sm_90, x86_64, with sha256" manifest_targets

comgr_ok() {
  [ -x "$comgr" ] || { echo "  skipped: comgr_isa not built (no libamd_comgr / amd_comgr.h)"; skipped=1; return 0; }
  run 0 "$comgr" "$tmp/gfx90a.co" || { cat "$tmp/out"; return 1; }
  [ "$(cat "$tmp/out")" = amdgcn-amd-amdhsa--gfx90a ] || { echo "  comgr said: $(cat "$tmp/out")"; return 1; }
}
check "comgr accepts the gfx90a COV4 object as amdgcn-amd-amdhsa--gfx90a" comgr_ok

# Code objects carry the arch fingerprint (docs/abi.md): nano's is 5b1dcdefd9f56a7c (formats.md §1.4).
carries_fingerprint() {
  local f
  for f in model.sm_80.ptx model.sm_90.ptx; do
    grep -qx "// tk_model_fingerprint 5b1dcdefd9f56a7c" "$a/$f" || { echo "  $f lacks the line"; return 1; }
  done
  nm -D "$a/model.x86_64.so" | grep -q " R tk_model_fingerprint$" || { echo "  no tk_model_fingerprint in model.x86_64.so"; return 1; }
  local n
  n=$(grep -ao "tk_model_fingerprint=[0-9a-f]*" "$a/model.hsaco" | grep -cx "tk_model_fingerprint=5b1dcdefd9f56a7c")
  [ "$n" = 3 ] || { echo "  model.hsaco: $n of its 3 code objects carry the fingerprint bytes"; return 1; }
}
check "the PTX files, model.hsaco's code objects and model.x86_64.so carry nano's arch fingerprint" carries_fingerprint

# The GPU half only: tkc_compile.sh compares two x86_64 bundles, and scripts/check-compilers.sh
# whole default ones from two builds.
deterministic() {
  local d=$tmp/b/elsewhere/nano-2 f
  run 0 "$tkc" compile "$models/nano.arch.json" -o "$d" --quiet --targets amdgcn,nvptx || return 1
  for f in model.hsaco model.sm_80.ptx model.sm_90.ptx; do cmp "$a/$f" "$d/$f" || return 1; done
}
check "a second compile into another directory gives byte-identical GPU code" deterministic

cov5_override() {
  local d="$tmp/cov5"
  run 0 "$tkc" compile "$models/nano.arch.json" -o "$d" --quiet --targets amdgcn \
    --offload-arch gfx90a --code-object-version 5 || return 1
  [ "$(manifest_cov "$d/manifest.json" gfx90a)" = 5 ] || { echo "  manifest COV is not 5"; return 1; }
  "$bundler" --unbundle --type=o --input="$d/model.hsaco" --targets=hipv4-amdgcn-amd-amdhsa--gfx90a \
    --output="$tmp/cov5.co" && header_ok gfx90a-cov5 "$tmp/cov5.co" 5
}
check "--code-object-version 5 overrides gfx90a's default (manifest and ELF ABI version 3)" cov5_override

emit_text() {
  run 0 "$tkc" compile "$models/nano.arch.json" --emit=asm --targets nvptx --cuda-arch sm_90 &&
    cmp "$tmp/out" "$a/model.sm_90.ptx" || return 1
  run 0 "$tkc" compile "$models/nano.arch.json" --emit=llvm --targets amdgcn --offload-arch gfx942 &&
    grep -q 'define amdgpu_kernel void @router(' "$tmp/out" && grep -q '"amdgpu-no-implicitarg-ptr"' "$tmp/out" &&
    grep -q '"amdhsa_code_object_version", i32 500}' "$tmp/out" ||
    { echo "  --emit=llvm lacks the amdgpu kernel, its attributes or the COV5 module flag"; return 1; }
  run 2 "$tkc" compile "$models/nano.arch.json" --emit=asm && grep -qF "give one target" "$tmp/err"
}
check "--emit=asm/llvm --targets T: the bundle's PTX, amdgpu_kernel IR; several targets are a usage error" emit_text

tiled_lds() { # --gpu-schedule tiled: LDS in the code objects, the tile in the manifest
  local d=$tmp/tiled
  run 0 "$tkc" compile "$models/nano.arch.json" -o "$d" --quiet --targets amdgcn --gpu-schedule tiled || return 1
  python3 - "$d/manifest.json" <<'PY' || return 1
import json, sys
m = json.load(open(sys.argv[1]))
assert m["certificate"]["options"].get("gpu_schedule") == "tiled", "certificate lacks gpu_schedule"
k = next(k for k in m["kernels"] if k["name"] == "expert_0_in")
assert k["tile"] == {"rows": 16, "cols": 128, "reg_rows": 4, "reg_cols": 4, "kslice": 16}, k
assert k["intensity"] == {"flops": 2 * 16 * 128 * 16, "bytes": 4 * (16 * 16 + 16 * 128)}, k
assert k["workgroup_size"] == 128 and k["grid"] == "Bp div 16", k
assert not any(k["name"].endswith("_norm") for k in m["kernels"]), "a norm launch of its own"
for t in (t for t in m["targets"] if t.get("kind") == "amdgcn"):
    r = next(r for r in t["kernels"] if r["name"] == "expert_0_in")
    assert r["lds_bytes"] == 4 * (16 * 16 + 16 * 128 + 4 * 128), (t["arch"], r)
# tile sets (docs/abi.md "GPU tile sets"): gfx90a and gfx942 are the module's (cdna); gfx1100's
# set (rdna) has its own code object, stub and proof store
assert m["gpu_tiles"] == "cdna", m.get("gpu_tiles")
sets = {t["arch"]: t for t in m["targets"] if t["kind"] == "amdgcn"}
assert [sets[a]["tile_set"] for a in ("gfx90a", "gfx942", "gfx1100")] == ["cdna", "cdna", "rdna"]
assert "host_stub" not in sets["gfx90a"] and sets["gfx90a"]["file"] == "model.hsaco"
rdna = sets["gfx1100"]
assert rdna["file"] == "model.gpu-rdna.hsaco", rdna["file"]
assert rdna["host_stub"]["library"]["file"] == "model_host.gpu-rdna.so", rdna["host_stub"]
assert [s["name"] for s in m["gpu_tile_sets"]] == ["rdna"], m["gpu_tile_sets"]
cert = m["certificate"]["gpu_tile_sets"]
assert [(c["tile_set"], c["proofs"]) for c in cert] == [("rdna", "proofs/gpu-rdna")], cert
assert cert[0]["obligations"] > 0
PY
  [ -f "$d/proofs/gpu-rdna/index.json" ] || { echo "  no proofs/gpu-rdna/index.json"; return 1; }
  "$bundler" --list --type=o --input="$d/model.gpu-rdna.hsaco" | grep -qx "hipv4-amdgcn-amd-amdhsa--gfx1100" ||
    { echo "  model.gpu-rdna.hsaco does not hold gfx1100"; return 1; }
  "$bundler" --unbundle --type=o --input="$d/model.hsaco" --targets=hipv4-amdgcn-amd-amdhsa--gfx90a \
    --output="$tmp/tiled.co" || return 1
  "$readelf" --notes "$tmp/tiled.co" | grep -B12 "\.name: *expert_0_in$" | grep -q "\.group_segment_fixed_size: 11264" ||
    { echo "  gfx90a: expert_0_in's .group_segment_fixed_size is not 11264"; return 1; }
}
check "--gpu-schedule tiled: LDS per code object (readelf), the tile and its intensity in the manifest" tiled_lds

rejected() { # rejected NEEDLE ARGS...: tkc compile fails naming NEEDLE and writes nothing
  local needle=$1
  shift
  run nonzero "$tkc" compile "$models/nano.arch.json" -o "$tmp/bad" --quiet "$@" || return 1
  grep -qF -- "$needle" "$tmp/err" || { echo "  stderr lacks '$needle':" && head -3 "$tmp/err"; return 1; }
  [ ! -e "$tmp/bad" ] || { echo "  $tmp/bad was created"; return 1; }
}
check "--offload-arch gfx9999 is rejected" rejected gfx9999 --offload-arch gfx90a,gfx9999
check "--cuda-arch sm_80,sm_80 is rejected" rejected "given twice" --cuda-arch sm_80,sm_80
check "--code-object-version 6 is a usage error" rejected "expected 4 or 5" --code-object-version 6

[ "$failures" -ne 0 ] && echo "$failures check(s) failed" && exit 1
[ "$skipped" -ne 0 ] && echo "the other gpu bundle checks passed; one was skipped (above)" && exit 77
echo "all gpu bundle checks passed"
