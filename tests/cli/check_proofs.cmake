# `tkc check-proofs BUNDLE`: the certificate of a bundle (hashes, proof store, regenerated
# code, one solver replay); tampered bundles are rejected. About a minute.
tk_script_test(NAME check_proofs SCRIPT tests/cli/check_proofs.sh LABELS "cli;verify;slow" COST 380)
