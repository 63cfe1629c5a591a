#!/usr/bin/env python3
"""bench/forward/qwen3.py — the Qwen3-30B-A3B MoE block (issue 16 item 6): tkc against PyTorch
eager running the block as Hugging Face's Qwen3MoeSparseMoeBlock computes it, on the same
random weights (F32 and BF16) and tokens, T in {1, 16, 256}, 1 and 2 threads.

Run by bench/forward/qwen3.sh (venv, build, bundle); see bench/README.md "Qwen3-MoE block".

Figures: ms per forward (best of --reps rounds of --calls calls, peers interleaved), the
same-run ratio torch/tkc (> 1: tkc faster), and each time as a share of the memory-bandwidth
bound on the bytes the block must read: the router and the distinct experts the T tokens hit
(3·I·H weights each), at 4 B per weight for tkc (its kernels read f32; BF16 is widened when
the session is created) and at the checkpoint's width for PyTorch, over the triad bandwidth
of fwd_bound at the same thread count. ONNX Runtime (where bench/.venv has it) runs the same
block as an ONNX graph (build_onnx: the per-expert NonZero/Gather/ScatterND form) on the F32
weights only: its CPU provider has no BF16 MatMul.
"""
import argparse
import json
import os
import struct
import subprocess
import sys
import time

import numpy as np

H, I, E, K = 2048, 768, 128, 8
LAYER = 0


def log(msg):
    print(f"qwen3: {msg}", file=sys.stderr, flush=True)


# ---- weights ------------------------------------------------------------------------------


def names():
    p = f"model.layers.{LAYER}.mlp."
    yield p + "gate.weight", (E, H)
    for e in range(E):
        yield f"{p}experts.{e}.gate_proj.weight", (I, H)
        yield f"{p}experts.{e}.up_proj.weight", (I, H)
        yield f"{p}experts.{e}.down_proj.weight", (H, I)


def random_weights(seed):
    """name -> f32 array, N(0, 0.02) as Hugging Face initialises Linear weights."""
    rng = np.random.default_rng(seed)
    return {n: (rng.standard_normal(s, dtype=np.float32) * 0.02) for n, s in names()}


def to_bf16_bits(a):
    """f32 -> bf16 bits, round to nearest even (finite inputs)."""
    u = a.view(np.uint32)
    return ((u + 0x7FFF + ((u >> 16) & 1)) >> 16).astype(np.uint16)


def bf16_to_f32(bits):
    return (bits.astype(np.uint32) << 16).view(np.float32)


def write_safetensors(path, weights, dtype):
    header, offset = {}, 0
    blobs = []
    for n, a in weights.items():
        blob = (to_bf16_bits(a) if dtype == "BF16" else a).tobytes()
        header[n] = {"dtype": dtype, "shape": list(a.shape), "data_offsets": [offset, offset + len(blob)]}
        offset += len(blob)
        blobs.append(blob)
    text = json.dumps(header).encode()
    text += b" " * (-len(text) % 8)
    tmp = path + ".tmp"
    with open(tmp, "wb") as f:
        f.write(struct.pack("<Q", len(text)) + text)
        for b in blobs:
            f.write(b)
    os.replace(tmp, path)


# ---- peers --------------------------------------------------------------------------------


class Worker:
    """A bench/forward worker process (worker.h's protocol)."""

    def __init__(self, argv):
        self.p = subprocess.Popen(argv, stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
        line = self.p.stdout.readline().strip()
        if not line.startswith("ready"):
            raise RuntimeError(f"{argv[0]}: {line}")
        self.ready = line

    def run(self, x_path, tokens, calls, out_path="-"):
        self.p.stdin.write(f"run {tokens} {calls} {x_path} {out_path}\n")
        self.p.stdin.flush()
        line = self.p.stdout.readline().strip()
        if not line.startswith("ok "):
            raise RuntimeError(line)
        return float(line.split()[1])

    def close(self):
        self.p.stdin.write("quit\n")
        self.p.stdin.flush()
        self.p.wait()


def torch_block(weights, dtype, threads):
    """The block as Hugging Face's Qwen3MoeSparseMoeBlock runs it (eager, one Linear per
    projection, the experts hit looped over with index_add_), in `dtype`."""
    import torch

    torch.set_num_threads(threads)
    p = f"model.layers.{LAYER}.mlp."
    t = {n: torch.from_numpy(a).to(dtype) for n, a in weights.items()}
    router = t[p + "gate.weight"]
    experts = [
        tuple(t[f"{p}experts.{e}.{proj}.weight"] for proj in ("gate_proj", "up_proj", "down_proj"))
        for e in range(E)
    ]
    F = torch.nn.functional

    @torch.no_grad()
    def forward(x):
        hidden = x.to(dtype)
        logits = F.linear(hidden, router)
        weights_ = F.softmax(logits, dim=1, dtype=torch.float)
        weights_, chosen = torch.topk(weights_, K, dim=-1)
        weights_ /= weights_.sum(dim=-1, keepdim=True)  # norm_topk_prob
        weights_ = weights_.to(dtype)
        out = torch.zeros_like(hidden)
        mask = F.one_hot(chosen, num_classes=E).permute(2, 1, 0)
        for e in torch.greater(mask.sum(dim=(-1, -2)), 0).nonzero():
            e = int(e)
            slot, rows = torch.where(mask[e])
            g, u, d = experts[e]
            h = F.linear(F.silu(F.linear(hidden[rows], g)) * F.linear(hidden[rows], u), d)
            out.index_add_(0, rows, h * weights_[rows, slot, None])
        return out.float()

    return forward


OPSET = 20


def build_onnx(weights):
    """The block as an ONNX graph, sparse as Hugging Face runs it: router MatMul, Softmax, TopK,
    the kept weights over their sum (norm_topk_prob), and per expert NonZero on its column
    of the top-K one-hot, Gather of those tokens, SwiGLU down(silu(gate(x)) * up(x)) and
    ScatterND(reduction=add) of the weighted result, in ascending expert order."""
    from onnx import TensorProto, helper, numpy_helper
    from peers import GraphBuilder

    g = GraphBuilder()
    const, node, nodes, inits = g.const, g.node, g.nodes, g.inits

    def i64(*v):
        return const(np.array(v, dtype=np.int64))

    p = f"model.layers.{LAYER}.mlp."
    probs = node("Softmax", [node("MatMul", ["x", const(weights[p + "gate.weight"].T, "router")])], axis=-1)
    top, idx = node("TopK", [probs, i64(K)], n_out=2, axis=-1, largest=1, sorted=1)
    top = node("Div", [top, node("ReduceSum", [top, i64(1)], keepdims=1)])
    onehot = node("OneHot", [idx, const(np.array(E, dtype=np.int64)),
                             const(np.array([0.0, 1.0], dtype=np.float32))], axis=-1)  # [T, K, E]
    w = node("ReduceSum", [node("Mul", [onehot, node("Unsqueeze", [top, i64(2)])]), i64(1)], keepdims=0)
    keep = node("Cast", [node("ReduceMax", [onehot, i64(1)], keepdims=0)], to=TensorProto.BOOL)  # [T, E]
    t_dim = node("Shape", ["x"], start=0, end=1)
    y = node("ConstantOfShape", [node("Concat", [t_dim, i64(H)], axis=0)],
             value=numpy_helper.from_array(np.array([0.0], dtype=np.float32)))
    minus1, axis1 = i64(-1), i64(1)
    for e in range(E):
        s, t = i64(e), i64(e + 1)
        rows = node("Reshape", [node("NonZero", [node("Reshape", [node("Slice", [keep, s, t, axis1]), minus1])]),
                                minus1])
        xe = node("Gather", ["x", rows], axis=0)
        g = node("MatMul", [xe, const(weights[f"{p}experts.{e}.gate_proj.weight"].T, f"e{e}_gate")])
        u = node("MatMul", [xe, const(weights[f"{p}experts.{e}.up_proj.weight"].T, f"e{e}_up")])
        act = node("Mul", [node("Mul", [g, node("Sigmoid", [g])]), u])
        down = node("MatMul", [act, const(weights[f"{p}experts.{e}.down_proj.weight"].T, f"e{e}_down")])
        we = node("Gather", [node("Slice", [w, s, t, axis1]), rows], axis=0)
        y = node("ScatterND", [y, node("Unsqueeze", [rows, axis1]), node("Mul", [down, we])], reduction="add")
    nodes.append(helper.make_node("Identity", [y], ["y"]))
    graph = helper.make_graph(nodes, "qwen3_moe_block",
                              [helper.make_tensor_value_info("x", TensorProto.FLOAT, ["T", H])],
                              [helper.make_tensor_value_info("y", TensorProto.FLOAT, ["T", H])], inits)
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", OPSET)],
                              producer_name="tkc bench/forward/qwen3.py")
    model.ir_version = 9
    return model


def ensure_onnx(weights, work, stamp):
    """The graph with its weights in an external file (2.4 GB is over protobuf's 2 GB), built
    once per weights (stamp)."""
    import onnx

    path, stamp_file = os.path.join(work, "block.onnx"), os.path.join(work, "block.onnx.stamp")
    if os.path.exists(path) and os.path.exists(stamp_file) and open(stamp_file).read() == stamp:
        return path
    log(f"writing {path} (ONNX, external data)")
    model = build_onnx(weights)
    for f in (path, path + ".data", stamp_file):
        if os.path.exists(f):
            os.remove(f)
    onnx.save_model(model, path, save_as_external_data=True, all_tensors_to_one_file=True,
                    location="block.onnx.data", size_threshold=1024)
    with open(stamp_file, "w") as f:
        f.write(stamp)
    return path


def ort_block(path, threads):
    import onnxruntime as ort

    so = ort.SessionOptions()
    so.intra_op_num_threads = threads
    so.inter_op_num_threads = 1
    so.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
    so.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
    sess = ort.InferenceSession(path, so, providers=["CPUExecutionProvider"])
    return lambda x: sess.run(["y"], {"x": x})[0]


def time_ort(forward, x, calls):
    forward(x)  # warm-up
    t0 = time.perf_counter()
    for _ in range(calls):
        y = forward(x)
    return (time.perf_counter() - t0) * 1e3 / calls, y


def time_torch(forward, x, calls):
    import torch

    xt = torch.from_numpy(x)
    forward(xt)  # warm-up
    t0 = time.perf_counter()
    for _ in range(calls):
        y = forward(xt)
    return (time.perf_counter() - t0) * 1e3 / calls, y.numpy()


# ---- bounds -------------------------------------------------------------------------------


def experts_hit(weights, x):
    """The distinct experts the tokens of x route to (the reference rule, in double)."""
    r = x.astype(np.float64) @ weights[f"model.layers.{LAYER}.mlp.gate.weight"].astype(np.float64).T
    top = np.argsort(-r, axis=1, kind="stable")[:, :K]
    return len(np.unique(top))


def bound_ms(hit, bytes_per_weight, bytes_per_s):
    weights = E * H + hit * 3 * I * H
    return weights * bytes_per_weight / bytes_per_s * 1e3


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--build", required=True, help="build dir with bin/tkc, bin/tk_forward, bin/fwd_bound")
    ap.add_argument("--work", required=True, help="where weights and the bundle are kept")
    ap.add_argument("--out", required=True, help="results directory (results.json, results.md)")
    ap.add_argument("--config", required=True)
    ap.add_argument("--tokens", default="1,16,256")
    ap.add_argument("--threads", default="1,2")
    ap.add_argument("--reps", type=int, default=3)
    ap.add_argument("--no-torch", action="store_true")
    ap.add_argument("--no-ort", action="store_true")
    a = ap.parse_args()
    os.makedirs(a.work, exist_ok=True)
    os.makedirs(a.out, exist_ok=True)
    tokens = [int(t) for t in a.tokens.split(",")]
    threads = [int(t) for t in a.threads.split(",")]

    weights = random_weights(0)
    ckpts = {}
    for dtype in ("F32", "BF16"):
        path = os.path.join(a.work, f"block.{dtype.lower()}.safetensors")
        if not os.path.exists(path):
            log(f"writing {path}")
            write_safetensors(path, weights, dtype)
        ckpts[dtype] = path
    bundle = os.path.join(a.work, "bundle")
    if not os.path.exists(os.path.join(bundle, "manifest.json")):
        log(f"compiling {a.config} (verified; takes a while for 128 experts)")
        subprocess.run([os.path.join(a.build, "bin", "tkc"), "compile", a.config, "--targets", "x86_64",
                        "-o", bundle], check=True)
    bound = json.loads(subprocess.run([os.path.join(a.build, "bin", "fwd_bound")], check=True,
                                      capture_output=True, text=True).stdout)
    rng = np.random.default_rng(1)
    x_all = rng.standard_normal((max(tokens), H), dtype=np.float32)
    torch_ok = not a.no_torch
    if torch_ok:
        try:
            import torch  # noqa: F401
        except ImportError as err:
            log(f"PyTorch skipped: {err}")
            torch_ok = False

    onnx_path = None
    if not a.no_ort:
        try:
            import onnxruntime  # noqa: F401
            onnx_path = ensure_onnx(weights, a.work, f"seed 0 H{H} I{I} E{E} K{K} opset{OPSET}")
        except ImportError as err:
            log(f"ONNX Runtime skipped: {err}")

    rows = []
    for dtype, path in ckpts.items():
        ref_weights = weights if dtype == "F32" else {n: bf16_to_f32(to_bf16_bits(w)) for n, w in weights.items()}
        for T in tokens:
            x = np.ascontiguousarray(x_all[:T])
            x_path = os.path.join(a.work, f"x{T}.f32")
            x.tofile(x_path)
            hit = experts_hit(ref_weights, x)
            for th in threads:
                tk = Worker([os.path.join(a.build, "bin", "tk_forward"), "--bundle", bundle,
                             "--checkpoint", path, "--threads", str(th)])
                calls = max(1, min(20, 200 // T))
                tk_ms, torch_ms, ort_ms, diff, ort_diff = [], [], [], None, None
                fwd = torch_block(ref_weights, torch.float32 if dtype == "F32" else torch.bfloat16, th) if torch_ok else None
                ort_fwd = ort_block(onnx_path, th) if onnx_path and dtype == "F32" else None
                out_path = os.path.join(a.work, "tk_out.f32")
                for _ in range(a.reps):
                    tk_ms.append(tk.run(x_path, T, calls, out_path))
                    if fwd:
                        ms, y = time_torch(fwd, x, calls)
                        torch_ms.append(ms)
                    if ort_fwd:
                        ms, y_ort = time_ort(ort_fwd, x, calls)
                        ort_ms.append(ms)
                tk.close()
                got = np.fromfile(out_path, dtype=np.float32).reshape(T, H)
                if fwd:
                    diff = float(np.max(np.abs(got - y)))
                if ort_fwd:
                    ort_diff = float(np.max(np.abs(got - y_ort)))
                    del ort_fwd
                bw = bound[f"bw_{th}"]  # triad bytes/s at this thread count (fwd_bound)
                row = {"dtype": dtype, "tokens": T, "threads": th, "experts_hit": hit,
                       "tkc_ms": min(tk_ms), "torch_ms": min(torch_ms) if torch_ms else None,
                       "max_abs_diff_vs_torch": diff,
                       "ort_ms": min(ort_ms) if ort_ms else None, "max_abs_diff_vs_ort": ort_diff,
                       "tkc_bound_ms": bound_ms(hit, 4, bw),
                       "torch_bound_ms": bound_ms(hit, 4 if dtype == "F32" else 2, bw)}
                rows.append(row)
                log(json.dumps(row))
    with open(os.path.join(a.out, "results.json"), "w") as f:
        json.dump({"bound": bound, "rows": rows}, f, indent=1)
    lines = ["| weights | T | threads | experts hit | tkc ms | torch ms | torch/tkc | ORT ms | ORT/tkc "
             "| tkc % bound | torch % bound | ORT % bound | max |tkc − torch| | max |tkc − ORT| |",
             "|---|---|---|---|---|---|---|---|---|---|---|---|---|---|"]

    def opt(v, spec):
        return format(v, spec) if v is not None else "—"

    for r in rows:
        t, o, tk_ms = r["torch_ms"], r["ort_ms"], r["tkc_ms"]
        lines.append(" | ".join([
            f"| {r['dtype']}", str(r["tokens"]), str(r["threads"]), str(r["experts_hit"]), f"{tk_ms:.2f}",
            opt(t, ".2f"), opt(t and t / tk_ms, ".2f"), opt(o, ".2f"), opt(o and o / tk_ms, ".2f"),
            f"{100 * r['tkc_bound_ms'] / tk_ms:.0f}", opt(t and 100 * r["torch_bound_ms"] / t, ".0f"),
            opt(o and 100 * r["tkc_bound_ms"] / o, ".0f"), opt(r["max_abs_diff_vs_torch"], ".2g"),
            opt(r["max_abs_diff_vs_ort"], ".2g")]) + " |")
    with open(os.path.join(a.out, "results.md"), "w") as f:
        f.write("\n".join(lines) + "\n")
    print("\n".join(lines))


if __name__ == "__main__":
    main()
