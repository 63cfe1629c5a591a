#!/usr/bin/env bash
# scripts/fuzz.sh [SECONDS_PER_TARGET] — a bounded libFuzzer run of every tests/fuzz target.
#
# Builds build-fuzz if needed (clang-19, standalone tests/fuzz project; a no-op when it is up
# to date; nothing is downloaded), then runs fuzz_arch, fuzz_checkpoint, fuzz_wire,
# fuzz_manifest and fuzz_safetensors one after the other for SECONDS_PER_TARGET each (default
# 60: about 5.5 min in all, build included) on a copy of tests/fuzz/corpus/<target>/, never on
# the committed corpus. Exits 1 if any target crashed, leaked, timed out or ran out of memory,
# printing where the reproducer is and how to replay it; 0 otherwise. tests/README.md has the
# rest.
#
# Environment:
#   TK_FUZZ_BUILD_DIR     build directory (default build-fuzz)
#   TK_FUZZ_CC            the Clang to build with (default clang-19)
#   TK_FUZZ_TARGETS       a subset, e.g. "wire arch" (default: all five)
#   TK_FUZZ_OPEN_ISSUES=1 also check the contracts that open issues say are broken (see
#                         tests/fuzz/fuzz_util.h) and drop the leak suppressions of
#                         tests/fuzz/open-issues.supp: expected to fail until they are fixed
set -euo pipefail
cd "$(dirname "$0")/.."
root=$PWD

secs=${1:-60}
if ! [[ "$secs" =~ ^[1-9][0-9]*$ ]]; then
  echo "usage: scripts/fuzz.sh [SECONDS_PER_TARGET]   (a positive integer, default 60)" >&2
  exit 2
fi
build=${TK_FUZZ_BUILD_DIR:-build-fuzz}
cc=${TK_FUZZ_CC:-clang-19}
read -r -a targets <<<"${TK_FUZZ_TARGETS:-arch checkpoint wire manifest safetensors}"
declare -A max_len=([arch]=4096 [checkpoint]=4096 [wire]=4096 [manifest]=16384 [safetensors]=4096)

# ---- Toolchain: Clang and its libFuzzer/ASan runtimes (Debian: clang-19, libclang-rt-19-dev)
if ! command -v "$cc" >/dev/null; then
  echo "fuzz.sh: $cc not found (scripts/install-deps.sh installs clang-19)" >&2
  exit 1
fi
probe=$(mktemp -d)
trap 'rm -rf "$probe"' EXIT
echo 'int LLVMFuzzerTestOneInput(const char *d, unsigned long n) { return !d && n; }' >"$probe/p.c"
if ! "$cc" -fsanitize=fuzzer,address,undefined "$probe/p.c" -o "$probe/p" 2>"$probe/err"; then
  cat "$probe/err" >&2
  echo "fuzz.sh: $cc cannot link a libFuzzer target: install the Debian package" \
       "libclang-rt-19-dev" >&2
  exit 1
fi

# ---- Build (configure once; ninja does nothing when up to date) ----------------------------
if [[ ! -f "$build/CMakeCache.txt" ]]; then
  echo "== fuzz: configuring $build ($cc, tests/fuzz standalone)"
  CC="$cc" cmake -S tests/fuzz -B "$build" -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
fi
echo "== fuzz: building $build"
nice -n 10 cmake --build "$build" --target fuzz_all -- -j 2 >"$build/fuzz-build.log" 2>&1 || {
  tail -40 "$build/fuzz-build.log" >&2
  echo "fuzz.sh: build failed (log: $build/fuzz-build.log)" >&2
  exit 1
}

# ---- Run --------------------------------------------------------------------------------
out="$root/$build/fuzz-out"
export ASAN_OPTIONS="detect_leaks=1:abort_on_error=0:symbolize=1${ASAN_OPTIONS:+:$ASAN_OPTIONS}"
export UBSAN_OPTIONS="print_stacktrace=1:halt_on_error=1${UBSAN_OPTIONS:+:$UBSAN_OPTIONS}"
if [[ "${TK_FUZZ_OPEN_ISSUES:-0}" != 1 ]]; then
  export LSAN_OPTIONS="suppressions=$root/tests/fuzz/open-issues.supp:print_suppressions=0${LSAN_OPTIONS:+:$LSAN_OPTIONS}"
fi

failed=()
summary=()
start=$SECONDS
for t in "${targets[@]}"; do
  bin="$root/$build/fuzz/fuzz_$t"
  [[ -x "$bin" ]] || { echo "fuzz.sh: no target $bin" >&2; exit 1; }
  dir="$out/$t"
  rm -rf "$dir"
  mkdir -p "$dir/corpus" "$dir/tmp"
  cp -R "tests/fuzz/corpus/$t/." "$dir/corpus/"
  seeds=$(find "$dir/corpus" -type f | wc -l)
  echo "== fuzz_$t: ${secs}s on a copy of tests/fuzz/corpus/$t ($seeds seeds)"
  rc=0
  # Saved reproducers (tests/fuzz/crashes/<target>/) first: each must now run clean. Those of
  # open issues (open-*) pass because their checks are gated; with TK_FUZZ_OPEN_ISSUES=1 they fail.
  mapfile -t saved < <(find "tests/fuzz/crashes/$t" -type f 2>/dev/null | sort)
  if [[ ${#saved[@]} -gt 0 ]]; then
    (cd "$dir" && TMPDIR="$dir/tmp" "$bin" "${saved[@]/#/$root/}") >"$dir/replay.txt" 2>&1 || {
      rc=$?
      echo "fuzz_$t: a saved reproducer in tests/fuzz/crashes/$t fails again (log: $dir/replay.txt)" >&2
      grep -E 'Running:|fuzz property failed|SUMMARY:' "$dir/replay.txt" | tail -4 >&2 || true
    }
  fi
  : >"$dir/log.txt"
  if [[ $rc -eq 0 ]]; then
    (cd "$dir" && TMPDIR="$dir/tmp" nice -n 10 "$bin" \
      -max_total_time="$secs" -rss_limit_mb=2048 -timeout=10 -max_len="${max_len[$t]:-4096}" \
      -dict="$root/tests/fuzz/dict/$t.dict" -artifact_prefix="$dir/" -print_final_stats=1 \
      corpus) >"$dir/log.txt" 2>&1 || rc=$?
  fi
  # "#123 DONE cov: 456 ft: 789 corp: 50/2Kb lim: 4096 exec/s: 1000 rss: 60Mb"
  done_line=$(grep -E '^#[0-9]+[[:space:]]+DONE' "$dir/log.txt" | tail -1 || true)
  cov=$(grep -oE 'cov: [0-9]+' <<<"$done_line" | grep -oE '[0-9]+' || true)
  ft=$(grep -oE 'ft: [0-9]+' <<<"$done_line" | grep -oE '[0-9]+' || true)
  corp=$(grep -oE 'corp: [0-9]+' <<<"$done_line" | grep -oE '[0-9]+' || true)
  runs=$(grep -oE 'stat::number_of_executed_units:[[:space:]]+[0-9]+' "$dir/log.txt" | grep -oE '[0-9]+$' || true)
  eps=$(grep -oE 'stat::average_exec_per_sec:[[:space:]]+[0-9]+' "$dir/log.txt" | grep -oE '[0-9]+$' || true)
  rss=$(grep -oE 'stat::peak_rss_mb:[[:space:]]+[0-9]+' "$dir/log.txt" | grep -oE '[0-9]+$' || true)
  line=$(printf '%-16s runs %-9s exec/s %-7s cov %-5s ft %-6s corpus %-5s rss %sMB' "fuzz_$t" \
         "${runs:-?}" "${eps:-?}" "${cov:-?}" "${ft:-?}" "${corp:-?}" "${rss:-?}")
  mapfile -t repro < <(find "$dir" -maxdepth 1 -type f \
                         \( -name 'crash-*' -o -name 'leak-*' -o -name 'timeout-*' -o -name 'oom-*' \) \
                       | sort)
  if [[ $rc -ne 0 || ${#repro[@]} -gt 0 ]]; then
    failed+=("$t")
    summary+=("$line   FAILED (exit $rc)")
    echo "fuzz_$t FAILED (exit $rc); from $dir/log.txt:" >&2
    grep -E 'ERROR:|SUMMARY:|fuzz property failed|runtime error|^  [^ ]|#[0-9]+ 0x' "$dir/log.txt" \
      | grep -vE 'fuzzer::|__libc_start|in _start |__sanitizer_print_stack_trace|pthread_kill|raise|abort' \
      | head -30 >&2 || true
    env_prefix=""
    [[ "${TK_FUZZ_OPEN_ISSUES:-0}" == 1 ]] && env_prefix="TK_FUZZ_OPEN_ISSUES=1 "
    [[ -n "${LSAN_OPTIONS:-}" ]] && env_prefix+="LSAN_OPTIONS=suppressions=tests/fuzz/open-issues.supp "
    for r in "${repro[@]}"; do
      echo "  reproducer: ${r#"$root/"}" >&2
      echo "  replay:     ${env_prefix}$build/fuzz/fuzz_$t ${r#"$root/"}" >&2
    done
    [[ ${#repro[@]} -gt 0 ]] || echo "  no reproducer written; see $dir/log.txt" >&2
  else
    summary+=("$line   ok")
  fi
done

echo "== fuzz summary (${secs}s per target, $((SECONDS - start))s of fuzzing; logs in $build/fuzz-out/)"
printf '  %s\n' "${summary[@]}"
if [[ ${#failed[@]} -gt 0 ]]; then
  echo "fuzz.sh: FAILED: ${failed[*]} (tests/README.md: reproducing a crash)" >&2
  exit 1
fi
echo "fuzz.sh: ${#targets[@]} targets, no crash, leak or timeout"
