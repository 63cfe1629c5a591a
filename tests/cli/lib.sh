# tests/cli/lib.sh — shared by the CLI test scripts (sourced): a temp dir removed on exit, a
# failure counter, and expect_exit. Each script ends with `finish NAME`.
BIN="${TK_BIN:-build/bin}"
cd "${TK_SOURCE_DIR:-.}" || exit 1
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
failures=0
fail() { echo "FAIL: $*" >&2; failures=$((failures + 1)); }

# expect_exit WANT CMD...: runs CMD with stdin from $tmp/req, output in $tmp/out, $tmp/err.
expect_exit() {
  local want=$1; shift
  "$@" <"$tmp/req" >"$tmp/out" 2>"$tmp/err"
  local got=$?
  [ "$got" -eq "$want" ] || fail "$*: exit $got, expected $want: $(head -c 300 "$tmp/err")"
}

# finish NAME: the closing line, and the exit status.
finish() {
  if [ "$failures" -eq 0 ]; then echo "$1: all passed"; exit 0; fi
  echo "$1: $failures failed"; exit 1
}
