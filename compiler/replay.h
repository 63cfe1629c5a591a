/* compiler/replay.h — replays SMT-LIB2 query files in external solvers (`tkc check-proofs`).
 *
 * Each file of a directory is run through each solver of a list (z3 as `z3 -T:60 FILE`, cvc5
 * as `cvc5 --tlimit=60000 FILE`, found on PATH), a few processes at a time; every run must
 * print exactly `unsat`. No global state; children are always waited for.
 */
#ifndef TK_COMPILER_REPLAY_H
#define TK_COMPILER_REPLAY_H

#include "tk/status.h"

/* TK_UNAVAILABLE naming the first solver of `solvers` ("z3,cvc5", "z3", "cvc5" or "") that is
 * not on PATH. */
TK_MUST_USE tk_status tkc_replay_solvers_present(const char *solvers);

/* Replays every *.smt2 file of dir in each solver, `jobs` processes at a time; solver output
 * goes to files under the existing directory `work`. TK_PROOF_FAILED naming the file, the
 * solver and what it printed for the first run that is not `unsat`. Progress on stderr. */
TK_MUST_USE tk_status tkc_replay_queries(const char *dir, const char *solvers, int jobs,
                                         const char *work);

#endif /* TK_COMPILER_REPLAY_H */
