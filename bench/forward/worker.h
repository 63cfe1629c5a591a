/* worker.h — the line protocol every bench/forward peer speaks on stdin/stdout, so that
 * bench.py can keep one process per (peer, model, threads) and interleave them:
 *
 *   worker prints  "ready DESCRIPTION"          once its model is loaded
 *   bench.py sends "run B N XPATH OUTPATH"      x = XPATH (raw f32 [B, in]); N forward calls
 *   worker prints  "ok MS"                      MS = mean ms per call over the N calls (the
 *                                               forward only: reading x is outside the clock);
 *                                               logits of the last call (raw f32 [B, out]) go
 *                                               to OUTPATH unless it is "-"
 *   bench.py sends "quit"
 * Errors: "error MESSAGE" and exit 1.
 */
#ifndef BENCH_FORWARD_WORKER_H
#define BENCH_FORWARD_WORKER_H

#include <stdint.h>

typedef struct fw_peer {
  int in_dim, out_dim;
  void *ctx;
  /* returns 0 or prints "error ..." itself and returns nonzero */
  int (*forward)(void *ctx, const float *x, int64_t B, float *logits);
} fw_peer;

/* Runs the protocol loop after the caller has printed "ready ...". Returns the exit code. */
int fw_serve(const fw_peer *peer);

#endif
