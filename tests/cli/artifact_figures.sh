#!/usr/bin/env bash
# tests/cli/artifact_figures.sh — scripts/artifact_figures.py (the figures of scripts/artifact.sh)
# on small inputs: a cut of bench/forward's saved run (tests/cli/data/forward_small.json), the
# proof store of `tkc verify models/nano.arch.json --proofs-dir`, and the manifest and stderr
# of `tkc compile models/nano.arch.json --targets nvptx` (sm_80 and sm_90: the log
# repeats the validate and codegen stages, which the figure sums). Checks that
# - draw writes forward.png, obligations.png and compile_stages.png, each a PNG (signature,
#   IHDR first, width and height > 0), and prints Markdown whose image links, relative to
#   --link-base, name those files;
# - the figures' totals are the inputs' (obligations counted from index.json here, the
#   manifest's proofs.total, the sum of the compile log's stage times summed here by awk);
# - obligations-table has a column for every class of the index and the total per row;
# - inputs that are not what their option says are refused, naming the file.
# Exits 77 (ctest SKIP_RETURN_CODE) when neither python3 nor /usr/bin/python3 imports
# matplotlib (Debian: python3-matplotlib, which scripts/artifact.sh installs).
source "$(dirname "$0")/lib.sh"
py=
for p in python3 /usr/bin/python3; do
  if "$p" -c 'import matplotlib' 2>/dev/null; then py=$p && break; fi
done
[ -n "$py" ] || { echo "SKIP: matplotlib cannot be imported by python3 or /usr/bin/python3 (apt-get install python3-matplotlib)"; exit 77; }
export PYTHONDONTWRITEBYTECODE=1
figures() { "$py" scripts/artifact_figures.py "$@"; }

"$BIN/tkc" verify models/nano.arch.json --proofs-dir "$tmp/proofs" >"$tmp/verify.out" 2>"$tmp/verify.err" ||
  fail "tkc verify nano: $(tail -3 "$tmp/verify.err")"
"$BIN/tkc" compile models/nano.arch.json -o "$tmp/bundle" --targets nvptx 2>"$tmp/compile.err" ||
  fail "tkc compile nano: $(tail -3 "$tmp/compile.err")"

mkdir -p "$tmp/art"
figures draw --out "$tmp/art/figures" --link-base "$tmp/art" --forward tests/cli/data/forward_small.json \
  --obligations "nano=$tmp/proofs/index.json" --obligations "nano=$tmp/bundle/manifest.json" \
  --compile-log "nano=$tmp/compile.err" >"$tmp/art/tables.md" 2>"$tmp/draw.err" ||
  fail "draw exited $?: $(cat "$tmp/draw.err")"

# png_size FILE: "WIDTH HEIGHT" of a PNG, or a complaint.
png_size() {
  python3 - "$1" <<'PY'
import struct, sys
head = open(sys.argv[1], "rb").read(24)
if head[:8] != b"\x89PNG\r\n\x1a\n" or head[12:16] != b"IHDR":
    sys.exit("not a PNG (signature or IHDR)")
print(*struct.unpack(">II", head[16:24]))
PY
}
for f in forward obligations compile_stages; do
  png="$tmp/art/figures/$f.png"
  size=$(png_size "$png" 2>&1) || { fail "$f.png: $size"; continue; }
  read -r w h <<<"$size"
  [ "$w" -gt 0 ] && [ "$h" -gt 0 ] || fail "$f.png is ${w}x$h"
  grep -qF "](figures/$f.png)" "$tmp/art/tables.md" || fail "the Markdown does not link figures/$f.png"
done
while read -r link; do
  [ -f "$tmp/art/$link" ] || fail "the Markdown links $link, which is not there"
done < <(grep -oE '!\[[^]]*\]\([^)]*\)' "$tmp/art/tables.md" | sed -E 's/.*\(([^)]*)\)/\1/')

verify_total=$(python3 -c 'import json,sys; print(len(json.load(open(sys.argv[1]))["obligations"]))' "$tmp/proofs/index.json")
bundle_total=$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["proofs"]["total"])' "$tmp/bundle/manifest.json")
grep -qF "nano (verify) $verify_total; nano (bundle) $bundle_total." "$tmp/art/tables.md" ||
  fail "obligation totals: expected verify $verify_total, bundle $bundle_total: $(grep -F Totals "$tmp/art/tables.md")"
stage_ms=$(awk '$1 == "tkc" && $2 == "compile:" && $5 == "ms" { s += $4 } END { printf "%.1f", s }' "$tmp/compile.err")
grep -qF "Totals: nano $stage_ms ms." "$tmp/art/tables.md" ||
  fail "compile total: expected $stage_ms ms: $(grep -F 'Totals: nano' "$tmp/art/tables.md" | tail -1)"

figures obligations-table --obligations "nano=$tmp/proofs/index.json" --solver-log "nano=$tmp/verify.err" \
  >"$tmp/table1" 2>&1 || fail "obligations-table: $(cat "$tmp/table1")"
python3 - "$tmp/table1" "$tmp/proofs/index.json" <<'PY' || fail "obligations-table: $(cat "$tmp/table1")"
import collections, json, sys
head, _, row = [l.strip().strip("|").split("|") for l in open(sys.argv[1]).read().splitlines()[:3]]
cells = dict(zip((c.strip() for c in head), (c.strip() for c in row)))
want = collections.Counter(o["class"] for o in json.load(open(sys.argv[2]))["obligations"])
bad = [f"{c}: {cells.get(c)} (want {n})" for c, n in want.items() if cells.get(c) != str(n)]
if cells.get("total") != str(sum(want.values())):
    bad.append(f"total {cells.get('total')}")
if not cells.get("solver time", "").endswith(" s"):
    bad.append(f"solver time {cells.get('solver time')}")
sys.exit("; ".join(bad) or None)
PY

# refused REASON ARGS...: artifact_figures.py ARGS exits non-zero naming REASON.
refused() {
  local reason=$1
  shift
  if figures "$@" >"$tmp/out" 2>"$tmp/err"; then
    fail "$* was accepted"
  else
    grep -qF -- "$reason" "$tmp/err" || fail "$*: stderr lacks '$reason': $(cat "$tmp/err")"
  fi
}
refused "$tmp/verify.out: no 'tkc compile: STAGE MS ms' line" draw --out "$tmp/bad" --compile-log "nano=$tmp/verify.out"
refused "$tmp/bundle/manifest.json: expected bench/forward's forward.json" draw --out "$tmp/bad" \
  --forward "$tmp/bundle/manifest.json"
refused "tests/cli/data/forward_small.json: expected a proof store's index.json" draw --out "$tmp/bad" \
  --obligations nano=tests/cli/data/forward_small.json
refused "expected MODEL=FILE" draw --out "$tmp/bad" --compile-log "$tmp/compile.err"
finish artifact_figures
