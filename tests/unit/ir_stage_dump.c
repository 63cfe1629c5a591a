/* tests/unit/ir_stage_dump.c — `ir_stage_dump ARCH.json STAGE [dense|sparse]` prints the
 * module after the IR passes up to STAGE (graph, padded, fused, planned, gpu, cpu), with the
 * experts dispatched sparse (default, as tkc compile's) or dense (tk_ir_options.dispatch), with
 * the pipeline of
 * tkc_build_ir, the loop tkc compile runs. It makes the one per-pass golden that no
 * `tkc compile --emit` view prints: the fused stage before buffer planning
 * (tests/ir/passes.sh --update). It never parses a dump. */
#include <stdio.h>
#include <string.h>

#include "compiler/tkc.h"
#include "ir/ir.h"
#include "model/arch.h"

int main(int argc, char **argv) {
  if (argc < 3 || argc > 4 ||
      (argc == 4 && strcmp(argv[3], "dense") && strcmp(argv[3], "sparse"))) {
    fprintf(stderr,
            "usage: ir_stage_dump ARCH.json graph|padded|fused|planned|gpu|cpu [dense|sparse]\n");
    return 2;
  }
  int stage = -1;
  for (int s = TK_STAGE_GRAPH; s <= TK_STAGE_CPU; s++)
    if (!strcmp(argv[2], tk_ir_stage_name((tk_ir_stage)s))) stage = s;
  if (stage < 0) {
    fprintf(stderr, "ir_stage_dump: unknown stage '%s'\n", argv[2]);
    return 2;
  }
  tk_arch arch;
  tk_ir_module *m = NULL;
  tkc_ir_options o;
  tkc_ir_options_default(&o);
  o.verify_each = true;
  o.stop_after = (tk_ir_stage)stage;
  o.ir.dispatch = argc == 4 && !strcmp(argv[3], "dense") ? TK_DISPATCH_DENSE : TK_DISPATCH_SPARSE;
  tk_status s = tk_arch_load(argv[1], &arch);
  if (!s) s = tkc_build_ir(&arch, &o, &m);
  if (!s) s = tk_ir_module_print(m, stdout);
  tk_ir_module_free(m);
  if (s) fprintf(stderr, "ir_stage_dump: %s\n", tk_status_message(s));
  tk_status_free(s);
  return s ? 1 : 0;
}
