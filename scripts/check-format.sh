#!/usr/bin/env bash
# scripts/check-format.sh [--fix] — every tracked .c/.h file is formatted by .clang-format
# (clang-format-19). Without --fix it changes nothing and exits 1 naming each file that
# differs, with the first lines of the difference; --fix rewrites them in place.
set -euo pipefail
cd "$(dirname "$0")/.."
cf=$(command -v clang-format-19 || true)
[ -n "$cf" ] || { echo "check-format: clang-format-19 not found (scripts/install-deps.sh installs it)" >&2; exit 1; }
mapfile -t files < <(git ls-files '*.c' '*.h' 2>/dev/null || find . -name '*.[ch]' -not -path './build*')
if [ "${1:-}" = --fix ]; then
  "$cf" -i "${files[@]}"
  exit 0
fi
bad=0
for f in "${files[@]}"; do
  if ! "$cf" "$f" | cmp -s - "$f"; then
    echo "check-format: $f is not formatted (scripts/check-format.sh --fix):"
    "$cf" "$f" | diff -u "$f" - | sed -n 3,12p
    bad=$((bad + 1))
  fi
done
[ "$bad" -eq 0 ] && echo "check-format: ${#files[@]} files formatted" && exit 0
echo "check-format: $bad of ${#files[@]} files differ"
exit 1
