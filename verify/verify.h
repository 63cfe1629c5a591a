/* verify/verify.h — the verifier: proof obligations of a scheduled module, discharged by Z3
 * (docs/proofs.md).
 *
 * tk_verify_module reads the data codegen and the host stub consume — the scheduled kernels'
 * tk_ix index maps, loop extents, IF guards, launch grids and workgroup sizes, argument and
 * buffer element counts, index_bits, the graph's row contracts and the module's B range and
 * Bp rule — and generates six classes of obligations: shape, padding, bounds, no_overflow,
 * race, topk. Each is a closed formula, proved by asserting its negation and getting unsat
 * from one Z3 solver reused with push/pop under a deterministic resource limit (rlimit, never
 * a wall-clock timeout). B stays a free Int symbol with 1 <= B <= Bmax.
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

/* Resource limit per obligation (Z3 "rlimit" units): far above what any tkc obligation uses
 * (the largest of models/ need about 16 000), low enough that a runaway query stops in
 * seconds. */
#define TK_VERIFY_DEFAULT_RLIMIT 5000000u

typedef struct tk_verify_options {
  uint32_t rlimit; /* per obligation (0 = TK_VERIFY_DEFAULT_RLIMIT) */
  bool solve;      /* false: generate only (for --emit=obligations); nothing is proved */
  bool keep_text;  /* keep each obligation's SMT-LIB2 text (needed to write proofs) */
  FILE *timing;    /* wall-time lines per class, or NULL (never into committed files) */
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

/* The six classes, in DESIGN order: class c's name and its number of obligations in r. */
#define TK_VERIFY_NCLASSES 6
void tk_verify_report_class_count(const tk_verify_report *r, int c, const char **name, long *count);

/* The number of class c's obligations in r that hold without their path hypotheses. */
long tk_verify_report_class_free_count(const tk_verify_report *r, int c);

/* One line per class (classes in DESIGN order):
 * "shape            42 obligations proved (3 without path hypotheses)". */
void tk_verify_report_summary(const tk_verify_report *r, FILE *out);

/* report.json (a JSON array; keys class, kernel, target, statement, result, rlimit,
 * needs_hypotheses), as a
 * NUL-terminated string the caller frees. Deterministic: no times, no paths. */
TK_MUST_USE tk_status tk_verify_report_json(const tk_verify_report *r, char **out);

/* Writes <kernel>.<target>.<class>.<n>.smt2 for every obligation and report.json into the
 * existing directory dir (the report must have been made with keep_text). Files are written
 * directly: callers that need all-or-nothing write into a temporary directory and rename it
 * (tk_verify_write_proofs_dir does). */
TK_MUST_USE tk_status tk_verify_report_write_files(const tk_verify_report *r, const char *dir);

/* Replaces dir (created if missing) with the report's files, all or nothing: the files go
 * into a fresh sibling directory which is renamed over dir only once complete. */
TK_MUST_USE tk_status tk_verify_write_proofs_dir(const tk_verify_report *r, const char *dir);

/* Prints every obligation of m as SMT-LIB2 text (the .smt2 files, each preceded by a comment
 * line with its file name) without solving them: `tkc compile --emit=obligations`. */
TK_MUST_USE tk_status tk_verify_emit_obligations(const tk_ir_module *m, FILE *out);

void tk_verify_report_free(tk_verify_report *r);

#endif /* TK_VERIFY_VERIFY_H */
