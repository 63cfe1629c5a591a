/* tests/unit/model_bundle.c — see model_bundle.h. */
#include "model_bundle.h"

#include <stdio.h>
#include <unistd.h>

#include "compiler/tkc.h"
#include "model/init_weights.h"

tk_status tk_test_model_bundle(const char *model, const char *dir, const char *ckpt_path,
                               int64_t max_batch, tk_arch *arch) {
  return tk_test_model_bundle_cpu(model, dir, ckpt_path, max_batch, "x86-64-v3", arch);
}

tk_status tk_test_model_bundle_cpu(const char *model, const char *dir, const char *ckpt_path,
                                   int64_t max_batch, const char *cpu, tk_arch *arch) {
  return tk_test_model_bundle_dispatch(model, dir, ckpt_path, max_batch, cpu, TK_DISPATCH_DENSE,
                                       arch);
}

tk_status tk_test_model_bundle_dispatch(const char *model, const char *dir, const char *ckpt_path,
                                        int64_t max_batch, const char *cpu, tk_ir_dispatch dispatch,
                                        tk_arch *arch) {
  char arch_path[512];
  tk_test_arch_path(model, arch_path, sizeof arch_path);
  tkc_options o;
  tkc_options_default(&o);
  o.arch_path = arch_path;
  o.out_dir = dir;
  o.targets = "x86_64";
  o.max_batch = max_batch;
  o.cpu = cpu;
  o.dispatch = dispatch;
  o.quiet = true;
  TK_RETURN_IF_ERROR(tk_arch_load(arch_path, arch));
  o.arch = arch;
  TK_RETURN_IF_ERROR(tkc_compile(&o));
  if (access(ckpt_path, R_OK) == 0) return TK_STATUS_OK;
  return tk_arch_init_checkpoint_write(arch, ckpt_path, arch->seed, 0, NULL, NULL);
}
