#!/usr/bin/env bash
# tests/cli/tkc_check.sh — the tkc driver and `tkc check` as a user runs them: --help and
# --version, exit codes of docs/formats.md §4 (0 ok, 1 invalid input file, 2 usage), the
# fingerprint re-computed with sha256sum from the printed canonical JSON, parameter totals
# worked out by hand from docs/formats.md §2, and nothing on stdout when a check fails.
set -u
TKC="${TK_BIN:-build/bin}/tkc"
cd "${TK_SOURCE_DIR:-.}"
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
failures=0

fail() { echo "FAIL: $*" >&2; failures=$((failures + 1)); }

# run WANT_EXIT args...: runs tkc, keeps stdout/stderr in $tmp/out, $tmp/err.
run() {
  local want=$1; shift
  "$TKC" "$@" >"$tmp/out" 2>"$tmp/err"
  local got=$?
  [ "$got" -eq "$want" ] || fail "tkc $*: exit $got, expected $want; stderr: $(head -c 400 "$tmp/err")"
}
# has FILE TEXT: FILE contains TEXT (fixed string).
has() { grep -qF -- "$2" "$tmp/$1" || fail "$1 of the last command lacks '$2': $(head -c 400 "$tmp/$1")"; }
empty() { [ ! -s "$tmp/$1" ] || fail "$1 of the last command is not empty: $(head -c 200 "$tmp/$1")"; }

[ -x "$TKC" ] || { echo "FAIL: $TKC not built" >&2; exit 1; }

run 0 --help;            has out "usage: tkc"; has out "check"
run 0 --version;         has out "tkc "
run 2;                   has err "usage: tkc"
run 2 no-such-command;   has err "unknown command 'no-such-command'"
run 0 check --help;      has out "usage: tkc check"
run 0 check -h;          has out "usage: tkc check"

# A good model: canonical form, fingerprint = first 16 hex of SHA-256(canonical), totals.
run 0 check models/nano.arch.json
has out '"hidden_dim":128'; has out '"layer_norm_eps":1e-5'
canonical=$(sed -n 's/^canonical: //p' "$tmp/out")
want=$(printf '%s' "$canonical" | sha256sum | cut -c1-16)
[ -n "$canonical" ] && has out "fingerprint: $want"
# router 96*4+4; expert (96*128+128) + 3*(2*128) + 2*(128*128+128) + (128*20+20) = 48788; 4 experts
has out "total parameters: 195540"; has out "782160 bytes"
has out "router.param_0"; has out "expert_3.param_13"

# Dense: (96*512+512) + 1024 + 2*(1024 + 512*4096+4096 + 4096*512+512) + (512*20+20)
run 0 check models/dense.arch.json; has out "total parameters: 8460820"; has out "dense.param_0"
# Custom: router 32*6+6; expert (32*64+64) + 2*(2*64) + (64*64+64) + (64*8+8) = 7048; 6 experts
run 0 check models/custom-small.arch.json; has out "total parameters: 42486"

# Key order and whitespace do not change the fingerprint.
run 0 check tests/arch/good/nano.whitespace.json
has out "fingerprint: $want"

# Invalid files: exit 1, the message names the file, position and field; stdout stays empty.
run 1 check tests/arch/bad/hidden-nano-256.json
has err "hidden-nano-256.json:4:17: field 'hidden_dim': value 256, expected 128 for size \"Nano\""
has err "^"; empty out
run 1 check tests/arch/bad/syntax-missing-comma.json; has err "syntax-missing-comma.json:3:3:"; empty out
run 1 check tests/arch/bad/seed-2pow64.json; has err "field 'seed'"
run 1 check "$tmp/missing.arch.json"; has err "missing.arch.json"; empty out
run 1 check "$tmp"; has err "cannot read"

# A Hugging Face config.json (docs/formats.md §7): the Qwen3-MoE block of models/qwen3-moe-tiny.
# Tensors 1 + 3*16; parameters 16*256 + 16*3*(128*256) = 1576960, 2 bytes each in bfloat16.
run 0 check models/qwen3-moe-tiny/config.json
has out "block: qwen3_moe, layer 0 of 1: hidden 256, 16 experts, top 4 renormalised, SwiGLU intermediate 128"
has out "tensors: 49"; has out "model.layers.0.mlp.gate.weight"
has out "model.layers.0.mlp.experts.15.down_proj.weight"; has out "[256, 128]"
has out "total parameters: 1576960"; has out "weights (bfloat16): 3153920 bytes"
sed 's/"hidden_act": "silu"/"hidden_act": "gelu"/' models/qwen3-moe-tiny/config.json >"$tmp/gelu.json"
run 1 check "$tmp/gelu.json"
has err "gelu.json:9:17: field 'hidden_act': value \"gelu\", expected one of \"silu\""; empty out
run 1 check --layer 1 models/qwen3-moe-tiny/config.json
has err "--layer 1: expected 0 <= layer < num_hidden_layers = 1"; empty out
run 2 check --layer x models/qwen3-moe-tiny/config.json; has err "--layer 'x'"
run 2 check --layer 0 models/nano.arch.json; has err "--layer applies to a Hugging Face config.json"
# --weights: a checkpoint against the block (models/qwen3-moe-tiny/make_checkpoint.py's files).
if command -v python3 >/dev/null; then
  mkdir -p "$tmp/q"
  make_ckpt() { python3 models/qwen3-moe-tiny/make_checkpoint.py -o "$@" >/dev/null || fail "make_checkpoint.py $*"; }
  make_ckpt "$tmp/q/model.safetensors"
  run 0 check models/qwen3-moe-tiny/config.json --weights "$tmp/q"
  has out "weights: $tmp/q: the block's tensors, per-expert layout, bfloat16 (49 tensors in all)"
  make_ckpt "$tmp/q32.safetensors" --dtype f32
  run 0 check --weights "$tmp/q32.safetensors" models/qwen3-moe-tiny/config.json; has out "float32 (49"
  sed 's/"num_hidden_layers": 1/"num_hidden_layers": 4/' models/qwen3-moe-tiny/config.json >"$tmp/c4.json"
  make_ckpt "$tmp/q3.safetensors" --layer 3 --config "$tmp/c4.json"   # another layer's names
  run 1 check models/qwen3-moe-tiny/config.json --weights "$tmp/q3.safetensors"
  has err "tensor model.layers.0.mlp.gate.weight: missing (the router"; empty out
  head -c 4000 "$tmp/q/model.safetensors" >"$tmp/cut.safetensors"
  run 1 check models/qwen3-moe-tiny/config.json --weights "$tmp/cut.safetensors"
  has err "cut.safetensors"; empty out
  # Broken checkpoints (issue 16's list): each exit 1 naming the file or the tensor, stdout empty.
  python3 - "$tmp" <<'PY'
import json, os, struct, sys
t = sys.argv[1]
gate = "model.layers.0.mlp.gate.weight"
def st(path, header, data=b"", length=None):
    h = json.dumps(header).encode()
    h += b" " * (-len(h) % 8)
    with open(os.path.join(t, path), "wb") as f:
        f.write(struct.pack("<Q", len(h) if length is None else length) + h + data)
st("long.safetensors", {}, length=1 << 40)
st("overlap.safetensors", {gate: {"dtype": "F32", "shape": [16, 256], "data_offsets": [0, 16384]},
                           "x": {"dtype": "F32", "shape": [1], "data_offsets": [8, 12]}}, bytes(16384))
st("f16.safetensors", {gate: {"dtype": "F16", "shape": [16, 256], "data_offsets": [0, 8192]}}, bytes(8192))
os.mkdir(os.path.join(t, "shards"))
with open(os.path.join(t, "shards", "model.safetensors.index.json"), "w") as f:
    json.dump({"weight_map": {gate: "model-00002-of-00002.safetensors"}}, f)
PY
  run 1 check models/qwen3-moe-tiny/config.json --weights "$tmp/long.safetensors"; has err "long.safetensors"; empty out
  run 1 check models/qwen3-moe-tiny/config.json --weights "$tmp/overlap.safetensors"
  has err "overlap.safetensors: tensor"; has err "overlap"; empty out
  run 1 check models/qwen3-moe-tiny/config.json --weights "$tmp/f16.safetensors"
  has err "f16.safetensors: tensor model.layers.0.mlp.gate.weight: dtype F16, expected F32 or BF16"; empty out
  run 1 check models/qwen3-moe-tiny/config.json --weights "$tmp/shards"
  has err "model-00002-of-00002.safetensors"; empty out
else
  echo "tkc_check: no python3: --weights against make_checkpoint.py's files not tested"
fi
run 2 check --weights "$tmp/q" models/nano.arch.json; has err "--weights applies to a Hugging Face"

# `tkc compile` reads it (tests/cli/qwen3_block.sh); a command that needs an arch.json says so,
# not "unknown key 'architectures'", and writes nothing.
run 1 init-checkpoint models/qwen3-moe-tiny/config.json -o "$tmp/qwen.tkp1"
has err "a Hugging Face config.json (model_type \"qwen3_moe\"), not an arch.json"
has err "this command needs an arch.json"
[ ! -e "$tmp/qwen.tkp1" ] || fail "init-checkpoint of a config.json left $tmp/qwen.tkp1"

# Usage errors: exit 2.
run 2 check;                                  has err "missing ARCH.json"
run 2 check --bogus models/nano.arch.json;    has err "unknown option '--bogus'"
run 2 check models/nano.arch.json models/tiny.arch.json

if [ "$failures" -ne 0 ]; then echo "tkc_check: $failures failure(s)" >&2; exit 1; fi
echo "tkc_check: all passed"
