/* runtime/session.c — tk_session: a bundle's host stub driving one backend, and forward.
 *
 * Create: choose the backend (device_select.c; on the CPU also the bundle's CPU level), load
 * the host stub that drives it (model_host.so, or the chosen level's model_host.<level>.so:
 * tk/model_host.h) from the bytes tk_bundle_open hashed (never the file again), check it
 * belongs to this bundle (fingerprint, max_batch), find the `x`, `logits` and
 * `router_weights` buffers, and allocate every buffer for `rows` rows (the session's chunk,
 * options->max_rows) with the parameters copied from the validated checkpoint.
 *
 * Forward (docs/formats.md §3): B >= 1 and every feature finite, checked over the whole batch before
 * any launch (the error names the row and column). Then, per chunk of at most `rows` rows:
 * the chunk's input rows are written to `x` as they are (the kernels pad by reading row
 * min(r, B-1); no padding copy), the stub's launch sequence runs with B = chunk rows, and
 * exactly those rows of `logits` and `router_weights` are read back. Rows are independent, so
 * chunking does not change any row's answer; neither does the thread count (the CPU
 * launcher's blocks write disjoint rows).
 *
 * Router overflow (docs/formats.md §3.6): an MoE model's router weights are always read back
 * (into the session's own rows when the caller wants none) and a row with a non-finite router
 * weight fails the whole forward pass with TK_INVALID_ARGUMENT naming the row: its f32 router
 * logits overflowed (or are NaN), so every probability of that row is NaN, and nothing of the
 * batch is returned. The top-K proof (docs/proofs.md, class topk) relies on it: no answer is
 * ever published from probabilities that were NaN.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "runtime/runtime_internal.h"
#include "tk/model_host.h"
#include "tk/alloc.h"

enum { ELEM_BYTES = 4 };

struct tk_session {
  const tk_bundle *bundle;
  const tk_bundle_file *stub; /* the host stub's file (path for messages) */
  tk_model_host *host;
  tk_launcher *launcher;
  int32_t rows;                   /* rows per launch */
  int32_t x_id, logits_id, rw_id; /* rw_id = -1 for Dense */
  float *rw_rows;                 /* rows x n_experts: one chunk's router weights (MoE) */
  char device[128];
};

void tk_session_options_default(tk_session_options *o) {
  *o = (tk_session_options){
      .device = TK_DEVICE_AUTO, .threads = 0, .quiet = false, .max_rows = 0, .cpu = NULL};
}

/* ---- Create ------------------------------------------------------------------------------- */

/* The buffer `name` with `role`, holding at least `cols` values for each of `rows` rows. */
static tk_status find_buffer(const tk_session *s, const char *name, int32_t role, int64_t cols,
                             int32_t *out) {
  const tk_model_host *h = s->host;
  int32_t id = tk_model_host_find_buffer(h, name);
  if (id < 0 || h->buffer_role(id) != role)
    return tk_status_make(TK_INVALID_ARGUMENT, "%s: the host stub has no %s buffer \"%s\"",
                          s->stub->path, role == TK_BUFFER_IN ? "input" : "output", name);
  int64_t elems = h->buffer_elems(id, s->rows, h->padded_batch(s->rows));
  if (elems < (int64_t)s->rows * cols)
    return tk_status_make(TK_INVALID_ARGUMENT,
                          "%s: buffer \"%s\" holds %lld elements at B=%d, expected at least %lld",
                          s->stub->path, name, (long long)elems, s->rows,
                          (long long)s->rows * cols);
  *out = id;
  return TK_STATUS_OK;
}

/* The stub must be this bundle's: same fingerprint and batch bound as the manifest. */
static tk_status check_host(const tk_session *s) {
  const tk_bundle_info *info = &s->bundle->info;
  const char *fp = s->host->fingerprint();
  if (!fp || strcmp(fp, info->fingerprint))
    return tk_status_make(TK_INVALID_ARGUMENT,
                          "%s: host stub fingerprint %s, manifest fingerprint %s", s->stub->path,
                          fp ? fp : "(none)", info->fingerprint);
  if (s->host->max_batch() != info->max_batch)
    return tk_status_make(TK_INVALID_ARGUMENT, "%s: host stub max batch %lld, manifest %lld",
                          s->stub->path, (long long)s->host->max_batch(),
                          (long long)info->max_batch);
  return TK_STATUS_OK;
}

static int32_t session_rows(const tk_bundle_info *info, int64_t max_rows) {
  int64_t rows = max_rows > 0 ? max_rows : TK_SESSION_DEFAULT_ROWS;
  return (int32_t)(rows < info->max_batch ? rows : info->max_batch);
}

static tk_status session_init(tk_session *s, const tk_weights *weights,
                              const tk_session_options *o) {
  const tk_bundle_info *info = &s->bundle->info;
  tk_backend_choice choice;
  TK_RETURN_IF_ERROR(tk_backend_select(s->bundle, o, &choice));
  s->launcher = choice.launcher;
  s->stub = choice.host;
  memcpy(s->device, choice.device, sizeof s->device);
  TK_RETURN_IF_ERROR(
      tk_model_host_open_image(s->stub->bytes, s->stub->size, s->stub->path, &s->host));
  TK_RETURN_IF_ERROR(check_host(s));
  TK_RETURN_IF_ERROR(find_buffer(s, "x", TK_BUFFER_IN, info->in_dim, &s->x_id));
  TK_RETURN_IF_ERROR(find_buffer(s, "logits", TK_BUFFER_OUT, info->out_dim, &s->logits_id));
  s->rw_id = -1;
  if (info->n_experts > 0) {
    TK_RETURN_IF_ERROR(find_buffer(s, "router_weights", TK_BUFFER_OUT, info->n_experts, &s->rw_id));
    s->rw_rows = tk_malloc((size_t)s->rows * (size_t)info->n_experts * sizeof *s->rw_rows);
    if (!s->rw_rows)
      return tk_status_make(TK_RESOURCE_EXHAUSTED, "out of memory for the router weights");
  }
  tk_param_source src = tk_weights_source(weights);
  return tk_model_buffers_fill(s->launcher, s->host, s->rows, &src);
}

tk_status tk_session_create(const tk_bundle *bundle, const tk_weights *weights,
                            const tk_session_options *options, tk_session **out) {
  *out = NULL;
  if (!bundle || !weights)
    return tk_status_make(TK_INVALID_ARGUMENT, "tk_session_create: need a bundle and weights");
  if (weights->bundle != bundle)
    return tk_status_make(TK_INVALID_ARGUMENT,
                          "tk_session_create: the weights were validated against another bundle");
  tk_session_options defaults;
  tk_session_options_default(&defaults);
  const tk_session_options *o = options ? options : &defaults;
  if (o->threads < 0 || o->max_rows < 0)
    return tk_status_make(TK_INVALID_ARGUMENT,
                          "session options: threads %d and max_rows %lld "
                          "must be >= 0",
                          o->threads, (long long)o->max_rows);
  tk_session *s = tk_calloc(1, sizeof *s);
  if (!s) return tk_status_make(TK_RESOURCE_EXHAUSTED, "out of memory for a session");
  s->bundle = bundle;
  s->rows = session_rows(&bundle->info, o->max_rows);
  tk_status st = session_init(s, weights, o);
  if (st) {
    tk_session_free(s);
    return tk_status_annotate(st, "session on bundle %s", bundle->dir);
  }
  *out = s;
  return TK_STATUS_OK;
}

void tk_session_free(tk_session *s) {
  if (!s) return;
  tk_launcher_destroy(s->launcher);
  tk_model_host_close(s->host);
  free(s->rw_rows);
  free(s);
}

const char *tk_session_backend(const tk_session *s) { return tk_launcher_kind(s->launcher); }
const char *tk_session_device(const tk_session *s) { return s->device; }

/* ---- Forward ------------------------------------------------------------------------------ */

/* docs/formats.md §3: inputs must be finite, checked before any launch. */
static tk_status check_finite(const float *x, int64_t B, int32_t in_dim) {
  for (int64_t r = 0; r < B; r++)
    for (int32_t c = 0; c < in_dim; c++) {
      float v = x[r * in_dim + c];
      if (!isfinite(v))
        return tk_status_make(TK_INVALID_ARGUMENT,
                              "row %lld, column %d: feature is %s (inputs must be finite)",
                              (long long)r, c,
                              isnan(v) ? "NaN"
                              : v > 0  ? "+Inf"
                                       : "-Inf");
    }
  return TK_STATUS_OK;
}

/* Reads `n` rows of `cols` values from output buffer `id` into dst. */
static tk_status read_rows(tk_session *s, int32_t id, int32_t n, int32_t cols, float *dst) {
  return tk_launcher_buffer_read(s->launcher, id, 0, dst, (int64_t)n * cols * ELEM_BYTES);
}

/* docs/formats.md §3.6: a row whose router weights are not finite is rejected, naming the row
 * of the caller's batch (`first` is the chunk's first row). */
static tk_status check_router(const float *rw, int64_t first, int32_t n, int32_t n_experts) {
  for (int32_t r = 0; r < n; r++)
    for (int32_t e = 0; e < n_experts; e++)
      if (!isfinite(rw[(int64_t)r * n_experts + e]))
        return tk_status_make(TK_INVALID_ARGUMENT,
                              "row %lld: the router logits are not finite in f32 (they overflow "
                              "or are NaN), so its router probabilities are NaN; the batch is "
                              "rejected (docs/formats.md §3.6)",
                              (long long)(first + r));
  return TK_STATUS_OK;
}

/* One launch sequence over rows [first, first + n) of the caller's batch; the router weights
 * go to the session's rows (publish_router). */
static tk_status forward_chunk(tk_session *s, const float *x, int64_t first, int32_t n,
                               float *logits) {
  const tk_bundle_info *info = &s->bundle->info;
  TK_RETURN_IF_ERROR(tk_launcher_buffer_write(s->launcher, s->x_id, 0, x + first * info->in_dim,
                                              (int64_t)n * info->in_dim * ELEM_BYTES));
  TK_RETURN_IF_ERROR(s->host->forward(s->launcher, tk_launcher_schedule(s->launcher), n));
  TK_RETURN_IF_ERROR(read_rows(s, s->logits_id, n, info->out_dim, logits + first * info->out_dim));
  return s->rw_id < 0 ? TK_STATUS_OK : read_rows(s, s->rw_id, n, info->n_experts, s->rw_rows);
}

/* The chunk's router weights, checked (check_router), into the caller's rows if wanted. */
static tk_status publish_router(const tk_session *s, int64_t first, int32_t n,
                                float *router_weights) {
  int32_t n_experts = s->bundle->info.n_experts;
  if (s->rw_id < 0) return TK_STATUS_OK;
  TK_RETURN_IF_ERROR(check_router(s->rw_rows, first, n, n_experts));
  if (router_weights)
    memcpy(router_weights + first * n_experts, s->rw_rows,
           (size_t)n * (size_t)n_experts * sizeof *s->rw_rows);
  return TK_STATUS_OK;
}

tk_status tk_session_forward(tk_session *s, const float *x, int64_t B, float *logits,
                             float *router_weights) {
  if (!s || !x || !logits)
    return tk_status_make(TK_INVALID_ARGUMENT, "forward: need a session, x and logits");
  if (B < 1) /* docs/formats.md §3: an empty batch is rejected */
    return tk_status_make(TK_INVALID_ARGUMENT, "forward: batch of %lld rows, expected >= 1",
                          (long long)B);
  TK_RETURN_IF_ERROR(check_finite(x, B, s->bundle->info.in_dim));
  for (int64_t first = 0; first < B; first += s->rows) {
    int32_t n = (int32_t)(B - first < s->rows ? B - first : s->rows);
    tk_status st = forward_chunk(s, x, first, n, logits);
    if (st)
      return tk_status_annotate(st, "forward rows %lld..%lld", (long long)first,
                                (long long)(first + n - 1));
    TK_RETURN_IF_ERROR(publish_router(s, first, n, router_weights));
  }
  return TK_STATUS_OK;
}
