/* ref/ref.h — the independent double-precision reference (docs/formats.md §3).
 *
 * The oracle that every backend is compared against. It is written from docs/formats.md alone:
 * the tensor names and their order come from its own reading of docs/formats.md §2 (ref_names.c),
 * never from compiler/arch_params.c, and all arithmetic is in double.
 *
 *   ref_names.c    the tensor list of an arch (names, roles, Linear shapes), docs/formats.md §2
 *   ref_model.c    builds a model from a checkpoint or from raw double arrays
 *   ref_forward.c  the forward pass: row, row with a given keep set, padded batch
 *   ref_compare.c  the conformance check of docs/formats.md §3 for float outputs of a backend
 *   qwen3_moe.c    the Qwen3-MoE sparse block (issue 16), declared apart in ref/qwen3_moe.h
 *
 * Ownership: tk_ref_model_* constructors return a model the caller releases with
 * tk_ref_model_free (NULL allowed); all other buffers are the caller's.
 */
#ifndef TK_TESTS_REF_H
#define TK_TESTS_REF_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "model/arch.h"
#include "tk/checkpoint.h"
#include "tk/status.h"

/* ---- Tensor list (docs/formats.md §2) --------------------------------------------------------------- */

/* One tensor as the checkpoint stores it. A Linear weight has shape in × out (stored [in][out]
 * for weight_layout in_out, [out][in] for out_in); bias, gamma and beta have in = 0, out = n. */
typedef struct tk_ref_tensor {
  char name[48];
  tk_param_role role;
  uint32_t in, out;
  uint64_t count;
} tk_ref_tensor;

/* The tensors of `arch` in checkpoint order. *out is malloc'd; the caller frees it. */
TK_MUST_USE tk_status tk_ref_tensor_list(const tk_arch *arch, tk_ref_tensor **out, size_t *out_n);

/* Validates a checkpoint against the arch: names, order and counts from tk_ref_tensor_list,
 * the arch's fingerprint (skipped when arch->fingerprint is empty), and finite weights unless
 * allow_nonfinite. */
TK_MUST_USE tk_status tk_ref_checkpoint_validate(const tk_arch *arch, const tk_checkpoint *ckpt,
                                                 bool allow_nonfinite);

/* ---- Model ---------------------------------------------------------------------------------- */

typedef struct tk_ref_model tk_ref_model;

/* A raw tensor for tk_ref_model_from_arrays, in the stored layout of the arch. */
typedef struct tk_ref_array {
  const char *name;
  const double *data;
  uint64_t count;
} tk_ref_array;

/* Builds the model from hand-made arrays: every tensor of the arch must appear exactly once
 * with its element count; an array with any other name is an error. Values are taken as they
 * are (NaN and Inf included). */
TK_MUST_USE tk_status tk_ref_model_from_arrays(const tk_arch *arch, const tk_ref_array *arrays,
                                               size_t n_arrays, tk_ref_model **out);
/* Builds the model from an open checkpoint, looking each tensor up by name. The caller
 * validates the checkpoint first (tk_ref_checkpoint_validate) when it wants finiteness and
 * order checked; here only presence and counts are checked. */
TK_MUST_USE tk_status tk_ref_model_from_checkpoint(const tk_arch *arch, const tk_checkpoint *ckpt,
                                                   tk_ref_model **out);
void tk_ref_model_free(tk_ref_model *model);
/* The arch the model was built for (borrowed). */
const tk_arch *tk_ref_model_arch(const tk_ref_model *model);

/* ---- Forward (docs/formats.md §3) ------------------------------------------------------------------- */

/* Caller-provided outputs. logits is required (out values per row); p (softmax before the
 * mask), w (masked router weights) and keep (the kept experts) hold E values per row and may
 * be NULL; for Dense they must be NULL. */
typedef struct tk_ref_outputs {
  double *logits;
  double *p;
  double *w;
  bool *keep;
} tk_ref_outputs;

/* One row x (input_dim values), with the top-K rule of docs/formats.md §3. */
TK_MUST_USE tk_status tk_ref_forward_row(const tk_ref_model *model, const double *x,
                                         const tk_ref_outputs *out);
/* One row with a GIVEN keep set (E flags, exactly top_k set), for the near-tie rule: the
 * experts in `keep` are run and weighted by their p; the others are masked. MoE only. */
TK_MUST_USE tk_status tk_ref_forward_row_keep(const tk_ref_model *model, const double *x,
                                              const bool *keep, const tk_ref_outputs *out);
/* The padded batch size of docs/formats.md §3: max(16, 16·ceil(B/16)). */
size_t tk_ref_padded_batch(size_t batch);
/* B rows (x is B × input_dim): all Bp rows are computed, rows B..Bp-1 repeating row B-1, and
 * the B real rows are written to out (each array holds B rows). */
TK_MUST_USE tk_status tk_ref_forward_batch(const tk_ref_model *model, const double *x, size_t batch,
                                           const tk_ref_outputs *out);

/* ---- Conformance (docs/formats.md §3) --------------------------------------------------------------- */

#define TK_REF_TOL_ABS 1e-4 /* per element: |got - ref| <= abs + rel·|ref| */
#define TK_REF_TOL_REL 1e-3
#define TK_REF_NEAR_TIE 1e-6 /* K-th and (K+1)-th probabilities closer than this: either set */
#define TK_REF_SHOWN 5       /* mismatches kept for the report */

typedef struct tk_ref_mismatch {
  const char *what; /* "logits", "router_weights" or "keep_set" */
  size_t row, col;
  double got, ref;
} tk_ref_mismatch;

typedef struct tk_ref_report {
  size_t rows;          /* rows compared */
  size_t elements;      /* elements compared */
  size_t mismatches;    /* out-of-tolerance elements plus experts kept outside the allowed set */
  size_t near_tie_rows; /* rows where the backend chose the other set of a near-tie */
  double max_diff;      /* largest |got - ref| over compared elements (inf for NaN vs number) */
  size_t max_row, max_col;
  size_t n_shown;
  tk_ref_mismatch shown[TK_REF_SHOWN]; /* the first mismatches, in row order */
} tk_ref_report;

/* Compares a backend's float outputs for the batch x (B × input_dim floats, the backend's own
 * input) with the reference: got_logits is B × output_dim, got_w is B × E (MoE; NULL for
 * Dense). A keep set is read from got_w as its non-zero entries. The report is always filled;
 * the status is an error only when the comparison could not run (memory, Dense/MoE misuse). */
TK_MUST_USE tk_status tk_ref_compare(const tk_ref_model *model, const float *x, size_t batch,
                                     const float *got_logits, const float *got_w,
                                     tk_ref_report *report);
static inline bool tk_ref_report_passed(const tk_ref_report *report) {
  return report->mismatches == 0;
}
/* Prints the summary line, the first mismatches as (row, col, got, ref) and the max diff. */
void tk_ref_report_print(const tk_ref_report *report, FILE *out);

#endif /* TK_TESTS_REF_H */
