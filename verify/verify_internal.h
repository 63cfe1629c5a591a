/* verify/verify_internal.h — private to verify/: the verifier context, the obligation builder,
 * the statement-tree walker and the per-class generators. Sectioned by defining file.
 *
 * An obligation is built in one reused tk_obl: declarations (B, Bp, loop variables, fresh
 * constants), hypotheses, one goal and a few terms to show in a counterexample. tk_verify_obl_prove
 * prints it as SMT-LIB2 (when kept), asserts hypotheses and the negated goal in the shared
 * solver (one push/pop scope) or a solver of its own (solve.c's rounds of tries), and records
 * the result.
 *
 * Term order: every call that builds a Z3 term or declares a constant is a statement of its
 * own, or the only such call among the arguments of another (C leaves the order of a call's
 * arguments unspecified, and the declaration order, Z3's term ids and with them the solver's
 * rlimit all follow the order of creation: gcc and clang built different proofs). Where the
 * right operand is built first, that is the order the committed proofs/ were made in (gcc
 * evaluates arguments right to left); scripts/check-compilers.sh compares the two compilers.
 */
#ifndef TK_VERIFY_INTERNAL_H
#define TK_VERIFY_INTERNAL_H

#include <stddef.h>
#include <stdint.h>
#include <z3.h>

#include "verify/cexpr.h"
#include "verify/verify.h"

typedef enum tk_obl_class {
  TK_OBL_SHAPE,
  TK_OBL_PADDING,
  TK_OBL_BOUNDS,
  TK_OBL_NO_OVERFLOW,
  TK_OBL_RACE,
  TK_OBL_TOPK,
  TK_OBL_DATAFLOW,
  TK_OBL_LAYOUT,   /* the CPU weight panels: a bijection, read at the packed place */
  TK_OBL_DISPATCH, /* sparse dispatch: the counting sort's loop invariant (obl_dispatch.c) */
  TK_OBL_ADDRESS,  /* translation validation (tv.h): LLVM addresses = IR index maps */
  TK_OBL_CONTROL,  /* translation validation: LLVM loop bounds, guards, ids = the IR's */
  TK_OBL_HOST,
  TK_OBL_NCLASSES
} tk_obl_class;
const char *tk_verify_obl_class_name(tk_obl_class c); /* "shape", ..., "host" (index.json values) */

#define TK_OBL_MAX_DEPTH 48   /* enclosing FOR/IF statements of one statement */
#define TK_OBL_STATEMENT 2048 /* bytes of an obligation's statement (words) */

/* ---- smt.c: the obligation builder ------------------------------------------------------- */

typedef struct tk_obl_decl {
  Z3_ast c;       /* the constant (or NULL for a function) */
  Z3_func_decl f; /* uninterpreted function (c == NULL) */
  char name[64];
  bool show; /* printed in a counterexample (B, Bp, loop variables) */
} tk_obl_decl;

typedef struct tk_obl_term {
  char label[64];
  Z3_ast term;
} tk_obl_term;

/* The home slot of pointer p in an open-addressing table of `mask` + 1 slots (a power of two):
 * a multiplicative hash whose high bits are folded down, so that the slot depends on every
 * bit of the pointer. */
static inline size_t tk_verify_ptr_slot(const void *p, size_t mask) {
  uint64_t h = (uint64_t)(uintptr_t)p * 0x9E3779B97F4A7C15ull;
  return (size_t)(h ^ (h >> 32)) & mask;
}

typedef struct tk_obl_divmod {
  Z3_ast x;
  int64_t c;
  Z3_ast q, r; /* x = c*q + r, 0 <= r < c */
} tk_obl_divmod;

/* One conjunct of a grouped goal, with the shown terms that belong to it. */
typedef struct tk_obl_conj {
  Z3_ast cond;
  char what[256];
  int show_begin, show_end;
} tk_obl_conj;

/* The contents of an i32 argument an index reads (TK_IX_LOAD): an uninterpreted function
 * from the element's index to its value, the same in both copies of a two-copy query (a
 * kernel never writes an argument its indices read: tk_ir_verify). */
typedef struct tk_obl_load_fn {
  int key;    /* tk_verify_obl_data_key of the argument */
  bool ghost; /* the ghost list of the dispatch whose slot has this key */
  Z3_func_decl f;
} tk_obl_load_fn;

typedef struct tk_vctx tk_vctx;

typedef struct tk_obl {
  tk_vctx *v;
  tk_obl_class cls;
  const char *kernel, *target;
  bool arrays; /* logic QF_AUFLIRA (topk) instead of QF_LIA */
  char statement[TK_OBL_STATEMENT];
  int ndecls, cap_decls;
  tk_obl_decl *decls;
  int nhyps, cap_hyps;
  Z3_ast *hyps;
  int nbase; /* hyps[0, nbase): the batch rules, the same in every obligation */
  int ndefs, cap_defs;
  int *defs; /* indices (>= nbase) of the hyps that define fresh quotients/remainders */
  Z3_ast goal;
  int nshows, cap_shows;
  tk_obl_term *shows;
  int nparts, cap_parts;
  tk_obl_conj *parts; /* the goal is their conjunction when there are any */
  Z3_ast B, Bp;
  Z3_ast *vars[2]; /* per copy, indexed by tk_ir_var.id (NULL = not declared yet) */
  int ndivs, cap_divs;
  tk_obl_divmod *divs; /* quotient/remainder constants introduced so far */
  int ntouched, cap_touched;
  int *touched; /* var ids set in vars[*] (reset by tk_verify_obl_begin) */
  int nloads, cap_loads;
  tk_obl_load_fn *loads;         /* the data functions of the arguments index loads read (and the
                            ghost lists of required dispatches) */
  const tk_ir_kernel *ix_kernel; /* the kernel whose arguments the indices evaluated now name,
                                    when not v->kernel (dataflow: a producer's contract) */
  int nfacts, cap_facts;
  Z3_ast *facts;    /* the data terms whose required facts are asserted already */
  bool ufs;         /* an index reads data: logic QF_UFLIA (unless arrays) */
  bool whole_first; /* checked first by a solver of its own (solve.c, round_tries) */
  bool oom;
} tk_obl;

/* Starts a new obligation: declares B and Bp and asserts 1 <= B <= Bmax and the module's Bp
 * definition (tk_verify_obl_bp_def). The statement is printf-formatted words. */
void tk_verify_obl_begin(tk_vctx *v, tk_obl_class cls, const char *kernel, const char *target,
                         const char *fmt, ...) __attribute__((format(printf, 5, 6)));
/* The obligation being built (valid between tk_verify_obl_begin and tk_verify_obl_prove). */
tk_obl *tk_verify_obl_cur(tk_vctx *v);
/* The Int constant of loop variable var in copy 0 or 1 (declared on first use). */
Z3_ast tk_verify_obl_var(tk_obl *o, const tk_ir_var *var, int copy);
/* Makes var (in copy `copy`) stand for `term` instead of a constant, until unbound. */
void tk_verify_obl_bind(tk_obl *o, const tk_ir_var *var, int copy, Z3_ast term);
void tk_verify_obl_unbind(tk_obl *o, const tk_ir_var *var, int copy);
/* tk_ix → Int term (MIN/MAX as ite, DIV/MOD by a positive constant as div/mod, LOAD as the
 * argument's data function applied to the index, with the element's i32 range a hypothesis). */
Z3_ast tk_verify_obl_ix(tk_obl *o, const tk_ix *e, int copy);
/* The element at `index` of i32 argument `arg` (named `name`) of the kernel whose indices are
 * evaluated (o->ix_kernel, else v->kernel): its data function applied to index, with the
 * hypothesis that the element is an i32. One function per buffer and obligation (per argument
 * before buffer planning), so the IR's index read and the LLVM load it became are the same
 * term when their indices are equal, and so are two launches' reads of one buffer (the
 * dataflow class proves no launch between their producer and them stores into it). */
Z3_ast tk_verify_obl_data(tk_obl *o, int arg, const char *name, Z3_ast index);
/* The key of argument arg's data function: its buffer, or (unplanned) -1 - arg. */
int tk_verify_obl_data_key(const tk_obl *o, int arg);
/* The kernel whose argument numbers the indices being evaluated use. */
const tk_ir_kernel *tk_verify_obl_ix_kernel(const tk_obl *o);
/* For the current kernel's `requires dispatch(slot, keep, count, n)` contracts, asserts what
 * the dispatch class proved of the data term x = arg[index] (obl_dispatch.c), once per term:
 * keep is 0 or 1; 0 <= count[e] <= B; keep[x] = 1 ⇒ 0 <= slot[x] < count[x mod n] and
 * L(slot[x], x mod n) = x div n, with L the ghost list (a fresh function per obligation). */
void tk_verify_obl_dispatch_facts(tk_obl *o, int arg, Z3_ast index, Z3_ast x);
/* True for a counting-sort kernel (`ensures dispatch`): its race freedom and coverage are the
 * dispatch class's (one serial point per expert; the race class's inverse maps do not apply). */
bool tk_verify_obl_dispatch_kernel(const tk_ir_kernel *k);
/* The row L(i, e) the dispatch whose slot is argument `slot` of the current kernel listed at
 * position i of expert e, with the dispatch class's exit fact for it asserted: 0 <= i <
 * count[e] ⇒ 0 <= L(i, e) < B, keep[L(i, e) * E + e] = 1 and slot[L(i, e) * E + e] = i (every
 * listed position holds a kept row: the counting sort is onto [0, count[e])). NULL if the
 * kernel has no `requires dispatch` naming that slot with its keep and count. */
Z3_ast tk_verify_obl_dispatch_listed(tk_obl *o, int slot, Z3_ast i, int64_t e);
/* x div c or x mod c (c > 0) as a fresh quotient q / remainder r with the hypotheses
 * x = c*q + r and 0 <= r < c (one pair per distinct x and c): the exact semantics of SMT-LIB's
 * div/mod for a positive divisor, in a form linear solvers handle without case splits. The
 * addends of x that are multiples of c are taken out first ((k*c*y + b) div c = k*y + b div c,
 * (k*c*y + b) mod c = b mod c), so only the rest gets a fresh pair. */
Z3_ast tk_verify_obl_div(tk_obl *o, Z3_ast x, int64_t c, bool mod);
/* A fresh constant of sort s, named `name` (made unique), optionally shown in counterexamples. */
Z3_ast tk_verify_obl_fresh(tk_obl *o, const char *name, Z3_sort s, bool show);
/* A fresh uninterpreted function. */
Z3_func_decl tk_verify_obl_fresh_fn(tk_obl *o, const char *name, unsigned n, const Z3_sort *dom,
                                    Z3_sort range);
/* A path hypothesis: what the obligation assumes about its context (loop ranges, guards, a
 * tensor's declared shape, ...). */
void tk_verify_obl_hyp(tk_obl *o, Z3_ast h);
/* A definition: a hypothesis that only pins down a fresh constant (the quotient/remainder of
 * tk_verify_obl_div), kept when an obligation is checked without its path hypotheses. */
void tk_verify_obl_def(tk_obl *o, Z3_ast h);
void tk_verify_obl_goal(tk_obl *o, Z3_ast g);
void tk_verify_obl_show(tk_obl *o, const char *label, Z3_ast term);
/* Adds a conjunct to the goal; the terms shown since the previous part belong to it (a
 * counterexample reports the first part that is false, with its terms). */
void tk_verify_obl_part(tk_obl *o, Z3_ast cond, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
/* Appends words to the statement. */
void tk_verify_obl_say(tk_obl *o, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* SMT-LIB2 text of the obligation (caller frees); NULL on allocation failure. The obligation
 * is unchanged; its context (o->v) keeps the text of each term printed (tk_vctx texts). */
char *tk_verify_obl_text(const tk_obl *o);

/* Term helpers over the context's Z3 context. */
Z3_ast tk_verify_z_int(tk_vctx *v, int64_t x);
Z3_ast tk_verify_z_and(tk_vctx *v, int n, const Z3_ast *xs);
Z3_ast tk_verify_z_or(tk_vctx *v, int n, const Z3_ast *xs);
Z3_ast tk_verify_z_and2(tk_vctx *v, Z3_ast a, Z3_ast b);
Z3_ast tk_verify_z_or2(tk_vctx *v, Z3_ast a, Z3_ast b);
Z3_ast tk_verify_z_add2(tk_vctx *v, Z3_ast a, Z3_ast b);
Z3_ast tk_verify_z_sub2(tk_vctx *v, Z3_ast a, Z3_ast b);
Z3_ast tk_verify_z_mul_c(tk_vctx *v, Z3_ast a, int64_t c);
/* lo <= x < hi */
Z3_ast tk_verify_z_in(tk_vctx *v, Z3_ast lo, Z3_ast x, Z3_ast hi);
Z3_ast tk_verify_z_within(tk_vctx *v, int64_t lo, Z3_ast x, int64_t hi); /* lo <= x <= hi */
Z3_ast tk_verify_z_cmp(tk_vctx *v, tk_ir_cmp cmp, Z3_ast a, Z3_ast b);

/* ---- solve.c: the context, one solver, discharge ------------------------------------------ */

struct tk_vctx {
  const tk_ir_module *m;
  tk_verify_options opts;
  Z3_context z;
  Z3_solver s;
  Z3_sort int_sort, real_sort, bool_sort;
  int64_t bmax;       /* from the module's b_range contract */
  int64_t bp_quantum; /* from the module's bp_padded contract (docs/formats.md §3: 16) */
  tk_verify_report *report;
  tk_obl obl;
  FILE *emit;                 /* emit-only mode: print every obligation here */
  const tk_ir_kernel *kernel; /* the kernel whose obligations are being generated, or NULL */
  bool base_asserted;         /* the batch rules are asserted once, below every push */
  /* Queries already proved unsat, with the rlimit units their check used. Z3 hash-conses
   * terms, so an identical query (the same hypotheses and goal: e.g. the hidden layers of
   * every expert) is the same Z3_ast and is not solved again. */
  struct tk_proved_query {
    Z3_ast query;
    uint64_t used;
    bool needs_hyps; /* the negated goal is not unsat without the path hypotheses (sat, or
                      * out of budget) */
  } *proved;
  size_t nproved, cap_proved;
  /* The SMT-LIB2 text of every term printed so far (smt.c, tk_verify_obl_text): Z3's printer
   * costs about a microsecond per byte, and most hypotheses recur in many obligations. */
  struct tk_term_text {
    Z3_ast term;
    char *text;
  } *texts;
  size_t ntexts, cap_texts;
};

TK_MUST_USE tk_status tk_verify_ctx_init(tk_vctx *v, const tk_ir_module *m,
                                         const tk_verify_options *o);
void tk_verify_ctx_dispose(tk_vctx *v);
/* Proves the current obligation (or only prints it in emit mode) and records it in the
 * report. TK_PROOF_FAILED with the counterexample when refuted or unknown. A proved one is
 * checked once more without its path hypotheses (docs/proofs.md "Obligations that carry
 * weight"): only the batch rules and the quotient/remainder definitions stay; unsat there
 * records it as holding without path hypotheses. */
TK_MUST_USE tk_status tk_verify_obl_prove(tk_vctx *v);
/* A Z3 error since the last call, as TK_INTERNAL, else OK. */
TK_MUST_USE tk_status tk_verify_ctx_z3_status(tk_vctx *v, const char *what);

/* ---- cache.c: proofs shared across contexts (verify.h tk_verify_cache) ------------------- */

/* The proof of the query named hash, or false if the cache holds none. */
bool tk_verify_cache_find(tk_verify_cache *c, const char hash[65], uint64_t *used,
                          bool *needs_hyps);
TK_MUST_USE tk_status tk_verify_cache_add(tk_verify_cache *c, const char hash[65], uint64_t used,
                                          bool needs_hyps);

/* ---- cex.c: counterexamples in model terms ------------------------------------------------- */

/* The message for a refuted obligation, from the solver's current model (caller frees). */
char *tk_verify_cex_message(tk_vctx *v, Z3_model model);

/* ---- report.c: entries, index.json, summary ------------------------------------------------ */

/* Appends an entry for the current obligation (text may be NULL; ownership passes);
 * needs_hyps: it was not proved without its path hypotheses (true when nothing was solved). */
TK_MUST_USE tk_status tk_verify_report_add(tk_verify_report *r, const tk_obl *o, uint64_t rlimit,
                                           bool needs_hyps, char *text, double seconds);
/* The name of a query file: text loses its ';' comment lines (in place), out gets the sha256
 * of what is left. */
TK_MUST_USE tk_status tk_verify_query_hash(char *text, char out[65]);
/* n of <kernel>.<target>.<class>.<n>: the number of entries with the same triple so far. */
int tk_verify_report_next_index(const tk_verify_report *r, const char *kernel, const char *target,
                                tk_obl_class cls);
TK_MUST_USE tk_status tk_verify_report_create(tk_verify_report **out);
/* Moves every entry of `from` to the end of `into` (file indices renumbered there, so two
 * runs that both made <kernel>.<target>.<class>.0 do not collide); `from` is left empty. */
TK_MUST_USE tk_status tk_verify_report_merge(tk_verify_report *into, tk_verify_report *from);

/* ---- obligations.c: statement-tree walk with path conditions ------------------------------ */

/* The FOR and IF statements enclosing a point of the tree, outermost first. */
typedef struct tk_obl_path {
  int n;
  const tk_ir_stmt *items[TK_OBL_MAX_DEPTH];
} tk_obl_path;

typedef enum tk_site_kind {
  TK_SITE_LOAD, /* a value LOAD, or an index read (TK_IX_LOAD: val NULL, ix its index) */
  TK_SITE_STORE,
  TK_SITE_LLOAD,
  TK_SITE_LSTORE,
  TK_SITE_INDEX,
  TK_SITE_FOR,
  TK_SITE_IF,
  TK_SITE_BARRIER /* a workgroup barrier (no index) */
} tk_site_kind;

/* A place that carries index expressions: an access, a loop extent or a guard. */
typedef struct tk_obl_site {
  tk_site_kind kind;
  const tk_ir_stmt *stmt;  /* the statement (for loads: the statement whose value reads) */
  const tk_ir_val *val;    /* LOAD / LLOAD / INDEX (an index converted to an i32 value) */
  const tk_ix *ix;         /* accesses: the index; FOR: the extent; IF: lhs */
  const tk_ix *ix2;        /* IF: rhs */
  int arg, local;          /* accesses */
  const tk_obl_path *path; /* enclosing FOR/IF (a FOR site's path excludes itself) */
} tk_obl_site;

typedef tk_status (*tk_obl_site_fn)(tk_vctx *v, const tk_ir_kernel *k, const tk_obl_site *site,
                                    void *user);
/* All sites of a kernel, each with its own copy of its path (site.path points into paths). */
typedef struct tk_obl_sites {
  int n, cap;
  tk_obl_site *items;
  tk_obl_path *paths;
} tk_obl_sites;
TK_MUST_USE tk_status tk_verify_obl_collect(tk_vctx *v, const tk_ir_kernel *k, tk_obl_sites *out);
void tk_verify_obl_sites_free(tk_obl_sites *s);
bool tk_verify_obl_same_path(const tk_obl_path *a, const tk_obl_path *b);
/* Groups the sites `want` selects by path (first occurrence order) and calls fn per group:
 * one obligation per loop nest instead of one per site. */
typedef bool (*tk_obl_site_pred)(const tk_ir_kernel *k, const tk_obl_site *s);
typedef tk_status (*tk_obl_group_fn)(tk_vctx *v, const tk_ir_kernel *k,
                                     const tk_obl_site *const *group, int n);
TK_MUST_USE tk_status tk_verify_obl_groups(tk_vctx *v, const tk_ir_kernel *k, tk_obl_site_pred want,
                                           tk_obl_group_fn fn);
/* Binds, in copy 1, the variables of a scheduled access's fused index e (its origin's) to
 * their values at the scheduled point in copy 0: the statement's substitution `sub` for the
 * source phase's space variables, the copy-0 variable itself for loops copied from the
 * source. tk_verify_obl_ix(o, e, 1) is then the element the fused kernel touches there. */
void tk_verify_obl_bind_source(tk_obl *o, const tk_ir_subst *sub, const tk_ix *e);
void tk_verify_obl_unbind_source(tk_obl *o, const tk_ix *e);
/* "wg, t, k" — the loop variables of a path (guards as "if"). */
void tk_verify_obl_path_text(const tk_obl_path *p, char *buf, size_t n);

/* Calls fn for every site of k->body, in program order; loads of one statement are visited
 * once per distinct (arg or local, index). Stops at the first error. */
TK_MUST_USE tk_status tk_verify_obl_walk(tk_vctx *v, const tk_ir_kernel *k, tk_obl_site_fn fn,
                                         void *user);
/* Asserts the path's conditions for copy `copy`: 0 <= var < extent for each FOR, the guard
 * for each IF. A bound loop ranges over what the launch provides, not over its own extent:
 * workgroup and block ids over [0, launch.grid), thread ids over [0, workgroup_size) of the
 * current kernel (the race class proves the two agree). */
void tk_verify_obl_path_hyps(tk_obl *o, const tk_obl_path *path, int copy);
/* The same conditions as one term, with the bound loops ranging over launch k's record (for
 * obligations that relate points of two launches). */
Z3_ast tk_verify_obl_path_cond(tk_obl *o, const tk_ir_kernel *k, const tk_obl_path *path, int copy);
/* The conditions of the statements items[0, n) of the current kernel (v->kernel), as one
 * conjunction. */
Z3_ast tk_verify_obl_items_cond(tk_obl *o, const tk_ir_stmt *const *items, int n, int copy);
/* True if the FOR statement is part of the launch's parallel space (bound, parallel,
 * unroll or vector). */
bool tk_verify_obl_loop_parallel(const tk_ir_stmt *s);
bool tk_verify_obl_loop_bound(const tk_ir_stmt *s);
/* "load %x" / "store %h_0" / "local acc" — what a site touches, for statements. */
void tk_verify_obl_site_what(const tk_ir_kernel *k, const tk_obl_site *site, char *buf, size_t n);
/* Bp as the module defines it: max(Q, Q * ((B + Q - 1) div Q)), Q = bp_quantum. */
Z3_ast tk_verify_obl_bp_def(tk_obl *o, Z3_ast B);
/* The SMT-LIB2 name of the kernel's target: "gpu" or "cpu". */
const char *tk_verify_obl_target_name(const tk_ir_kernel *k);

/* Runs gen in a fresh context over m (the batch rules of m) and appends its obligations to
 * `into` (NULL: they are dropped once proved): the classes proved after the verify pass (host: the stub, the kernel ABI). */
typedef tk_status (*tk_verify_gen_fn)(tk_vctx *v, const void *user);
TK_MUST_USE tk_status tk_verify_run_into(const tk_ir_module *m, const tk_verify_options *o,
                                         tk_verify_report *into, tk_verify_gen_fn gen,
                                         const void *user);

/* ---- host_scan.c: the host stub's text read back ------------------------------------------ */

enum { TK_HOST_TEXT = 512, TK_HOST_LINE = 65536, TK_HOST_MAX_ARGS = 512 };

typedef struct tk_host_text {
  int line; /* 1-based line in model_host.c; 0 = not found */
  char text[TK_HOST_TEXT];
} tk_host_text;

typedef struct tk_host_table { /* static const int32_t NAME[declared] = {ids...}; */
  char name[TK_CEXPR_NAME];
  int line, declared, n;
  int ids[TK_HOST_MAX_ARGS];
} tk_host_table;

typedef struct tk_host_launch { /* launch(l, kernel, "name", table, nargs, B, Bp, grid, wg) */
  int line;
  char fn[TK_CEXPR_NAME]; /* forward_gpu / forward_cpu */
  long kernel, nargs;
  char name[TK_CEXPR_NAME * 2], table[TK_CEXPR_NAME];
  char grid[TK_HOST_TEXT], wg[TK_HOST_TEXT];
} tk_host_launch;

typedef struct tk_host_stub {
  tk_cexpr_fn *fns; /* one-line int functions: what formulas may call */
  int nfns, cap_fns;
  int nbuffers;
  tk_host_text *buffers;                  /* buffer_elems case per buffer id */
  tk_host_text *panel_cols, *panel_width; /* buffer_panel_cols / _width cases per buffer id */
  tk_host_text *panel_out_in;             /* buffer_panel_out_in cases per buffer id */
  tk_host_table *tables;
  int ntables, cap_tables;
  tk_host_launch *launches; /* in text order */
  int nlaunches, cap_launches;
  tk_host_text bp; /* int64_t Bp = ...; in tkm_forward */
  int dispatch[2]; /* lines of `return forward_gpu(l, B, Bp);` and the cpu one (0 = none) */
} tk_host_stub;

TK_MUST_USE tk_status tk_host_stub_scan(const char *stub_c, int nbuffers, tk_host_stub *out);
void tk_host_stub_free(tk_host_stub *s);
const tk_host_table *tk_host_stub_table(const tk_host_stub *s, const char *name);

/* ---- the classes (obl_<class>.c) ----------------------------------------------------------- */

TK_MUST_USE tk_status tk_verify_obl_shape(tk_vctx *v);
TK_MUST_USE tk_status tk_verify_obl_padding_module(tk_vctx *v);
TK_MUST_USE tk_status tk_verify_obl_padding_kernel(tk_vctx *v, const tk_ir_kernel *k);
TK_MUST_USE tk_status tk_verify_obl_bounds(tk_vctx *v, const tk_ir_kernel *k);
TK_MUST_USE tk_status tk_verify_obl_overflow(tk_vctx *v, const tk_ir_kernel *k);
TK_MUST_USE tk_status tk_verify_obl_race(tk_vctx *v, const tk_ir_kernel *k);
TK_MUST_USE tk_status tk_verify_obl_coverage(tk_vctx *v, const tk_ir_kernel *k);
TK_MUST_USE tk_status tk_verify_obl_launch(tk_vctx *v, const tk_ir_kernel *k);
/* GPU kernels with barriers or shared locals (obl_barrier.c): class race's uniform barriers
 * and barrier intervals; class bounds' shared bytes against TK_GPU_SHARED_BYTES_MAX. */
TK_MUST_USE tk_status tk_verify_obl_barriers(tk_vctx *v, const tk_ir_kernel *k);
TK_MUST_USE tk_status tk_verify_obl_shared_size(tk_vctx *v, const tk_ir_kernel *k);
/* A GPU kernel whose threads pass barriers. */
bool tk_verify_obl_has_barriers(const tk_ir_kernel *k);
/* Class race for such a kernel's global memory: `store` and `access` (one buffer), at two
 * points of different threads, never touch the same element unless a barrier of one workgroup
 * orders them (threads of one workgroup in different intervals). */
TK_MUST_USE tk_status tk_verify_obl_barrier_separated(tk_vctx *v, const tk_ir_kernel *k,
                                                      const tk_obl_site *store,
                                                      const tk_obl_site *access);
/* TK_PROOF_FAILED: "kernel K (target), <what> does not have the form the verifier proves: <fmt>"
 * — a class that proves a code shape it finds in the IR (topk, dispatch) refusing another. */
tk_status tk_verify_obl_form_error(const tk_ir_kernel *k, const char *what, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
TK_MUST_USE tk_status tk_verify_obl_topk(tk_vctx *v, const tk_ir_kernel *k);
TK_MUST_USE tk_status tk_verify_obl_dispatch(tk_vctx *v, const tk_ir_kernel *k);
/* Class layout (obl_layout.c): each panel buffer's layout is a bijection (module), and each
 * CPU load of one reads the packed place of the element its fused load reads (per kernel). */
TK_MUST_USE tk_status tk_verify_obl_layout_module(tk_vctx *v);
TK_MUST_USE tk_status tk_verify_obl_layout(tk_vctx *v, const tk_ir_kernel *k);
/* Per schedule (all its launches, in list order), after its kernels' per-launch classes. */
TK_MUST_USE tk_status tk_verify_obl_dataflow(tk_vctx *v, tk_ir_target t);

#endif /* TK_VERIFY_INTERNAL_H */
