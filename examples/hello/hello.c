/* examples/hello/hello.c — one forward pass through libtkrt's session API: open the bundle
 * tkc_add_model compiled, open the checkpoint against it, run two rows on the best device,
 * print each row's top expert and its logits. Usage: hello [BUNDLE [CHECKPOINT]]. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>

#include <tk/runtime.h>

static int fail(tk_status s) {
  fprintf(stderr, "hello: %s\n", tk_status_message(s));
  tk_status_free(s);
  return 1;
}

/* Two rows of made-up features, then the forward pass and the answer. */
static tk_status run(tk_session *session, const tk_bundle_info *info) {
  enum { ROWS = 2 };
  int in = info->in_dim, out = info->out_dim, e = info->n_experts;
  float *x = malloc(sizeof(float) * (size_t)(ROWS * (in + out + e)));
  if (!x) return tk_status_make(TK_RESOURCE_EXHAUSTED, "out of memory");
  float *logits = x + ROWS * in, *weights = logits + ROWS * out;
  for (int i = 0; i < ROWS * in; i++) x[i] = sinf(0.1f * (float)(i + 1));
  tk_status s = tk_session_forward(session, x, ROWS, logits, e ? weights : NULL);
  for (int r = 0; !s && r < ROWS; r++) {
    int best = 0;
    for (int k = 1; k < e; k++)
      if (weights[r * e + k] > weights[r * e + best]) best = k;
    printf("row %d: expert %d (weight %.4f), logits", r, best, e ? weights[r * e + best] : 0.0f);
    for (int j = 0; j < out; j++) printf(" %.4f", logits[r * out + j]);
    printf("\n");
  }
  free(x);
  return s;
}

int main(int argc, char **argv) {
  const char *bundle_dir = argc > 1 ? argv[1] : HELLO_BUNDLE;
  const char *checkpoint = argc > 2 ? argv[2] : HELLO_CHECKPOINT;
  tk_bundle *bundle = NULL;
  tk_weights *weights = NULL;
  tk_session *session = NULL;
  tk_session_options o;
  tk_session_options_default(&o);
  o.quiet = true;
  tk_status s = tk_bundle_open(bundle_dir, &bundle);
  if (!s) s = tk_weights_open(bundle, checkpoint, NULL, &weights);
  if (!s) s = tk_session_create(bundle, weights, &o, &session);
  if (!s)
    printf("model %s on %s (%s)\n", tk_bundle_get_info(bundle)->fingerprint,
           tk_session_backend(session), tk_session_device(session));
  if (!s) s = run(session, tk_bundle_get_info(bundle));
  tk_session_free(session);
  tk_weights_close(weights);
  tk_bundle_close(bundle);
  return s ? fail(s) : 0;
}
