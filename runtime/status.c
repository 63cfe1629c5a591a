/* status.c — tk_status: heap-allocated error records.
 *
 * If allocating an error fails, a static "out of memory" record is returned instead; it is
 * recognised by address and never freed, so an OOM never turns into a crash or a lost error. */
#include "tk/status.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "tk/alloc.h"

struct tk_status_s {
  tk_status_code code;
  char location[96];
  char *message;
};

static struct tk_status_s oom_status = {TK_RESOURCE_EXHAUSTED, "status.c", (char *)"out of memory"};

static char *vformat(const char *fmt, va_list ap) {
  va_list copy;
  va_copy(copy, ap);
  int n = vsnprintf(NULL, 0, fmt, copy);
  va_end(copy);
  if (n < 0) return NULL;
  char *text = tk_malloc((size_t)n + 1);
  if (text) vsnprintf(text, (size_t)n + 1, fmt, ap);
  return text;
}

static const char *basename_of(const char *path) {
  const char *slash = strrchr(path, '/');
  return slash ? slash + 1 : path;
}

tk_status tk_status_make_at(const char *file, int line, tk_status_code code, const char *fmt, ...) {
  struct tk_status_s *s = tk_calloc(1, sizeof *s);
  if (!s) return &oom_status;
  va_list ap;
  va_start(ap, fmt);
  s->message = vformat(fmt, ap);
  va_end(ap);
  if (!s->message) {
    free(s);
    return &oom_status;
  }
  s->code = code == TK_OK ? TK_INTERNAL : code;
  snprintf(s->location, sizeof s->location, "%s:%d", basename_of(file), line);
  return s;
}

tk_status tk_status_annotate(tk_status status, const char *fmt, ...) {
  if (!status || status == &oom_status) return status;
  va_list ap;
  va_start(ap, fmt);
  char *prefix = vformat(fmt, ap);
  va_end(ap);
  if (!prefix) return status;
  size_t n = strlen(prefix) + 2 + strlen(status->message) + 1;
  char *joined = tk_malloc(n);
  if (joined) {
    snprintf(joined, n, "%s: %s", prefix, status->message);
    free(status->message);
    status->message = joined;
  }
  free(prefix);
  return status;
}

tk_status tk_status_join(tk_status first, tk_status second) {
  if (!first) return second;
  tk_status_free(second);
  return first;
}

tk_status_code tk_status_code_of(tk_status status) { return status ? status->code : TK_OK; }
const char *tk_status_message(tk_status status) { return status ? status->message : ""; }
const char *tk_status_location(tk_status status) { return status ? status->location : ""; }

const char *tk_status_code_name(tk_status_code code) {
  switch (code) {
    case TK_OK: return "OK";
    case TK_INVALID_ARGUMENT: return "INVALID_ARGUMENT";
    case TK_NOT_FOUND: return "NOT_FOUND";
    case TK_IO_ERROR: return "IO_ERROR";
    case TK_OUT_OF_RANGE: return "OUT_OF_RANGE";
    case TK_RESOURCE_EXHAUSTED: return "RESOURCE_EXHAUSTED";
    case TK_UNAVAILABLE: return "UNAVAILABLE";
    case TK_PROOF_FAILED: return "PROOF_FAILED";
    case TK_INTERNAL: return "INTERNAL";
  }
  return "UNKNOWN";
}

void tk_status_free(tk_status status) {
  if (!status || status == &oom_status) return;
  free(status->message);
  free(status);
}
