/* verify/obl_host.c — class `host`, the stub part: the generated model_host.c against the
 * scheduled module (docs/proofs.md "host").
 *
 * The stub's text is read back (host_scan.c) and each formula it prints is parsed as C
 * (cexpr.c) and translated to Z3 with C's semantics, the same rules as tk_cexpr_eval:
 * int/long typing by the usual arithmetic conversions, / and % truncating toward zero (from
 * the Euclidean quotient q and remainder r of the builder: trunc = q + (x < 0 and r != 0)),
 * comparisons as 0/1, ?: as ite, calls of the stub's one-line functions inlined with their
 * parameters converted. Products and divisions need one constant operand (the stub prints
 * nothing else; QF_LIA stays linear). Every intermediate's "fits its C type" is a goal part,
 * guarded by the ?: branches it sits in (C evaluates only the branch taken; guard NULL = at
 * the top, unconditional).
 *
 * Obligations, each for every 1 <= B <= Bmax (B an int32_t in tkm_forward):
 *   tkm_forward  (graph)   the stub's Bp equals the module's rule max(Q, Q*ceil(B/Q)), fits i32
 *   buffer_elems (graph)   one per buffer: case N's formula (at the stub's Bp) = the IR count
 *   buffer_panel (graph)   one per buffer packed on either side: the stub's panel row length
 *                          and width (what the runtime packs by) = the IR's (what class layout
 *                          proved the cpu kernels read by); and one per buffer stored out_in on
 *                          either side: the stub's buffer_panel_out_in = the IR's (what the
 *                          runtime reads the checkpoint's weight by)
 *   <kernel>     (gpu|cpu) one per launch: grid = launch.grid, workgroup size =
 *                          launch.workgroup_size (gpu) or 1 (cpu), argument table = the IR
 *                          kernel's argument buffers, in order
 * The comparison side is the IR (tk_verify_obl_ix over the module's tk_ix), never the
 * generator. Structure (a launch missing, out of order, misnamed, an argument count, a
 * buffer without a case) is checked directly and reported the same way (TK_PROOF_FAILED).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "verify/verify_internal.h"
#include "tk/alloc.h"

/* ---- C expressions → Z3 ------------------------------------------------------------------ */

typedef struct zbind {
  const char *name;
  Z3_ast term;
  tk_ctype type;
} zbind;

typedef struct zscope {
  const zbind *binds;
  int n;
} zscope;

typedef struct zx {
  tk_obl *o;
  const tk_host_stub *stub;
  const char *text; /* the formula, for messages */
  Z3_ast *fits;     /* guard => value fits its type, one per intermediate */
  int nfits, cap_fits;
  bool failed;
  char why[256];
  char calls[192]; /* " tkm_padded_batch at model_host.c:23, ..." — the stub functions used */
} zx;

static Z3_ast zx_fail(zx *z, const char *fmt, const char *arg) {
  if (!z->failed) snprintf(z->why, sizeof z->why, fmt, arg);
  z->failed = true;
  return NULL;
}

static Z3_ast in_type(tk_vctx *v, Z3_ast x, tk_ctype t) {
  int64_t lo = t == TK_CT_INT32 ? INT32_MIN : INT64_MIN;
  int64_t hi = t == TK_CT_INT32 ? INT32_MAX : INT64_MAX;
  return tk_verify_z_within(v, lo, x, hi);
}

/* Records guard => x fits t (guard NULL: unconditionally). */
static void must_fit(zx *z, Z3_ast guard, Z3_ast x, tk_ctype t) {
  tk_vctx *v = z->o->v;
  if (!x) return;
  if (z->nfits == z->cap_fits) {
    int cap = z->cap_fits ? 2 * z->cap_fits : 32;
    Z3_ast *p = tk_realloc(z->fits, (size_t)cap * sizeof *p);
    if (!p) {
      z->o->oom = true;
      return;
    }
    z->fits = p;
    z->cap_fits = cap;
  }
  z->fits[z->nfits++] = guard ? Z3_mk_implies(v->z, guard, in_type(v, x, t)) : in_type(v, x, t);
}

static bool numeral(tk_vctx *v, Z3_ast x, int64_t *out) {
  return x && Z3_is_numeral_ast(v->z, x) && Z3_get_numeral_int64(v->z, x, out);
}

static Z3_ast zx_term(zx *z, const tk_cexpr_tree *t, int n, const zscope *sc, Z3_ast guard,
                      tk_ctype *type);

/* C's x / c and x % c for a constant c > 0 (truncation toward zero). */
static Z3_ast trunc_divmod(zx *z, Z3_ast x, Z3_ast c_ast, bool mod) {
  tk_vctx *v = z->o->v;
  int64_t c;
  if (!numeral(v, c_ast, &c) || c <= 0)
    return zx_fail(z, "a division by something other than a positive constant in `%s`", z->text);
  Z3_ast q = tk_verify_obl_div(z->o, x, c, false), r = tk_verify_obl_div(z->o, x, c, true);
  if (!q || !r) return NULL;
  Z3_ast zero = tk_verify_z_int(v, 0);
  Z3_ast rem_nonzero = Z3_mk_not(v->z, Z3_mk_eq(v->z, r, zero)); /* first: verify_internal.h */
  Z3_ast up = tk_verify_z_and2(v, Z3_mk_lt(v->z, x, zero), rem_nonzero);
  Z3_ast tq = Z3_mk_ite(v->z, up, tk_verify_z_add2(v, q, tk_verify_z_int(v, 1)), q);
  return mod ? tk_verify_z_sub2(v, x, tk_verify_z_mul_c(v, tq, c)) : tq;
}

static Z3_ast zx_mul(zx *z, Z3_ast a, Z3_ast b) {
  tk_vctx *v = z->o->v;
  int64_t c;
  if (numeral(v, b, &c)) return tk_verify_z_mul_c(v, a, c);
  if (numeral(v, a, &c)) return tk_verify_z_mul_c(v, b, c);
  return zx_fail(z, "a product of two non-constants in `%s`", z->text);
}

static Z3_ast zx_sym(zx *z, const tk_cexpr *e, const zscope *sc, tk_ctype *type) {
  for (int i = 0; i < sc->n; i++)
    if (!strcmp(sc->binds[i].name, e->name)) {
      *type = sc->binds[i].type;
      return sc->binds[i].term;
    }
  return zx_fail(z, "an unknown name %s", e->name);
}

static Z3_ast zx_call(zx *z, const tk_cexpr_tree *t, const tk_cexpr *e, const zscope *sc,
                      Z3_ast guard, tk_ctype *type) {
  tk_cexpr_env env = {NULL, 0, z->stub->fns, z->stub->nfns};
  const tk_cexpr_fn *fn = tk_cexpr_env_fn(&env, e->name);
  if (!fn || fn->nparams != e->nargs)
    return zx_fail(z, "a call of %s, which is not a one-line int function of the stub", e->name);
  char here[96];
  snprintf(here, sizeof here, "%s%s at model_host.c:%d", z->calls[0] ? ", " : " calling ", fn->name,
           fn->line);
  if (!strstr(z->calls, here + 2) && strlen(z->calls) + strlen(here) < sizeof z->calls)
    strcat(z->calls, here);
  zbind params[TK_CEXPR_MAX_ARGS];
  for (int i = 0; i < e->nargs; i++) {
    tk_ctype at;
    Z3_ast a = zx_term(z, t, e->args[i], sc, guard, &at);
    must_fit(z, guard, a, fn->ptypes[i]);
    params[i] = (zbind){fn->params[i], a, fn->ptypes[i]};
  }
  zscope inner = {params, fn->nparams};
  tk_ctype rt;
  Z3_ast r = zx_term(z, &fn->body, fn->body.root, &inner, guard, &rt);
  must_fit(z, guard, r, fn->ret);
  *type = fn->ret;
  return r;
}

static Z3_ast zx_cond(zx *z, const tk_cexpr_tree *t, const tk_cexpr *e, const zscope *sc,
                      Z3_ast guard, tk_ctype *type) {
  tk_vctx *v = z->o->v;
  tk_ctype ct, bt, ft;
  Z3_ast c = zx_term(z, t, e->a, sc, guard, &ct);
  if (!c) return NULL;
  Z3_ast taken = Z3_mk_not(v->z, Z3_mk_eq(v->z, c, tk_verify_z_int(v, 0)));
  Z3_ast not_taken = Z3_mk_not(v->z, taken);
  Z3_ast b = zx_term(z, t, e->b, sc, guard ? tk_verify_z_and2(v, guard, taken) : taken, &bt);
  Z3_ast f =
      zx_term(z, t, e->c, sc, guard ? tk_verify_z_and2(v, guard, not_taken) : not_taken, &ft);
  *type = tk_ctype_common(bt, ft);
  return b && f ? Z3_mk_ite(v->z, taken, b, f) : NULL;
}

static Z3_ast zx_binary(zx *z, tk_cexpr_kind k, Z3_ast a, Z3_ast b) {
  tk_vctx *v = z->o->v;
  Z3_ast one = tk_verify_z_int(v, 1), zero = tk_verify_z_int(v, 0);
  switch (k) {
    case TK_CX_ADD: return tk_verify_z_add2(v, a, b);
    case TK_CX_SUB: return tk_verify_z_sub2(v, a, b);
    case TK_CX_MUL: return zx_mul(z, a, b);
    case TK_CX_DIV:
    case TK_CX_MOD: return trunc_divmod(z, a, b, k == TK_CX_MOD);
    case TK_CX_LT: return Z3_mk_ite(v->z, Z3_mk_lt(v->z, a, b), one, zero);
    case TK_CX_LE: return Z3_mk_ite(v->z, Z3_mk_le(v->z, a, b), one, zero);
    case TK_CX_GT: return Z3_mk_ite(v->z, Z3_mk_gt(v->z, a, b), one, zero);
    case TK_CX_GE: return Z3_mk_ite(v->z, Z3_mk_ge(v->z, a, b), one, zero);
    case TK_CX_EQ: return Z3_mk_ite(v->z, Z3_mk_eq(v->z, a, b), one, zero);
    case TK_CX_NE: return Z3_mk_ite(v->z, Z3_mk_eq(v->z, a, b), zero, one);
    default: return NULL;
  }
}

static Z3_ast zx_term(zx *z, const tk_cexpr_tree *t, int n, const zscope *sc, Z3_ast guard,
                      tk_ctype *type) {
  tk_vctx *v = z->o->v;
  const tk_cexpr *e = &t->nodes[n];
  tk_ctype at, bt;
  Z3_ast a, b, r;
  switch (e->kind) {
    case TK_CX_LIT: *type = e->type; return tk_verify_z_int(v, e->value);
    case TK_CX_SYM: return zx_sym(z, e, sc, type);
    case TK_CX_CALL: return zx_call(z, t, e, sc, guard, type);
    case TK_CX_COND: return zx_cond(z, t, e, sc, guard, type);
    case TK_CX_CAST:
      a = zx_term(z, t, e->a, sc, guard, &at);
      must_fit(z, guard, a, e->type);
      *type = e->type;
      return a;
    case TK_CX_NEG:
      a = zx_term(z, t, e->a, sc, guard, &at);
      r = a ? Z3_mk_unary_minus(v->z, a) : NULL;
      must_fit(z, guard, r, at);
      *type = at;
      return r;
    default:
      a = zx_term(z, t, e->a, sc, guard, &at);
      b = zx_term(z, t, e->b, sc, guard, &bt);
      if (!a || !b) return NULL;
      r = zx_binary(z, e->kind, a, b);
      *type = e->kind >= TK_CX_LT && e->kind <= TK_CX_NE ? TK_CT_INT32 : tk_ctype_common(at, bt);
      must_fit(z, guard, r, *type);
      return r;
  }
}

/* The Z3 term of a formula's text in scope sc; NULL with z->why set when it cannot be read. */
static Z3_ast zx_formula(zx *z, const char *text, const zscope *sc, tk_ctype *type) {
  tk_cexpr_tree t;
  z->text = text;
  tk_status s = tk_cexpr_parse(text, &t);
  if (s) {
    snprintf(z->why, sizeof z->why, "%s", tk_status_message(s));
    z->failed = true;
    if (tk_status_code_of(s) == TK_RESOURCE_EXHAUSTED) z->o->oom = true;
    tk_status_free(s);
    return NULL;
  }
  Z3_ast r = zx_term(z, &t, t.root, sc, NULL, type);
  tk_cexpr_tree_free(&t);
  return r;
}

/* ---- obligations ------------------------------------------------------------------------- */

static tk_status unreadable(int line, const char *fn, const char *kernel, const char *target,
                            const zx *z) {
  if (z->o->oom) return tk_status_make(TK_RESOURCE_EXHAUSTED, "host stub: out of memory");
  return tk_status_make(TK_PROOF_FAILED,
                        "host stub model_host.c:%d (%s): %s in kernel %s (%s), class host: "
                        "not proved: the formula cannot be checked",
                        line, fn, z->why, kernel, target);
}

static void ix_text(const tk_ix *e, char *buf, size_t n) {
  FILE *f = fmemopen(buf, n, "w");
  if (!f) {
    snprintf(buf, n, "?");
    return;
  }
  tk_ir_ix_print(e, f);
  fclose(f);
  buf[n - 1] = '\0';
}

/* The stub's Bp (tkm_forward's `int64_t Bp = ...`) as a term of B in the current obligation;
 * its own intermediates are proved in the tkm_forward obligation. */
static Z3_ast stub_bp(tk_obl *o, const tk_host_stub *stub, zx *z) {
  zbind b[] = {{"B", o->B, TK_CT_INT32}};
  zscope sc = {b, 1};
  tk_ctype t;
  zx inner = {.o = o, .stub = stub};
  Z3_ast r = zx_formula(&inner, stub->bp.text, &sc, &t);
  if (!r) {
    z->failed = true;
    snprintf(z->why, sizeof z->why, "Bp: %.200s", inner.why);
  }
  free(inner.fits);
  return r;
}

static void add_fits_part(zx *z, const char *what) {
  tk_vctx *v = z->o->v;
  tk_verify_obl_part(z->o, tk_verify_z_and(v, z->nfits, z->fits),
                     "every C intermediate of %s fits its type (no overflow)", what);
}

static tk_status prove_bp(tk_vctx *v, const tk_host_stub *stub) {
  if (!stub->bp.line || !stub->dispatch[0] || !stub->dispatch[1])
    return tk_status_make(TK_PROOF_FAILED,
                          "host stub model_host.c (tkm_forward): no `int64_t Bp = ...;` or no "
                          "dispatch to forward_gpu / forward_cpu with (l, B, Bp) in kernel "
                          "tkm_forward (graph), class host: not proved");
  tk_verify_obl_begin(v, TK_OBL_HOST, "tkm_forward", "graph",
                      "host stub model_host.c:%d (tkm_forward): Bp = `%s` equals the module's "
                      "Bp = max(%lld, %lld*ceil(B/%lld)) and fits the int32_t the kernels take; "
                      "every C intermediate fits its type",
                      stub->bp.line, stub->bp.text, (long long)v->bp_quantum,
                      (long long)v->bp_quantum, (long long)v->bp_quantum);
  tk_obl *o = tk_verify_obl_cur(v);
  zbind b[] = {{"B", o->B, TK_CT_INT32}};
  zscope sc = {b, 1};
  zx z = {.o = o, .stub = stub};
  tk_ctype t;
  Z3_ast bp = zx_formula(&z, stub->bp.text, &sc, &t);
  if (!bp) {
    free(z.fits);
    return unreadable(stub->bp.line, "tkm_forward", "tkm_forward", "graph", &z);
  }
  tk_verify_obl_show(o, "stub Bp", bp);
  tk_verify_obl_show(o, "module Bp", o->Bp);
  tk_verify_obl_part(o, Z3_mk_eq(v->z, bp, o->Bp),
                     "the stub's Bp `%s` at model_host.c:%d (tkm_forward%s) equals the module's Bp",
                     stub->bp.text, stub->bp.line, z.calls);
  tk_verify_obl_part(o, in_type(v, bp, TK_CT_INT32), "the stub's Bp fits int32_t");
  add_fits_part(&z, "Bp");
  free(z.fits);
  return tk_verify_obl_prove(v);
}

static tk_status prove_buffer(tk_vctx *v, const tk_host_stub *stub, const tk_ir_buffer *buf) {
  const tk_host_text *c = &stub->buffers[buf->id];
  if (!c->line)
    return tk_status_make(TK_PROOF_FAILED,
                          "host stub model_host.c (buffer_elems): no case for buffer %d (%s) in "
                          "kernel buffer_elems (graph), class host: not proved",
                          buf->id, buf->name);
  char ir[256];
  ix_text(buf->count, ir, sizeof ir);
  tk_verify_obl_begin(v, TK_OBL_HOST, "buffer_elems", "graph",
                      "host stub model_host.c:%d (buffer_elems, case %d = %s): `%s` equals the "
                      "IR count %s of buffer %s; every C intermediate fits its type",
                      c->line, buf->id, buf->name, c->text, ir, buf->name);
  tk_obl *o = tk_verify_obl_cur(v);
  zx z = {.o = o, .stub = stub};
  zbind b[] = {{"B", o->B, TK_CT_INT64}, {"Bp", stub_bp(o, stub, &z), TK_CT_INT64}};
  zscope sc = {b, 2};
  tk_ctype t;
  Z3_ast count = b[1].term ? zx_formula(&z, c->text, &sc, &t) : NULL;
  if (!count) {
    free(z.fits);
    return unreadable(c->line, "buffer_elems", "buffer_elems", "graph", &z);
  }
  tk_verify_obl_show(o, "stub count", count);
  tk_verify_obl_show(o, "IR count", tk_verify_obl_ix(o, buf->count, 0));
  tk_verify_obl_part(o, Z3_mk_eq(v->z, count, tk_verify_obl_ix(o, buf->count, 0)),
                     "buffer_elems case %d (%s) `%s` at model_host.c:%d%s equals the IR count %s",
                     buf->id, buf->name, c->text, c->line, z.calls, ir);
  add_fits_part(&z, "the count");
  free(z.fits);
  return tk_verify_obl_prove(v);
}

/* A panel switch's value for one buffer: its case's formula, or the switch's default 0
 * (host_scan.c checked that the default is 0). */
static Z3_ast panel_value(zx *z, const tk_host_text *c) {
  if (!c->line) return tk_verify_z_int(z->o->v, 0);
  zscope sc = {NULL, 0};
  tk_ctype t;
  return zx_formula(z, c->text, &sc, &t);
}

/* The cpu weight panels: the stub's row length and width of buffer `buf` (what the runtime
 * packs by) equal the IR's (what the kernels read by, class layout). A buffer that neither
 * packs has nothing to prove: no case is 0 on both sides. */
static tk_status prove_panel(tk_vctx *v, const tk_host_stub *stub, const tk_ir_buffer *buf) {
  const tk_host_text *cols = &stub->panel_cols[buf->id], *width = &stub->panel_width[buf->id];
  if (!buf->panel_width && !cols->line && !width->line) return TK_STATUS_OK;
  int line = cols->line ? cols->line : width->line;
  tk_verify_obl_begin(v, TK_OBL_HOST, "buffer_panel", "graph",
                      "host stub model_host.c:%d (buffer_panel_cols / buffer_panel_width, case "
                      "%d = %s): row length `%s` and panel width `%s` equal the IR's %lld and "
                      "%lld; every C intermediate fits its type",
                      line, buf->id, buf->name, cols->line ? cols->text : "0",
                      width->line ? width->text : "0", (long long)buf->panel_cols,
                      (long long)buf->panel_width);
  tk_obl *o = tk_verify_obl_cur(v);
  zx z = {.o = o, .stub = stub};
  Z3_ast c = panel_value(&z, cols);
  Z3_ast w = c ? panel_value(&z, width) : NULL;
  if (!c || !w) {
    free(z.fits);
    return unreadable(line, "buffer_panel", "buffer_panel", "graph", &z);
  }
  tk_verify_obl_show(o, "stub row length", c);
  tk_verify_obl_part(o, Z3_mk_eq(v->z, c, tk_verify_z_int(v, buf->panel_cols)),
                     "buffer_panel_cols case %d (%s) at model_host.c:%d equals the IR's row "
                     "length %lld",
                     buf->id, buf->name, cols->line, (long long)buf->panel_cols);
  tk_verify_obl_show(o, "stub panel width", w);
  tk_verify_obl_part(o, Z3_mk_eq(v->z, w, tk_verify_z_int(v, buf->panel_width)),
                     "buffer_panel_width case %d (%s) at model_host.c:%d equals the IR's panel "
                     "width %lld",
                     buf->id, buf->name, width->line, (long long)buf->panel_width);
  add_fits_part(&z, "the panel table");
  free(z.fits);
  return tk_verify_obl_prove(v);
}

/* The stored layout of a packed weight: the stub's buffer_panel_out_in for `buf` (what the
 * runtime reads the checkpoint by) equals the IR's panel_out_in (what class layout proved the
 * kernels read). Neither side saying out_in is 0 = 0: nothing to prove. */
static tk_status prove_panel_out_in(tk_vctx *v, const tk_host_stub *stub, const tk_ir_buffer *buf) {
  const tk_host_text *c = &stub->panel_out_in[buf->id];
  int64_t ir = buf->panel_width && buf->panel_out_in;
  if (!ir && !c->line) return TK_STATUS_OK;
  int line = c->line ? c->line : stub->panel_cols[buf->id].line;
  tk_verify_obl_begin(v, TK_OBL_HOST, "buffer_panel", "graph",
                      "host stub model_host.c:%d (buffer_panel_out_in, case %d = %s): `%s` equals "
                      "the IR's %lld (1: the checkpoint stores the weight [N, K])",
                      line, buf->id, buf->name, c->line ? c->text : "0", (long long)ir);
  tk_obl *o = tk_verify_obl_cur(v);
  zx z = {.o = o, .stub = stub};
  Z3_ast value = panel_value(&z, c);
  if (!value) {
    free(z.fits);
    return unreadable(line, "buffer_panel", "buffer_panel", "graph", &z);
  }
  tk_verify_obl_show(o, "stub out_in", value);
  tk_verify_obl_part(o, Z3_mk_eq(v->z, value, tk_verify_z_int(v, ir)),
                     "buffer_panel_out_in case %d (%s) at model_host.c:%d equals the IR's %lld",
                     buf->id, buf->name, line, (long long)ir);
  add_fits_part(&z, "the panel table");
  free(z.fits);
  return tk_verify_obl_prove(v);
}

/* Launch i of schedule t against IR kernel k: index, name and table first (structure). */
static tk_status launch_structure(const tk_host_stub *stub, const tk_host_launch *l,
                                  const tk_ir_kernel *k, const tk_host_table **table) {
  const char *t = tk_verify_obl_target_name(k);
  if (l->kernel != k->id || strcmp(l->name, k->name))
    return tk_status_make(TK_PROOF_FAILED,
                          "host stub model_host.c:%d (%s): launch %ld \"%s\" where the %s schedule "
                          "has kernel %d %s, in kernel %s (%s), class host: not proved",
                          l->line, l->fn, l->kernel, l->name, t, k->id, k->name, k->name, t);
  *table = tk_host_stub_table(stub, l->table);
  if (!*table || (*table)->declared != (*table)->n || (*table)->n != l->nargs ||
      l->nargs != k->nargs)
    return tk_status_make(TK_PROOF_FAILED,
                          "host stub model_host.c:%d (%s): launch of %s passes table %s with %ld "
                          "arguments (%d listed) where the IR kernel has %d, in kernel %s (%s), "
                          "class host: not proved",
                          l->line, l->fn, k->name, l->table, l->nargs, *table ? (*table)->n : -1,
                          k->nargs, k->name, t);
  return TK_STATUS_OK;
}

static void args_parts(tk_obl *o, const tk_host_table *table, const tk_ir_kernel *k) {
  tk_vctx *v = o->v;
  for (int i = 0; i < k->nargs; i++) {
    Z3_ast got = tk_verify_z_int(v, table->ids[i]), want = tk_verify_z_int(v, k->args[i].buffer);
    tk_verify_obl_show(o, "stub buffer", got);
    tk_verify_obl_show(o, "IR buffer", want);
    tk_verify_obl_part(o, Z3_mk_eq(v->z, got, want),
                       "argument %d (%s) of the launch is the IR kernel's buffer (table %s at "
                       "model_host.c:%d)",
                       i, k->args[i].name, table->name, table->line);
  }
}

static tk_status prove_launch(tk_vctx *v, const tk_host_stub *stub, const tk_host_launch *l,
                              const tk_ir_kernel *k) {
  const tk_host_table *table = NULL;
  TK_RETURN_IF_ERROR(launch_structure(stub, l, k, &table));
  const char *t = tk_verify_obl_target_name(k);
  int64_t wg = k->target == TK_TARGET_GPU ? k->launch.workgroup_size : 1;
  char ir[256];
  ix_text(k->launch.grid, ir, sizeof ir);
  tk_verify_obl_begin(v, TK_OBL_HOST, k->name, t,
                      "host stub model_host.c:%d (%s): the launch of %s has grid `%s` = IR "
                      "launch.grid %s, workgroup size `%s` = %lld, and the argument buffers of "
                      "the IR kernel; every C intermediate fits its type",
                      l->line, l->fn, k->name, l->grid, ir, l->wg, (long long)wg);
  tk_obl *o = tk_verify_obl_cur(v);
  zx z = {.o = o, .stub = stub};
  zbind b[] = {{"B", o->B, TK_CT_INT64}, {"Bp", stub_bp(o, stub, &z), TK_CT_INT64}};
  zscope sc = {b, 2};
  tk_ctype gt, wt;
  Z3_ast grid = b[1].term ? zx_formula(&z, l->grid, &sc, &gt) : NULL;
  Z3_ast size = grid ? zx_formula(&z, l->wg, &sc, &wt) : NULL;
  if (!grid || !size) {
    free(z.fits);
    return unreadable(l->line, l->fn, k->name, t, &z);
  }
  Z3_ast ir_grid = tk_verify_obl_ix(o, k->launch.grid, 0);
  tk_verify_obl_show(o, "stub grid", grid);
  tk_verify_obl_show(o, "IR grid", ir_grid);
  tk_verify_obl_part(o, Z3_mk_eq(v->z, grid, ir_grid),
                     "the grid `%s` at model_host.c:%d (%s%s) equals the IR launch.grid %s",
                     l->grid, l->line, l->fn, z.calls, ir);
  tk_verify_obl_show(o, "stub workgroup size", size);
  tk_verify_obl_part(o, Z3_mk_eq(v->z, size, tk_verify_z_int(v, wg)),
                     "the workgroup size `%s` at model_host.c:%d (%s) equals %lld", l->wg, l->line,
                     l->fn, (long long)wg);
  args_parts(o, table, k);
  add_fits_part(&z, "the grid and the workgroup size");
  free(z.fits);
  return tk_verify_obl_prove(v);
}

/* Every kernel of schedule t is launched, in list order, by forward_<t> and nowhere else. */
static tk_status prove_schedule(tk_vctx *v, const tk_host_stub *stub, tk_ir_target target) {
  const tk_ir_kernel_list *list = tk_ir_module_kernels(v->m, target);
  char fn[32];
  snprintf(fn, sizeof fn, "forward_%s", tk_ir_target_name(target));
  int next = 0;
  for (int i = 0; i < stub->nlaunches; i++) {
    const tk_host_launch *l = &stub->launches[i];
    if (strcmp(l->fn, fn)) continue;
    if (next == list->n)
      return tk_status_make(TK_PROOF_FAILED,
                            "host stub model_host.c:%d (%s): launch %ld \"%s\" beyond the %d "
                            "kernels of the %s schedule, in kernel %s (%s), class host: not proved",
                            l->line, fn, l->kernel, l->name, list->n, tk_ir_target_name(target),
                            l->name, tk_ir_target_name(target));
    TK_RETURN_IF_ERROR(prove_launch(v, stub, l, list->items[next++]));
  }
  if (next < list->n)
    return tk_status_make(TK_PROOF_FAILED,
                          "host stub model_host.c (%s): IR kernel %d %s is never launched, in "
                          "kernel %s (%s), class host: not proved",
                          fn, next, list->items[next]->name, list->items[next]->name,
                          tk_ir_target_name(target));
  return TK_STATUS_OK;
}

static tk_status host_gen(tk_vctx *v, const void *user) {
  const tk_host_stub *stub = user;
  TK_RETURN_IF_ERROR(prove_bp(v, stub));
  for (int i = 0; i < v->m->nbuffers; i++) {
    TK_RETURN_IF_ERROR(prove_buffer(v, stub, &v->m->buffers[i]));
    TK_RETURN_IF_ERROR(prove_panel(v, stub, &v->m->buffers[i]));
    TK_RETURN_IF_ERROR(prove_panel_out_in(v, stub, &v->m->buffers[i]));
  }
  TK_RETURN_IF_ERROR(prove_schedule(v, stub, TK_TARGET_GPU));
  return prove_schedule(v, stub, TK_TARGET_CPU);
}

tk_status tk_verify_host_stub(const tk_ir_module *m, const char *stub_c, const tk_verify_options *o,
                              tk_verify_report *into) {
  if (m->stage < TK_STAGE_CPU)
    return tk_status_make(TK_INVALID_ARGUMENT, "host stub check: the module must be scheduled");
  tk_host_stub stub;
  TK_RETURN_IF_ERROR(tk_host_stub_scan(stub_c, m->nbuffers, &stub));
  tk_status s = tk_verify_run_into(m, o, into, host_gen, &stub);
  tk_host_stub_free(&stub);
  return s;
}
