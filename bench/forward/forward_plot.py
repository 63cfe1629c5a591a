"""forward_plot.py — the report columns of bench/forward and its figure: median time per
forward vs batch size B, one panel per model, one line per peer column and thread count.

Shared by bench.py (forward.png beside forward.md) and scripts/artifact_figures.py (the
artifact's figure from a saved forward.json). Needs only the standard library until plot()
imports matplotlib.
"""

# report columns: (label, the peers whose best median it shows)
COLUMNS = [
    ("tkc (x86-64-v3)", ["tkc-v3"]),
    ("tkc --cpu x86-64-v4", ["tkc-v4"]),
    ("ONNX Runtime", ["ort-dense", "ort-sparse"]),
    ("PyTorch eager", ["torch"]),
    ("C + OpenBLAS", ["blas-dense", "blas-sparse"]),
]
COLORS = ["tab:red", "tab:purple", "tab:blue", "tab:orange", "tab:green"]
LINESTYLES = [("-", "solid"), ("--", "dashed"), (":", "dotted"), ("-.", "dash-dot")]  # by thread count


def best_of(point, keys):
    """(peer, its result) with the lowest median among keys in this point, or None."""
    best = None
    for k in keys:
        pr = point["peers"].get(k)
        if pr and pr["median_ms"] is not None and (best is None or pr["median_ms"] < best[1]["median_ms"]):
            best = (k, pr)
    return best


def plot(results, path, note=""):
    """Draws forward.json's results into the PNG at path; note, if given, is a second title
    line (where the numbers come from). Raises ImportError without matplotlib and ValueError
    when results holds no point."""
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    models = list(dict.fromkeys(p["model"] for p in results))
    if not models:
        raise ValueError("no results to plot")
    threads = sorted({p["T"] for p in results})
    styles = {T: LINESTYLES[i % len(LINESTYLES)] for i, T in enumerate(threads)}
    colors = dict(zip([c for c, _ in COLUMNS], COLORS))
    fig, axes = plt.subplots(1, len(models), figsize=(max(8.0, 5.0 * len(models)), 5.2), squeeze=False)
    for ax, m in zip(axes[0], models):
        pts = [p for p in results if p["model"] == m]
        for T in threads:
            for label, keys in COLUMNS:
                xs, ys = [], []
                for p in pts:
                    pick = best_of(p, keys) if p["T"] == T else None
                    if pick:
                        xs.append(p["B"])
                        ys.append(pick[1]["median_ms"])
                if xs:
                    ax.plot(xs, ys, styles[T][0], marker="o", ms=3, color=colors[label], label=f"{label}, T={T}")
        ax.set_xscale("log", base=2)
        ax.set_yscale("log")
        ax.set_xlabel("batch B (rows)")
        ax.set_ylabel("median ms per forward")
        ax.set_title(m)
        ax.grid(True, which="both", alpha=0.3)
    handles, labels = axes[0][0].get_legend_handles_labels()
    fig.legend(handles, labels, loc="lower center", ncol=5, fontsize=7)
    legend = ", ".join(f"{name}: {T} thread{'s' if T > 1 else ''}" for T, (_, name) in styles.items())
    title = f"bench/forward: median time per forward vs B ({legend})"
    fig.suptitle(title + ("\n" + note if note else ""), fontsize=10)
    fig.tight_layout(rect=(0, 0.12, 1, 1))
    fig.savefig(path, dpi=110)
    plt.close(fig)
