/* runtime/cpu_features.c — does this CPU run code compiled for an x86-64 level?
 *
 * Reads cpuid (leaves 1, 7.0 and 0x80000001) and, when the OS enables XSAVE, xgetbv(0) for
 * the vector state the OS saves: AVX needs YMM state, AVX-512 also needs opmask/ZMM state.
 * A level lists the features it needs; the check names the first one that is missing, so a
 * user reads "needs AVX2" rather than a SIGILL later. No global state: detection runs on
 * every call (a few cpuid instructions).
 */
#include <stdbool.h>
#include <string.h>

#if defined(__x86_64__) || defined(__i386__)
#include <cpuid.h>
#endif

#include "runtime/cpu_features.h"
#include "tk/launch.h"

#define BIT(f) (1ull << (f))

typedef struct cpu_feature_name {
  tk_cpu_feature feature;
  const char *name;
} cpu_feature_name;

static const cpu_feature_name feature_names[] = {
    {TK_CPUF_SSE3, "SSE3"},         {TK_CPUF_SSSE3, "SSSE3"},
    {TK_CPUF_SSE4_1, "SSE4.1"},     {TK_CPUF_SSE4_2, "SSE4.2"},
    {TK_CPUF_POPCNT, "POPCNT"},     {TK_CPUF_CX16, "CMPXCHG16B"},
    {TK_CPUF_LAHF, "LAHF-SAHF"},    {TK_CPUF_AVX, "AVX"},
    {TK_CPUF_AVX2, "AVX2"},         {TK_CPUF_BMI1, "BMI1"},
    {TK_CPUF_BMI2, "BMI2"},         {TK_CPUF_F16C, "F16C"},
    {TK_CPUF_FMA, "FMA"},           {TK_CPUF_LZCNT, "LZCNT"},
    {TK_CPUF_MOVBE, "MOVBE"},       {TK_CPUF_OS_YMM, "OS support for YMM state (XSAVE)"},
    {TK_CPUF_AVX512F, "AVX512F"},   {TK_CPUF_AVX512BW, "AVX512BW"},
    {TK_CPUF_AVX512CD, "AVX512CD"}, {TK_CPUF_AVX512DQ, "AVX512DQ"},
    {TK_CPUF_AVX512VL, "AVX512VL"}, {TK_CPUF_OS_ZMM, "OS support for ZMM state (XSAVE)"},
};

#define V2                                                                              \
  (BIT(TK_CPUF_SSE3) | BIT(TK_CPUF_SSSE3) | BIT(TK_CPUF_SSE4_1) | BIT(TK_CPUF_SSE4_2) | \
   BIT(TK_CPUF_POPCNT) | BIT(TK_CPUF_CX16) | BIT(TK_CPUF_LAHF))
#define V3                                                                             \
  (V2 | BIT(TK_CPUF_AVX) | BIT(TK_CPUF_AVX2) | BIT(TK_CPUF_BMI1) | BIT(TK_CPUF_BMI2) | \
   BIT(TK_CPUF_F16C) | BIT(TK_CPUF_FMA) | BIT(TK_CPUF_LZCNT) | BIT(TK_CPUF_MOVBE) |    \
   BIT(TK_CPUF_OS_YMM))
#define V4                                                                     \
  (V3 | BIT(TK_CPUF_AVX512F) | BIT(TK_CPUF_AVX512BW) | BIT(TK_CPUF_AVX512CD) | \
   BIT(TK_CPUF_AVX512DQ) | BIT(TK_CPUF_AVX512VL) | BIT(TK_CPUF_OS_ZMM))

typedef struct cpu_level {
  const char *name;
  uint64_t needs;
} cpu_level;

static const cpu_level levels[] = {
    {"x86-64", 0},
    {"x86-64-v2", V2},
    {"x86-64-v3", V3},
    {"x86-64-v4", V4},
};

int tk_cpu_level_rank(const char *level) {
  for (size_t i = 0; level && i < sizeof levels / sizeof levels[0]; i++)
    if (!strcmp(levels[i].name, level)) return (int)i;
  return -1;
}

static const char *feature_name(tk_cpu_feature f) {
  for (size_t i = 0; i < sizeof feature_names / sizeof feature_names[0]; i++)
    if (feature_names[i].feature == f) return feature_names[i].name;
  return "?";
}

enum { LEVEL_RUNS = -1, LEVEL_UNKNOWN = -2 };

/* The first feature `level` needs and `have` lacks, LEVEL_RUNS, or LEVEL_UNKNOWN. */
static int missing_feature(const char *level, uint64_t have) {
  int rank = tk_cpu_level_rank(level);
  if (rank < 0) return LEVEL_UNKNOWN;
  for (int f = 0; f < TK_CPUF_COUNT_; f++)
    if ((levels[rank].needs & BIT(f)) && !(have & BIT(f))) return f;
  return LEVEL_RUNS;
}

bool tk_cpu_level_runs(const char *level, uint64_t have) {
  return missing_feature(level, have) == LEVEL_RUNS;
}

tk_status tk_cpu_check_level_features(const char *level, uint64_t have) {
  if (!level) return tk_status_make(TK_INVALID_ARGUMENT, "no CPU level given");
  int f = missing_feature(level, have);
  if (f == LEVEL_RUNS) return TK_STATUS_OK;
  if (f >= 0)
    return tk_status_make(TK_UNAVAILABLE,
                          "this CPU cannot run code compiled for --cpu %s: it lacks %s "
                          "(recompile the bundle with a lower --cpu, e.g. x86-64-v2)",
                          level, feature_name((tk_cpu_feature)f));
  return tk_status_make(TK_INVALID_ARGUMENT,
                        "unknown CPU level '%s' in the bundle: this runtime knows x86-64, "
                        "x86-64-v2, x86-64-v3 and x86-64-v4",
                        level);
}

#if defined(__x86_64__) || defined(__i386__)
static void set_if(uint64_t *have, bool cond, tk_cpu_feature f) {
  if (cond) *have |= BIT(f);
}

static uint64_t os_xcr0(void) {
  uint32_t lo, hi;
  __asm__ volatile("xgetbv" : "=a"(lo), "=d"(hi) : "c"(0));
  return ((uint64_t)hi << 32) | lo;
}

uint64_t tk_cpu_features_detect(void) {
  uint64_t have = 0;
  unsigned a, b, c, d;
  if (!__get_cpuid(1, &a, &b, &c, &d)) return 0;
  set_if(&have, c & (1u << 0), TK_CPUF_SSE3);
  set_if(&have, c & (1u << 9), TK_CPUF_SSSE3);
  set_if(&have, c & (1u << 12), TK_CPUF_FMA);
  set_if(&have, c & (1u << 13), TK_CPUF_CX16);
  set_if(&have, c & (1u << 19), TK_CPUF_SSE4_1);
  set_if(&have, c & (1u << 20), TK_CPUF_SSE4_2);
  set_if(&have, c & (1u << 22), TK_CPUF_MOVBE);
  set_if(&have, c & (1u << 23), TK_CPUF_POPCNT);
  set_if(&have, c & (1u << 28), TK_CPUF_AVX);
  set_if(&have, c & (1u << 29), TK_CPUF_F16C);
  if (c & (1u << 27)) { /* OSXSAVE: xgetbv is allowed */
    uint64_t xcr0 = os_xcr0();
    set_if(&have, (xcr0 & 0x6) == 0x6, TK_CPUF_OS_YMM);
    set_if(&have, (xcr0 & 0xe6) == 0xe6, TK_CPUF_OS_ZMM);
  }
  if (__get_cpuid_count(7, 0, &a, &b, &c, &d)) {
    set_if(&have, b & (1u << 3), TK_CPUF_BMI1);
    set_if(&have, b & (1u << 5), TK_CPUF_AVX2);
    set_if(&have, b & (1u << 8), TK_CPUF_BMI2);
    set_if(&have, b & (1u << 16), TK_CPUF_AVX512F);
    set_if(&have, b & (1u << 17), TK_CPUF_AVX512DQ);
    set_if(&have, b & (1u << 28), TK_CPUF_AVX512CD);
    set_if(&have, b & (1u << 30), TK_CPUF_AVX512BW);
    set_if(&have, b & (1u << 31), TK_CPUF_AVX512VL);
  }
  if (__get_cpuid(0x80000001, &a, &b, &c, &d)) {
    set_if(&have, c & (1u << 0), TK_CPUF_LAHF);
    set_if(&have, c & (1u << 5), TK_CPUF_LZCNT);
  }
  return have;
}
#else
uint64_t tk_cpu_features_detect(void) { return 0; }
#endif

tk_status tk_cpu_check_level(const char *level) {
  return tk_cpu_check_level_features(level, tk_cpu_features_detect());
}
