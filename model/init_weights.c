/* compiler/init_weights.c — deterministic random initial weights (see init_weights.h for the
 * RNG, the per-tensor streams and the ranges; models/README.md documents them for users).
 *
 * tk_arch_init_checkpoint_write streams the checkpoint: one buffer sized for the largest tensor
 * is filled and written per tensor, so Full's 3+ GB never sit in memory at once.
 */
#include "model/init_weights.h"

#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>

#include "tk/checkpoint.h"
#include "tk/alloc.h"

#define GOLDEN_GAMMA 0x9E3779B97F4A7C15ull

uint64_t tk_arch_splitmix64_next(uint64_t *state) {
  uint64_t z = (*state += GOLDEN_GAMMA);
  z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
  z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
  return z ^ (z >> 31);
}

void tk_arch_rng_seed(tk_rng *rng, uint64_t splitmix_state) {
  for (int i = 0; i < 4; i++) rng->s[i] = tk_arch_splitmix64_next(&splitmix_state);
}

void tk_arch_rng_seed_tensor(tk_rng *rng, uint64_t seed, uint64_t index) {
  tk_arch_rng_seed(rng, seed ^ (GOLDEN_GAMMA * (index + 1)));
}

static uint64_t rotl(uint64_t x, int k) { return (x << k) | (x >> (64 - k)); }

uint64_t tk_arch_rng_next(tk_rng *rng) {
  uint64_t *s = rng->s;
  uint64_t result = rotl(s[1] * 5, 7) * 9;
  uint64_t t = s[1] << 17;
  s[2] ^= s[0];
  s[3] ^= s[1];
  s[1] ^= s[2];
  s[0] ^= s[3];
  s[2] ^= t;
  s[3] = rotl(s[3], 45);
  return result;
}

void tk_arch_init_range(const tk_arch *arch, const tk_param_spec *spec, double *lo, double *hi) {
  switch (spec->role) {
    case TK_PARAM_WEIGHT: {
      int32_t fan_in = arch->weight_layout == TK_LAYOUT_IN_OUT ? spec->rows : spec->cols;
      *hi = 1.0 / sqrt((double)fan_in);
      *lo = -*hi;
      return;
    }
    case TK_PARAM_BIAS: *lo = -0.1, *hi = 0.1; return;
    case TK_PARAM_GAMMA: *lo = 0.5, *hi = 1.5; return;
    case TK_PARAM_BETA: *lo = -0.2, *hi = 0.2; return;
  }
}

void tk_arch_init_fill(const tk_arch *arch, uint64_t seed, size_t index, float *out) {
  tk_param_spec spec = tk_arch_param(arch, index);
  double lo = 0, hi = 0;
  tk_arch_init_range(arch, &spec, &lo, &hi);
  tk_rng rng;
  tk_arch_rng_seed_tensor(&rng, seed, index);
  for (uint64_t j = 0; j < spec.count; j++) {
    double u = (double)(tk_arch_rng_next(&rng) >> 40) * 0x1p-24; /* top 24 bits, in [0, 1) */
    out[j] = (float)(lo + (hi - lo) * u);
  }
}

void tk_arch_init_config(const tk_arch *arch, uint64_t seed, char out[TK_INIT_CONFIG_MAX]) {
  snprintf(out, TK_INIT_CONFIG_MAX,
           "{\"arch_fingerprint\":\"%s\",\"generator\":\"tkc init-checkpoint\",\"seed\":%" PRIu64
           "}",
           arch->fingerprint, seed);
}

/* The largest tensor's element count, checked against the u32 weight_len (docs/formats.md §2). */
static tk_status largest_tensor(const tk_arch *arch, uint64_t *out) {
  *out = 0;
  for (size_t i = 0; i < tk_arch_param_count(arch); i++) {
    tk_param_spec spec = tk_arch_param(arch, i);
    if (spec.count > UINT32_MAX)
      return tk_status_make(TK_OUT_OF_RANGE,
                            "tensor %s has %" PRIu64 " elements; a checkpoint's weight_len is u32 "
                            "(at most %u)",
                            spec.name, spec.count, UINT32_MAX);
    if (spec.count > *out) *out = spec.count;
  }
  return TK_STATUS_OK;
}

/* Fills and appends every tensor in order. */
static tk_status write_tensors(const tk_arch *arch, uint64_t seed, float *buffer,
                               tk_checkpoint_writer *writer, tk_init_progress_fn progress,
                               void *progress_ctx) {
  uint64_t done = 0, total = tk_arch_weight_total(arch);
  for (size_t i = 0; i < tk_arch_param_count(arch); i++) {
    tk_param_spec spec = tk_arch_param(arch, i);
    tk_arch_init_fill(arch, seed, i, buffer);
    TK_RETURN_IF_ERROR(tk_checkpoint_writer_add(writer, spec.name, buffer, (uint32_t)spec.count));
    done += spec.count;
    if (progress) progress(progress_ctx, done, total);
  }
  return TK_STATUS_OK;
}

tk_status tk_arch_init_checkpoint_write(const tk_arch *arch, const char *path, uint64_t seed,
                                        uint32_t step, tk_init_progress_fn progress,
                                        void *progress_ctx) {
  uint64_t largest;
  TK_RETURN_IF_ERROR(largest_tensor(arch, &largest));
  size_t bytes;
  if (!tk_size_mul((size_t)largest, sizeof(float), &bytes))
    return tk_status_make(TK_RESOURCE_EXHAUSTED, "%s: tensor too large", path);
  float *buffer = tk_malloc(bytes ? bytes : 1);
  if (!buffer)
    return tk_status_make(TK_RESOURCE_EXHAUSTED, "%s: out of memory for a %zu-byte tensor buffer",
                          path, bytes);
  char config[TK_INIT_CONFIG_MAX];
  tk_arch_init_config(arch, seed, config);
  tk_checkpoint_writer *writer;
  tk_status status =
      tk_checkpoint_writer_create(path, step, config, (uint32_t)tk_arch_param_count(arch), &writer);
  if (!status) {
    status = write_tensors(arch, seed, buffer, writer, progress, progress_ctx);
    if (status)
      tk_checkpoint_writer_abort(writer);
    else
      status = tk_checkpoint_writer_commit(writer);
  }
  free(buffer);
  return status;
}
