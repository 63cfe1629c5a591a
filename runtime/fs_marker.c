/* runtime/fs_marker.c — the output marker: what tkc wrote into a directory, so that replacing
 * that directory later deletes nothing else (runtime/fs.h; docs/abi.md "Output marker").
 *
 * tk_fs_replace_dir seals every tree it puts in place with TK_FS_MARKER_FILE:
 *   {
 *     "format": "tkc-output/1",
 *     "dirs": ["proofs","proofs/queries"],
 *     "files": [
 *       {"path":"manifest.json","size":1234,"sha256":"<64 hex>"},
 *       ...
 *     ]
 *   }
 * Paths are relative and '/'-separated, in walk order (names sorted bytewise in each
 * directory, a directory before its contents); the marker does not list itself. It holds no
 * time and no absolute path, so two identical trees get identical markers (check-proofs
 * compares a bundle's with the regenerated one's byte for byte).
 *
 * The check is structural: the marker is parsed as JSON (cJSON through the allocation hook)
 * and every field typed, or the whole marker counts as absent; the destination is walked
 * without following symlinks and each entry looked up among the listed paths (sorted,
 * bsearch). A file is read only when the marker lists it with the size it has, so a user's
 * large file is never hashed; files are opened O_NOFOLLOW | O_NONBLOCK and must be regular,
 * so a FIFO never blocks the check. A file tkc wrote and the user then changed counts as the
 * user's: replacing it would lose their edit.
 */
#include <cjson/cJSON.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "runtime/fs.h"
#include "runtime/runtime_internal.h"
#include "runtime/sha256.h"
#include "tk/alloc.h"

enum { SHOWN_MAX = 10 };             /* entries an error names before "and N more" */
#define MARKER_MAX_BYTES (64u << 20) /* far above any real marker; bounds the read */

static tk_status oom(const char *what) {
  return tk_status_make(TK_RESOURCE_EXHAUSTED, "out of memory (%s)", what);
}

/* ---- reading files ------------------------------------------------------------------------ */

/* The bytes of the regular file `path` (O_NOFOLLOW, O_NONBLOCK: no symlink, no FIFO wait),
 * at most `limit` of them; *out tk_malloc'd with a NUL after them. */
static tk_status read_regular(const char *path, size_t limit, char **out, size_t *out_size) {
  *out = NULL;
  int fd = open(path, O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC);
  if (fd < 0) return tk_status_make(TK_IO_ERROR, "cannot open %s: %s", path, strerror(errno));
  struct stat st;
  tk_status s = TK_STATUS_OK;
  char *buf = NULL;
  if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode))
    s = tk_status_make(TK_IO_ERROR, "%s: not a regular file", path);
  else if ((size_t)st.st_size > limit)
    s = tk_status_make(TK_OUT_OF_RANGE, "%s: %lld bytes, expected at most %zu", path,
                       (long long)st.st_size, limit);
  else if (!(buf = tk_malloc((size_t)st.st_size + 1)))
    s = oom(path);
  size_t got = 0;
  while (!s && got < (size_t)st.st_size) {
    ssize_t n = read(fd, buf + got, (size_t)st.st_size - got);
    if (n <= 0 && !(n < 0 && errno == EINTR))
      s = tk_status_make(TK_IO_ERROR, "cannot read %s: %s", path, n ? strerror(errno) : "short");
    got += n > 0 ? (size_t)n : 0;
  }
  close(fd);
  if (s) {
    free(buf);
    return s;
  }
  buf[got] = '\0';
  *out = buf;
  *out_size = got;
  return TK_STATUS_OK;
}

static tk_status hash_file(const char *path, char hex[65]) {
  char *data = NULL;
  size_t size = 0;
  TK_RETURN_IF_ERROR(read_regular(path, SIZE_MAX - 1, &data, &size));
  tk_status s = tk_sha256_hex(data, size, hex);
  free(data);
  return s;
}

/* ---- the walk ----------------------------------------------------------------------------- */

typedef struct tree_walk tree_walk;

/* Called for each entry below the root, a directory before its contents; for a directory,
 * *descend (preset true) says whether to walk into it. */
typedef tk_status (*walk_visit)(tree_walk *w, const char *rel, const char *path,
                                const struct stat *st, bool *descend);

struct tree_walk {
  const char *root;
  walk_visit visit;
  void *ctx;
};

static int compare_names(const void *a, const void *b) {
  return strcmp(*(char *const *)a, *(char *const *)b);
}

void tk_fs_free_names(char **names, size_t n) {
  for (size_t i = 0; i < n; i++) free(names[i]);
  free(names);
}

tk_status tk_fs_list_names(const char *path, char ***out, size_t *out_n) {
  *out = NULL;
  *out_n = 0;
  DIR *d = opendir(path);
  if (!d) return tk_status_make(TK_IO_ERROR, "cannot list %s: %s", path, strerror(errno));
  char **names = NULL;
  size_t n = 0, cap = 0;
  tk_status s = TK_STATUS_OK;
  for (struct dirent *e; !s && (e = readdir(d));) {
    if (!strcmp(e->d_name, ".") || !strcmp(e->d_name, "..")) continue;
    if (n == cap) {
      char **grown = tk_realloc(names, (cap = cap ? 2 * cap : 32) * sizeof *grown);
      if (!grown) {
        s = oom(path);
        break;
      }
      names = grown;
    }
    if (!(names[n] = tk_strdup(e->d_name)))
      s = oom(path);
    else
      n++;
  }
  closedir(d);
  if (s) {
    tk_fs_free_names(names, n);
    return s;
  }
  if (n) qsort(names, n, sizeof *names, compare_names);
  *out = names;
  *out_n = n;
  return TK_STATUS_OK;
}

static tk_status walk_entry(tree_walk *w, const char *rel, const char *name);

/* Visits what directory root/rel ("" for the root) holds, recursively. */
static tk_status walk_dir(tree_walk *w, const char *rel) {
  char *path = NULL;
  if (tk_asprintf(&path, "%s%s%s", w->root, *rel ? "/" : "", rel) < 0) return oom(w->root);
  char **names = NULL;
  size_t n = 0;
  tk_status s = tk_fs_list_names(path, &names, &n);
  free(path);
  for (size_t i = 0; !s && i < n; i++) s = walk_entry(w, rel, names[i]);
  tk_fs_free_names(names, n);
  return s;
}

static tk_status walk_entry(tree_walk *w, const char *rel, const char *name) {
  char *child = NULL, *path = NULL;
  if (tk_asprintf(&child, "%s%s%s", rel, *rel ? "/" : "", name) < 0) return oom(w->root);
  if (tk_asprintf(&path, "%s/%s", w->root, child) < 0) {
    free(child);
    return oom(w->root);
  }
  struct stat st;
  tk_status s = TK_STATUS_OK;
  if (lstat(path, &st) != 0)
    s = tk_status_make(TK_IO_ERROR, "cannot stat %s: %s", path, strerror(errno));
  bool own_marker = !s && !*rel && !strcmp(name, TK_FS_MARKER_FILE) && S_ISREG(st.st_mode);
  bool descend = !s && S_ISDIR(st.st_mode);
  if (!s && !own_marker) s = w->visit(w, child, path, &st, &descend);
  if (!s && !own_marker && descend) s = walk_dir(w, child);
  free(child);
  free(path);
  return s;
}

static tk_status walk_tree(const char *root, walk_visit visit, void *ctx) {
  tree_walk w = {.root = root, .visit = visit, .ctx = ctx};
  return walk_dir(&w, "");
}

/* ---- writing the marker ------------------------------------------------------------------- */

typedef struct seal {
  cJSON *dirs, *files;
} seal;

static bool add_file_entry(cJSON *files, const char *rel, long long size, const char *hex) {
  cJSON *f = cJSON_CreateObject();
  bool ok = f && cJSON_AddItemToArray(files, f);
  if (!ok) cJSON_Delete(f);
  return ok && cJSON_AddStringToObject(f, "path", rel) &&
         cJSON_AddNumberToObject(f, "size", (double)size) &&
         cJSON_AddStringToObject(f, "sha256", hex);
}

static tk_status seal_visit(tree_walk *w, const char *rel, const char *path, const struct stat *st,
                            bool *descend) {
  (void)descend;
  seal *m = w->ctx;
  if (S_ISDIR(st->st_mode)) {
    cJSON *d = cJSON_CreateString(rel);
    if (d && cJSON_AddItemToArray(m->dirs, d)) return TK_STATUS_OK;
    cJSON_Delete(d);
    return oom(TK_FS_MARKER_FILE);
  }
  if (!S_ISREG(st->st_mode))
    return tk_status_make(TK_INTERNAL, "%s: neither a file nor a directory (tkc writes none)",
                          path);
  char hex[65];
  TK_RETURN_IF_ERROR(hash_file(path, hex));
  return add_file_entry(m->files, rel, (long long)st->st_size, hex) ? TK_STATUS_OK
                                                                    : oom(TK_FS_MARKER_FILE);
}

/* The marker's text: one line per file, so that it reads (and diffs) as a list. */
static tk_status marker_text(const seal *m, char **out) {
  *out = NULL;
  size_t size = 0;
  FILE *f = tk_open_memstream(out, &size);
  char *dirs = f ? cJSON_PrintUnformatted(m->dirs) : NULL;
  bool ok = dirs && fprintf(f, "{\n  \"format\": \"%s\",\n  \"dirs\": %s,\n  \"files\": [",
                            TK_FS_MARKER_FORMAT, dirs) > 0;
  free(dirs);
  const cJSON *e, *files = ok ? m->files : NULL;
  size_t i = 0;
  cJSON_ArrayForEach(e, files) {
    char *line = cJSON_PrintUnformatted(e);
    ok = line && fprintf(f, "%s\n    %s", i++ ? "," : "", line) > 0;
    free(line);
    if (!ok) break;
  }
  ok = ok && fprintf(f, "\n  ]\n}\n") > 0;
  if (f) ok = fclose(f) == 0 && ok;
  if (ok) return TK_STATUS_OK;
  free(*out);
  *out = NULL;
  return oom(TK_FS_MARKER_FILE);
}

static tk_status write_text(const char *dir, const char *name, const char *text) {
  char *path = NULL;
  if (tk_asprintf(&path, "%s/%s", dir, name) < 0) return oom(name);
  tk_status s = TK_STATUS_OK;
  FILE *f = fopen(path, "wb");
  if (!f)
    s = tk_status_make(TK_IO_ERROR, "cannot create %s: %s", path, strerror(errno));
  else {
    size_t n = strlen(text);
    bool ok = fwrite(text, 1, n, f) == n;
    ok = fclose(f) == 0 && ok;
    if (!ok) s = tk_status_make(TK_IO_ERROR, "cannot write %s: %s", path, strerror(errno));
  }
  free(path);
  return s;
}

tk_status tk_fs_marker_write(const char *tmp) {
  seal m = {.dirs = cJSON_CreateArray(), .files = cJSON_CreateArray()};
  tk_status s = m.dirs && m.files ? walk_tree(tmp, seal_visit, &m) : oom(TK_FS_MARKER_FILE);
  char *text = NULL;
  if (!s) s = marker_text(&m, &text);
  if (!s) s = write_text(tmp, TK_FS_MARKER_FILE, text);
  free(text);
  cJSON_Delete(m.dirs);
  cJSON_Delete(m.files);
  return s;
}

/* ---- checking a destination --------------------------------------------------------------- */

typedef struct listed_file {
  const char *path, *sha256;
  double size;
} listed_file;

/* What a marker lists, its strings borrowed from the parsed JSON; sorted for bsearch. */
typedef struct listing {
  const char **dirs;
  listed_file *files;
  size_t ndirs, nfiles;
} listing;

static int compare_files(const void *a, const void *b) {
  return strcmp(((const listed_file *)a)->path, ((const listed_file *)b)->path);
}

static bool is_sha256(const char *s) {
  return s && strlen(s) == 64 && strspn(s, "0123456789abcdef") == 64;
}

/* Fills l from the marker's root object; false when a field is missing or mistyped. */
static bool parse_listing(const cJSON *root, listing *l) {
  const cJSON *format = cJSON_GetObjectItemCaseSensitive(root, "format");
  const cJSON *dirs = cJSON_GetObjectItemCaseSensitive(root, "dirs");
  const cJSON *files = cJSON_GetObjectItemCaseSensitive(root, "files");
  if (!cJSON_IsString(format) || strcmp(format->valuestring, TK_FS_MARKER_FORMAT) ||
      !cJSON_IsArray(dirs) || !cJSON_IsArray(files))
    return false;
  const cJSON *e;
  cJSON_ArrayForEach(e, dirs) {
    if (!cJSON_IsString(e)) return false;
    l->dirs[l->ndirs++] = e->valuestring;
  }
  cJSON_ArrayForEach(e, files) {
    const cJSON *path = cJSON_GetObjectItemCaseSensitive(e, "path");
    const cJSON *size = cJSON_GetObjectItemCaseSensitive(e, "size");
    const cJSON *sha = cJSON_GetObjectItemCaseSensitive(e, "sha256");
    if (!cJSON_IsString(path) || !cJSON_IsNumber(size) || !cJSON_IsString(sha) ||
        !is_sha256(sha->valuestring))
      return false;
    l->files[l->nfiles++] = (listed_file){
        .path = path->valuestring, .sha256 = sha->valuestring, .size = size->valuedouble};
  }
  qsort(l->dirs, l->ndirs, sizeof *l->dirs, compare_names);
  qsort(l->files, l->nfiles, sizeof *l->files, compare_files);
  return true;
}

/* The entries found that tkc did not write: how many, and the first SHOWN_MAX by name. */
typedef struct foreign {
  listing listed;
  size_t count;
  char *shown[SHOWN_MAX];
} foreign;

static tk_status add_foreign(foreign *f, const char *rel, const char *suffix) {
  if (f->count < SHOWN_MAX && tk_asprintf(&f->shown[f->count], "%s%s", rel, suffix) < 0)
    return oom("the list of files");
  f->count++;
  return TK_STATUS_OK;
}

static bool listed_dir(const listing *l, const char *rel) {
  return l->ndirs && bsearch(&rel, l->dirs, l->ndirs, sizeof *l->dirs, compare_names);
}

static tk_status check_visit(tree_walk *w, const char *rel, const char *path, const struct stat *st,
                             bool *descend) {
  foreign *f = w->ctx;
  if (S_ISDIR(st->st_mode)) {
    *descend = listed_dir(&f->listed, rel); /* a foreign directory is named once, as a whole */
    return *descend ? TK_STATUS_OK : add_foreign(f, rel, "/");
  }
  listed_file key = {.path = rel};
  const listed_file *want =
      S_ISREG(st->st_mode) && f->listed.nfiles
          ? bsearch(&key, f->listed.files, f->listed.nfiles, sizeof key, compare_files)
          : NULL;
  if (!want) return add_foreign(f, rel, "");
  if (want->size != (double)st->st_size) return add_foreign(f, rel, " (changed)");
  char hex[65];
  TK_RETURN_IF_ERROR(hash_file(path, hex));
  return strcmp(hex, want->sha256) ? add_foreign(f, rel, " (changed)") : TK_STATUS_OK;
}

/* Parses dir's marker into *out_root and f->listed. No usable marker is not an error: the
 * listing stays empty (every entry is foreign) and *why says what is wrong with it. */
static tk_status read_marker(const char *dir, cJSON **out_root, foreign *f, const char **why) {
  *out_root = NULL;
  *why = "not listed in its " TK_FS_MARKER_FILE ", or changed since";
  char *path = NULL, *text = NULL;
  size_t size = 0;
  if (tk_asprintf(&path, "%s/%s", dir, TK_FS_MARKER_FILE) < 0) return oom(TK_FS_MARKER_FILE);
  tk_status s = read_regular(path, MARKER_MAX_BYTES, &text, &size);
  free(path);
  if (tk_status_code_of(s) == TK_RESOURCE_EXHAUSTED) return s;
  if (s) {
    tk_status_free(s);
    *why = "no " TK_FS_MARKER_FILE " marker: not written by tkc";
    return TK_STATUS_OK;
  }
  bool out_of_memory = false;
  cJSON *root = tk_json_parse(text, size, NULL, false, &out_of_memory);
  free(text);
  if (out_of_memory) return oom(TK_FS_MARKER_FILE);
  int entries = cJSON_GetArraySize(cJSON_GetObjectItemCaseSensitive(root, "dirs")) +
                cJSON_GetArraySize(cJSON_GetObjectItemCaseSensitive(root, "files"));
  listing *l = &f->listed;
  l->dirs = tk_calloc((size_t)entries + 1, sizeof *l->dirs);
  l->files = tk_calloc((size_t)entries + 1, sizeof *l->files);
  if (!l->dirs || !l->files) {
    cJSON_Delete(root);
    return oom(TK_FS_MARKER_FILE);
  }
  if (!cJSON_IsObject(root) || !parse_listing(root, l)) {
    l->ndirs = l->nfiles = 0;
    *why = TK_FS_MARKER_FILE " is not a " TK_FS_MARKER_FORMAT " marker";
  }
  *out_root = root;
  return TK_STATUS_OK;
}

/* The refusal: the entries that are not tkc's, at most SHOWN_MAX by name. */
static tk_status refusal(const char *shown, const foreign *f, const char *why) {
  char list[2048] = "";
  size_t len = 0, n = f->count < SHOWN_MAX ? f->count : SHOWN_MAX;
  for (size_t i = 0; i < n && len < sizeof list; i++)
    len += (size_t)snprintf(list + len, sizeof list - len, "%s%s", i ? ", " : "", f->shown[i]);
  if (f->count > n && len < sizeof list)
    snprintf(list + len, sizeof list - len, " and %zu more", f->count - n);
  return tk_status_make(TK_INVALID_ARGUMENT,
                        "refusing to replace %s: %zu %s in it %s not tkc's output (%s): %s; "
                        "nothing was touched (move them out, or choose another directory)",
                        shown, f->count, f->count == 1 ? "entry" : "entries",
                        f->count == 1 ? "is" : "are", why, list);
}

tk_status tk_fs_marker_check(const char *dir, const char *shown) {
  foreign f = {0};
  cJSON *root = NULL;
  const char *why = NULL;
  tk_status s = read_marker(dir, &root, &f, &why);
  if (!s) s = walk_tree(dir, check_visit, &f);
  if (!s && f.count) s = refusal(shown, &f, why);
  for (size_t i = 0; i < SHOWN_MAX; i++) free(f.shown[i]);
  free(f.listed.dirs);
  free(f.listed.files);
  cJSON_Delete(root);
  return s;
}
