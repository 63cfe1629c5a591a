#!/usr/bin/env bash
# tests/cli/qwen3_block.sh — issue 16: the Qwen3-MoE block of models/qwen3-moe-tiny compiled from
# its Hugging Face config.json: the verifier's topk class proves the renormalisation (its
# obligations are counted in the proof store), the bundle runs through the runtime and agrees
# with the reference (tests/cli/qwen3_conformance.c), and --layer errors name the problem.
# The mutants of the new ops are tests/cli/qwen3_mutants.sh (label slow).
set -u
TKC="${TK_BIN:-build/bin}/tkc"
BUILD="${TK_BUILD_DIR:-build}"
TKB="${TK_BIN:-build/bin}"
cd "${TK_SOURCE_DIR:-.}"
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
failures=0
fail() { echo "FAIL: $*" >&2; failures=$((failures + 1)); }
config=models/qwen3-moe-tiny/config.json

# One CPU level keeps the test short; every class runs as in a default compile.
if ! "$TKC" compile "$config" --targets x86_64 --cpu x86-64-v3 --quiet -o "$tmp/bundle" 2>"$tmp/err"; then
  fail "tkc compile $config: $(head -c 600 "$tmp/err")"
  exit 1
fi
grep -q '"model_kind":"Qwen3MoE"' "$tmp/bundle/manifest.json" || fail "manifest lacks the Qwen3MoE arch"
grep -q '"norm_topk_prob":true' "$tmp/bundle/manifest.json" || fail "manifest lacks norm_topk_prob"
# The renormalisation obligations are in the proof store, proved (docs/proofs.md topk).
for words in "renorm, sum loop entry" "renorm, sum loop step" "weights sum to 1, step" \
  "weights sum to 1, ends" "p[e] / SUM(E)"; do
  grep -F -- "$words" "$tmp/bundle/proofs/index.json" | grep -q '"result": "proved"' ||
    fail "no proved obligation says '$words'"
done

"$TKC" compile "$config" --emit=arch >"$tmp/arch.json" || fail "--emit=arch"
"$TKC" init-checkpoint "$tmp/arch.json" -o "$tmp/ck.tkp1" >/dev/null || fail "init-checkpoint"
"$BUILD/tests/qwen3_conformance" "$tmp/bundle" "$tmp/ck.tkp1" || fail "qwen3_conformance"

# Hugging Face checkpoints (docs/formats.md §7) through tk_weights_open: make_checkpoint.py's
# BF16 and F32 files against the reference; the same weights fused, sharded or with a NaN
# through tkrun (the fused and sharded answers must be byte-identical to the per-expert one).
if command -v python3 >/dev/null; then
  for dtype in bf16 f32; do
    python3 models/qwen3-moe-tiny/make_checkpoint.py -o "$tmp/$dtype.safetensors" --dtype "$dtype" >/dev/null ||
      fail "make_checkpoint.py --dtype $dtype"
    "$BUILD/tests/qwen3_conformance" "$tmp/bundle" "$tmp/$dtype.safetensors" >"$tmp/conf.$dtype" ||
      fail "qwen3_conformance $dtype: $(grep -v '^ok' "$tmp/conf.$dtype")"
  done
  python3 - "$tmp" <<'PY' || fail "writing the fused, sharded and NaN checkpoints"
import json, struct, sys
d = sys.argv[1]
raw = open(f"{d}/f32.safetensors", "rb").read()
n = struct.unpack("<Q", raw[:8])[0]
head = json.loads(raw[8:8 + n]); body = raw[8 + n:]
def data(name):
    a, b = head[name]["data_offsets"]; return body[a:b]
def write(path, tensors):  # name -> (shape, bytes), F32
    h, off, blobs = {}, 0, []
    for name, (shape, blob) in tensors.items():
        h[name] = {"dtype": "F32", "shape": shape, "data_offsets": [off, off + len(blob)]}
        off += len(blob); blobs.append(blob)
    text = json.dumps(h).encode()
    open(path, "wb").write(struct.pack("<Q", len(text)) + text + b"".join(blobs))
p = "model.layers.0.mlp."
E = head[p + "gate.weight"]["shape"][0]
I, H = head[p + "experts.0.gate_proj.weight"]["shape"]
router = {p + "gate.weight": ([E, H], data(p + "gate.weight"))}
gate_up = b"".join(data(f"{p}experts.{e}.gate_proj.weight") + data(f"{p}experts.{e}.up_proj.weight") for e in range(E))
down = b"".join(data(f"{p}experts.{e}.down_proj.weight") for e in range(E))
write(f"{d}/fused.safetensors", {**router, p + "experts.gate_up_proj": ([E, 2 * I, H], gate_up),
                                 p + "experts.down_proj": ([E, H, I], down)})
per = {k: (v["shape"], data(k)) for k, v in head.items() if k != "__metadata__"}
names = sorted(per); half = len(names) // 2
shards = {"model-00001-of-00002.safetensors": names[:half], "model-00002-of-00002.safetensors": names[half:]}
for f, ns in shards.items(): write(f"{d}/{f}", {k: per[k] for k in ns})
json.dump({"weight_map": {k: f for f, ns in shards.items() for k in ns}},
          open(f"{d}/model.safetensors.index.json", "w"))
bad = dict(per); shape, blob = bad[p + "experts.3.up_proj.weight"]
bad[p + "experts.3.up_proj.weight"] = (shape, blob[:20] + struct.pack("<f", float("nan")) + blob[24:])
write(f"{d}/nan.safetensors", bad)
PY
  printf '{"features": [%s]}\n' "$(seq -s, 1 256 | sed 's/[0-9]\+/0.01/g')" >"$tmp/req.json"
  for ck in f32.safetensors fused.safetensors model.safetensors.index.json; do
    "$TKB/tkrun" --bundle "$tmp/bundle" --checkpoint "$tmp/$ck" <"$tmp/req.json" >"$tmp/ans.$ck" 2>"$tmp/err" ||
      fail "tkrun --checkpoint $ck: $(cat "$tmp/err")"
  done
  cmp -s "$tmp/ans.f32.safetensors" "$tmp/ans.fused.safetensors" || fail "the fused layout answers otherwise"
  cmp -s "$tmp/ans.f32.safetensors" "$tmp/ans.model.safetensors.index.json" || fail "the shards answer otherwise"
  "$TKB/tkrun" --bundle "$tmp/bundle" --checkpoint "$tmp/nan.safetensors" <"$tmp/req.json" >"$tmp/out" 2>"$tmp/err"
  [ $? -eq 1 ] && grep -q "experts.3.up_proj.weight (expert_3.up_proj): element 5 is nan" "$tmp/err" && [ ! -s "$tmp/out" ] ||
    fail "a NaN weight: $(cat "$tmp/err")"
  "$TKB/tkrun" --bundle "$tmp/bundle" --checkpoint "$tmp/f32.safetensors" --layer 1 <"$tmp/req.json" >"$tmp/out" 2>"$tmp/err"
  [ $? -eq 1 ] && grep -q "tensor model.layers.1.mlp.gate.weight: missing" "$tmp/err" ||
    fail "--layer 1 of a layer-0 checkpoint: $(cat "$tmp/err")"
else
  echo "qwen3_block: no python3: the Hugging Face checkpoints (make_checkpoint.py) are not tested"
fi

# --layer: the config's layers only; an arch.json has none.
"$TKC" compile "$config" --layer 1 --emit=arch >/dev/null 2>"$tmp/err"
[ $? -eq 1 ] && grep -q "num_hidden_layers" "$tmp/err" || fail "--layer 1 of a 1-layer config: $(cat "$tmp/err")"
"$TKC" compile models/nano.arch.json --layer 0 --emit=arch >/dev/null 2>"$tmp/err"
[ $? -eq 1 ] && grep -q "applies to a Hugging Face config.json" "$tmp/err" ||
  fail "--layer with an arch.json: $(cat "$tmp/err")"

[ "$failures" -eq 0 ] && echo "qwen3_block: all passed"
exit $((failures > 0))
