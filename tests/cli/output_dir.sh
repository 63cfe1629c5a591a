#!/usr/bin/env bash
# tests/cli/output_dir.sh — `tkc compile -o DIR` and `tkc verify --proofs-dir DIR` replace only
# what tkc wrote (issue 14; runtime/fs.h, docs/abi.md "Output marker"):
# - a directory whose manifest.json merely says "tkc-bundle/1" beside a user's thesis.tex is
#   refused (exit 1, the message names thesis.tex, both files intact), for bundles and stores;
# - the marker .tkc-output lists every directory and file of the bundle with its size and
#   sha256 (checked here with python's hashlib, not tkc);
# - a bundle or store with a user's file or directory added, or one of tkc's files changed
#   (in size, or in one byte), is refused naming them, at most 10 then "and N more";
# - an unmodified one (a listed file deleted) is replaced: the file is back, byte-identical;
# - SIGINT while the temp dir exists (polled for), and SIGTERM at spread times during
#   `tkc verify --proofs-dir`, leave no `.X.tmp.*` and the old directory as it was.
source "$(dirname "$0")/lib.sh"
: >"$tmp/req"
tkc="$BIN/tkc"
arch=models/dense.arch.json # the quickest model to compile

compile() { expect_exit "$1" "$tkc" compile "$arch" --targets x86_64 --quiet -o "$2"; }
prove() { expect_exit "$1" "$tkc" verify "$arch" --proofs-dir "$2"; }
no_temp() { # no_temp WHAT: no temp dir anywhere under $tmp
  local left
  left=$(find "$tmp" -name '.*.tmp.*')
  [ -z "$left" ] || fail "$1: temp dirs left: $left"
}
names() { grep -qF -- "$1" "$tmp/err" || fail "$2: the message does not name '$1': $(cat "$tmp/err")"; }
same_tree() { diff -r "$1" "$2" >/dev/null || fail "$3: $1 differs from $2"; }

# ---- a user's directory that only looks like tkc's ----
thesis() { # thesis DIR FILE: a tkc-looking FILE beside thesis.tex
  mkdir -p "$1"
  printf '{\n  "format": "tkc-bundle/1",\n  "root": "x"\n}\n' >"$1/$2"
  echo 'chapter 1' >"$1/thesis.tex"
  cp -r "$1" "$1.copy"
}
thesis "$tmp/thesis" manifest.json
compile 1 "$tmp/thesis"
names thesis.tex "thesis (compile)"
names "refusing to replace" "thesis (compile)"
same_tree "$tmp/thesis" "$tmp/thesis.copy" "thesis (compile)"
thesis "$tmp/pthesis" index.json
prove 1 "$tmp/pthesis"
names thesis.tex "thesis (verify)"
same_tree "$tmp/pthesis" "$tmp/pthesis.copy" "thesis (verify)"
no_temp thesis

# ---- the marker, checked independently ----
compile 0 "$tmp/b"
prove 0 "$tmp/p"
python3 - "$tmp/b" "$tmp/p" <<'PY' || fail "the marker does not list the tree as it is"
import hashlib, json, os, sys
for root in sys.argv[1:]:
    m = json.load(open(os.path.join(root, ".tkc-output")))
    assert m["format"] == "tkc-output/1", m["format"]
    dirs, files = set(), {}
    for d, sub, names in os.walk(root):
        rel = os.path.relpath(d, root)
        dirs.update(os.path.normpath(os.path.join(rel, s)) for s in sub)
        for n in names:
            p = os.path.normpath(os.path.join(rel, n))
            if p != ".tkc-output":
                data = open(os.path.join(d, n), "rb").read()
                files[p] = (len(data), hashlib.sha256(data).hexdigest())
    assert set(m["dirs"]) == dirs, (sorted(m["dirs"]), sorted(dirs))
    listed = {f["path"]: (f["size"], f["sha256"]) for f in m["files"]}
    assert listed == files, sorted(set(listed.items()) ^ set(files.items()))[:4]
    assert len(files) > 5 and "index.json" in str(files)
PY
cp -r "$tmp/b" "$tmp/b.copy"
cp -r "$tmp/p" "$tmp/p.copy"

# ---- refused: a user's file or directory inside, or a file of tkc's changed ----
refused() { # refused KIND DIR WHAT NAME...: replacing DIR is refused naming each NAME, DIR kept
  local kind=$1 dir=$2 what=$3
  shift 3
  cp -r "$dir" "$dir.before"
  if [ "$kind" = compile ]; then compile 1 "$dir"; else prove 1 "$dir"; fi
  for n in "$@"; do names "$n" "$what"; done
  same_tree "$dir" "$dir.before" "$what"
  rm -rf "$dir" "$dir.before"
  cp -r "$dir.copy" "$dir"
}
echo mine >"$tmp/b/notes.txt"
mkdir "$tmp/b/proofs/drafts" && echo d >"$tmp/b/proofs/drafts/d.txt"
refused compile "$tmp/b" "user files in a bundle" notes.txt proofs/drafts/
echo '/* my edit */' >>"$tmp/b/model_host.c"
refused compile "$tmp/b" "a bundle file grown" "model_host.c (changed)"
python3 -c 'import sys; p = sys.argv[1]; d = bytearray(open(p, "rb").read()); d[10] ^= 1; open(p, "wb").write(d)' "$tmp/b/manifest.json"
refused compile "$tmp/b" "a bundle file with one byte changed" "manifest.json (changed)"
for i in $(seq 1 13); do echo "$i" >"$tmp/b/user-$i.txt"; done
refused compile "$tmp/b" "13 user files" "user-1.txt" "and 3 more" "13 entries"
echo mine >"$tmp/p/notes.txt"
refused verify "$tmp/p" "a user file in a proof store" notes.txt
echo ' ' >>"$tmp/p/index.json"
refused verify "$tmp/p" "a changed index.json" "index.json (changed)"
ln -s /etc/hostname "$tmp/p/link"
refused verify "$tmp/p" "a symlink in a proof store" link
no_temp refused

# ---- replaced: what tkc wrote, unchanged (a listed file may be gone) ----
rm "$tmp/b/model_host.h"
compile 0 "$tmp/b"
same_tree "$tmp/b" "$tmp/b.copy" "an unmodified bundle recompiled"
query=$(ls "$tmp/p/queries" | head -n 1)
rm "$tmp/p/queries/$query"
prove 0 "$tmp/p"
same_tree "$tmp/p" "$tmp/p.copy" "an unmodified proof store reproved"
no_temp replaced

# ---- interrupted: the temp dir never outlives the process ----
# a non-interactive shell starts background jobs with SIGINT ignored: env restores it
env --default-signal=INT "$tkc" compile "$arch" --targets x86_64 --quiet -o "$tmp/b" 2>"$tmp/sig.err" &
pid=$!
seen=0
for _ in $(seq 1 60000); do # up to a minute; the write step lasts a few hundred ms
  if compgen -G "$tmp/.b.tmp.*" >/dev/null; then
    kill -INT "$pid" && seen=1
    break
  fi
  kill -0 "$pid" 2>/dev/null || break
  sleep 0.001
done
wait "$pid"
rc=$?
[ "$seen" = 1 ] || fail "SIGINT: never saw the temp dir of the compile (exit $rc)"
[ "$rc" = 130 ] || fail "SIGINT during the write: exit $rc, expected 130 (killed by SIGINT): $(cat "$tmp/sig.err")"
same_tree "$tmp/b" "$tmp/b.copy" "SIGINT during the write: the old bundle"
no_temp "SIGINT during the write"
for delay in 0.3 0.6 0.9 1.2 1.5 1.8; do
  "$tkc" verify "$arch" --proofs-dir "$tmp/p" >/dev/null 2>&1 &
  pid=$!
  sleep "$delay"
  kill -TERM "$pid" 2>/dev/null
  wait "$pid"
  no_temp "SIGTERM after $delay s"
  same_tree "$tmp/p" "$tmp/p.copy" "SIGTERM after $delay s: the store"
done

finish output_dir
