#!/usr/bin/env bash
# tests/cli/install_package.sh — tkc used from another project (issue 15):
# - `cmake --install` into a fresh prefix gives libtkrt.so.0 (SONAME, only tk_* exported),
#   tkrt.pc, the CMake package and the public headers; the installed tkrun links no LLVM/Z3;
# - examples/hello, configured against that prefix only, compiles its model at build time
#   with tkc_add_model, runs a forward pass through tkc::tkrt, and agrees with tkrun on the
#   same rows; a second build does not recompile the model; `cmake --install` of the example
#   installs the bundle;
# - a 20-line C program built with `pkg-config --cflags --libs tkrt` runs;
# - with TK_TEST_SUBPROJECT=1 (slow: builds tkc again), the example also builds with the tkc
#   sources added by add_subdirectory.
source "$(dirname "$0")/lib.sh"
build=${TK_BUILD_DIR:?TK_BUILD_DIR not set}
prefix=$tmp/prefix
: >"$tmp/req"

cmake --install "$build" --prefix "$prefix" >"$tmp/install.log" 2>&1 || fail "cmake --install: $(tail -3 "$tmp/install.log")"
for f in lib/libtkrt.so.0 lib/libtkrt.a lib/pkgconfig/tkrt.pc lib/cmake/tkc/tkcConfig.cmake \
         lib/cmake/tkc/tkcConfigVersion.cmake lib/cmake/tkc/tkcFunctions.cmake include/tk/runtime.h \
         include/tk/version.h bin/tkc bin/tkrun bin/tkserve; do
  [ -e "$prefix/$f" ] || fail "the install lacks $f"
done
readelf -d "$prefix/lib/libtkrt.so.0" | grep -q 'SONAME.*\[libtkrt.so.0\]' || fail "libtkrt.so.0 has no SONAME libtkrt.so.0"
others=$(nm -D --defined-only "$prefix/lib/libtkrt.so.0" | awk '{print $3}' | grep -v '^tk_' | head -5)
[ -z "$others" ] || fail "libtkrt.so exports non-API symbols: $others"
nm -D --defined-only "$prefix/lib/libtkrt.so.0" | grep -q ' tk_session_forward$' || fail "tk_session_forward not exported"
nm -D --defined-only "$prefix/lib/libtkrt.so.0" | grep -q ' tk_fs_\| tk_thread_pool_' && fail "internal tk_fs_/tk_thread_pool_ exported"
ldd "$prefix/bin/tkrun" | grep -qiE 'libLLVM|libz3' && fail "installed tkrun links LLVM or Z3"
loaded=$(ldd "$prefix/bin/tkrun" | sed -n 's/.*libtkrt.so.0 => \([^ ]*\) .*/\1/p')
[ -n "$loaded" ] && [ "$(realpath "$loaded")" = "$(realpath "$prefix/lib/libtkrt.so.0")" ] ||
  fail "installed tkrun loads libtkrt from '$loaded', not the prefix"

hello=$tmp/hello-build
cmake -S examples/hello -B "$hello" -DCMAKE_PREFIX_PATH="$prefix" -DCMAKE_INSTALL_PREFIX="$tmp/app" \
  >"$tmp/hello.cfg" 2>&1 || fail "configuring examples/hello: $(tail -5 "$tmp/hello.cfg")"
grep -q "$build" "$hello/CMakeCache.txt" && fail "examples/hello found tkc outside the prefix"
cmake --build "$hello" -j 2 >"$tmp/hello.build" 2>&1 || fail "building examples/hello: $(tail -8 "$tmp/hello.build")"
grep -q "tkc: proving and compiling nano" "$tmp/hello.build" || fail "the first build did not compile the model"
expect_exit 0 "$hello/hello"
grep -q "^row 1: expert [0-3]" "$tmp/out" || fail "hello printed no answer: $(cat "$tmp/out" "$tmp/err")"
cp "$tmp/out" "$tmp/hello.out"
# The same rows through tkrun: the logits agree to the 4 decimals hello prints.
awk 'BEGIN { printf "{\"features\": ["; for (r = 0; r < 2; r++) { printf "%s[", r ? "," : ""
  for (i = 0; i < 96; i++) printf "%s%.9g", i ? "," : "", sin(0.1 * (r * 96 + i + 1)); printf "]" }
  print "]}" }' >"$tmp/req"
expect_exit 0 "$prefix/bin/tkrun" --bundle "$hello/nano.bundle" --checkpoint "$hello/nano.tkp1" --device cpu
python3 - "$tmp/out" "$tmp/hello.out" <<'PY' || fail "hello's logits differ from tkrun's"
import json, sys
want = json.load(open(sys.argv[1]))["logits"]
rows = [l.split("logits")[1].split() for l in open(sys.argv[2]) if l.startswith("row ")]
assert len(rows) == 2
for w, g in zip(want, rows):
    assert all(abs(a - float(b)) <= 6e-5 for a, b in zip(w, g)), (w, g)
PY
: >"$tmp/req"
cmake --build "$hello" -j 2 >"$tmp/hello.rebuild" 2>&1 || fail "rebuilding examples/hello"
grep -q "tkc: proving" "$tmp/hello.rebuild" && fail "a no-op rebuild recompiled the model"
cmake --install "$hello" >"$tmp/hello.inst" 2>&1 || fail "installing examples/hello"
[ -f "$tmp/app/share/hello/nano.bundle/manifest.json" ] || fail "INSTALL_DESTINATION: no bundle installed"

cat >"$tmp/pc.c" <<'C'
#include <stdio.h>
#include <string.h>
#include <tk/runtime.h>
#include <tk/version.h>
int main(void) {
  tk_bundle *b = NULL;
  tk_status s = tk_bundle_open("/nonexistent-bundle", &b);
  if (!s) return 1;
  int ok = tk_status_code_of(s) != TK_OK && strstr(tk_status_message(s), "nonexistent-bundle");
  printf("tkrt %s: %s: %s\n", TK_VERSION, tk_status_code_name(tk_status_code_of(s)),
         tk_status_message(s));
  tk_status_free(s);
  tk_device d;
  s = tk_device_parse("cpu", &d);
  ok = ok && !s && d == TK_DEVICE_CPU;
  return ok ? 0 : 1;
}
C
flags=$(PKG_CONFIG_PATH="$prefix/lib/pkgconfig" pkg-config --cflags --libs tkrt) || fail "pkg-config tkrt"
cc "$tmp/pc.c" -o "$tmp/pc" $flags -Wl,-rpath,"$prefix/lib" 2>"$tmp/pc.err" || fail "cc with pkg-config flags: $(cat "$tmp/pc.err")"
expect_exit 0 "$tmp/pc"
grep -q "NOT_FOUND\|IO_ERROR" "$tmp/out" || fail "pkg-config program: $(cat "$tmp/out")"

if [ "${TK_TEST_SUBPROJECT:-0}" = 1 ]; then
  sub=$tmp/hello-sub
  cmake -S examples/hello -B "$sub" -DTKC_SOURCE_DIR="$PWD" >"$tmp/sub.cfg" 2>&1 || fail "configure (add_subdirectory): $(tail -5 "$tmp/sub.cfg")"
  cmake --build "$sub" -j 2 --target hello >"$tmp/sub.build" 2>&1 || fail "build (add_subdirectory): $(tail -8 "$tmp/sub.build")"
  expect_exit 0 "$sub/hello"
  cmp -s "$tmp/out" "$tmp/hello.out" || fail "hello built along tkc's sources answers differently"
fi
finish install_package
