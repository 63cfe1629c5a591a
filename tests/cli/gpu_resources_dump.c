/* tests/unit/gpu_resources_dump.c — `gpu_resources_dump GFX CODE_OBJECT`: one line per kernel
 * of an AMDGPU code object, as codegen/gpu_resources.h reads it and computes its occupancy on
 * GFX: "NAME sgpr=S vgpr=V agpr=A lds=L scratch=P wave=W wg=G occupancy=O limited_by=X".
 * tests/cli/gpu_resources.sh compares these with llvm-readelf-19's notes and llc-19's own
 * occupancy. Exit 0 ok, 1 an error (printed), 2 usage. */
#include <stdio.h>
#include <stdlib.h>

#include "codegen/gpu_resources.h"
#include "tests/cli/read_whole_file.h"

int main(int argc, char **argv) {
  if (argc != 3) {
    fprintf(stderr, "usage: gpu_resources_dump GFX CODE_OBJECT\n");
    return 2;
  }
  size_t size = 0;
  char *elf = read_whole_file(argv[2], &size);
  if (!elf) {
    fprintf(stderr, "gpu_resources_dump: cannot read %s\n", argv[2]);
    return 1;
  }
  tk_cg_kernel_resources *ks = NULL;
  int n = 0;
  tk_status s = tk_cg_amdgpu_resources(elf, size, &ks, &n);
  for (int i = 0; !s && i < n; i++) {
    tk_cg_occupancy o;
    s = tk_cg_amdgpu_occupancy(argv[1], &ks[i], &o);
    if (!s)
      printf("%s sgpr=%d vgpr=%d agpr=%d lds=%lld scratch=%lld wave=%d wg=%d occupancy=%d "
             "limited_by=%s\n",
             ks[i].name, ks[i].sgpr, ks[i].vgpr, ks[i].agpr, (long long)ks[i].lds_bytes,
             (long long)ks[i].scratch_bytes, ks[i].wavefront_size, ks[i].max_workgroup_size,
             o.waves_per_simd, o.limited_by);
  }
  free(ks);
  free(elf);
  if (s) {
    fprintf(stderr, "gpu_resources_dump: %s\n", tk_status_message(s));
    tk_status_free(s);
    return 1;
  }
  return 0;
}
