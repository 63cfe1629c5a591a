/* tests/unit/model_weights.h — seeded weights and inputs for the whole-model codegen tests
 * (codegen_model_test, gpu_exec_test): each checkpoint tensor filled by tk_arch_init_fill
 * with the arch's seed, kept as floats for a backend and as doubles for tests/ref, and a
 * deterministic input batch in [-2, 2).
 */
#ifndef TK_TESTS_MODEL_WEIGHTS_H
#define TK_TESTS_MODEL_WEIGHTS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "model/arch.h"
#include "ref/ref.h"

typedef struct tk_test_weights {
  size_t n;             /* tk_arch_param_count */
  float **f;            /* f[i]: tensor i as floats (tk_arch_param order and counts) */
  double **d;           /* the same values as doubles */
  tk_ref_array *arrays; /* d[i] named for tk_ref_model_from_arrays */
  tk_param_spec *specs;
} tk_test_weights;

/* Fills w for arch (false when out of memory; w is then partly filled: free it). */
bool tk_test_weights_make(const tk_arch *arch, tk_test_weights *w);
void tk_test_weights_free(tk_test_weights *w);

/* n floats in [-2, 2) from a linear congruential generator seeded with `seed`. */
void tk_test_fill_input(float *x, size_t n, uint32_t seed);

#endif /* TK_TESTS_MODEL_WEIGHTS_H */
