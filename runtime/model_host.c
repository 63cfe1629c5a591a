/* runtime/model_host.c — load a bundle's model_host.so (from the bytes that were hashed, via
 * runtime/dl_image.h) and resolve its tkm_* exports. */
#include <dlfcn.h>
#include <stdlib.h>
#include <string.h>

#include "runtime/dl_image.h"
#include "runtime/fs.h"
#include "tk/alloc.h"
#include "tk/model_host.h"

void tk_model_host_close(tk_model_host *h) {
  if (!h) return;
  tk_dl_image_close(&(tk_dl_image){.dl = h->dl_, .fd = h->fd_});
  free(h);
}

/* POSIX guarantees that dlsym's result converts to a function pointer; *out is a pointer to
 * one of tk_model_host's function-pointer fields, written through a void * alias. */
static tk_status resolve(void *dl, const char *path, const char *name, void *out) {
  void *sym = dlsym(dl, name);
  if (!sym)
    return tk_status_make(TK_INVALID_ARGUMENT, "%s: no symbol %s (not a tkc host stub?)", path,
                          name);
  memcpy(out, &sym, sizeof sym);
  return TK_STATUS_OK;
}

/* The ABI version first: a stub of another version may lack the other exports. */
static tk_status resolve_all(tk_model_host *h, const char *path) {
  TK_RETURN_IF_ERROR(resolve(h->dl_, path, "tkm_launch_abi_version", &h->launch_abi_version));
  if (h->launch_abi_version() != TK_LAUNCH_ABI_VERSION)
    return tk_status_make(
        TK_INVALID_ARGUMENT,
        "%s: built for launcher ABI %d, this runtime has ABI %d (recompile the bundle)", path,
        h->launch_abi_version(), TK_LAUNCH_ABI_VERSION);
  struct {
    const char *name;
    void *field;
  } table[] = {
      {"tkm_fingerprint", &h->fingerprint},
      {"tkm_buffer_count", &h->buffer_count},
      {"tkm_buffer_elems", &h->buffer_elems},
      {"tkm_buffer_role", &h->buffer_role},
      {"tkm_buffer_param", &h->buffer_param},
      {"tkm_buffer_name", &h->buffer_name},
      {"tkm_buffer_panel_cols", &h->buffer_panel_cols},
      {"tkm_buffer_panel_width", &h->buffer_panel_width},
      {"tkm_buffer_panel_out_in", &h->buffer_panel_out_in},
      {"tkm_padded_batch", &h->padded_batch},
      {"tkm_max_batch", &h->max_batch},
      {"tkm_forward", &h->forward},
  };
  for (size_t i = 0; i < sizeof table / sizeof table[0]; i++)
    TK_RETURN_IF_ERROR(resolve(h->dl_, path, table[i].name, table[i].field));
  return TK_STATUS_OK;
}

tk_status tk_model_host_open_image(const void *data, size_t size, const char *name,
                                   tk_model_host **out) {
  *out = NULL;
  tk_model_host *h = tk_calloc(1, sizeof *h);
  if (!h) return tk_status_make(TK_RESOURCE_EXHAUSTED, "out of memory opening %s", name);
  tk_dl_image image;
  tk_status s = tk_dl_image_open(data, size, name, &image);
  h->dl_ = image.dl;
  h->fd_ = image.fd;
  if (!s) s = resolve_all(h, name);
  if (s) {
    tk_model_host_close(h);
    return s;
  }
  *out = h;
  return TK_STATUS_OK;
}

tk_status tk_model_host_open(const char *path, tk_model_host **out) {
  *out = NULL;
  char *bytes = NULL;
  size_t size = 0;
  TK_RETURN_IF_ERROR(tk_fs_read_regular(path, TK_FS_BUNDLE_FILE_MAX_BYTES, &bytes, &size));
  tk_status s = tk_model_host_open_image(bytes, size, path, out);
  free(bytes);
  return s;
}

int32_t tk_model_host_find_buffer(const tk_model_host *h, const char *name) {
  for (int32_t i = 0; i < h->buffer_count(); i++)
    if (!strcmp(h->buffer_name(i), name)) return i;
  return -1;
}
