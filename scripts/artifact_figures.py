#!/usr/bin/env python3
"""scripts/artifact_figures.py — the artifact's figures and its obligations table, from the
files scripts/artifact.sh collects (docs/ARTIFACT.md):

  artifact_figures.py draw --out DIR [--link-base DIR] [--forward FORWARD.json]
                           [--obligations MODEL=FILE ...] [--compile-log MODEL=FILE ...]
      writes DIR/forward.png (bench/forward's time vs B, drawn by bench/forward/forward_plot.py),
      DIR/obligations.png (obligations per class per model) and DIR/compile_stages.png (tkc
      compile's time per stage per model), each only when its inputs are given, and prints on
      stdout the Markdown that embeds them (links relative to --link-base, default the
      current directory) with each figure's numbers in words.
  artifact_figures.py obligations-table --obligations MODEL=FILE ... [--solver-log MODEL=FILE ...]
      prints Table 1: obligations per class and the solver time (from tkc verify's stderr)
      per model.

An obligations FILE is a proof store's index.json (`tkc verify --proofs-dir`, one entry per
obligation with its "class") or a bundle's manifest.json (its "proofs": {"classes": ...},
which adds the classes only `tkc compile` proves: address, control, host). The class list is
taken from the data: the order of the first manifest's classes, then any other class in
the order it first appears. A compile log is `tkc compile`'s stderr: one line per stage,
`tkc compile: STAGE  MS ms  DETAIL` (a stage that runs once per target appears once per
target and is summed). Matplotlib is imported only by `draw`.
"""

import argparse
import collections
import json
import os
import re
import subprocess
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "bench", "forward"))
import forward_plot  # noqa: E402

STAGE_LINE = re.compile(r"^tkc compile: (\S+)\s+([0-9]+(?:\.[0-9]*)?) ms\b")
SOLVER_TIME = re.compile(r"solver time ([0-9.]+) s")


class InputError(Exception):
    """An input file that is not what its option says it is (the message names it)."""


def model_file(arg):
    """MODEL=FILE → (MODEL, FILE)."""
    name, sep, path = arg.partition("=")
    if not sep or not name or not path:
        raise argparse.ArgumentTypeError(f"expected MODEL=FILE, found '{arg}'")
    return name, path


def read_text(path):
    try:
        with open(path) as f:
            return f.read()
    except OSError as exc:
        raise InputError(f"{path}: cannot read ({exc})") from None


def load_json(path):
    try:
        with open(path) as f:
            return json.load(f)
    except (OSError, ValueError) as exc:
        raise InputError(f"{path}: cannot read JSON ({exc})") from None


# ---- obligations ------------------------------------------------------------------------

def obligation_counts(path):
    """(kind, {class: count} in the file's own order) of an index.json or a manifest.json."""
    doc = load_json(path)
    if isinstance(doc.get("obligations"), list):
        counts = collections.Counter()
        for i, o in enumerate(doc["obligations"]):
            if not isinstance(o, dict) or not isinstance(o.get("class"), str):
                raise InputError(f"{path}: obligations[{i}] has no \"class\" string")
            counts[o["class"]] += 1
        order = dict.fromkeys(o["class"] for o in doc["obligations"])
        return "verify", {c: counts[c] for c in order}
    classes = doc.get("proofs", {}).get("classes") if isinstance(doc.get("proofs"), dict) else None
    if isinstance(classes, dict) and all(isinstance(v, int) for v in classes.values()):
        return "bundle", dict(classes)
    raise InputError(f"{path}: expected a proof store's index.json (\"obligations\": [...]) or a "
                     "bundle's manifest.json (\"proofs\": {\"classes\": {...}})")


def obligation_entries(model_files):
    """[(kind, model, counts)] for [(model, file)]."""
    return [(kind, name, counts) for name, (kind, counts) in
            ((name, obligation_counts(path)) for name, path in model_files)]


def class_order(entries):
    """Every class of entries [(kind, model, counts)]: the first bundle's order, then the rest
    in order of first appearance."""
    first = [counts for kind, _, counts in entries if kind == "bundle"][:1]
    order = dict.fromkeys(c for counts in first + [e[2] for e in entries] for c in counts)
    return list(order)


def obligations_table(args):
    """Table 1: one row per model, one column per class found in the files, and the last
    "solver time N s" of the model's --solver-log."""
    logs = dict(args.solver_log)
    entries = obligation_entries(args.obligations)
    classes = class_order(entries)
    print("| model | " + " | ".join(classes) + " | total | solver time |")
    print("|---" * (len(classes) + 3) + "|")
    for _, name, counts in entries:
        times = SOLVER_TIME.findall(read_text(logs[name])) if name in logs else []
        solver = f"{times[-1]} s" if times else "—"
        cells = [str(counts.get(c, 0)) for c in classes]
        print(f"| {name} | " + " | ".join(cells) + f" | {sum(counts.values())} | {solver} |")


def plot_obligations(entries, path):
    """Stacked bars, one per model, one panel per kind of source (verify, bundle)."""
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    classes = class_order(entries)
    colors = dict(zip(classes, plt.get_cmap("tab10").colors * 2))
    panels = [(kind, title) for kind, title in (
        ("verify", "tkc verify: the scheduled IR"),
        ("bundle", "bundle (tkc compile): + LLVM validation, host stub")) if any(e[0] == kind for e in entries)]
    rows_of = {kind: [(model, counts) for k, model, counts in entries if k == kind] for kind, _ in panels}
    widths = [max(len(rows_of[kind]), 2) for kind, _ in panels]
    fig, axes = plt.subplots(1, len(panels), figsize=(2.0 + 1.3 * sum(widths), 4.8), squeeze=False,
                             gridspec_kw={"width_ratios": widths})
    for ax, (kind, title), width in zip(axes[0], panels, widths):
        rows = rows_of[kind]
        bottom = [0] * len(rows)
        for c in classes:
            heights = [counts.get(c, 0) for _, counts in rows]
            ax.bar([m for m, _ in rows], heights, width=0.6, bottom=bottom, color=colors[c], label=c)
            bottom = [b + h for b, h in zip(bottom, heights)]
        for x, total in enumerate(bottom):
            ax.annotate(str(total), (x, total), ha="center", va="bottom", fontsize=8)
        ax.set_xlim(-0.6, width - 0.4)
        ax.set_ylim(0, max(bottom) * 1.1)
        ax.set_title(title, fontsize=10)
        ax.set_ylabel("obligations proved")
        ax.tick_params(axis="x", labelrotation=30)
    handles, labels = axes[0][-1].get_legend_handles_labels()
    fig.legend(handles[::-1], labels[::-1], loc="center right", fontsize=8, title="class")
    fig.suptitle("Obligations per class per model", fontsize=11)
    fig.tight_layout(rect=(0, 0, 1 - 1.4 / fig.get_figwidth(), 1))  # 1.4 inch for the legend
    fig.savefig(path, dpi=110)
    plt.close(fig)


# ---- compile stages ---------------------------------------------------------------------

def stage_times(path):
    """{stage: ms} from tkc compile's stderr, in pipeline order, repeated stages summed."""
    text = read_text(path)
    stages = collections.OrderedDict()
    for line in text.splitlines():
        m = STAGE_LINE.match(line)
        if m:
            stages[m.group(1)] = stages.get(m.group(1), 0.0) + float(m.group(2))
    if not stages:
        raise InputError(f"{path}: no 'tkc compile: STAGE MS ms' line (was it compiled with --quiet?)")
    return stages


def plot_stages(entries, path):
    """Horizontal stacked bars: one per model, one segment per stage."""
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    stages = list(dict.fromkeys(s for _, times in entries for s in times))
    colors = dict(zip(stages, plt.get_cmap("tab20").colors))
    height = 2.4 + 0.5 * len(entries)
    fig, ax = plt.subplots(figsize=(10.0, height))
    models = [m for m, _ in entries]
    left = [0.0] * len(entries)
    for s in stages:
        widths = [times.get(s, 0.0) / 1e3 for _, times in entries]
        ax.barh(models, widths, left=left, color=colors[s], label=s)
        left = [a + w for a, w in zip(left, widths)]
    for y, total in enumerate(left):
        ax.annotate(f" {total:.1f} s", (total, y), va="center", fontsize=8)
    ax.invert_yaxis()
    ax.set_xlabel("seconds (wall time of each stage, summed over targets)")
    ax.set_title("tkc compile: time per stage", fontsize=11)
    ax.margins(x=0.08)
    fig.legend(*ax.get_legend_handles_labels(), loc="lower center", ncol=7, fontsize=8)
    fig.tight_layout(rect=(0, 0.6 / height, 1, 1))  # 0.6 inch for the legend
    fig.savefig(path, dpi=110)
    plt.close(fig)


# ---- draw -------------------------------------------------------------------------------

def image(out, link_base, name, alt):
    path = os.path.join(out, name)
    return path, f"![{alt}]({os.path.relpath(path, link_base)})"


def forward_figure(forward, out, link_base):
    """Figure 1 from bench/forward's forward.json; its Markdown lines."""
    saved = load_json(forward)
    meta, results = saved.get("meta", {}), saved.get("results")
    if not isinstance(results, list) or not results:
        raise InputError(f"{forward}: expected bench/forward's forward.json with a non-empty \"results\"")
    machine = meta.get("machine", {})
    run = f"the run of {meta.get('date', '?')} on {machine.get('cpu', '?')}, {machine.get('cores', '?')} cores"
    path, link = image(out, link_base, "forward.png", "forward time vs B per model")
    forward_plot.plot(results, path, f"{os.path.basename(forward)}: {run}")
    models = ", ".join(dict.fromkeys(p["model"] for p in results))
    return ["### Figure 1 — forward time vs B per model, tkc and its peers", "", link, "",
            f"From `{forward}` ({run}); the numbers are that run's (bench/README.md, \"forward\"), "
            f"not this machine's unless bench/forward/run.sh ran here. {len(results)} points, models {models}.", ""]


def obligations_figure(model_files, out, link_base):
    """Figure 2 from index.json / manifest.json files; its Markdown lines."""
    entries = obligation_entries(model_files)
    path, link = image(out, link_base, "obligations.png", "obligations per class per model")
    plot_obligations(entries, path)
    totals = "; ".join(f"{name} ({kind}) {sum(c.values())}" for kind, name, c in entries)
    return ["### Figure 2 — obligations per class per model", "", link, "", f"Totals: {totals}.", ""]


def stages_figure(model_files, out, link_base):
    """Figure 3 from tkc compile's stderr files; its Markdown lines."""
    entries = [(name, stage_times(path)) for name, path in model_files]
    path, link = image(out, link_base, "compile_stages.png", "tkc compile time per stage")
    plot_stages(entries, path)
    totals = "; ".join(f"{name} {sum(t.values()):.1f} ms" for name, t in entries)
    return ["### Figure 3 — tkc compile: time per stage", "", link, "", f"Totals: {totals}.", ""]


# ---- Table 3b: static GPU figures -------------------------------------------------------

# CUDA's per-SM limits for the archs tkc emits (the CUDA occupancy calculator's inputs):
# 64K registers allocated 256 per warp, at most 64 warps and 32 blocks per SM.
CUDA_SM = {"regs": 65536, "reg_unit": 256, "max_warps": 64, "max_blocks": 32}


def cuda_warps_per_sm(regs, workgroup_size):
    """Resident warps per SM for a kernel of `regs` registers per thread (no shared memory;
    the tiled schedule will add its limit)."""
    warps = -(-workgroup_size // 32)
    per_warp = -(-regs * 32 // CUDA_SM["reg_unit"]) * CUDA_SM["reg_unit"]
    blocks = min(CUDA_SM["regs"] // max(per_warp, 1) // warps, CUDA_SM["max_warps"] // warps,
                 CUDA_SM["max_blocks"])
    return blocks * warps


def ptxas_figures(ptxas, ptx, sm):
    """{function: {registers, spills, barriers, shared}} from `ptxas -v` (it prints no smem
    line for a kernel without shared memory)."""
    out = subprocess.run([ptxas, "-v", f"-arch={sm}", ptx, "-o", os.devnull], capture_output=True, text=True)
    if out.returncode:
        raise InputError(f"ptxas -arch={sm} {ptx}: {out.stderr.strip()[:300]}")
    figs, cur = {}, None
    for line in out.stderr.splitlines():
        m = re.search(r"Compiling entry function '(\w+)'", line)
        if m:
            cur = figs.setdefault(m.group(1), {"registers": 0, "spills": 0, "barriers": 0, "shared": 0})
        m = re.search(r"(\d+) bytes smem", line)
        if m and cur is not None:
            cur["shared"] = int(m.group(1))
        m = re.search(r"(\d+) bytes spill stores", line)
        if m and cur is not None:
            cur["spills"] = int(m.group(1))
        m = re.search(r"Used (\d+) registers(?:, used (\d+) barriers)?", line)
        if m and cur is not None:
            cur["registers"], cur["barriers"] = int(m.group(1)), int(m.group(2) or 0)
    return figs


def gpu_table(args):
    manifest = load_json(args.manifest)
    # each GPU tile set's launches: the module's in "kernels", a further set's in gpu_tile_sets
    launches = {s["name"]: s["kernels"] for s in manifest.get("gpu_tile_sets", [])}
    launches[manifest.get("gpu_tiles")] = manifest.get("kernels", [])
    rows = ["| target | kernels | max SGPR | max VGPR | max LDS bytes | max scratch bytes | occupancy (min–max) |",
            "|---|---|---|---|---|---|---|"]
    for t in manifest["targets"]:
        if t["kind"] == "amdgcn":
            ks = t["kernels"]
            waves = sorted(k["waves_per_simd"] for k in ks)
            limits = sorted({k["limited_by"] for k in ks if k["waves_per_simd"] == waves[0]})
            rows.append(f"| {t['arch']} | {len(ks)} | {max(k['sgpr'] for k in ks)} | {max(k['vgpr'] for k in ks)} | "
                        f"{max(k['lds_bytes'] for k in ks)} | {max(k['scratch_bytes'] for k in ks)} | "
                        f"{waves[0]}–{waves[-1]} waves/SIMD (lowest limited by {', '.join(limits)}) |")
        elif t["kind"] == "nvptx" and args.ptxas:
            figs = ptxas_figures(args.ptxas, os.path.join(os.path.dirname(args.manifest), t["file"]), t["arch"])
            wg = {k["name"]: k["workgroup_size"] for k in launches[t.get("tile_set")]}
            if set(figs) != set(wg):
                raise InputError(f"{t['file']}: ptxas compiled {len(figs)} functions, the manifest has {len(wg)} kernels")
            occ = sorted(cuda_warps_per_sm(f["registers"], wg[n]) for n, f in figs.items())
            rows.append(f"| {t['arch']} (ptxas -v) | {len(figs)} | — | {max(f['registers'] for f in figs.values())} "
                        f"registers/thread | {max(f['shared'] for f in figs.values())} (shared) | "
                        f"{max(f['spills'] for f in figs.values())} (spill stores) | "
                        f"{occ[0]}–{occ[-1]} warps/SM of {CUDA_SM['max_warps']} |")
    ai = sorted(k["intensity"]["flops"] / k["intensity"]["bytes"] for ks in launches.values() for k in ks
                if "intensity" in k)
    if ai:
        rows += ["", f"GEMM launches' arithmetic intensity (one thread's reduction step, global loads): "
                     f"{ai[0]:.3g}–{ai[-1]:.3g} FLOP/byte over {len(ai)} launches."]
    print("\n".join(rows))


def draw(args):
    os.makedirs(args.out, exist_ok=True)
    md = []
    if args.forward:
        md += forward_figure(args.forward, args.out, args.link_base)
    if args.obligations:
        md += obligations_figure(args.obligations, args.out, args.link_base)
    if args.compile_log:
        md += stages_figure(args.compile_log, args.out, args.link_base)
    if not md:
        raise InputError("nothing to draw: give --forward, --obligations or --compile-log")
    print("\n".join(md))


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = ap.add_subparsers(dest="command", required=True)
    d = sub.add_parser("draw", help="write the figures and print the Markdown that embeds them")
    d.add_argument("--out", required=True, help="the folder the PNGs go to")
    d.add_argument("--link-base", default=".", help="the Markdown's links are relative to this folder")
    d.add_argument("--forward", metavar="FORWARD.json", help="bench/forward's forward.json")
    d.add_argument("--obligations", metavar="MODEL=FILE", type=model_file, action="append", default=[],
                   help="a proof store's index.json or a bundle's manifest.json (repeatable)")
    d.add_argument("--compile-log", metavar="MODEL=FILE", type=model_file, action="append", default=[],
                   help="tkc compile's stderr (repeatable)")
    t = sub.add_parser("obligations-table", help="print Table 1")
    t.add_argument("--obligations", metavar="MODEL=FILE", type=model_file, action="append", required=True,
                   help="a proof store's index.json or a bundle's manifest.json (repeatable)")
    t.add_argument("--solver-log", metavar="MODEL=FILE", type=model_file, action="append", default=[],
                   help="tkc verify's stderr, for the solver time (repeatable)")
    g = sub.add_parser("gpu-table", help="print the static GPU figures of a bundle (Table 3b)")
    g.add_argument("--manifest", required=True, help="the bundle's manifest.json")
    g.add_argument("--ptxas", help="ptxas, for the nvptx targets' registers (skipped without)")
    args = ap.parse_args()
    try:
        if args.command == "draw":
            draw(args)
        elif args.command == "gpu-table":
            gpu_table(args)
        else:
            obligations_table(args)
    except ImportError as exc:
        sys.exit(f"artifact_figures: matplotlib cannot be imported by {sys.executable} ({exc}); "
                 "apt-get install python3-matplotlib")
    except InputError as exc:
        sys.exit(f"artifact_figures: {exc}")


if __name__ == "__main__":
    main()
