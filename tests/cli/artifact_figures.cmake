# scripts/artifact_figures.py, the figures of scripts/artifact.sh, on small inputs; skipped
# (exit 77) where matplotlib cannot be imported.
tk_script_test(NAME artifact_figures SCRIPT tests/cli/artifact_figures.sh LABELS cli)
set_tests_properties(artifact_figures PROPERTIES SKIP_RETURN_CODE 77)
