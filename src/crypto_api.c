/* libcrypto, bound on first use (see crypto_api.h and dynlib.h for why). */
#define OPENSSL_SUPPRESS_DEPRECATED /* the SHA block functions' types, for sign_mac.c */
#include "crypto_api.h"

#include <pthread.h>
#include <string.h>
#include "dynlib.h"

static struct crypto_api api;

#define SYM(field, name) {name, (void **)&api.field}
static const struct dynlib_sym crypto_syms[] = {
	SYM(memcmp, "CRYPTO_memcmp"),          SYM(cleanse, "OPENSSL_cleanse"),
	SYM(rand_bytes, "RAND_bytes"),         SYM(encode_block, "EVP_EncodeBlock"),
	SYM(md_ctx_new, "EVP_MD_CTX_new"),     SYM(md_ctx_free, "EVP_MD_CTX_free"),
	SYM(md_fetch, "EVP_MD_fetch"),         SYM(sha256, "EVP_sha256"),
	SYM(digest_init_ex, "EVP_DigestInit_ex"), SYM(digest_init_ex2, "EVP_DigestInit_ex2"),
	SYM(digest_update, "EVP_DigestUpdate"), SYM(digest_final_ex, "EVP_DigestFinal_ex"),
#ifndef OPENSSL_NO_DEPRECATED_3_0
	SYM(sha1_init, "SHA1_Init"),           SYM(sha1_update, "SHA1_Update"),
	SYM(sha1_final, "SHA1_Final"),         SYM(sha256_init, "SHA256_Init"),
	SYM(sha256_update, "SHA256_Update"),   SYM(sha256_final, "SHA256_Final"),
#endif
};
#undef SYM

static struct dynlib crypto_lib = {"libcrypto.so.3", "Debian package libssl3", crypto_syms,
                                   sizeof crypto_syms / sizeof crypto_syms[0], 0, ""};

/* ---- stand-ins when libcrypto cannot be loaded: each fails as OpenSSL reports failure -------- */

static int none_memcmp(const void *a, const void *b, size_t n)
{
	const volatile unsigned char *x = a, *y = b;
	unsigned char d = 0;
	for (size_t i = 0; i < n; i++)
		d |= x[i] ^ y[i];
	return d != 0;
}

static void none_cleanse(void *p, size_t n)
{
	volatile unsigned char *q = p;
	while (n--)
		*q++ = 0;
}

static int none_rand_bytes(unsigned char *b, int n) { (void)b; (void)n; return 0; }
static int none_encode_block(unsigned char *t, const unsigned char *f, int n) { (void)f; (void)n; t[0] = 0; return 0; }
static EVP_MD_CTX *none_md_ctx_new(void) { return NULL; }
static void none_md_ctx_free(EVP_MD_CTX *c) { (void)c; }
static EVP_MD *none_md_fetch(OSSL_LIB_CTX *c, const char *a, const char *p) { (void)c; (void)a; (void)p; return NULL; }
static const EVP_MD *none_sha256(void) { return NULL; }
static int none_digest_init_ex(EVP_MD_CTX *c, const EVP_MD *t, ENGINE *e) { (void)c; (void)t; (void)e; return 0; }
static int none_digest_init_ex2(EVP_MD_CTX *c, const EVP_MD *t, const OSSL_PARAM *p) { (void)c; (void)t; (void)p; return 0; }
static int none_digest_update(EVP_MD_CTX *c, const void *d, size_t n) { (void)c; (void)d; (void)n; return 0; }
static int none_digest_final_ex(EVP_MD_CTX *c, unsigned char *m, unsigned int *s) { (void)c; (void)m; (void)s; return 0; }
#ifndef OPENSSL_NO_DEPRECATED_3_0
static int none_sha1_init(SHA_CTX *c) { (void)c; return 0; }
static int none_sha1_update(SHA_CTX *c, const void *d, size_t n) { (void)c; (void)d; (void)n; return 0; }
static int none_sha1_final(unsigned char *m, SHA_CTX *c) { (void)m; (void)c; return 0; }
static int none_sha256_init(SHA256_CTX *c) { (void)c; return 0; }
static int none_sha256_update(SHA256_CTX *c, const void *d, size_t n) { (void)c; (void)d; (void)n; return 0; }
static int none_sha256_final(unsigned char *m, SHA256_CTX *c) { (void)m; (void)c; return 0; }
#endif

static const struct crypto_api none = {
	none_memcmp, none_cleanse, none_rand_bytes, none_encode_block, none_md_ctx_new, none_md_ctx_free,
	none_md_fetch, none_sha256, none_digest_init_ex, none_digest_init_ex2, none_digest_update,
	none_digest_final_ex,
#ifndef OPENSSL_NO_DEPRECATED_3_0
	none_sha1_init, none_sha1_update, none_sha1_final, none_sha256_init, none_sha256_update,
	none_sha256_final,
#endif
};

static pthread_once_t crypto_once = PTHREAD_ONCE_INIT;
static const struct crypto_api *current = &none;

static void crypto_load_once(void)
{
	char err[256];
	if (dynlib_load(&crypto_lib, err, sizeof err) == 0)
		current = &api;
}

const struct crypto_api *crypto_api(void)
{
	pthread_once(&crypto_once, crypto_load_once);
	return current;
}

int crypto_api_load(char *err, size_t errlen)
{
	crypto_api();
	return dynlib_load(&crypto_lib, err, errlen);
}
