/* runtime/model_buffers.c — a model's buffers on a launcher: sizes from the host stub at the
 * largest batch, parameters copied from the checkpoint (aligned; the file is packed).
 *
 * The weights come from a parameter source (runtime_internal.h): a checkpoint.tkp1, or a Hugging
 * Face safetensors checkpoint (runtime/weights.c). On a host-memory backend (cpu) the weights are
 * copied straight into the buffer; otherwise
 * through one staging copy per tensor. Every size goes through checked arithmetic. The cpu
 * schedule's panel weights are packed on the way (tk/panel.h; one staging copy in the stored
 * order).
 */
#include <stdlib.h>
#include <string.h>

#include "runtime/runtime_internal.h"
#include "tk/model_host.h"
#include "tk/alloc.h"
#include "tk/panel.h"

enum { ELEM_BYTES = 4 };      /* f32 and i32 buffers */
enum { TRANSPOSE_ROWS = 64 }; /* of a panel, per step of an out_in weight's packing */

static tk_status buffer_sizes(const tk_model_host *h, int32_t bmax, int64_t *bytes) {
  int32_t bp = h->padded_batch(bmax);
  for (int32_t i = 0; i < h->buffer_count(); i++) {
    int64_t elems = h->buffer_elems(i, bmax, bp);
    size_t b;
    if (elems < 0 || !tk_size_mul((size_t)elems, ELEM_BYTES, &b) || b > INT64_MAX)
      return tk_status_make(TK_OUT_OF_RANGE, "buffer %d (%s): %lld elements at B=%d is too large",
                            i, h->buffer_name(i), (long long)elems, bmax);
    bytes[i] = (int64_t)b;
  }
  return TK_STATUS_OK;
}

/* Packs the K x cols weights of buffer id, stored row-major (or, out_in, as their cols x K
 * transpose), into column panels of `width` (tk/panel.h): each row's run of a panel is
 * contiguous there. */
static tk_status pack_panels(const tk_model_host *h, int32_t id, const float *stored, int64_t n,
                             float *dst) {
  int64_t cols = h->buffer_panel_cols(id), width = h->buffer_panel_width(id);
  if (cols < 1 || width > cols || n % cols)
    return tk_status_make(TK_INVALID_ARGUMENT,
                          "buffer %s: panels of %lld columns in rows of %lld do not fit its %lld "
                          "elements (a broken host stub?)",
                          h->buffer_name(id), (long long)width, (long long)cols, (long long)n);
  int64_t rows = n / cols, full = cols / width * width;
  if (h->buffer_panel_out_in(id)) {
    /* Column j of the weight is stored row j: a panel's lanes are `width` stored rows,
     * transposed TRANSPOSE_ROWS rows of the panel at a time so that both sides stay in cache. */
    for (int64_t j = 0; j < cols; j += width) {
      int64_t run = j < full ? width : cols - full;
      float *panel = dst + tk_panel_offset(rows, cols, width, 0, j);
      for (int64_t k0 = 0; k0 < rows; k0 += TRANSPOSE_ROWS) {
        int64_t k1 = k0 + TRANSPOSE_ROWS < rows ? k0 + TRANSPOSE_ROWS : rows;
        for (int64_t lane = 0; lane < run; lane++)
          for (int64_t k = k0; k < k1; k++)
            panel[k * run + lane] = stored[tk_panel_stored_index(rows, cols, true, k, j + lane)];
      }
    }
    return TK_STATUS_OK;
  }
  for (int64_t k = 0; k < rows; k++)
    for (int64_t j = 0; j < cols; j += width) {
      int64_t run = j < full ? width : cols - full;
      memcpy(dst + tk_panel_offset(rows, cols, width, k, j),
             stored + tk_panel_stored_index(rows, cols, false, k, j), (size_t)run * ELEM_BYTES);
    }
  return TK_STATUS_OK;
}

/* The weights of buffer id (parameter `param`, n values) in the order the launcher's kernels
 * read them, into dst: the cpu schedule's panels through one staging copy in the stored order. */
static tk_status place_param(tk_launcher *l, const tk_model_host *h, int32_t id,
                             const tk_param_source *src, int32_t param, int64_t n, float *dst) {
  if (strcmp(tk_launcher_schedule(l), "cpu") != 0 || h->buffer_panel_width(id) <= 0)
    return src->read(src->src, param, dst);
  float *stored = tk_malloc((size_t)n * ELEM_BYTES + 1);
  if (!stored)
    return tk_status_make(TK_RESOURCE_EXHAUSTED, "out of memory packing %s", h->buffer_name(id));
  tk_status s = src->read(src->src, param, stored);
  if (!s) s = pack_panels(h, id, stored, n, dst);
  free(stored);
  return s;
}

static tk_status fill_param(tk_launcher *l, const tk_model_host *h, int32_t id,
                            const tk_param_source *src) {
  int32_t param = h->buffer_param(id);
  int64_t n = src->count(src->src, param), elems = h->buffer_elems(id, 1, h->padded_batch(1));
  if (n < 0)
    return tk_status_make(TK_INVALID_ARGUMENT,
                          "parameter buffer %s wants parameter %d; the "
                          "weights have no such parameter",
                          h->buffer_name(id), param);
  if (n != elems)
    return tk_status_make(TK_INVALID_ARGUMENT, "parameter %d (%s): %lld weights, expected %lld",
                          param, h->buffer_name(id), (long long)n, (long long)elems);
  float *dst = tk_launcher_buffer_host(l, id);
  if (dst) return place_param(l, h, id, src, param, n, dst);
  float *stage = tk_malloc((size_t)n * ELEM_BYTES + 1);
  if (!stage)
    return tk_status_make(TK_RESOURCE_EXHAUSTED, "out of memory staging %s", h->buffer_name(id));
  tk_status s = place_param(l, h, id, src, param, n, stage);
  if (!s) s = tk_launcher_buffer_write(l, id, 0, stage, n * ELEM_BYTES);
  free(stage);
  return s;
}

tk_status tk_model_buffers_fill(tk_launcher *l, const tk_model_host *h, int32_t bmax,
                                const tk_param_source *src) {
  if (bmax < 1 || bmax > h->max_batch())
    return tk_status_make(TK_OUT_OF_RANGE, "largest batch %d: expected 1 to %lld", bmax,
                          (long long)h->max_batch());
  int32_t n = h->buffer_count();
  int64_t *bytes = tk_calloc((size_t)n + 1, sizeof *bytes);
  if (!bytes) return tk_status_make(TK_RESOURCE_EXHAUSTED, "out of memory");
  tk_status s = buffer_sizes(h, bmax, bytes);
  if (!s) s = tk_launcher_buffers_create(l, n, bytes);
  free(bytes);
  for (int32_t i = 0; !s && i < n; i++)
    if (h->buffer_role(i) == TK_BUFFER_PARAM) s = fill_param(l, h, i, src);
  return s;
}

/* A checkpoint.tkp1 as a parameter source: record i is parameter i. */
static int64_t checkpoint_count(const void *src, int32_t i) {
  const tk_checkpoint *ckpt = src;
  if (i < 0 || (uint32_t)i >= tk_checkpoint_record_count(ckpt)) return -1;
  return tk_checkpoint_record_at(ckpt, (uint32_t)i)->weight_len;
}

static tk_status checkpoint_read(const void *src, int32_t i, float *dst) {
  const tk_checkpoint_record *r = tk_checkpoint_record_at(src, (uint32_t)i);
  tk_checkpoint_weights_copy(r, 0, r->weight_len, dst);
  return TK_STATUS_OK;
}

tk_param_source tk_param_source_checkpoint(const tk_checkpoint *ckpt) {
  return (tk_param_source){ckpt, checkpoint_count, checkpoint_read};
}

tk_status tk_model_buffers_create(tk_launcher *l, const tk_model_host *h, int32_t bmax,
                                  const tk_checkpoint *ckpt) {
  tk_param_source src = tk_param_source_checkpoint(ckpt);
  return tk_model_buffers_fill(l, h, bmax, &src);
}
