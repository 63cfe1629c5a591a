/* runtime/cpu_features.h — x86-64 micro-architecture levels and this CPU's features
 * (private to runtime/; the public entry point is tk_cpu_check_level in tk/launch.h).
 *
 * A level is the psABI's list of required features (x86-64-v2: SSE3..SSE4.2, POPCNT, CX16,
 * LAHF; v3 adds AVX, AVX2, BMI1, BMI2, F16C, FMA, LZCNT, MOVBE, and the OS saving YMM state;
 * v4 adds AVX512F/BW/CD/DQ/VL and ZMM state). Features are bits of a uint64_t so tests can
 * check a level against a made-up CPU.
 */
#ifndef TK_RUNTIME_CPU_FEATURES_H
#define TK_RUNTIME_CPU_FEATURES_H

#include <stdbool.h>
#include <stdint.h>

#include "tk/status.h"

/* Features as bit numbers (1ull << TK_CPUF_x). */
typedef enum tk_cpu_feature {
  TK_CPUF_SSE3,
  TK_CPUF_SSSE3,
  TK_CPUF_SSE4_1,
  TK_CPUF_SSE4_2,
  TK_CPUF_POPCNT,
  TK_CPUF_CX16,
  TK_CPUF_LAHF,
  TK_CPUF_AVX,
  TK_CPUF_AVX2,
  TK_CPUF_BMI1,
  TK_CPUF_BMI2,
  TK_CPUF_F16C,
  TK_CPUF_FMA,
  TK_CPUF_LZCNT,
  TK_CPUF_MOVBE,
  TK_CPUF_OS_YMM,
  TK_CPUF_AVX512F,
  TK_CPUF_AVX512BW,
  TK_CPUF_AVX512CD,
  TK_CPUF_AVX512DQ,
  TK_CPUF_AVX512VL,
  TK_CPUF_OS_ZMM,
  TK_CPUF_COUNT_
} tk_cpu_feature;

/* The features this CPU (and OS, for vector state) supports, from cpuid and xgetbv. */
uint64_t tk_cpu_features_detect(void);

/* The level's place in x86-64 < x86-64-v2 < x86-64-v3 < x86-64-v4 (0..3); -1 for a name that
 * is not a level. */
int tk_cpu_level_rank(const char *level);

/* True when `level` is a known level whose every feature is in `have` (no status made: a
 * choice among levels must not allocate a message it drops). */
bool tk_cpu_level_runs(const char *level, uint64_t have);

/* The check of tk_cpu_check_level against a given feature set. */
TK_MUST_USE tk_status tk_cpu_check_level_features(const char *level, uint64_t have);

#endif
