/* runtime/weights.c — tk_weights_open: a checkpoint validated against a bundle.
 *
 * A checkpoint.tkp1 is read into memory (tk/checkpoint.h) and checked before any kernel can see
 * it (docs/formats.md §2): names, order and element counts against the manifest's `parameters`,
 * the config's arch_fingerprint against the bundle's fingerprint, and finite weights unless
 * options->allow_nonfinite. A Qwen3MoE bundle also takes a Hugging Face safetensors checkpoint
 * (docs/formats.md §7), memory-mapped (tk/safetensors.h): the block's tensors of one decoder
 * layer are found by their Hugging Face names (runtime/hf_qwen3.h), checked for dtype and shape,
 * and read once here to check that they are finite. The weights stay in those bytes; a session
 * copies them into its backend's buffers (BF16 widened to f32 there).
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "runtime/runtime_internal.h"
#include "tk/alloc.h"

static bool ends_with(const char *s, const char *suffix) {
  size_t n = strlen(s), k = strlen(suffix);
  return n >= k && strcmp(s + n - k, suffix) == 0;
}

/* A safetensors checkpoint: a file, a shard index or a directory (tk_safetensors_open). */
static bool is_safetensors_path(const char *path) {
  struct stat st;
  return ends_with(path, ".safetensors") || ends_with(path, ".safetensors.index.json") ||
         (stat(path, &st) == 0 && S_ISDIR(st.st_mode));
}

static tk_status open_tkp1(tk_weights *w, const char *path, const tk_weights_options *options) {
  const tk_bundle *bundle = w->bundle;
  tk_checkpoint_validate_options vo = {
      .fingerprint = bundle->fingerprint,
      .allow_nonfinite = options && options->allow_nonfinite,
  };
  TK_RETURN_IF_ERROR(tk_checkpoint_open(path, &w->ckpt));
  return tk_checkpoint_validate(w->ckpt, bundle->params, (size_t)bundle->n_params, &vo);
}

/* The block's shape from the bundle: H = in_dim, E = n_experts, I = expert 0's gate_proj / H. */
static tk_hf_qwen3_block bundle_block(const tk_bundle *b, int32_t layer) {
  int32_t h = b->info.in_dim;
  int64_t gate = b->n_params > 1 ? (int64_t)b->params[1].count : 0;
  return (tk_hf_qwen3_block){h, (int32_t)(gate / (h > 0 ? h : 1)), b->info.n_experts, layer};
}

/* Every parameter read once: finite, or the first non-finite value named. */
static tk_status check_finite(const tk_weights *w, const char *path) {
  tk_param_source src = tk_weights_source(w);
  tk_status s = TK_STATUS_OK;
  for (int32_t i = 0; !s && i < w->bundle->n_params; i++) {
    int64_t n = src.count(w, i);
    float *values = tk_malloc((size_t)n * sizeof *values + 1);
    if (!values) return tk_status_make(TK_RESOURCE_EXHAUSTED, "out of memory reading %s", path);
    s = src.read(w, i, values);
    for (int64_t j = 0; !s && j < n; j++)
      if (!isfinite(values[j])) {
        char name[TK_HF_QWEN3_NAME_MAX];
        int32_t rows, cols;
        tk_hf_qwen3_param(&w->hf, (size_t)i, name, &rows, &cols);
        s = tk_status_make(TK_INVALID_ARGUMENT,
                           "%s: tensor %s (%s): element %lld is %g; weights must be finite "
                           "(allow_nonfinite, tkrun --allow-nonfinite)",
                           path, name, w->bundle->params[i].name, (long long)j, values[j]);
      }
    free(values);
  }
  return s;
}

static tk_status open_safetensors(tk_weights *w, const char *path, int32_t layer,
                                  const tk_weights_options *options) {
  if (layer < 0)
    return tk_status_make(TK_INVALID_ARGUMENT, "%s: layer %d: expected a decoder layer >= 0", path,
                          layer);
  w->hf = bundle_block(w->bundle, layer);
  if ((size_t)w->bundle->n_params != tk_hf_qwen3_param_count(&w->hf))
    return tk_status_make(TK_INVALID_ARGUMENT,
                          "%s: the bundle lists %d parameters, a Qwen3MoE block of %d experts has "
                          "%zu",
                          path, w->bundle->n_params, w->hf.experts,
                          tk_hf_qwen3_param_count(&w->hf));
  tk_safetensors_dtype dtype;
  TK_RETURN_IF_ERROR(tk_safetensors_open(path, &w->st));
  TK_RETURN_IF_ERROR(tk_hf_qwen3_check(&w->hf, w->st, path, &w->layout, &dtype));
  return options && options->allow_nonfinite ? TK_STATUS_OK : check_finite(w, path);
}

tk_status tk_weights_open(const tk_bundle *bundle, const char *path,
                          const tk_weights_options *options, tk_weights **out) {
  return tk_weights_open_layer(bundle, path, 0, options, out);
}

tk_status tk_weights_open_layer(const tk_bundle *bundle, const char *path, int32_t layer,
                                const tk_weights_options *options, tk_weights **out) {
  *out = NULL;
  if (!bundle || !path)
    return tk_status_make(TK_INVALID_ARGUMENT, "tk_weights_open: need a bundle and a path");
  tk_weights *w = tk_calloc(1, sizeof *w);
  if (!w) return tk_status_make(TK_RESOURCE_EXHAUSTED, "out of memory opening %s", path);
  w->bundle = bundle;
  tk_status s;
  if (is_safetensors_path(path) && !bundle->qwen3_moe)
    s = tk_status_make(TK_INVALID_ARGUMENT,
                       "%s: a safetensors checkpoint; this bundle's model takes a checkpoint.tkp1 "
                       "(Hugging Face checkpoints load into Qwen3MoE bundles, docs/formats.md §7)",
                       path);
  else if (is_safetensors_path(path))
    s = open_safetensors(w, path, layer, options);
  else
    s = open_tkp1(w, path, options);
  if (s) {
    tk_weights_close(w);
    return tk_status_annotate(s, "checkpoint for bundle %s", bundle->dir);
  }
  *out = w;
  return TK_STATUS_OK;
}

void tk_weights_close(tk_weights *w) {
  if (!w) return;
  tk_checkpoint_close(w->ckpt);
  tk_safetensors_close(w->st);
  free(w);
}

/* ---- as a parameter source ---- */

static int64_t hf_count(const void *src, int32_t i) {
  const tk_weights *w = src;
  if (i < 0 || (size_t)i >= tk_hf_qwen3_param_count(&w->hf)) return -1;
  return (int64_t)w->hf.hidden * (i == 0 ? w->hf.experts : w->hf.intermediate);
}

static tk_status hf_read(const void *src, int32_t i, float *dst) {
  const tk_weights *w = src;
  return tk_hf_qwen3_read(&w->hf, w->st, w->layout, (size_t)i, dst);
}

tk_param_source tk_weights_source(const tk_weights *w) {
  if (w->ckpt) return tk_param_source_checkpoint(w->ckpt);
  return (tk_param_source){w, hf_count, hf_read};
}
