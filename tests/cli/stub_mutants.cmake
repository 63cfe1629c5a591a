# Class host: every codegen mutant (host stub text, GPU kernel ABI) is refused by `tkc compile`
# with a counterexample and leaves nothing; a sound compile records the host obligations.
tk_script_test(NAME stub_mutants SCRIPT tests/cli/stub_mutants.sh LABELS "cli;verify;slow" COST 330)
