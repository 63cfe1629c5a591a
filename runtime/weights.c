/* runtime/weights.c — tk_weights_open: a checkpoint.tkp1 validated against a bundle.
 *
 * The checkpoint is read into memory (tk/checkpoint.h) and checked before any kernel can see it
 * (docs/formats.md §2): names, order and element counts against the manifest's `parameters`, the
 * config's arch_fingerprint against the bundle's fingerprint, and finite weights unless
 * options->allow_nonfinite. The weights stay in those bytes; a session copies them into its
 * backend's buffers.
 */
#include <stdlib.h>

#include "runtime/runtime_internal.h"
#include "tk/alloc.h"

tk_status tk_weights_open(const tk_bundle *bundle, const char *path,
                          const tk_weights_options *options, tk_weights **out) {
  *out = NULL;
  if (!bundle || !path)
    return tk_status_make(TK_INVALID_ARGUMENT, "tk_weights_open: need a bundle and a path");
  tk_weights *w = tk_calloc(1, sizeof *w);
  if (!w) return tk_status_make(TK_RESOURCE_EXHAUSTED, "out of memory opening %s", path);
  w->bundle = bundle;
  tk_checkpoint_validate_options vo = {
      .fingerprint = bundle->fingerprint,
      .allow_nonfinite = options && options->allow_nonfinite,
  };
  tk_status s = tk_checkpoint_open(path, &w->ckpt);
  if (!s) s = tk_checkpoint_validate(w->ckpt, bundle->params, (size_t)bundle->n_params, &vo);
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
  free(w);
}
