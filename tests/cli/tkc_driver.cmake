# The one driver: pass table, views, --stop-after/--dump-after, one CPU table (issue 11).
tk_script_test(NAME tkc_driver SCRIPT tests/cli/tkc_driver.sh LABELS "cli;slow" COST 180)
