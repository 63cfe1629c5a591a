/* compiler/driver.c — tkc_compile: the whole compiler as one pass table, run in order.
 *
 *   arch          load + canonical form + fingerprint              (model/arch.h)   view arch
 *   lower         arch -> graph IR with contracts                  (compiler/lower.h) view ir
 *   pad           fold pad/slice rows into clamps and limits       (ir/ir.h)        view ir-padded
 *   fuse          graph -> fused kernels of row-local phases
 *   plan-buffers  kernel arguments -> physical buffers                              view ir-fused
 *   schedule-gpu  workgroups, threads, grids                                        view ir-gpu
 *   schedule-cpu  row blocks and register tiles      views ir-cpu, obligations (unsolved SMT-LIB2)
 *   verify        [--mutant applied] every obligation discharged   (verify/verify.h)
 *   codegen       one code object per target and arch, in memory   (codegen/codegen.h);
 *                 each unoptimised module is translation-validated first (verify/tv.h)
 *                                                        views llvm-unopt, llvm, asm (one target)
 *   offload       the amdgcn code objects -> model.hsaco           (codegen/offload_bundle.h)
 *   stub          model_host.c / .h, then the host class on its text   (codegen/hoststub.h)
 *   levels        each further --cpu: a sub-job of this table from arch to stub for that CPU
 *                 (x86_64 code only): its own CPU schedule, proofs, code object and stub
 *                 (docs/abi.md "CPU levels"); the first --cpu is the module's
 *   tile-sets     under --gpu-schedule tiled, each further GPU tile set among the archs
 *                 (tk_ir_gpu_tile_set_of_arch): a sub-job for that set's GPU units, with its
 *                 own GPU schedule, proofs, code objects and stub (docs/abi.md "GPU tile
 *                 sets"); the first GPU arch's set is the module's
 *   write         temp dir: code, stub, model_host.so, the sub-jobs' files, manifest, the marker; one
 *                 rename into place (termination signals held meanwhile: runtime/fs.h)
 *
 * The `host` class (verify/verify.h) is proved where its inputs come to exist: the kernel ABI
 * of each GPU code unit in codegen (on the unit's unoptimised LLVM IR, parsed back by the
 * verifier, before the shipped form is built), the stub's formulas in stub; both append to the
 * verify pass's report (the bundle's proofs/ and the manifest's counts).
 *
 * `--emit=VIEW` is stop_after + dump_after of the view's pass; `tkc verify` stops after
 * verify; `tkc opt` runs the IR passes (ir_run) alone on a parsed dump. Everything that can
 * fail for a reason of the inputs fails before the temp dir exists; from then on every error
 * removes the temp dir, so a failed compile leaves nothing. Each stage prints one progress
 * line with its time on stderr unless quiet (times never go into the bundle).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <time.h>

#include "codegen/codegen.h"
#include "codegen/gpu_resources.h"
#include "codegen/hoststub.h"
#include "codegen/offload_bundle.h"
#include "compiler/bundle_fs.h"
#include "compiler/manifest.h"
#include "model/hf_config.h"
#include "compiler/lower.h"
#include "compiler/tkc.h"
#include "runtime/fs.h"
#include "runtime/sha256.h"
#include "tk/version.h"
#include "verify/mutants.h"
#include "verify/tv.h"
#include "verify/verify.h"
#include "tk/alloc.h"

#ifndef TK_Z3_VERSION
#define TK_Z3_VERSION "unknown"
#endif
#ifndef TK_RUNTIME_INCLUDE_DIR
#define TK_RUNTIME_INCLUDE_DIR "runtime/include"
#endif

enum { TKC_MAX_TARGETS = 16, TKC_MAX_CPUS = 4 /* one per x86-64 psABI level */ };

/* Where tk/launch.h and tk/status.h are, for building model_host.so: an installed tkc finds
 * them beside its own binary (<prefix>/bin/tkc → <prefix>/include); a tkc run from its build
 * tree uses the source tree's runtime/include. Writes into buf (size n) and returns it. */
static const char *runtime_include_dir(char *buf, size_t n) {
  char exe[4096];
  ssize_t len = readlink("/proc/self/exe", exe, sizeof exe - 1);
  if (len > 0) {
    exe[len] = '\0';
    char *slash = strrchr(exe, '/');
    if (slash) {
      *slash = '\0';
      snprintf(buf, n, "%s/../include", exe);
      char probe[4400];
      if (snprintf(probe, sizeof probe, "%s/tk/launch.h", buf) < (int)sizeof probe &&
          access(probe, R_OK) == 0)
        return buf;
    }
  }
  snprintf(buf, n, "%s", TK_RUNTIME_INCLUDE_DIR);
  return buf;
}

/* One compiled unit: a CPU target, or one arch of a GPU target (manifest `targets` entry). */
typedef struct bundle_target {
  char kind[32];
  char arch[32];        /* amdgcn: gfx name; nvptx: sm name; "" for x86 targets */
  int cov;              /* amdgcn: code-object version, else 0 */
  char file[64];        /* amdgcn: model.hsaco (shared by every gfx); nvptx: model.<sm>.ptx */
  char *cpu, *features; /* as resolved by codegen (malloc'd) */
  tk_cg_blob code;      /* .so, ET_DYN code object (inside model.hsaco) or PTX text */
  tk_ir_gpu_tile_set tile_set; /* a GPU unit's (tiled schedule; else the module's) */
  bool elsewhere;              /* compiled by its tile set's sub-job, not by this job */
} bundle_target;

#define TKC_HSACO_FILE "model.hsaco"

typedef struct tkc_job {
  const tkc_options *o;
  tk_arch arch;
  char *canonical;
  tk_ir_module *m;
  tk_verify_report *proofs; /* the verify stage's report (texts kept for proofs/) */
  int ntargets;
  bundle_target targets[TKC_MAX_TARGETS];
  tk_cg_blob hsaco; /* the offload bundle of the amdgcn units (empty when none) */
  char *stub_c, *stub_h;
  char *tmp; /* the temp dir, during the write stage only */
  struct timespec t0;
  const tkc_view *emit; /* --emit's view, or NULL */
  const tkc_pass *stop; /* the last pass to run (NULL = all, into the bundle) */
  FILE *dump;           /* where views go */
  tk_ir_options ir;     /* the schedule options (--max-batch, the first --cpu) */
  /* The --cpu list, each with its psABI level: cpus[0] is the primary CPU, whose schedule
   * the module holds (the x86_64 unit, the stub, proofs/ and every view are its); each
   * further one is compiled by a sub-job of its own in the `levels` pass (levels[k]). */
  int ncpus;
  char cpus[TKC_MAX_CPUS][64], cpu_levels[TKC_MAX_CPUS][16];
  struct tkc_job *levels[TKC_MAX_CPUS];
  tkc_options level_options[TKC_MAX_CPUS];
  /* A further level's sub-job: the level, which names its files (model.x86_64.<level>.so,
   * model_host.<level>.c/.h/.so, proofs/<level>/); NULL in the main job. */
  const char *level;
  const struct tkc_job *primary; /* a further level's: the main job, whose GPU schedule it has */
  /* Under --gpu-schedule tiled, the further GPU tile sets (those other than the module's,
   * ir.gpu_tiles, the first GPU unit's): each compiled by a sub-job of the `tile-sets` pass
   * (sets[set]) from its own --targets / --offload-arch / --cuda-arch lists (set_lists). */
  struct tkc_job *sets[TK_GPU_TILES_COUNT];
  tkc_options set_options[TK_GPU_TILES_COUNT];
  char set_lists[TK_GPU_TILES_COUNT][3][512];
  /* A further tile set's sub-job: "gpu-<set>", which names its files (model.gpu-<set>.hsaco,
   * model_host.gpu-<set>.c/.h/.so, proofs/gpu-<set>/); NULL otherwise. */
  const char *set_name;
  char set_names[TK_GPU_TILES_COUNT][16];
  char stub_base[64];  /* model_host, model_host.<level> or model_host.gpu-<set> */
  char hsaco_file[64]; /* model.hsaco or model.gpu-<set>.hsaco */
  /* Every proof of this compile, by query (verify.h tk_verify_cache): the main job's, which
   * its sub-jobs share; a further GPU arch, CPU level or tile set repeats many queries. */
  tk_verify_cache *cache;
} tkc_job;
typedef tkc_job bundle_job;

void tkc_options_default(tkc_options *o) {
  *o = (tkc_options){.targets = TKC_DEFAULT_TARGETS,
                     .cpu = TKC_DEFAULT_CPU,
                     .max_batch = TKC_DEFAULT_MAX_BATCH,
                     .dispatch = TK_DISPATCH_SPARSE,
                     .layer = -1};
}

/* ---- progress ---------------------------------------------------------------------------- */

static void stage_start(bundle_job *j) { clock_gettime(CLOCK_MONOTONIC, &j->t0); }

/* A sub-job's name (its level or tile set), NULL in the main job. */
static const char *sub_name(const bundle_job *j) { return j->level ? j->level : j->set_name; }

static void stage_done(bundle_job *j, const char *stage, const char *detail) {
  if (j->o->quiet) return;
  struct timespec t1;
  clock_gettime(CLOCK_MONOTONIC, &t1);
  double ms = (double)(t1.tv_sec - j->t0.tv_sec) * 1e3 + (double)(t1.tv_nsec - j->t0.tv_nsec) / 1e6;
  fprintf(j->o->progress ? j->o->progress : stderr, "tkc compile: %s%s%-8s %9.1f ms  %s\n",
          sub_name(j) ? sub_name(j) : "", sub_name(j) ? " " : "", stage, ms, detail);
}

/* ---- options ----------------------------------------------------------------------------- */

static bool known_target(const char *name) {
  for (const char *const *t = tk_cg_target_names(); *t; t++)
    if (!strcmp(*t, name)) return true;
  return false;
}

static bool is_kind(const bundle_target *t, const char *kind) { return !strcmp(t->kind, kind); }

/* The next item of the comma list at *p into out (advancing *p); `flag` names the list. */
static tk_status next_item(const char **p, char *out, size_t size, const char *flag,
                           const char *list) {
  size_t n = strcspn(*p, ",");
  if (n == 0 || n >= size)
    return tk_status_make(TK_INVALID_ARGUMENT, "%s '%s': empty or overlong name", flag, list);
  memcpy(out, *p, n);
  out[n] = '\0';
  *p += n;
  if (**p == ',' && !*++*p)
    return tk_status_make(TK_INVALID_ARGUMENT, "%s '%s': empty name after the last comma", flag,
                          list);
  return TK_STATUS_OK;
}

/* The amdgcn units' offload bundle: model.hsaco, or model.gpu-<set>.hsaco in a tile set's
 * sub-job. */
static const char *hsaco_file(bundle_job *j) {
  if (!j->set_name) return TKC_HSACO_FILE;
  snprintf(j->hsaco_file, sizeof j->hsaco_file, "model.%s.hsaco", j->set_name);
  return j->hsaco_file;
}

/* Appends one unit; `arch` is "" for x86 targets. Files: docs/abi.md, docs/abi.md "Bundle layout". */
static tk_status add_unit(bundle_job *j, const char *kind, const char *arch, const char *flag) {
  for (int i = 0; i < j->ntargets; i++)
    if (is_kind(&j->targets[i], kind) && !strcmp(j->targets[i].arch, arch))
      return tk_status_make(TK_INVALID_ARGUMENT, "%s: '%s' given twice", flag, *arch ? arch : kind);
  if (j->ntargets == TKC_MAX_TARGETS)
    return tk_status_make(TK_INVALID_ARGUMENT, "%s: more than %d targets and archs in all", flag,
                          TKC_MAX_TARGETS);
  bundle_target *t = &j->targets[j->ntargets++];
  snprintf(t->kind, sizeof t->kind, "%s", kind);
  snprintf(t->arch, sizeof t->arch, "%s", arch);
  if (is_kind(t, "amdgcn")) {
    t->cov = tk_cg_amdgcn_code_object_version(arch, j->o->code_object_version);
    snprintf(t->file, sizeof t->file, "%s", hsaco_file(j));
  } else if (is_kind(t, "nvptx")) {
    snprintf(t->file, sizeof t->file, "model.%s.ptx", arch);
  } else if (j->level && !strcmp(kind, "x86_64")) {
    snprintf(t->file, sizeof t->file, "model.%s.%s.so", kind, j->level);
  } else {
    snprintf(t->file, sizeof t->file, "model.%s.so", kind);
  }
  return TK_STATUS_OK;
}

/* One unit per arch of a GPU target (--offload-arch / --cuda-arch). */
static tk_status add_gpu_units(bundle_job *j, const char *kind, const char *flag,
                               const char *list) {
  const char *p = list;
  if (!*p) return tk_status_make(TK_INVALID_ARGUMENT, "%s: empty list", flag);
  while (*p) {
    char arch[32];
    TK_RETURN_IF_ERROR(next_item(&p, arch, sizeof arch, flag, list));
    TK_RETURN_IF_ERROR(add_unit(j, kind, arch, flag));
  }
  return TK_STATUS_OK;
}

static bool emits_code(const bundle_job *j) { return j->emit && !strcmp(j->emit->pass, "codegen"); }

/* A GPU target's arch list: the flag's, else the default; a code view (--emit=llvm|asm) of
 * the default takes its first arch only. */
static tk_status gpu_units(bundle_job *j, const char *kind, const char *flag, const char *given,
                           const char *dflt) {
  char first[32];
  if (!given && emits_code(j)) {
    snprintf(first, sizeof first, "%.*s", (int)strcspn(dflt, ","), dflt);
    dflt = first;
  }
  return add_gpu_units(j, kind, flag, given ? given : dflt);
}

static tk_status parse_targets(bundle_job *j, const char *list) {
  const tkc_options *o = j->o;
  const char *p = list ? list : TKC_DEFAULT_TARGETS;
  while (*p) {
    char kind[32];
    TK_RETURN_IF_ERROR(next_item(&p, kind, sizeof kind, "--targets", list));
    if (!known_target(kind))
      return tk_status_make(TK_INVALID_ARGUMENT,
                            "--targets: unknown target '%s' (this tkc builds amdgcn, nvptx, "
                            "x86_64 and the test-only x86_64-simt)",
                            kind);
    if (!strcmp(kind, "amdgcn"))
      TK_RETURN_IF_ERROR(
          gpu_units(j, kind, "--offload-arch", o->offload_arch, TKC_DEFAULT_OFFLOAD_ARCH));
    else if (!strcmp(kind, "nvptx"))
      TK_RETURN_IF_ERROR(gpu_units(j, kind, "--cuda-arch", o->cuda_arch, TKC_DEFAULT_CUDA_ARCH));
    else
      TK_RETURN_IF_ERROR(add_unit(j, kind, "", "--targets"));
  }
  if (!j->ntargets) return tk_status_make(TK_INVALID_ARGUMENT, "--targets: empty list");
  return TK_STATUS_OK;
}

static const tkc_view *first_view(const tkc_pass *p);

/* --emit, --stop-after and --dump-after against the pass table; whether a bundle is written. */
static tk_status resolve_passes(bundle_job *j) {
  const tkc_options *o = j->o;
  if (o->emit && !(j->emit = tkc_view_find(o->emit)))
    return tk_status_make(TK_INVALID_ARGUMENT,
                          "--emit=%s: no such view; expected one of "
                          "arch, ir, ir-padded, ir-fused, ir-gpu, ir-cpu, obligations, "
                          "llvm-unopt, llvm, asm",
                          o->emit);
  if (o->stop_after && !(j->stop = tkc_pass_find(o->stop_after)))
    return tk_status_make(TK_INVALID_ARGUMENT,
                          "--stop-after=%s: no such pass (tkc compile "
                          "--list-passes)",
                          o->stop_after);
  if (j->emit) j->stop = tkc_pass_find(j->emit->pass);
  for (const char *p = o->dump_after; p && *p;) {
    char name[32];
    TK_RETURN_IF_ERROR(next_item(&p, name, sizeof name, "--dump-after", o->dump_after));
    const tkc_pass *pass = tkc_pass_find(name);
    if (!pass)
      return tk_status_make(TK_INVALID_ARGUMENT,
                            "--dump-after: no such pass '%s' (tkc compile "
                            "--list-passes)",
                            name);
    if (!pass->ir_run && !first_view(pass))
      return tk_status_make(TK_INVALID_ARGUMENT,
                            "--dump-after: pass '%s' has no dump (the "
                            "passes with one: tkc compile --list-passes)",
                            name);
  }
  if (!j->stop && (!o->out_dir || !*o->out_dir))
    return tk_status_make(TK_INVALID_ARGUMENT, "no output directory (-o DIR)");
  j->dump = o->dump ? o->dump : stdout;
  return TK_STATUS_OK;
}

/* The level and AVX-512 of --cpu item `cpu` (native resolved); info->name is not kept. */
static tk_status x86_cpu_of(const char *cpu, tk_cg_x86_cpu *info) {
  tk_cg_options cg;
  tk_cg_options_default(&cg);
  cg.cpu = cpu;
  char *name, *features;
  TK_RETURN_IF_ERROR(tk_cg_cpu_resolve(&cg, &name, &features));
  tk_status s = tk_cg_x86_cpu_info(name, features, info);
  info->name = NULL; /* freed below; the level and avx512 are static */
  free(name);
  free(features);
  return s;
}

/* The psABI level of --cpu item `cpu` ("znver4" -> "x86-64-v4"). */
static tk_status cpu_level_of(const char *cpu, char *level, size_t size) {
  tk_cg_x86_cpu info;
  TK_RETURN_IF_ERROR(x86_cpu_of(cpu, &info));
  snprintf(level, size, "%s", info.level);
  return TK_STATUS_OK;
}

/* --cpu: one CPU or a comma list, each a distinct psABI level (a bundle holds one x86_64 code
 * object per level, and the runtime chooses among them by level). */
static tk_status parse_cpus(bundle_job *j) {
  const char *list = j->o->cpu ? j->o->cpu : TKC_DEFAULT_CPU, *p = list;
  if (!*p) return tk_status_make(TK_INVALID_ARGUMENT, "--cpu: empty list");
  while (*p) {
    if (j->ncpus == TKC_MAX_CPUS)
      return tk_status_make(TK_INVALID_ARGUMENT, "--cpu '%s': more than %d CPUs", list,
                            TKC_MAX_CPUS);
    int k = j->ncpus;
    TK_RETURN_IF_ERROR(next_item(&p, j->cpus[k], sizeof j->cpus[k], "--cpu", list));
    TK_RETURN_IF_ERROR(cpu_level_of(j->cpus[k], j->cpu_levels[k], sizeof j->cpu_levels[k]));
    for (int i = 0; i < k; i++) {
      if (!strcmp(j->cpus[i], j->cpus[k]))
        return tk_status_make(TK_INVALID_ARGUMENT, "--cpu '%s': '%s' given twice", list,
                              j->cpus[k]);
      if (!strcmp(j->cpu_levels[i], j->cpu_levels[k]))
        return tk_status_make(TK_INVALID_ARGUMENT,
                              "--cpu '%s': '%s' and '%s' are both level %s (a bundle holds one "
                              "x86_64 code object per level)",
                              list, j->cpus[i], j->cpus[k], j->cpu_levels[k]);
    }
    j->ncpus++;
  }
  return TK_STATUS_OK;
}

static bool has_x86_64(const bundle_job *j) {
  for (int i = 0; i < j->ntargets; i++)
    if (is_kind(&j->targets[i], "x86_64")) return true;
  return false;
}

/* Each GPU unit's tile set under the tiled schedule; the module's is the first GPU unit's, and
 * the units of any other set are `elsewhere` (compiled by the set's sub-job). The simple
 * schedule has no tile sets: every unit is the module's. */
static void assign_tile_sets(bundle_job *j) {
  bool tiled = j->ir.gpu_schedule == TK_GPU_SCHEDULE_TILED, first = true;
  if (j->primary) j->ir.gpu_tiles = j->primary->ir.gpu_tiles; /* a level: no GPU unit of its own */
  for (int i = 0; i < j->ntargets; i++) {
    bundle_target *t = &j->targets[i];
    if (!*t->arch) continue;
    t->tile_set = tiled ? tk_ir_gpu_tile_set_of_arch(t->arch) : TK_GPU_TILES_CDNA;
    if (first) j->ir.gpu_tiles = t->tile_set;
    first = false;
    t->elsewhere = t->tile_set != j->ir.gpu_tiles;
  }
}

static tk_status check_options(bundle_job *j) {
  const tkc_options *o = j->o;
  TK_RETURN_IF_ERROR(resolve_passes(j));
  if (!j->stop && o->out_dir) /* refused now rather than after the whole compile */
    TK_RETURN_IF_ERROR(tk_fs_check_replaceable(o->out_dir));
  if (o->max_batch < 1 || o->max_batch > (INT64_C(1) << 30))
    return tk_status_make(TK_INVALID_ARGUMENT, "--max-batch %lld: expected 1 to 2^30",
                          (long long)o->max_batch);
  tk_ir_options_default(&j->ir);
  j->ir.bmax = o->max_batch;
  j->ir.dispatch = o->dispatch;
  j->ir.gpu_schedule = o->gpu_schedule;
  TK_RETURN_IF_ERROR(parse_cpus(j));
  TK_RETURN_IF_ERROR(tkc_ir_options_set_cpu(&j->ir, j->cpus[0]));
  TK_RETURN_IF_ERROR(tk_cg_mutant_check(o->cg_mutant));
  if (o->code_object_version != 0 && o->code_object_version != 4 && o->code_object_version != 5)
    return tk_status_make(TK_INVALID_ARGUMENT, "--code-object-version %d: expected 4 or 5",
                          o->code_object_version);
  TK_RETURN_IF_ERROR(parse_targets(j, o->targets));
  if (emits_code(j) && j->ntargets != 1)
    return tk_status_make(TK_INVALID_ARGUMENT,
                          "--emit=%s: give one target with --targets "
                          "(amdgcn, nvptx, x86_64 or x86_64-simt) and at most one arch, not '%s'",
                          j->emit->name, o->targets ? o->targets : TKC_DEFAULT_TARGETS);
  if (!has_x86_64(j)) j->ncpus = 1; /* no x86_64 code: only the primary schedule, as proved */
  assign_tile_sets(j);
  if (j->ntargets + j->ncpus - 1 > TKC_MAX_TARGETS)
    return tk_status_make(TK_INVALID_ARGUMENT, "--targets and --cpu: more than %d units in all",
                          TKC_MAX_TARGETS);
  return TK_STATUS_OK;
}

/* ---- stages ------------------------------------------------------------------------------ */

static tk_status stage_arch(bundle_job *j, const tkc_pass *p) {
  if (j->o->arch)
    j->arch = *j->o->arch;
  else if (!j->o->arch_path)
    return tk_status_make(TK_INVALID_ARGUMENT, "no arch.json given");
  else
    TK_RETURN_IF_ERROR(tk_arch_load_input(j->o->arch_path, j->o->layer, &j->arch));
  TK_RETURN_IF_ERROR(tk_arch_canonical_json(&j->arch, &j->canonical));
  char detail[96];
  snprintf(detail, sizeof detail, "%s %s, fingerprint %s", tk_arch_size_name(j->arch.size),
           tk_arch_model_kind_name(j->arch.model_kind), j->arch.fingerprint);
  stage_done(j, p->name, detail);
  return TK_STATUS_OK;
}

static tk_status stage_lower(bundle_job *j, const tkc_pass *p) {
  TK_RETURN_IF_ERROR(tkc_lower_arch(&j->arch, &j->ir, &j->m));
  char detail[64];
  snprintf(detail, sizeof detail, "%d tensors, %d ops", j->m->ntensors, j->m->nops);
  stage_done(j, p->name, detail);
  return TK_STATUS_OK;
}

/* One IR pass, then the structural checker (QBE's ssacheck): a failure names the pass. */
static tk_status run_ir_pass(tk_ir_module *m, const tkc_pass *p, bool check) {
  TK_RETURN_IF_ERROR(tk_status_annotate(p->ir_run(m), "in pass %s", p->name));
  return check ? tk_status_annotate(tk_ir_verify(m), "after %s", p->name) : TK_STATUS_OK;
}

static tk_status stage_ir(bundle_job *j, const tkc_pass *p) {
  TK_RETURN_IF_ERROR(run_ir_pass(j->m, p, true));
  char detail[96];
  snprintf(detail, sizeof detail, "%d buffers, %d fused / %d gpu / %d cpu kernels", j->m->nbuffers,
           tk_ir_module_kernels(j->m, TK_TARGET_NONE)->n,
           tk_ir_module_kernels(j->m, TK_TARGET_GPU)->n,
           tk_ir_module_kernels(j->m, TK_TARGET_CPU)->n);
  stage_done(j, p->name, detail);
  return TK_STATUS_OK;
}

/* The verifier's options for the verify pass and the translation validation of codegen. */
static tk_verify_options verify_options(const bundle_job *j) {
  tk_verify_options vo;
  tk_verify_options_default(&vo);
  vo.keep_text = true;
  vo.solve = !j->o->no_solve;
  vo.cache = j->cache;
  vo.timing = j->o->quiet ? NULL : j->o->progress ? j->o->progress : stderr;
  return vo;
}

/* ", N queries proved earlier in this compile" (since the cache had `hits`), or "". */
#define REUSED_NOTE_SIZE 64
static const char *reused_note(const bundle_job *j, size_t hits, char note[REUSED_NOTE_SIZE]) {
  size_t n = tk_verify_cache_hits(j->cache) - hits;
  note[0] = '\0';
  if (n) snprintf(note, REUSED_NOTE_SIZE, ", %zu queries proved earlier in this compile", n);
  return note;
}

/* Applies --mutant (tests: the verifier must then refute), then proves every obligation;
 * a refuted one stops the compile before anything is written (TK_PROOF_FAILED). */
static tk_status stage_verify(bundle_job *j, const tkc_pass *p) {
  const tk_ir_kernel *mutated = NULL;
  if (j->o->mutant) TK_RETURN_IF_ERROR(tk_verify_mutant_apply(j->m, j->o->mutant, &mutated));
  tk_verify_options vo = verify_options(j);
  vo.first = mutated; /* the mutated kernel first: its refutation comes sooner */
  size_t hits = tk_verify_cache_hits(j->cache);
  TK_RETURN_IF_ERROR(tk_verify_module(j->m, &vo, &j->proofs));
  char detail[160], note[REUSED_NOTE_SIZE];
  snprintf(detail, sizeof detail, "%zu obligations proved, solver %.3f s%s",
           tk_verify_report_count(j->proofs), tk_verify_report_solver_seconds(j->proofs),
           reused_note(j, hits, note));
  stage_done(j, p->name, detail);
  return TK_STATUS_OK;
}

/* The code view a codegen unit is emitted as: the --emit view, else the shipped form. */
static tk_cg_emit unit_emit(const bundle_job *j, const bundle_target *t) {
  if (emits_code(j))
    return !strcmp(j->emit->name, "llvm-unopt") ? TK_CG_EMIT_LLVM_UNOPT
           : !strcmp(j->emit->name, "llvm")     ? TK_CG_EMIT_LLVM
                                                : TK_CG_EMIT_ASM;
  return is_kind(t, "nvptx") ? TK_CG_EMIT_ASM : TK_CG_EMIT_OBJECT;
}

/* The translation validation of one unit (tk_cg_options.validate): its obligations join the
 * bundle's report for the first unit of each target kind (later archs of a GPU target are
 * validated too, and recorded once, so proof file names stay unique). */
typedef struct unit_check {
  bundle_job *j;
  const bundle_target *t;
  bool record;
  size_t before;  /* report entries before this unit */
  double seconds; /* wall time of the validation (progress line only) */
} unit_check;

static tk_status validate_unit(void *user, struct LLVMOpaqueModule *mod, const char *target) {
  unit_check *u = user;
  tk_verify_options vo = verify_options(u->j);
  vo.timing = NULL;
  struct timespec t0, t1;
  clock_gettime(CLOCK_MONOTONIC, &t0);
  tk_status s = TK_STATUS_OK;
  if (is_kind(u->t, "amdgcn") || is_kind(u->t, "nvptx")) {
    char unit[80]; /* class host: every GPU unit's kernarg layout, recorded per unit */
    snprintf(unit, sizeof unit, "%s %s", u->t->kind, u->t->arch);
    s = tk_verify_kernel_abi(u->j->m, mod, unit, &vo, u->j->proofs);
  }
  if (!s) s = tk_verify_tv_module(u->j->m, mod, target, &vo, u->record ? u->j->proofs : NULL);
  clock_gettime(CLOCK_MONOTONIC, &t1);
  u->seconds = (double)(t1.tv_sec - t0.tv_sec) + (double)(t1.tv_nsec - t0.tv_nsec) * 1e-9;
  return s;
}

static bool first_of_kind(const bundle_job *j, const bundle_target *t) {
  for (const bundle_target *p = j->targets; p < t; p++)
    if (is_kind(p, t->kind) && !p->elsewhere) return false;
  return true;
}

static tk_cg_options unit_options(const bundle_job *j, const bundle_target *t) {
  tk_cg_options cg;
  tk_cg_options_default(&cg);
  cg.target = t->kind;
  cg.cpu = *t->arch ? t->arch : j->cpus[0];
  cg.code_object_version = t->cov;
  cg.mutant = j->o->cg_mutant;
  cg.fingerprint = j->arch.fingerprint; /* CPU objects carry it; the runtime checks it */
  return cg;
}

/* Builds the unit's unoptimised module and validates it (no pass, nothing emitted). */
static tk_status validate_unit_module(bundle_job *j, bundle_target *t) {
  stage_start(j);
  unit_check check = {.j = j, .t = t, .record = j->proofs && first_of_kind(j, t)};
  check.before = tk_verify_report_count(j->proofs);
  size_t hits = tk_verify_cache_hits(j->cache);
  tk_cg_options cg = unit_options(j, t);
  cg.validate = validate_unit;
  cg.validate_user = &check;
  tk_cg_blob none = {0};
  tk_status s = tk_cg_compile(j->m, &cg, TK_CG_EMIT_NONE, &none);
  tk_cg_blob_free(&none);
  TK_RETURN_IF_ERROR(tk_status_annotate(s, "target %s %s", t->kind, t->arch));
  char detail[224], note[REUSED_NOTE_SIZE];
  snprintf(detail, sizeof detail, "%s%s%s: %zu obligations proved%s, %.3f s%s", t->kind,
           *t->arch ? " " : "", t->arch, tk_verify_report_count(j->proofs) - check.before,
           check.record ? "" : " (recorded once per target)", check.seconds,
           reused_note(j, hits, note));
  stage_done(j, "validate", detail);
  return TK_STATUS_OK;
}

static tk_status codegen_unit(bundle_job *j, bundle_target *t) {
  stage_start(j);
  tk_cg_options cg = unit_options(j, t);
  TK_RETURN_IF_ERROR(tk_cg_cpu_resolve(&cg, &t->cpu, &t->features));
  tk_cg_emit what = unit_emit(j, t);
  tk_status s = what == TK_CG_EMIT_OBJECT ? tk_cg_compile_shared(j->m, &cg, &t->code)
                                          : tk_cg_compile(j->m, &cg, what, &t->code);
  TK_RETURN_IF_ERROR(tk_status_annotate(s, "target %s %s", t->kind, t->arch));
  char detail[128];
  snprintf(detail, sizeof detail, "%s (%s%s), %zu bytes", t->file, t->cpu,
           t->cov == 4   ? ", cov4"
           : t->cov == 5 ? ", cov5"
                         : "",
           t->code.size);
  stage_done(j, "codegen", detail);
  return TK_STATUS_OK;
}

/* Every unit is validated before any is optimised, so a refuted one fails fast. */
static tk_status stage_codegen(bundle_job *j, const tkc_pass *p) {
  (void)p;
  for (int i = 0; i < j->ntargets; i++)
    if (!j->targets[i].elsewhere) TK_RETURN_IF_ERROR(validate_unit_module(j, &j->targets[i]));
  for (int i = 0; i < j->ntargets; i++)
    if (!j->targets[i].elsewhere) TK_RETURN_IF_ERROR(codegen_unit(j, &j->targets[i]));
  return TK_STATUS_OK;
}

/* The amdgcn code objects, in --offload-arch order, → one offload bundle. */
static tk_status stage_offload(bundle_job *j, const tkc_pass *p) {
  const char *gfx[TKC_MAX_TARGETS];
  tk_cg_blob objects[TKC_MAX_TARGETS];
  int n = 0;
  for (int i = 0; i < j->ntargets; i++)
    if (is_kind(&j->targets[i], "amdgcn") && !j->targets[i].elsewhere) {
      gfx[n] = j->targets[i].arch;
      objects[n++] = j->targets[i].code;
    }
  if (!n) return TK_STATUS_OK;
  TK_RETURN_IF_ERROR(tk_cg_offload_bundle_hip(gfx, objects, n, &j->hsaco));
  char detail[160];
  snprintf(detail, sizeof detail, "%s, %d code objects, %zu bytes", hsaco_file(j), n,
           j->hsaco.size);
  stage_done(j, p->name, detail);
  return TK_STATUS_OK;
}

/* The stub's file names without suffix: model_host, or model_host.<name> in a sub-job. */
static const char *stub_base(bundle_job *j) {
  if (!sub_name(j)) return TK_STUB_BASE;
  snprintf(j->stub_base, sizeof j->stub_base, TK_STUB_BASE ".%s", sub_name(j));
  return j->stub_base;
}

/* The stub's text, then class host on it (tk_verify_host_stub): a refuted formula stops the
 * compile before anything is written. */
static tk_status stage_stub(bundle_job *j, const tkc_pass *p) {
  TK_RETURN_IF_ERROR(tk_cg_stub_generate_mutant(j->m, TK_VERSION, j->o->cg_mutant, stub_base(j),
                                                &j->stub_c, &j->stub_h));
  tk_verify_options vo = verify_options(j);
  size_t before = tk_verify_report_count(j->proofs);
  TK_RETURN_IF_ERROR(tk_verify_host_stub(j->m, j->stub_c, &vo, j->proofs));
  char detail[192];
  snprintf(detail, sizeof detail, "%s.c, %s.h, %zu host obligations proved", stub_base(j),
           stub_base(j), tk_verify_report_count(j->proofs) - before);
  stage_done(j, p->name, detail);
  return TK_STATUS_OK;
}

/* ---- further CPU levels ------------------------------------------------------------------- */

static tk_status run_passes(bundle_job *j);
static void job_free(bundle_job *j);

/* A sub-job's options: the main job's, on its loaded arch, run up to the stub, with no output
 * directory, view or dump, and nothing kept for the caller. */
static void sub_job_options(const bundle_job *j, tkc_options *o) {
  *o = *j->o;
  o->arch = &j->arch;
  o->out_dir = NULL;
  o->stop_after = "stub";
  o->emit = o->dump_after = NULL;
  o->keep_module = NULL;
  o->keep_report = NULL;
}

/* CPU k of the list, compiled by a sub-job of the same pass table up to the stub: its own
 * CPU schedule, all of its obligations proved (a refuted one fails the compile), its x86_64
 * code object and its own stub (model_host.<level>); the gpu schedule is the primary's. */
static tk_status compile_level(bundle_job *j, int k) {
  tkc_options *o = &j->level_options[k];
  sub_job_options(j, o);
  o->targets = "x86_64";
  o->cpu = j->cpus[k];
  bundle_job *sub = tk_calloc(1, sizeof *sub);
  if (!sub) return tk_status_make(TK_RESOURCE_EXHAUSTED, "--cpu %s: out of memory", j->cpus[k]);
  j->levels[k] = sub;
  sub->o = o;
  sub->cache = j->cache;
  sub->level = j->cpu_levels[k];
  sub->primary = j;
  return tk_status_annotate(run_passes(sub), "--cpu %s (level %s)", j->cpus[k], j->cpu_levels[k]);
}

static tk_status stage_levels(bundle_job *j, const tkc_pass *p) {
  for (int k = 1; k < j->ncpus; k++) {
    stage_start(j);
    TK_RETURN_IF_ERROR(compile_level(j, k));
    char detail[256];
    snprintf(detail, sizeof detail, "%s (level %s): %zu obligations proved, %s", j->cpus[k],
             j->cpu_levels[k], tk_verify_report_count(j->levels[k]->proofs),
             j->levels[k]->targets[0].file);
    stage_done(j, p->name, detail);
  }
  return TK_STATUS_OK;
}

/* ---- further GPU tile sets ---------------------------------------------------------------- */

/* Appends `item` to the comma list `list` unless it is its last item already. */
static void append_item(char *list, size_t size, const char *item) {
  size_t len = strlen(list), n = strlen(item);
  bool last = len >= n && !strcmp(list + len - n, item) && (len == n || list[len - n - 1] == ',');
  if (!last) snprintf(list + len, size - len, "%s%s", len ? "," : "", item);
}

/* Tile set `set`'s units as a sub-job's --targets, --offload-arch and --cuda-arch lists. */
static void set_unit_lists(bundle_job *j, tk_ir_gpu_tile_set set) {
  char(*lists)[512] = j->set_lists[set];
  for (int i = 0; i < j->ntargets; i++) {
    const bundle_target *t = &j->targets[i];
    if (!t->elsewhere || t->tile_set != set) continue;
    append_item(lists[0], sizeof lists[0], t->kind);
    append_item(lists[is_kind(t, "amdgcn") ? 1 : 2], sizeof lists[1], t->arch);
  }
}

/* Tile set `set`, compiled by a sub-job of the same pass table up to the stub: its units
 * alone (so its first GPU unit gives the module that set), its own GPU schedule and proofs
 * (every obligation, the CPU schedule's again; a refuted one fails the compile), code objects
 * and stub (model_host.gpu-<set>); the CPU schedule is the first --cpu's. */
static tk_status compile_tile_set(bundle_job *j, tk_ir_gpu_tile_set set) {
  set_unit_lists(j, set);
  snprintf(j->set_names[set], sizeof j->set_names[set], "gpu-%s", tk_ir_gpu_tile_set_name(set));
  tkc_options *o = &j->set_options[set];
  sub_job_options(j, o);
  o->targets = j->set_lists[set][0];
  o->offload_arch = j->set_lists[set][1];
  o->cuda_arch = j->set_lists[set][2];
  bundle_job *sub = tk_calloc(1, sizeof *sub);
  if (!sub)
    return tk_status_make(TK_RESOURCE_EXHAUSTED, "tile set %s: out of memory", j->set_names[set]);
  j->sets[set] = sub;
  sub->o = o;
  sub->cache = j->cache;
  sub->set_name = j->set_names[set];
  return tk_status_annotate(run_passes(sub), "GPU tile set %s (%s%s%s)",
                            tk_ir_gpu_tile_set_name(set), o->offload_arch,
                            *o->offload_arch && *o->cuda_arch ? "," : "", o->cuda_arch);
}

static bool set_elsewhere(const bundle_job *j, tk_ir_gpu_tile_set set) {
  for (int i = 0; i < j->ntargets; i++)
    if (j->targets[i].elsewhere && j->targets[i].tile_set == set) return true;
  return false;
}

static tk_status stage_tile_sets(bundle_job *j, const tkc_pass *p) {
  for (int set = 0; set < TK_GPU_TILES_COUNT; set++) {
    if (!set_elsewhere(j, set)) continue;
    stage_start(j);
    TK_RETURN_IF_ERROR(compile_tile_set(j, set));
    char detail[256];
    snprintf(detail, sizeof detail, "%s: %zu obligations proved, %d GPU launches",
             j->set_names[set], tk_verify_report_count(j->sets[set]->proofs),
             tk_ir_module_kernels(j->sets[set]->m, TK_TARGET_GPU)->n);
    stage_done(j, p->name, detail);
  }
  return TK_STATUS_OK;
}

/* ---- writing ----------------------------------------------------------------------------- */

static tk_status hash_text(const char *file, const char *text, tkc_file_hash *out) {
  out->file = file;
  return tk_sha256_hex(text, strlen(text), out->sha256);
}

/* The comma list of the units' archs of `kind`, or with kind NULL of their kinds (each once). */
static void join_units(const bundle_job *j, const char *kind, char *buf, size_t size) {
  size_t len = 0;
  buf[0] = '\0';
  for (int i = 0; i < j->ntargets; i++) {
    const bundle_target *t = &j->targets[i];
    if (kind ? !is_kind(t, kind) : i > 0 && is_kind(&j->targets[i - 1], t->kind)) continue;
    len +=
        (size_t)snprintf(buf + len, size - len, "%s%s", len ? "," : "", kind ? t->arch : t->kind);
    if (len >= size) len = size - 1;
  }
}

/* The certificate's options (what check-proofs regenerates the bundle with) and digest, and
 * each further CPU level's digest (levels[], the proof store names in dirs[]). */
static tk_status certificate_of(const bundle_job *j, tkc_certificate *c, char lists[3][512],
                                tkc_sub_proofs *levels, char dirs[][64]) {
  join_units(j, NULL, lists[0], sizeof lists[0]);
  join_units(j, "amdgcn", lists[1], sizeof lists[1]);
  join_units(j, "nvptx", lists[2], sizeof lists[2]);
  *c = (tkc_certificate){.targets = lists[0],
                         .offload_arch = *lists[1] ? lists[1] : NULL,
                         .cuda_arch = *lists[2] ? lists[2] : NULL,
                         .code_object_version = j->o->code_object_version,
                         .cpu = j->o->cpu ? j->o->cpu : TKC_DEFAULT_CPU,
                         .levels = levels};
  for (int k = 1; k < j->ncpus; k++) {
    const bundle_job *sub = j->levels[k];
    tkc_sub_proofs *l = &levels[c->nlevels++];
    snprintf(dirs[k], sizeof dirs[k], "proofs/%s", sub->level);
    *l = (tkc_sub_proofs){.name = sub->level, .proofs_dir = dirs[k], .m = sub->m};
    TK_RETURN_IF_ERROR(tk_verify_report_digest(sub->proofs, &l->proofs));
  }
  return tk_verify_report_digest(j->proofs, &c->proofs);
}

/* Each further tile set's name, proof store, module and digest (sets[], the store names in
 * dirs[]); returns how many. */
static tk_status tile_sets_of(const bundle_job *j, tkc_sub_proofs *sets, char dirs[][64], int *n) {
  *n = 0;
  for (int set = 0; set < TK_GPU_TILES_COUNT; set++) {
    const bundle_job *sub = j->sets[set];
    if (!sub) continue;
    snprintf(dirs[*n], 64, "proofs/%s", sub->set_name);
    tkc_sub_proofs *l = &sets[(*n)++];
    *l = (tkc_sub_proofs){
        .name = tk_ir_gpu_tile_set_name(set), .proofs_dir = dirs[*n - 1], .m = sub->m};
    TK_RETURN_IF_ERROR(tk_verify_report_digest(sub->proofs, &l->proofs));
  }
  return TK_STATUS_OK;
}

/* The manifest entry of one unit (its code hashed); `hsaco` for amdgcn units. */
static tk_status target_entry(const bundle_target *t, const tk_cg_blob *hsaco,
                              tkc_target_entry *out) {
  tk_cg_x86_cpu info = {0};
  if (!*t->arch) TK_RETURN_IF_ERROR(tk_cg_x86_cpu_info(t->cpu, t->features, &info));
  *out = *t->arch
             ? (tkc_target_entry){.kind = t->kind, .arch = t->arch, .code_object_version = t->cov}
             : (tkc_target_entry){.kind = t->kind,
                                  .cpu = info.level,
                                  .cpu_name = strcmp(t->cpu, info.level) ? t->cpu : NULL,
                                  .cpu_features = t->features};
  out->file.file = t->file;
  const tk_cg_blob *code = is_kind(t, "amdgcn") ? hsaco : &t->code;
  return tk_sha256_hex(code->data, code->size, out->file.sha256);
}

/* A stub's source and header (texts) and library (read back from the temp dir), hashed. */
static tk_status stub_hashes(const bundle_job *j, const char *base, const char *c, const char *h,
                             char names[3][80], tkc_file_hash out[3]) {
  static const char *const ext[3] = {".c", ".h", ".so"};
  for (int i = 0; i < 3; i++) snprintf(names[i], sizeof names[i], "%s%s", base, ext[i]);
  TK_RETURN_IF_ERROR(hash_text(names[0], c, &out[0]));
  TK_RETURN_IF_ERROR(hash_text(names[1], h, &out[1]));
  char *so = NULL;
  size_t so_size = 0;
  TK_RETURN_IF_ERROR(tkc_fs_read(j->tmp, names[2], &so, &so_size));
  out[2].file = names[2];
  tk_status s = tk_sha256_hex(so, so_size, out[2].sha256);
  free(so);
  return s;
}

/* Every unit's entry; the further CPU levels' right after the first x86_64 one. */
typedef struct manifest_targets {
  int n;
  tkc_target_entry entries[TKC_MAX_TARGETS];
  tkc_file_hash stubs[TKC_MAX_CPUS][3], set_stubs[TK_GPU_TILES_COUNT][3];
  char names[TKC_MAX_CPUS][3][80], set_names[TK_GPU_TILES_COUNT][3][80];
  tk_cg_kernel_resources *kernels[TKC_MAX_TARGETS]; /* amdgcn entries' figures (owned) */
  tk_cg_occupancy *occupancy[TKC_MAX_TARGETS];
} manifest_targets;

/* An amdgcn unit's kernels, read back from its code object, and their occupancy. */
static tk_status gpu_figures(const bundle_target *t, manifest_targets *mt, int slot) {
  tkc_target_entry *e = &mt->entries[slot];
  tk_cg_kernel_resources *ks = NULL;
  int n = 0;
  TK_RETURN_IF_ERROR(tk_cg_amdgpu_resources(t->code.data, t->code.size, &ks, &n));
  mt->kernels[slot] = ks;
  mt->occupancy[slot] = tk_calloc(n ? (size_t)n : 1, sizeof *mt->occupancy[slot]);
  if (!mt->occupancy[slot]) return tk_status_make(TK_RESOURCE_EXHAUSTED, "manifest: out of memory");
  for (int i = 0; i < n; i++)
    TK_RETURN_IF_ERROR(tk_cg_amdgpu_occupancy(t->arch, &ks[i], &mt->occupancy[slot][i]));
  e->nkernels = n;
  e->kernels = ks;
  e->occupancy = mt->occupancy[slot];
  return TK_STATUS_OK;
}

static tk_status level_entry(bundle_job *j, int k, manifest_targets *mt) {
  bundle_job *sub = j->levels[k];
  tkc_target_entry *e = &mt->entries[mt->n++];
  TK_RETURN_IF_ERROR(target_entry(&sub->targets[0], NULL, e));
  TK_RETURN_IF_ERROR(
      stub_hashes(j, stub_base(sub), sub->stub_c, sub->stub_h, mt->names[k], mt->stubs[k]));
  e->host_stub = mt->stubs[k];
  return TK_STATUS_OK;
}

/* The unit of kind and arch `like` in a tile set's sub-job. */
static const bundle_target *unit_like(const bundle_job *sub, const bundle_target *like) {
  for (int i = 0; i < sub->ntargets; i++)
    if (is_kind(&sub->targets[i], like->kind) && !strcmp(sub->targets[i].arch, like->arch))
      return &sub->targets[i];
  return NULL;
}

/* A GPU unit's entry: its own, or that of its tile set's sub-job with the set's stub. */
static tk_status gpu_entry(bundle_job *j, const bundle_target *t, manifest_targets *mt) {
  bundle_job *sub = t->elsewhere ? j->sets[t->tile_set] : j;
  const bundle_target *u = t->elsewhere ? unit_like(sub, t) : t;
  if (!u) return tk_status_make(TK_INTERNAL, "tile set %s lacks %s", sub->set_name, t->arch);
  tkc_target_entry *e = &mt->entries[mt->n++];
  TK_RETURN_IF_ERROR(target_entry(u, &sub->hsaco, e));
  if (is_kind(u, "amdgcn")) TK_RETURN_IF_ERROR(gpu_figures(u, mt, mt->n - 1));
  if (j->ir.gpu_schedule == TK_GPU_SCHEDULE_TILED)
    e->tile_set = tk_ir_gpu_tile_set_name(t->tile_set);
  if (!t->elsewhere) return TK_STATUS_OK;
  tkc_file_hash *stub = mt->set_stubs[t->tile_set];
  if (!stub[0].file)
    TK_RETURN_IF_ERROR(
        stub_hashes(j, stub_base(sub), sub->stub_c, sub->stub_h, mt->set_names[t->tile_set], stub));
  e->host_stub = stub;
  return TK_STATUS_OK;
}

static tk_status manifest_entries(bundle_job *j, manifest_targets *mt) {
  mt->n = 0;
  for (int i = 0; i < j->ntargets; i++) {
    if (*j->targets[i].arch) {
      TK_RETURN_IF_ERROR(gpu_entry(j, &j->targets[i], mt));
      continue;
    }
    TK_RETURN_IF_ERROR(target_entry(&j->targets[i], &j->hsaco, &mt->entries[mt->n++]));
    if (is_kind(&j->targets[i], "x86_64"))
      for (int k = 1; k < j->ncpus; k++) TK_RETURN_IF_ERROR(level_entry(j, k, mt));
  }
  return TK_STATUS_OK;
}

static tk_status write_manifest_with(bundle_job *j, const manifest_targets *mt) {
  tkc_manifest_input in = {.m = j->m,
                           .tkc_version = TK_VERSION,
                           .llvm_version = TK_LLVM_VERSION,
                           .z3_version = TK_Z3_VERSION,
                           .arch_canonical = j->canonical,
                           .ntargets = mt->n,
                           .targets = mt->entries};
  tkc_proof_count counts[TK_VERIFY_NCLASSES];
  for (int c = 0; c < TK_VERIFY_NCLASSES; c++)
    tk_verify_report_class_count(j->proofs, c, &counts[c].cls, &counts[c].count);
  in.nproofs = TK_VERIFY_NCLASSES;
  in.proofs = counts;
  tkc_certificate certificate;
  char lists[3][512], dirs[TKC_MAX_CPUS][64];
  tkc_sub_proofs levels[TKC_MAX_CPUS], sets[TK_GPU_TILES_COUNT];
  char set_dirs[TK_GPU_TILES_COUNT][64];
  TK_RETURN_IF_ERROR(certificate_of(j, &certificate, lists, levels, dirs));
  TK_RETURN_IF_ERROR(tile_sets_of(j, sets, set_dirs, &in.ntile_sets));
  in.tile_sets = sets;
  in.certificate = &certificate;
  char names[3][80];
  tkc_file_hash stub[3];
  TK_RETURN_IF_ERROR(stub_hashes(j, TK_STUB_BASE, j->stub_c, j->stub_h, names, stub));
  in.host_source = stub[0];
  in.host_header = stub[1];
  in.host_library = stub[2];
  char *json = NULL;
  tk_status s = tkc_manifest_write(&in, &json);
  if (!s) s = tkc_fs_write(j->tmp, "manifest.json", json, strlen(json));
  free(json);
  return s;
}

static tk_status write_manifest(bundle_job *j) {
  manifest_targets *mt = tk_calloc(1, sizeof *mt);
  if (!mt) return tk_status_make(TK_RESOURCE_EXHAUSTED, "manifest: out of memory");
  tk_status s = manifest_entries(j, mt);
  if (!s) s = write_manifest_with(j, mt);
  for (int i = 0; i < TKC_MAX_TARGETS; i++) {
    free(mt->kernels[i]);
    free(mt->occupancy[i]);
  }
  free(mt);
  return s;
}

/* A proof store (the verify stage's query files and index.json) into the temp dir's `rel`,
 * created here: proofs/, or proofs/<level> for a further CPU level (docs/abi.md "Bundle
 * layout"). */
static tk_status write_proofs(bundle_job *j, const tk_verify_report *r, const char *rel) {
  TK_RETURN_IF_ERROR(tkc_fs_mkdir(j->tmp, rel));
  size_t n = strlen(j->tmp) + strlen(rel) + 2;
  char *dir = tk_malloc(n);
  if (!dir) return tk_status_make(TK_RESOURCE_EXHAUSTED, "proofs path: out of memory");
  snprintf(dir, n, "%s/%s", j->tmp, rel);
  tk_status s = tk_verify_report_write_files(r, dir);
  free(dir);
  return s;
}

/* A stub's .c and .h, and its library built from them. */
static tk_status write_stub(bundle_job *j, const char *base, const char *c, const char *h) {
  char name[80], include_dir[4200];
  snprintf(name, sizeof name, "%s.c", base);
  TK_RETURN_IF_ERROR(tkc_fs_write(j->tmp, name, c, strlen(c)));
  snprintf(name, sizeof name, "%s.h", base);
  TK_RETURN_IF_ERROR(tkc_fs_write(j->tmp, name, h, strlen(h)));
  tk_stub_build_options b = {
      .cc = j->o->cc,
      .runtime_include = j->o->runtime_include
                             ? j->o->runtime_include
                             : runtime_include_dir(include_dir, sizeof include_dir),
      .base = base};
  return tk_cg_stub_build(j->tmp, &b);
}

/* A job's code: each unit's own file (the amdgcn units' offload bundle once), into `dir`. */
static tk_status write_code(const char *dir, bundle_job *j) {
  for (int i = 0; i < j->ntargets; i++)
    if (!is_kind(&j->targets[i], "amdgcn") && !j->targets[i].elsewhere)
      TK_RETURN_IF_ERROR(
          tkc_fs_write(dir, j->targets[i].file, j->targets[i].code.data, j->targets[i].code.size));
  if (j->hsaco.size)
    TK_RETURN_IF_ERROR(tkc_fs_write(dir, hsaco_file(j), j->hsaco.data, j->hsaco.size));
  return TK_STATUS_OK;
}

/* A sub-job's (a further CPU level's or tile set's) code, stub and proof store. */
static tk_status write_sub_job(bundle_job *j, bundle_job *sub) {
  TK_RETURN_IF_ERROR(write_code(j->tmp, sub));
  TK_RETURN_IF_ERROR(write_stub(j, stub_base(sub), sub->stub_c, sub->stub_h));
  char rel[64];
  snprintf(rel, sizeof rel, "proofs/%s", sub_name(sub));
  return write_proofs(j, sub->proofs, rel);
}

static tk_status write_files(bundle_job *j) {
  TK_RETURN_IF_ERROR(write_code(j->tmp, j));
  TK_RETURN_IF_ERROR(write_stub(j, TK_STUB_BASE, j->stub_c, j->stub_h));
  TK_RETURN_IF_ERROR(write_proofs(j, j->proofs, "proofs"));
  for (int k = 1; k < j->ncpus; k++) TK_RETURN_IF_ERROR(write_sub_job(j, j->levels[k]));
  for (int set = 0; set < TK_GPU_TILES_COUNT; set++)
    if (j->sets[set]) TK_RETURN_IF_ERROR(write_sub_job(j, j->sets[set]));
  return write_manifest(j);
}

/* The temp dir exists only inside this function, with termination signals held: a Ctrl-C
 * here takes effect once the bundle is in place or the temp dir removed (runtime/fs.h). */
static tk_status stage_write(bundle_job *j, const tkc_pass *p) {
  sigset_t saved;
  tk_fs_hold_signals(&saved);
  tk_status s = tkc_fs_temp_dir(j->o->out_dir, &j->tmp);
  if (!s) s = write_files(j);
  if (!s) s = tkc_fs_commit(j->tmp, j->o->out_dir);
  if (s) tkc_fs_remove_tree(j->tmp);
  free(j->tmp);
  j->tmp = NULL;
  tk_fs_release_signals(&saved);
  if (s) return tk_status_annotate(s, "writing bundle %s", j->o->out_dir);
  stage_done(j, p->name, j->o->out_dir);
  return TK_STATUS_OK;
}

static void job_free(bundle_job *j) {
  free(j->stub_c);
  free(j->stub_h);
  tk_cg_blob_free(&j->hsaco);
  for (int i = 0; i < j->ntargets; i++) {
    tk_cg_blob_free(&j->targets[i].code);
    free(j->targets[i].cpu);
    free(j->targets[i].features);
  }
  tk_ir_module_free(j->m);
  tk_verify_report_free(j->proofs);
  free(j->canonical);
  for (int k = 0; k < TKC_MAX_CPUS; k++)
    if (j->levels[k]) {
      job_free(j->levels[k]);
      free(j->levels[k]);
    }
  for (int set = 0; set < TK_GPU_TILES_COUNT; set++)
    if (j->sets[set]) {
      job_free(j->sets[set]);
      free(j->sets[set]);
    }
}

/* ---- views ------------------------------------------------------------------------------- */

static const tkc_view VIEWS[] = {
    {"arch", "arch", "the canonical arch.json"},
    {"ir", "lower", "the graph: tensors and ops with their contracts"},
    {"ir-padded", "pad", "the graph with padding folded into row clamps and limits"},
    {"ir-fused", "plan-buffers", "fused kernels (phases, index maps) and the buffer plan"},
    {"ir-gpu", "schedule-gpu", "kernels scheduled for GPUs (workgroups, threads, grids)"},
    {"ir-cpu", "schedule-cpu", "kernels scheduled for the CPU (row blocks, register tiles)"},
    {"obligations", "schedule-cpu", "every proof obligation as SMT-LIB2 (not solved)"},
    {"llvm-unopt", "codegen", "LLVM IR of the one target in --targets, before optimisation"},
    {"llvm", "codegen", "its optimised LLVM IR"},
    {"asm", "codegen", "its assembly (PTX for nvptx)"},
};

const tkc_view *tkc_view_table(size_t *n) {
  *n = sizeof VIEWS / sizeof VIEWS[0];
  return VIEWS;
}

const tkc_view *tkc_view_find(const char *name) {
  for (size_t i = 0; name && i < sizeof VIEWS / sizeof VIEWS[0]; i++)
    if (!strcmp(VIEWS[i].name, name)) return &VIEWS[i];
  return NULL;
}

static tk_status print_code(bundle_job *j) {
  for (int i = 0; i < j->ntargets; i++) {
    const tk_cg_blob *b = &j->targets[i].code;
    if (fwrite(b->data, 1, b->size, j->dump) != b->size)
      return tk_status_make(TK_IO_ERROR, "writing the %s view failed",
                            j->emit ? j->emit->name : "code");
  }
  return TK_STATUS_OK;
}

static tk_status print_view(bundle_job *j, const tkc_view *v) {
  if (!strcmp(v->name, "arch")) {
    if (fprintf(j->dump, "%s\n", j->canonical) < 0)
      return tk_status_make(TK_IO_ERROR, "writing the arch view failed");
    return TK_STATUS_OK;
  }
  if (!strcmp(v->name, "obligations")) return tk_verify_emit_obligations(j->m, j->dump);
  if (!strcmp(v->pass, "codegen")) return print_code(j);
  return tk_ir_module_print(j->m, j->dump);
}

/* The first view of pass p; NULL for an IR pass without one (its dump is the module's). */
static const tkc_view *first_view(const tkc_pass *p) {
  for (size_t i = 0; i < sizeof VIEWS / sizeof VIEWS[0]; i++)
    if (!strcmp(VIEWS[i].pass, p->name)) return &VIEWS[i];
  return NULL;
}

static bool listed(const char *list, const char *name) {
  for (const char *d = list; d && *d; d += strcspn(d, ","), d += *d == ',')
    if (strcspn(d, ",") == strlen(name) && !strncmp(d, name, strlen(name))) return true;
  return false;
}

/* Prints --emit's view after its pass, or with --dump-after the pass's first view (an IR
 * pass without a view prints the module) under "> After PASS:". */
static tk_status dump_after(bundle_job *j, const tkc_pass *p) {
  const tkc_view *v = j->emit && !strcmp(j->emit->pass, p->name) ? j->emit : NULL;
  bool listed_here = !j->emit && listed(j->o->dump_after, p->name);
  if (!v && !listed_here) return TK_STATUS_OK;
  if (listed_here && fprintf(j->dump, "> After %s:\n", p->name) < 0)
    return tk_status_make(TK_IO_ERROR, "writing a dump failed");
  if (!v) v = first_view(p);
  TK_RETURN_IF_ERROR(v ? print_view(j, v) : tk_ir_module_print(j->m, j->dump));
  if (fflush(j->dump) != 0)
    return tk_status_make(TK_IO_ERROR, "writing the dump after %s failed", p->name);
  return TK_STATUS_OK;
}

/* ---- the pass table ----------------------------------------------------------------------- */

static const tkc_pass PASSES[] = {
    {"arch", "load the arch.json: canonical form, fingerprint", NULL, TK_STAGE_GRAPH, stage_arch},
    {"lower", "arch -> graph IR with contracts", NULL, TK_STAGE_GRAPH, stage_lower},
    {"pad", "fold pad/slice rows into row clamps and limits", tk_ir_pass_pad, TK_STAGE_PADDED,
     stage_ir},
    {"fuse", "graph -> fused kernels of row-local phases", tk_ir_pass_fuse, TK_STAGE_FUSED,
     stage_ir},
    {"plan-buffers", "kernel arguments -> physical buffers (reuse)", tk_ir_pass_plan_buffers,
     TK_STAGE_PLANNED, stage_ir},
    {"schedule-gpu", "workgroups, threads and grids", tk_ir_pass_schedule_gpu, TK_STAGE_GPU,
     stage_ir},
    {"schedule-cpu", "row blocks and register tiles", tk_ir_pass_schedule_cpu, TK_STAGE_CPU,
     stage_ir},
    {"verify", "prove every obligation with Z3", NULL, TK_STAGE_GRAPH, stage_verify},
    {"codegen", "LLVM code per target and arch", NULL, TK_STAGE_GRAPH, stage_codegen},
    {"offload", "amdgcn code objects -> model.hsaco", NULL, TK_STAGE_GRAPH, stage_offload},
    {"stub", "the C host stub", NULL, TK_STAGE_GRAPH, stage_stub},
    {"levels", "each further --cpu: its cpu schedule, verify, x86_64 code, stub", NULL,
     TK_STAGE_GRAPH, stage_levels},
    {"tile-sets", "each further GPU tile set: its gpu schedule, verify, GPU code, stub", NULL,
     TK_STAGE_GRAPH, stage_tile_sets},
    {"write", "write the bundle atomically", NULL, TK_STAGE_GRAPH, stage_write},
};
enum { NPASSES = sizeof PASSES / sizeof PASSES[0] };

const tkc_pass *tkc_pass_table(size_t *n) {
  *n = NPASSES;
  return PASSES;
}

const tkc_pass *tkc_pass_find(const char *name) {
  for (size_t i = 0; name && i < NPASSES; i++)
    if (!strcmp(PASSES[i].name, name)) return &PASSES[i];
  return NULL;
}

/* Hands the module and the report to the caller when asked (they then outlive the job). */
static void keep_results(bundle_job *j) {
  if (j->o->keep_module) {
    *j->o->keep_module = j->m;
    j->m = NULL;
  }
  if (j->o->keep_report) {
    *j->o->keep_report = j->proofs;
    j->proofs = NULL;
  }
}

/* The options checked, then the pass table in order, up to j->stop. */
static tk_status run_passes(bundle_job *j) {
  tk_status s = check_options(j);
  for (size_t i = 0; !s && i < NPASSES; i++) {
    stage_start(j);
    s = PASSES[i].run(j, &PASSES[i]);
    if (!s) s = dump_after(j, &PASSES[i]);
    if (j->stop == &PASSES[i]) break;
  }
  return s;
}

tk_status tkc_compile(const tkc_options *o) {
  bundle_job j = {.o = o};
  if (o->keep_module) *o->keep_module = NULL;
  if (o->keep_report) *o->keep_report = NULL;
  tk_status s = tk_verify_cache_create(&j.cache);
  if (!s) s = run_passes(&j);
  if (!s) keep_results(&j);
  job_free(&j);
  tk_verify_cache_free(j.cache);
  return s;
}

/* ---- the IR part, for tests --------------------------------------------------------------- */

/* The widest vector registers of a CPU: zmm with AVX-512, ymm from x86-64-v3 (AVX2). */
static int cpu_vector_bits(const tk_cg_x86_cpu *c) {
  if (c->avx512) return 512;
  return strcmp(c->level, "x86-64-v3") == 0 ? 256 : 128;
}

tk_status tkc_ir_options_set_cpu(tk_ir_options *o, const char *cpu) {
  tk_cg_x86_cpu info;
  TK_RETURN_IF_ERROR(x86_cpu_of(cpu, &info));
  tk_ir_options_cpu_tiles(o, cpu_vector_bits(&info));
  return TK_STATUS_OK;
}

void tkc_ir_options_default(tkc_ir_options *o) {
  tk_ir_options_default(&o->ir);
  o->verify_each = false;
  o->stop_after = TK_STAGE_CPU;
}

tk_status tkc_build_ir(const tk_arch *arch, const tkc_ir_options *o, tk_ir_module **out) {
  *out = NULL;
  tk_ir_module *m = NULL;
  TK_RETURN_IF_ERROR(tkc_lower_arch(arch, &o->ir, &m));
  tk_status s = o->verify_each ? tk_status_annotate(tk_ir_verify(m), "after lower") : TK_STATUS_OK;
  for (size_t i = 0; !s && i < NPASSES && m->stage < o->stop_after; i++)
    if (PASSES[i].ir_run) s = run_ir_pass(m, &PASSES[i], o->verify_each);
  if (s) {
    tk_ir_module_free(m);
    return s;
  }
  *out = m;
  return TK_STATUS_OK;
}
