#!/usr/bin/env bash
# The README's test command: install what is missing, build with gcc and -Werror and run the
# whole suite, then build again with clang-19 under ASan+UBSan and run it again (tests labelled
# `slow` skipped), check that the two tkc builds write byte-identical bundles and proofs, then
# run each fuzzer for 30 s.
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

# The second compiler: clang-19 (also -Werror), whose UBSan adds -fsanitize=function. -O1, as
# ASan's documentation advises: at -O0 the IR passes and the interpreter ran 3 to 4 times slower.
echo "== ASan+UBSan build (clang-19, -O1) =="
scripts/build.sh build-asan -DCMAKE_C_COMPILER=clang-19 -DCMAKE_BUILD_TYPE=Debug -DTK_WERROR=ON \
  -DTK_SANITIZE=ON "-DCMAKE_C_FLAGS_DEBUG=-g -O1"
sanitizers=(ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1)
env "${sanitizers[@]}" ctest --test-dir build-asan --output-on-failure --no-tests=error -j "$jobs" -LE slow

echo "== Same output from both compilers (scripts/check-compilers.sh) =="
env "${sanitizers[@]}" scripts/check-compilers.sh build/bin build-asan/bin

echo "== Fuzzers (clang-19 libFuzzer, bounded: scripts/fuzz.sh; tests/README.md) =="
nice scripts/fuzz.sh 30

echo "test.sh: all suites passed"
