/* tk_forward.c — the tkc peer of bench/forward and scripts/gpu-check.sh: a bundle and a
 * checkpoint through libtkrt's session API (tk/runtime.h) on one backend; speaks worker.h on
 * stdin/stdout.
 *
 *   tk_forward --bundle DIR --checkpoint FILE [--threads T] [--device cpu|cuda|hip|auto]
 *
 * --device defaults to cpu; T is the CPU backend's thread count.
 *
 * The ready line also gives the setup times: the checkpoint read (tk_weights_open) and the
 * session creation (tk_session_create: buffers, the weights copied and the CPU panels packed,
 * docs/formats.md §6), and their ratio (issue 13: session creation ≤ 1.5× the read).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "tk/runtime.h"
#include "worker.h"

typedef struct ctx {
  tk_session *session;
  float *rw;
  int64_t cap;
  int n_experts;
} ctx;

static int fail(const char *what, tk_status st) {
  printf("error %s: %s\n", what, tk_status_message(st));
  tk_status_free(st);
  return 1;
}

static double now_ms(void) {
  struct timespec t;
  clock_gettime(CLOCK_MONOTONIC, &t);
  return (double)t.tv_sec * 1e3 + (double)t.tv_nsec / 1e6;
}

static int forward(void *p, const float *x, int64_t B, float *logits) {
  ctx *c = p;
  if (B > c->cap) {
    free(c->rw);
    c->rw = malloc((size_t)B * (size_t)(c->n_experts > 0 ? c->n_experts : 1) * sizeof(float));
    if (!c->rw) {
      printf("error out of memory\n");
      return 1;
    }
    c->cap = B;
  }
  tk_status st = tk_session_forward(c->session, x, B, logits, c->n_experts ? c->rw : NULL);
  return st ? fail("forward", st) : 0;
}

int main(int argc, char **argv) {
  const char *bundle_dir = NULL, *ckpt = NULL;
  int threads = 1;
  tk_device device = TK_DEVICE_CPU;
  for (int i = 1; i + 1 < argc; i += 2) {
    if (!strcmp(argv[i], "--bundle"))
      bundle_dir = argv[i + 1];
    else if (!strcmp(argv[i], "--checkpoint"))
      ckpt = argv[i + 1];
    else if (!strcmp(argv[i], "--threads"))
      threads = atoi(argv[i + 1]);
    else if (!strcmp(argv[i], "--device")) {
      tk_status st = tk_device_parse(argv[i + 1], &device);
      if (st) return fail("--device", st);
    } else {
      printf("error unknown flag %s\n", argv[i]);
      return 2;
    }
  }
  if (!bundle_dir || !ckpt || threads < 1) {
    printf("error usage: tk_forward --bundle DIR --checkpoint FILE [--threads T] [--device D]\n");
    return 2;
  }
  tk_bundle *bundle = NULL;
  tk_weights *weights = NULL;
  tk_status st = tk_bundle_open(bundle_dir, &bundle);
  if (st) return fail("bundle", st);
  double t0 = now_ms();
  if ((st = tk_weights_open(bundle, ckpt, NULL, &weights))) return fail("checkpoint", st);
  double t1 = now_ms();
  tk_session_options o;
  tk_session_options_default(&o);
  o.device = device;
  o.threads = threads;
  o.quiet = true;
  ctx c = {0};
  if ((st = tk_session_create(bundle, weights, &o, &c.session))) return fail("session", st);
  double t2 = now_ms();
  const tk_bundle_info *info = tk_bundle_get_info(bundle);
  c.n_experts = info->n_experts;
  printf("ready %s %s; checkpoint read %.1f ms, session create %.1f ms (%.2fx)\n",
         tk_session_backend(c.session), tk_session_device(c.session), t1 - t0, t2 - t1,
         (t2 - t1) / (t1 - t0));
  fw_peer peer = {info->in_dim, info->out_dim, &c, forward};
  int rc = fw_serve(&peer);
  tk_session_free(c.session);
  tk_weights_close(weights);
  tk_bundle_close(bundle);
  free(c.rw);
  return rc;
}
