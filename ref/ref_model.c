/* ref/ref_model.c — builds the double-precision model from a checkpoint or raw arrays.
 *
 * Both sources go through one builder: it lists the arch's tensors (ref_names.c), fetches
 * each BY NAME into doubles, and turns an out_in weight ([out][in], docs/formats.md §1) into the
 * [in][out] form the forward pass reads. Checkpoint weights are read with
 * tk_checkpoint_weights_copy (the mapping is unaligned) and widened exactly to double.
 */
#include <stdlib.h>
#include <string.h>

#include "ref/ref_internal.h"

/* Writes spec->count stored values of the named tensor to dst, or fails naming it. */
typedef tk_status (*ref_fetch_fn)(const void *source, const tk_ref_tensor *spec, double *dst);

void tk_ref_model_free(tk_ref_model *model) {
  if (!model) return;
  for (size_t i = 0; model->data && i < model->n_tensors; i++) free(model->data[i]);
  free(model->data);
  free(model->tensors);
  free(model);
}

const tk_arch *tk_ref_model_arch(const tk_ref_model *model) { return &model->arch; }

/* out_in → in_out: stored[o][i] becomes w[i][o]. */
static tk_status to_in_out(const tk_ref_tensor *spec, double *w) {
  size_t n = (size_t)spec->count;
  double *stored = malloc(n * sizeof(double));
  if (!stored)
    return tk_status_make(TK_RESOURCE_EXHAUSTED, "reference: out of memory for %s", spec->name);
  memcpy(stored, w, n * sizeof(double));
  for (size_t o = 0; o < spec->out; o++)
    for (size_t i = 0; i < spec->in; i++) w[i * spec->out + o] = stored[o * spec->in + i];
  free(stored);
  return TK_STATUS_OK;
}

static tk_status load_tensor(const tk_arch *arch, const tk_ref_tensor *spec, ref_fetch_fn fetch,
                             const void *source, double **out) {
  size_t bytes;
  if (spec->count > SIZE_MAX || !tk_size_mul((size_t)spec->count, sizeof(double), &bytes))
    return tk_status_make(TK_RESOURCE_EXHAUSTED, "reference: %s is too large", spec->name);
  *out = malloc(bytes ? bytes : 1);
  if (!*out)
    return tk_status_make(TK_RESOURCE_EXHAUSTED, "reference: out of memory for %s", spec->name);
  TK_RETURN_IF_ERROR(fetch(source, spec, *out));
  if (spec->role == TK_PARAM_WEIGHT && arch->weight_layout == TK_LAYOUT_OUT_IN)
    return to_in_out(spec, *out);
  return TK_STATUS_OK;
}

static tk_status model_build(const tk_arch *arch, ref_fetch_fn fetch, const void *source,
                             tk_ref_model **out) {
  *out = NULL;
  tk_ref_model *m = calloc(1, sizeof *m);
  if (!m) return tk_status_make(TK_RESOURCE_EXHAUSTED, "reference: out of memory");
  m->arch = *arch;
  tk_status status = tk_ref_tensor_list(arch, &m->tensors, &m->n_tensors);
  if (!status) {
    m->data = calloc(m->n_tensors, sizeof(double *));
    if (!m->data) status = tk_status_make(TK_RESOURCE_EXHAUSTED, "reference: out of memory");
  }
  for (size_t i = 0; !status && i < m->n_tensors; i++)
    status = load_tensor(arch, &m->tensors[i], fetch, source, &m->data[i]);
  if (status) {
    tk_ref_model_free(m);
    return status;
  }
  *out = m;
  return TK_STATUS_OK;
}

/* ---- Raw arrays ----------------------------------------------------------------------------- */

typedef struct array_source {
  const tk_ref_array *arrays;
  size_t n;
} array_source;

static tk_status fetch_array(const void *source, const tk_ref_tensor *spec, double *dst) {
  const array_source *src = source;
  const tk_ref_array *found = NULL;
  for (size_t i = 0; i < src->n; i++) {
    if (strcmp(src->arrays[i].name, spec->name) != 0) continue;
    if (found)
      return tk_status_make(TK_INVALID_ARGUMENT, "reference: array %s given twice", spec->name);
    found = &src->arrays[i];
  }
  if (!found)
    return tk_status_make(TK_INVALID_ARGUMENT, "reference: no array named %s", spec->name);
  if (found->count != spec->count)
    return tk_status_make(TK_INVALID_ARGUMENT, "reference: array %s has %llu values, expected %llu",
                          spec->name, (unsigned long long)found->count,
                          (unsigned long long)spec->count);
  memcpy(dst, found->data, (size_t)spec->count * sizeof(double));
  return TK_STATUS_OK;
}

/* Every array must name a tensor of the arch. */
static tk_status check_array_names(const tk_arch *arch, const tk_ref_array *arrays, size_t n) {
  tk_ref_tensor *list;
  size_t n_list;
  TK_RETURN_IF_ERROR(tk_ref_tensor_list(arch, &list, &n_list));
  tk_status status = TK_STATUS_OK;
  for (size_t i = 0; i < n && !status; i++) {
    bool known = false;
    for (size_t j = 0; j < n_list && !known; j++) known = !strcmp(arrays[i].name, list[j].name);
    if (!known)
      status = tk_status_make(TK_INVALID_ARGUMENT,
                              "reference: array %s is not a tensor of this arch", arrays[i].name);
  }
  free(list);
  return status;
}

tk_status tk_ref_model_from_arrays(const tk_arch *arch, const tk_ref_array *arrays, size_t n_arrays,
                                   tk_ref_model **out) {
  *out = NULL;
  TK_RETURN_IF_ERROR(check_array_names(arch, arrays, n_arrays));
  array_source src = {arrays, n_arrays};
  return model_build(arch, fetch_array, &src, out);
}

/* ---- Checkpoint ----------------------------------------------------------------------------- */

static tk_status fetch_record(const void *source, const tk_ref_tensor *spec, double *dst) {
  const tk_checkpoint *ckpt = source;
  int64_t i = tk_checkpoint_find(ckpt, spec->name);
  if (i < 0)
    return tk_status_make(TK_NOT_FOUND, "reference: checkpoint has no record %s", spec->name);
  const tk_checkpoint_record *rec = tk_checkpoint_record_at(ckpt, (uint32_t)i);
  if (rec->weight_len != spec->count)
    return tk_status_make(TK_INVALID_ARGUMENT, "reference: record %s: weight_len %u, expected %llu",
                          spec->name, rec->weight_len, (unsigned long long)spec->count);
  enum { CHUNK = 4096 };
  float buf[CHUNK];
  for (uint64_t first = 0; first < spec->count; first += CHUNK) {
    uint64_t n = spec->count - first < CHUNK ? spec->count - first : CHUNK;
    tk_checkpoint_weights_copy(rec, first, n, buf);
    for (uint64_t k = 0; k < n; k++) dst[first + k] = (double)buf[k];
  }
  return TK_STATUS_OK;
}

tk_status tk_ref_model_from_checkpoint(const tk_arch *arch, const tk_checkpoint *ckpt,
                                       tk_ref_model **out) {
  return model_build(arch, fetch_record, ckpt, out);
}

tk_status tk_ref_checkpoint_validate(const tk_arch *arch, const tk_checkpoint *ckpt,
                                     bool allow_nonfinite) {
  tk_ref_tensor *list;
  size_t n;
  TK_RETURN_IF_ERROR(tk_ref_tensor_list(arch, &list, &n));
  tk_checkpoint_expect *expect = calloc(n, sizeof *expect);
  if (!expect) {
    free(list);
    return tk_status_make(TK_RESOURCE_EXHAUSTED, "reference: out of memory");
  }
  for (size_t i = 0; i < n; i++) expect[i] = (tk_checkpoint_expect){list[i].name, list[i].count};
  tk_checkpoint_validate_options options = {
      .fingerprint = arch->fingerprint[0] ? arch->fingerprint : NULL,
      .allow_nonfinite = allow_nonfinite,
  };
  tk_status status = tk_checkpoint_validate(ckpt, expect, n, &options);
  free(expect);
  free(list);
  return status;
}
