/* tests/unit/model_weights.c — see model_weights.h. */
#include <stdlib.h>

#include "model/init_weights.h"
#include "tests/unit/model_weights.h"

void tk_test_weights_free(tk_test_weights *w) {
  for (size_t i = 0; i < w->n; i++) {
    if (w->f) free(w->f[i]);
    if (w->d) free(w->d[i]);
  }
  free(w->f);
  free(w->d);
  free(w->arrays);
  free(w->specs);
}

bool tk_test_weights_make(const tk_arch *arch, tk_test_weights *w) {
  w->n = tk_arch_param_count(arch);
  w->f = calloc(w->n, sizeof *w->f);
  w->d = calloc(w->n, sizeof *w->d);
  w->arrays = calloc(w->n, sizeof *w->arrays);
  w->specs = calloc(w->n, sizeof *w->specs);
  if (!w->f || !w->d || !w->arrays || !w->specs) return false;
  for (size_t i = 0; i < w->n; i++) {
    w->specs[i] = tk_arch_param(arch, i);
    w->f[i] = malloc(w->specs[i].count * sizeof(float));
    w->d[i] = malloc(w->specs[i].count * sizeof(double));
    if (!w->f[i] || !w->d[i]) return false;
    tk_arch_init_fill(arch, arch->seed, i, w->f[i]);
    for (uint64_t e = 0; e < w->specs[i].count; e++) w->d[i][e] = w->f[i][e];
    w->arrays[i] = (tk_ref_array){w->specs[i].name, w->d[i], w->specs[i].count};
  }
  return true;
}

void tk_test_fill_input(float *x, size_t n, uint32_t seed) {
  uint32_t s = seed * 2654435761u + 1;
  for (size_t i = 0; i < n; i++) {
    s = s * 1664525u + 1013904223u;
    x[i] = (float)((double)(s >> 8) / (double)(1u << 24) * 4.0 - 2.0);
  }
}
