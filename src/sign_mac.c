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

int sign_mac_hmac_sha256_hex(struct sign_mac *m, char out[65], const char *key, size_t key_len,
                             const void *data, size_t n)
{
	if (!key_cached(&m->k256, key, key_len, NULL, 0)) {
		unsigned char pad[2][64];
		int ok = key_pads(pad, key, key_len, NULL, 0, 1) && SHA256_Init(&m->inner256) &&
		         SHA256_Update(&m->inner256, pad[0], 64) && SHA256_Init(&m->outer256) &&
		         SHA256_Update(&m->outer256, pad[1], 64);
		OPENSSL_cleanse(pad, sizeof pad);
		if (!ok)
			return m->k256.valid = 0, SIGN_ECRYPTO;
	}
	SHA256_CTX c = m->inner256;
	unsigned char inner[SHA256_DIGEST_LENGTH], md[SHA256_DIGEST_LENGTH];
	int ok = SHA256_Update(&c, data, n) && SHA256_Final(inner, &c);
	c = m->outer256;
	ok = ok && SHA256_Update(&c, inner, sizeof inner) && SHA256_Final(md, &c);
	OPENSSL_cleanse(&c, sizeof c);
	if (!ok)
		return SIGN_ECRYPTO;
	hex_encode(out, md, sizeof md);
	return SIGN_OK;
}

int sign_mac_hmac_sha1_base64(struct sign_mac *m, char out[29], const char *key, size_t key_len,
                              const char *suffix, size_t suffix_len, const void *data, size_t n)
{
	if (!key_cached(&m->k1, key, key_len, suffix, suffix_len)) {
		unsigned char pad[2][64];
		int ok = key_pads(pad, key, key_len, suffix, suffix_len, 0) && SHA1_Init(&m->inner1) &&
		         SHA1_Update(&m->inner1, pad[0], 64) && SHA1_Init(&m->outer1) &&
		         SHA1_Update(&m->outer1, pad[1], 64);
		OPENSSL_cleanse(pad, sizeof pad);
		if (!ok)
			return m->k1.valid = 0, SIGN_ECRYPTO;
	}
	SHA_CTX c = m->inner1;
	unsigned char inner[SHA_DIGEST_LENGTH], md[SHA_DIGEST_LENGTH];
	int ok = SHA1_Update(&c, data, n) && SHA1_Final(inner, &c);
	c = m->outer1;
	ok = ok && SHA1_Update(&c, inner, sizeof inner) && SHA1_Final(md, &c);
	OPENSSL_cleanse(&c, sizeof c);
	if (!ok)
		return SIGN_ECRYPTO;
	EVP_EncodeBlock((unsigned char *)out, md, sizeof md); /* 28 characters and the NUL */
	return SIGN_OK;
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
