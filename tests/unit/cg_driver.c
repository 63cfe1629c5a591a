/* tests/unit/cg_driver.c — see cg_driver.h. The test path for codegen's shared objects until
 * the runtime's CPU launcher drives them; it reads only the IR's launch records and buffer
 * plan, the way the host stub does (docs/abi.md). */
#include <dlfcn.h>
#include <math.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "tests/unit/cg_driver.h"
#include "tk/panel.h"

typedef struct buffers {
  int n;
  float **ptr; /* f32 or i32 elements, 4 bytes each */
  int64_t *count;
} buffers;

struct tk_cgd {
  const tk_ir_module *m;
  tk_ir_target schedule;
  void *so;
  tk_cgd_kernel_fn *fns;
  buffers bufs; /* of the prepared batch */
  int32_t B, Bp;
};

static void buffers_free(buffers *b);

tk_status tk_cgd_open(const tk_ir_module *m, tk_ir_target schedule, const char *so_path,
                      tk_cgd **out) {
  *out = NULL;
  const tk_ir_kernel_list *list = &m->targets[schedule];
  tk_cgd *d = calloc(1, sizeof *d);
  if (d) d->fns = calloc((size_t)list->n + 1, sizeof *d->fns);
  if (!d || !d->fns) {
    free(d);
    return tk_status_make(TK_RESOURCE_EXHAUSTED, "cg_driver: out of memory");
  }
  d->m = m;
  d->schedule = schedule;
  d->so = dlopen(so_path, RTLD_NOW | RTLD_LOCAL);
  if (!d->so) {
    tk_status s = tk_status_make(TK_NOT_FOUND, "cg_driver: dlopen %s: %s", so_path, dlerror());
    tk_cgd_close(d);
    return s;
  }
  for (int i = 0; i < list->n; i++) {
    *(void **)&d->fns[i] = dlsym(d->so, list->items[i]->name);
    if (!d->fns[i]) {
      tk_status s = tk_status_make(TK_NOT_FOUND, "cg_driver: %s has no kernel %s", so_path,
                                   list->items[i]->name);
      tk_cgd_close(d);
      return s;
    }
  }
  *out = d;
  return TK_STATUS_OK;
}

void tk_cgd_close(tk_cgd *d) {
  if (!d) return;
  if (d->so) dlclose(d->so);
  buffers_free(&d->bufs);
  free(d->fns);
  free(d);
}

const char *tk_cgd_bundle_target(const tk_cgd *d) {
  const char *s = dlsym(d->so, "tk_bundle_target");
  return s ? s : "";
}

typedef struct range_job {
  tk_cgd_kernel_fn fn;
  void *const *args;
  int32_t B, Bp;
  int64_t begin, end;
} range_job;

static void *run_range(void *p) {
  range_job *j = p;
  j->fn(j->args, j->B, j->Bp, j->begin, j->end);
  return NULL;
}

tk_status tk_cgd_launch(tk_cgd_kernel_fn fn, void *const *args, int32_t B, int32_t Bp, int64_t grid,
                        int threads) {
  enum { MAX_THREADS = 16 };
  if (threads < 1 || threads > MAX_THREADS)
    return tk_status_make(TK_INVALID_ARGUMENT, "cg_driver: threads %d, expected 1..16", threads);
  range_job jobs[MAX_THREADS];
  pthread_t tids[MAX_THREADS];
  for (int t = 0; t < threads; t++)
    jobs[t] = (range_job){fn, args, B, Bp, grid * t / threads, grid * (t + 1) / threads};
  int started = 0;
  tk_status s = TK_STATUS_OK;
  for (int t = 1; t < threads && !s; t++, started++)
    if (pthread_create(&tids[t], NULL, run_range, &jobs[t]) != 0)
      s = tk_status_make(TK_RESOURCE_EXHAUSTED, "cg_driver: pthread_create failed");
  run_range(&jobs[0]);
  for (int t = 1; t <= started; t++) pthread_join(tids[t], NULL);
  return s;
}

/* ---- buffers -------------------------------------------------------------------------- */

static void buffers_free(buffers *b) {
  for (int i = 0; b->ptr && i < b->n; i++) free(b->ptr[i]);
  free(b->ptr);
  free(b->count);
  memset(b, 0, sizeof *b);
}

/* The cpu schedule reads a panel buffer packed (tk/panel.h), as the runtime packs it. */
static tk_status pack_panels(const tk_ir_buffer *buf, int64_t count, float *data) {
  float *stored = malloc((size_t)count * sizeof *stored + 1);
  if (!stored) return tk_status_make(TK_RESOURCE_EXHAUSTED, "cg_driver: out of memory");
  memcpy(stored, data, (size_t)count * sizeof *stored);
  int64_t cols = buf->panel_cols, rows = count / cols;
  for (int64_t k = 0; k < rows; k++)
    for (int64_t j = 0; j < cols; j++)
      data[tk_panel_offset(rows, cols, buf->panel_width, k, j)] =
          stored[tk_panel_stored_index(rows, cols, buf->panel_out_in, k, j)];
  free(stored);
  return TK_STATUS_OK;
}

static tk_status buffers_alloc(const tk_ir_module *m, tk_ir_target schedule,
                               const float *const *weights, const float *x, int32_t B, int32_t Bp,
                               buffers *b) {
  tk_ix_env env = {.B = B, .Bp = Bp, .vals = NULL};
  b->n = m->nbuffers;
  b->ptr = calloc((size_t)b->n + 1, sizeof *b->ptr);
  b->count = calloc((size_t)b->n + 1, sizeof *b->count);
  if (!b->ptr || !b->count)
    return tk_status_make(TK_RESOURCE_EXHAUSTED, "cg_driver: out of memory");
  for (int i = 0; i < b->n; i++) {
    b->count[i] = tk_ir_ix_eval(m->buffers[i].count, &env);
    size_t bytes = ((size_t)(b->count[i] > 0 ? b->count[i] : 1) * 4 + 63) / 64 * 64;
    b->ptr[i] = aligned_alloc(64, bytes);
    if (!b->ptr[i]) return tk_status_make(TK_RESOURCE_EXHAUSTED, "cg_driver: out of memory");
    TK_RETURN_IF_ERROR(tk_cgd_fill_buffer(m, i, b->count[i], weights, x, B, b->ptr[i]));
    if (schedule == TK_TARGET_CPU && m->buffers[i].panel_width)
      TK_RETURN_IF_ERROR(pack_panels(&m->buffers[i], b->count[i], b->ptr[i]));
  }
  return TK_STATUS_OK;
}

int tk_cgd_buffer_of(const tk_ir_module *m, const char *tensor) {
  int t = tk_ir_tensor_find(m, tensor);
  for (int i = 0; t >= 0 && i < m->nbuffers; i++)
    for (int j = 0; j < m->buffers[i].ntensors; j++)
      if (m->buffers[i].tensors[j] == t) return i;
  return -1;
}

tk_status tk_cgd_fill_buffer(const tk_ir_module *m, int buffer, int64_t count,
                             const float *const *weights, const float *x, int32_t B, float *dst) {
  const tk_ir_buffer *buf = &m->buffers[buffer];
  if (buf->role == TK_ROLE_PARAM) {
    tk_param_spec spec = tk_arch_param(&m->arch, (size_t)buf->param_index);
    if ((uint64_t)count != spec.count)
      return tk_status_make(TK_INVALID_ARGUMENT,
                            "cg_driver: buffer %s has %lld elements, "
                            "checkpoint tensor %s has %llu",
                            buf->name, (long long)count, spec.name, (unsigned long long)spec.count);
    memcpy(dst, weights[buf->param_index], spec.count * 4);
  } else if (buf->role == TK_ROLE_IN) {
    if (count != (int64_t)B * m->arch.input_dim)
      return tk_status_make(TK_INVALID_ARGUMENT,
                            "cg_driver: input buffer %s has %lld elements, "
                            "expected B * %d",
                            buf->name, (long long)count, m->arch.input_dim);
    memcpy(dst, x, (size_t)count * 4);
  } else {
    for (int64_t e = 0; e < count; e++) dst[e] = NAN;
  }
  return TK_STATUS_OK;
}

tk_status tk_cgd_prepare(tk_cgd *d, const float *const *weights, const float *x, int32_t B) {
  buffers_free(&d->bufs);
  d->B = B;
  d->Bp = (int32_t)tk_ir_ix_bp_of(B);
  tk_status s = buffers_alloc(d->m, d->schedule, weights, x, B, d->Bp, &d->bufs);
  if (s) buffers_free(&d->bufs);
  return s;
}

float *tk_cgd_arg(const tk_cgd *d, int kernel, int arg) {
  return d->bufs.ptr[d->m->targets[d->schedule].items[kernel]->args[arg].buffer];
}

tk_status tk_cgd_run(tk_cgd *d, int kernel, int threads) {
  const tk_ir_kernel_list *list = &d->m->targets[d->schedule];
  if (!d->bufs.ptr) return tk_status_make(TK_INVALID_ARGUMENT, "cg_driver: run before prepare");
  tk_ix_env env = {.B = d->B, .Bp = d->Bp, .vals = NULL};
  for (int i = kernel < 0 ? 0 : kernel; i < (kernel < 0 ? list->n : kernel + 1); i++) {
    const tk_ir_kernel *k = list->items[i];
    void *args[k->nargs + 1];
    for (int a = 0; a < k->nargs; a++) args[a] = tk_cgd_arg(d, i, a);
    TK_RETURN_IF_ERROR(
        tk_cgd_launch(d->fns[i], args, d->B, d->Bp, tk_ir_ix_eval(k->launch.grid, &env), threads));
  }
  return TK_STATUS_OK;
}

tk_status tk_cgd_read(const tk_cgd *d, const char *tensor, int64_t count, float *out) {
  int i = tk_cgd_buffer_of(d->m, tensor);
  if (!d->bufs.ptr || i < 0 || d->bufs.count[i] < count)
    return tk_status_make(TK_NOT_FOUND, "cg_driver: no %s buffer of %lld elements", tensor,
                          (long long)count);
  memcpy(out, d->bufs.ptr[i], (size_t)count * 4);
  return TK_STATUS_OK;
}

static int64_t widest_written_arg(const tk_ir_kernel_list *list, int buffer) {
  int64_t cols = 0;
  for (int i = 0; i < list->n; i++)
    for (int a = 0; a < list->items[i]->nargs; a++) {
      const tk_ir_arg *arg = &list->items[i]->args[a];
      if (arg->buffer == buffer && (arg->access & TK_ACC_WRITE) && arg->cols > cols)
        cols = arg->cols;
    }
  return cols;
}

bool tk_cgd_padding_untouched(const tk_cgd *d, const char **buffer) {
  const tk_ir_kernel_list *list = &d->m->targets[d->schedule];
  for (int b = 0; b < d->bufs.n; b++) {
    int64_t from = (int64_t)d->B * widest_written_arg(list, b);
    for (int64_t e = from; from > 0 && e < d->bufs.count[b]; e++)
      if (!isnan(d->bufs.ptr[b][e])) {
        *buffer = d->m->buffers[b].name;
        return false;
      }
  }
  return true;
}

tk_status tk_cgd_forward(tk_cgd *d, const float *const *weights, const float *x, int32_t B,
                         int threads, float *logits, float *router_w) {
  const tk_arch *a = &d->m->arch;
  TK_RETURN_IF_ERROR(tk_cgd_prepare(d, weights, x, B));
  TK_RETURN_IF_ERROR(tk_cgd_run(d, -1, threads));
  TK_RETURN_IF_ERROR(tk_cgd_read(d, "logits", (int64_t)B * a->output_dim, logits));
  if (!router_w) return TK_STATUS_OK;
  return tk_cgd_read(d, "router_weights", (int64_t)B * a->n_experts, router_w);
}
