/* runtime/model_buffers.c — a model's buffers on a launcher: sizes from the host stub at the
 * largest batch, parameters copied from the checkpoint (aligned; the file is packed).
 *
 * On a host-memory backend (cpu) the weights are copied straight into the buffer; otherwise
 * through one staging copy per tensor. Every size goes through checked arithmetic. The cpu
 * schedule's panel weights are packed on the way (tk/panel.h; one row-major staging copy).
 */
#include <stdlib.h>
#include <string.h>

#include "tk/model_host.h"
#include "tk/alloc.h"
#include "tk/panel.h"

enum { ELEM_BYTES = 4 }; /* f32 and i32 buffers */

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

/* Packs record r's K x cols row-major weights into column panels of `width` (tk/panel.h):
 * each row's run of a panel is contiguous there. */
static tk_status pack_panels(const tk_model_host *h, int32_t id, const tk_checkpoint_record *r,
                             float *dst) {
  int64_t n = r->weight_len, cols = h->buffer_panel_cols(id), width = h->buffer_panel_width(id);
  if (cols < 1 || width > cols || n % cols)
    return tk_status_make(TK_INVALID_ARGUMENT,
                          "buffer %s: panels of %lld columns in rows of %lld do not fit its %lld "
                          "elements (a broken host stub?)",
                          h->buffer_name(id), (long long)width, (long long)cols, (long long)n);
  float *rowmajor = tk_malloc((size_t)n * ELEM_BYTES + 1);
  if (!rowmajor)
    return tk_status_make(TK_RESOURCE_EXHAUSTED, "out of memory packing %s", h->buffer_name(id));
  tk_checkpoint_weights_copy(r, 0, r->weight_len, rowmajor);
  int64_t rows = n / cols, full = cols / width * width;
  for (int64_t k = 0; k < rows; k++)
    for (int64_t j = 0; j < cols; j += width) {
      int64_t run = j < full ? width : cols - full;
      memcpy(dst + tk_panel_offset(rows, cols, width, k, j), rowmajor + k * cols + j,
             (size_t)run * ELEM_BYTES);
    }
  free(rowmajor);
  return TK_STATUS_OK;
}

/* The weights of buffer id in the order the launcher's kernels read them, into dst. */
static tk_status place_param(tk_launcher *l, const tk_model_host *h, int32_t id,
                             const tk_checkpoint_record *r, float *dst) {
  if (!strcmp(tk_launcher_schedule(l), "cpu") && h->buffer_panel_width(id) > 0)
    return pack_panels(h, id, r, dst);
  tk_checkpoint_weights_copy(r, 0, r->weight_len, dst);
  return TK_STATUS_OK;
}

static tk_status fill_param(tk_launcher *l, const tk_model_host *h, int32_t id,
                            const tk_checkpoint *ckpt) {
  int32_t rec = h->buffer_param(id);
  if (rec < 0 || (uint32_t)rec >= tk_checkpoint_record_count(ckpt))
    return tk_status_make(TK_INVALID_ARGUMENT,
                          "parameter buffer %s wants checkpoint record %d; the checkpoint has %u",
                          h->buffer_name(id), rec, tk_checkpoint_record_count(ckpt));
  const tk_checkpoint_record *r = tk_checkpoint_record_at(ckpt, (uint32_t)rec);
  int64_t elems = h->buffer_elems(id, 1, h->padded_batch(1));
  if ((int64_t)r->weight_len != elems)
    return tk_status_make(TK_INVALID_ARGUMENT,
                          "checkpoint record %d (%.*s): weight_len %u, expected %lld", rec,
                          (int)r->name_len, r->name, r->weight_len, (long long)elems);
  float *dst = tk_launcher_buffer_host(l, id);
  if (dst) return place_param(l, h, id, r, dst);
  float *stage = tk_malloc((size_t)r->weight_len * ELEM_BYTES + 1);
  if (!stage)
    return tk_status_make(TK_RESOURCE_EXHAUSTED, "out of memory staging %s", h->buffer_name(id));
  tk_status s = place_param(l, h, id, r, stage);
  if (!s) s = tk_launcher_buffer_write(l, id, 0, stage, (int64_t)r->weight_len * ELEM_BYTES);
  free(stage);
  return s;
}

tk_status tk_model_buffers_create(tk_launcher *l, const tk_model_host *h, int32_t bmax,
                                  const tk_checkpoint *ckpt) {
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
    if (h->buffer_role(i) == TK_BUFFER_PARAM) s = fill_param(l, h, i, ckpt);
  return s;
}
