"""bench.py — bench/forward's driver (run it through bench/forward/run.sh, which makes the venv
and builds the C workers). tkc and its peers on the same checkpoint, interleaved:

  for each model, for each T: one worker process per peer (worker.h's protocol), then for
  each B: one warm-up call per peer (its logits are checked against tkc's), then R
  repetitions, each running every peer once (N back-to-back calls, N chosen so one
  repetition takes >= --min-rep-ms), the peers' order rotated every repetition. The median
  of the R per-call times is reported.

Writes forward.md (the table), forward.png (time vs B per model) and forward.json (every
sample) under --out.
"""

import argparse
import datetime
import json
import math
import os
import platform
import shutil
import statistics
import subprocess
import sys
import time

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
sys.path.insert(0, HERE)
import tkp1  # noqa: E402
from forward_plot import COLUMNS, best_of, plot  # noqa: E402

TOL_ABS, TOL_REL = 1e-4, 1e-3  # docs/formats.md §3.4
VARIANT_TAG = {"ort-dense": "dense", "ort-sparse": "gather", "blas-dense": "dense", "blas-sparse": "gather"}


def log(msg):
    print(msg, file=sys.stderr, flush=True)


def run(cmd, **kw):
    return subprocess.run(cmd, check=True, **kw)


def newer(target, *sources):
    if not os.path.exists(target):
        return False
    t = os.path.getmtime(target)
    return all(os.path.getmtime(s) <= t for s in sources)


# ---- machine ----------------------------------------------------------------------------

def machine_info():
    info = {"cpu": platform.processor() or "?", "cores": os.cpu_count()}
    try:
        out = subprocess.run(["lscpu"], capture_output=True, text=True).stdout
        for line in out.splitlines():
            k, _, v = line.partition(":")
            if k.strip() == "Model name":
                info["cpu"] = v.strip()
    except OSError:
        pass
    try:
        fam = mod = None
        with open("/proc/cpuinfo") as f:
            for line in f:
                k, _, v = line.partition(":")
                if k.strip() == "cpu family" and fam is None:
                    fam = v.strip()
                elif k.strip() == "model" and mod is None:
                    mod = v.strip()
        if fam:
            zen = {"23": "Zen/Zen 2", "25": "Zen 3/Zen 4", "26": "Zen 5"}.get(fam, "")
            info["cpu"] += f" (family {fam}, model {mod}{', ' + zen if zen and 'AMD' in info['cpu'] else ''})"
    except OSError:
        pass
    try:
        with open("/proc/meminfo") as f:
            kb = int(f.readline().split()[1])
        info["mem_gib"] = round(kb / 2 ** 20, 1)
    except OSError:
        pass
    info["kernel"] = platform.release()
    return info


def loadavg():
    return " ".join(open("/proc/loadavg").read().split()[:3])


# ---- workers ----------------------------------------------------------------------------

class Worker:
    def __init__(self, name, cmd, env, logdir):
        self.name, self.dead, self.desc = name, None, ""
        self.logpath = os.path.join(logdir, f"{name}.stderr")
        self.log = open(self.logpath, "a")
        self.p = subprocess.Popen(cmd, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                  stderr=self.log, text=True, env=env, bufsize=1)
        line = self.p.stdout.readline().strip()
        if line.startswith("ready"):
            self.desc = line[6:]
        else:
            self.fail(line or f"exited with {self.p.wait()}")

    def fail(self, why):
        self.log.flush()
        tail = open(self.logpath).read().strip().splitlines()[-1:] if os.path.exists(self.logpath) else []
        self.dead = why + (f" ({tail[0][:200]})" if tail and not why.startswith("error") else "")
        self.close()

    def call(self, B, N, xpath, opath="-"):
        if self.dead:
            return None
        try:
            self.p.stdin.write(f"run {B} {N} {xpath} {opath}\n")
            self.p.stdin.flush()
            line = self.p.stdout.readline().strip()
        except (BrokenPipeError, OSError) as exc:
            line = f"error {exc}"
        if not line.startswith("ok "):
            self.fail(line or f"died (exit {self.p.poll()})")
            return None
        return float(line[3:])

    def close(self):
        if self.p.poll() is None:
            try:
                self.p.stdin.write("quit\n")
                self.p.stdin.flush()
                self.p.wait(timeout=30)
            except (OSError, subprocess.TimeoutExpired):
                self.p.kill()
                self.p.wait()
        self.log.close()


# ---- the bench --------------------------------------------------------------------------

def model_cost(d, x_keep):
    """Top-K FLOPs (router + K of E experts per row; GEMMs only, 2 per multiply-add) and the
    bytes of the router and of the experts some row of the batch uses."""
    B = x_keep.shape[0]
    expert_macs = d["in"] * d["H"] + d["depth"] * d["H"] ** 2 + d["H"] * d["out"]
    flops = 2.0 * B * (d["in"] * d["E"] + d["K"] * expert_macs)
    expert_params = expert_macs + (d["depth"] + 1) * 3 * d["H"] + d["out"]
    used = int(x_keep.any(axis=0).sum())
    bytes_ = 4.0 * ((d["in"] + 1) * d["E"] + used * expert_params)
    return flops, bytes_, used


def router_keep(params, x):
    wr, br = params["router"]
    r = x.astype(np.float64) @ wr.astype(np.float64) + br
    r -= r.max(axis=1, keepdims=True)
    p = np.exp(r)
    p /= p.sum(axis=1, keepdims=True)
    return tkp1.topk_keep(p, params["dims"]["K"])


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--build", default=os.path.join(ROOT, "build-bench"))
    ap.add_argument("--out", help="default bench/forward/results (results/quick with --quick)")
    ap.add_argument("--quick", action="store_true", help="nano only, B in {1,16}, 3 reps (a smoke test)")
    ap.add_argument("--models", default="nano,tiny,medium")
    ap.add_argument("--batches", default="1,16,256,1024")
    ap.add_argument("--threads", default="1,2")
    ap.add_argument("--reps", type=int, default=0, help="repetitions per point (default 5, 3 where a repetition is long)")
    ap.add_argument("--min-rep-ms", type=float, default=100.0, help="each repetition of a peer runs >= this long")
    ap.add_argument("--no-torch", action="store_true")
    ap.add_argument("--gap-ms", type=float, default=150.0,
                    help="idle time before each peer's turn when T > 1, so that the previous "
                         "peer's spinning threads (OpenBLAS, OpenMP, ORT) have gone to sleep")
    ap.add_argument("--skip", default="", help="comma list of peers to leave out (tkc-v3 stays)")
    ap.add_argument("--dispatch", default="sparse", choices=("sparse", "dense"),
                    help="tkc compile --dispatch (default sparse: each expert on its own rows)")
    ap.add_argument("--from-json", metavar="FILE",
                    help="only render forward.md and forward.png again from a run's forward.json")
    args = ap.parse_args()
    if not args.out:
        args.out = os.path.join(HERE, "results", "quick" if args.quick else "")
    if args.from_json:
        saved = json.load(open(args.from_json))
        meta, results = saved["meta"], saved["results"]
        render(meta, results, args.out, saved.get("loads", []))
        return
    if args.quick:
        args.models, args.batches = "nano", "1,16"
        args.reps = args.reps or 3
        args.min_rep_ms = min(args.min_rep_ms, 20.0)
        args.gap_ms = min(args.gap_ms, 50.0)
    models = args.models.split(",")
    batches = [int(b) for b in args.batches.split(",")]
    thread_counts = [int(t) for t in args.threads.split(",")]
    bindir = os.path.join(args.build, "bin")
    work = os.path.join(args.build, "bench-forward")
    os.makedirs(work, exist_ok=True)
    os.makedirs(args.out, exist_ok=True)
    t_start = time.time()
    started = datetime.datetime.now(datetime.timezone.utc)

    machine = machine_info()
    machine["load_start"] = loadavg()
    log(f"machine: {machine['cpu']}, {machine['cores']} cores, {machine.get('mem_gib')} GiB; load {machine['load_start']}")
    bound = json.loads(run([os.path.join(bindir, "fwd_bound"), "--mb", "64" if args.quick else "256"],
                           capture_output=True, text=True).stdout)
    log(f"bound: fp32 peak {bound['flops_1'] / 1e9:.1f} GFLOP/s on 1 core ({bound['isa']}), "
        f"{bound['flops_2'] / 1e9:.1f} on 2 threads; triad {bound['bw_1'] / 1e9:.1f} GB/s (1 thread), "
        f"{bound['bw_2'] / 1e9:.1f} GB/s (2 threads)")

    tkc = os.path.join(bindir, "tkc")
    # "tkc 0.1.0 (LLVM ...)": the name is the key of the versions table below
    tkc_version = subprocess.run([tkc, "--version"], capture_output=True, text=True).stdout.strip()
    tkc_version = tkc_version.removeprefix("tkc ")
    cpus = ["x86-64-v3"] + (["x86-64-v4"] if bound["isa"] == "avx512" else [])
    skipped = {}
    if "x86-64-v4" not in cpus:
        skipped["tkc-v4"] = "this CPU has no AVX-512"
    skip = set(s for s in args.skip.split(",") if s)
    skip.discard("tkc-v3")
    for s in skip:
        skipped[s] = "--skip"
    have_torch = False
    if args.no_torch:
        skipped["torch"] = "--no-torch"
    else:
        try:
            import torch  # noqa: F401
            have_torch = True
        except Exception as exc:  # noqa: BLE001
            skipped["torch"] = f"torch cannot be imported in the venv ({type(exc).__name__}: {exc})"
    versions = {"tkc": tkc_version}
    try:
        import onnxruntime
        versions["onnxruntime"] = onnxruntime.__version__
    except Exception as exc:  # noqa: BLE001
        skipped["ort-dense"] = skipped["ort-sparse"] = f"onnxruntime cannot be imported ({exc})"
    if have_torch:
        import torch
        versions["torch"] = torch.__version__
    import peers

    results = []  # one dict per (model, T, B)
    loads = []  # one dict per started worker: its time to ready and its ready line
    for mname in models:
        arch_path = os.path.join(ROOT, "models", f"{mname}.arch.json")
        arch = json.load(open(arch_path))
        ckpt = os.path.join(work, f"{mname}.tkp1")
        if not newer(ckpt, arch_path):  # deterministic: made again only for a new arch
            log(f"{mname}: tkc init-checkpoint")
            run([tkc, "init-checkpoint", arch_path, "-o", ckpt], stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL)
        bundles = {}
        for cpu in cpus:
            bdir = os.path.join(work, f"{mname}-{cpu}-{args.dispatch}")
            if not newer(os.path.join(bdir, "manifest.json"), tkc, arch_path):
                log(f"{mname}: tkc compile --targets x86_64 --cpu {cpu} --dispatch {args.dispatch}")
                t0 = time.time()
                run([tkc, "compile", arch_path, "-o", bdir, "--targets", "x86_64", "--cpu", cpu,
                     "--dispatch", args.dispatch, "--quiet"])
                log(f"  {time.time() - t0:.1f} s")
            bundles["tkc-v3" if cpu == "x86-64-v3" else "tkc-v4"] = bdir
        onnx_dir = os.path.join(work, f"{mname}-onnx")
        if "ort-dense" not in skipped:
            t0 = time.time()
            peers.ensure_onnx(arch_path, ckpt, onnx_dir)
            log(f"{mname}: ONNX graphs ready ({time.time() - t0:.1f} s)")
        params = tkp1.moe_params(arch, tkp1.read_checkpoint(ckpt)["tensors"])
        d = params["dims"]

        for T in thread_counts:
            env = dict(os.environ, OMP_NUM_THREADS=str(T), OPENBLAS_NUM_THREADS=str(T),
                       MKL_NUM_THREADS=str(T))
            cmds = {}
            for key in ("tkc-v3", "tkc-v4"):
                if key in bundles:
                    cmds[key] = [os.path.join(bindir, "tk_forward"), "--bundle", bundles[key],
                                 "--checkpoint", ckpt, "--threads", str(T)]
            py = [sys.executable, os.path.join(HERE, "peers.py")]
            common = ["--arch", arch_path, "--checkpoint", ckpt, "--threads", str(T), "--onnx-dir", onnx_dir]
            for v in ("ort-dense", "ort-sparse"):
                cmds[v] = py + [v] + common
            if have_torch:
                cmds["torch"] = py + ["torch"] + common
            for mode in ("dense", "sparse"):
                cmds[f"blas-{mode}"] = [
                    os.path.join(bindir, "blas_forward"), "--checkpoint", ckpt, "--threads", str(T),
                    "--mode", mode, "--in", str(d["in"]), "--hidden", str(d["H"]), "--out", str(d["out"]),
                    "--experts", str(d["E"]), "--topk", str(d["K"]), "--depth", str(d["depth"]),
                    "--eps", repr(d["eps"]), "--act", d["act"], "--layout", "in_out"]
            # blas_forward reads the checkpoint itself: it must transpose an out_in weight too
            if d["layout"] == "out_in":
                for mode in ("dense", "sparse"):
                    cmds[f"blas-{mode}"][-1] = "out_in"
            workers = {}
            for key, cmd in cmds.items():
                if key in skipped:
                    continue
                t0 = time.time()
                w = Worker(f"{mname}-T{T}-{key}", cmd, env, work)
                if w.dead:
                    log(f"{mname} T={T} {key}: cannot start: {w.dead}")
                    skipped.setdefault(key, f"{mname} T={T}: {w.dead}")
                else:
                    load_s = time.time() - t0
                    log(f"{mname} T={T} {key}: {w.desc} ({load_s:.1f} s to load)")
                    loads.append({"model": mname, "T": T, "peer": key, "load_s": round(load_s, 3),
                                  "desc": w.desc})
                    workers[key] = w
            if "tkc-v3" not in workers:
                raise SystemExit(f"tkc itself did not start on {mname}: {skipped.get('tkc-v3')}")
            for B in batches:
                rng = np.random.default_rng(1000 + B)
                x = rng.standard_normal((B, d["in"])).astype(np.float32)
                xpath = os.path.join(work, f"x-{mname}-{B}.bin")
                x.tofile(xpath)
                keep = router_keep(params, x)
                flops, nbytes, used = model_cost(d, keep)
                point = {"model": mname, "T": T, "B": B, "flops": flops, "bytes": nbytes,
                         "experts_used": used, "peers": {}}
                # warm-up, logits, calibration of N
                outs, warm = {}, {}
                for key, w in workers.items():
                    if T > 1 and args.gap_ms > 0:
                        time.sleep(args.gap_ms / 1e3)
                    opath = os.path.join(work, f"y-{key}.bin")
                    ms = w.call(B, 1, xpath, opath)
                    if ms is None:
                        log(f"{mname} T={T} B={B} {key}: failed: {w.dead}")
                        continue
                    warm[key] = ms
                    outs[key] = np.fromfile(opath, dtype=np.float32).reshape(B, d["out"])
                ref = outs.get("tkc-v3")
                if ref is None:
                    raise SystemExit(f"tkc failed on {mname} T={T} B={B}: {workers['tkc-v3'].dead}")
                # tkc itself against the float64 reference of tkp1.py, on the first rows
                rows = min(B, 4)
                y64, _ = tkp1.reference_forward(params, x[:rows])
                dref = np.abs(ref[:rows] - y64)
                point["tkc_vs_ref"] = float(dref.max())
                point["tkc_ref_ok"] = bool((dref <= TOL_ABS + TOL_REL * np.abs(y64)).all())
                for key, y in outs.items():
                    diff = np.abs(y.astype(np.float64) - ref)
                    ok = bool(np.isfinite(y).all() and (diff <= TOL_ABS + TOL_REL * np.abs(ref)).all())
                    point["peers"][key] = {"warmup_ms": warm[key], "max_abs_diff": float(diff.max()),
                                           "agrees": ok, "samples": []}
                    if not ok:
                        log(f"{mname} T={T} B={B} {key}: DISAGREES with tkc (max abs diff {diff.max():.3g})")
                live = [k for k in workers if k in warm]
                for k in live:  # a short warm-up may hold first-call costs: time it again
                    if warm[k] < 50.0:
                        ms = workers[k].call(B, max(1, math.ceil(20.0 / max(warm[k], 1e-4))), xpath)
                        if ms is not None:
                            warm[k] = min(warm[k], ms)
                live = [k for k in live if not workers[k].dead]
                n_calls = {k: max(1, min(100000, math.ceil(args.min_rep_ms / max(warm[k], 1e-4)))) for k in live}
                longest = max(warm[k] * n_calls[k] for k in live)
                reps = args.reps or (5 if longest < 2000 else 3)
                for r in range(reps):
                    order = live[r % len(live):] + live[:r % len(live)]
                    if r % 2:
                        order.reverse()
                    for key in order:
                        if T > 1 and args.gap_ms > 0:
                            time.sleep(args.gap_ms / 1e3)
                        ms = workers[key].call(B, n_calls[key], xpath)
                        if ms is None:
                            log(f"{mname} T={T} B={B} {key}: failed: {workers[key].dead}")
                            continue
                        point["peers"][key]["samples"].append(ms)
                for key, pr in point["peers"].items():
                    pr["n_calls"] = n_calls.get(key)
                    pr["median_ms"] = statistics.median(pr["samples"]) if pr["samples"] else None
                point["load"] = loadavg()
                results.append(point)
                summary = "  ".join(f"{k} {pr['median_ms']:.4g}" for k, pr in point["peers"].items()
                                    if pr["median_ms"] is not None)
                log(f"{mname} T={T} B={B}: {summary} ms (load {point['load']})")
            for w in workers.values():
                w.close()
                if w.dead and w.dead != "closed":
                    skipped.setdefault(w.name, w.dead)
    machine["load_end"] = loadavg()
    meta = {"date": started.strftime("%Y-%m-%d %H:%M UTC"), "seconds": round(time.time() - t_start),
            "machine": machine, "bound": bound, "versions": versions, "skipped": skipped,
            "quick": args.quick, "min_rep_ms": args.min_rep_ms, "dispatch": args.dispatch,
            "command": " ".join(["bench/forward/run.sh"] + user_args())}
    with open(os.path.join(args.out, "forward.json"), "w") as f:
        json.dump({"meta": meta, "results": results, "loads": loads}, f, indent=1)
    render(meta, results, args.out, loads)
    log(f"wrote {args.out}/forward.md, forward.png, forward.json ({meta['seconds']} s)")


def render(meta, results, out, loads):
    bound = meta["bound"]
    threads = sorted({p["T"] for p in results})
    peak = {t: t * bound["flops_1"] for t in threads}
    # more threads never have less bandwidth than fewer: a lower 2-thread triad is load
    bw = {t: max(bound["bw_1"], bound["bw_2"] if t > 1 else 0.0) for t in threads}
    md = table(meta, results, peak, bw) + load_table(loads)
    os.makedirs(out, exist_ok=True)
    with open(os.path.join(out, "forward.md"), "w") as f:
        f.write(md)
    try:
        plot(results, os.path.join(out, "forward.png"))
    except ImportError as exc:
        log(f"no plot: matplotlib cannot be imported ({exc})")
    print(md)


def user_args():
    """sys.argv without the --build that run.sh adds."""
    out, skip = [], False
    for i, a in enumerate(sys.argv[1:]):
        if skip:
            skip = False
        elif a == "--build":
            skip = True
        elif not a.startswith("--build="):
            out.append(a)
    return out


def fmt_ms(ms):
    if ms >= 100:
        return f"{ms:,.0f}"
    if ms >= 10:
        return f"{ms:.1f}"
    if ms >= 1:
        return f"{ms:.2f}"
    return f"{ms:.3g}"


def table(meta, results, peak, bw):
    m, b = meta["machine"], meta["bound"]
    lines = [
        f"# bench/forward — {meta['date']}",
        "",
        f"Machine: {m['cpu']}, {m['cores']} cores, {m.get('mem_gib')} GiB, Linux {m['kernel']}; "
        f"load average {m['load_start']} at the start, {m['load_end']} at the end "
        f"(per point in forward.json). Run took {meta['seconds']} s: `{meta['command']}`.",
        "",
        f"Bounds measured at the start: fp32 peak {b['flops_1'] / 1e9:.1f} GFLOP/s on one core "
        f"({b['isa']} FMA loop; {b['flops_2'] / 1e9:.1f} with 2 threads), DRAM triad "
        f"{b['bw_1'] / 1e9:.1f} GB/s with 1 thread, {b['bw_2'] / 1e9:.1f} GB/s with 2. "
        "The FLOP bound of T threads is T × the one-core peak; the bandwidth bound is the best "
        "triad with at most T threads.",
        "",
        "Versions: " + ", ".join(f"{k} {v}" for k, v in meta["versions"].items())
        + f"; tkc compiled with `--dispatch {meta.get('dispatch', 'dense')}`.",
        "",
        "Each cell: median ms per forward (the forward only), then `F` = % of the FLOP bound on "
        "the top-K FLOPs (router + K of E experts per row, GEMMs) and `M` = % of the bandwidth "
        "bound on the bytes of the router and of the experts the batch uses. ONNX Runtime and "
        "C + OpenBLAS show the better of a dense graph/loop (every expert on every row) "
        "and a top-K gather, whichever was faster (named in brackets). Every peer's logits are checked against tkc's "
        f"(|Δ| ≤ {TOL_ABS:g} + {TOL_REL:g}·|tkc|, docs/formats.md §3.4); a peer that disagrees "
        "is marked ✗ with its max |Δ| and is not counted as best. `best/tkc` = the best peer's "
        "time over tkc's best (either CPU level): below 1 means a peer is faster.",
        "",
        "| model | T | B | top-K GFLOP | MB used | " + " | ".join(c for c, _ in COLUMNS) + " | best/tkc | max abs Δ vs tkc |",
        "|---|---|---|---|---|" + "---|" * len(COLUMNS) + "---|---|",
    ]
    for p in results:
        T = p["T"]
        cells = []
        tkc_best = min((pr["median_ms"] for k, pr in p["peers"].items()
                        if k.startswith("tkc") and pr["median_ms"] is not None), default=None)
        peer_best = None
        maxdiff = 0.0
        for label, keys in COLUMNS:
            agreeing = [k for k in keys if p["peers"].get(k, {}).get("agrees", False)]
            bad = [k for k in keys if k in p["peers"] and not p["peers"][k]["agrees"]]
            pick = best_of(p, agreeing) or best_of(p, bad)
            if not pick:
                cells.append("—")
                continue
            k, pr = pick
            ms = pr["median_ms"]
            if not k.startswith("tkc"):
                maxdiff = max(maxdiff, pr["max_abs_diff"])
            f = 100.0 * p["flops"] / (ms * 1e-3 * peak[T])
            mm = 100.0 * p["bytes"] / (ms * 1e-3 * bw[T])
            tag = f" [{VARIANT_TAG[k]}]" if k in VARIANT_TAG else ""
            cell = f"{fmt_ms(ms)}{tag} ({f:.0f}% F, {mm:.0f}% M)"
            if not pr["agrees"]:
                cell = f"✗ {cell} Δ={pr['max_abs_diff']:.2g}"
            elif not k.startswith("tkc") and (peer_best is None or ms < peer_best):
                peer_best = ms
            cells.append(cell)
        ratio = f"{peer_best / tkc_best:.2f}" if peer_best and tkc_best else "—"
        ref_note = "" if p.get("tkc_ref_ok", True) else " (tkc ✗ vs f64 ref)"
        lines.append(f"| {p['model']} | {T} | {p['B']} | {p['flops'] / 1e9:.3g} | {fmt_ms(p['bytes'] / 1e6)} | "
                     + " | ".join(cells) + f" | {ratio} | {maxdiff:.2g}{ref_note} |")
    lines.append("")
    if meta["skipped"]:
        lines.append("Skipped: " + "; ".join(f"{k}: {v}" for k, v in meta["skipped"].items()) + ".")
    else:
        lines.append("Nothing skipped.")
    lines.append("")
    return "\n".join(lines)


def fmt_s(seconds):
    return f"{seconds:.2f}" if seconds < 1 else f"{seconds:.1f}"


def load_table(loads):
    """Each peer's time from its start to its ready line (the model and weights loaded), the
    faster variant where a column has two; tkc's ready line splits its own."""
    if not loads:
        return ""
    seconds = {(ld["model"], ld["T"], ld["peer"]): ld["load_s"] for ld in loads}
    lines = ["", "Time to load (s): from a worker's start to its ready line, the model and its weights "
             "loaded (the faster of a column's two variants).", "",
             "| model | T | " + " | ".join(c for c, _ in COLUMNS) + " |",
             "|---|---|" + "---|" * len(COLUMNS)]
    for model, T in dict.fromkeys((ld["model"], ld["T"]) for ld in loads):
        cells = []
        for _, keys in COLUMNS:
            got = [seconds[(model, T, k)] for k in keys if (model, T, k) in seconds]
            cells.append(fmt_s(min(got)) if got else "—")
        lines.append(f"| {model} | {T} | " + " | ".join(cells) + " |")
    tkc = [ld for ld in loads if ld["peer"].startswith("tkc")]
    lines += ["", "tkc's ready lines: " + "; ".join(f"{ld['model']} T = {ld['T']}: {ld['desc']}"
                                                     for ld in tkc) + ".", ""]
    return "\n".join(lines)


if __name__ == "__main__":
    main()
