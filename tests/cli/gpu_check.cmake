# scripts/gpu-check.sh, the prepared GPU check, as a dry run on the CPU backend (no GPU here);
# its prepare step builds tk_forward and tk_init_checkpoint in this build tree first, so not
# under the sanitizers (slow).
tk_script_test(NAME gpu_check SCRIPT tests/cli/gpu_check.sh LABELS "cli;slow" COST 200)
