/* compiler/manifest.c — writes a bundle's manifest.json, and SHA-256 of its files.
 *
 * Format TK_BUNDLE_FORMAT of tk/launch.h (keys in this fixed order; pretty-printed, 2-space
 * indent):
 *   format        TK_BUNDLE_FORMAT
 *   tkc_version   TK_VERSION, e.g. "0.2.0"
 *   toolchain     {"llvm": "19.1.7", "z3": "4.8.12"}
 *   arch          the canonical arch object (docs/formats.md §1), verbatim: the seed stays exact
 *   fingerprint   16 hex characters (docs/formats.md §1)
 *   max_batch     --max-batch: every launch has 1 <= B <= max_batch
 *   targets       [{kind, cpu + cpu_features (x86) | arch + code_object_version (GPU), file,
 *                  sha256}] in --targets order; a GPU target has one entry per arch, in
 *                  --offload-arch / --cuda-arch order: amdgcn {arch: "gfx90a",
 *                  code_object_version: 4|5, file: "model.hsaco"} (every gfx shares the one
 *                  offload bundle, entry id hipv4-amdgcn-amd-amdhsa--<arch>), nvptx
 *                  {arch: "sm_80", file: "model.sm_80.ptx"}; an amdgcn entry ends with
 *                  kernels: [{name, sgpr, vgpr, agpr, lds_bytes, scratch_bytes,
 *                  wavefront_size, waves_per_simd, limited_by}], its code object's metadata
 *                  and the occupancy on that gfx (codegen/gpu_resources.h)
 *                  and, for each further --cpu (after the first), an x86_64 entry {kind, cpu,
 *                  [cpu_name], [cpu_features], file: model.x86_64.<level>.so, sha256,
 *                  host_stub} right after the first CPU's, with its own stub; in a tiled
 *                  bundle every GPU entry has tile_set (its set's name), and one of a
 *                  further set host_stub (model_host.gpu-<set>.*) too, its amdgcn file
 *                  model.gpu-<set>.hsaco
 *   host_stub     {source, header, library: {file, sha256}} (model_host.c/.h/.so)
 *   gpu_tiles     (tiled bundles) the name of the module's tile set, whose launches follow
 *   kernels       the GPU schedule's launches in order: {name, grid (formula in B, Bp),
 *                  workgroup_size, args: [{name, buffer, offset, size}] then B and Bp as i32,
 *                  kernarg_size, [intensity: {flops, bytes}] (a GEMM phase: one thread's
 *                  reduction step)} — kernarg layout of docs/abi.md, from tk/launch.h
 *                  (tk_kernarg_offset/size: pointer i at 8*i, B at 8n, Bp at 8n+4, size
 *                  8n+8) (the same set in every GPU code object; the
 *                  AMDGPU metadata reports exactly these: no hidden arguments, and
 *                  .max_flat_workgroup_size = workgroup_size; PTX .maxntid likewise)
 *   gpu_tile_sets (tiled bundles with further sets) [{name, kernels}], each set's launches
 *                  as in kernels
 *   buffers       [{id, name, role, type, elements (formula in B, Bp)}]
 *   parameters    [{name, shape: [rows, cols]}] in checkpoint order (docs/formats.md §2)
 *   proofs        {"verified": false} or {"verified": true, "total": N, "classes": {cls: n}}
 *   certificate   (verified bundles) {options: {targets, offload_arch, cuda_arch,
 *                  code_object_version, cpu, [dispatch: "sparse"], [gpu_schedule: "tiled"]},
 *                  ir: {module, gpu, cpu},
 *                  proofs_root, queries,
 *                  obligations}: options regenerate the bundle with the arch and max_batch;
 *                  ir.module is the sha256 of the scheduled module's dump (tk_ir_module_print),
 *                  ir.gpu / ir.cpu of the dumps of that schedule's kernels in launch order
 *                  (tk_ir_kernel_print); proofs_root etc. are the proof store's digest
 *                  (verify/verify.h tk_verify_digest); with further --cpu levels,
 *                  cpu_levels: [{cpu, ir: {module, cpu}, proofs: "proofs/<level>",
 *                  proofs_root, queries, obligations}], one per level in --cpu order; with
 *                  further GPU tile sets, gpu_tile_sets: [{tile_set, ir: {module, gpu},
 *                  proofs: "proofs/gpu-<set>", proofs_root, queries, obligations}]
 * No times, paths or host names: the text is a function of the inputs.
 */
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "compiler/manifest.h"
#include "compiler/tkc.h"
#include "runtime/sha256.h"
#include "tk/alloc.h"
#include "tk/launch.h"

/* ---- a small pretty JSON writer ---------------------------------------------------------- */

typedef struct jw {
  FILE *f;
  int depth;
  bool started;
  int flat_from;  /* objects opened at depth > flat_from are written on one line (0 = none) */
  bool first[16]; /* per depth: no member written yet */
  bool oom;       /* a formatting allocation failed */
} jw;

static void jw_indent(jw *w) {
  if (w->flat_from && w->depth > w->flat_from) {
    if (!w->first[w->depth]) fputc(' ', w->f);
    return;
  }
  fputc('\n', w->f);
  for (int i = 0; i < w->depth; i++) fputs("  ", w->f);
}

/* Starts a member (key may be NULL inside arrays). */
static void jw_key(jw *w, const char *key) {
  if (!w->first[w->depth]) fputc(',', w->f);
  jw_indent(w);
  w->first[w->depth] = false;
  if (key) fprintf(w->f, "\"%s\": ", key);
}

static void jw_string_value(jw *w, const char *s) {
  fputc('"', w->f);
  for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
    if (*p == '"' || *p == '\\')
      fprintf(w->f, "\\%c", *p);
    else if (*p < 0x20)
      fprintf(w->f, "\\u%04x", *p);
    else
      fputc(*p, w->f);
  }
  fputc('"', w->f);
}

static void jw_open(jw *w, const char *key, char bracket) {
  if (w->started) jw_key(w, key);
  w->started = true;
  fputc(bracket, w->f);
  w->depth++;
  w->first[w->depth] = true;
}

static void jw_close(jw *w, char bracket) {
  bool empty = w->first[w->depth];
  bool flat = w->flat_from && w->depth > w->flat_from;
  w->depth--;
  if (!empty && !flat) jw_indent(w);
  fputc(bracket, w->f);
}

/* Opens an object whose members all go on one line. */
static void jw_open_flat(jw *w, const char *key) {
  jw_open(w, key, '{');
  w->flat_from = w->depth - 1;
}

static void jw_close_flat(jw *w) {
  jw_close(w, '}');
  w->flat_from = 0;
}

static void jw_str(jw *w, const char *key, const char *v) {
  jw_key(w, key);
  jw_string_value(w, v);
}

static void jw_int(jw *w, const char *key, long long v) {
  jw_key(w, key);
  fprintf(w->f, "%lld", v);
}

static void jw_raw(jw *w, const char *key, const char *json) {
  jw_key(w, key);
  fputs(json, w->f);
}

static void jw_ix(jw *w, const char *key, const tk_ix *e) {
  jw_key(w, key);
  char *text = tk_ir_ix_format_alloc(e);
  if (text)
    jw_string_value(w, text);
  else
    w->oom = true;
  free(text);
}

/* ---- sections ---------------------------------------------------------------------------- */

static void write_file_hash(jw *w, const char *key, const tkc_file_hash *h) {
  jw_open_flat(w, key);
  jw_str(w, "file", h->file);
  jw_str(w, "sha256", h->sha256);
  jw_close_flat(w);
}

/* host_stub: {source, header, library} of stub[0..2]. */
static void write_stub(jw *w, const tkc_file_hash *stub) {
  jw_open(w, "host_stub", '{');
  write_file_hash(w, "source", &stub[0]);
  write_file_hash(w, "header", &stub[1]);
  write_file_hash(w, "library", &stub[2]);
  jw_close(w, '}');
}

/* An amdgcn entry's "kernels": one line per kernel of its code object. */
static void write_gpu_figures(jw *w, const tkc_target_entry *t) {
  jw_open(w, "kernels", '[');
  for (int i = 0; i < t->nkernels; i++) {
    const tk_cg_kernel_resources *k = &t->kernels[i];
    jw_open_flat(w, NULL);
    jw_str(w, "name", k->name);
    jw_int(w, "sgpr", k->sgpr);
    jw_int(w, "vgpr", k->vgpr);
    jw_int(w, "agpr", k->agpr);
    jw_int(w, "lds_bytes", k->lds_bytes);
    jw_int(w, "scratch_bytes", k->scratch_bytes);
    jw_int(w, "wavefront_size", k->wavefront_size);
    jw_int(w, "waves_per_simd", t->occupancy[i].waves_per_simd);
    jw_str(w, "limited_by", t->occupancy[i].limited_by);
    jw_close_flat(w);
  }
  jw_close(w, ']');
}

static void write_targets(jw *w, const tkc_manifest_input *in) {
  jw_open(w, "targets", '[');
  for (int i = 0; i < in->ntargets; i++) {
    const tkc_target_entry *t = &in->targets[i];
    jw_open(w, NULL, '{');
    jw_str(w, "kind", t->kind);
    if (t->cpu) jw_str(w, "cpu", t->cpu);
    if (t->cpu_name) jw_str(w, "cpu_name", t->cpu_name);
    if (t->cpu_features && *t->cpu_features) jw_str(w, "cpu_features", t->cpu_features);
    if (t->arch) jw_str(w, "arch", t->arch);
    if (t->code_object_version) jw_int(w, "code_object_version", t->code_object_version);
    jw_str(w, "file", t->file.file);
    jw_str(w, "sha256", t->file.sha256);
    if (t->tile_set) jw_str(w, "tile_set", t->tile_set);
    if (t->host_stub) write_stub(w, t->host_stub);
    if (t->nkernels) write_gpu_figures(w, t);
    jw_close(w, '}');
  }
  jw_close(w, ']');
  tkc_file_hash stub[3] = {in->host_source, in->host_header, in->host_library};
  write_stub(w, stub);
}

static void write_kernel_args(jw *w, const tk_ir_kernel *k) {
  jw_open(w, "args", '[');
  for (int i = 0; i < k->nargs; i++) {
    jw_open_flat(w, NULL);
    jw_str(w, "name", k->args[i].name);
    jw_int(w, "buffer", k->args[i].buffer);
    jw_int(w, "offset", tk_kernarg_offset(k->nargs, i));
    jw_int(w, "size", TK_KERNARG_SLOT_BYTES);
    jw_close_flat(w);
  }
  static const char *const syms[2] = {"B", "Bp"};
  for (int s = 0; s < 2; s++) {
    jw_open_flat(w, NULL);
    jw_str(w, "name", syms[s]);
    jw_str(w, "type", "i32");
    jw_int(w, "offset", tk_kernarg_offset(k->nargs, k->nargs + s));
    jw_int(w, "size", TK_KERNARG_DIM_BYTES);
    jw_close_flat(w);
  }
  jw_close(w, ']');
}

/* ---- a GPU kernel's arithmetic intensity --------------------------------------------------- */

enum { INTENSITY_MAX_NODES = 256 };

/* One thread's step of a reduction loop: FLOPs (fma 2; add, sub, mul, div 1) and f32 loads
 * from global memory. Values form a DAG: a node shared by two uses is counted once, as
 * codegen computes it once. */
typedef struct intensity {
  long flops, loads;
  int nseen;
  const tk_ir_val *seen[INTENSITY_MAX_NODES];
} intensity;

static void count_val(const tk_ir_val *v, intensity *c) {
  if (!v) return;
  for (int i = 0; i < c->nseen; i++)
    if (c->seen[i] == v) return;
  if (c->nseen < INTENSITY_MAX_NODES) c->seen[c->nseen++] = v;
  if (v->op == TK_V_LOAD) c->loads++;
  if (v->op == TK_V_FMA) c->flops += 2;
  if (v->op == TK_V_ADD || v->op == TK_V_SUB || v->op == TK_V_MUL || v->op == TK_V_DIV) c->flops++;
  count_val(v->a, c);
  count_val(v->b, c);
  count_val(v->c, c);
}

static void count_stmt(const tk_ir_stmt *s, bool in_reduction, intensity *c) {
  switch (s->kind) {
    case TK_S_BLOCK:
      for (int i = 0; i < s->n; i++) count_stmt(s->stmts[i], in_reduction, c);
      break;
    case TK_S_FOR: count_stmt(s->body, in_reduction || s->loop == TK_LOOP_REDUCTION, c); break;
    case TK_S_IF: count_stmt(s->body, in_reduction, c); break;
    case TK_S_STORE:
    case TK_S_LOCAL_STORE:
      if (in_reduction) count_val(s->value, c);
      break;
    case TK_S_BARRIER: break;
  }
}

/* A tiled launch's blocking, and its intensity: per K-slice a workgroup reads a rows × kslice
 * tile of x and a kslice × cols tile of W from global memory and does 2 · rows · cols · kslice
 * FLOPs. */
static void write_tile(jw *w, const tk_ir_gpu_tile *t) {
  jw_open_flat(w, "tile");
  jw_int(w, "rows", t->rows);
  jw_int(w, "cols", t->cols);
  jw_int(w, "reg_rows", t->reg_rows);
  jw_int(w, "reg_cols", t->reg_cols);
  jw_int(w, "kslice", t->kslice);
  jw_close_flat(w);
  jw_open_flat(w, "intensity");
  jw_int(w, "flops", 2 * t->rows * t->cols * t->kslice);
  jw_int(w, "bytes", 4 * (t->rows * t->kslice + t->kslice * t->cols));
  jw_close_flat(w);
}

/* {"flops", "bytes"} of one reduction step of one thread (a tiled launch: of one K-slice of
 * its workgroup), for a kernel running a GEMM phase (the fused kernel's tileable phase): its
 * arithmetic intensity is flops / bytes. */
static void write_intensity(jw *w, const tk_ir_module *m, const tk_ir_kernel *k) {
  if (k->source < 0 || k->source_phase < 0) return;
  const tk_ir_kernel *fused = m->kernels.items[k->source];
  if (k->source_phase >= fused->nphases || !fused->phases[k->source_phase].tileable) return;
  if (k->launch.tile.rows) {
    write_tile(w, &k->launch.tile);
    return;
  }
  intensity c = {0};
  count_stmt(k->body, false, &c);
  if (!c.loads) return;
  jw_open_flat(w, "intensity");
  jw_int(w, "flops", c.flops);
  jw_int(w, "bytes", 4 * c.loads);
  jw_close_flat(w);
}

static void write_kernels(jw *w, const tk_ir_module *m) {
  const tk_ir_kernel_list *list = tk_ir_module_kernels(m, TK_TARGET_GPU);
  jw_open(w, "kernels", '[');
  for (int i = 0; i < list->n; i++) {
    const tk_ir_kernel *k = list->items[i];
    jw_open(w, NULL, '{');
    jw_str(w, "name", k->name);
    jw_ix(w, "grid", k->launch.grid);
    jw_int(w, "workgroup_size", k->launch.workgroup_size);
    write_kernel_args(w, k);
    jw_int(w, "kernarg_size", tk_kernarg_size(k->nargs));
    write_intensity(w, m, k);
    jw_close(w, '}');
  }
  jw_close(w, ']');
}

/* gpu_tile_sets: each further tile set's launches. */
static void write_tile_sets(jw *w, const tkc_manifest_input *in) {
  if (!in->ntile_sets) return;
  jw_open(w, "gpu_tile_sets", '[');
  for (int i = 0; i < in->ntile_sets; i++) {
    jw_open(w, NULL, '{');
    jw_str(w, "name", in->tile_sets[i].name);
    write_kernels(w, in->tile_sets[i].m);
    jw_close(w, '}');
  }
  jw_close(w, ']');
}

static void write_buffers(jw *w, const tk_ir_module *m) {
  jw_open(w, "buffers", '[');
  for (int i = 0; i < m->nbuffers; i++) {
    const tk_ir_buffer *b = &m->buffers[i];
    jw_open_flat(w, NULL);
    jw_int(w, "id", b->id);
    jw_str(w, "name", b->name);
    jw_str(w, "role", tk_ir_role_name(b->role));
    jw_str(w, "type", tk_ir_type_name(b->type));
    jw_ix(w, "elements", b->count);
    jw_close_flat(w);
  }
  jw_close(w, ']');
}

static void write_parameters(jw *w, const tk_arch *arch) {
  jw_open(w, "parameters", '[');
  for (size_t i = 0; i < tk_arch_param_count(arch); i++) {
    tk_param_spec p = tk_arch_param(arch, i);
    jw_open_flat(w, NULL);
    jw_str(w, "name", p.name);
    jw_key(w, "shape");
    fprintf(w->f, "[%d, %d]", p.rows, p.cols);
    jw_close_flat(w);
  }
  jw_close(w, ']');
}

static void write_proofs(jw *w, const tkc_manifest_input *in) {
  jw_open(w, "proofs", '{');
  jw_key(w, "verified");
  fputs(in->nproofs >= 0 ? "true" : "false", w->f);
  if (in->nproofs >= 0) {
    long total = 0;
    for (int i = 0; i < in->nproofs; i++) total += in->proofs[i].count;
    jw_int(w, "total", total);
    jw_open(w, "classes", '{');
    for (int i = 0; i < in->nproofs; i++) jw_int(w, in->proofs[i].cls, in->proofs[i].count);
    jw_close(w, '}');
  }
  jw_close(w, '}');
}

/* ---- the certificate --------------------------------------------------------------------- */

/* sha256 of the module's dump (target TK_TARGET_NONE) or of one schedule's kernel dumps. */
static tk_status ir_hash(const tk_ir_module *m, tk_ir_target target, bool whole, char out[65]) {
  char *text = NULL;
  size_t len = 0;
  FILE *f = tk_open_memstream(&text, &len);
  if (!f) return tk_status_make(TK_RESOURCE_EXHAUSTED, "manifest: out of memory (IR hash)");
  tk_status s = TK_STATUS_OK;
  if (whole) {
    s = tk_ir_module_print(m, f);
  } else {
    const tk_ir_kernel_list *list = tk_ir_module_kernels(m, target);
    for (int i = 0; !s && i < list->n; i++) s = tk_ir_kernel_print(m, list->items[i], f);
  }
  bool failed = fclose(f) != 0;
  if (!s && failed) s = tk_status_make(TK_RESOURCE_EXHAUSTED, "manifest: out of memory (IR hash)");
  if (!s) s = tk_sha256_hex(text, len, out);
  free(text);
  return s;
}

static void write_digest(jw *w, const tk_verify_digest *d) {
  jw_str(w, "proofs_root", d->root);
  jw_int(w, "queries", (long long)d->queries);
  jw_int(w, "obligations", (long long)d->obligations);
}

/* One further CPU level, {cpu, ir: {module, cpu}, proofs, proofs_root, queries, obligations},
 * or GPU tile set, {tile_set, ir: {module, gpu}, ...}: `schedule` is the one it has of its own. */
static tk_status write_sub(jw *w, const tkc_sub_proofs *l, tk_ir_target schedule) {
  char module[65], own[65];
  bool cpu = schedule == TK_TARGET_CPU;
  TK_RETURN_IF_ERROR(ir_hash(l->m, TK_TARGET_NONE, true, module));
  TK_RETURN_IF_ERROR(ir_hash(l->m, schedule, false, own));
  jw_open(w, NULL, '{');
  jw_str(w, cpu ? "cpu" : "tile_set", l->name);
  jw_open(w, "ir", '{');
  jw_str(w, "module", module);
  jw_str(w, cpu ? "cpu" : "gpu", own);
  jw_close(w, '}');
  jw_str(w, "proofs", l->proofs_dir);
  write_digest(w, &l->proofs);
  jw_close(w, '}');
  return TK_STATUS_OK;
}

static tk_status write_certificate(jw *w, const tkc_manifest_input *in) {
  const tkc_certificate *c = in->certificate;
  char module[65], gpu[65], cpu[65];
  TK_RETURN_IF_ERROR(ir_hash(in->m, TK_TARGET_NONE, true, module));
  TK_RETURN_IF_ERROR(ir_hash(in->m, TK_TARGET_GPU, false, gpu));
  TK_RETURN_IF_ERROR(ir_hash(in->m, TK_TARGET_CPU, false, cpu));
  jw_open(w, "certificate", '{');
  jw_open(w, "options", '{');
  jw_str(w, "targets", c->targets);
  if (c->offload_arch) jw_str(w, "offload_arch", c->offload_arch);
  if (c->cuda_arch) jw_str(w, "cuda_arch", c->cuda_arch);
  jw_int(w, "code_object_version", c->code_object_version);
  jw_str(w, "cpu", c->cpu);
  if (in->m->opts.dispatch == TK_DISPATCH_SPARSE) jw_str(w, "dispatch", "sparse");
  if (in->m->opts.gpu_schedule == TK_GPU_SCHEDULE_TILED) jw_str(w, "gpu_schedule", "tiled");
  jw_close(w, '}');
  jw_open(w, "ir", '{');
  jw_str(w, "module", module);
  jw_str(w, "gpu", gpu);
  jw_str(w, "cpu", cpu);
  jw_close(w, '}');
  write_digest(w, &c->proofs);
  if (c->nlevels) {
    jw_open(w, "cpu_levels", '[');
    for (int i = 0; i < c->nlevels; i++)
      TK_RETURN_IF_ERROR(write_sub(w, &c->levels[i], TK_TARGET_CPU));
    jw_close(w, ']');
  }
  if (in->ntile_sets) {
    jw_open(w, "gpu_tile_sets", '[');
    for (int i = 0; i < in->ntile_sets; i++)
      TK_RETURN_IF_ERROR(write_sub(w, &in->tile_sets[i], TK_TARGET_GPU));
    jw_close(w, ']');
  }
  jw_close(w, '}');
  return TK_STATUS_OK;
}

tk_status tkc_manifest_write(const tkc_manifest_input *in, char **out_json) {
  *out_json = NULL;
  char *text = NULL;
  size_t len = 0;
  jw w = {.f = tk_open_memstream(&text, &len)};
  if (!w.f)
    return tk_status_make(TK_RESOURCE_EXHAUSTED, "manifest: out of memory (open_memstream)");
  const tk_ir_module *m = in->m;
  jw_open(&w, NULL, '{');
  jw_str(&w, "format", TK_BUNDLE_FORMAT);
  jw_str(&w, "tkc_version", in->tkc_version);
  jw_open(&w, "toolchain", '{');
  jw_str(&w, "llvm", in->llvm_version);
  jw_str(&w, "z3", in->z3_version);
  jw_close(&w, '}');
  jw_raw(&w, "arch", in->arch_canonical);
  jw_str(&w, "fingerprint", m->arch.fingerprint);
  jw_int(&w, "max_batch", m->opts.bmax);
  write_targets(&w, in);
  if (m->opts.gpu_schedule == TK_GPU_SCHEDULE_TILED)
    jw_str(&w, "gpu_tiles", tk_ir_gpu_tile_set_name(m->opts.gpu_tiles));
  write_kernels(&w, m);
  write_tile_sets(&w, in);
  write_buffers(&w, m);
  write_parameters(&w, &m->arch);
  write_proofs(&w, in);
  tk_status s = in->certificate ? write_certificate(&w, in) : TK_STATUS_OK;
  jw_close(&w, '}');
  fputc('\n', w.f);
  bool failed = ferror(w.f) != 0 || w.oom;
  fclose(w.f);
  if (!s && failed) s = tk_status_make(TK_RESOURCE_EXHAUSTED, "manifest: out of memory");
  if (s) {
    free(text);
    return s;
  }
  *out_json = text;
  return TK_STATUS_OK;
}
