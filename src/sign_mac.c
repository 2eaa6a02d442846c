/*
 * sign_mac.c: hashes and HMACs for the signer's one-call path (see sign_mac.h). Uses OpenSSL's
 * SHA256_* / SHA1_* block functions, deprecated in OpenSSL 3 but still shipped: with EVP, a
 * digest pays an init (and an allocation) per call, and an HMAC cannot restore its pad states
 * with a plain copy; together that cost more than hashing a whole canonical request (measured in
 * BENCHMARKS.md, bench/sign). Built without the deprecated API (OPENSSL_NO_DEPRECATED_3_0), it
 * falls back to the EVP functions of sign.c, with the same results.
 */
#define OPENSSL_SUPPRESS_DEPRECATED /* this file alone, for the reason above */
#include "sign_mac.h"

#include <stdlib.h>
#include <string.h>

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/sha.h>
#include "crypto_api.h" /* libcrypto loaded on first use */

#include "sign.h"

#ifndef OPENSSL_NO_DEPRECATED_3_0

static void hex_encode(char *out, const unsigned char *in, size_t n)
{
	static const char digits[] = "0123456789abcdef";
	for (size_t i = 0; i < n; i++) {
		out[2 * i] = digits[in[i] >> 4];
		out[2 * i + 1] = digits[in[i] & 15];
	}
	out[2 * n] = '\0';
}

#define KEY_CACHE 128 /* longer keys are not remembered (secrets are ~30 bytes) */

/* The key the pad states below were made from. */
struct cached_key {
	unsigned char bytes[KEY_CACHE];
	size_t len;
	int valid;
};

struct sign_mac {
	struct cached_key k256, k1;
	SHA256_CTX inner256, outer256;
	SHA_CTX inner1, outer1;
};

struct sign_mac *sign_mac_new(void)
{
	return calloc(1, sizeof(struct sign_mac));
}

void sign_mac_free(struct sign_mac *m)
{
	if (!m)
		return;
	OPENSSL_cleanse(m, sizeof *m);
	free(m);
}

int sign_mac_sha256_hex(char out[65], const void *data, size_t n)
{
	SHA256_CTX c;
	unsigned char md[SHA256_DIGEST_LENGTH];
	if (!SHA256_Init(&c) || !SHA256_Update(&c, data, n) || !SHA256_Final(md, &c))
		return SIGN_ECRYPTO;
	hex_encode(out, md, sizeof md);
	return SIGN_OK;
}

/* Whether k already holds a || b; if not (and it fits), remembers it and returns 0. */
static int key_cached(struct cached_key *k, const char *a, size_t an, const char *b, size_t bn)
{
	if (k->valid && k->len == an + bn && CRYPTO_memcmp(k->bytes, a, an) == 0 &&
	    (bn == 0 || CRYPTO_memcmp(k->bytes + an, b, bn) == 0))
		return 1;
	k->valid = an <= KEY_CACHE && bn <= KEY_CACHE - an;
	if (k->valid) {
		memcpy(k->bytes, a, an);
		if (bn)
			memcpy(k->bytes + an, b, bn);
		k->len = an + bn;
	}
	return 0;
}

/* RFC 2104 K0 for a 64-byte block: the key, or its digest when longer than a block. */
static int block_key(unsigned char k0[64], const char *a, size_t an, const char *b, size_t bn,
                     int sha256)
{
	memset(k0, 0, 64);
	if (an + bn <= 64) {
		memcpy(k0, a, an);
		if (bn)
			memcpy(k0 + an, b, bn);
		return 1;
	}
	if (sha256) {
		SHA256_CTX c;
		return SHA256_Init(&c) && SHA256_Update(&c, a, an) && SHA256_Update(&c, b, bn) &&
		       SHA256_Final(k0, &c);
	}
	SHA_CTX c;
	return SHA1_Init(&c) && SHA1_Update(&c, a, an) && SHA1_Update(&c, b, bn) &&
	       SHA1_Final(k0, &c);
}

/* The RFC 2104 inner (pad[0]) and outer (pad[1]) pads of the key a || b. The caller cleanses pad. */
static int key_pads(unsigned char pad[2][64], const char *a, size_t an, const char *b, size_t bn, int sha256)
{
	unsigned char k0[64];
	int ok = block_key(k0, a, an, b, bn, sha256);
	for (int i = 0; i < 64; i++) {
		pad[0][i] = k0[i] ^ 0x36;
		pad[1][i] = k0[i] ^ 0x5c;
	}
	OPENSSL_cleanse(k0, sizeof k0);
	return ok;
}

/* HMAC (RFC 2104) over the pad states cached for the key a || b: md = H(outer || H(inner || data)).
 * One body for both digests, which differ only in the SHA API (context type, Init/Update/Final). */
#define DEFINE_HMAC(name, CTX, INIT, UPDATE, FINAL, LEN, K, INNER, OUTER, SHA256)                  \
	static int name(struct sign_mac *m, unsigned char md[LEN], const char *key, size_t key_len, \
	                const char *suffix, size_t suffix_len, const void *data, size_t n)          \
	{                                                                                            \
		if (!key_cached(&m->K, key, key_len, suffix, suffix_len)) {                          \
			unsigned char pad[2][64];                                                    \
			int ok = key_pads(pad, key, key_len, suffix, suffix_len, SHA256) &&          \
			         INIT(&m->INNER) && UPDATE(&m->INNER, pad[0], 64) &&                 \
			         INIT(&m->OUTER) && UPDATE(&m->OUTER, pad[1], 64);                   \
			OPENSSL_cleanse(pad, sizeof pad);                                            \
			if (!ok)                                                                     \
				return m->K.valid = 0, SIGN_ECRYPTO;                                 \
		}                                                                                    \
		CTX c = m->INNER;                                                                    \
		unsigned char inner[LEN];                                                            \
		int ok = UPDATE(&c, data, n) && FINAL(inner, &c);                                    \
		c = m->OUTER;                                                                        \
		ok = ok && UPDATE(&c, inner, sizeof inner) && FINAL(md, &c);                         \
		OPENSSL_cleanse(&c, sizeof c);                                                       \
		return ok ? SIGN_OK : SIGN_ECRYPTO;                                                  \
	}

DEFINE_HMAC(hmac_sha256, SHA256_CTX, SHA256_Init, SHA256_Update, SHA256_Final, SHA256_DIGEST_LENGTH, k256,
            inner256, outer256, 1)
DEFINE_HMAC(hmac_sha1, SHA_CTX, SHA1_Init, SHA1_Update, SHA1_Final, SHA_DIGEST_LENGTH, k1, inner1, outer1, 0)

int sign_mac_hmac_sha256_hex(struct sign_mac *m, char out[65], const char *key, size_t key_len,
                             const void *data, size_t n)
{
	unsigned char md[SHA256_DIGEST_LENGTH];
	int rc = hmac_sha256(m, md, key, key_len, NULL, 0, data, n);
	if (rc == SIGN_OK)
		hex_encode(out, md, sizeof md);
	return rc;
}

int sign_mac_hmac_sha1_base64(struct sign_mac *m, char out[29], const char *key, size_t key_len,
                              const char *suffix, size_t suffix_len, const void *data, size_t n)
{
	unsigned char md[SHA_DIGEST_LENGTH];
	int rc = hmac_sha1(m, md, key, key_len, suffix, suffix_len, data, n);
	if (rc == SIGN_OK)
		EVP_EncodeBlock((unsigned char *)out, md, sizeof md); /* 28 characters and the NUL */
	return rc;
}

#else /* OPENSSL_NO_DEPRECATED_3_0: the EVP functions of sign.c */

struct sign_mac {
	int unused;
};

struct sign_mac *sign_mac_new(void)
{
	return calloc(1, sizeof(struct sign_mac));
}

void sign_mac_free(struct sign_mac *m)
{
	free(m);
}

int sign_mac_sha256_hex(char out[65], const void *data, size_t n)
{
	return sign_sha256_hex(out, data, n);
}

int sign_mac_hmac_sha256_hex(struct sign_mac *m, char out[65], const char *key, size_t key_len,
                             const void *data, size_t n)
{
	(void)m;
	return sign_hmac_sha256_hex(out, key, key_len, data, n);
}

int sign_mac_hmac_sha1_base64(struct sign_mac *m, char out[29], const char *key, size_t key_len,
                              const char *suffix, size_t suffix_len, const void *data, size_t n)
{
	(void)m;
	if (key_len > SIZE_MAX - suffix_len)
		return SIGN_ENOMEM;
	char *k = malloc(key_len + suffix_len + 1);
	if (!k)
		return SIGN_ENOMEM;
	memcpy(k, key, key_len);
	memcpy(k + key_len, suffix, suffix_len);
	int rc = sign_hmac_sha1_base64(out, k, key_len + suffix_len, data, n);
	OPENSSL_cleanse(k, key_len + suffix_len);
	free(k);
	return rc;
}

#endif
