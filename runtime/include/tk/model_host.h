/* tk/model_host.h — a bundle's compiled host stub (model_host.so) loaded at run time, and
 * the model's buffers on a launcher.
 *
 * model_host.so exports the tkm_* functions of docs/abi.md; tk_model_host_open dlopens it
 * (RTLD_LOCAL: stubs of two bundles coexist) from a sealed in-memory copy of the bytes it
 * was given, resolves every export, and checks the launcher ABI version it was built against. The stub is stateless, so one tk_model_host may drive
 * any number of launchers.
 *
 * tk_model_buffers_create allocates every buffer the stub declares on a launcher, sized for
 * a largest batch, and fills the parameter buffers from a checkpoint (copies into aligned
 * memory: the checkpoint's weights are unaligned, tk/checkpoint.h). The caller validates the
 * checkpoint against the arch first (tk_checkpoint_validate); here each parameter's element
 * count is checked against the stub's.
 */
#ifndef TK_MODEL_HOST_H
#define TK_MODEL_HOST_H

#include <stddef.h>
#include <stdint.h>

#include "tk/checkpoint.h"
#include "tk/launch.h"
#include "tk/status.h"

/* libtkrt.so exports exactly what its public headers declare (built -fvisibility=hidden). */
#pragma GCC visibility push(default)

typedef struct tk_model_host {
  int32_t (*launch_abi_version)(void);
  const char *(*fingerprint)(void);
  int32_t (*buffer_count)(void);
  int64_t (*buffer_elems)(int32_t buffer, int32_t B, int32_t Bp);
  int32_t (*buffer_role)(int32_t buffer);  /* TK_BUFFER_IN, _OUT, _PARAM, _SCRATCH */
  int32_t (*buffer_param)(int32_t buffer); /* checkpoint record index, or -1 */
  const char *(*buffer_name)(int32_t buffer);
  /* A weight the cpu schedule reads in column panels (tk/panel.h): its row length N and panel
   * width, and 1 if the checkpoint stores it [N, K] (out_in) rather than [K, N]; 0 otherwise. */
  int64_t (*buffer_panel_cols)(int32_t buffer);
  int64_t (*buffer_panel_width)(int32_t buffer);
  int64_t (*buffer_panel_out_in)(int32_t buffer);
  int32_t (*padded_batch)(int32_t B);
  int64_t (*max_batch)(void);
  tk_status (*forward)(tk_launcher *l, const char *target, int32_t B);
  void *dl_; /* private: the dlopen handle */
  int fd_;   /* private: the sealed memfd it was loaded from */
} tk_model_host;

/* Loads the stub from the bytes data[0, size) (a bundle's model_host.so as it was hashed;
 * `name` is for messages): they are copied into a sealed memfd that is dlopened, so no file
 * is read again. Caller owns *out (tk_model_host_close). */
TK_MUST_USE tk_status tk_model_host_open_image(const void *data, size_t size, const char *name,
                                               tk_model_host **out);
/* Reads the regular file `path` once and loads those bytes (tk_model_host_open_image). */
TK_MUST_USE tk_status tk_model_host_open(const char *path, tk_model_host **out);
void tk_model_host_close(tk_model_host *h);

/* The id of the buffer named `name` ("x", "logits", "router_weights"), or -1. */
int32_t tk_model_host_find_buffer(const tk_model_host *h, const char *name);

/* Allocates all buffers on l for batches up to bmax (1 <= bmax <= the stub's max batch) and
 * fills the parameters from ckpt (record tkm_buffer_param(i) for each param buffer i). On a
 * launcher that runs the cpu schedule, a weight with a panel width is packed into its column
 * panels (tk/panel.h) once, here; every other buffer and backend gets the checkpoint's
 * row-major order. */
TK_MUST_USE tk_status tk_model_buffers_create(tk_launcher *l, const tk_model_host *h, int32_t bmax,
                                              const tk_checkpoint *ckpt);

#pragma GCC visibility pop

#endif
