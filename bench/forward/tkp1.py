"""tkp1.py — a small, independent reader for checkpoint.tkp1 (docs/formats.md §2) and the
MoE tensor list of §2.4, for the bench/forward peers (ONNX Runtime, PyTorch).

    ck = read_checkpoint(path)          # {"step", "config", "tensors": {name: 1-D float32}}
    p = moe_params(arch, ck["tensors"]) # shaped [in, out] weights (out_in is transposed here)
"""

import json
import struct

import numpy as np


class CheckpointError(Exception):
    pass


def read_checkpoint(path):
    """Parses a whole checkpoint.tkp1 (§2.1): little-endian, packed, lengths checked against
    the bytes left before anything is read. Weights are float32 views of one mmap (read-only);
    m, v and grad are skipped."""
    buf = np.memmap(path, dtype=np.uint8, mode="r")
    size = buf.shape[0]
    pos = 0

    def take(n, what):
        nonlocal pos
        if n > size - pos:
            raise CheckpointError(f"{path}: {what} at byte {pos}: needs {n} bytes, {size - pos} left")
        start = pos
        pos += n
        return start

    def u32(what):
        s = take(4, what)
        return struct.unpack_from("<I", buf, s)[0]

    s = take(4, "magic")
    if bytes(buf[s:s + 4]) != b"TKP1":
        raise CheckpointError(f"{path}: bad magic (not a TKP1 checkpoint)")
    version = u32("version")
    if version != 1:
        raise CheckpointError(f"{path}: version {version}, expected 1")
    step = u32("step")
    count = u32("count")
    clen = u32("config_len")
    s = take(clen, "config")
    config = bytes(buf[s:s + clen])
    tensors = {}
    i = 0
    while pos < size:
        nlen = u32(f"record {i} name_len")
        s = take(nlen, f"record {i} name")
        name = bytes(buf[s:s + nlen]).decode("utf-8")
        wlen = u32(f"record {i} weight_len")
        s = take(4 * wlen, f"record {i} ({name}) weight")
        tensors[name] = np.frombuffer(buf, dtype="<f4", count=wlen, offset=s)
        for field in ("m", "v"):
            n = u32(f"record {i} {field}_len")
            take(4 * n, f"record {i} {field}")
        u32(f"record {i} step")
        s = take(1, f"record {i} has_grad")
        has_grad = int(buf[s])
        if has_grad not in (0, 1):
            raise CheckpointError(f"{path}: record {i} ({name}): has_grad {has_grad}")
        if has_grad:
            n = u32(f"record {i} grad_len")
            take(4 * n, f"record {i} grad")
        i += 1
    if i != count:
        raise CheckpointError(f"{path}: {i} records, header says {count}")
    try:
        config = json.loads(config.decode("utf-8"))
    except (UnicodeDecodeError, ValueError):
        pass
    return {"step": step, "config": config, "tensors": tensors}


def arch_dims(arch):
    """The fields the forward needs, with the defaults of §1.1."""
    if arch.get("model_kind", "MoE") != "MoE":
        raise CheckpointError("bench/forward handles MoE models only")
    return {
        "in": arch["input_dim"], "H": arch["hidden_dim"], "out": arch["output_dim"],
        "E": arch["n_experts"], "K": arch["top_k"], "depth": arch["expert_depth"],
        "eps": float(arch.get("layer_norm_eps", 1e-5)),
        "act": arch.get("hidden_act", "gelu_tanh"),
        "layout": arch.get("weight_layout", "in_out"),
    }


def moe_params(arch, tensors):
    """§2.4 names and shapes -> {"router": (W [in,E], b [E]), "experts": [[layer...]]}, each
    expert a list of layers (W [in,out] float32, b, gamma or None, beta or None); the last
    layer has no LayerNorm/GELU. Weights stored out_in are transposed to [in, out]."""
    d = arch_dims(arch)

    def get(name, n):
        t = tensors.get(name)
        if t is None:
            raise CheckpointError(f"missing tensor {name}")
        if t.shape[0] != n:
            raise CheckpointError(f"{name}: {t.shape[0]} elements, expected {n}")
        return t

    def linear(prefix, i, n_in, n_out):
        w = get(f"{prefix}.param_{i}", n_in * n_out)
        if d["layout"] == "in_out":
            w = w.reshape(n_in, n_out)
        else:
            w = w.reshape(n_out, n_in).T
        b = get(f"{prefix}.param_{i + 1}", n_out)
        return np.array(w, dtype=np.float32, order="C"), np.array(b, dtype=np.float32)

    router = linear("router", 0, d["in"], d["E"])
    experts = []
    for e in range(d["E"]):
        pre = f"expert_{e}"
        layers = []
        i = 0
        n_in = d["in"]
        for _ in range(d["depth"] + 1):
            w, b = linear(pre, i, n_in, d["H"])
            g = np.array(get(f"{pre}.param_{i + 2}", d["H"]), dtype=np.float32)
            be = np.array(get(f"{pre}.param_{i + 3}", d["H"]), dtype=np.float32)
            layers.append((w, b, g, be))
            i += 4
            n_in = d["H"]
        w, b = linear(pre, i, d["H"], d["out"])
        layers.append((w, b, None, None))
        experts.append(layers)
    expected = 2 + d["E"] * (4 * (d["depth"] + 1) + 2)
    if len(tensors) != expected:
        raise CheckpointError(f"{len(tensors)} tensors, expected {expected}")
    return {"dims": d, "router": router, "experts": experts}


def reference_forward(params, x):
    """§3.1 in float64 numpy (a check for the peers themselves; tkc is the bench's oracle)."""
    d = params["dims"]
    x = x.astype(np.float64)
    wr, br = params["router"]
    r = x @ wr.astype(np.float64) + br
    r -= r.max(axis=1, keepdims=True)
    p = np.exp(r)
    p /= p.sum(axis=1, keepdims=True)
    keep = topk_keep(p, d["K"])
    y = np.zeros((x.shape[0], d["out"]))
    for e, layers in enumerate(params["experts"]):
        rows = np.nonzero(keep[:, e])[0]
        if rows.size == 0:
            continue
        h = x[rows]
        for w, b, g, be in layers:
            h = h @ w.astype(np.float64) + b
            if g is not None:
                mu = h.mean(axis=1, keepdims=True)
                var = ((h - mu) ** 2).mean(axis=1, keepdims=True)
                h = (h - mu) / np.sqrt(var + d["eps"]) * g + be
                if d["act"] == "gelu_tanh":
                    h = 0.5 * h * (1 + np.tanh(0.7978845608 * (h + 0.044715 * h ** 3)))
                else:
                    from math import erf
                    h = 0.5 * h * (1 + np.vectorize(erf)(h / np.sqrt(2.0)))
        y[rows] += p[rows, e:e + 1] * h
    return y, np.where(keep, p, 0.0)


def topk_keep(p, k):
    """§3.3: K passes, each taking the untaken expert with the strictly largest p (ties: the
    lower index)."""
    B, E = p.shape
    keep = np.zeros((B, E), dtype=bool)
    for _ in range(k):
        masked = np.where(keep, -np.inf, p)
        best = np.argmax(masked, axis=1)  # argmax returns the first (lowest) index on ties
        keep[np.arange(B), best] = True
    return keep
