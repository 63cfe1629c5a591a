/* runtime/dl_image.c — dlopen a shared object from bytes in memory (runtime/dl_image.h). */
#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "runtime/dl_image.h"

enum { ALL_SEALS = F_SEAL_WRITE | F_SEAL_GROW | F_SEAL_SHRINK | F_SEAL_SEAL };

static tk_status write_all(int fd, const char *name, const void *data, size_t size) {
  for (size_t done = 0; done < size;) {
    ssize_t n = write(fd, (const char *)data + done, size - done);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0)
      return tk_status_make(TK_IO_ERROR, "%s: cannot copy it into a memfd: %s", name,
                            n < 0 ? strerror(errno) : "no progress");
    done += (size_t)n;
  }
  return TK_STATUS_OK;
}

/* A sealed memfd holding data[0, size). */
static tk_status sealed_copy(const void *data, size_t size, const char *name, int *out_fd) {
  *out_fd = -1;
  const char *base = strrchr(name, '/');
  char label[64]; /* the memfd's name in /proc/PID/maps (memfd_create takes at most 249) */
  snprintf(label, sizeof label, "%s", base ? base + 1 : name);
  int fd = memfd_create(label, MFD_CLOEXEC | MFD_ALLOW_SEALING);
  if (fd < 0) return tk_status_make(TK_UNAVAILABLE, "%s: memfd_create: %s", name, strerror(errno));
  tk_status s = write_all(fd, name, data, size);
  if (!s && fcntl(fd, F_ADD_SEALS, ALL_SEALS) != 0)
    s = tk_status_make(TK_IO_ERROR, "%s: cannot seal its memfd: %s", name, strerror(errno));
  if (s) {
    close(fd);
    return s;
  }
  *out_fd = fd;
  return TK_STATUS_OK;
}

tk_status tk_dl_image_open(const void *data, size_t size, const char *name, tk_dl_image *out) {
  *out = (tk_dl_image){.dl = NULL, .fd = -1};
  int fd = -1;
  TK_RETURN_IF_ERROR(sealed_copy(data, size, name, &fd));
  char proc[48];
  snprintf(proc, sizeof proc, "/proc/self/fd/%d", fd);
  void *dl = dlopen(proc, RTLD_NOW | RTLD_LOCAL);
  if (!dl) {
    const char *why = dlerror();
    tk_status s = tk_status_make(TK_NOT_FOUND, "cannot load %s: %s", name, why ? why : "dlopen");
    close(fd);
    return s;
  }
  *out = (tk_dl_image){.dl = dl, .fd = fd};
  return TK_STATUS_OK;
}

void tk_dl_image_close(tk_dl_image *image) {
  if (image->dl) dlclose(image->dl);
  if (image->fd >= 0) close(image->fd);
  *image = (tk_dl_image){.dl = NULL, .fd = -1};
}
