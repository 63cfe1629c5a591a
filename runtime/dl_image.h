/* runtime/dl_image.h — dlopen a shared object from bytes in memory (libtkrt-internal).
 *
 * The runtime hashes a bundle's shared objects (model_host.so, model.x86_64.so) from the
 * bytes it read once (bundle_open.c) and loads those same bytes: they are copied into a memfd
 * sealed against any change (F_SEAL_WRITE, _GROW, _SHRINK, _SEAL) and dlopen maps
 * /proc/self/fd/N. A file swapped or rewritten after the hash is never what runs.
 */
#ifndef TK_RUNTIME_DL_IMAGE_H
#define TK_RUNTIME_DL_IMAGE_H

#include <stddef.h>

#include "tk/status.h"

/* A loaded image: the dlopen handle and the sealed memfd behind it. The memfd stays open as
 * long as the handle, because glibc's dlopen first matches an already loaded object by its
 * name, and a closed fd's number (so its /proc/self/fd name) is soon reused. */
typedef struct tk_dl_image {
  void *dl;
  int fd;
} tk_dl_image;

/* Loads the shared object held in data[0, size) RTLD_NOW | RTLD_LOCAL; `name` (the file it
 * came from) is for messages. On error *out is {NULL, -1}. */
TK_MUST_USE tk_status tk_dl_image_open(const void *data, size_t size, const char *name,
                                       tk_dl_image *out);
/* dlcloses and closes the memfd; {NULL, -1} is a no-op. */
void tk_dl_image_close(tk_dl_image *image);

#endif /* TK_RUNTIME_DL_IMAGE_H */
