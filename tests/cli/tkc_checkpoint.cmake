# tkc init-checkpoint / inspect-checkpoint end to end (needs build/bin/tkc).
tk_script_test(NAME tkc_checkpoint SCRIPT tests/cli/tkc_checkpoint.sh LABELS cli checkpoint)
