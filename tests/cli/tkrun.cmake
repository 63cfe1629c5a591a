# tkrun end to end: good and bad requests, exit codes, devices, --arch cache.
tk_script_test(NAME tkrun_cli SCRIPT tests/cli/tkrun.sh LABELS "cli;runtime" COST 110)
