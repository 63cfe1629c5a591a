/* verify/mutants.h — tkc's own mutation testing (issue 5): a table of deliberate defects that
 * change a SCHEDULED module (after scheduling, before verification) through the IR builders,
 * each of which the verifier must reject (`tkc verify/compile --mutant ID`, exit 3).
 *
 * A mutant has a stable ID — "<target>.<kernel>.<kind>" for per-kernel defects (target gpu or
 * cpu), "graph.<buffer|layer>.<kind>" for buffers and graph edges, "module.<kind>" for the
 * module's batch rules — and a one-line description. Only mutants that apply to the module are
 * listed (a Dense model has no top-K; a kernel without a clamped read has no clamp to drop).
 * Each is a distinct defect in one place: the ID names the kernel (or buffer, layer) and the
 * counterexample names the same place.
 *
 * Listing rewrites nothing the module keeps (trial rewrites only allocate in its arena).
 */
#ifndef TK_VERIFY_MUTANTS_H
#define TK_VERIFY_MUTANTS_H

#include "ir/ir.h"
#include "tk/status.h"

typedef struct tk_mutant {
  char id[160];
  char description[256];
} tk_mutant;

/* The mutants that apply to m (stage CPU), in a stable order; *out malloc'd (caller frees). */
TK_MUST_USE tk_status tk_verify_mutants_list(tk_ir_module *m, tk_mutant **out, int *n);

/* Applies mutant `id` to m; *kernel (if kernel is not NULL) is the kernel it changed, NULL for
 * a graph or module mutant. TK_NOT_FOUND if no applicable mutant has that ID. */
TK_MUST_USE tk_status tk_verify_mutant_apply(tk_ir_module *m, const char *id,
                                             const tk_ir_kernel **kernel);

#endif /* TK_VERIFY_MUTANTS_H */
