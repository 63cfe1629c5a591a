/* runtime/sha256.c — tk_sha256_hex (runtime/sha256.h) over OpenSSL's one-shot EVP_Digest. */
#include <openssl/evp.h>
#include <stdio.h>

#include "runtime/sha256.h"

tk_status tk_sha256_hex(const void *data, size_t size, char out[65]) {
  unsigned char md[EVP_MAX_MD_SIZE];
  unsigned int n = 0;
  if (!EVP_Digest(data, size, md, &n, EVP_sha256(), NULL) || n != 32)
    return tk_status_make(TK_INTERNAL, "OpenSSL EVP_Digest(sha256) failed");
  for (unsigned i = 0; i < n; i++) snprintf(out + 2 * i, 3, "%02x", md[i]);
  return TK_STATUS_OK;
}
