#!/usr/bin/env bash
# tests/lint/check_layers.sh — scripts/check-layers.sh passes on the tree, and fails (naming
# file:line) on a copy of the sources with one violation planted at a time: an upward
# include, a sideways one (codegen → verify), a leaf reaching past its rule (runtime/tools →
# model, ref → ir), a relative include that climbs into a higher layer, and a raw malloc in
# library code. A malloc inside a comment or a string, and tk_malloc, stay clean.
set -u
. "$(dirname "$0")/../cli/lib.sh"
check="$PWD/scripts/check-layers.sh"

"$check" >"$tmp/out" 2>&1 || fail "the tree is not clean: $(cat "$tmp/out")"

mkdir "$tmp/src"
cp -r runtime model ir verify codegen compiler ref "$tmp/src/" || exit 1
"$check" "$tmp/src" >"$tmp/out" 2>&1 || fail "the clean copy fails: $(cat "$tmp/out")"

# plant FILE TEXT WANT: TEXT appended to FILE must fail with WANT (file:line) in the output.
plant() {
  local file=$1 text=$2 want=$3
  cp "$tmp/src/$file" "$tmp/saved"
  printf '%s\n' "$text" >>"$tmp/src/$file"
  local line
  line=$(wc -l <"$tmp/src/$file")
  if "$check" "$tmp/src" >"$tmp/out" 2>&1; then
    fail "planted '$text' in $file: passed"
  elif ! grep -q "^$file:$line: .*$want" "$tmp/out"; then
    fail "planted '$text' in $file: expected '$file:$line: ...$want', got: $(cat "$tmp/out")"
  fi
  cp "$tmp/saved" "$tmp/src/$file"
}
# clean FILE TEXT: TEXT appended to FILE must still pass.
clean() {
  local file=$1 text=$2
  cp "$tmp/src/$file" "$tmp/saved"
  printf '%s\n' "$text" >>"$tmp/src/$file"
  "$check" "$tmp/src" >"$tmp/out" 2>&1 || fail "'$text' in $file: flagged: $(cat "$tmp/out")"
  cp "$tmp/saved" "$tmp/src/$file"
}

plant ir/module.c '#include "compiler/tkc.h"' 'ir may not include compiler/tkc.h'
plant model/arch.c '#include "ir/ir.h"' 'model may not include ir/ir.h'
plant runtime/session.c '#  include <model/arch.h>' 'runtime may not include model/arch.h'
plant codegen/cg_emit.c '#include "verify/verify.h"' 'codegen may not include verify/verify.h'
plant verify/smt.c '#include "codegen/codegen.h"' 'verify may not include codegen/codegen.h'
plant runtime/tools/tkrun.c '#include "model/arch.h"' 'runtime/tools may not include model/arch.h'
plant ref/ref_model.c '#include "ir/ir.h"' 'ref may not include ir/ir.h'
plant runtime/include/tk/status.h '#include "runtime/runtime_internal.h"' 'tk may not include'
plant model/arch.c '#include "../compiler/lower.h"' 'model may not include compiler/lower.h'
plant ir/ix.c 'static void *f(void) { return malloc(4); }' 'raw malloc()'
plant compiler/manifest.c 'static char *g(const char *s) { return strdup (s); }' 'raw strdup()'
plant runtime/tools/tkrun.c 'static int h(char **o) { return asprintf(o, "x"); }' 'raw asprintf()'
clean ir/ix.c '/* malloc(4) in a comment */ static const char *s = "calloc(1, 2)";'
clean ir/ix.c 'static void *f(void) { return tk_malloc(4); } // realloc(p, 2)'
clean model/arch.c '#include "tk/alloc.h"'
clean compiler/manifest.c '#include "verify/verify.h"'
clean runtime/alloc.c 'static void *f(void) { return malloc(4); }'

finish check_layers
