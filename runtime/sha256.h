/* runtime/sha256.h — SHA-256 of a byte range as 64 lowercase hex digits (libtkrt-internal).
 *
 * The one digest routine of the compiler side: the manifest's file hashes (compiler/), the
 * proof store's query names and root hash (verify/report.c) and the bundle check
 * (compiler/cmd_check_proofs.c) all hash through it, so a hash means the same everywhere.
 * OpenSSL EVP underneath; no global state.
 */
#ifndef TK_RUNTIME_SHA256_H
#define TK_RUNTIME_SHA256_H

#include <stddef.h>

#include "tk/status.h"

/* out receives 64 lowercase hex digits and a NUL. TK_INTERNAL if OpenSSL fails. */
TK_MUST_USE tk_status tk_sha256_hex(const void *data, size_t size, char out[65]);

#endif /* TK_RUNTIME_SHA256_H */
