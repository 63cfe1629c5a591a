#!/usr/bin/env python3
"""models/qwen3-moe-tiny/make_checkpoint.py — a deterministic random safetensors checkpoint of
one Qwen3-MoE sparse block (issue 16 item 5), from a Hugging Face config.json.

    python3 models/qwen3-moe-tiny/make_checkpoint.py -o DIR/model.safetensors [--dtype bf16|f32]
        [--seed N] [--layer N] [--config CONFIG.json]

Python standard library only. Writes the block's tensors under their Hugging Face names, in
this order, with hidden_size H, num_experts E and moe_intermediate_size I from the config:

    model.layers.N.mlp.gate.weight                       [E, H]
    model.layers.N.mlp.experts.e.gate_proj.weight        [I, H]   for e = 0 .. E-1
    model.layers.N.mlp.experts.e.up_proj.weight          [I, H]
    model.layers.N.mlp.experts.e.down_proj.weight        [H, I]

Values: uniform in [-1/sqrt(fan_in), 1/sqrt(fan_in)] (fan_in = the row length: H, or I for
down_proj; nn.Linear's default bound), drawn by random.Random seeded with "SEED:NAME", so each
tensor depends only on the seed and its name, and rounded to float32. --dtype bf16 (the
config's torch_dtype, the default) stores each float32 rounded to the nearest bfloat16, ties
to even; --dtype f32 stores the float32 values. The same arguments give a byte-identical file.

The file is safetensors: u64 little-endian header length, the JSON header (with
"__metadata__": {"format": "pt"}, padded with spaces to a multiple of 8 bytes), then the
tensors back to back, row-major, little-endian. It is written to a temp file beside the
target and renamed into place.
"""
import argparse
import array
import json
import math
import os
import random
import struct
import sys
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))


def block_tensors(config, layer):
    """(name, shape, fan_in) of the block's tensors, in file order."""
    h = config["hidden_size"]
    e = config["num_experts"]
    i = config["moe_intermediate_size"]
    prefix = "model.layers.%d.mlp." % layer
    tensors = [(prefix + "gate.weight", [e, h], h)]
    for x in range(e):
        tensors += [
            (prefix + "experts.%d.gate_proj.weight" % x, [i, h], h),
            (prefix + "experts.%d.up_proj.weight" % x, [i, h], h),
            (prefix + "experts.%d.down_proj.weight" % x, [h, i], i),
        ]
    return tensors


def float32_values(seed, name, count, fan_in):
    rng = random.Random("%d:%s" % (seed, name))
    bound = 1.0 / math.sqrt(fan_in)
    return array.array("f", (rng.uniform(-bound, bound) for _ in range(count)))


def to_bfloat16(values):
    """float32 → bfloat16, round to nearest, ties to even (no NaN or Inf occur here)."""
    bits = array.array("I", values.tobytes())
    return array.array("H", ((b + 0x7FFF + ((b >> 16) & 1)) >> 16 for b in bits))


def encode(config, layer, seed, dtype):
    header = {"__metadata__": {"format": "pt"}}
    chunks = []
    offset = 0
    for name, shape, fan_in in block_tensors(config, layer):
        values = float32_values(seed, name, shape[0] * shape[1], fan_in)
        data = to_bfloat16(values) if dtype == "bf16" else values
        if sys.byteorder != "little":
            data.byteswap()
        raw = data.tobytes()
        header[name] = {"dtype": "BF16" if dtype == "bf16" else "F32", "shape": shape,
                        "data_offsets": [offset, offset + len(raw)]}
        chunks.append(raw)
        offset += len(raw)
    text = json.dumps(header, separators=(",", ":")).encode()
    text += b" " * (-len(text) % 8)
    return struct.pack("<Q", len(text)) + text + b"".join(chunks)


def write_atomic(path, data):
    directory = os.path.dirname(os.path.abspath(path))
    fd, tmp = tempfile.mkstemp(prefix="." + os.path.basename(path) + ".tmp.", dir=directory)
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        os.chmod(tmp, 0o644)
        os.replace(tmp, path)
    except BaseException:
        os.unlink(tmp)
        raise


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("-o", "--output", required=True, help="the model.safetensors to write")
    p.add_argument("--dtype", choices=["bf16", "f32"], default="bf16")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--layer", type=int, default=0)
    p.add_argument("--config", default=os.path.join(HERE, "config.json"))
    args = p.parse_args()
    with open(args.config) as f:
        config = json.load(f)
    if config.get("model_type") != "qwen3_moe":
        sys.exit("%s: model_type %r, expected \"qwen3_moe\""
                 % (args.config, config.get("model_type")))
    layers = config.get("num_hidden_layers", 1)
    if not 0 <= args.layer < layers:
        sys.exit("--layer %d: expected 0 <= layer < num_hidden_layers = %d (%s)"
                 % (args.layer, layers, args.config))
    data = encode(config, args.layer, args.seed, args.dtype)
    write_atomic(args.output, data)
    print("%s: %d tensors, %d bytes (%s, seed %d)" % (
        args.output, 1 + 3 * config["num_experts"], len(data), args.dtype, args.seed))


if __name__ == "__main__":
    main()
