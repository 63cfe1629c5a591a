/* verify/verify.h — the verifier: proof obligations of a scheduled module, discharged by Z3
 * (docs/proofs.md).
 *
 * tk_verify_module reads the data codegen and the host stub consume — the scheduled kernels'
 * tk_ix index maps, loop extents, IF guards, launch grids and workgroup sizes, argument and
 * buffer element counts, index_bits, the graph's row contracts and the module's B range and
 * Bp rule — and generates seven classes of obligations: shape, padding, bounds, no_overflow,
 * race, topk, dataflow (across the launches of each schedule, in the host stub's order). The
 * eighth, host, is proved later in the compile, once the host stub's text and the GPU code
 * units exist (tk_verify_host_stub, tk_verify_kernel_abi below). Each is a closed formula,
 * proved by asserting its negation and getting unsat from the shared Z3 solver (reused with
 * push/pop) or a solver of its own with another seed (verify/solve.c), under a deterministic
 * resource limit (rlimit, never a wall-clock timeout). B stays a free
 * Int symbol with 1 <= B <= Bmax.
 *
 * A refuted obligation (sat) stops verification: the status is TK_PROOF_FAILED and its
 * message is the counterexample in model terms (B, Bp, loop variables, index, size, kernel,
 * target, class). `unknown` (rlimit exhausted) is a failure too (TK_PROOF_FAILED).
 *
 * Ownership: a tk_verify_report is created by tk_verify_module and released by
 * tk_verify_report_free (NULL accepted). No global state: concurrent verifications of
 * different modules are fine (each has its own Z3 context).
 */
#ifndef TK_VERIFY_VERIFY_H
#define TK_VERIFY_VERIFY_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "ir/ir.h"
#include "tk/status.h"

/* Resource limit per obligation (Z3 "rlimit" units), all its tries together (verify/solve.c):
 * far above what any tkc obligation uses (the largest of models/ took about 1.3 million:
 * dense's row-tail injectivity at x86-64-v3), low enough that a runaway query stops in
 * seconds. */
#define TK_VERIFY_DEFAULT_RLIMIT 5000000u

/* Queries proved in earlier verifier contexts of one compile, by the sha256 that names their
 * query file (docs/proofs.md "Queries proved once per compile"): a further CPU level, a
 * further GPU arch or a GPU tile set repeats many of the first one's queries word for word,
 * and a query that is the same text is the same problem. Only proofs go in (a refuted or
 * unknown query is never cached). Not thread-safe: one compile uses it at a time. */
typedef struct tk_verify_cache tk_verify_cache;
TK_MUST_USE tk_status tk_verify_cache_create(tk_verify_cache **out);
void tk_verify_cache_free(tk_verify_cache *c);
/* How many obligations the cache answered so far (progress lines). */
size_t tk_verify_cache_hits(const tk_verify_cache *c);

typedef struct tk_verify_options {
  uint32_t rlimit; /* per obligation (0 = TK_VERIFY_DEFAULT_RLIMIT) */
  bool solve;      /* false: generate only (for --emit=obligations); nothing is proved */
  bool keep_text;  /* keep each obligation's SMT-LIB2 text (needed to write proofs) */
  FILE *timing;    /* wall-time lines per class, or NULL (never into committed files) */
  /* Proofs shared across contexts, or NULL; used only with keep_text (the key is the text):
   * a query found there is recorded with its rlimit and needs_hypotheses, not solved again. */
  tk_verify_cache *cache;
  /* A kernel of m to verify before the others (its classes, then its schedule's dataflow),
   * or NULL. Every obligation is still proved; only the order changes, so a refutation there
   * comes sooner: --mutant names the kernel it changed (tk_verify_mutant_apply). */
  const tk_ir_kernel *first;
} tk_verify_options;

void tk_verify_options_default(tk_verify_options *o);

typedef struct tk_verify_report tk_verify_report;

/* Verifies every obligation of m (stage CPU: both schedules present). On success *out holds
 * one entry per obligation, in generation order. On a refuted obligation: TK_PROOF_FAILED
 * with the counterexample as message, *out NULL. TK_INVALID_ARGUMENT if the module is not
 * scheduled, TK_INTERNAL on a Z3 error. */
TK_MUST_USE tk_status tk_verify_module(const tk_ir_module *m, const tk_verify_options *o,
                                       tk_verify_report **out);

/* Number of obligations, and the solver's summed wall time (seconds; for stderr only). */
size_t tk_verify_report_count(const tk_verify_report *r);
double tk_verify_report_solver_seconds(const tk_verify_report *r);

/* Solver wall time per class, one line (for stderr only: never in committed files). */
void tk_verify_report_timing(const tk_verify_report *r, FILE *out);

/* The classes, in DESIGN order (shape, padding, bounds, no_overflow, race, topk, dataflow,
 * layout of the scheduled IR; address, control of the LLVM: tv.h; host): class c's name and
 * its number of obligations in r. */
#define TK_VERIFY_NCLASSES 12
void tk_verify_report_class_count(const tk_verify_report *r, int c, const char **name, long *count);

/* The number of class c's obligations in r that hold without their path hypotheses. */
long tk_verify_report_class_free_count(const tk_verify_report *r, int c);

/* One line per class (classes in DESIGN order):
 * "shape            42 obligations proved (3 without path hypotheses)". */
void tk_verify_report_summary(const tk_verify_report *r, FILE *out);

/* The proof store (docs/proofs.md "The files"): queries/<sha256>.smt2 per distinct query
 * (the obligation text without its `;` comment lines; the name is the hash of the bytes) and
 * index.json, which maps every obligation to its query and carries the root hash. */
#define TK_VERIFY_PROOFS_FORMAT "tkc-proofs-1"
#define TK_VERIFY_INDEX_FILE "index.json"
#define TK_VERIFY_QUERIES_DIR "queries"

/* What a report proves, in hashes: the root is the sha256 of the distinct query hashes in
 * ascending order, each followed by '\n'. */
typedef struct tk_verify_digest {
  size_t obligations, queries;
  char root[65];
} tk_verify_digest;

/* The digest of r (made with keep_text; TK_INTERNAL otherwise). */
TK_MUST_USE tk_status tk_verify_report_digest(const tk_verify_report *r, tk_verify_digest *out);

/* index.json ({format, root, queries, obligations: [{id, class, kernel, target, statement,
 * result, rlimit, needs_hypotheses, query}]}), as a NUL-terminated string the caller frees. Deterministic: no
 * times, no paths. Needs keep_text. */
TK_MUST_USE tk_status tk_verify_report_json(const tk_verify_report *r, char **out);

/* Writes queries/<sha256>.smt2 once per distinct query and index.json into the existing
 * directory dir (the report must have been made with keep_text). Files are written directly:
 * callers that need all-or-nothing write into a temporary directory and rename it
 * (tk_verify_write_proofs_dir does). */
TK_MUST_USE tk_status tk_verify_report_write_files(const tk_verify_report *r, const char *dir);

/* Replaces dir (created if missing) with the report's files, all or nothing: the files go
 * into a fresh sibling directory which is renamed over dir only once complete. */
TK_MUST_USE tk_status tk_verify_write_proofs_dir(const tk_verify_report *r, const char *dir);

/* Prints every obligation of m as SMT-LIB2 text with its comment lines, each preceded by
 * `; obligation <id>` (index.json's id), without solving them: `tkc compile
 * --emit=obligations`. */
TK_MUST_USE tk_status tk_verify_emit_obligations(const tk_ir_module *m, FILE *out);

void tk_verify_report_free(tk_verify_report *r);

/* ---- The `host` class: proved after codegen and the stub (docs/proofs.md "host") ----------
 * Both append their obligations to `into` (the verify pass's report; NULL: proved, not kept)
 * and fail like
 * tk_verify_module: TK_PROOF_FAILED with the counterexample, naming the stub's function and
 * line or the kernel and the code unit. */

/* The host stub's text (model_host.c) against m: its Bp, every buffer's element count, every
 * launch's grid, workgroup size and argument buffers, parsed from the C text with C semantics,
 * equal m's for every 1 <= B <= Bmax, and every C intermediate fits its type. */
TK_MUST_USE tk_status tk_verify_host_stub(const tk_ir_module *m, const char *stub_c,
                                          const tk_verify_options *o, tk_verify_report *into);

/* The explicit kernarg layout of every gpu-schedule kernel in an LLVM module of a GPU target
 * (amdgcn, nvptx), by the module's DataLayout, equals tk/launch.h's tk_kernarg_offset and
 * tk_kernarg_size. `unit` names the code unit in statements ("amdgcn gfx90a"). The module is
 * an LLVMModuleRef (declared here without the LLVM headers); it is only read. */
struct LLVMOpaqueModule;
TK_MUST_USE tk_status tk_verify_kernel_abi(const tk_ir_module *m, struct LLVMOpaqueModule *mod,
                                           const char *unit, const tk_verify_options *o,
                                           tk_verify_report *into);
/* The same from LLVM IR text (TK_CG_EMIT_LLVM_UNOPT output), parsed in a private context. */
TK_MUST_USE tk_status tk_verify_kernel_abi_ir(const tk_ir_module *m, const char *llvm_ir,
                                              size_t len, const char *unit,
                                              const tk_verify_options *o, tk_verify_report *into);

#endif /* TK_VERIFY_VERIFY_H */
