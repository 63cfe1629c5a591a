# tkref, the reference forward pass as a tool: wire format in and out, exit codes, padding.
tk_script_test(NAME tkref_cli SCRIPT tests/cli/tkref.sh LABELS cli)
