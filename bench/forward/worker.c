/* worker.c — the stdin/stdout loop of worker.h, shared by the C peers. */
#define _POSIX_C_SOURCE 200809L
#include "worker.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static double now_ms(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec * 1e3 + (double)ts.tv_nsec * 1e-6;
}

static int read_file(const char *path, float *dst, size_t n) {
  FILE *f = fopen(path, "rb");
  if (!f) return -1;
  size_t got = fread(dst, sizeof(float), n, f);
  fclose(f);
  return got == n ? 0 : -1;
}

int fw_serve(const fw_peer *peer) {
  char line[4096], xpath[2048], opath[2048], cached[2048] = "";
  float *x = NULL, *logits = NULL;
  int64_t capB = 0, cachedB = 0;
  fflush(stdout);
  while (fgets(line, sizeof line, stdin)) {
    long long B = 0, N = 0;
    if (strncmp(line, "quit", 4) == 0) break;
    if (sscanf(line, "run %lld %lld %2047s %2047s", &B, &N, xpath, opath) != 4 || B < 1 || N < 1) {
      printf("error bad command: %s", line);
      return 1;
    }
    if (B > capB) {
      free(x);
      free(logits);
      x = malloc((size_t)B * (size_t)peer->in_dim * sizeof(float));
      logits = malloc((size_t)B * (size_t)peer->out_dim * sizeof(float));
      if (!x || !logits) {
        printf("error out of memory for B = %lld\n", B);
        return 1;
      }
      capB = B;
      cached[0] = '\0';
    }
    if (strcmp(cached, xpath) != 0 || cachedB != B) {
      if (read_file(xpath, x, (size_t)B * (size_t)peer->in_dim) != 0) {
        printf("error cannot read %lld rows from %s\n", B, xpath);
        return 1;
      }
      snprintf(cached, sizeof cached, "%s", xpath);
      cachedB = B;
    }
    double t0 = now_ms();
    for (long long i = 0; i < N; i++)
      if (peer->forward(peer->ctx, x, B, logits) != 0) return 1;
    double ms = (now_ms() - t0) / (double)N;
    if (strcmp(opath, "-") != 0) {
      FILE *f = fopen(opath, "wb");
      if (!f || fwrite(logits, sizeof(float), (size_t)B * (size_t)peer->out_dim, f) !=
                    (size_t)B * (size_t)peer->out_dim) {
        printf("error cannot write %s\n", opath);
        return 1;
      }
      fclose(f);
    }
    printf("ok %.6f\n", ms);
    fflush(stdout);
  }
  free(x);
  free(logits);
  return 0;
}
