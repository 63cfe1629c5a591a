# The CPU code's register tiles are vectorised by LLVM (tests/cli/cpu_vector_tiles.sh).
tk_script_test(NAME cpu_vector_tiles SCRIPT tests/cli/cpu_vector_tiles.sh LABELS "cli;codegen;slow" COST 260)
