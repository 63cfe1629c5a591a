/* ir/pass_buffers.c — buffer planning (FUSED → PLANNED).
 *
 * Every kernel argument is bound to a physical buffer. The caller's input and outputs and
 * every parameter get a buffer of their own. Scratch tensors share buffers: a tensor is live
 * from the first kernel that touches it to the last (inclusive, in launch order), and takes
 * the first existing buffer of the same element type and the same size (equal tk_ix, e.g.
 * Bp * 128) whose tensors are all dead before its first kernel; otherwise a new buffer. This
 * gives the ping-pong reuse between layers (an expert's layers alternate between two
 * buffers; its last hidden state stays live until the combine).
 *
 * Guarantee: two tensors placed in the same buffer have disjoint live ranges, so no two live
 * tensors alias. Buffer sizes are tk_ix in B/Bp (host stub allocates them for Bmax).
 */
#include <stdlib.h>

#include "ir/ir.h"
#include "ir/ir_internal.h"
#include "tk/alloc.h"

typedef struct live_range {
  int first, last; /* kernel indices; first = -1 when never used */
} live_range;

static void compute_ranges(const tk_ir_module *m, live_range *lr) {
  for (int t = 0; t < m->ntensors; t++) lr[t].first = lr[t].last = -1;
  for (int ki = 0; ki < m->kernels.n; ki++) {
    const tk_ir_kernel *k = m->kernels.items[ki];
    for (int a = 0; a < k->nargs; a++) {
      live_range *r = &lr[k->args[a].tensor];
      if (r->first < 0) r->first = ki;
      r->last = ki;
    }
  }
}

static int new_buffer(tk_ir_module *m, const char *name, tk_ir_role role, const tk_ir_arg *a,
                      int param_index) {
  if (!TK_IR_PUSH(m, m->buffers, m->nbuffers, m->cap_buffers)) return -1;
  tk_ir_buffer *b = &m->buffers[m->nbuffers];
  b->id = m->nbuffers++;
  b->name = name;
  b->role = role;
  b->type = a->type;
  b->count = a->count;
  b->param_index = param_index;
  b->ntensors = 0;
  b->tensors = tk_ir_alloc(m, sizeof *b->tensors * (size_t)m->ntensors);
  return b->tensors ? b->id : -1;
}

/* A scratch buffer free for a tensor first used at kernel `first`, or -1. */
static int find_free(const tk_ir_module *m, const live_range *lr, const tk_ir_arg *a, int first) {
  for (int i = 0; i < m->nbuffers; i++) {
    const tk_ir_buffer *b = &m->buffers[i];
    if (b->role != TK_ROLE_SCRATCH || b->type != a->type || !tk_ir_ix_equal(b->count, a->count))
      continue;
    bool free_now = true;
    for (int t = 0; t < b->ntensors; t++)
      if (lr[b->tensors[t]].last >= first) free_now = false;
    if (free_now) return i;
  }
  return -1;
}

static int place(tk_ir_module *m, const live_range *lr, int *where, const tk_ir_arg *a) {
  if (where[a->tensor] >= 0) return where[a->tensor];
  const tk_ir_tensor *t = &m->tensors[a->tensor];
  int b = a->role == TK_ROLE_SCRATCH ? find_free(m, lr, a, lr[a->tensor].first) : -1;
  if (b < 0) {
    int nscratch = 0;
    for (int i = 0; i < m->nbuffers; i++) nscratch += m->buffers[i].role == TK_ROLE_SCRATCH;
    const char *name =
        a->role == TK_ROLE_SCRATCH ? tk_ir_strfmt(m, "scratch_%d", nscratch) : t->name;
    b = new_buffer(m, name, a->role, a, t->param_index);
  }
  if (b < 0) return -1;
  tk_ir_buffer *buf = &m->buffers[b];
  buf->tensors[buf->ntensors++] = a->tensor;
  where[a->tensor] = b;
  return b;
}

tk_status tk_ir_pass_plan_buffers(tk_ir_module *m) {
  if (m->stage != TK_STAGE_FUSED)
    return tk_status_make(TK_INTERNAL, "buffer planning: module at stage %d, expected fused",
                          (int)m->stage);
  live_range *lr = tk_calloc((size_t)m->ntensors, sizeof *lr);
  int *where = tk_malloc(sizeof *where * (size_t)m->ntensors);
  if (!lr || !where) {
    free(lr);
    free(where);
    return tk_status_make(TK_RESOURCE_EXHAUSTED, "out of memory planning buffers");
  }
  compute_ranges(m, lr);
  for (int t = 0; t < m->ntensors; t++) where[t] = -1;
  for (int ki = 0; ki < m->kernels.n; ki++) {
    tk_ir_kernel *k = m->kernels.items[ki];
    for (int a = 0; a < k->nargs; a++) k->args[a].buffer = place(m, lr, where, &k->args[a]);
  }
  free(lr);
  free(where);
  TK_RETURN_IF_ERROR(tk_ir_module_status(m));
  m->stage = TK_STAGE_PLANNED;
  return TK_STATUS_OK;
}
