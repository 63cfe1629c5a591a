#!/usr/bin/env bash
# tests/cli/check_proofs.sh — `tkc check-proofs BUNDLE` (docs/proofs.md "Checking a bundle"):
# the bundle's proof store checked independently of tkc (sha256sum: each query file hashes to
# its name, the root is the hash of the sorted names, the manifest's certificate agrees); the
# command accepts the bundles tkc writes (nano for x86_64,amdgcn,nvptx with one full solver
# replay, its second CPU level's store included, and a --cpu x86-64-v4 bundle whose CPU
# schedule, and so its proofs, differ, and a --dispatch dense bundle, whose certificate has no
# dispatch key where the default's says sparse); and it
# rejects with exit 3 a bundle with one byte changed in a code object (model.x86_64.so, a PTX),
# in manifest.json (a file hash, max_batch, the certificate's IR hash), in a query file (also
# of the x86-64-v4 store), in
# index.json, in the output marker, or with a file added; a --gpu-schedule tiled bundle of two
# GPU tile sets checks out, and a changed query of its further set's store (proofs/gpu-nvidia)
# or its PTX is rejected; usage errors exit 2, an unreadable
# bundle 1.
source "$(dirname "$0")/lib.sh"
: >"$tmp/req"
tkc="$BIN/tkc"
arch=models/nano.arch.json

expect_exit 0 "$tkc" check-proofs --help
grep -q "usage: tkc check-proofs" "$tmp/out" || fail "--help text"
expect_exit 2 "$tkc" check-proofs
expect_exit 2 "$tkc" check-proofs "$tmp/b" --frobnicate
expect_exit 2 "$tkc" check-proofs "$tmp/b" --solvers=yices
expect_exit 1 "$tkc" check-proofs "$tmp/none"
mkdir "$tmp/empty"
expect_exit 1 "$tkc" check-proofs "$tmp/empty" --no-replay

expect_exit 0 "$tkc" compile "$arch" -o "$tmp/b" --targets x86_64,amdgcn,nvptx --quiet
b=$tmp/b

# ---- the store, checked without tkc ----
q=$b/proofs/queries
nq=$(ls "$q" | wc -l)
[ "$nq" -gt 50 ] || fail "only $nq query files"
bad=$(cd "$q" && sha256sum -- *.smt2 | awk '{ if ($2 != $1 ".smt2") print $2 }')
[ -z "$bad" ] || fail "query files whose hash is not their name: $bad"
grep -l '^;' "$q"/*.smt2 >/dev/null && fail "a query file keeps a comment line"
root=$(ls "$q" | sed 's/\.smt2$//' | LC_ALL=C sort | sha256sum | cut -c1-64)
python3 - "$b" "$root" "$nq" <<'PY' || fail "index.json / manifest certificate disagree with the store"
import json, os, sys
b, root, nq = sys.argv[1], sys.argv[2], int(sys.argv[3])
index = json.load(open(os.path.join(b, "proofs/index.json")))
cert = json.load(open(os.path.join(b, "manifest.json")))["certificate"]
obl = index["obligations"]
used = {o["query"] for o in obl}
assert index["root"] == root == cert["proofs_root"], (index["root"], root, cert["proofs_root"])
assert index["queries"] == nq == cert["queries"] == len(used), (index["queries"], nq, len(used))
assert cert["obligations"] == len(obl) > nq, (cert["obligations"], len(obl))
assert all(os.path.exists(os.path.join(b, "proofs/queries", h + ".smt2")) for h in used)
assert cert["options"] == {"targets": "x86_64,amdgcn,nvptx", "offload_arch": "gfx90a,gfx942,gfx1100",
                           "cuda_arch": "sm_80,sm_90", "code_object_version": 0,
                           "cpu": "x86-64-v3,x86-64-v4", "dispatch": "sparse"}, cert["options"]
assert all(len(cert["ir"][k]) == 64 for k in ("module", "gpu", "cpu"))
# The default's second CPU level: its own store, bound by certificate.cpu_levels.
(level,) = cert["cpu_levels"]
assert level["cpu"] == "x86-64-v4" and level["proofs"] == "proofs/x86-64-v4", level
store = os.path.join(b, level["proofs"])
lindex = json.load(open(os.path.join(store, "index.json")))
assert lindex["root"] == level["proofs_root"] != cert["proofs_root"], level
assert lindex["queries"] == level["queries"] == len(os.listdir(os.path.join(store, "queries")))
assert len(lindex["obligations"]) == level["obligations"]
assert level["ir"]["cpu"] != cert["ir"]["cpu"], "the two levels have one CPU schedule"
PY

# ---- accepted: the whole check, solver replay included (once) ----
expect_exit 0 "$tkc" check-proofs "$b" -j 2
grep -q "^ok: " "$tmp/out" || fail "no ok line"
grep -q "solver runs, every one unsat (z3,cvc5)" "$tmp/err" || fail "no replay in both solvers"
grep -q "replaying the further CPU levels' and GPU tile sets' own queries" "$tmp/err" || fail "the x86-64-v4 queries not replayed"

# ---- another --cpu: its own CPU schedule, proofs and certificate, also accepted ----
expect_exit 0 "$tkc" compile "$arch" -o "$tmp/v4" --targets x86_64 --cpu x86-64-v4 --quiet
expect_exit 0 "$tkc" check-proofs "$tmp/v4" --no-replay
python3 - "$b" "$tmp/v4" <<'PY' || fail "--cpu x86-64-v4 bundle: certificate not its own"
import json, sys
a, v4 = (json.load(open(d + "/manifest.json"))["certificate"] for d in sys.argv[1:3])
assert v4["options"]["cpu"] == "x86-64-v4" and v4["options"]["targets"] == "x86_64"
assert v4["ir"]["cpu"] != a["ir"]["cpu"], "same CPU schedule for v3 and v4"
assert v4["ir"]["gpu"] == a["ir"]["gpu"]
assert v4["proofs_root"] != a["proofs_root"], "the v4 schedule's proofs are the v3 ones"
PY

# ---- the replay can fail: a z3 on PATH that answers sat for one query (in the dense x86-64-v3
# bundle, which the checks below use too: the cheapest to regenerate) ----
expect_exit 0 "$tkc" compile "$arch" -o "$tmp/dn" --targets x86_64 --cpu x86-64-v3 --dispatch dense --quiet
# Queries go to the solver in batches (compiler/replay.c); a batch with a wrong answer is run
# again file by file, and the file is named. The fake z3 reads the file its last argument
# names: a batch file gets one answer per (check-sat), the first one `sat`; a single query
# file gets `sat` when it is $FAKE_SAT (the store's first query, by name), else `unsat`.
mkdir -p "$tmp/fakebin"
cat >"$tmp/fakebin/z3" <<'SH'
#!/bin/sh
for f; do :; done
case "$f" in
  */batch.*.smt2) n=$(grep -c '^(check-sat)' "$f"); echo sat; i=1
                  while [ "$i" -lt "$n" ]; do echo unsat; i=$((i + 1)); done ;;
  */"$FAKE_SAT") echo sat ;;
  *) echo unsat ;;
esac
SH
chmod +x "$tmp/fakebin/z3"
first=$(ls "$tmp/dn/proofs/queries" | LC_ALL=C sort | head -n 1)
FAKE_SAT=$first PATH="$tmp/fakebin:$PATH" expect_exit 3 "$tkc" check-proofs "$tmp/dn" --solvers=z3 -j 1
grep -q "queries/$first: z3 says 'sat' (expected unsat)" "$tmp/err" || fail "a sat query in a batch is not named: $(tail -n 2 "$tmp/err")"
FAKE_SAT=none PATH="$tmp/fakebin:$PATH" expect_exit 3 "$tkc" check-proofs "$tmp/dn" --solvers=z3 -j 1
grep -q "answered 'sat...' for a batch of 40 queries (from .*/$first), though each alone is unsat" "$tmp/err" ||
  fail "a batch that fails only as a batch passes: $(tail -n 2 "$tmp/err")"

# ---- dense dispatch: no dispatch key, and the bundle regenerates from it ----
expect_exit 0 "$tkc" check-proofs "$tmp/dn" --no-replay
python3 - "$tmp/dn/manifest.json" <<'PY' || fail "--dispatch dense bundle: certificate option dispatch"
import json, sys
assert "dispatch" not in json.load(open(sys.argv[1]))["certificate"]["options"]
PY
rm -rf "$tmp/sp" && cp -r "$b" "$tmp/sp"
sed 's/"dispatch": "sparse"/"dispatch": "sparce"/' "$tmp/sp/manifest.json" >"$tmp/sp/m" && mv "$tmp/sp/m" "$tmp/sp/manifest.json"
expect_exit 1 "$tkc" check-proofs "$tmp/sp" --no-replay
grep -q 'dispatch "sparce": expected "sparse"' "$tmp/err" || fail "an unknown certificate dispatch is not named"

# ---- rejected: one changed byte (or file) each, exit 3 naming what differs ----
flip() { # flip FILE OFFSET: xor one bit of the byte at OFFSET
  python3 -c 'import sys; p, o = sys.argv[1], int(sys.argv[2]); d = bytearray(open(p, "rb").read()); d[o] ^= 1; open(p, "wb").write(d)' "$1" "$2"
}
tampered() { # tampered NAME WANT_IN_STDERR [BUNDLE]: copies the bundle to $tmp/t for a change
  rm -rf "$tmp/t" && cp -r "${3:-$b}" "$tmp/t"
  case_name=$1 want=$2
}
rejects() {
  expect_exit 3 "$tkc" check-proofs "$tmp/t" --no-replay
  grep -q -- "$want" "$tmp/err" || fail "$case_name: message does not name '$want': $(tail -n 3 "$tmp/err")"
}
# Changes caught only by the regeneration use the cheapest bundle to regenerate (dense
# dispatch, x86_64 at x86-64-v3, the same pipeline); those caught by the hash checks use the
# three-target one.
tampered "code object" "model.x86_64.so: sha256"
flip "$tmp/t/model.x86_64.so" 4096
rejects
tampered "PTX" "model.sm_80.ptx: sha256"
flip "$tmp/t/model.sm_80.ptx" 2000
rejects
tampered "manifest file hash" "model.x86_64.so: sha256"
sed -i -E '0,/"sha256": "[0-9a-f]/s//"sha256": "g/' "$tmp/t/manifest.json"
sed -i 's/"sha256": "g/"sha256": "0/' "$tmp/t/manifest.json"
cmp -s "$b/manifest.json" "$tmp/t/manifest.json" && sed -i -E '0,/"sha256": "0/s//"sha256": "1/' "$tmp/t/manifest.json"
rejects
tampered "manifest max_batch" "differs from the regenerated bundle" "$tmp/dn"
sed -i 's/"max_batch": 65536/"max_batch": 65535/' "$tmp/t/manifest.json"
rejects
tampered "manifest IR hash" "manifest.json differs from the regenerated bundle" "$tmp/dn"
python3 - "$tmp/t/manifest.json" <<'PY'
import sys
p = sys.argv[1]; s = open(p).read()
i = s.index('"gpu": "') + len('"gpu": "')
s = s[:i] + ("1" if s[i] == "0" else "0") + s[i + 1:]
open(p, "w").write(s)
PY
rejects
tampered "query file" "proofs/queries: "
flip "$tmp/t/proofs/queries/$(ls "$q" | head -n 1)" 40
rejects
tampered "level query file" "proof store proofs/x86-64-v4"
lq=$b/proofs/x86-64-v4/queries
flip "$tmp/t/proofs/x86-64-v4/queries/$(ls "$lq" | head -n 1)" 40
rejects
tampered "index.json" "proofs/index.json differs from the regenerated bundle at line 6, column [0-9]* (obligation " "$tmp/dn"
sed -i -E '6s/"rlimit": ([0-9])/"rlimit": 9\1/' "$tmp/t/proofs/index.json"
rejects
tampered "added file" "extra.txt: in the bundle but not in the regenerated one" "$tmp/dn"
echo extra >"$tmp/t/extra.txt"
rejects
tampered "output marker" ".tkc-output differs from the regenerated bundle" "$tmp/dn"
sed -i '2s/"format"/"format" /' "$tmp/t/.tkc-output"
rejects

# ---- a tiled bundle of two GPU tile sets (cdna for gfx90a, nvidia for sm_80): the further
# set's store is bound by certificate.gpu_tile_sets, checked, and its code regenerated ----
expect_exit 0 "$tkc" compile "$arch" -o "$tmp/ts" --targets amdgcn,nvptx,x86_64 --offload-arch gfx90a \
  --cuda-arch sm_80 --cpu x86-64-v3 --gpu-schedule tiled --quiet
python3 - "$tmp/ts" <<'PY' || fail "tiled bundle: proofs/gpu-nvidia not bound by the certificate"
import json, os, sys
b = sys.argv[1]
m = json.load(open(os.path.join(b, "manifest.json")))
(ts,) = m["certificate"]["gpu_tile_sets"]
assert ts["tile_set"] == "nvidia" and ts["proofs"] == "proofs/gpu-nvidia", ts
index = json.load(open(os.path.join(b, ts["proofs"], "index.json")))
assert index["root"] == ts["proofs_root"] and len(index["obligations"]) == ts["obligations"]
assert ts["ir"]["gpu"] != m["certificate"]["ir"]["gpu"], "the two tile sets have one GPU schedule"
PY
expect_exit 0 "$tkc" check-proofs "$tmp/ts" --no-replay
tampered "tile set query file" "proof store proofs/gpu-nvidia" "$tmp/ts"
tq=$tmp/ts/proofs/gpu-nvidia/queries
flip "$tmp/t/proofs/gpu-nvidia/queries/$(ls "$tq" | head -n 1)" 40
rejects
tampered "tile set code" "model.sm_80.ptx: sha256" "$tmp/ts"
flip "$tmp/t/model.sm_80.ptx" 2000
rejects

finish check_proofs
