# `tkc check-proofs BUNDLE`: the certificate of a bundle (hashes, proof store, regenerated
# code, one solver replay); tampered bundles are rejected. The longest test: 10 minutes on a
# shared Zen 3.
tk_script_test(NAME check_proofs SCRIPT tests/cli/check_proofs.sh LABELS "cli;verify;slow" COST 600)
