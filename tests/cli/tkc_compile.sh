#!/usr/bin/env bash
# tests/cli/tkc_compile.sh — `tkc compile ARCH.json -o DIR` end to end (issue 6):
# - bundles for nano, custom-small, dense and a Custom arch with weight_layout out_in, hidden_act
#   gelu, layer_norm_eps 1e-3 run through the generated host stub and the CPU launcher and agree
#   with tests/ref at B in {1, 15, 16, 17, 100}, bitwise identical for 1 and 2 threads
#   (bundle_conformance: each of the default CPU levels, x86-64-v3 and x86-64-v4, with its own
#   stub); the x86_64-simt variant too for nano and custom-small; nano and the Custom arch
#   again with --dispatch dense (the default is sparse); these two and dense at x86-64-v3 only; an
#   unknown --dispatch value is a usage error;
# - two compiles into different directories are byte-identical; --quiet silences progress
#   (these and the checks below compile for x86_64 at one CPU level: gpu_bundle.sh and
#   scripts/check-compilers.sh compare whole default bundles);
# - an existing bundle is replaced; a non-bundle output directory is refused untouched (more
#   in output_dir.sh); a compile that fails late (below a regular file) leaves no directory
#   and no temp files, and never touches what was there.
set -uo pipefail
tkc="${TKC:-${TK_BIN:?TK_BIN not set}/tkc}"
conf="${TK_BUILD_DIR:?TK_BUILD_DIR not set}/tests/bundle_conformance"
models="${TK_SOURCE_DIR:?TK_SOURCE_DIR not set}/models"
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
failures=0

run() { # run WANT_RC CMD...: stdout/stderr in $tmp/out, $tmp/err; checks the exit code
  local want=$1
  shift
  "$@" >"$tmp/out" 2>"$tmp/err"
  local rc=$?
  if [ "$want" = nonzero ] && [ "$rc" -ne 0 ]; then return 0; fi
  if [ "$rc" != "$want" ]; then
    echo "  '$*' exited $rc, expected $want; stderr:" && sed 's/^/    /' "$tmp/err" | head -20
    return 1
  fi
}
has() { grep -qF -- "$2" "$1" || { echo "  $1 lacks '$2':" && sed 's/^/    /' "$1" | head -5; return 1; }; }
check() {
  local what=$1
  shift
  if "$@"; then echo "ok   $what"; else echo "FAIL $what"; failures=$((failures + 1)); fi
}
no_leftovers() { # no temp dirs beside the outputs
  local left
  left=$(find "$tmp" -name '.*.tmp.*' | head -5)
  [ -z "$left" ] || { echo "  leftovers: $left"; return 1; }
}

cat >"$tmp/custom-gelu.arch.json" <<'JSON'
{"size": "Custom", "input_dim": 40, "hidden_dim": 48, "output_dim": 7, "n_experts": 5,
 "top_k": 2, "expert_depth": 1, "seed": 11, "weight_layout": "out_in", "hidden_act": "gelu",
 "layer_norm_eps": 1e-3}
JSON

# conform NAME ARCH TARGETS [FLAGS..]: compile, make a checkpoint, run every target against
# tests/ref.
conform() {
  local name=$1 arch=$2 targets=$3
  shift 3
  run 0 "$tkc" compile "$arch" -o "$tmp/bundles/$name" --targets "$targets" "$@" || return 1
  has "$tmp/err" "tkc compile: codegen" || return 1
  run 0 "$TK_BIN/tkc" init-checkpoint "$arch" -o "$tmp/$name.tkp1" || return 1
  local t
  for t in ${targets//,/ }; do
    run 0 "$conf" "$arch" "$tmp/bundles/$name" "$tmp/$name.tkp1" "$t" || return 1
    has "$tmp/out" "all batches passed" || return 1
  done
}
check "nano: x86_64 and x86_64-simt agree with tests/ref" conform nano "$models/nano.arch.json" x86_64,x86_64-simt
check "custom-small: x86_64 and x86_64-simt" conform custom-small "$models/custom-small.arch.json" x86_64,x86_64-simt
check "dense: x86_64 (x86-64-v3)" conform dense "$models/dense.arch.json" x86_64 --cpu x86-64-v3
check "custom out_in/gelu/eps 1e-3: x86_64" conform custom-gelu "$tmp/custom-gelu.arch.json" x86_64
check "nano --dispatch dense: x86_64 and x86_64-simt (x86-64-v3)" conform nano-dense "$models/nano.arch.json" x86_64,x86_64-simt --dispatch dense --cpu x86-64-v3
check "custom out_in/gelu/eps 1e-3 --dispatch dense: x86_64 (x86-64-v3)" conform custom-gelu-dense "$tmp/custom-gelu.arch.json" x86_64 --dispatch dense --cpu x86-64-v3
bad_dispatch() {
  run 2 "$tkc" compile "$models/nano.arch.json" -o "$tmp/bad-dispatch" --dispatch spares || return 1
  has "$tmp/err" "--dispatch 'spares': expected dense or sparse" && [ ! -e "$tmp/bad-dispatch" ]
}
check "--dispatch with an unknown value is a usage error naming the choices" bad_dispatch

# One CPU level, no GPU targets: a third of a default compile's time.
x86=(--targets x86_64 --cpu x86-64-v3)
deterministic() {
  run 0 "$tkc" compile "$models/nano.arch.json" "${x86[@]}" -o "$tmp/det-a/nano" --quiet || return 1
  [ ! -s "$tmp/err" ] || { echo "  --quiet printed:" && cat "$tmp/err"; return 1; }
  run 0 "$tkc" compile "$models/nano.arch.json" "${x86[@]}" -o "$tmp/det-b/deeper/nano-copy" --quiet || return 1
  diff -r "$tmp/det-a/nano" "$tmp/det-b/deeper/nano-copy"
}
check "two compiles into different directories are byte-identical" deterministic

manifest_ok() {
  local m="$tmp/det-a/nano/manifest.json"
  python3 -c "import json,sys; d=json.load(open(sys.argv[1])); assert d['format']=='tkc-bundle/1' and any(t['kind']=='x86_64' for t in d['targets']) and d['kernels'] and d['buffers'] and d['parameters']" "$m" &&
    (cd "$tmp/det-a/nano" && sha256sum model.x86_64.so model_host.so model_host.c | while read -r h f; do has manifest.json "$h" || exit 1; done) &&
    ! grep -qF "$tmp" "$m"
}
check "manifest: valid JSON with the keys and the files' sha256, no paths" manifest_ok

replace() { # a bundle as tkc wrote it, less one file: replaced whole
  rm "$tmp/det-a/nano/model_host.h"
  run 0 "$tkc" compile "$models/nano.arch.json" "${x86[@]}" -o "$tmp/det-a/nano" --quiet &&
    diff -r "$tmp/det-a/nano" "$tmp/det-b/deeper/nano-copy"
}
check "an existing bundle is replaced on success" replace

not_a_bundle() {
  mkdir -p "$tmp/precious" && echo keep >"$tmp/precious/data.txt"
  run nonzero "$tkc" compile "$models/nano.arch.json" "${x86[@]}" -o "$tmp/precious" --quiet &&
    has "$tmp/err" "refusing to replace" && [ "$(cat "$tmp/precious/data.txt")" = keep ] &&
    [ "$(ls -A "$tmp/precious")" = data.txt ] && no_leftovers
}
check "a non-bundle output directory is refused, untouched, no temp files" not_a_bundle

unwritable() {
  echo file >"$tmp/regular"
  run nonzero "$tkc" compile "$models/nano.arch.json" "${x86[@]}" -o "$tmp/regular/sub/nano" --quiet &&
    has "$tmp/err" "regular" && no_leftovers &&
    run nonzero "$tkc" compile "$models/nano.arch.json" "${x86[@]}" -o /proc/tkc-cannot-write/nano --quiet &&
    [ ! -e /proc/tkc-cannot-write ]
}
check "an unwritable output fails cleanly" unwritable

bad_flags() {
  run nonzero "$tkc" compile "$models/nano.arch.json" -o "$tmp/bad" --targets riscv64 && has "$tmp/err" "unknown target" &&
    run nonzero "$tkc" compile "$models/nano.arch.json" -o "$tmp/bad" --cpu x86-64-v9 && has "$tmp/err" "--cpu" &&
    run 2 "$tkc" compile "$models/nano.arch.json" && has "$tmp/err" "missing -o" &&
    run 2 "$tkc" compile "$models/nano.arch.json" -o "$tmp/bad" --max-batch 0 &&
    [ ! -e "$tmp/bad" ] && no_leftovers
}
check "bad flags are refused before anything is written" bad_flags

echo "tkc_compile: $failures failed"
[ "$failures" -eq 0 ]
