/* verify/solve.c — the verifier context: one Z3 context and one shared solver, reused for
 * every obligation with push/pop, under a deterministic resource limit (the solver parameter
 * "rlimit"; never a wall-clock timeout).
 *
 * tk_verify_obl_prove checks each obligation by rounds of tries (prove_by_rounds): the shared
 * solver, in a fresh push/pop scope above the batch rules (for a coverage query, whole_first, a
 * solver of its own instead), then three solvers of its own with random seeds 1, 2 and 3, all
 * under the round's budget, the next round with four times more, until the obligation's
 * rlimit, which bounds all its tries together, is spent: unsat = proved (recorded with the
 * rlimit units all its tries used — Z3's "rlimit count" statistic before and after,
 * deterministic for the same obligations in the same order on the same Z3 version); sat =
 * refuted (the counterexample from the model, TK_PROOF_FAILED); unknown from every try =
 * failed too (the resource limit ran out; TK_PROOF_FAILED saying so). A proved obligation is
 * checked once more by the try that proved it without its path hypotheses (only the batch
 * rules and its quotient/remainder definitions): unsat there means it holds without them
 * (report.json "needs_hypotheses": false). The recorded rlimit is the proof's, not the second
 * check's.
 *
 * The module's batch rules come from its contracts: b_range gives Bmax, bp_padded the padding
 * quantum Q of Bp = max(Q, Q * ceil(B / Q)) — the definition codegen's host stub implements
 * (docs/formats.md §3, Q = 16); a wrong Q is caught by the padding class.
 */
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "verify/verify_internal.h"
#include "tk/alloc.h"

/* The budget of the check without path hypotheses: floor + factor * the proving try's units
 * (with factor 4 instead of 1, every model of models/ had the same counts, for more time). */
#define TK_VERIFY_FREE_RLIMIT_FLOOR 20000u
#define TK_VERIFY_FREE_RLIMIT_FACTOR 1u

/* Z3 reports errors through the context's error code; this handler only keeps Z3 from
 * printing or exiting, and every caller checks tk_verify_ctx_z3_status. */
static void z3_quiet(Z3_context c, Z3_error_code e) {
  (void)c;
  (void)e;
}

tk_status tk_verify_ctx_z3_status(tk_vctx *v, const char *what) {
  Z3_error_code e = Z3_get_error_code(v->z);
  if (e == Z3_OK) return TK_STATUS_OK;
  return tk_status_make(TK_INTERNAL, "Z3 error while %s: %s", what, Z3_get_error_msg(v->z, e));
}

static tk_status batch_rules(tk_vctx *v) {
  const tk_ir_module *m = v->m;
  v->bmax = v->bp_quantum = 0;
  for (int i = 0; i < m->contracts.n; i++) {
    const tk_ir_contract *c = &m->contracts.items[i];
    if (c->pred == TK_PRED_B_RANGE) v->bmax = c->n;
    if (c->pred == TK_PRED_BP_PADDED) v->bp_quantum = c->n;
  }
  if (v->bmax < 1)
    return tk_status_make(TK_INVALID_ARGUMENT,
                          "module: missing b_range contract (1 <= B <= Bmax), found Bmax = %lld",
                          (long long)v->bmax);
  if (v->bp_quantum < 1)
    return tk_status_make(TK_INVALID_ARGUMENT,
                          "module: missing bp_padded contract (padding quantum), found %lld",
                          (long long)v->bp_quantum);
  return TK_STATUS_OK;
}

Z3_ast tk_verify_obl_bp_def(tk_obl *o, Z3_ast B) {
  tk_vctx *v = o->v;
  int64_t q = v->bp_quantum;
  Z3_ast up = tk_verify_z_mul_c(
      v, tk_verify_obl_div(o, tk_verify_z_add2(v, B, tk_verify_z_int(v, q - 1)), q, false), q);
  if (!up) return NULL;
  Z3_ast quantum = tk_verify_z_int(v, q);
  return Z3_mk_ite(v->z, Z3_mk_le(v->z, up, quantum), quantum, up);
}

/* One unsigned solver parameter ("rlimit", "random_seed"). Z3 clears its error code at every
 * API call, so the status is taken right after setting it. */
static tk_status set_uint_param(tk_vctx *v, Z3_solver solver, const char *name, unsigned value) {
  Z3_params p = Z3_mk_params(v->z);
  Z3_params_inc_ref(v->z, p);
  Z3_params_set_uint(v->z, p, Z3_mk_string_symbol(v->z, name), value);
  Z3_solver_set_params(v->z, solver, p);
  tk_status s = tk_verify_ctx_z3_status(v, "setting a solver parameter");
  Z3_params_dec_ref(v->z, p);
  return s;
}

/* Sets the solver's budget: units (at least 1: 0 would mean no limit), at most the
 * obligation's. */
static tk_status set_rlimit(tk_vctx *v, Z3_solver solver, uint64_t units) {
  uint64_t capped = units < v->opts.rlimit ? units : v->opts.rlimit;
  return set_uint_param(v, solver, "rlimit", capped ? (unsigned)capped : 1u);
}

tk_status tk_verify_ctx_init(tk_vctx *v, const tk_ir_module *m, const tk_verify_options *o) {
  memset(v, 0, sizeof *v);
  v->m = m;
  v->opts = *o;
  if (!v->opts.rlimit) v->opts.rlimit = TK_VERIFY_DEFAULT_RLIMIT;
  TK_RETURN_IF_ERROR(batch_rules(v));
  size_t nv = (size_t)(m->nvars > 0 ? m->nvars : 1);
  v->obl.v = v;
  v->obl.vars[0] = tk_calloc(nv, sizeof(Z3_ast));
  v->obl.vars[1] = tk_calloc(nv, sizeof(Z3_ast));
  Z3_config cfg = Z3_mk_config();
  if (cfg) {
    v->z = Z3_mk_context(cfg);
    Z3_del_config(cfg);
  }
  if (!v->obl.vars[0] || !v->obl.vars[1] || !v->z) {
    tk_verify_ctx_dispose(v);
    return tk_status_make(TK_RESOURCE_EXHAUSTED, "verifier: out of memory creating the Z3 context");
  }
  Z3_set_error_handler(v->z, z3_quiet);
  Z3_set_ast_print_mode(v->z, Z3_PRINT_SMTLIB2_COMPLIANT);
  v->int_sort = Z3_mk_int_sort(v->z);
  v->real_sort = Z3_mk_real_sort(v->z);
  v->bool_sort = Z3_mk_bool_sort(v->z);
  v->s = Z3_mk_simple_solver(v->z);
  tk_status s = tk_verify_ctx_z3_status(v, "creating the solver");
  if (v->s) Z3_solver_inc_ref(v->z, v->s);
  if (!s) s = set_rlimit(v, v->s, v->opts.rlimit);
  if (!s) s = tk_verify_report_create(&v->report);
  if (s) tk_verify_ctx_dispose(v);
  return s;
}

void tk_verify_ctx_dispose(tk_vctx *v) {
  if (v->z) {
    if (v->s) Z3_solver_dec_ref(v->z, v->s);
    Z3_del_context(v->z);
  }
  free(v->obl.vars[0]);
  free(v->obl.vars[1]);
  free(v->obl.decls);
  free(v->obl.hyps);
  free(v->obl.shows);
  free(v->obl.touched);
  free(v->obl.loads);
  free(v->obl.facts);
  free(v->obl.divs);
  free(v->obl.parts);
  free(v->obl.defs);
  free(v->proved);
  for (size_t i = 0; i < v->cap_texts; i++) free(v->texts[i].text);
  free(v->texts);
  tk_verify_report_free(v->report);
  memset(v, 0, sizeof *v);
}

/* Z3's rlimit count is the context's: the units every solver of it has spent. */
static uint64_t rlimit_count(tk_vctx *v) {
  Z3_stats st = Z3_solver_get_statistics(v->z, v->s);
  Z3_stats_inc_ref(v->z, st);
  uint64_t n = 0;
  for (unsigned i = 0; i < Z3_stats_size(v->z, st); i++)
    if (!strcmp(Z3_stats_get_key(v->z, st, i), "rlimit count") && Z3_stats_is_uint(v->z, st, i))
      n = Z3_stats_get_uint_value(v->z, st, i);
  Z3_stats_dec_ref(v->z, st);
  return n;
}

static double now_seconds(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

/* A refuted or unknown obligation: the counterexample (or the limit) as TK_PROOF_FAILED. */
static tk_status refuted(tk_vctx *v, Z3_solver solver, Z3_lbool r) {
  const tk_obl *o = &v->obl;
  if (r == Z3_L_UNDEF)
    return tk_status_make(
        TK_PROOF_FAILED,
        "obligation %s in kernel %s (%s) not proved: solver answered unknown (%s; rlimit %u): %s",
        tk_verify_obl_class_name(o->cls), o->kernel, o->target,
        Z3_solver_get_reason_unknown(v->z, solver), v->opts.rlimit, o->statement);
  Z3_model model = Z3_solver_get_model(v->z, solver);
  Z3_model_inc_ref(v->z, model);
  char *msg = tk_verify_cex_message(v, model);
  Z3_model_dec_ref(v->z, model);
  tk_status s = tk_status_make(TK_PROOF_FAILED, "%s",
                               msg ? msg : "obligation refuted (no memory for the counterexample)");
  free(msg);
  return s;
}

/* The whole query below the batch rules: the obligation's own hypotheses and its negated goal. */
static Z3_ast query_of(tk_vctx *v, const tk_obl *o) {
  int n = o->nhyps - o->nbase + 1;
  Z3_ast *parts = tk_malloc((size_t)n * sizeof *parts);
  if (!parts) return NULL;
  for (int i = o->nbase; i < o->nhyps; i++) parts[i - o->nbase] = o->hyps[i];
  parts[n - 1] = Z3_mk_not(v->z, o->goal);
  Z3_ast q = Z3_mk_and(v->z, (unsigned)n, parts);
  free(parts);
  return q;
}

static const struct tk_proved_query *proved_before(const tk_vctx *v, Z3_ast q) {
  for (size_t i = 0; i < v->nproved; i++)
    if (v->proved[i].query == q) return &v->proved[i];
  return NULL;
}

static tk_status remember_proved(tk_vctx *v, Z3_ast q, uint64_t used, bool needs_hyps) {
  if (v->nproved == v->cap_proved) {
    size_t cap = v->cap_proved ? 2 * v->cap_proved : 256;
    struct tk_proved_query *p = tk_realloc(v->proved, cap * sizeof *p);
    if (!p) return tk_status_make(TK_RESOURCE_EXHAUSTED, "verifier: out of memory");
    v->proved = p;
    v->cap_proved = cap;
  }
  v->proved[v->nproved++] = (struct tk_proved_query){q, used, needs_hyps};
  return TK_STATUS_OK;
}

/* A solver of the obligation's own under a budget of units with a random seed (0: Z3's
 * default), the batch rules asserted (the caller releases it; *error: a Z3 error setting it
 * up). It sees the whole query at once: Z3's non-incremental mode simplifies it before the
 * search. */
static Z3_solver own_solver(tk_vctx *v, uint64_t units, unsigned seed, tk_status *error) {
  const tk_obl *o = &v->obl;
  Z3_solver solver = Z3_mk_solver(v->z);
  Z3_solver_inc_ref(v->z, solver);
  *error = set_rlimit(v, solver, units);
  if (!*error && seed) *error = set_uint_param(v, solver, "random_seed", seed);
  for (int i = 0; i < o->nbase && !*error; i++) Z3_solver_assert(v->z, solver, o->hyps[i]);
  return solver;
}

/* Asserts the obligation's hypotheses above the batch rules (with defs_only its definitions
 * alone) and its negated goal, and checks. */
static Z3_lbool check_query(tk_vctx *v, Z3_solver solver, bool defs_only) {
  const tk_obl *o = &v->obl;
  if (defs_only)
    for (int i = 0; i < o->ndefs; i++) Z3_solver_assert(v->z, solver, o->hyps[o->defs[i]]);
  else
    for (int i = o->nbase; i < o->nhyps; i++) Z3_solver_assert(v->z, solver, o->hyps[i]);
  Z3_solver_assert(v->z, solver, Z3_mk_not(v->z, o->goal));
  return Z3_solver_check(v->z, solver);
}

/* The shared solver's check, in a push/pop scope above the batch rules, under units; *status:
 * a Z3 error, or with explain what an answer other than unsat means (the counterexample, taken
 * before the pop). */
static Z3_lbool check_shared(tk_vctx *v, bool defs_only, uint64_t units, bool explain,
                             tk_status *status) {
  tk_status s = set_rlimit(v, v->s, units);
  Z3_lbool r = Z3_L_UNDEF;
  if (!s) {
    Z3_solver_push(v->z, v->s);
    r = check_query(v, v->s, defs_only);
    s = tk_verify_ctx_z3_status(v, "checking an obligation");
    if (!s && r != Z3_L_FALSE && explain) s = refuted(v, v->s, r);
    Z3_solver_pop(v->z, v->s, 1);
  }
  tk_status restored = set_rlimit(v, v->s, v->opts.rlimit);
  *status = s ? s : restored;
  if (*status != restored) tk_status_free(restored);
  return r;
}

/* The check of a solver of the obligation's own with a random seed, under units; *status as
 * check_shared's. */
static Z3_lbool check_own(tk_vctx *v, unsigned seed, bool defs_only, uint64_t units, bool explain,
                          tk_status *status) {
  Z3_solver solver = own_solver(v, units, seed, status);
  Z3_lbool r = *status ? Z3_L_UNDEF : check_query(v, solver, defs_only);
  if (!*status) *status = tk_verify_ctx_z3_status(v, "checking an obligation");
  if (!*status && r != Z3_L_FALSE && explain) *status = refuted(v, solver, r);
  Z3_solver_dec_ref(v->z, solver);
  return r;
}

/* One try of an obligation: the shared solver (incremental, in a push/pop scope above the batch
 * rules) or a solver of its own with a random seed (it sees the whole query at once: Z3's
 * non-incremental mode simplifies it before the search). */
typedef struct tk_try {
  bool shared;
  unsigned seed; /* of a solver of its own */
} tk_try;

/* A try's check under units (with defs_only, the definitions alone as hypotheses); with failed,
 * what an answer other than unsat means (a counterexample, the limit, or a Z3 error). */
static Z3_lbool check_try(tk_vctx *v, tk_try t, bool defs_only, uint64_t units, tk_status *failed) {
  tk_status s = NULL;
  Z3_lbool r = t.shared ? check_shared(v, defs_only, units, failed != NULL, &s)
                        : check_own(v, t.seed, defs_only, units, failed != NULL, &s);
  if (failed)
    *failed = s;
  else
    tk_status_free(s);
  return r;
}

/* The tries of one round, in order. The first is the shared solver, except for a coverage
 * query (whole_first): in the shared solver the coverage of a CPU row tail by pairs
 * (ir/pass_schedule_cpu.c) took 2.5e6 units for a query a solver of its own proves in 2.2e4
 * (Tiny, x86-64-v4). For other classes a solver of its own costs more to make (a few
 * milliseconds; about 2,000 obligations per nano level) than it saves. */
#define TK_VERIFY_TRIES 4
static void round_tries(const tk_obl *o, tk_try tries[TK_VERIFY_TRIES]) {
  for (unsigned i = 0; i < TK_VERIFY_TRIES; i++) tries[i] = (tk_try){false, i};
  tries[0].shared = !o->whole_first;
}

/* Proves the obligation by rounds of tries, each try under the round's budget (and what is left
 * of the obligation's rlimit, which bounds all its tries together: in the round where it runs
 * short, each remaining try an equal share of it); the first round's budget is
 * TK_VERIFY_ROUND_RLIMIT, each next one TK_VERIFY_ROUND_GROWTH times more. Z3's effort on the
 * modular case splits of CPU tiles is heavy-tailed in the random seed: one of Tiny's row-tail
 * injectivity queries (6-row tiles) took from 13 thousand to 11 million units by seed alone,
 * and dense's from 33 thousand to over 5 million; the cheapest of four seeds stayed under
 * 200 thousand for every query of models/. So a query that one try finds hard is tried with
 * the others at the same budget before any gets more. An unsat from any try is a proof and a
 * sat a refutation; every answer is deterministic, and so is their order. *winner: the try
 * that answered; *winner_units: what it spent. */
#define TK_VERIFY_ROUND_RLIMIT 100000u
#define TK_VERIFY_ROUND_GROWTH 4u
static tk_status prove_by_rounds(tk_vctx *v, uint64_t before, tk_try *winner,
                                 uint64_t *winner_units) {
  tk_try tries[TK_VERIFY_TRIES];
  round_tries(&v->obl, tries);
  tk_status unknown = NULL; /* the last try's answer: never NULL after the first try */
  for (uint64_t budget = TK_VERIFY_ROUND_RLIMIT;; budget *= TK_VERIFY_ROUND_GROWTH) {
    for (unsigned i = 0; i < TK_VERIFY_TRIES; i++) {
      uint64_t spent = rlimit_count(v) - before;
      if (spent >= v->opts.rlimit && unknown) return unknown;
      uint64_t share =
          (spent < v->opts.rlimit ? v->opts.rlimit - spent : 1) / (TK_VERIFY_TRIES - i);
      tk_status s = NULL;
      Z3_lbool r = check_try(v, tries[i], false, budget < share ? budget : share, &s);
      if (r != Z3_L_UNDEF || tk_status_code_of(s) != TK_PROOF_FAILED) {
        tk_status_free(unknown);
        *winner = tries[i];
        *winner_units = rlimit_count(v) - before - spent;
        return s;
      }
      tk_status_free(unknown);
      unknown = s;
    }
    if (budget >= v->opts.rlimit) return unknown;
  }
}

/* True unless the proved obligation also holds with only the batch rules (asserted below every
 * scope) and its definitions: its negated goal checked once more without the path hypotheses,
 * by the try that proved it, under a budget of TK_VERIFY_FREE_RLIMIT_FACTOR times what that try
 * used (plus a floor): without its context a query can be far harder (free loop variables up
 * to Bmax), and a check that runs out (or meets a Z3 error) counts as needing the hypotheses.
 * An obligation with no path hypotheses needs no second check. */
static bool needs_path_hyps(tk_vctx *v, tk_try winner, uint64_t winner_units) {
  const tk_obl *o = &v->obl;
  if (o->nhyps - o->nbase == o->ndefs) return false;
  uint64_t units = TK_VERIFY_FREE_RLIMIT_FLOOR + TK_VERIFY_FREE_RLIMIT_FACTOR * winner_units;
  return check_try(v, winner, true, units, NULL) != Z3_L_FALSE;
}

/* The compile's cache (verify.h tk_verify_cache) for the query whose text is `text`. Without a
 * cache or a text: nothing (hash stays ""). Otherwise hash names the query; on a hit the
 * obligation is recorded with the proof found there (and remembered in this context), and
 * *answered is set. text is freed on an error. */
static tk_status cached_proof(tk_vctx *v, Z3_ast query, char *text, double t0, char hash[65],
                              bool *answered) {
  *answered = false;
  if (!v->opts.cache || !text) return TK_STATUS_OK;
  tk_status s = tk_verify_query_hash(text, hash);
  uint64_t used;
  bool needs_hyps;
  if (!s && tk_verify_cache_find(v->opts.cache, hash, &used, &needs_hyps)) {
    *answered = true;
    s = remember_proved(v, query, used, needs_hyps);
    if (!s)
      return tk_verify_report_add(v->report, &v->obl, used, needs_hyps, text, now_seconds() - t0);
  }
  if (s) free(text);
  return s;
}

tk_status tk_verify_obl_prove(tk_vctx *v) {
  tk_obl *o = &v->obl;
  if (o->nparts) {
    Z3_ast *conds = tk_malloc((size_t)o->nparts * sizeof *conds);
    if (!conds) return tk_status_make(TK_RESOURCE_EXHAUSTED, "verifier: out of memory");
    for (int i = 0; i < o->nparts; i++) conds[i] = o->parts[i].cond;
    o->goal = tk_verify_z_and(v, o->nparts, conds);
    free(conds);
  }
  if (o->oom || !o->goal || !o->B)
    return tk_status_make(TK_RESOURCE_EXHAUSTED,
                          "verifier: out of memory building %s obligation for kernel %s",
                          tk_verify_obl_class_name(o->cls), o->kernel);
  TK_RETURN_IF_ERROR(tk_verify_ctx_z3_status(v, "building an obligation"));
  char *text = NULL;
  if (v->opts.keep_text || v->emit) {
    text = tk_verify_obl_text(o);
    if (!text)
      return tk_status_make(TK_RESOURCE_EXHAUSTED,
                            "verifier: out of memory printing an obligation");
  }
  if (v->emit) {
    fprintf(v->emit, "; obligation %s.%s.%s.%d\n%s\n", o->kernel, o->target,
            tk_verify_obl_class_name(o->cls),
            tk_verify_report_next_index(v->report, o->kernel, o->target, o->cls), text);
    return tk_verify_report_add(v->report, o, 0, true, text, 0);
  }
  if (!v->opts.solve) return tk_verify_report_add(v->report, o, 0, true, text, 0);
  double t0 = now_seconds();
  uint64_t before = rlimit_count(v);
  if (!v->base_asserted) { /* identical terms in every obligation (same names, same rules) */
    for (int i = 0; i < o->nbase; i++) Z3_solver_assert(v->z, v->s, o->hyps[i]);
    v->base_asserted = true;
  }
  Z3_ast query = query_of(v, o);
  if (!query) {
    free(text);
    return tk_status_make(TK_RESOURCE_EXHAUSTED, "verifier: out of memory");
  }
  const struct tk_proved_query *same = proved_before(v, query);
  if (same)
    return tk_verify_report_add(v->report, o, same->used, same->needs_hyps, text,
                                now_seconds() - t0);
  char hash[65] = ""; /* the query's name in the compile's cache ("" without one) */
  bool answered;
  tk_status s = cached_proof(v, query, text, t0, hash, &answered);
  if (s || answered) return s;
  tk_try winner = {true, 0};
  uint64_t winner_units = 0;
  s = prove_by_rounds(v, before, &winner, &winner_units);
  uint64_t used = rlimit_count(v) - before;
  bool needs_hyps = !s && needs_path_hyps(v, winner, winner_units); /* an error there: true */
  if (!s) s = remember_proved(v, query, used, needs_hyps);
  if (!s && hash[0]) s = tk_verify_cache_add(v->opts.cache, hash, used, needs_hyps);
  double dt = now_seconds() - t0;
  if (s) {
    free(text);
    return s;
  }
  return tk_verify_report_add(v->report, o, used, needs_hyps, text, dt);
}
