/* codegen/hoststub.h — the generated C host stub of a bundle (model_host.c / model_host.h)
 * and its build into model_host.so (docs/architecture.md "The pipeline", docs/abi.md "Host stub").
 *
 * The stub is a readable C17 translation of what the scheduled module says about running
 * the model: the buffer table (names, roles, checkpoint indices, element counts as C
 * functions of B and Bp), and for each schedule ("gpu", "cpu") the launch sequence in list
 * order, one commented call per IR kernel with its argument buffers and its grid formula.
 * Index expressions are translated exactly: min/max through helpers, floor div/mod by a
 * positive constant as C's / and % where the operand is proved non-negative for all
 * 1 <= B <= bmax (tk_ir_ix_bounds), else through floor helpers. It checks at run time what the
 * verifier does not prove: 1 <= B <= max batch, the target name, grids that fit a launch.
 * It includes only <tk/launch.h> (and through it <tk/status.h>) and calls no libc function,
 * so model_host.so has no undefined symbols of ours.
 *
 * Output is a pure function of the module: no times, paths or pids.
 */
#ifndef TK_CODEGEN_HOSTSTUB_H
#define TK_CODEGEN_HOSTSTUB_H

#include <stdbool.h>
#include <stddef.h>

#include "ir/ir.h"
#include "tk/status.h"

#define TK_STUB_BASE "model_host"
#define TK_STUB_C_FILE TK_STUB_BASE ".c"
#define TK_STUB_H_FILE TK_STUB_BASE ".h"
#define TK_STUB_SO_FILE TK_STUB_BASE ".so"

/* Generates the two files' text from a module at stage TK_STAGE_CPU (both schedules and the
 * buffer plan present). `tkc_version` goes into the header comment. Caller frees *out_c and
 * *out_h (malloc'd, NUL-terminated). */
TK_MUST_USE tk_status tk_cg_stub_generate(const tk_ir_module *m, const char *tkc_version,
                                          char **out_c, char **out_h);

/* Mutation testing of the `host` obligations (verify.h tk_verify_host_stub,
 * tk_verify_kernel_abi): deliberate defects, each in the first place it applies to, that
 * `tkc compile --cg-mutant ID` must refuse (exit 3, nothing written). "stub.*" IDs change the
 * stub's text (tk_cg_stub_generate_mutant), "abi.*" IDs the GPU kernels' declared parameters
 * (tk_cg_options.mutant). The list is the same for every model. */
typedef struct tk_cg_mutant_info {
  const char *id;
  const char *description;
} tk_cg_mutant_info;
const tk_cg_mutant_info *tk_cg_stub_mutants(size_t *n);

/* tk_cg_stub_generate with mutant `mutant` (NULL = none; an "abi.*" ID leaves the stub sound)
 * and the files named `base`.c and `base`.h (NULL = TK_STUB_BASE; a bundle's further CPU
 * level has its own stub, "model_host.<level>": docs/abi.md "Bundle layout"). TK_NOT_FOUND
 * for an ID not in tk_cg_stub_mutants, TK_INVALID_ARGUMENT when the model has no site for it. */
TK_MUST_USE tk_status tk_cg_stub_generate_mutant(const tk_ir_module *m, const char *tkc_version,
                                                 const char *mutant, const char *base, char **out_c,
                                                 char **out_h);

typedef struct tk_stub_build_options {
  const char *cc;              /* the C compiler to run; NULL = "cc" */
  const char *runtime_include; /* directory holding tk/launch.h and tk/status.h */
  bool werror;                 /* add -Wall -Wextra -Werror (tests) */
  const char *base;            /* the stub's file names without suffix (NULL = TK_STUB_BASE) */
} tk_stub_build_options;

/* Builds dir/<base>.so from dir/<base>.c with `cc -std=c17 -O2 -fPIC -shared`, run
 * inside `dir` with relative file names (nothing of the path reaches the output; no -g), so
 * two builds from identical sources are byte-identical. The compiler's output is in the
 * error message when it fails (TK_INTERNAL). */
TK_MUST_USE tk_status tk_cg_stub_build(const char *dir, const tk_stub_build_options *o);

#endif
