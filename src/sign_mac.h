/*
 * sign_mac: the hashes of the signer's one-call path (sign_request.c), private to it. Keeps one
 * HMAC key per algorithm as its precomputed inner and outer pad states, so signing with the same
 * secret again costs the message blocks only, and hashes without EVP's per-call set-up. Pure C,
 * OpenSSL only; never Lua. Byte-identical to sign_sha256_hex / sign_hmac_* of sign.c.
 */
#ifndef OTARUN_SIGN_MAC_H
#define OTARUN_SIGN_MAC_H

#include <stddef.h>

struct sign_mac; /* opaque; holds key material, cleansed when freed */
struct sign_mac *sign_mac_new(void);
void sign_mac_free(struct sign_mac *m);
/* hex(SHA-256(data)) into out (64 lowercase hex digits + NUL). */
int sign_mac_sha256_hex(char out[65], const void *data, size_t n);
/* hex(HMAC-SHA256(key, data)) into out (64 hex digits + NUL). */
int sign_mac_hmac_sha256_hex(struct sign_mac *m, char out[65], const char *key, size_t key_len,
                             const void *data, size_t n);
/* base64(HMAC-SHA1(key || suffix, data)) into out (28 characters + NUL); v1 keys with
 * secret || "&" without building that string. */
int sign_mac_hmac_sha1_base64(struct sign_mac *m, char out[29], const char *key, size_t key_len,
                              const char *suffix, size_t suffix_len, const void *data, size_t n);

#endif
