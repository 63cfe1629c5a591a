#!/usr/bin/env bash
# The README's test command: install what is missing, build with -Werror and run the whole
# suite, then build again under ASan+UBSan and run it again (tests labelled `slow` skipped),
# then run each fuzzer for 45 s.
set -euo pipefail
cd "$(dirname "$0")/.."
jobs=$(nproc)

scripts/install-deps.sh

echo "== Style and layers =="
scripts/check-format.sh
scripts/check-layers.sh

echo "== Release build (-Wall -Wextra -Werror) =="
scripts/build.sh build -DCMAKE_BUILD_TYPE=Release -DTK_WERROR=ON -DTK_SANITIZE=OFF
ctest --test-dir build --output-on-failure --no-tests=error -j "$jobs"

echo "== ASan+UBSan build =="
scripts/build.sh build-asan -DCMAKE_BUILD_TYPE=Debug -DTK_WERROR=ON -DTK_SANITIZE=ON
ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 \
  ctest --test-dir build-asan --output-on-failure --no-tests=error -j "$jobs" -LE slow

echo "== Fuzzers (clang-19 libFuzzer, bounded: scripts/fuzz.sh; tests/README.md) =="
nice scripts/fuzz.sh 45

echo "test.sh: all suites passed"
