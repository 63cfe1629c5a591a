/* bound.c — the machine's bounds for bench/forward: peak fp32 FLOP/s (an FMA loop on
 * independent accumulators, AVX-512 where the CPU has it, else AVX2+FMA) and DRAM bandwidth
 * (a STREAM triad a = b + s·c on arrays far larger than the caches, counted as 3 × 4 bytes
 * per element as STREAM does), each with 1 and 2 threads. Prints one JSON object.
 *
 *   fwd_bound [--mb MiB-per-array] [--reps N]
 */
#define _POSIX_C_SOURCE 200809L
#include <immintrin.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static double now_s(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

#define ITERS 4000000L /* per burst; the best of 30 bursts is kept (shared machine) */
#define NACC 12        /* independent accumulators: > FMA latency × FMA pipes on current cores */

/* Twelve named accumulators (not an array: at -O2 an array may stay in memory, and then the
 * loop measures store-forwarding latency instead of the FMA pipes). */
#define FMA_BODY(V, FMA, SET1, ADD)                                                 \
  V a0 = SET1(0.f), a1 = SET1(1.f), a2 = SET1(2.f), a3 = SET1(3.f), a4 = SET1(4.f), \
    a5 = SET1(5.f), a6 = SET1(6.f), a7 = SET1(7.f), a8 = SET1(8.f), a9 = SET1(9.f), \
    a10 = SET1(10.f), a11 = SET1(11.f);                                             \
  const V m = SET1(0.999999f), c = SET1(1e-7f);                                     \
  for (long it = 0; it < iters; it++) {                                             \
    a0 = FMA(a0, m, c);                                                             \
    a1 = FMA(a1, m, c);                                                             \
    a2 = FMA(a2, m, c);                                                             \
    a3 = FMA(a3, m, c);                                                             \
    a4 = FMA(a4, m, c);                                                             \
    a5 = FMA(a5, m, c);                                                             \
    a6 = FMA(a6, m, c);                                                             \
    a7 = FMA(a7, m, c);                                                             \
    a8 = FMA(a8, m, c);                                                             \
    a9 = FMA(a9, m, c);                                                             \
    a10 = FMA(a10, m, c);                                                           \
    a11 = FMA(a11, m, c);                                                           \
    __asm__ volatile("" ::: "memory");                                              \
  }                                                                                 \
  V s = ADD(ADD(ADD(a0, a1), ADD(a2, a3)), ADD(ADD(a4, a5), ADD(a6, a7)));          \
  s = ADD(s, ADD(ADD(a8, a9), ADD(a10, a11)));

__attribute__((target("avx512f"))) static float fma512(long iters) {
  FMA_BODY(__m512, _mm512_fmadd_ps, _mm512_set1_ps, _mm512_add_ps)
  return _mm512_reduce_add_ps(s);
}

__attribute__((target("avx2,fma"))) static float fma256(long iters) {
  FMA_BODY(__m256, _mm256_fmadd_ps, _mm256_set1_ps, _mm256_add_ps)
  float o[8];
  _mm256_storeu_ps(o, s);
  return o[0] + o[7];
}

typedef struct job {
  int avx512;
  long iters;
  float *a, *b, *c;
  size_t n;
  int reps;
  double best;
  volatile float sink;
} job;

static void *fma_job(void *p) {
  job *j = p;
  j->sink = j->avx512 ? fma512(j->iters) : fma256(j->iters);
  return NULL;
}

static pthread_barrier_t bar;

static void *triad_job(void *p) {
  job *j = p;
  j->best = 1e30;
  for (int r = 0; r < j->reps; r++) {
    pthread_barrier_wait(&bar);
    double t0 = now_s();
    const float s = 3.0f;
    for (size_t i = 0; i < j->n; i++) j->a[i] = j->b[i] + s * j->c[i];
    pthread_barrier_wait(&bar);
    double t = now_s() - t0;
    if (t < j->best) j->best = t;
  }
  return NULL;
}

static double run_fma(int threads, int avx512) {
  double best = 0;
  for (int rep = 0; rep < 30; rep++) {
    job j[2];
    pthread_t th[2];
    long iters = avx512 ? ITERS / 2 : ITERS;
    double t0 = now_s();
    for (int t = 0; t < threads; t++) {
      j[t] = (job){.avx512 = avx512, .iters = iters};
      pthread_create(&th[t], NULL, fma_job, &j[t]);
    }
    for (int t = 0; t < threads; t++) pthread_join(th[t], NULL);
    double dt = now_s() - t0;
    double flops = 2.0 * (avx512 ? 16 : 8) * NACC * (double)iters * threads;
    if (flops / dt > best) best = flops / dt;
  }
  return best;
}

static double run_triad(int threads, size_t n, int reps, float *a, float *b, float *c) {
  job j[2];
  pthread_t th[2];
  pthread_barrier_init(&bar, NULL, (unsigned)threads);
  size_t per = n / (size_t)threads;
  for (int t = 0; t < threads; t++) {
    j[t] = (job){.a = a + t * per, .b = b + t * per, .c = c + t * per, .n = per, .reps = reps};
    pthread_create(&th[t], NULL, triad_job, &j[t]);
  }
  double worst = 0;
  for (int t = 0; t < threads; t++) {
    pthread_join(th[t], NULL);
    if (j[t].best > worst) worst = j[t].best;
  }
  pthread_barrier_destroy(&bar);
  return 3.0 * sizeof(float) * (double)(per * (size_t)threads) / worst;
}

int main(int argc, char **argv) {
  size_t mb = 256;
  int reps = 6;
  for (int i = 1; i + 1 < argc; i += 2) {
    if (!strcmp(argv[i], "--mb"))
      mb = (size_t)atol(argv[i + 1]);
    else if (!strcmp(argv[i], "--reps"))
      reps = atoi(argv[i + 1]);
  }
  __builtin_cpu_init();
  int avx512 = __builtin_cpu_supports("avx512f");
  double f1 = run_fma(1, avx512), f2 = run_fma(2, avx512);
  size_t n = mb * 1024 * 1024 / sizeof(float);
  float *a = aligned_alloc(64, n * sizeof(float)), *b = aligned_alloc(64, n * sizeof(float)),
        *c = aligned_alloc(64, n * sizeof(float));
  if (!a || !b || !c) return 1;
  for (size_t i = 0; i < n; i++) a[i] = 0.0f, b[i] = 1.0f, c[i] = 2.0f;
  double b1 = run_triad(1, n, reps, a, b, c), b2 = run_triad(2, n, reps, a, b, c);
  printf("{\"isa\":\"%s\",\"flops_1\":%.4g,\"flops_2\":%.4g,\"bw_1\":%.4g,\"bw_2\":%.4g,"
         "\"triad_mib\":%zu,\"check\":%g}\n",
         avx512 ? "avx512" : "avx2", f1, f2, b1, b2, mb, (double)a[n / 2]);
  return 0;
}
