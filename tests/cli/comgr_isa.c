/* tests/cli/comgr_isa.c — `comgr_isa CODE_OBJECT`: prints the ISA name that AMD's comgr (the
 * library HIP uses to vet a code object before loading it, docs/toolchain.md §1) reads from an
 * executable code object, e.g. "amdgcn-amd-amdhsa--gfx90a". Exit 0 on success, 1 when comgr
 * rejects the object (its status is printed), 2 on usage or I/O errors. A separate process
 * because libamd_comgr links its own LLVM (15), which must not meet libLLVM-19. */
#include <stdio.h>
#include <stdlib.h>

#include <amd_comgr.h>

#include "tests/cli/read_whole_file.h"

int main(int argc, char **argv) {
  if (argc != 2) {
    fprintf(stderr, "usage: comgr_isa CODE_OBJECT\n");
    return 2;
  }
  size_t size = 0;
  char *bytes = read_whole_file(argv[1], &size);
  if (!bytes) {
    fprintf(stderr, "comgr_isa: cannot read %s\n", argv[1]);
    return 2;
  }
  amd_comgr_data_t data;
  amd_comgr_status_t st = amd_comgr_create_data(AMD_COMGR_DATA_KIND_EXECUTABLE, &data);
  size_t len = 0;
  char name[256] = "";
  if (st == AMD_COMGR_STATUS_SUCCESS) {
    st = amd_comgr_set_data(data, size, bytes);
    if (st == AMD_COMGR_STATUS_SUCCESS) st = amd_comgr_get_data_isa_name(data, &len, NULL);
    if (st == AMD_COMGR_STATUS_SUCCESS && (len == 0 || len > sizeof name))
      st = AMD_COMGR_STATUS_ERROR;
    if (st == AMD_COMGR_STATUS_SUCCESS) st = amd_comgr_get_data_isa_name(data, &len, name);
    amd_comgr_release_data(data);
  }
  free(bytes);
  if (st != AMD_COMGR_STATUS_SUCCESS) {
    const char *what = NULL;
    amd_comgr_status_string(st, &what);
    printf("comgr status %d %s\n", (int)st, what ? what : "");
    return 1;
  }
  printf("%s\n", name);
  return 0;
}
