#!/usr/bin/env python3
"""tests/fuzz/gen_seeds.py — (re)writes the committed seed corpora of tests/fuzz/corpus/.

Run from anywhere: python3 tests/fuzz/gen_seeds.py. Deterministic (no randomness, no tools
needed: checkpoints and manifests are built here byte by byte), so a rerun changes nothing
unless this file or the copied examples changed. What it writes:

  corpus/arch/        models/*.arch.json, tests/archs/*, tests/arch/good/* and tests/arch/bad/*
                      (prefixed by origin), plus edge cases (u64 seed limits, eps spellings,
                      escapes, Dense, out_in)
  corpus/checkpoint/  small valid checkpoints for a 2-expert Custom arch (the one
                      fuzz_checkpoint.c validates against) and for a Dense arch, and edge cases
                      (grad and moments present, NaN weights, config not JSON / with a NUL /
                      another fingerprint, empty names, truncations)
  corpus/wire/        requests: one row, batches, float limits, and rejected shapes
  corpus/safetensors/ safetensors files (valid F32/BF16, a tiny MoE block, other dtypes) and
                      each structural error, plus shard indexes naming fuzz_safetensors.c's shard
  corpus/manifest/    manifests for fuzz_manifest.c's scratch bundle (its kFiles, hashed here
                      with the same content), a full one and minimal MoE / Dense ones
"""
import hashlib
import json
import os
import shutil
import struct

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
CORPUS = os.path.join(HERE, "corpus")


def out(target, name, data):
    d = os.path.join(CORPUS, target)
    os.makedirs(d, exist_ok=True)
    if isinstance(data, str):
        data = data.encode()
    with open(os.path.join(d, name), "wb") as f:
        f.write(data)


def reset(target):
    shutil.rmtree(os.path.join(CORPUS, target), ignore_errors=True)


# ---- arch.json ----------------------------------------------------------------------------

def arch_seeds():
    reset("arch")
    for src, prefix in [("models", "model-"), ("tests/archs", "archs-"),
                        ("tests/arch/good", "good-"), ("tests/arch/bad", "bad-")]:
        d = os.path.join(ROOT, src)
        for name in sorted(os.listdir(d)):
            if name.endswith(".json"):
                with open(os.path.join(d, name), "rb") as f:
                    out("arch", prefix + name, f.read())
    # Hugging Face config.json (fuzz_arch also runs the Qwen3-MoE config reader)
    with open(os.path.join(ROOT, "models/qwen3-moe-tiny/config.json"), "rb") as f:
        out("arch", "hf-qwen3-moe-tiny.json", f.read())
    out("arch", "hf-qwen3-layers.json",
        '{"model_type":"qwen3_moe","hidden_size":8,"moe_intermediate_size":4,"num_experts":4,'
        '"num_experts_per_tok":2,"norm_topk_prob":false,"dtype":"float32","num_hidden_layers":4,'
        '"decoder_sparse_step":1,"mlp_only_layers":[1,2]}')
    base = ('{"size":"Custom","input_dim":4,"hidden_dim":4,"output_dim":3,"n_experts":2,'
            '"top_k":1,"expert_depth":0,"seed":%s%s}')
    out("arch", "edge-seed-max.json", base % ("18446744073709551615", ""))
    out("arch", "edge-seed-zero.json", base % ("0", ""))
    out("arch", "edge-eps-tiny.json", base % ("1", ',"layer_norm_eps":4.9406564584124654e-324'))
    out("arch", "edge-eps-big.json", base % ("1", ',"layer_norm_eps":1.7976931348623157e308'))
    out("arch", "edge-eps-frac.json", base % ("1", ',"layer_norm_eps":0.1'))
    out("arch", "edge-all-fields.json", base % (
        "5", ',"model_kind":"MoE","router_kind":"SoftmaxOnly","hidden_act":"gelu",'
        '"weight_layout":"out_in","layer_norm_eps":1E-6'))
    out("arch", "edge-dense-min.json",
        '{"size":"Tiny","model_kind":"Dense","input_dim":1,"hidden_dim":1,"output_dim":1,'
        '"n_experts":0,"top_k":0,"expert_depth":0,"seed":7}')
    out("arch", "edge-max-limits.json",
        '{"size":"Custom","input_dim":65536,"hidden_dim":65536,"output_dim":65536,'
        '"n_experts":64,"top_k":64,"expert_depth":64,"seed":1}')
    out("arch", "edge-escapes.json",
        '{"s\\u0069ze":"\\u0043ustom","input_dim":4,"hidden_dim":4,"output_dim":3,'
        '"n_experts":2,"top_k":1,"expert_depth":0,"seed":1,"router_kind":"Sheaf\\u00d0"}')
    out("arch", "edge-size-int.json",
        '{"size":0,"input_dim":96,"hidden_dim":128,"output_dim":20,"n_experts":4,"top_k":2,'
        '"expert_depth":2,"seed":20260101}')
    out("arch", "edge-qwen3-moe.json",
        '{"size":"Custom","model_kind":"Qwen3MoE","input_dim":64,"hidden_dim":32,"output_dim":64,'
        '"n_experts":128,"top_k":8,"expert_depth":0,"seed":0,"norm_topk_prob":true}')
    out("arch", "edge-utf8.json", '{"size":"Custom\xc3\xa9","x\xf0\x9f\x98\x80":1}'.encode('latin-1'))


# ---- checkpoint.tkp1 ------------------------------------------------------------------------

def u32(v):
    return struct.pack("<I", v)


def record(name, weights, m=(), v=(), step=0, grad=None):
    b = u32(len(name)) + name + u32(len(weights)) + b"".join(struct.pack("<f", w) for w in weights)
    b += u32(len(m)) + b"".join(struct.pack("<f", w) for w in m)
    b += u32(len(v)) + b"".join(struct.pack("<f", w) for w in v)
    b += u32(step)
    if grad is None:
        b += b"\x00"
    else:
        b += b"\x01" + u32(len(grad)) + b"".join(struct.pack("<f", w) for w in grad)
    return b


def checkpoint(records, config=b"", step=0, count=None, version=1):
    n = len(records) if count is None else count
    return b"TKP1" + u32(version) + u32(step) + u32(n) + u32(len(config)) + config + b"".join(records)


def moe_params():
    """The 14 tensors of the Custom arch in fuzz_checkpoint.c (in 4, H 4, out 3, E 2, K 1)."""
    p = [("router.param_0", 8), ("router.param_1", 2)]
    for e in range(2):
        p += [("expert_%d.param_%d" % (e, i), n) for i, n in enumerate([16, 4, 4, 4, 12, 3])]
    return p


def fp_config(fp):
    return ('{"arch_fingerprint":"%s","generator":"tkc init-checkpoint","seed":1}' % fp).encode()


def checkpoint_seeds():
    reset("checkpoint")
    moe_fp = "c6a239b4a9ff4313"  # tkc check of fuzz_checkpoint.c's kArch
    recs = [record(n.encode(), [0.25 * ((i + j) % 7 - 3) for j in range(c)])
            for i, (n, c) in enumerate(moe_params())]
    out("checkpoint", "moe-valid.tkp1", checkpoint(recs, fp_config(moe_fp)))
    out("checkpoint", "moe-other-fingerprint.tkp1", checkpoint(recs, fp_config("0123456789abcdef")))
    out("checkpoint", "moe-config-not-json.tkp1", checkpoint(recs, b"not json {"))
    out("checkpoint", "moe-config-nul.tkp1", checkpoint(recs, fp_config(moe_fp) + b"\x00x"))
    out("checkpoint", "moe-config-fp-number.tkp1", checkpoint(recs, b'{"arch_fingerprint":5}'))
    nan = recs[:3] + [record(b"expert_0.param_1", [1.0, float("nan"), float("inf"), -0.0])] + recs[4:]
    out("checkpoint", "moe-nan.tkp1", checkpoint(nan, b""))
    swapped = [recs[1], recs[0]] + recs[2:]
    out("checkpoint", "moe-out-of-order.tkp1", checkpoint(swapped, b"", step=9))
    out("checkpoint", "moe-missing-last.tkp1", checkpoint(recs[:-1]))
    train = [record(b"router.param_0", [1.0] * 8, m=[0.5] * 8, v=[0.25] * 8, step=3, grad=[0.1] * 8),
             record(b"router.param_1", [2.0, 3.0], step=3, grad=[])]
    out("checkpoint", "train-grad-moments.tkp1", checkpoint(train, b"{}", step=3))
    dense = [record(("dense.param_%d" % i).encode(), [0.5] * n)
             for i, n in enumerate([6, 2, 2, 2, 4, 2])]
    out("checkpoint", "dense-valid.tkp1", checkpoint(dense, fp_config("498aaa6c31f1f6b6"), step=3))
    out("checkpoint", "empty-records.tkp1", checkpoint([], b""))
    out("checkpoint", "odd-names.tkp1",
        checkpoint([record(b"", [1.0]), record(b"a\x00b", []), record(b"\xff\xfe" * 40, [2.0]),
                    record(b"", [3.0])]))
    full = checkpoint(recs, fp_config(moe_fp))
    out("checkpoint", "trunc-header.tkp1", full[:11])
    out("checkpoint", "trunc-mid-record.tkp1", full[:len(full) // 2])
    out("checkpoint", "trailing-byte.tkp1", full + b"\x00")
    out("checkpoint", "count-huge.tkp1", checkpoint(recs[:1], b"", count=0xFFFFFFFF))
    out("checkpoint", "weight-len-huge.tkp1",
        checkpoint([u32(1) + b"a" + u32(0xFFFFFFFF) + b"\x00" * 16]))
    out("checkpoint", "has-grad-2.tkp1", checkpoint([record(b"a", [1.0])[:-1] + b"\x02"]))
    out("checkpoint", "version-2.tkp1", checkpoint(recs[:1], version=2))
    out("checkpoint", "magic-only.tkp1", b"TKP1")


# ---- wire requests ------------------------------------------------------------------------

def wire_seeds():
    reset("wire")
    seeds = {
        "row.json": '{"features": [1, 2.5, -3e-2]}',
        "batch.json": ' \n{ "features" : [[1,2,3] ,\n [4,5,6]] }\r\n\t',
        "batch-one.json": '{"features": [[7]]}',
        "float-limits.json": '{"features": [3.40282347e+38, -3.4028235e38, 3.4028235677973362e38, 1e-50]}',
        "subnormal.json": '{"features": [1.40129846e-45, -0, 1.17549435e-38, 0.1]}',
        "response-shape.json": '{"logits": [[0.5, -1]], "router_weights": []}',
        "over-float.json": '{"features": [1e39]}',
        "over-double.json": '{"features": [1e400]}',
        "null.json": '{"features": [null, "1", true]}',
        "nested.json": '{"features": [[1, [2]], [3, 4]]}',
        "ragged.json": '{"features": [[1, 2, 3], [4, 5]]}',
        "empty-batch.json": '{"features": []}',
        "empty-row.json": '{"features": [[]]}',
        "mixed-batch.json": '{"features": [[1, 2, 3], 4]}',
        "unknown-key.json": '{"features": [1, 2, 3], "extra": 1}',
        "duplicate-key.json": '{"features": [1, 2, 3], "features": [4, 5, 6]}',
        "escaped-key.json": '{"\\u0066eatures": [1, 2, 3]}',
        "trailing.json": '{"features": [1, 2, 3]} x',
        "two-values.json": '{"features": [1, 2, 3]}{"features": [1, 2, 3]}',
        "top-array.json": '[1, 2, 3]',
        "empty.json": '',
        "spaces.json": ' \t\r\n ',
        "malformed.json": '{"features": [1, 2,',
        "error-body.json": '{"error": "row 3: expected 96 features, found 95 \\"q\\" \\\\ \\u0001"}',
        "deep.json": '{"features": ' + '[' * 64 + ']' * 64 + '}',
    }
    for name, text in seeds.items():
        out("wire", name, text)
    out("wire", "nul-inside.json", b'{"features": [1, 2, 3]}\x00')
    out("wire", "ctrl-space.json", b'\x01{"features":\x1f[1, 2, 3]}')
    out("wire", "utf8-key.json", '{"f\u00e9atures": [1]}'.encode())
    row96 = ", ".join("%.9g" % (0.01 * i - 0.4) for i in range(96))
    out("wire", "row96.json", '{"features": [%s]}' % row96)
    out("wire", "batch3x96.json", '{"features": [[%s], [%s], [%s]]}' % (row96, row96, row96))


# ---- bundle manifests ---------------------------------------------------------------------

FILES = ["model.hsaco", "model.sm_80.ptx", "model.sm_90.ptx", "model.x86_64.so",
         "model_host.c", "model_host.h", "model_host.so", "model.x86_64.x86-64-v4.so",
         "model_host.x86-64-v4.c", "model_host.x86-64-v4.h",
         "model_host.x86-64-v4.so"]  # fuzz_manifest.c kFiles


def sha(name):
    return hashlib.sha256(("tkc fuzz bundle: %s\n" % name).encode()).hexdigest()


def canon_arch(kind, i, h, o, e, k, size="Custom"):
    return ('{"expert_depth":0,"hidden_act":"gelu_tanh","hidden_dim":%d,"input_dim":%d,'
            '"layer_norm_eps":1e-5,"model_kind":"%s","n_experts":%d,"output_dim":%d,'
            '"router_kind":"SheafPadic","seed":1,"size":"%s","top_k":%d,"weight_layout":"in_out"}'
            % (h, i, kind, e, o, size, k))


def fp(arch):
    return hashlib.sha256(arch.encode()).hexdigest()[:16]


def manifest(arch, targets, params, max_batch=65536, extra=""):
    def f(name):
        return '{"file": "%s", "sha256": "%s"}' % (name, sha(name))
    lines = ['{', '  "format": "tkc-bundle/1",', '  "tkc_version": "0.1.0",',
             '  "toolchain": {"llvm": "19.1.7", "z3": "4.8.12.0"},',
             '  "arch": %s,' % arch, '  "fingerprint": "%s",' % fp(arch),
             '  "max_batch": %d,' % max_batch, '  "targets": [']
    tl = []
    for t in targets:
        kind, a, file = t[0], t[1], t[2]
        key = "cpu" if kind.startswith("x86_64") else "arch"
        cov = ', "code_object_version": %d' % t[3] if kind == "amdgcn" else ""
        if kind == "x86_64" and len(t) > 3:  # a further CPU level: its own host stub
            stub = "model_host." + t[3]
            cov = (', "host_stub": {"source": %s, "header": %s, "library": %s}'
                   % (f(stub + ".c"), f(stub + ".h"), f(stub + ".so")))
        tl.append('    {"kind": "%s", "%s": "%s"%s, "file": "%s", "sha256": "%s"}'
                  % (kind, key, a, cov, file, sha(file)))
    lines.append(",\n".join(tl))
    lines += ['  ],', '  "host_stub": {',
              '    "source": %s,' % f("model_host.c"), '    "header": %s,' % f("model_host.h"),
              '    "library": %s' % f("model_host.so"), '  },%s' % extra, '  "parameters": [']
    lines.append(",\n".join('    {"name": "%s", "shape": [%d, %d]}' % p for p in params))
    lines += ['  ]', '}', '']
    return "\n".join(lines)


def manifest_seeds():
    reset("manifest")
    moe = canon_arch("MoE", 4, 4, 3, 2, 1)
    params = [("router.param_0", 4, 2), ("router.param_1", 1, 2)]
    for e in range(2):
        params += [("expert_%d.param_%d" % (e, i), r, c)
                   for i, (r, c) in enumerate([(4, 4), (1, 4), (1, 4), (1, 4), (4, 3), (1, 3)])]
    all_targets = [("amdgcn", "gfx90a", "model.hsaco", 4), ("amdgcn", "gfx942", "model.hsaco", 5),
                   ("amdgcn", "gfx1100", "model.hsaco", 5), ("nvptx", "sm_80", "model.sm_80.ptx"),
                   ("nvptx", "sm_90", "model.sm_90.ptx"), ("x86_64", "x86-64-v3", "model.x86_64.so")]
    kernels = ('\n  "kernels": [{"name": "router", "grid": "(Bp + 63) div 64", "workgroup_size": 64,'
               ' "args": [{"name": "x", "buffer": 3, "offset": 24, "size": 8}], "kernarg_size": 56}],'
               '\n  "buffers": [{"id": 3, "name": "x", "role": "in", "type": "f32", "elements": "B * 4"}],'
               '\n  "proofs": {"verified": true, "total": 249, "classes": {"shape": 12}},')
    out("manifest", "moe-full.json", manifest(moe, all_targets, params, extra=kernels))
    out("manifest", "moe-x86.json", manifest(moe, [("x86_64", "x86-64-v3", "model.x86_64.so")], params[:2]))
    out("manifest", "moe-two-levels.json",
        manifest(moe, [("x86_64", "x86-64-v3", "model.x86_64.so"),
                       ("x86_64", "x86-64-v4", "model.x86_64.x86-64-v4.so", "x86-64-v4")], params[:2]))
    out("manifest", "moe-simt.json",
        manifest(moe, [("x86_64-simt", "x86-64", "model.x86_64.so"), ("nvptx64", "sm_90", "model.sm_90.ptx")],
                 params[:1], max_batch=1))
    dense = canon_arch("Dense", 3, 2, 2, 0, 0, size="Tiny")
    out("manifest", "dense.json",
        manifest(dense, [("x86_64", "x86-64-v2", "model.x86_64.so")],
                 [("dense.param_%d" % i, r, c) for i, (r, c) in
                  enumerate([(3, 2), (1, 2), (1, 2), (1, 2), (2, 2), (1, 2)])]))
    # The issue 14 item 3 shape: an escaped "arch" key read by cJSON, the plain one hashed.
    esc = manifest(moe, [("x86_64", "x86-64-v3", "model.x86_64.so")], params[:2])
    esc = esc.replace('  "arch": ', '  "\\u0061rch": {"model_kind": "MoE", "input_dim": 95, '
                      '"output_dim": 3, "n_experts": 2, "top_k": 1},\n  "arch": ', 1)
    out("manifest", "escaped-arch-key.json", esc)
    bad = manifest(moe, [("x86_64", "x86-64-v3", "model.x86_64.so")], params[:2])
    out("manifest", "bad-fingerprint.json", bad.replace(fp(moe), "0" * 16))
    out("manifest", "bad-path.json", bad.replace('"file": "model.x86_64.so"', '"file": "../x"'))
    out("manifest", "bad-sha.json", bad.replace(sha("model.x86_64.so"), "f" * 64))
    out("manifest", "missing-file.json", bad.replace('"file": "model.x86_64.so"', '"file": "nope.so"'))
    out("manifest", "dot-dot.json", bad.replace('"file": "model.x86_64.so"', '"file": ".."'))
    out("manifest", "format-2.json", bad.replace("tkc-bundle/1", "tkc-bundle/2"))
    out("manifest", "shape-huge.json", bad.replace("[4, 2]", "[1073741824, 1073741824]"))
    out("manifest", "not-object.json", "[1, 2]")
    out("manifest", "ws-ctrl.json", "\x01" + bad)


# ---- safetensors ------------------------------------------------------------------------------

def safetensors(header, data=b"", length=None, pad=0):
    """u64 little-endian header length, the header JSON (padded with spaces), the data area."""
    if not isinstance(header, bytes):
        header = json.dumps(header, separators=(",", ":")).encode()
    h = header
    h += b" " * pad
    return struct.pack("<Q", len(h) if length is None else length) + h + data


def st_entry(dtype, shape, begin, end):
    return {"dtype": dtype, "shape": shape, "data_offsets": [begin, end]}


def safetensors_seeds():
    reset("safetensors")
    f32 = struct.pack("<4f", 1.5, -2.25, 0.125, 1024.0)
    bf16 = struct.pack("<3H", 0x3F80, 0xC010, 0x0001)
    valid = {"__metadata__": {"format": "pt"}, "a": st_entry("F32", [2, 2], 0, 16),
             "b": st_entry("BF16", [3], 16, 22)}
    out("safetensors", "valid-f32-bf16.safetensors", safetensors(valid, f32 + bf16, pad=2))
    out("safetensors", "empty.safetensors", safetensors({}))
    moe = {}
    data = b""
    for name, shape in [("model.layers.0.mlp.gate.weight", [4, 2])] + [
            ("model.layers.0.mlp.experts.%d.%s.weight" % (e, p), s) for e in range(2)
            for p, s in [("gate_proj", [1, 2]), ("up_proj", [1, 2]), ("down_proj", [2, 1])]]:
        n = shape[0] * shape[1] * 2
        moe[name] = st_entry("BF16", shape, len(data), len(data) + n)
        data += bytes(range(n))
    out("safetensors", "moe-bf16.safetensors", safetensors(moe, data))
    out("safetensors", "other-dtypes.safetensors", safetensors(
        {"i": st_entry("I32", [2], 0, 8), "h": st_entry("F16", [1], 8, 10),
         "z": st_entry("F64", [0, 3], 10, 10), "s": st_entry("U8", [], 10, 11)}, bytes(11)))
    out("safetensors", "trunc-data.safetensors", safetensors(valid, f32 + bf16)[:-3])
    out("safetensors", "trunc-length.safetensors", b"\x10\x00\x00")
    out("safetensors", "length-past-end.safetensors", safetensors({}, length=1000))
    out("safetensors", "length-huge.safetensors", safetensors({}, length=(1 << 64) - 1))
    out("safetensors", "overlap.safetensors", safetensors(
        {"x": st_entry("F32", [2], 0, 8), "y": st_entry("F32", [2], 4, 12)}, bytes(12)))
    out("safetensors", "numel-mismatch.safetensors",
        safetensors({"x": st_entry("F32", [3], 0, 8)}, bytes(8)))
    out("safetensors", "offsets-past-end.safetensors",
        safetensors({"x": st_entry("F32", [100], 0, 400)}, bytes(8)))
    out("safetensors", "duplicate-name.safetensors", safetensors(
        b'{"x":{"dtype":"U8","shape":[1],"data_offsets":[0,1]},'
        b'"x":{"dtype":"U8","shape":[1],"data_offsets":[1,2]}}', b"ab"))
    out("safetensors", "bad-dtype.safetensors",
        safetensors({"x": st_entry("F33", [1], 0, 4)}, bytes(4)))
    out("safetensors", "shape-overflow.safetensors",
        safetensors({"x": st_entry("F32", [1 << 32, 1 << 32, 2], 0, 8)}, bytes(8)))
    # Read as model.safetensors.index.json beside fuzz_safetensors.c's one shard s.safetensors.
    out("safetensors", "index-valid.json",
        json.dumps({"metadata": {"total_size": 4}, "weight_map": {"w": "s.safetensors"}}))
    out("safetensors", "index-escape.json", json.dumps({"weight_map": {"w": "../s.safetensors"}}))
    for name, tensor, shard in [("index-missing-shard.json", "w", "t.safetensors"),
                                ("index-wrong-tensor.json", "v", "s.safetensors")]:
        out("safetensors", name, json.dumps({"weight_map": {tensor: shard}}))


if __name__ == "__main__":
    arch_seeds()
    checkpoint_seeds()
    wire_seeds()
    manifest_seeds()
    safetensors_seeds()
    for t in sorted(os.listdir(CORPUS)):
        d = os.path.join(CORPUS, t)
        n = len(os.listdir(d))
        size = sum(os.path.getsize(os.path.join(d, f)) for f in os.listdir(d))
        print("corpus/%s: %d seeds, %d bytes" % (t, n, size))
