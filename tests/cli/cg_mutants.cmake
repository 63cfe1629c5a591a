# Codegen mutation testing: every codegen mutant of `tkc compile --list-cg-mutants` is refuted by
# the translation validation of nano's LLVM for x86_64, x86_64-simt, amdgcn and nvptx (exit 3,
# nothing written); the unmutated compile records address and control obligations per target.
tk_script_test(NAME cg_mutants SCRIPT tests/cli/cg_mutants.sh LABELS cli codegen slow COST 260)
