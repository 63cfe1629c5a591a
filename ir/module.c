/* ir/module.c — the module: its arena, the sticky failure flag, and the builders of graph
 * tensors, ops, contracts, kernels, arguments, locals, phases and schedule steps.
 *
 * Ownership: everything a module points to lives in its arena (a list of chunks), released
 * at once by tk_ir_module_free. Arrays grow by copying into a larger arena block (the old
 * block stays until the module is freed), so consumers refer to tensors, ops, args and
 * locals by index, never by a pointer kept across builder calls.
 */
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

#include "ir/ir.h"
#include "ir/ir_internal.h"
#include "tk/alloc.h"
#include "tk/launch.h"

typedef struct tk_ir_chunk {
  struct tk_ir_chunk *next;
  size_t size, used;
  _Alignas(16) unsigned char data[];
} tk_ir_chunk;

struct tk_ir_arena {
  tk_ir_chunk *head;
};

enum { TK_IR_CHUNK = 256 * 1024 };

void tk_ir_mark_failed(tk_ir_module *m) {
  if (m) m->failed_ = true;
}

void *tk_ir_alloc(tk_ir_module *m, size_t size) {
  if (!m || m->failed_) return NULL;
  size = (size + 15) & ~(size_t)15;
  tk_ir_chunk *c = m->arena_->head;
  if (!c || c->size - c->used < size) {
    size_t cap = size > TK_IR_CHUNK ? size : TK_IR_CHUNK;
    c = tk_malloc(sizeof *c + cap);
    if (!c) {
      m->failed_ = true;
      return NULL;
    }
    c->size = cap;
    c->used = 0;
    c->next = m->arena_->head;
    m->arena_->head = c;
  }
  void *p = c->data + c->used;
  c->used += size;
  memset(p, 0, size);
  return p;
}

const char *tk_ir_strdup(tk_ir_module *m, const char *s) {
  size_t n = strlen(s) + 1;
  char *d = tk_ir_alloc(m, n);
  if (d) memcpy(d, s, n);
  return d;
}

const char *tk_ir_strfmt(tk_ir_module *m, const char *fmt, ...) {
  va_list ap, ap2;
  va_start(ap, fmt);
  va_copy(ap2, ap);
  int n = vsnprintf(NULL, 0, fmt, ap);
  va_end(ap);
  char *d = n >= 0 ? tk_ir_alloc(m, (size_t)n + 1) : NULL;
  if (d) vsnprintf(d, (size_t)n + 1, fmt, ap2);
  va_end(ap2);
  return d;
}

bool tk_ir_grow(tk_ir_module *m, void **items, int *cap, int n, size_t elem) {
  if (n < *cap) return true;
  int ncap = *cap ? *cap * 2 : 8;
  void *p = tk_ir_alloc(m, (size_t)ncap * elem);
  if (!p) return false;
  if (*items) memcpy(p, *items, (size_t)n * elem);
  *items = p;
  *cap = ncap;
  return true;
}

void tk_ir_options_default(tk_ir_options *o) {
  o->bmax = 65536;
  o->gpu_wg_2d = 256;
  o->gpu_wg_rows = 64;
  tk_ir_options_cpu_tiles(o, 256);
  o->dispatch = TK_DISPATCH_DENSE;
  o->gpu_schedule = TK_GPU_SCHEDULE_SIMPLE;
  o->gpu_tiles = TK_GPU_TILES_CDNA;
}

void tk_ir_options_cpu_tiles(tk_ir_options *o, int vector_bits) {
  bool zmm = vector_bits >= 512, ymm = vector_bits == 256;
  o->cpu_block_rows = ymm ? 96 : 128;
  o->cpu_tile_rows = zmm ? 8 : ymm ? 6 : 4;
  o->cpu_tile_cols = zmm ? 32 : 16;
  o->cpu_col_blocks = 4;
}

static tk_status options_check(const tk_ir_options *o) {
  if (o->bmax < 1 || o->bmax > (int64_t)1 << 30)
    return tk_status_make(TK_OUT_OF_RANGE, "max batch %lld out of range: expected 1..%lld",
                          (long long)o->bmax, (long long)1 << 30);
  if (o->gpu_wg_2d < 1 || o->gpu_wg_2d > 1024 || o->gpu_wg_rows < 1 || o->gpu_wg_rows > 1024)
    return tk_status_make(TK_OUT_OF_RANGE, "GPU workgroup size out of range: expected 1..1024");
  if ((unsigned)o->gpu_tiles >= TK_GPU_TILES_COUNT)
    return tk_status_make(TK_OUT_OF_RANGE, "GPU tile set %d: expected 0..%d", (int)o->gpu_tiles,
                          TK_GPU_TILES_COUNT - 1);
  if (o->cpu_block_rows < 1 || o->cpu_tile_rows < 1 || o->cpu_block_rows % o->cpu_tile_rows ||
      (TK_PAD_QUANTUM % o->cpu_block_rows != 0 && o->cpu_block_rows % TK_PAD_QUANTUM != 0) ||
      o->cpu_block_rows > 256 || o->cpu_tile_cols < 1 || o->cpu_tile_cols > 64 ||
      o->cpu_col_blocks < 1 || o->cpu_col_blocks > 64)
    return tk_status_make(TK_OUT_OF_RANGE,
                          "CPU schedule: block rows %lld must divide %d or be a multiple of %d "
                          "up to 256, tile rows %lld must "
                          "divide them, tile columns %lld and column blocks %lld must be 1..64",
                          (long long)o->cpu_block_rows, TK_PAD_QUANTUM, TK_PAD_QUANTUM,
                          (long long)o->cpu_tile_rows, (long long)o->cpu_tile_cols,
                          (long long)o->cpu_col_blocks);
  return TK_STATUS_OK;
}

tk_status tk_ir_module_create(const tk_arch *arch, const tk_ir_options *opts, tk_ir_module **out) {
  *out = NULL;
  tk_ir_options o;
  if (opts)
    o = *opts;
  else
    tk_ir_options_default(&o);
  TK_RETURN_IF_ERROR(options_check(&o));
  tk_ir_module *m = tk_calloc(1, sizeof *m);
  struct tk_ir_arena *a = tk_calloc(1, sizeof *a);
  if (!m || !a) {
    free(m);
    free(a);
    return tk_status_make(TK_RESOURCE_EXHAUSTED, "out of memory creating an IR module");
  }
  m->arena_ = a;
  m->arch = *arch;
  m->opts = o;
  m->stage = TK_STAGE_GRAPH;
  *out = m;
  return TK_STATUS_OK;
}

void tk_ir_module_free(tk_ir_module *m) {
  if (!m) return;
  tk_ir_chunk *c = m->arena_->head;
  while (c) {
    tk_ir_chunk *next = c->next;
    free(c);
    c = next;
  }
  free(m->arena_);
  free(m);
}

tk_status tk_ir_module_status(const tk_ir_module *m) {
  if (m->failed_)
    return tk_status_make(TK_RESOURCE_EXHAUSTED,
                          "IR construction failed (out of memory or an invalid builder argument)");
  return TK_STATUS_OK;
}

/* ---- graph ---- */

int tk_ir_tensor_add(tk_ir_module *m, const char *name, tk_ir_tensor_kind kind, tk_ir_type type,
                     const tk_ix *rows, int64_t cols) {
  if (!rows || !TK_IR_PUSH(m, m->tensors, m->ntensors, m->cap_tensors)) return -1;
  tk_ir_tensor *t = &m->tensors[m->ntensors];
  memset(t, 0, sizeof *t);
  t->id = m->ntensors++;
  t->name = tk_ir_strdup(m, name);
  t->kind = kind;
  t->type = type;
  t->rank = 2;
  t->dims[0] = rows;
  t->dims[1] = tk_ir_ix_const(m, cols);
  t->param_index = -1;
  t->producer = -1;
  return t->id;
}

static tk_ir_operand *operands(tk_ir_module *m, const int *ids, int n) {
  tk_ir_operand *o = tk_ir_alloc(m, sizeof *o * (size_t)(n ? n : 1));
  for (int i = 0; o && i < n; i++) o[i].tensor = ids[i];
  return o;
}

int tk_ir_op_add(tk_ir_module *m, tk_ir_op_kind kind, const char *layer, const char *name,
                 const int *in, int nin, const int *out, int nout) {
  if (!TK_IR_PUSH(m, m->ops, m->nops, m->cap_ops)) return -1;
  tk_ir_op *op = &m->ops[m->nops];
  memset(op, 0, sizeof *op);
  op->id = m->nops++;
  op->kind = kind;
  op->expert = -1;
  op->rows_count = -1;
  op->layer = tk_ir_strdup(m, layer);
  op->name = tk_ir_strfmt(m, "%s.%s", layer, name);
  op->nin = nin;
  op->nout = nout;
  op->in = operands(m, in, nin);
  op->out = operands(m, out, nout);
  for (int i = 0; i < nout; i++)
    if (out[i] >= 0 && out[i] < m->ntensors) m->tensors[out[i]].producer = op->id;
  return m->failed_ ? -1 : op->id;
}

tk_ir_contract tk_ir_contract_make(bool ensures, tk_ir_pred pred, int a, int b, const tk_ix *ix,
                                   int64_t k, int64_t n) {
  tk_ir_contract c = {ensures, pred, a, b, -1, ix, k, n, false};
  return c;
}

void tk_ir_contract_add(tk_ir_module *m, tk_ir_contracts *list, tk_ir_contract c) {
  if (TK_IR_PUSH(m, list->items, list->n, list->cap)) list->items[list->n++] = c;
}

/* ---- kernels ---- */

tk_ir_kernel *tk_ir_kernel_new(tk_ir_module *m, tk_ir_target target, const char *name) {
  tk_ir_kernel *k = tk_ir_alloc(m, sizeof *k);
  if (!k) return NULL;
  k->name = tk_ir_strdup(m, name);
  k->target = target;
  k->source = -1;
  k->source_phase = -1;
  k->id = -1;
  return k;
}

int tk_ir_kernel_last_phase(const tk_ir_kernel *k) {
  return k->source_phase < 0 ? -1
                             : k->source_phase + (k->source_phases > 1 ? k->source_phases - 1 : 0);
}

void tk_ir_kernel_append(tk_ir_module *m, tk_ir_kernel *k) {
  if (!k) return;
  tk_ir_kernel_list *l = k->target == TK_TARGET_NONE ? &m->kernels : &m->targets[k->target];
  if (!TK_IR_PUSH(m, l->items, l->n, l->cap)) return;
  k->id = l->n;
  l->items[l->n++] = k;
}

int tk_ir_kernel_arg(tk_ir_module *m, tk_ir_kernel *k, int tensor, tk_ir_role role,
                     tk_ir_access access) {
  if (!k || tensor < 0 || tensor >= m->ntensors) {
    tk_ir_mark_failed(m);
    return -1;
  }
  for (int i = 0; i < k->nargs; i++)
    if (k->args[i].tensor == tensor) {
      k->args[i].access |= access;
      return i;
    }
  int cap = k->nargs; /* args arrays are exact-size: reallocate on every add */
  tk_ir_arg *args = tk_ir_alloc(m, sizeof *args * (size_t)(cap + 1));
  if (!args) return -1;
  if (k->nargs) memcpy(args, k->args, sizeof *args * (size_t)k->nargs);
  const tk_ir_tensor *t = &m->tensors[tensor];
  tk_ir_arg *a = &args[k->nargs];
  a->name = t->name;
  a->tensor = tensor;
  a->buffer = -1;
  a->role = role;
  a->type = t->type;
  a->access = access;
  a->cols = t->dims[1]->c;
  a->rows = t->dims[0];
  a->count = tk_ir_ix_mul(m, t->dims[0], a->cols);
  k->args = args;
  return k->nargs++;
}

int tk_ir_kernel_local(tk_ir_module *m, tk_ir_kernel *k, const char *name, tk_ir_type type,
                       int64_t count) {
  if (!k) return -1;
  tk_ir_local *locals = tk_ir_alloc(m, sizeof *locals * (size_t)(k->nlocals + 1));
  if (!locals) return -1;
  if (k->nlocals) memcpy(locals, k->locals, sizeof *locals * (size_t)k->nlocals);
  tk_ir_local *l = &locals[k->nlocals];
  l->id = k->nlocals;
  l->name = tk_ir_strdup(m, name);
  l->type = type;
  l->count = count;
  l->origin = -1;
  l->expand = 1;
  k->locals = locals;
  return k->nlocals++;
}

int tk_ir_kernel_shared_local(tk_ir_module *m, tk_ir_kernel *k, const char *name, tk_ir_type type,
                              int64_t count) {
  int l = tk_ir_kernel_local(m, k, name, type, count);
  if (l >= 0) k->locals[l].shared = true;
  return l;
}

int64_t tk_ir_kernel_shared_bytes(const tk_ir_kernel *k) {
  int64_t bytes = 0;
  for (int i = 0; i < k->nlocals; i++)
    if (k->locals[i].shared) bytes += 4 * k->locals[i].count; /* f32, i32; bool as i32 */
  return bytes;
}

tk_ir_phase *tk_ir_kernel_phase(tk_ir_module *m, tk_ir_kernel *k, const char *name) {
  if (!k) return NULL;
  tk_ir_phase *ph = tk_ir_alloc(m, sizeof *ph * (size_t)(k->nphases + 1));
  if (!ph) return NULL;
  if (k->nphases) memcpy(ph, k->phases, sizeof *ph * (size_t)k->nphases);
  k->phases = ph;
  ph[k->nphases].name = tk_ir_strdup(m, name);
  return &ph[k->nphases++];
}

void tk_ir_kernel_step(tk_ir_module *m, tk_ir_kernel *k, tk_ir_sched_step step) {
  if (!k) return;
  tk_ir_sched_step *s = tk_ir_alloc(m, sizeof *s * (size_t)(k->nsteps + 1));
  if (!s) return;
  if (k->nsteps) memcpy(s, k->steps, sizeof *s * (size_t)k->nsteps);
  s[k->nsteps++] = step;
  k->steps = s;
}

const tk_ir_var *tk_ir_var_new(tk_ir_module *m, const char *name, const tk_ix *inv) {
  tk_ir_var *v = tk_ir_alloc(m, sizeof *v);
  if (!v) return NULL;
  v->id = m->nvars++;
  v->name = tk_ir_strdup(m, name);
  v->inv = inv;
  return v;
}

/* ---- queries ---- */

const tk_ir_kernel_list *tk_ir_module_kernels(const tk_ir_module *m, tk_ir_target t) {
  return t == TK_TARGET_NONE ? &m->kernels : &m->targets[t];
}

const tk_ir_kernel *tk_ir_kernel_find(const tk_ir_module *m, tk_ir_target t, const char *name) {
  const tk_ir_kernel_list *l = tk_ir_module_kernels(m, t);
  for (int i = 0; i < l->n; i++)
    if (!strcmp(l->items[i]->name, name)) return l->items[i];
  return NULL;
}

int tk_ir_tensor_find(const tk_ir_module *m, const char *name) {
  for (int i = 0; i < m->ntensors; i++)
    if (!strcmp(m->tensors[i].name, name)) return i;
  return -1;
}
