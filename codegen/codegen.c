/* codegen/codegen.c — the public entry points of codegen.h: target lookup, and one target's
 * kernels of a module → one LLVM module → optimised object / assembly / IR text.
 *
 * The module is named after the target and its source file name is fixed ("model"), so no
 * path or time reaches the output. The data layout comes from the target machine and is set
 * before any IR is built (docs/toolchain.md §1). Kernels are emitted in the schedule's order.
 * The unoptimised module goes to o->validate (the translation validator) before any pass.
 */
#include <stdlib.h>
#include <string.h>

#include "codegen/cg_internal.h"

static const tk_cg_target *const targets[] = {&tk_cg_target_x86_64, &tk_cg_target_x86_64_simt,
                                              &tk_cg_target_amdgcn, &tk_cg_target_nvptx};
static const char *const target_names[] = {"x86_64", "x86_64-simt", "amdgcn", "nvptx", NULL};

const char *const *tk_cg_target_names(void) { return target_names; }

tk_status tk_cg_target_get(const char *name, const tk_cg_target **out) {
  for (size_t i = 0; name && i < sizeof targets / sizeof targets[0]; i++)
    if (strcmp(targets[i]->name, name) == 0) {
      *out = targets[i];
      return TK_STATUS_OK;
    }
  return tk_status_make(TK_INVALID_ARGUMENT,
                        "codegen: unknown target \"%s\"; expected "
                        "x86_64, x86_64-simt, amdgcn or nvptx",
                        name ? name : "(null)");
}

void tk_cg_options_default(tk_cg_options *o) {
  memset(o, 0, sizeof *o);
  o->target = "x86_64";
  o->opt_level = 3;
}

void tk_cg_blob_free(tk_cg_blob *b) {
  if (!b) return;
  free(b->data);
  b->data = NULL;
  b->size = 0;
}

static tk_status check_stage(const tk_ir_module *m, const tk_cg_target *t) {
  tk_ir_stage need = t->schedule == TK_TARGET_GPU ? TK_STAGE_GPU : TK_STAGE_CPU;
  if (m->stage >= need) return TK_STATUS_OK;
  return tk_status_make(TK_INVALID_ARGUMENT,
                        "codegen: target %s needs the %s schedule (module "
                        "stage %d, expected >= %d)",
                        t->name, tk_ir_target_name(t->schedule), (int)m->stage, (int)need);
}

static void module_init(tk_cg_module *cm, tk_cg_ctx *c, const tk_cg_target *t,
                        const tk_ir_module *m, const tk_cg_options *o, LLVMTargetMachineRef tm) {
  char name[64];
  snprintf(name, sizeof name, "tkc.%s", t->name);
  memset(cm, 0, sizeof *cm);
  cm->c = c;
  cm->target = t;
  cm->ir = m;
  cm->opts = o;
  cm->cpu = LLVMGetTargetMachineCPU(tm);
  cm->mod = LLVMModuleCreateWithNameInContext(name, c->ctx);
  LLVMSetSourceFileName(cm->mod, "model", 5);
  LLVMSetTarget(cm->mod, t->triple);
  LLVMTargetDataRef dl = LLVMCreateTargetDataLayout(tm);
  LLVMSetModuleDataLayout(cm->mod, dl);
  LLVMDisposeTargetData(dl);
  cm->b = LLVMCreateBuilderInContext(c->ctx);
  cm->f32 = LLVMFloatTypeInContext(c->ctx);
  cm->i1 = LLVMInt1TypeInContext(c->ctx);
  cm->i32 = LLVMInt32TypeInContext(c->ctx);
  cm->i64 = LLVMInt64TypeInContext(c->ctx);
  cm->ptr = LLVMPointerTypeInContext(c->ctx, t->global_as);
}

static tk_status build_and_emit(const tk_ir_module *m, const tk_cg_target *t,
                                const tk_cg_options *o, LLVMTargetMachineRef tm, tk_cg_emit what,
                                tk_cg_blob *out) {
  tk_cg_ctx c;
  TK_RETURN_IF_ERROR(tk_cg_ctx_create(&c));
  tk_cg_module cm;
  module_init(&cm, &c, t, m, o, tm);
  const tk_ir_kernel_list *list = &m->targets[t->schedule];
  tk_status s = TK_STATUS_OK;
  for (int i = 0; !s && i < list->n; i++) s = tk_cg_kernel_emit(&cm, list->items[i]);
  if (!s) t->finish_module(&cm);
  if (!s && o->validate) s = o->validate(o->validate_user, cm.mod, t->name);
  if (!s && what != TK_CG_EMIT_NONE) s = tk_cg_module_emit(&c, cm.mod, tm, o->opt_level, what, out);
  LLVMDisposeBuilder(cm.b);
  LLVMDisposeModule(cm.mod);
  LLVMDisposeMessage((char *)cm.cpu);
  tk_cg_ctx_dispose(&c);
  return s;
}

tk_status tk_cg_compile(const tk_ir_module *m, const tk_cg_options *o, tk_cg_emit what,
                        tk_cg_blob *out) {
  out->data = NULL;
  out->size = 0;
  const tk_cg_target *t = NULL;
  TK_RETURN_IF_ERROR(tk_cg_target_get(o->target, &t));
  TK_RETURN_IF_ERROR(check_stage(m, t));
  TK_RETURN_IF_ERROR(tk_cg_mutant_check(o->mutant));
  if (o->code_object_version != 0 && o->code_object_version != 4 && o->code_object_version != 5)
    return tk_status_make(TK_INVALID_ARGUMENT,
                          "codegen: code_object_version %d, expected 4 or 5 "
                          "(or 0 for the target's default)",
                          o->code_object_version);
  LLVMTargetMachineRef tm;
  TK_RETURN_IF_ERROR(tk_cg_machine_create(t, o, &tm));
  tk_status s = build_and_emit(m, t, o, tm, what, out);
  LLVMDisposeTargetMachine(tm);
  return tk_status_annotate(s, "while compiling target %s", t->name);
}

tk_status tk_cg_compile_shared(const tk_ir_module *m, const tk_cg_options *o, tk_cg_blob *out_so) {
  tk_cg_blob obj;
  TK_RETURN_IF_ERROR(tk_cg_compile(m, o, TK_CG_EMIT_OBJECT, &obj));
  tk_status s = tk_cg_link_shared(&obj, out_so);
  tk_cg_blob_free(&obj);
  return s;
}
