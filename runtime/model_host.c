/* runtime/model_host.c — dlopen a bundle's model_host.so and resolve its tkm_* exports. */
#include <dlfcn.h>
#include <stdlib.h>
#include <string.h>

#include "tk/model_host.h"
#include "tk/alloc.h"

void tk_model_host_close(tk_model_host *h) {
  if (!h) return;
  if (h->dl_) dlclose(h->dl_);
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

static tk_status resolve_all(tk_model_host *h, const char *path) {
  struct {
    const char *name;
    void *field;
  } table[] = {
      {"tkm_launch_abi_version", &h->launch_abi_version},
      {"tkm_fingerprint", &h->fingerprint},
      {"tkm_buffer_count", &h->buffer_count},
      {"tkm_buffer_elems", &h->buffer_elems},
      {"tkm_buffer_role", &h->buffer_role},
      {"tkm_buffer_param", &h->buffer_param},
      {"tkm_buffer_name", &h->buffer_name},
      {"tkm_padded_batch", &h->padded_batch},
      {"tkm_max_batch", &h->max_batch},
      {"tkm_forward", &h->forward},
  };
  for (size_t i = 0; i < sizeof table / sizeof table[0]; i++)
    TK_RETURN_IF_ERROR(resolve(h->dl_, path, table[i].name, table[i].field));
  if (h->launch_abi_version() != TK_LAUNCH_ABI_VERSION)
    return tk_status_make(
        TK_INVALID_ARGUMENT,
        "%s: built for launcher ABI %d, this runtime has ABI %d (recompile the bundle)", path,
        h->launch_abi_version(), TK_LAUNCH_ABI_VERSION);
  return TK_STATUS_OK;
}

tk_status tk_model_host_open(const char *path, tk_model_host **out) {
  *out = NULL;
  tk_model_host *h = tk_calloc(1, sizeof *h);
  if (!h) return tk_status_make(TK_RESOURCE_EXHAUSTED, "out of memory opening %s", path);
  h->dl_ = dlopen(path, RTLD_NOW | RTLD_LOCAL);
  tk_status s = h->dl_ ? resolve_all(h, path)
                       : tk_status_make(TK_NOT_FOUND, "cannot load %s: %s", path, dlerror());
  if (s) {
    tk_model_host_close(h);
    return s;
  }
  *out = h;
  return TK_STATUS_OK;
}

int32_t tk_model_host_find_buffer(const tk_model_host *h, const char *name) {
  for (int32_t i = 0; i < h->buffer_count(); i++)
    if (!strcmp(h->buffer_name(i), name)) return i;
  return -1;
}
