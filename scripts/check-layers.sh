#!/usr/bin/env bash
# scripts/check-layers.sh [ROOT] — the layering check (issue 11): includes point one way, and
# library code allocates only through tk/alloc.h.
#
# Layers, lowest first:
#   tk      runtime/include/tk (public headers; also the generated tk/version.h)
#   runtime runtime/ (libtkrt)                          may include tk
#   model   model/ (tk_model)                           may include tk, runtime
#   ir      ir/                                         + model
#   verify  verify/      codegen  codegen/  (siblings: neither includes the other) + ir
#   compiler compiler/                                  + verify, codegen
# Leaves: runtime/tools may include only runtime/ and tk/; ref/ only tk/ and model/;
# tests/, bench/ and anything else may include what they need.
#
# Every `#include "..."` (and `#include <dir/...>` naming one of the folders above) is
# resolved as the compiler does — beside the including file first, then from the root, where
# tk/ means runtime/include/tk — and an include of a layer not allowed fails as
# `file:line: <layer> may not include <path> (<layer>)`.
#
# Raw allocation: a call of malloc, calloc, realloc, strdup, strndup, asprintf, vasprintf or
# open_memstream in model/ ir/ verify/ codegen/ compiler/ runtime/ (runtime/alloc.c, which
# implements the hook, excepted) fails as `file:line: raw malloc(...): use tk_malloc
# (tk/alloc.h)`. Comments, string and character literals are skipped; member calls (a.malloc(),
# p->malloc()) and tk_ names are not calls of libc's.
#
# Exit 0 when clean, 1 with one line per violation on stdout. Plain bash + awk, no build.
set -euo pipefail
root=${1:-$(cd "$(dirname "$0")/.." && pwd)}
cd "$root"

dirs=()
for d in runtime model ir verify codegen compiler ref tests bench; do
  [[ -d $d ]] && dirs+=("$d")
done
[[ ${#dirs[@]} -gt 0 ]] || { echo "check-layers: no source folders under $root" >&2; exit 2; }

find "${dirs[@]}" -type f \( -name '*.c' -o -name '*.h' \) -print | LC_ALL=C sort |
  awk '
  # The layer of a path relative to the root ("" = not ours, unrestricted).
  function layer_of(p) {
    if (p ~ /^runtime\/include\/tk\//) return "tk"
    if (p ~ /^runtime\/tools\//) return "tools"
    if (p ~ /^(runtime|model|ir|verify|codegen|compiler|ref|tests|bench)\//) {
      split(p, parts, "/")
      return parts[1]
    }
    return ""
  }
  # dir/name with "." and ".." folded.
  function normalize(path,    n, i, k, seg, out) {
    n = split(path, seg, "/")
    k = 0
    for (i = 1; i <= n; i++) {
      if (seg[i] == "" || seg[i] == ".") continue
      if (seg[i] == ".." && k > 0 && out[k] != "..") { k--; continue }
      out[++k] = seg[i]
    }
    path = ""
    for (i = 1; i <= k; i++) path = path (i > 1 ? "/" : "") out[i]
    return path
  }
  function exists(p,    line, r) {
    if (p in seen) return seen[p]
    r = (getline line < p) >= 0
    if (r) close(p)
    seen[p] = r
    return r
  }
  # The layer an include names, "" when it is none of ours (a system header).
  function target_layer(file, inc, angle,    dir, beside) {
    if (!angle) {
      dir = file
      sub(/\/[^\/]*$/, "", dir)
      beside = normalize(dir "/" inc)
      if (exists(beside)) { resolved = beside; return layer_of(beside) }
    }
    resolved = normalize(inc)
    if (resolved ~ /^tk\//) { resolved = "runtime/include/" resolved; return "tk" }
    return layer_of(resolved)
  }
  BEGIN {
    allowed["tk"] = " tk "
    allowed["runtime"] = " tk runtime "
    allowed["model"] = " tk runtime model "
    allowed["ir"] = " tk runtime model ir "
    allowed["verify"] = " tk runtime model ir verify "
    allowed["codegen"] = " tk runtime model ir codegen "
    allowed["compiler"] = " tk runtime model ir verify codegen compiler "
    allowed["tools"] = " tk runtime tools "
    allowed["ref"] = " tk model ref "
    library["runtime"] = library["tk"] = library["tools"] = library["model"] = 1
    library["ir"] = library["verify"] = library["codegen"] = library["compiler"] = 1
    for (l in allowed) shown[l] = l
    shown["tools"] = "runtime/tools"
    shown["tests"] = "tests"
    shown["bench"] = "bench"
    alloc_call = "(^|[^A-Za-z0-9_.>])" \
                 "(malloc|calloc|realloc|strdup|strndup|asprintf|vasprintf|open_memstream)[ \t]*\\("
    bad = 0
  }
  {
    file = $0
    from = layer_of(file)
    check_alloc = (from in library) && file != "runtime/alloc.c"
    in_comment = 0
    lineno = 0
    while ((getline raw < file) > 0) {
      lineno++
      # ---- includes (a directive that does not start inside a block comment) ----
      if (!in_comment && from in allowed &&
          match(raw, /^[ \t]*#[ \t]*include[ \t]*("[^"]+"|<[^>]+>)/)) {
        spec = substr(raw, RSTART, RLENGTH)
        sub(/^[ \t]*#[ \t]*include[ \t]*/, "", spec)
        angle = substr(spec, 1, 1) == "<"
        inc = substr(spec, 2, length(spec) - 2)
        if (!angle || inc ~ /^(tk|runtime|model|ir|verify|codegen|compiler|ref|tests|bench)\//) {
          to = target_layer(file, inc, angle)
          if (to != "" && index(allowed[from], " " to " ") == 0) {
            printf "%s:%d: %s may not include %s (%s)\n", file, lineno, shown[from], resolved,
                   shown[to]
            bad++
          }
        }
      }
      # ---- strip comments and literals, then look for raw allocation calls ----
      line = raw
      code = ""
      while (line != "") {
        if (in_comment) {
          p = index(line, "*/")
          if (!p) { line = ""; break }
          line = substr(line, p + 2)
          in_comment = 0
          continue
        }
        if (!match(line, /"|\047|\/\/|\/\*/)) { code = code line; break }
        tok = substr(line, RSTART, RLENGTH)
        code = code substr(line, 1, RSTART - 1)
        line = substr(line, RSTART + RLENGTH)
        if (tok == "//") break
        if (tok == "/*") { in_comment = 1; code = code " "; continue }
        if (tok == "\"") re = "^([^\"\\\\]|\\\\.)*\""
        else re = "^([^\047\\\\]|\\\\.)*\047"
        if (match(line, re)) line = substr(line, RLENGTH + 1)
        else line = ""
        code = code tok tok
      }
      if (check_alloc && match(code, alloc_call)) {
        call = substr(code, RSTART, RLENGTH)
        sub(/^[^A-Za-z_]/, "", call)
        sub(/[ \t]*\($/, "", call)
        printf "%s:%d: raw %s(): use tk_%s (tk/alloc.h)\n", file, lineno, call, call
        bad++
      }
    }
    close(file)
  }
  END {
    if (bad) {
      printf "check-layers: %d violation%s\n", bad, bad == 1 ? "" : "s"
      exit 1
    }
  }
  '
