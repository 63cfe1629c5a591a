/* codegen/cg_mutants.c — the codegen mutants: defects planted at decision points of the
 * kernel lowering (tk_cg_options.mutant) so tests can show the translation validator
 * (verify/tv.c) refutes each one (`tkc compile --cg-mutant ID` must exit 3).
 *
 * Guarantees: one table (id, class, description); a mutant only changes code where
 * tk_cg_mutant_on names it; with no mutant codegen is unchanged. Read-only data only.
 */
#include <string.h>

#include "codegen/cg_internal.h"
#include "codegen/hoststub.h"

static const tk_cg_mutant MUTANTS[] = {
    {"swap-ids", "control", "GPU workgroup and thread id intrinsics swapped (tk_cg_gpu_bind)"},
    {"thread-id-as-workgroup", "control", "GPU thread_x bound to the workgroup id intrinsic"},
    {"fcmp-gt-oge", "control", "f32 `>` lowered as fcmp oge (breaks the top-K tie rule)"},
    {"fcmp-gt-ugt", "control", "f32 `>` lowered as fcmp ugt (true on NaN)"},
    {"icmp-eq-ne", "control", "an i32 value `==` lowered as icmp ne"},
    {"max-arms-swapped", "control", "max(a, b) lowered as select(a > b, b, a)"},
    {"guard-lt-le", "control", "an IF guard `<` lowered as icmp sle"},
    {"guard-dropped", "control", "an IF guard dropped (unconditional branch into its body)"},
    {"unroll-extra", "control", "an unrolled / vector loop emitted for extent + 1 copies"},
    {"stride-plus-1", "address",
     "an index multiplication by c emitted as a multiplication by c + 1"},
    {"offset-plus-1", "address", "an index addition a + b emitted as a + b + 1"},
    {"b-for-bp", "address", "the symbol Bp lowered as the B argument"},
    {"bp-for-b", "address", "the symbol B lowered as the Bp argument"},
    {"loop-lo-1", "control", "a counted loop starting at 1 instead of 0"},
    {"loop-step-2", "control", "a counted loop stepping by 2"},
    {"loop-hi-le", "control", "a counted loop tested with icmp sle (one iteration too many)"},
    {"block-end-plus-1", "control", "the CPU block loop over [begin, end + 1)"},
    {"wrong-buffer", "address", "a buffer access through the next kernel argument's pointer"},
    {"entry-b-bp-swapped", "address",
     "the CPU entry passes Bp as B and B as Bp to the kernel body (x86_64, x86_64-simt)"},
    {"workgroup-size-doubled", "control",
     "GPU kernels declared with twice the schedule's workgroup size (amdgcn / nvptx)"},
    {"tiled.barrier-dropped", "control",
     "workgroup barriers not emitted (--gpu-schedule tiled, amdgcn / nvptx)"},
    {"tiled.shared-as-alloca", "address",
     "shared locals emitted as private allocas (--gpu-schedule tiled, amdgcn / nvptx)"},
};

const tk_cg_mutant *tk_cg_mutants(size_t *n) {
  *n = sizeof MUTANTS / sizeof MUTANTS[0];
  return MUTANTS;
}

tk_status tk_cg_mutant_check(const char *id) {
  for (size_t i = 0; id && i < sizeof MUTANTS / sizeof MUTANTS[0]; i++)
    if (!strcmp(MUTANTS[i].id, id)) return TK_STATUS_OK;
  size_t n;
  const tk_cg_mutant_info *stub = tk_cg_stub_mutants(&n);
  for (size_t i = 0; id && i < n; i++)
    if (!strcmp(stub[i].id, id)) return TK_STATUS_OK;
  if (!id) return TK_STATUS_OK;
  return tk_status_make(
      TK_NOT_FOUND, "--cg-mutant: unknown codegen mutant '%s' (tkc compile --list-cg-mutants)", id);
}

bool tk_cg_mutant_on(const tk_cg_module *cm, const char *id) {
  return cm->opts->mutant && !strcmp(cm->opts->mutant, id);
}
