/* model/init_weights.h — deterministic random initial weights for an arch (tkc
 * init-checkpoint; documented in models/README.md).
 *
 * Tensor i of the arch's parameter list (checkpoint order, docs/formats.md §2) gets its own
 * xoshiro256** stream keyed by (seed, i): splitmix64 started at seed ^ (γ·(i+1)) (γ =
 * 0x9E3779B97F4A7C15, wrapping) gives the four state words. So a tensor's values depend only
 * on the seed, its index and its own shape, never on the sizes of the tensors before it.
 * Each value is lo + (hi - lo)·u in double, rounded to f32, with u = (x >> 40)·2^-24 from the
 * top 24 bits of one xoshiro256** output (so values lie in [lo, hi]). Ranges by role:
 *   Linear weight  ±1/sqrt(fan_in) (fan_in = the Linear's input width)
 *   Linear bias    ±0.1
 *   LN gamma       [0.5, 1.5]
 *   LN beta        ±0.2
 */
#ifndef TK_COMPILER_INIT_WEIGHTS_H
#define TK_COMPILER_INIT_WEIGHTS_H

#include <stddef.h>
#include <stdint.h>

#include "model/arch.h"
#include "tk/status.h"

typedef struct tk_rng {
  uint64_t s[4];
} tk_rng;

/* splitmix64: advances *state by γ and returns the mixed value. */
uint64_t tk_arch_splitmix64_next(uint64_t *state);
/* Seeds rng from splitmix64 directly (the reference xoshiro seeding). */
void tk_arch_rng_seed(tk_rng *rng, uint64_t splitmix_state);
/* The stream of tensor `index` under `seed` (see above). */
void tk_arch_rng_seed_tensor(tk_rng *rng, uint64_t seed, uint64_t index);
/* xoshiro256**: the next 64-bit output. */
uint64_t tk_arch_rng_next(tk_rng *rng);

/* The closed range [*lo, *hi] that values of this tensor are drawn from. */
void tk_arch_init_range(const tk_arch *arch, const tk_param_spec *spec, double *lo, double *hi);
/* Fills out[0 .. spec.count) with tensor `index`'s values (spec = tk_arch_param(arch, index)). */
void tk_arch_init_fill(const tk_arch *arch, uint64_t seed, size_t index, float *out);

/* The config blob: {"arch_fingerprint":"<fp>","generator":"tkc init-checkpoint","seed":N}. */
#define TK_INIT_CONFIG_MAX 128
void tk_arch_init_config(const tk_arch *arch, uint64_t seed, char out[TK_INIT_CONFIG_MAX]);

/* Called after each tensor: weights written so far and in all. */
typedef void (*tk_init_progress_fn)(void *ctx, uint64_t done, uint64_t total);

/* Writes the whole checkpoint through the streaming writer, one tensor in memory at a time.
 * Atomic: on error nothing is left at or beside `path`. `progress` may be NULL. */
TK_MUST_USE tk_status tk_arch_init_checkpoint_write(const tk_arch *arch, const char *path,
                                                    uint64_t seed, uint32_t step,
                                                    tk_init_progress_fn progress,
                                                    void *progress_ctx);

#endif /* TK_COMPILER_INIT_WEIGHTS_H */
