# tkc command line: --help/--version, `tkc check` exit codes and output (docs/formats.md §1, §4).
tk_script_test(NAME tkc_check SCRIPT tests/cli/tkc_check.sh LABELS cli)
