#!/usr/bin/env bash
# tests/cli/qwen3_transformers.sh — issue 16: tkc's Qwen3-MoE block against Hugging Face's own
# (transformers' Qwen3MoeSparseMoeBlock). The tiny config's block is built by transformers with
# random weights, saved as the model.safetensors transformers writes (the fused experts layout
# of transformers 5), and run on the same tokens; tkrun runs the bundle compiled from the same
# config.json on that file. Hidden states within 1e-5 + 1e-3 |ref|.
#
# Optional: the interpreter is $TK_HF_PYTHON, else bench/.venv/bin/python, else python3, the
# first that imports torch, transformers and safetensors (nothing is installed here:
# bench/forward/qwen3.sh's venv has them once transformers is pip-installed there). Without
# one it prints why and exits 77, which ctest reports as skipped.
set -u
cd "${TK_SOURCE_DIR:-.}" || exit 1
TKB="${TK_BIN:-build/bin}"
skip() { echo "qwen3_transformers: skipped: $*"; exit 77; }
python="" why=()
for candidate in ${TK_HF_PYTHON:-bench/.venv/bin/python python3}; do
  if out=$("$candidate" -c 'import torch, transformers, safetensors' 2>&1); then
    python=$candidate
    break
  fi
  why+=("$candidate: ${out##*$'\n'}")
done
[ -n "$python" ] || skip "no interpreter imports torch, transformers and safetensors (pip install transformers torch in a venv, TK_HF_PYTHON=...): ${why[*]}"

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
config=models/qwen3-moe-tiny/config.json
"$TKB/tkc" compile "$config" --targets x86_64 --cpu x86-64-v3 --quiet -o "$tmp/bundle" ||
  { echo "FAIL: tkc compile $config"; exit 1; }
PYTHONDONTWRITEBYTECODE=1 "$python" - "$config" "$tmp" <<'PY' || { echo "FAIL: transformers side"; exit 1; }
import json, sys
import torch, transformers
from safetensors.torch import save_file
from transformers.models.qwen3_moe.modeling_qwen3_moe import Qwen3MoeSparseMoeBlock
config_path, d = sys.argv[1], sys.argv[2]
fields = json.load(open(config_path))
config = transformers.Qwen3MoeConfig(**{k: v for k, v in fields.items() if k != "architectures"})
torch.manual_seed(0)
block = Qwen3MoeSparseMoeBlock(config).float().eval()
with torch.no_grad():
    for p in block.parameters():
        p.normal_(0.0, 0.05)
save_file({f"model.layers.0.mlp.{k}": v.contiguous() for k, v in block.state_dict().items()},
          f"{d}/model.safetensors")
print("transformers", transformers.__version__, "tensors:", sorted(block.state_dict()), file=sys.stderr)
for T in (1, 7, 16):
    x = torch.randn(1, T, config.hidden_size)
    with torch.no_grad():
        y = block(x)
    y = y[0] if isinstance(y, tuple) else y
    json.dump({"features": x[0].tolist()}, open(f"{d}/req{T}.json", "w"))
    json.dump(y.reshape(T, -1).tolist(), open(f"{d}/hf{T}.json", "w"))
PY
failures=0
for T in 1 7 16; do
  if ! "$TKB/tkrun" --bundle "$tmp/bundle" --checkpoint "$tmp/model.safetensors" --device cpu \
    <"$tmp/req$T.json" >"$tmp/tk$T.json" 2>"$tmp/err"; then
    echo "FAIL: tkrun T=$T: $(cat "$tmp/err")"
    failures=$((failures + 1))
    continue
  fi
  "$python" - "$tmp/tk$T.json" "$tmp/hf$T.json" <<'PY' || failures=$((failures + 1))
import json, sys
got = json.load(open(sys.argv[1]))["logits"]
ref = json.load(open(sys.argv[2]))
bad = [(t, j, g, r) for t, (gr, rr) in enumerate(zip(got, ref)) for j, (g, r) in enumerate(zip(gr, rr))
       if abs(g - r) > 1e-5 + 1e-3 * abs(r)]
worst = max(abs(g - r) for gr, rr in zip(got, ref) for g, r in zip(gr, rr))
print(f"{'FAIL' if bad or len(got) != len(ref) else 'ok'} T={len(ref)}: max |tkc - transformers| {worst:.3g}")
sys.exit(1 if bad or len(got) != len(ref) else 0)
PY
done
[ "$failures" -eq 0 ] && echo "qwen3_transformers: tkc agrees with transformers' Qwen3MoeSparseMoeBlock"
exit $((failures > 0))
