"""peers.py — the Python peers of bench/forward (ONNX Runtime, PyTorch eager), each the
forward of docs/formats.md §3.1 built from the same checkpoint.tkp1, speaking worker.h's line
protocol on stdin/stdout:

    python peers.py ort-dense|ort-sparse|torch --arch ARCH --checkpoint FILE --threads T
                    [--onnx-dir DIR] [--device cpu|cuda]   (--device: torch only; cuda is
                                                            scripts/gpu-check.sh's GPU peer)
    python peers.py build-onnx --arch ARCH --checkpoint FILE --onnx-dir DIR   (graphs only)
"""

import argparse
import json
import os
import sys
import time

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import tkp1  # noqa: E402

OPSET = 20  # Gelu(approximate) needs 20; LayerNormalization 17; ScatterND reduction 16


# ---- ONNX graphs ------------------------------------------------------------------------

class GraphBuilder:
    """The nodes and initializers of an ONNX graph being built, each output and constant under
    a unique name (also used by qwen3.py)."""

    def __init__(self):
        self.nodes, self.inits, self.count = [], [], 0

    def name(self, stem):
        self.count += 1
        return f"{stem}_{self.count}"

    def const(self, arr, stem="c"):
        from onnx import numpy_helper

        n = self.name(stem)
        self.inits.append(numpy_helper.from_array(np.ascontiguousarray(arr), n))
        return n

    def node(self, op, inputs, n_out=1, stem=None, **attrs):
        from onnx import helper

        outs = [self.name(stem or op.lower()) for _ in range(n_out)]
        self.nodes.append(helper.make_node(op, inputs, outs, **attrs))
        return outs[0] if n_out == 1 else outs


def build_onnx(params, variant):
    """The model as an ONNX graph. dense: every expert on every row, each term added through
    Where(keep, w·out, 0) (the select of §3.1); sparse: per expert, NonZero on its keep column,
    Gather of those rows, the chain on them, ScatterND(reduction=add) of w·out into y, in
    ascending e."""
    import onnx
    from onnx import TensorProto, helper, numpy_helper

    d = params["dims"]
    g = GraphBuilder()
    const, node, nodes, inits = g.const, g.node, g.nodes, g.inits

    def chain(h, layers, e):
        for li, (w, b, g, be) in enumerate(layers):
            wn = const(w, f"e{e}_w{li}")
            bn = const(b, f"e{e}_b{li}")
            h = node("Gemm", [h, wn, bn])
            if g is not None:
                h = node("LayerNormalization", [h, const(g, f"e{e}_g{li}"), const(be, f"e{e}_be{li}")],
                         axis=-1, epsilon=d["eps"])
                h = node("Gelu", [h], approximate="tanh" if d["act"] == "gelu_tanh" else "none")
        return h

    x = "x"
    wr, br = params["router"]
    r = node("Gemm", [x, const(wr, "router_w"), const(br, "router_b")])
    p = node("Softmax", [r], axis=-1)
    _, idx = node("TopK", [p, const(np.array([d["K"]], dtype=np.int64))], n_out=2, axis=-1,
                  largest=1, sorted=1)
    onehot = node("OneHot", [idx, const(np.array(d["E"], dtype=np.int64)),
                             const(np.array([0.0, 1.0], dtype=np.float32))], axis=-1)
    keepf = node("ReduceMax", [onehot, const(np.array([1], dtype=np.int64))], keepdims=0)
    keep = node("Cast", [keepf], to=TensorProto.BOOL)
    zero = const(np.array(0.0, dtype=np.float32), "zero")
    w = node("Where", [keep, p, zero])
    axis1 = const(np.array([1], dtype=np.int64))
    y = None
    if variant == "dense":
        for e, layers in enumerate(params["experts"]):
            out_e = chain(x, layers, e)
            s, t = const(np.array([e], dtype=np.int64)), const(np.array([e + 1], dtype=np.int64))
            ke = node("Slice", [keep, s, t, axis1])
            we = node("Slice", [w, s, t, axis1])
            term = node("Where", [ke, node("Mul", [out_e, we]), zero])
            y = term if y is None else node("Add", [y, term])
    else:
        b_dim = node("Shape", [x], start=0, end=1)
        y = node("ConstantOfShape", [node("Concat", [b_dim, const(np.array([d["out"]], dtype=np.int64))],
                                          axis=0)],
                 value=numpy_helper.from_array(np.array([0.0], dtype=np.float32)))
        minus1 = const(np.array([-1], dtype=np.int64))
        for e, layers in enumerate(params["experts"]):
            s, t = const(np.array([e], dtype=np.int64)), const(np.array([e + 1], dtype=np.int64))
            ke = node("Reshape", [node("Slice", [keep, s, t, axis1]), minus1])
            rows = node("Reshape", [node("NonZero", [ke]), minus1])
            xe = node("Gather", [x, rows], axis=0)
            out_e = chain(xe, layers, e)
            we = node("Gather", [node("Slice", [w, s, t, axis1]), rows], axis=0)
            upd = node("Mul", [out_e, we])
            y = node("ScatterND", [y, node("Unsqueeze", [rows, axis1]), upd], reduction="add")
    nodes.append(helper.make_node("Identity", [y], ["logits"]))
    graph = helper.make_graph(
        nodes, f"tkc_bench_{variant}",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, ["B", d["in"]])],
        [helper.make_tensor_value_info("logits", TensorProto.FLOAT, ["B", d["out"]])],
        inits)
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", OPSET)],
                              producer_name="tkc bench/forward")
    model.ir_version = 9
    return model


def onnx_path(onnx_dir, variant):
    return os.path.join(onnx_dir, f"{variant}.onnx")


def ensure_onnx(arch_path, ckpt_path, onnx_dir, variants=("dense", "sparse")):
    """Builds the graphs once per checkpoint (stamp = checkpoint size and mtime); weights go to
    an external data file beside each graph (a Medium model is over protobuf's 2 GB)."""
    import onnx

    os.makedirs(onnx_dir, exist_ok=True)
    st = os.stat(ckpt_path)
    stamp = f"{os.path.abspath(ckpt_path)} {st.st_size} {st.st_mtime_ns} opset{OPSET} v2"
    stamp_file = os.path.join(onnx_dir, "stamp")
    if (os.path.exists(stamp_file) and open(stamp_file).read() == stamp
            and all(os.path.exists(onnx_path(onnx_dir, v)) for v in variants)):
        return
    if os.path.exists(stamp_file):
        os.remove(stamp_file)
    arch = json.load(open(arch_path))
    params = tkp1.moe_params(arch, tkp1.read_checkpoint(ckpt_path)["tensors"])
    for v in variants:
        model = build_onnx(params, v)
        onnx.checker.check_model(model)
        path = onnx_path(onnx_dir, v)
        data = f"{v}.onnx.data"
        if os.path.exists(os.path.join(onnx_dir, data)):
            os.remove(os.path.join(onnx_dir, data))
        onnx.save_model(model, path, save_as_external_data=True, all_tensors_to_one_file=True,
                        location=data, size_threshold=1024)
        del model
    with open(stamp_file, "w") as f:
        f.write(stamp)


def make_ort(args, variant):
    import onnxruntime as ort

    ensure_onnx(args.arch, args.checkpoint, args.onnx_dir, (variant,))
    so = ort.SessionOptions()
    so.intra_op_num_threads = args.threads
    so.inter_op_num_threads = 1
    so.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
    so.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
    sess = ort.InferenceSession(onnx_path(args.onnx_dir, variant), so,
                                providers=["CPUExecutionProvider"])

    def forward(x):
        return sess.run(["logits"], {"x": x})[0]

    return forward, f"onnxruntime {ort.__version__} {variant} graph, intra_op_threads={args.threads}"


# ---- PyTorch eager ----------------------------------------------------------------------

def make_torch(args):
    import torch
    import torch.nn.functional as F

    torch.set_num_threads(args.threads)
    try:
        torch.set_num_interop_threads(1)
    except RuntimeError:
        pass
    arch = json.load(open(args.arch))
    params = tkp1.moe_params(arch, tkp1.read_checkpoint(args.checkpoint)["tensors"])
    d = params["dims"]
    dev = torch.device(args.device)
    if dev.type == "cuda" and not torch.cuda.is_available():
        raise RuntimeError("torch sees no CUDA device")
    t = lambda a: torch.from_numpy(np.ascontiguousarray(a)).to(dev)  # noqa: E731
    wr, br = (t(a) for a in params["router"])
    experts = [[(t(w), t(b), None if g is None else t(g), None if be is None else t(be))
                for (w, b, g, be) in layers] for layers in params["experts"]]
    approx = "tanh" if d["act"] == "gelu_tanh" else "none"
    K, E, eps, H = d["K"], d["E"], d["eps"], d["H"]

    def forward(xn):
        with torch.inference_mode():
            x = torch.from_numpy(xn).to(dev)
            p = torch.softmax(torch.addmm(br, x, wr), dim=-1)
            # top-K by §3.3: stable sort on -p keeps the lower index first on ties
            idx = torch.sort(p, dim=-1, descending=True, stable=True).indices[:, :K]
            keep = torch.zeros_like(p, dtype=torch.bool).scatter_(1, idx, True)
            y = torch.zeros(x.shape[0], d["out"], device=dev)
            for e in range(E):
                rows = keep[:, e].nonzero().squeeze(1)
                if rows.numel() == 0:
                    continue
                h = x.index_select(0, rows)
                for (w, b, g, be) in experts[e]:
                    h = torch.addmm(b, h, w)
                    if g is not None:
                        h = F.gelu(F.layer_norm(h, (H,), g, be, eps), approximate=approx)
                y.index_add_(0, rows, h * p.index_select(0, rows)[:, e:e + 1])
            return y.cpu().numpy()  # on a GPU: waits for the kernels, like tkc's forward

    where = f"threads={args.threads}" if dev.type == "cpu" else torch.cuda.get_device_name(dev)
    return forward, f"torch {torch.__version__} eager (top-K gather), {args.device}, {where}"


# ---- the worker loop (worker.h) ---------------------------------------------------------

def serve(forward, in_dim):
    cached = (None, None, None)
    for line in sys.stdin:
        parts = line.split()
        if not parts or parts[0] == "quit":
            break
        if parts[0] != "run" or len(parts) != 5:
            print(f"error bad command: {line.strip()}", flush=True)
            return 1
        B, N, xpath, opath = int(parts[1]), int(parts[2]), parts[3], parts[4]
        if cached[0] != xpath or cached[1] != B:
            x = np.fromfile(xpath, dtype=np.float32, count=B * in_dim).reshape(B, in_dim)
            cached = (xpath, B, x)
        x = cached[2]
        t0 = time.perf_counter()
        for _ in range(N):
            y = forward(x)
        ms = (time.perf_counter() - t0) * 1e3 / N
        if opath != "-":
            np.ascontiguousarray(y, dtype=np.float32).tofile(opath)
        print(f"ok {ms:.6f}", flush=True)
    return 0


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("peer", choices=["ort-dense", "ort-sparse", "torch", "build-onnx"])
    ap.add_argument("--arch", required=True)
    ap.add_argument("--checkpoint", required=True)
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--onnx-dir")
    ap.add_argument("--device", default="cpu", help="torch's device (cpu, cuda)")
    args = ap.parse_args()
    try:
        if args.peer == "build-onnx":
            ensure_onnx(args.arch, args.checkpoint, args.onnx_dir)
            return 0
        if args.peer.startswith("ort-"):
            forward, desc = make_ort(args, args.peer[4:])
        else:
            forward, desc = make_torch(args)
    except Exception as exc:  # reported to bench.py, which prints it and skips this peer
        print(f"error {type(exc).__name__}: {str(exc).splitlines()[0] if str(exc) else ''}",
              flush=True)
        return 1
    print(f"ready {desc}", flush=True)
    return serve(forward, json.load(open(args.arch))["input_dim"])


if __name__ == "__main__":
    sys.exit(main())
