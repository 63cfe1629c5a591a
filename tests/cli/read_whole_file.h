/* tests/cli/read_whole_file.h — a file's bytes (malloc'd; NULL on any error or an empty file),
 * for the small code-object tools of the CLI tests (comgr_isa, gpu_resources_dump). */
#ifndef TK_TESTS_CLI_READ_WHOLE_FILE_H
#define TK_TESTS_CLI_READ_WHOLE_FILE_H

#include <stdio.h>
#include <stdlib.h>

static inline char *read_whole_file(const char *path, size_t *size) {
  FILE *f = fopen(path, "rb");
  if (!f) return NULL;
  char *buf = NULL;
  long n = fseek(f, 0, SEEK_END) == 0 ? ftell(f) : -1;
  if (n > 0 && fseek(f, 0, SEEK_SET) == 0 && (buf = malloc((size_t)n)) &&
      fread(buf, 1, (size_t)n, f) != (size_t)n) {
    free(buf);
    buf = NULL;
  }
  fclose(f);
  *size = n > 0 ? (size_t)n : 0;
  return buf;
}

#endif
