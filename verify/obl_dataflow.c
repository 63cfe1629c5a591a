/* verify/obl_dataflow.c — class `dataflow`, across the launches of one schedule (the list
 * m->targets[t], in the order the host stub launches it):
 *
 * For every launch L and every argument L loads that holds an intermediate or output tensor T
 * in buffer @b, one obligation (grouped by (L, argument)) with these parts:
 *   1. order: the producer P of the value L reads runs before L. Producers come from the
 *      launches' STORE sites, ordered by the fused IR (phases of a fused kernel run in order):
 *      for a read by another fused kernel, P is the launch of T's last writing phase; for a
 *      read by a later phase of T's own fused kernel, the closest earlier writing phase (a CPU
 *      launch that writes T itself reads its own, row-local writes: the race class's concern).
 *      No launch writing T at all refutes the obligation.
 *   2. coverage: at every point of L, the element each load of T reads lies in the region P
 *      writes — rows < R of T's row-major layout, R from P's writes_all / writes_rows_lt
 *      contract, which the race class proves P covers (every element of it written).
 *   3. no clobber: for every launch M strictly between P and L in the list and every STORE of
 *      M into @b (whatever its tensor), no point of M stores an element a point of L reads (two
 *      copies of the variables: L's load in copy 0, M's store in copy 1).
 * Index reads (sparse dispatch's slot and count) are one data function per buffer, whichever
 * launch reads them: a producer's data row count `rows < count[e]` and its reader's guards
 * name the same values, which holds because each read of count has its own obligation here,
 * proving no launch between the dispatch and the reader stores into count's buffer.
 * Tensors the host provides (the input, parameters) have no producer launch; only part 3
 * applies, from the first launch on. Every part is read from the kernel bodies, launch records,
 * argument buffers and contracts that codegen and the host stub consume — not from the buffer
 * planner's live ranges, which are what is being checked. Each op's inputs are loaded by the
 * launch computing it, so part 1 is also the graph order. Trusted: the runtime runs the
 * launches in the list's order with a device-wide barrier between two launches.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "verify/verify_internal.h"
#include "tk/alloc.h"

/* ---- the schedule's stores ---- */

/* A schedule's launches and, per launch, which of its arguments it stores into (from the
 * STORE statements of its body). */
typedef struct schedule {
  const tk_ir_kernel_list *list;
  bool **stored; /* stored[i][a] */
} schedule;

typedef struct store_marks {
  bool *stored;
  int nargs;
} store_marks;

static void mark_store(const tk_ir_stmt *s, void *user) {
  store_marks *mk = user;
  if (s->kind == TK_S_STORE && s->arg >= 0 && s->arg < mk->nargs) mk->stored[s->arg] = true;
}

static tk_status schedule_init(schedule *sc, const tk_ir_kernel_list *list) {
  sc->list = list;
  sc->stored = tk_calloc((size_t)(list->n ? list->n : 1), sizeof *sc->stored);
  for (int i = 0; sc->stored && i < list->n; i++) {
    const tk_ir_kernel *k = list->items[i];
    sc->stored[i] = tk_calloc((size_t)(k->nargs ? k->nargs : 1), sizeof **sc->stored);
    if (!sc->stored[i]) {
      for (int j = 0; j < i; j++) free(sc->stored[j]);
      free(sc->stored);
      sc->stored = NULL;
      break;
    }
    store_marks mk = {sc->stored[i], k->nargs};
    tk_ir_walk_stmts(k->body, mark_store, &mk);
  }
  return sc->stored ? TK_STATUS_OK
                    : tk_status_make(TK_RESOURCE_EXHAUSTED, "verifier: out of memory");
}

static void schedule_free(schedule *sc) {
  for (int i = 0; i < sc->list->n; i++) free(sc->stored[i]);
  free(sc->stored);
}

/* The index of launch i's argument for tensor t that it stores into, or -1. */
static int stored_arg_of_tensor(const schedule *sc, int i, int t) {
  const tk_ir_kernel *k = sc->list->items[i];
  for (int a = 0; a < k->nargs; a++)
    if (k->args[a].tensor == t && sc->stored[i][a]) return a;
  return -1;
}

static bool stores_buffer(const schedule *sc, int i, int buffer) {
  const tk_ir_kernel *k = sc->list->items[i];
  for (int a = 0; a < k->nargs; a++)
    if (k->args[a].buffer == buffer && sc->stored[i][a]) return true;
  return false;
}

/* ---- the producer ---- */

typedef struct producer {
  int pos;     /* position in the list; -1: the host (input, parameters) */
  int arg;     /* the producer's argument for the tensor */
  bool none;   /* no launch writes the tensor */
  bool inside; /* L reads its own writes (no cross-launch producer) */
} producer;

/* Writers of tensor t come from one fused kernel; refuse anything else. */
static tk_status one_source(const tk_vctx *v, const schedule *sc, int t, int *source) {
  *source = -1;
  for (int i = 0; i < sc->list->n; i++) {
    const tk_ir_kernel *w = sc->list->items[i];
    if (stored_arg_of_tensor(sc, i, t) < 0) continue;
    if (*source >= 0 && w->source != *source)
      return tk_status_make(TK_INVALID_ARGUMENT,
                            "kernel %s (%s): %%%s is written by launches of two fused kernels",
                            w->name, tk_verify_obl_target_name(w), v->m->tensors[t].name);
    *source = w->source;
  }
  return TK_STATUS_OK;
}

static tk_status find_producer(const tk_vctx *v, const schedule *sc, const tk_ir_kernel *l, int t,
                               producer *p) {
  *p = (producer){.pos = -1, .arg = -1};
  tk_ir_tensor_kind kind = v->m->tensors[t].kind;
  if (kind == TK_TENSOR_INPUT || kind == TK_TENSOR_PARAM) return TK_STATUS_OK;
  int source;
  TK_RETURN_IF_ERROR(one_source(v, sc, t, &source));
  if (source < 0) {
    p->none = true;
    return TK_STATUS_OK;
  }
  bool same = l->source == source;
  if (same && l->source_phase < 0) {
    p->inside = true;
    return TK_STATUS_OK;
  }
  int best_phase = -2;
  for (int i = 0; i < sc->list->n; i++) {
    const tk_ir_kernel *w = sc->list->items[i];
    int a = w->source == source ? stored_arg_of_tensor(sc, i, t) : -1;
    int last = tk_ir_kernel_last_phase(w); /* a GEMM with its epilogue writes in both */
    if (a < 0 || (same && w->source_phase >= l->source_phase) || last <= best_phase) continue;
    *p = (producer){.pos = i, .arg = a};
    best_phase = last;
  }
  if (p->pos < 0) p->inside = true; /* a phase reading what it writes itself */
  return TK_STATUS_OK;
}

/* ---- the parts ---- */

typedef struct reader {
  tk_vctx *v;
  const tk_ir_kernel_list *list;
  const schedule *sc;
  const tk_ir_kernel *l;
  int pos, arg;
  const tk_obl_sites *sites; /* L's sites */
} reader;

static bool is_load_of(const tk_obl_site *s, int arg) {
  return s->kind == TK_SITE_LOAD && s->arg == arg;
}

static void order_part(const reader *r, const producer *p) {
  tk_vctx *v = r->v;
  tk_obl *o = tk_verify_obl_cur(v);
  const tk_ir_kernel *pk = r->list->items[p->pos];
  Z3_ast pp = tk_verify_z_int(v, p->pos), lp = tk_verify_z_int(v, r->pos);
  tk_verify_obl_show(o, "producer position", pp);
  tk_verify_obl_show(o, "reader position", lp);
  tk_verify_obl_part(o, Z3_mk_lt(v->z, pp, lp),
                     "launch %s (#%d), the producer of %%%s, runs before its reader %s (#%d)",
                     pk->name, p->pos, r->l->args[r->arg].name, r->l->name, r->pos);
}

/* rows < R of the producer's writes contract on its argument, or NULL. */
static const tk_ix *written_rows(const tk_ir_kernel *pk, int arg) {
  for (int i = 0; i < pk->contracts.n; i++) {
    const tk_ir_contract *c = &pk->contracts.items[i];
    if (c->a != arg) continue;
    if (c->pred == TK_PRED_WRITES_ALL) return pk->args[arg].rows;
    if (c->pred == TK_PRED_WRITES_ROWS_LT) return c->ix;
  }
  return NULL;
}

static tk_status coverage_parts(const reader *r, const producer *p) {
  tk_vctx *v = r->v;
  tk_obl *o = tk_verify_obl_cur(v);
  const tk_ir_kernel *pk = r->list->items[p->pos];
  const tk_ix *rows = written_rows(pk, p->arg);
  if (!rows)
    return tk_status_make(
        TK_INVALID_ARGUMENT,
        "kernel %s (%s): stores %%%s without a writes_all/writes_rows_lt contract", pk->name,
        tk_verify_obl_target_name(pk), pk->args[p->arg].name);
  char rtext[128];
  tk_ir_ix_format(rows, rtext, sizeof rtext);
  o->ix_kernel = pk; /* a data row count (count[e]) is read from the producer's arguments */
  Z3_ast written = tk_verify_obl_ix(o, rows, 0);
  o->ix_kernel = NULL;
  Z3_ast end = tk_verify_z_mul_c(v, written, pk->args[p->arg].cols);
  for (int i = 0; i < r->sites->n; i++) {
    const tk_obl_site *s = &r->sites->items[i];
    if (!is_load_of(s, r->arg)) continue;
    Z3_ast e = tk_verify_obl_ix(o, s->ix, 0);
    tk_verify_obl_show(o, "element read", e);
    tk_verify_obl_show(o, "elements written", end);
    Z3_ast inside = tk_verify_z_in(v, tk_verify_z_int(v, 0), e, end); /* first: verify_internal.h */
    tk_verify_obl_part(
        o, Z3_mk_implies(v->z, tk_verify_obl_path_cond(o, r->l, s->path, 0), inside),
        "launch %s (#%d) reads %%%s only inside the rows < %s that launch %s (#%d) writes",
        r->l->name, r->pos, r->l->args[r->arg].name, rtext, pk->name, p->pos);
  }
  return TK_STATUS_OK;
}

/* Every store of launch m (at position pos) into L's buffer against every load of L. */
static void clobber_parts(const reader *r, const tk_obl_sites *ms, const tk_ir_kernel *m, int pos,
                          const char *producer_name) {
  tk_vctx *v = r->v;
  tk_obl *o = tk_verify_obl_cur(v);
  const tk_ir_arg *la = &r->l->args[r->arg];
  for (int j = 0; j < ms->n; j++) {
    const tk_obl_site *w = &ms->items[j];
    if (w->kind != TK_SITE_STORE || m->args[w->arg].buffer != la->buffer) continue;
    for (int i = 0; i < r->sites->n; i++) {
      const tk_obl_site *s = &r->sites->items[i];
      if (!is_load_of(s, r->arg)) continue;
      Z3_ast e = tk_verify_obl_ix(o, s->ix, 0);
      o->ix_kernel = m; /* M's indices and guards name M's arguments */
      Z3_ast f = tk_verify_obl_ix(o, w->ix, 1);
      tk_verify_obl_show(o, "element read", e);
      tk_verify_obl_show(o, "element stored", f);
      Z3_ast stored_on = tk_verify_obl_path_cond(o, m, w->path, 1); /* first: verify_internal.h */
      o->ix_kernel = NULL;
      Z3_ast both = tk_verify_z_and2(v, tk_verify_obl_path_cond(o, r->l, s->path, 0), stored_on);
      tk_verify_obl_part(o, Z3_mk_implies(v->z, both, Z3_mk_not(v->z, Z3_mk_eq(v->z, e, f))),
                         "launch %s (#%d), between %s and reader %s (#%d), stores %%%s into @%s "
                         "at no element of %%%s that the reader loads",
                         m->name, pos, producer_name, r->l->name, r->pos, m->args[w->arg].name,
                         v->m->buffers[la->buffer].name, la->name);
    }
  }
}

static tk_status between_parts(const reader *r, const producer *p, int *nbetween) {
  const char *pname = p->pos >= 0 ? r->list->items[p->pos]->name : "the host";
  *nbetween = 0;
  for (int j = p->pos + 1; j < r->pos; j++) {
    const tk_ir_kernel *m = r->list->items[j];
    if (!stores_buffer(r->sc, j, r->l->args[r->arg].buffer)) continue;
    tk_obl_sites ms;
    TK_RETURN_IF_ERROR(tk_verify_obl_collect(r->v, m, &ms));
    clobber_parts(r, &ms, m, j, pname);
    tk_verify_obl_sites_free(&ms);
    (*nbetween)++;
  }
  return TK_STATUS_OK;
}

static tk_status one_read(const reader *r) {
  tk_vctx *v = r->v;
  const tk_ir_arg *la = &r->l->args[r->arg];
  producer p;
  TK_RETURN_IF_ERROR(find_producer(v, r->sc, r->l, la->tensor, &p));
  if (p.inside) return TK_STATUS_OK;
  const char *bname = la->buffer >= 0 ? v->m->buffers[la->buffer].name : "(unplanned)";
  char who[128];
  if (p.pos >= 0)
    snprintf(who, sizeof who, "launch %s (#%d)", r->list->items[p.pos]->name, p.pos);
  else
    snprintf(who, sizeof who, "%s", p.none ? "its producer (none in the schedule)" : "the host");
  tk_verify_obl_begin(v, TK_OBL_DATAFLOW, r->l->name, tk_verify_obl_target_name(r->l),
                      "launch %s (#%d) reads %%%s in buffer @%s as written by %s: the producer "
                      "runs first, every element read lies in the rows it writes, and no launch "
                      "between them stores into @%s at an element read, for every B in [1, %lld]",
                      r->l->name, r->pos, la->name, bname, who, bname, (long long)v->bmax);
  tk_obl *o = tk_verify_obl_cur(v);
  if (p.none) {
    tk_verify_obl_part(o, Z3_mk_false(v->z), "launch %s (#%d) reads %%%s, which no launch writes",
                       r->l->name, r->pos, la->name);
    return tk_verify_obl_prove(v);
  }
  if (p.pos >= 0) {
    order_part(r, &p);
    TK_RETURN_IF_ERROR(coverage_parts(r, &p));
  }
  int nbetween = 0;
  if (la->buffer >= 0) TK_RETURN_IF_ERROR(between_parts(r, &p, &nbetween));
  if (p.pos < 0 && !nbetween) return TK_STATUS_OK; /* host data nobody overwrites */
  tk_verify_obl_say(o, " (%d launch(es) between them store into @%s)", nbetween, bname);
  return tk_verify_obl_prove(v);
}

static bool loads_arg(const tk_obl_sites *l, int arg) {
  for (int i = 0; i < l->n; i++)
    if (is_load_of(&l->items[i], arg)) return true;
  return false;
}

static tk_status reads_of(tk_vctx *v, const schedule *sc, int pos) {
  const tk_ir_kernel *k = sc->list->items[pos];
  v->kernel = k;
  tk_obl_sites l;
  TK_RETURN_IF_ERROR(tk_verify_obl_collect(v, k, &l));
  tk_status s = TK_STATUS_OK;
  for (int a = 0; !s && a < k->nargs; a++) {
    if (!loads_arg(&l, a)) continue;
    reader r = {.v = v, .list = sc->list, .sc = sc, .l = k, .pos = pos, .arg = a, .sites = &l};
    s = one_read(&r);
  }
  tk_verify_obl_sites_free(&l);
  return s;
}

tk_status tk_verify_obl_dataflow(tk_vctx *v, tk_ir_target t) {
  schedule sc;
  TK_RETURN_IF_ERROR(schedule_init(&sc, tk_ir_module_kernels(v->m, t)));
  tk_status s = TK_STATUS_OK;
  for (int i = 0; !s && i < sc.list->n; i++) s = reads_of(v, &sc, i);
  v->kernel = NULL;
  schedule_free(&sc);
  return s;
}
