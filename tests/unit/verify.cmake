# The verifier (verify/): every model verifies; hand-made defects are rejected with
# counterexamples (verify_dataflow_test: defective launch sequences); `tkc verify` on the
# command line; committed proofs regenerate identically and replay in z3 and cvc5 (slow:
# thousands of solver runs).
# verify_test is slow (plain pass only): mostly Z3's time; under the sanitizers the verifier's own
# code runs on every model in proofs_regen.
tk_unit_test(NAME verify_test SOURCES ${CMAKE_CURRENT_LIST_DIR}/verify_test.c LIBS tkc_lib tk_verify
             LABELS verify slow COST 75)
tk_unit_test(NAME verify_defects_test SOURCES ${CMAKE_CURRENT_LIST_DIR}/verify_defects_test.c
             LIBS tkc_lib tk_verify LABELS verify)
tk_unit_test(NAME verify_dataflow_test SOURCES ${CMAKE_CURRENT_LIST_DIR}/verify_dataflow_test.c
             LIBS tkc_lib tk_verify LABELS verify)
tk_script_test(NAME verify_cli SCRIPT tests/proofs/cli.sh LABELS verify cli)
tk_script_test(NAME proofs_regen SCRIPT tests/proofs/regen.sh LABELS verify proofs COST 75)
tk_script_test(NAME proofs_replay SCRIPT tests/proofs/replay.sh LABELS verify proofs slow COST 250)
# The translation validator (verify/tv.h) on nano's unoptimised LLVM for every codegen target,
# and hand-planted defects in it (swapped ids, fcmp predicates, provenance, guards, strides).
tk_unit_test(NAME tv_test SOURCES ${CMAKE_CURRENT_LIST_DIR}/tv_test.c
             LIBS tkc_lib tk_verify tk_codegen LLVM LABELS verify codegen)
target_include_directories(tv_test SYSTEM PRIVATE ${LLVM_INCLUDE_DIRS})
# Index reads (TK_IX_LOAD, the sparse dispatch's gathered rows and slots) on nano's combine:
# checker, dump round trip, every class, the translation validator; unclamped data refuted.
tk_unit_test(NAME ix_load_test SOURCES ${CMAKE_CURRENT_LIST_DIR}/ix_load_test.c
             LIBS tkc_lib tk_verify tk_codegen LLVM LABELS verify codegen ir)
target_include_directories(ix_load_test SYSTEM PRIVATE ${LLVM_INCLUDE_DIRS})
# The CPU schedule's weight prefetch: where it is, its text form, the checker, codegen and TV.
tk_unit_test(NAME prefetch_test SOURCES ${CMAKE_CURRENT_LIST_DIR}/prefetch_test.c
             LIBS tkc_lib tk_verify tk_codegen LLVM LABELS ir codegen)
target_include_directories(prefetch_test SYSTEM PRIVATE ${LLVM_INCLUDE_DIRS})
# Class dispatch (sparse dispatch's counting sort) on a hand-built kernel, and its defects.
tk_unit_test(NAME dispatch_test SOURCES ${CMAKE_CURRENT_LIST_DIR}/dispatch_test.c
             LIBS tkc_lib tk_verify LABELS verify)
# Workgroup-shared locals and barriers (issue 17): a staged GEMM launch of nano, written in the
# dump, parsed, interpreted (= the fused kernels) and proved; its four defects refuted.
tk_unit_test(NAME verify_barrier_test SOURCES ${CMAKE_CURRENT_LIST_DIR}/verify_barrier_test.c
             LIBS tkc_lib tk_verify tk_interp LABELS verify ir)
# The CPU schedule's row blocks (32 rows for row phases and narrow layers), its whole tiles per
# level and its row tail (Q panels of TC columns), nano and tiny at x86-64-v3 and v4.
tk_unit_test(NAME cpu_blocks_test SOURCES ${CMAKE_CURRENT_LIST_DIR}/cpu_blocks_test.c
             LIBS tkc_lib LABELS ir)
