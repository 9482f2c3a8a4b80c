// OpenSSL's libcrypto (pkg-config: libcrypto), for the webhook signature (HMAC-SHA256). libcurl
// already links it, so this adds no library to the process and nothing to the build time.
#ifndef FLYWALL_CCRYPTO_SHIM_H
#define FLYWALL_CCRYPTO_SHIM_H

#include <stddef.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>

/// HMAC-SHA256 of `data` under `key` into `out` (32 bytes). Returns 1 on success.
static inline int flywall_hmac_sha256(const void *key, int key_length, const unsigned char *data, size_t length,
                                      unsigned char out[32]) {
    unsigned int out_length = 32;
    return HMAC(EVP_sha256(), key, key_length, data, length, out, &out_length) != NULL && out_length == 32;
}

#endif
