"""gpu_check.py — the two halves of scripts/gpu-check.sh (bench/README.md, "GPU check").

  prepare  on a machine with tkc's toolchain (LLVM 19, Z3): compiles each model's bundle with
           every GPU target, writes the inputs x at each B and tests/ref's double-precision
           logits for them (tkref), and copies the two runtime programs (tk_forward,
           tk_init_checkpoint) with the shared libraries they need into DIR: DIR is what
           travels to a GPU machine, where no LLVM, Z3 or network is needed.
  run      on the GPU machine: regenerates each checkpoint from the arch's seed, then for each
           model and B runs the forward on the GPU backend (tk_forward --device cuda|hip), on
           the CPU backend and, when PyTorch sees the GPU, PyTorch eager on it (the
           bench/forward peer); checks every one against tkref's logits with the tolerance of
           docs/formats.md §3.4; times them interleaved (median of R repetitions); writes
           gpu-check.md and gpu-check.json under --out. Exit 0 all agree, 1 a disagreement or a
           backend that failed, 2 usage, 3 no GPU (--device cpu runs the whole check on the
           CPU backend as a dry run; CI does that).
"""

import argparse
import hashlib
import json
import os
import shutil
import statistics
import subprocess
import sys
import time

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
FORWARD = os.path.join(ROOT, "bench", "forward")
sys.path.insert(0, FORWARD)
from bench import TOL_ABS, TOL_REL, Worker, machine_info  # noqa: E402

PROGRAMS = ("tk_forward", "tk_init_checkpoint")
GLIBC = ("libc.so", "libm.so", "libpthread.so", "libdl.so", "librt.so", "ld-linux", "linux-vdso")


def log(msg):
    print(f"gpu-check: {msg}", file=sys.stderr, flush=True)


def inputs(B, in_dim):
    """The deterministic request of scripts/artifact.sh: x[r, i] = sin(0.37 (i+1) (r+1))."""
    r = np.arange(1, B + 1, dtype=np.float64)[:, None]
    i = np.arange(1, in_dim + 1, dtype=np.float64)[None, :]
    return np.sin(0.37 * i * r).astype(np.float32)


# ---- prepare ----------------------------------------------------------------------------

def shared_libs(program):
    """The non-glibc shared libraries `program` loads, as ldd resolves them here."""
    out = subprocess.run(["ldd", program], capture_output=True, text=True, check=True).stdout
    libs = []
    for line in out.splitlines():
        name, _, rest = line.strip().partition(" => ")
        path = rest.split(" (")[0].strip()
        if path and os.path.isabs(path) and not name.startswith(GLIBC):
            libs.append(path)
    return libs


def copy_programs(build, dst):
    os.makedirs(os.path.join(dst, "bin"), exist_ok=True)
    os.makedirs(os.path.join(dst, "lib"), exist_ok=True)
    for prog in PROGRAMS:
        src = os.path.join(build, "bin", prog)
        shutil.copy2(src, os.path.join(dst, "bin", prog))
        for lib in shared_libs(src):
            shutil.copy2(lib, os.path.join(dst, "lib", os.path.basename(lib)))


# The GPU schedules timed (tkc compile --gpu-schedule): the bundle directory and worker of each.
SCHEDULES = {"simple": ("bundle", "tkc-gpu"), "tiled": ("bundle-tiled", "tkc-gpu-tiled")}


def compile_bundle(tkc, arch_path, bundle, schedule):
    """Compiles with every default target; skipped when the arch, the schedule and the tkc
    binary (its bytes: a rebuilt tkc keeps its version) are those of the bundle already there
    (its stamp)."""
    h = hashlib.sha256(open(arch_path, "rb").read())
    h.update(open(tkc, "rb").read())
    h.update(schedule.encode())
    stamp = h.hexdigest()
    stamp_path = bundle + ".stamp"
    if os.path.exists(stamp_path) and open(stamp_path).read() == stamp:
        return
    log(f"tkc compile {os.path.relpath(arch_path, ROOT)} --gpu-schedule {schedule} "
        "(every target; minutes for tiny)")
    subprocess.run([tkc, "compile", arch_path, "-o", bundle, "--gpu-schedule", schedule, "--quiet"],
                   check=True)
    with open(stamp_path, "w") as f:
        f.write(stamp)


def reference(build, arch_path, ckpt, x):
    """tkref's logits for x (double precision, printed to 9 digits)."""
    req = json.dumps({"features": x.astype(np.float64).tolist()})
    out = subprocess.run([os.path.join(build, "bin", "tkref"), "--arch", arch_path,
                          "--checkpoint", ckpt], input=req, capture_output=True, text=True)
    if out.returncode:
        sys.exit(f"gpu-check: tkref failed: {out.stderr.strip()}")
    return np.array(json.loads(out.stdout)["logits"], dtype=np.float64)


def prepare(a):
    build, d = os.path.abspath(a.build), os.path.abspath(a.dir)
    cache = os.path.join(build, "gpu-check-cache")
    os.makedirs(cache, exist_ok=True)
    copy_programs(build, d)
    models = {}
    for m in a.models.split(","):
        arch_path = os.path.join(ROOT, "models", f"{m}.arch.json")
        arch = json.load(open(arch_path))
        md = os.path.join(d, m)
        os.makedirs(md, exist_ok=True)
        shutil.copy2(arch_path, os.path.join(md, "arch.json"))
        for schedule, (name, _) in SCHEDULES.items():
            bundle = os.path.join(cache, f"{m}-{name}")
            compile_bundle(os.path.join(build, "bin", "tkc"), arch_path, bundle, schedule)
            # the proof store stays here: the runtime never reads it, and it is most of the bytes
            shutil.rmtree(os.path.join(md, name), ignore_errors=True)
            shutil.copytree(bundle, os.path.join(md, name), ignore=shutil.ignore_patterns("proofs"))
        ckpt = os.path.join(cache, f"{m}.tkp1")
        subprocess.run([os.path.join(build, "bin", "tk_init_checkpoint"), arch_path, ckpt],
                       check=True, stdout=subprocess.DEVNULL)
        for B in a.batches:
            x = inputs(B, arch["input_dim"])
            x.tofile(os.path.join(md, f"x-{B}.bin"))
            log(f"{m} B={B}: tkref")
            reference(build, arch_path, ckpt, x).tofile(os.path.join(md, f"ref-{B}.bin"))
        models[m] = {"in_dim": arch["input_dim"], "out_dim": arch["output_dim"]}
    meta = {"models": models, "batches": a.batches,
            "tkc": subprocess.run([os.path.join(build, "bin", "tkc"), "--version"],
                                  capture_output=True, text=True).stdout.strip()}
    with open(os.path.join(d, "prepared.json"), "w") as f:
        json.dump(meta, f, indent=2)
    size = sum(os.path.getsize(os.path.join(p, n)) for p, _, ns in os.walk(d) for n in ns)
    log(f"prepared {d}: {size / 2**20:.1f} MiB" +
        (" (over the 64 MiB a device call carries)" if size > 64 * 2**20 else ""))
    return 0


# ---- run --------------------------------------------------------------------------------

def detect_device(want):
    if want != "auto":
        return want
    if shutil.which("nvidia-smi") and subprocess.run(["nvidia-smi", "-L"], capture_output=True).returncode == 0:
        return "cuda"
    if os.path.exists("/dev/kfd"):
        return "hip"
    return None


def gpu_description(device):
    if device == "cuda" and shutil.which("nvidia-smi"):
        q = "name,driver_version,memory.total,compute_cap"
        out = subprocess.run(["nvidia-smi", f"--query-gpu={q}", "--format=csv,noheader"],
                             capture_output=True, text=True).stdout.strip()
        return out.splitlines()[0] if out else "nvidia (nvidia-smi said nothing)"
    if device == "hip" and shutil.which("rocminfo"):
        out = subprocess.run(["rocminfo"], capture_output=True, text=True).stdout
        names = [ln.split(":", 1)[1].strip() for ln in out.splitlines() if "Marketing Name" in ln]
        return ", ".join(n for n in names if n) or "amd (rocminfo)"
    return device


def compare(y, ref):
    """(max |Δ|, agrees) against the reference under docs/formats.md §3.4's tolerance."""
    if y is None or y.shape != ref.shape:
        return None, False
    diff = np.abs(y.astype(np.float64) - ref)
    ok = bool(np.isfinite(y).all() and (diff <= TOL_ABS + TOL_REL * np.abs(ref)).all())
    return float(diff.max()), ok


def start_workers(a, d, m, ckpt, device, logdir, env):
    def fwd(bundle):
        return [os.path.join(d, "bin", "tk_forward"), "--bundle", os.path.join(d, m, bundle),
                "--checkpoint", ckpt]
    specs = [(worker, fwd(bundle) + ["--device", device, "--threads", "1"])
             for bundle, worker in SCHEDULES.values()]
    specs.append(("tkc-cpu", fwd("bundle") + ["--device", "cpu", "--threads", str(a.threads)]))
    if device in ("cuda", "hip") and not a.no_torch:
        specs.append(("torch-gpu", [sys.executable, os.path.join(FORWARD, "peers.py"), "torch",
                                    "--arch", os.path.join(d, m, "arch.json"), "--checkpoint", ckpt,
                                    "--device", "cuda"]))
    workers = {}
    for name, cmd in specs:
        # the carried libraries are for tkc's programs only: PyTorch keeps the machine's own
        w = Worker(f"{m}-{name}", cmd, env if name.startswith("tkc") else dict(os.environ), logdir)
        log(f"{m}: {name}: {w.desc or w.dead}")
        workers[name] = w
    return workers


def check_point(workers, B, md, tmp, out_dim):
    """One call per worker with its logits kept; returns {worker: {ms, max_abs, ok}}."""
    ref = np.fromfile(os.path.join(md, f"ref-{B}.bin"), dtype=np.float64).reshape(B, out_dim)
    xpath = os.path.join(md, f"x-{B}.bin")
    res, ys = {}, {}
    for name, w in workers.items():
        ypath = os.path.join(tmp, f"y-{name}.bin")
        ms = w.call(B, 1, xpath, ypath)
        ys[name] = None if ms is None else np.fromfile(ypath, dtype=np.float32).reshape(-1, out_dim)
        max_abs, ok = compare(ys[name], ref)
        res[name] = {"first_ms": ms, "max_abs": max_abs, "ok": ok,
                     "error": w.dead if ms is None else None}
    cpu = ys.get("tkc-cpu")
    gpu_vs_cpu = {}
    for _, worker in SCHEDULES.values():
        gpu = ys.get(worker)
        gpu_vs_cpu[worker] = None if gpu is None or cpu is None or gpu.shape != cpu.shape else \
            float(np.abs(gpu.astype(np.float64) - cpu).max())
    return res, gpu_vs_cpu


def time_point(workers, B, xpath, reps, min_rep_ms, first):
    """R interleaved repetitions (order rotated), each N calls of >= min_rep_ms; medians."""
    live = [n for n in workers if first[n]["first_ms"] is not None]
    calls = {n: max(1, int(min_rep_ms / max(first[n]["first_ms"], 1e-3))) for n in live}
    samples = {n: [] for n in live}
    for r in range(reps):
        for n in live[r % len(live):] + live[:r % len(live)] if live else []:
            ms = workers[n].call(B, calls[n], xpath)
            if ms is not None:
                samples[n].append(ms)
    return {n: statistics.median(s) for n, s in samples.items() if s}


def run(a):
    d = os.path.abspath(a.dir)
    meta_path = os.path.join(d, "prepared.json")
    if not os.path.exists(meta_path):
        log(f"{meta_path} is missing: run `scripts/gpu-check.sh prepare {a.dir}` on a build machine first")
        return 2
    meta = json.load(open(meta_path))
    device = detect_device(a.device)
    if device is None:
        log("no GPU found (nvidia-smi -L failed or is absent, no /dev/kfd); "
            "--device cpu runs the check on the CPU backend as a dry run")
        return 3
    out = os.path.abspath(a.out)
    os.makedirs(out, exist_ok=True)
    tmp = os.path.join(a.scratch, "tkc-gpu-check")
    os.makedirs(tmp, exist_ok=True)
    env = dict(os.environ)
    env["LD_LIBRARY_PATH"] = os.path.join(d, "lib") + (":" + env["LD_LIBRARY_PATH"] if env.get("LD_LIBRARY_PATH") else "")
    env["PYTHONDONTWRITEBYTECODE"] = "1"
    t_start = time.monotonic()
    report = {"device": device, "dry_run": device == "cpu", "gpu": gpu_description(device),
              "cpu": machine_info()["cpu"], "cores": os.cpu_count(),
              "threads": a.threads, "prepared": meta, "points": [], "workers": {}}
    failed = False
    for m, dims in meta["models"].items():
        ckpt = os.path.join(tmp, f"{m}.tkp1")
        t0 = time.monotonic()
        subprocess.run([os.path.join(d, "bin", "tk_init_checkpoint"), os.path.join(d, m, "arch.json"), ckpt],
                       check=True, env=env, stdout=subprocess.DEVNULL)
        log(f"{m}: checkpoint written in {time.monotonic() - t0:.1f} s")
        workers = start_workers(a, d, m, ckpt, device, tmp, env)
        report["workers"][m] = {n: w.desc or f"failed: {w.dead}" for n, w in workers.items()}
        for n in [w for _, w in SCHEDULES.values()] + ["tkc-cpu"]:
            failed |= workers[n].dead is not None
        for B in meta["batches"]:
            res, gpu_vs_cpu = check_point(workers, B, os.path.join(d, m), tmp, dims["out_dim"])
            for n, r in res.items():
                # a PyTorch that fails or disagrees is reported, but the check is of tkc
                if n.startswith("tkc") and not r["ok"]:
                    failed = True
            over = time.monotonic() - t_start > a.budget_s
            medians = {} if over else time_point(workers, B, os.path.join(d, m, f"x-{B}.bin"),
                                                 a.reps, a.min_rep_ms, res)
            report["points"].append({"model": m, "B": B, "check": res, "gpu_vs_cpu": gpu_vs_cpu,
                                     "median_ms": medians,
                                     "timed": not over})
            log(f"{m} B={B}: " + ", ".join(
                f"{n} {'ok' if r['ok'] else 'FAIL'} {medians.get(n, float('nan')):.3f} ms" for n, r in res.items()))
        for w in workers.values():
            w.close()
        os.remove(ckpt)
    report["seconds"] = round(time.monotonic() - t_start, 1)
    report["verdict"] = "FAIL" if failed else "PASS"
    with open(os.path.join(out, "gpu-check.json"), "w") as f:
        json.dump(report, f, indent=1)
    with open(os.path.join(out, "gpu-check.md"), "w") as f:
        f.write(markdown(report))
    log(f"{report['verdict']} in {report['seconds']} s; report: {os.path.join(out, 'gpu-check.md')}")
    return 1 if failed else 0


def fmt(v, spec):
    return "—" if v is None else format(v, spec)


def markdown(r):
    names = ["tkc-gpu", "tkc-gpu-tiled", "tkc-cpu", "torch-gpu"]
    gpu_label = "tkc GPU" if not r["dry_run"] else "tkc \"GPU\" (dry run: CPU, 1 thread)"
    lines = [
        "# tkc GPU check (scripts/gpu-check.sh)", "",
        f"Verdict: **{r['verdict']}** in {r['seconds']} s. Device: {r['device']} — {r['gpu']}"
        + (" — DRY RUN on the CPU backend: no GPU was measured" if r["dry_run"] else "") + ".",
        f"Host: {r['cpu']}, {r['cores']} cores; tkc CPU backend on {r['threads']} threads. "
        f"{r['prepared'].get('tkc', '')}.", "",
        "GPU schedules: `simple` (one thread per output element) and `tiled` (16-row tiles, "
        "K-slices staged in LDS / shared memory between barriers, 4 × 4 outputs per thread; "
        "`--gpu-schedule tiled`).",
        f"Every logit checked against tests/ref (tkref, double precision) with "
        f"|Δ| ≤ {TOL_ABS:g} + {TOL_REL:g}·|ref| (docs/formats.md §3.4); times are medians of "
        "interleaved repetitions, each the mean of N back-to-back forwards (host input to host "
        "logits, copies included).", ""]
    for m, ws in r["workers"].items():
        lines += [f"- {m}: " + "; ".join(f"{n}: {desc}" for n, desc in ws.items())]
    lines += ["", f"| model | B | {gpu_label} simple ms | {gpu_label} tiled ms | tkc CPU ms | "
              "PyTorch GPU ms | max abs Δ vs ref (simple / tiled / CPU / PyTorch) | "
              "max abs Δ GPU vs CPU (simple / tiled) | agree |",
              "|---|---|---|---|---|---|---|---|---|"]
    for p in r["points"]:
        c, t = p["check"], p["median_ms"]
        ms = [fmt(t.get(n), ".3f") if n in c else "n/a" for n in names]
        deltas = " / ".join(fmt(c[n]["max_abs"], ".2g") if n in c else "n/a" for n in names)
        agree = "yes" if all(c[n]["ok"] for n in c if n.startswith("tkc")) else "**NO**"
        if "torch-gpu" in c and not c["torch-gpu"]["ok"]:
            agree += " (PyTorch disagrees)"
        vs_cpu = " / ".join(fmt(p["gpu_vs_cpu"].get(w), ".2g") for _, w in SCHEDULES.values())
        lines.append(f"| {p['model']} | {p['B']} | " + " | ".join(ms) +
                     f" | {deltas} | {vs_cpu} | {agree} |")
    return "\n".join(lines) + "\n"


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = ap.add_subparsers(dest="mode", required=True)
    p = sub.add_parser("prepare")
    p.add_argument("--dir", required=True)
    p.add_argument("--build", required=True, help="a Release build with tkc, tkref and the two programs")
    p.add_argument("--models", default="nano,tiny")
    p.add_argument("--batches", default="1,16,256,1024",
                   type=lambda s: [int(b) for b in s.split(",")])
    r = sub.add_parser("run")
    r.add_argument("--dir", required=True)
    r.add_argument("--out", required=True)
    r.add_argument("--device", default="auto", choices=["auto", "cuda", "hip", "cpu"])
    r.add_argument("--threads", type=int, default=os.cpu_count())
    r.add_argument("--reps", type=int, default=7)
    r.add_argument("--min-rep-ms", type=float, default=50.0)
    r.add_argument("--budget-s", type=float, default=300.0,
                   help="stop timing (checks go on) once this much time has passed")
    r.add_argument("--no-torch", action="store_true")
    r.add_argument("--scratch", default=os.environ.get("TMPDIR", "/tmp"))
    a = ap.parse_args()
    return prepare(a) if a.mode == "prepare" else run(a)


if __name__ == "__main__":
    sys.exit(main())
