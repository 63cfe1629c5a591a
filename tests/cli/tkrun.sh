#!/usr/bin/env bash
# tests/cli/tkrun.sh — tkrun as a user runs it: --help/--version, good requests on nano and
# dense (stdout is valid JSON with B rows, K non-zero router weights per row, within the
# docs/formats.md §3 tolerance of tkref, identical for 1 and 2 threads), at least 12 bad requests
# (exit 2, one line on stderr, nothing on stdout), a row whose router logits overflow f32
# rejected by name (exit 2), exit 1 for a bad bundle or checkpoint,
# --device hip/cuda → exit 3 quickly with a clear message, --device auto → cpu and says so,
# naming the best CPU level of the bundle this CPU supports, --cpu LEVEL forcing another
# (within tolerance) and a level the bundle lacks → exit 3 naming the levels it has,
# and --arch compiling into $XDG_CACHE_HOME/tkc once and reusing it.
set -u
. "$(dirname "$0")/lib.sh"
row() { awk -v n="$1" -v w="$2" 'BEGIN { printf "["; for (i = 0; i < w; i++) printf "%s%.5f", (i ? "," : ""), 1.7 * cos(0.37 * (i + 1) + n); printf "]" }'; }
rows() { local n=$1 w=$2 s="" i; for ((i = 0; i < n; i++)); do s="$s${s:+, }$(row "$i" "$w")"; done; printf '{"features": [%s]}' "$s"; }
# check_json ROWS OUT K: valid JSON, ROWS rows of OUT logits, K non-zeros per router row.
check_json() {
  python3 - "$tmp/out" "$1" "$2" "$3" <<'PY' || fail "response shape: $(head -c 200 "$tmp/out")"
import json, sys
d = json.load(open(sys.argv[1])); rows, out, k = map(int, sys.argv[2:])
assert set(d) == {"logits", "router_weights"}
assert len(d["logits"]) == rows and all(len(r) == out for r in d["logits"])
if k: assert len(d["router_weights"]) == rows and all(sum(v != 0 for v in r) == k for r in d["router_weights"])
else: assert d["router_weights"] == []
PY
}
# within_tolerance A B: docs/formats.md §3 per element |a - b| <= 1e-4 + 1e-3 |b| (b = tkref).
within_tolerance() {
  python3 - "$1" "$2" <<'PY' || fail "tkrun and tkref disagree beyond the FORMATS tolerance"
import json, sys
a, b = (json.load(open(p)) for p in sys.argv[1:])
for key in ("logits", "router_weights"):
    for ra, rb in zip(a[key], b[key], strict=True):
        for x, y in zip(ra, rb, strict=True):
            assert abs(x - y) <= 1e-4 + 1e-3 * abs(y), (key, x, y)
PY
}

"$BIN/tkrun" --help >"$tmp/out" 2>&1 && grep -q "usage: tkrun" "$tmp/out" || fail "tkrun --help"
"$BIN/tkrun" --version >"$tmp/out" 2>&1 && grep -q "^tkrun " "$tmp/out" || fail "tkrun --version"

for model in nano dense; do
  arch=models/$model.arch.json
  in=$(sed -n 's/.*"input_dim": *\([0-9]*\).*/\1/p' "$arch")
  k=$(sed -n 's/.*"top_k": *\([0-9]*\).*/\1/p' "$arch")
  # nano: the default CPU levels (x86-64-v3,x86-64-v4) and code for each GPU API (one gfx and
  # one sm: --device hip/cuda must find the code and fail on the missing runtime); dense: one
  # CPU level, to save compile time
  flags=(--offload-arch gfx90a --cuda-arch sm_80)
  [ "$model" = dense ] && flags=(--cpu x86-64-v3)
  "$BIN/tkc" compile "$arch" -o "$tmp/$model" --quiet "${flags[@]}" || { fail "compile $model"; continue; }
  "$BIN/tkc" init-checkpoint "$arch" -o "$tmp/$model.tkp1" >/dev/null || { fail "checkpoint $model"; continue; }
  run() { expect_exit "$1" "$BIN/tkrun" --bundle "$tmp/$model" --checkpoint "$tmp/$model.tkp1" --device cpu "${@:2}"; }
  for b in 1 17; do
    if [ "$b" = 1 ]; then printf '{"features": %s}' "$(row 0 "$in")" >"$tmp/req"; else rows "$b" "$in" >"$tmp/req"; fi
    run 0 --threads 1
    check_json "$b" 20 "$k"
    cp "$tmp/out" "$tmp/t1"
    run 0 --threads 2
    cmp -s "$tmp/out" "$tmp/t1" || fail "$model B=$b: 1 and 2 threads differ"
    "$BIN/tkref" --arch "$arch" --checkpoint "$tmp/$model.tkp1" <"$tmp/req" >"$tmp/ref" || fail "tkref $model"
    within_tolerance "$tmp/t1" "$tmp/ref"
  done
done

# Bad requests on nano: exit 2, one line on stderr, nothing on stdout.
in=96
good=$(row 0 $in)
short=$(row 0 95)
bad_requests=(
  ''                                  # empty body
  '   '                               # whitespace only
  '{"features": [1, 2'                # malformed JSON
  "{\"features\": $short}"            # wrong width
  "{\"features\": [$good, $short]}"   # ragged rows
  '{"features": ["1"]}'               # a string
  "{\"features\": [${good%,*}, null]}" # null
  "{\"features\": [${good%,*}, 1e400]}" # 1e400
  '{"features": []}'                  # empty batch
  '[1, 2, 3]'                         # not an object
  '{"feature": [1]}'                  # unknown key
  "{\"features\": $good, \"features\": $good}" # duplicate key
  "{\"features\": $good} x"           # trailing garbage
  "{\"features\": [[]]}"              # empty row
  "{\"features\": [${good%,*}, true]}" # boolean
  '{"features": [[[1]]]}'             # nested too deep
)
for body in "${bad_requests[@]}"; do
  printf '%s' "$body" >"$tmp/req"
  expect_exit 2 "$BIN/tkrun" --bundle "$tmp/nano" --checkpoint "$tmp/nano.tkp1" --device cpu
  [ -s "$tmp/out" ] && fail "bad request '${body:0:40}': wrote to stdout"
  [ "$(wc -l <"$tmp/err")" -eq 1 ] || fail "bad request '${body:0:40}': stderr is not one line: $(cat "$tmp/err")"
done

# Router overflow (docs/formats.md §3.6): row 1's f32 router logit overflows; the request is
# rejected as a bad request naming row 1 (nothing on stdout), where tkref (double) answers it.
# Rows 0 and 2 alone are answered within the tolerance of tkref.
python3 tests/cli/router_overflow.py "$tmp/nano.tkp1" 3 1 >"$tmp/req" || fail "router_overflow.py"
"$BIN/tkref" --arch models/nano.arch.json --checkpoint "$tmp/nano.tkp1" <"$tmp/req" >"$tmp/ref" ||
  fail "tkref does not answer the overflowing row"
expect_exit 2 "$BIN/tkrun" --bundle "$tmp/nano" --checkpoint "$tmp/nano.tkp1" --device cpu
[ -s "$tmp/out" ] && fail "router overflow: wrote to stdout"
grep -q "^tkrun: bad request: row 1: the router logits are not finite" "$tmp/err" ||
  fail "router overflow: unclear message: $(cat "$tmp/err")"
python3 tests/cli/router_overflow.py "$tmp/nano.tkp1" 2 -1 >"$tmp/req" || fail "router_overflow.py"
expect_exit 0 "$BIN/tkrun" --bundle "$tmp/nano" --checkpoint "$tmp/nano.tkp1" --device cpu
check_json 2 20 2
"$BIN/tkref" --arch models/nano.arch.json --checkpoint "$tmp/nano.tkp1" <"$tmp/req" >"$tmp/ref" || fail "tkref"
within_tolerance "$tmp/out" "$tmp/ref"

# Usage errors: exit 2.
printf '{"features": %s}' "$good" >"$tmp/req"
expect_exit 2 "$BIN/tkrun" --bundle "$tmp/nano"
expect_exit 2 "$BIN/tkrun" --bundle "$tmp/nano" --checkpoint "$tmp/nano.tkp1" --frobnicate
expect_exit 2 "$BIN/tkrun" --bundle "$tmp/nano" --checkpoint "$tmp/nano.tkp1" --device gpu
expect_exit 2 "$BIN/tkrun" --bundle "$tmp/nano" --checkpoint "$tmp/nano.tkp1" --threads 0
expect_exit 2 "$BIN/tkrun" --bundle "$tmp/nano" --arch models/nano.arch.json --checkpoint "$tmp/nano.tkp1"

# Cannot open: exit 1 (missing bundle, a checkpoint of another arch, a tampered bundle).
expect_exit 1 "$BIN/tkrun" --bundle "$tmp/missing" --checkpoint "$tmp/nano.tkp1"
expect_exit 1 "$BIN/tkrun" --bundle "$tmp/nano" --checkpoint "$tmp/dense.tkp1"
expect_exit 1 "$BIN/tkrun" --bundle "$tmp/nano" --checkpoint "$tmp/missing.tkp1"
sed 's/"seed": *[0-9]*/"seed": 7/' models/nano.arch.json >"$tmp/nano-seed7.arch.json"
"$BIN/tkc" init-checkpoint "$tmp/nano-seed7.arch.json" -o "$tmp/seed7.tkp1" >/dev/null || fail "checkpoint seed7"
expect_exit 1 "$BIN/tkrun" --bundle "$tmp/nano" --checkpoint "$tmp/seed7.tkp1"
grep -q "fingerprint" "$tmp/err" || fail "checkpoint of another arch: no fingerprint message: $(cat "$tmp/err")"
cp -r "$tmp/nano" "$tmp/tampered" && printf ' ' >>"$tmp/tampered/model_host.c"
expect_exit 1 "$BIN/tkrun" --bundle "$tmp/tampered" --checkpoint "$tmp/nano.tkp1"
grep -q "sha256 mismatch" "$tmp/err" || fail "tampered bundle: no sha256 message"
# A FIFO in place of manifest.json, model_host.so or the checkpoint: exit 1 at once, naming
# the path (timeout 10 guards against the hang this once was).
for f in manifest.json model_host.so; do
  cp -r "$tmp/nano" "$tmp/fifo" && rm "$tmp/fifo/$f" && mkfifo "$tmp/fifo/$f"
  expect_exit 1 timeout 10 "$BIN/tkrun" --bundle "$tmp/fifo" --checkpoint "$tmp/nano.tkp1" --device cpu
  grep -q "$tmp/fifo/$f: not a regular file" "$tmp/err" || fail "FIFO as $f: $(cat "$tmp/err")"
  rm -rf "$tmp/fifo"
done
mkfifo "$tmp/fifo.tkp1"
expect_exit 1 timeout 10 "$BIN/tkrun" --bundle "$tmp/nano" --checkpoint "$tmp/fifo.tkp1" --device cpu
grep -q "fifo.tkp1: not a regular file" "$tmp/err" || fail "FIFO as checkpoint: $(cat "$tmp/err")"

# Devices: hip and cuda are unavailable here (exit 3, quickly, saying why); auto falls back.
for dev in hip cuda; do
  start=$(date +%s%N)
  expect_exit 3 "$BIN/tkrun" --bundle "$tmp/nano" --checkpoint "$tmp/nano.tkp1" --device "$dev"
  ms=$(( ($(date +%s%N) - start) / 1000000 ))
  [ "$ms" -lt 5000 ] || fail "--device $dev took $ms ms"
  grep -q "device unavailable: .*$dev" "$tmp/err" || fail "--device $dev: unclear message: $(cat "$tmp/err")"
  grep -q "bundle has no" "$tmp/err" && fail "--device $dev: the bundle's GPU code was not found: $(cat "$tmp/err")"
  [ -s "$tmp/out" ] && fail "--device $dev: wrote to stdout"
done
# --device auto: one short line; the reasons each GPU backend was passed over with --verbose.
expect_exit 0 "$BIN/tkrun" --bundle "$tmp/nano" --checkpoint "$tmp/nano.tkp1" --device auto
grep -q "^tkrun: --device auto: cpu, .*; no GPU backend answered (--verbose says why)$" "$tmp/err" &&
  [ "$(wc -l <"$tmp/err")" -eq 1 ] && ! grep -q "hip:\|cuda:" "$tmp/err" ||
  fail "--device auto: expected one short line saying cpu: $(cat "$tmp/err")"
cp "$tmp/out" "$tmp/auto"
expect_exit 0 "$BIN/tkrun" --bundle "$tmp/nano" --checkpoint "$tmp/nano.tkp1" --verbose
grep -q "using cpu.*hip: .*cuda: " "$tmp/err" || fail "--verbose does not say why each GPU was passed over: $(cat "$tmp/err")"
cmp -s "$tmp/out" "$tmp/auto" || fail "--verbose changes the answer"

# --cpu LEVEL: nano's bundle has x86-64-v3 and x86-64-v4; the runtime runs the best this CPU
# supports and names it, --cpu forces one of the bundle's, and a level it lacks is exit 3.
best=x86-64-v4
for f in avx512f avx512bw avx512cd avx512dq avx512vl; do grep -qw "$f" /proc/cpuinfo || best=x86-64-v3; done
expect_exit 0 "$BIN/tkrun" --bundle "$tmp/nano" --checkpoint "$tmp/nano.tkp1"
grep -q "^tkrun: --device auto: cpu, $best (" "$tmp/err" || fail "auto did not choose $best: $(cat "$tmp/err")"
expect_exit 0 "$BIN/tkrun" --bundle "$tmp/nano" --checkpoint "$tmp/nano.tkp1" --cpu x86-64-v3
grep -q "^tkrun: --device auto: cpu, x86-64-v3 (" "$tmp/err" || fail "--cpu x86-64-v3: $(cat "$tmp/err")"
within_tolerance "$tmp/out" "$tmp/auto"
expect_exit 3 "$BIN/tkrun" --bundle "$tmp/nano" --checkpoint "$tmp/nano.tkp1" --cpu=x86-64-v2
grep -q "cpu x86-64-v2: the bundle has no x86_64 code for it (it has x86-64-v3, x86-64-v4)" "$tmp/err" ||
  fail "--cpu x86-64-v2: unclear message: $(cat "$tmp/err")"
[ -s "$tmp/out" ] && fail "--cpu x86-64-v2: wrote to stdout"

# --arch: compiled into $XDG_CACHE_HOME/tkc once, then reused; same answer as the bundle.
export XDG_CACHE_HOME="$tmp/cache"
expect_exit 0 "$BIN/tkrun" --arch models/nano.arch.json --checkpoint "$tmp/nano.tkp1" --device cpu
grep -q "compiling" "$tmp/err" || fail "--arch: first run does not say it compiles"
cmp -s "$tmp/out" "$tmp/auto" || fail "--arch answer differs from the bundle's"
[ "$(ls "$tmp/cache/tkc" | wc -l)" -eq 1 ] || fail "--arch: expected one cache entry: $(ls -a "$tmp/cache/tkc")"
expect_exit 0 "$BIN/tkrun" --arch models/nano.arch.json --checkpoint "$tmp/nano.tkp1" --device cpu
grep -q "compiling" "$tmp/err" && fail "--arch: second run compiled again"
cmp -s "$tmp/out" "$tmp/auto" || fail "--arch (cached) answer differs"

# --arch runs the installed tkc (beside tkrun, else on PATH); tkrun links no compiler.
ldd "$BIN/tkrun" | grep -Eq 'libLLVM|libz3' && fail "tkrun links LLVM or Z3: $(ldd "$BIN/tkrun")"
sed 's/"top_k": *[0-9]*/"top_k": 9/' models/nano.arch.json >"$tmp/bad-k.arch.json"
expect_exit 1 "$BIN/tkrun" --arch "$tmp/bad-k.arch.json" --checkpoint "$tmp/nano.tkp1" --device cpu
grep -q "top_k" "$tmp/err" || fail "--arch with a bad arch: tkc's message lost: $(cat "$tmp/err")"
[ "$(ls "$tmp/cache/tkc" | wc -l)" -eq 1 ] || fail "--arch with a bad arch left a cache entry"
mkdir "$tmp/alone" && cp "$BIN/tkrun" "$tmp/alone/"
alone() {
  expect_exit "$1" "$tmp/alone/tkrun" --arch models/nano.arch.json --checkpoint "$tmp/nano.tkp1" \
    --device cpu
}
PATH="$tmp/alone" alone 1
grep -q "tkc" "$tmp/err" || fail "--arch without a tkc: unclear message: $(cat "$tmp/err")"
PATH="$BIN:/usr/bin:/bin" alone 0
cmp -s "$tmp/out" "$tmp/auto" || fail "--arch with tkc on PATH: answer differs"
grep -q "compiling" "$tmp/err" && fail "--arch with tkc on PATH: did not reuse the cache entry"

finish tkrun
