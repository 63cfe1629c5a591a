#!/usr/bin/env bash
# tests/python/run.sh — the Python binding's tests (tests/python/*.py) under pytest, against the
# build tree's libtkrt.so.0, tkc and tkrun (ctest `python_binding`, label python).
#
# The interpreter is $TK_PYTHON when set, else the first of `python3` on PATH and
# /usr/bin/python3 (where Debian's python3-numpy and python3-pytest install, from
# scripts/install-deps.sh) that imports both. When none does, or when libtkrt is built with
# sanitizers (a Python process cannot load an ASan library without preloading its runtime),
# it prints why and exits 77, which ctest reports as skipped.
set -u
cd "${TK_SOURCE_DIR:-$(dirname "$0")/../..}" || exit 1
build=$(cd "${TK_BUILD_DIR:-build}" && pwd) || exit 1
skip() { echo "python_binding: skipped: $*"; exit 77; }

[ "${TK_SANITIZE:-0}" = 1 ] && skip "libtkrt is built with -fsanitize (TK_SANITIZE=ON); the Release build runs these tests"

python=""
why=()
for candidate in ${TK_PYTHON:-python3 /usr/bin/python3}; do
  if out=$("$candidate" -c 'import numpy, pytest' 2>&1); then
    python=$candidate
    break
  fi
  why+=("$candidate: ${out##*$'\n'}")
done
[ -n "$python" ] || skip "no interpreter imports numpy and pytest (apt install python3-numpy python3-pytest): ${why[*]}"

export TKC_LIBTKRT="$build/lib/libtkrt.so.0" TKC_EXE="$build/bin/tkc" TKRUN_EXE="$build/bin/tkrun"
# Nothing written into the source tree: no __pycache__, no .pytest_cache.
PYTHONDONTWRITEBYTECODE=1 exec "$python" -m pytest -p no:cacheprovider -q tests/python
