#!/usr/bin/env bash
# tests/lint/docs_paths.sh — the docs point only at what exists:
# - every relative Markdown link in README.md and docs/*.md, and every path in backquotes that
#   starts with a folder of the repository (docs/, scripts/, ir/, ...), names a file or folder
#   that exists (a trailing :LINE, #anchor or `...` is ignored; globs must match something);
# - no tracked file refers to a path outside the repository (../shared, FORMATS.md, notes/).
# A self-test plants a dangling link and a dangling path in a copy and expects both named.
set -uo pipefail
cd "${TK_SOURCE_DIR:-$(dirname "$0")/../..}" || exit 1
tops='docs|scripts|models|tests|ir|verify|codegen|compiler|runtime|model|ref|bench|proofs|examples|python'

# check_docs ROOT: prints "file: missing PATH" per dangling reference; exits 1 if any.
check_docs() {
  local root=$1 bad=0 f p
  for f in "$root"/README.md "$root"/docs/*.md; do
    while read -r p; do
      p=${p%%#*}; p=${p%%:[0-9]*}; p=${p%/}
      [ -z "$p" ] && continue
      compgen -G "$root/$p" >/dev/null || { echo "${f#$root/}: missing $p"; bad=1; }
    done < <(
      grep -oE '\]\([^)#: ]+[^)]*\)' "$f" | sed -E 's/^\]\(([^) ]*).*/\1/' | grep -vE '^(https?|mailto):' |
        sed "s#^#$(dirname "${f#$root/}")/#; s#^\./##" | sed -E 's#^docs/\.\./##'
      grep -oE '`('"$tops"')/[A-Za-z0-9_./*<>{},-]*' "$f" | tr -d '`' | grep -v '[<>{},]'
    )
  done
  return $bad
}

fail=0
check_docs . || fail=1
outside=$(git grep -nE '\.\./shared|shared/spec|FORMATS\.md|notes/abi\.md|notes/toolchain\.md|DESIGN\.md' -- \
  ':!tests/lint/docs_paths.sh' 2>/dev/null | head -20)
[ -z "$outside" ] || { echo "references to files outside the repository:"; echo "$outside"; fail=1; }

copy=$(mktemp -d)
trap 'rm -rf "$copy"' EXIT
mkdir -p "$copy/docs" && cp README.md "$copy/" && cp docs/*.md "$copy/docs/"
printf '\nSee [the plan](plan-that-is-not-there.md) and `scripts/not-a-script.sh`.\n' >>"$copy/docs/ir.md"
planted=$(check_docs "$copy")
grep -q "docs/ir.md: missing docs/plan-that-is-not-there.md" <<<"$planted" &&
  grep -q "docs/ir.md: missing scripts/not-a-script.sh" <<<"$planted" ||
  { echo "self-test: the planted dangling references were not both reported: $planted"; fail=1; }

[ $fail -eq 0 ] && echo "docs_paths: all references resolve" && exit 0
exit 1
