/* libcrypto, bound on first use (see dynlib.h for why): linked, OpenSSL's relocations cost every
 * start-up about a millisecond, though `validate` never hashes. Include it after the OpenSSL
 * headers: it rebinds the names sign.c, sign_mac.c and store_read.c call to a table that is
 * filled the first time any of them is called. Should libcrypto.so.3 be missing, every function
 * fails as OpenSSL's own report failure (0, NULL), so the callers' error paths apply. */
#ifndef OTARUN_CRYPTO_API_H
#define OTARUN_CRYPTO_API_H
#include <stddef.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/rand.h>
#include <openssl/sha.h>

struct crypto_api {
	int (*memcmp)(const void *, const void *, size_t);
	void (*cleanse)(void *, size_t);
	int (*rand_bytes)(unsigned char *, int);
	int (*encode_block)(unsigned char *, const unsigned char *, int);
	EVP_MD_CTX *(*md_ctx_new)(void);
	void (*md_ctx_free)(EVP_MD_CTX *);
	EVP_MD *(*md_fetch)(OSSL_LIB_CTX *, const char *, const char *);
	const EVP_MD *(*sha256)(void);
	int (*digest_init_ex)(EVP_MD_CTX *, const EVP_MD *, ENGINE *);
	int (*digest_init_ex2)(EVP_MD_CTX *, const EVP_MD *, const OSSL_PARAM *);
	int (*digest_update)(EVP_MD_CTX *, const void *, size_t);
	int (*digest_final_ex)(EVP_MD_CTX *, unsigned char *, unsigned int *);
#ifndef OPENSSL_NO_DEPRECATED_3_0
	int (*sha1_init)(SHA_CTX *);
	int (*sha1_update)(SHA_CTX *, const void *, size_t);
	int (*sha1_final)(unsigned char *, SHA_CTX *);
	int (*sha256_init)(SHA256_CTX *);
	int (*sha256_update)(SHA256_CTX *, const void *, size_t);
	int (*sha256_final)(unsigned char *, SHA256_CTX *);
#endif
};

/* The table, loaded on the first call (thread-safe); failing stand-ins when libcrypto is missing. */
const struct crypto_api *crypto_api(void);
/* 0 once libcrypto is loaded; -1 with the reason in err otherwise. */
int crypto_api_load(char *err, size_t errlen);

#define CRYPTO_memcmp (crypto_api()->memcmp)
#define OPENSSL_cleanse (crypto_api()->cleanse)
#define RAND_bytes (crypto_api()->rand_bytes)
#define EVP_EncodeBlock (crypto_api()->encode_block)
#define EVP_MD_CTX_new (crypto_api()->md_ctx_new)
#define EVP_MD_CTX_free (crypto_api()->md_ctx_free)
#define EVP_MD_fetch (crypto_api()->md_fetch)
#define EVP_sha256 (crypto_api()->sha256)
#define EVP_DigestInit_ex (crypto_api()->digest_init_ex)
#define EVP_DigestInit_ex2 (crypto_api()->digest_init_ex2)
#define EVP_DigestUpdate (crypto_api()->digest_update)
#define EVP_DigestFinal_ex (crypto_api()->digest_final_ex)
#ifndef OPENSSL_NO_DEPRECATED_3_0
#define SHA1_Init (crypto_api()->sha1_init)
#define SHA1_Update (crypto_api()->sha1_update)
#define SHA1_Final (crypto_api()->sha1_final)
#define SHA256_Init (crypto_api()->sha256_init)
#define SHA256_Update (crypto_api()->sha256_update)
#define SHA256_Final (crypto_api()->sha256_final)
#endif

#endif
