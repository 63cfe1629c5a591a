/* compiler/bundle_cli.c — the flags of `tkc compile` that build a bundle, parsed into
 * tkc_options one at a time so the command's own loop (compiler/cmd_compile.c, which also
 * handles --emit) can hand over whatever it does not know. */
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "codegen/codegen.h"
#include "compiler/tkc.h"

const char tkc_compile_flags_help[] =
    "  -o DIR            write the bundle to DIR (created with its parents; an existing\n"
    "                    bundle there is replaced only when the compile succeeds)\n"
    "  --targets LIST    comma list of amdgcn, nvptx, x86_64, x86_64-simt\n"
    "                    (default " TKC_DEFAULT_TARGETS ")\n"
    "  --offload-arch L  amdgcn: comma list of gfx processors, one code object each in\n"
    "                    model.hsaco (default " TKC_DEFAULT_OFFLOAD_ARCH ")\n"
    "  --code-object-version 4|5\n"
    "                    amdgcn code-object version for every gfx (default: 4 for gfx90a\n"
    "                    and older, which ROCm 5 needs; 5 for gfx94x and gfx11xx)\n"
    "  --cuda-arch LIST  nvptx: comma list of sm names, one model.<sm>.ptx each\n"
    "                    (default " TKC_DEFAULT_CUDA_ARCH ")\n"
    "  --cpu LIST        the CPUs of the x86_64 code, one code object and CPU schedule each\n"
    "                    (the runtime runs the best the host supports): a comma list of\n"
    "                    x86-64, x86-64-v2, x86-64-v3, x86-64-v4, native, or cores such as\n"
    "                    haswell, skylake-avx512, icelake-server, znver3, znver4, at most\n"
    "                    one per level (default " TKC_DEFAULT_CPU "; views show\n"
    "                    the first)\n"
    "  --max-batch N     largest batch one launch handles, 1..2^30 (default 65536)\n"
    "  --dispatch dense|sparse\n"
    "                    how an MoE's experts see the batch: sparse (default: a counting\n"
    "                    sort lists each expert's rows; the expert runs on those only,\n"
    "                    proved like the rest, docs/proofs.md) or dense (every expert runs\n"
    "                    on every row, the combine masks; same answers bit for bit)\n"
    "  --gpu-schedule simple|tiled\n"
    "                    the GPU code's GEMM and norm launches: simple (default: one\n"
    "                    thread per output or row, operands from global memory) or tiled\n"
    "                    (a workgroup per 16-row tile, K-slices staged in LDS / shared\n"
    "                    memory between barriers, 4 x 4 outputs per thread, the tile's\n"
    "                    width per GPU: 64 gfx9, 32 gfx10+, 128 sm_*, each such tile set\n"
    "                    its own code, stub and proofs; a norm as the GEMM's epilogue or\n"
    "                    a workgroup per row, its sums through shared memory; docs/ir.md)\n"
    "  --layer N         the decoder layer of a Hugging Face config.json whose MoE block\n"
    "                    is compiled (default 0; docs/formats.md section 7)\n"
    "  --quiet           no progress lines on stderr\n";

/* Matches `--name VALUE` or `--name=VALUE`; *value is NULL when the flag is not `name`. */
static tkc_flag_result take_value(const char *name, int argc, char **argv, int *i,
                                  const char **value, char *err, size_t err_size) {
  const char *a = argv[*i];
  size_t n = strlen(name);
  *value = NULL;
  if (strncmp(a, name, n) != 0) return TKC_FLAG_NOT_OURS;
  if (a[n] == '=') {
    *value = a + n + 1;
  } else if (a[n] == '\0') {
    if (*i + 1 >= argc) {
      snprintf(err, err_size, "%s needs a value", name);
      return TKC_FLAG_BAD;
    }
    *value = argv[++*i];
  } else {
    return TKC_FLAG_NOT_OURS;
  }
  return TKC_FLAG_TAKEN;
}

static tkc_flag_result parse_max_batch(tkc_options *o, const char *v, char *err, size_t err_size) {
  char *end = NULL;
  errno = 0;
  long long n = strtoll(v, &end, 10);
  if (errno || end == v || *end || n < 1 || n > (1LL << 30)) {
    snprintf(err, err_size, "--max-batch '%s': expected an integer from 1 to 2^30", v);
    return TKC_FLAG_BAD;
  }
  o->max_batch = n;
  return TKC_FLAG_TAKEN;
}

static tkc_flag_result parse_dispatch(tkc_options *o, const char *v, char *err, size_t err_size) {
  if (strcmp(v, "dense") != 0 && strcmp(v, "sparse") != 0) {
    snprintf(err, err_size, "--dispatch '%s': expected dense or sparse", v);
    return TKC_FLAG_BAD;
  }
  o->dispatch = v[0] == 's' ? TK_DISPATCH_SPARSE : TK_DISPATCH_DENSE;
  return TKC_FLAG_TAKEN;
}

static tkc_flag_result parse_gpu_schedule(tkc_options *o, const char *v, char *err,
                                          size_t err_size) {
  if (strcmp(v, "simple") != 0 && strcmp(v, "tiled") != 0) {
    snprintf(err, err_size, "--gpu-schedule '%s': expected simple or tiled", v);
    return TKC_FLAG_BAD;
  }
  o->gpu_schedule = v[0] == 't' ? TK_GPU_SCHEDULE_TILED : TK_GPU_SCHEDULE_SIMPLE;
  return TKC_FLAG_TAKEN;
}

static tkc_flag_result parse_layer(tkc_options *o, const char *v, char *err, size_t err_size) {
  char *end = NULL;
  errno = 0;
  long n = strtol(v, &end, 10);
  if (errno || end == v || *end || n < 0 || n > INT32_MAX) {
    snprintf(err, err_size, "--layer '%s': expected an integer from 0 to 2^31-1", v);
    return TKC_FLAG_BAD;
  }
  o->layer = (int32_t)n;
  return TKC_FLAG_TAKEN;
}

static tkc_flag_result parse_cov(tkc_options *o, const char *v, char *err, size_t err_size) {
  if (strcmp(v, "4") != 0 && strcmp(v, "5") != 0) {
    snprintf(err, err_size, "--code-object-version '%s': expected 4 or 5", v);
    return TKC_FLAG_BAD;
  }
  o->code_object_version = v[0] - '0';
  return TKC_FLAG_TAKEN;
}

tkc_flag_result tkc_options_parse_flag(tkc_options *o, int argc, char **argv, int *i, char *err,
                                       size_t err_size) {
  if (!strcmp(argv[*i], "--quiet")) {
    o->quiet = true;
    return TKC_FLAG_TAKEN;
  }
  static const char *const names[] = {"-o",
                                      "--targets",
                                      "--cpu",
                                      "--max-batch",
                                      "--offload-arch",
                                      "--cuda-arch",
                                      "--code-object-version",
                                      "--dispatch",
                                      "--gpu-schedule",
                                      "--layer"};
  for (size_t k = 0; k < sizeof names / sizeof names[0]; k++) {
    const char *v;
    tkc_flag_result r = take_value(names[k], argc, argv, i, &v, err, err_size);
    if (r != TKC_FLAG_TAKEN) {
      if (r == TKC_FLAG_BAD) return r;
      continue;
    }
    switch (k) {
      case 0: o->out_dir = v; break;
      case 1: o->targets = v; break;
      case 2: o->cpu = v; break;
      case 3: return parse_max_batch(o, v, err, err_size);
      case 4: o->offload_arch = v; break;
      case 5: o->cuda_arch = v; break;
      case 6: return parse_cov(o, v, err, err_size);
      case 7: return parse_dispatch(o, v, err, err_size);
      case 8: return parse_gpu_schedule(o, v, err, err_size);
      default: return parse_layer(o, v, err, err_size);
    }
    return TKC_FLAG_TAKEN;
  }
  return TKC_FLAG_NOT_OURS;
}
