/* runtime/alloc.c — tk_malloc and friends (tk/alloc.h): libc's allocators behind one counter
 * that fault-injection tests arm. When nothing is armed the cost is one relaxed atomic
 * increment per allocation. */
#include "tk/alloc.h"
#include "runtime/runtime_internal.h"

#include <cjson/cJSON.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

static atomic_uint_fast64_t allocations; /* hooked allocations attempted so far */
static atomic_uint_fast64_t fail_at;     /* the allocation number that fails; 0 = off */
static atomic_bool fail_persistent;
static atomic_bool fired;
static _Atomic(tk_alloc_observer *) observer; /* tests/fault: runs before each allocation */
static void *_Atomic observer_ctx;

/* True when this allocation must fail (counts it either way). */
static bool should_fail(void) {
  tk_alloc_observer *fn = atomic_load_explicit(&observer, memory_order_relaxed);
  if (fn) fn(atomic_load(&observer_ctx));
  uint64_t n = atomic_fetch_add_explicit(&allocations, 1, memory_order_relaxed) + 1;
  uint64_t at = atomic_load_explicit(&fail_at, memory_order_relaxed);
  if (!at || n < at || (n > at && !atomic_load(&fail_persistent))) return false;
  atomic_store(&fired, true);
  return true;
}

void tk_alloc_fault_arm(uint64_t nth, bool persistent) {
  atomic_store(&fired, false);
  atomic_store(&fail_persistent, persistent);
  atomic_store(&fail_at, nth ? atomic_load(&allocations) + nth : 0);
}

void tk_alloc_fault_disarm(void) { atomic_store(&fail_at, 0); }

void tk_alloc_fault_observe(tk_alloc_observer *fn, void *ctx) {
  atomic_store(&observer, NULL);
  atomic_store(&observer_ctx, ctx);
  atomic_store(&observer, fn);
}

uint64_t tk_alloc_count(void) { return atomic_load(&allocations); }
bool tk_alloc_fault_fired(void) { return atomic_load(&fired); }

void *tk_malloc(size_t size) { return should_fail() ? NULL : malloc(size); }
void *tk_calloc(size_t count, size_t size) { return should_fail() ? NULL : calloc(count, size); }
void *tk_realloc(void *ptr, size_t size) { return should_fail() ? NULL : realloc(ptr, size); }
char *tk_strdup(const char *s) { return should_fail() ? NULL : strdup(s); }
char *tk_strndup(const char *s, size_t n) { return should_fail() ? NULL : strndup(s, n); }

int tk_vasprintf(char **out, const char *fmt, va_list ap) {
  *out = NULL;
  if (should_fail()) return -1;
  int n = vasprintf(out, fmt, ap);
  if (n < 0) *out = NULL; /* glibc leaves *out undefined on failure */
  return n;
}

int tk_asprintf(char **out, const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  int n = tk_vasprintf(out, fmt, ap);
  va_end(ap);
  return n;
}

FILE *tk_open_memstream(char **buf, size_t *size) {
  *buf = NULL;
  return should_fail() ? NULL : open_memstream(buf, size);
}

static _Thread_local bool cjson_oom; /* a cJSON allocation failed (see tk_json_parse) */

static void *cjson_malloc(size_t size) {
  void *p = tk_malloc(size);
  if (!p) cjson_oom = true;
  return p;
}

struct cJSON *tk_json_parse(const char *text, size_t len, const char **end,
                            bool require_null_terminated, bool *out_oom) {
  cjson_oom = false;
  cJSON *root = cJSON_ParseWithLengthOpts(text, len, end, require_null_terminated);
  *out_oom = !root && cjson_oom;
  return root;
}

/* cJSON's allocations go through the hook too; cJSON_InitHooks is idempotent. */
__attribute__((constructor)) static void install_cjson_hooks(void) {
  cJSON_Hooks hooks = {.malloc_fn = cjson_malloc, .free_fn = free};
  cJSON_InitHooks(&hooks);
}
