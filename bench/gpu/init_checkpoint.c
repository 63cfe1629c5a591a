/* bench/gpu/init_checkpoint.c — `tk_init_checkpoint ARCH.json FILE`: writes the checkpoint
 * that `tkc init-checkpoint ARCH.json -o FILE` writes (the arch's seed, step 0), through the
 * same model/init_weights.h writer, without tkc's LLVM and Z3. scripts/gpu-check.sh carries
 * it to a GPU machine where only the runtime's libraries can run, and a 340 MB tiny
 * checkpoint is cheaper to regenerate there than to carry. Exit 0 ok, 1 error, 2 usage.
 */
#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include "model/arch.h"
#include "model/init_weights.h"

int main(int argc, char **argv) {
  if (argc != 3 || argv[1][0] == '-') {
    fprintf(stderr, "usage: tk_init_checkpoint ARCH.json FILE\n"
                    "Writes FILE as `tkc init-checkpoint ARCH.json -o FILE` does.\n");
    return 2;
  }
  tk_arch arch;
  tk_status st = tk_arch_load(argv[1], &arch);
  if (!st) st = tk_arch_init_checkpoint_write(&arch, argv[2], arch.seed, 0, NULL, NULL);
  if (st) {
    fprintf(stderr, "tk_init_checkpoint: %s\n", tk_status_message(st));
    tk_status_free(st);
    return 1;
  }
  printf("wrote %s: %" PRIu64 " weights, seed %" PRIu64 "\n", argv[2], tk_arch_weight_total(&arch),
         arch.seed);
  return 0;
}
