/* compiler/pipeline.c — the pass list of tkc, visible in one function (style.md "Passes").
 * Each pass advances the module by one stage; with verify_each, tk_ir_verify runs after
 * every pass and a failure names the pass it followed. */
#include "compiler/pipeline.h"

#include <stdlib.h>
#include <string.h>

#include "codegen/codegen.h"
#include "compiler/lower.h"
#include "compiler/tkc.h"

/* `+avx512f` as a whole item of an LLVM feature string ("+avx,+avx512f,-avx512fp16,..."). */
static bool feature_on(const char *features, const char *item) {
  size_t n = strlen(item);
  for (const char *p = features; (p = strstr(p, item)) != NULL; p += n)
    if ((p == features || p[-1] == ',') && (p[n] == ',' || p[n] == 0)) return true;
  return false;
}

static bool has_avx512(const char *cpu, const char *features) {
  static const char *const named[] = {"x86-64-v4", "skylake-avx512", "cascadelake", "cooperlake",
                                      "icelake-client", "icelake-server", "tigerlake",
                                      "sapphirerapids", "znver4"};
  if (features && *features) return feature_on(features, "+avx512f");
  for (size_t i = 0; cpu && i < sizeof named / sizeof named[0]; i++)
    if (strcmp(cpu, named[i]) == 0) return true;
  return false;
}

void tkc_pipeline_cpu_schedule(tk_ir_options *ir, const char *cpu, const char *features) {
  bool zmm = has_avx512(cpu, features);
  ir->cpu_block_rows = 64;
  ir->cpu_tile_rows = zmm ? 8 : 4;
  ir->cpu_tile_cols = zmm ? 32 : 24;
}

tk_status tkc_pipeline_set_cpu(tkc_pipeline_options *o, const char *cpu) {
  tk_cg_options cg;
  tk_cg_options_default(&cg);
  cg.cpu = cpu;
  char *name, *features;
  TK_RETURN_IF_ERROR(tk_cg_cpu_resolve(&cg, &name, &features));
  tkc_pipeline_cpu_schedule(&o->ir, name, features);
  free(name);
  free(features);
  return TK_STATUS_OK;
}

void tkc_pipeline_options_default(tkc_pipeline_options *o) {
  tk_ir_options_default(&o->ir);
  tkc_pipeline_cpu_schedule(&o->ir, TKC_DEFAULT_CPU, "");
  o->verify_each = false;
  o->stop_after = TK_STAGE_CPU;
}

typedef tk_status (*tkc_pass_fn)(tk_ir_module *m);

static tk_status check_after(const tkc_pipeline_options *o, const tk_ir_module *m, const char *pass) {
  if (!o->verify_each) return TK_STATUS_OK;
  return tk_status_annotate(tk_ir_verify(m), "after %s", pass);
}

tk_status tkc_pipeline_run(const tk_arch *arch, const tkc_pipeline_options *o, tk_ir_module **out) {
  static const struct {
    const char *name;
    tkc_pass_fn run;
  } passes[] = {
      {"pad", tk_ir_pass_pad},                     /* GRAPH   -> PADDED  */
      {"fuse", tk_ir_pass_fuse},                   /* PADDED  -> FUSED   */
      {"plan-buffers", tk_ir_pass_plan_buffers},   /* FUSED   -> PLANNED */
      {"schedule-gpu", tk_ir_pass_schedule_gpu},   /* PLANNED -> GPU     */
      {"schedule-cpu", tk_ir_pass_schedule_cpu},   /* GPU     -> CPU     */
  };
  *out = NULL;
  tk_ir_module *m = NULL;
  TK_RETURN_IF_ERROR(tkc_lower_arch(arch, &o->ir, &m));
  tk_status s = check_after(o, m, "lower");
  for (size_t i = 0; !s && i < sizeof passes / sizeof passes[0] && m->stage < o->stop_after; i++) {
    s = tk_status_annotate(passes[i].run(m), "in pass %s", passes[i].name);
    if (!s) s = check_after(o, m, passes[i].name);
  }
  if (s) {
    tk_ir_module_free(m);
    return s;
  }
  *out = m;
  return TK_STATUS_OK;
}
