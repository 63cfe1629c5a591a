# Mutation testing: every mutant of nano, custom-small and dense is killed by `tkc verify
# --mutant` and `tkc compile --mutant` (nothing written); a Custom arch with E = 64, K = 8
# verifies and its topk proofs replay in z3 and cvc5 in under a second each.
tk_script_test(NAME mutants SCRIPT tests/cli/mutants.sh LABELS "cli;verify;slow" COST 210)
tk_script_test(NAME verify_wide_router SCRIPT tests/cli/verify_wide.sh LABELS "cli;verify;slow" COST 70)
