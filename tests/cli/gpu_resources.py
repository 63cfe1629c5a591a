"""tests/cli/gpu_resources.py — the oracle half of tests/cli/gpu_resources.sh.

For every gfx of codegen/cg_target_amdgcn.c's known_gfx list (and wave64 as well as wave32 on
gfx10+), one LLVM module of generated kernels that vary what limits occupancy: VGPRs (an
inline-asm clobber of v[N-1]), AGPRs on gfx90a/gfx94x, SGPRs, LDS (a global in addrspace(3))
and the flat workgroup size. llc-19 compiles it twice: as assembly, whose "; Occupancy: N" is
LLVM's own figure, and as an object that ld.lld-19 links into a code object. Then
gpu_resources_dump (codegen/gpu_resources.h) must give, per kernel, llvm-readelf-19's
.sgpr_count, .vgpr_count, .agpr_count, .group_segment_fixed_size and .wavefront_size, and
llc's occupancy. Prints one line per gfx and exits 1 on any difference.
"""
import os
import re
import subprocess
import sys
import tempfile

ROOT = os.environ.get("TK_SOURCE_DIR", ".")
DUMP = sys.argv[1]

VGPRS = [1, 24, 25, 33, 40, 48, 64, 65, 84, 96, 100, 128, 129, 168, 170, 200, 256]
LDS = [0, 4096, 8192, 20000, 32768, 40000, 65536]
WGS = [32, 64, 128, 256, 512, 1024]
SGPRS = [60, 81, 89, 95, 101]  # s[N-1] clobbered
AGPRS = [8, 64, 256]


def known_gfx():
    src = open(os.path.join(ROOT, "codegen", "cg_target_amdgcn.c")).read()
    block = src[src.index("known_gfx[] = {"):]
    return re.findall(r'"(gfx\w+)"', block[:block.index("NULL")])


def kernels(gfx):
    ks = [(v, 0, wg, 0, 0) for v in VGPRS for wg in (64, 256, 1024)]
    ks += [(1, lds, wg, 0, 0) for lds in LDS for wg in WGS]
    ks += [(v, lds, 256, 0, 0) for v in (64, 128) for lds in (16384, 24576)]
    ks += [(1, 0, 256, s, 0) for s in SGPRS]
    if gfx.startswith(("gfx90a", "gfx94")):
        ks += [(v, 0, 256, 0, a) for a in AGPRS for v in (1, 100)]
    return ks


def module(ks):
    out = []
    for i, (v, lds, wg, s, a) in enumerate(ks):
        clobbers = [f"~{{v{v - 1}}}"] + ([f"~{{s{s - 1}}}"] if s else []) + ([f"~{{a{a - 1}}}"] if a else [])
        if lds:
            out.append(f"@lds{i} = internal addrspace(3) global [{lds} x i8] undef, align 4")
        out.append(f"define amdgpu_kernel void @k{i}(ptr addrspace(1) %out) #{i} {{")
        if lds:
            out.append(f"  store volatile i8 0, ptr addrspace(3) @lds{i}")
        out.append(f'  call void asm sideeffect "", "{",".join(clobbers)}"()')
        out.append("  ret void\n}")
        out.append(f'attributes #{i} = {{ "amdgpu-flat-work-group-size"="1,{wg}" }}')
    return "\n".join(out) + "\n"


def llc_occupancy(asm):
    occ, cur = {}, None
    for line in asm.splitlines():
        m = re.match(r"^(k\d+):", line)
        if m:
            cur = m.group(1)
        m = re.match(r"^; Occupancy: (\d+)", line)
        if m and cur:
            occ[cur] = int(m.group(1))
    return occ


def readelf_kernels(co):
    text = subprocess.run(["llvm-readelf-19", "--notes", co], capture_output=True, text=True, check=True).stdout
    ks, cur = {}, None
    for line in text.splitlines():
        m = re.match(r"^(?:  - |    )\.(\w+):\s*(\S*)", line)
        if not m:
            continue
        if line.startswith("  - "):
            cur = {}
        if cur is not None:
            cur[m.group(1)] = m.group(2)
            if m.group(1) == "name":
                ks[m.group(2)] = cur
    return ks


def check(gfx, wave64, tmp):
    ks = kernels(gfx)
    ll = os.path.join(tmp, "k.ll")
    open(ll, "w").write(module(ks))
    attrs = ["-mattr=+wavefrontsize64"] if wave64 else []
    base = ["llc-19", "-O2", "-mtriple=amdgcn-amd-amdhsa", f"-mcpu={gfx}"] + attrs + [ll]
    asm = subprocess.run(base + ["-o", "-"], capture_output=True, text=True, check=True).stdout
    subprocess.run(base + ["-filetype=obj", "-o", os.path.join(tmp, "k.o")], check=True)
    co = os.path.join(tmp, "k.co")
    subprocess.run(["ld.lld-19", "-shared", os.path.join(tmp, "k.o"), "-o", co], check=True)
    dump = subprocess.run([DUMP, gfx, co], capture_output=True, text=True)
    if dump.returncode:
        return [f"gpu_resources_dump {gfx}: {dump.stderr.strip()}"]
    ours = {}
    for line in dump.stdout.splitlines():
        name, *kv = line.split()
        ours[name] = dict(x.split("=") for x in kv)
    want_occ, notes = llc_occupancy(asm), readelf_kernels(co)
    errors = []
    if set(ours) != set(notes) or len(ours) != len(ks):
        errors.append(f"{gfx}: kernels {sorted(ours)[:5]}... vs the notes' {sorted(notes)[:5]}...")
    pairs = [("sgpr", "sgpr_count"), ("vgpr", "vgpr_count"), ("agpr", "agpr_count"),
             ("lds", "group_segment_fixed_size"), ("scratch", "private_segment_fixed_size"),
             ("wave", "wavefront_size"), ("wg", "max_flat_workgroup_size")]
    for name, ours_k in ours.items():
        note = notes.get(name, {})
        for mine, theirs in pairs:
            if ours_k[mine] != note.get(theirs, "0"):
                errors.append(f"{gfx} {name}: {mine}={ours_k[mine]}, llvm-readelf .{theirs}={note.get(theirs)}")
        if int(ours_k["occupancy"]) != want_occ.get(name):
            v, lds, wg, s, a = ks[int(name[1:])]
            errors.append(f"{gfx}{' wave64' if wave64 else ''} {name} (v{v} a{a} s{s} lds {lds} wg {wg}; "
                          f"{' '.join(f'{k}={x}' for k, x in ours_k.items())}): llc-19 says occupancy "
                          f"{want_occ.get(name)}")
    return errors


def main():
    errors, lines = [], 0
    with tempfile.TemporaryDirectory() as tmp:
        for gfx in known_gfx():
            for wave64 in ([False, True] if gfx.startswith("gfx1") else [False]):
                e = check(gfx, wave64, tmp)
                lines += 1
                print(f"{gfx}{' wave64' if wave64 else ''}: {len(kernels(gfx))} kernels, "
                      f"{'agree' if not e else f'{len(e)} differences'}")
                errors += e
    for e in errors[:40]:
        print("DIFF:", e)
    print(f"gpu_resources oracle: {lines} configurations, {len(errors)} differences")
    return 1 if errors or lines == 0 else 0


if __name__ == "__main__":
    sys.exit(main())
