# tkserve over real HTTP on 127.0.0.1 (curl): statuses, byte-identical answers, concurrency.
tk_script_test(NAME tkserve_cli SCRIPT tests/cli/tkserve.sh LABELS "cli;runtime;slow" COST 110)
