# `tkc compile -o DIR`, `tkc verify --proofs-dir DIR`: only a directory tkc wrote is replaced
# (the output marker); SIGINT/SIGTERM during the write leave no temp dir. About 100 s.
tk_script_test(NAME output_dir SCRIPT tests/cli/output_dir.sh LABELS "cli;verify;slow" COST 100)
