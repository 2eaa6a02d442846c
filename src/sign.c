/*
 * sign.c: the byte buffer, percent-encoding, parameter lists, hashes and MACs, signature v1,
 * timestamps and nonces of the signer (V3 lives in sign_v3.c). Uses OpenSSL 3 EVP; no Lua.
 * The digests and the HMAC template are fetched once per process: fetching by name on every
 * signature would cost more than the hashing itself.
 */
#include "bytes.h"
#include "sign.h"

#include <limits.h>
#include <pthread.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/rand.h>
#include "crypto_api.h" /* libcrypto loaded on first use */

const char *sign_strerror(int code)
{
	switch (code) {
	case SIGN_OK: return "ok";
	case SIGN_ENOMEM: return "out of memory";
	case SIGN_EINVAL: return "malformed input";
	case SIGN_ECRYPTO: return "OpenSSL failure";
	default: return "unknown error";
	}
}

/* ---- buffer ---------------------------------------------------------------------------------- */

void sign_buf_init(struct sign_buf *b)
{
	b->data = NULL;
	b->len = b->cap = 0;
}

void sign_buf_free(struct sign_buf *b)
{
	free(b->data);
	sign_buf_init(b);
}

void sign_buf_reset(struct sign_buf *b)
{
	b->len = 0;
	if (b->data)
		b->data[0] = '\0';
}

int sign_buf_reserve(struct sign_buf *b, size_t extra)
{
	if (extra > SIZE_MAX - 1 - b->len)
		return SIGN_ENOMEM;
	size_t need = b->len + extra + 1; /* room for the NUL */
	if (need <= b->cap)
		return SIGN_OK;
	size_t cap = b->cap ? b->cap : 64;
	while (cap < need)
		cap = cap > SIZE_MAX / 2 ? need : cap * 2;
	char *p = realloc(b->data, cap);
	if (!p)
		return SIGN_ENOMEM;
	b->data = p;
	b->cap = cap;
	return SIGN_OK;
}

int sign_buf_append(struct sign_buf *b, const void *p, size_t n)
{
	if (sign_buf_reserve(b, n))
		return SIGN_ENOMEM;
	if (n)
		memcpy(b->data + b->len, p, n);
	b->len += n;
	b->data[b->len] = '\0';
	return SIGN_OK;
}

int sign_buf_append_str(struct sign_buf *b, const char *s)
{
	return sign_buf_append(b, s, strlen(s));
}

int sign_buf_append_char(struct sign_buf *b, char c)
{
	if (b->cap - b->len < 2 && sign_buf_reserve(b, 1))
		return SIGN_ENOMEM;
	b->data[b->len++] = c;
	b->data[b->len] = '\0';
	return SIGN_OK;
}

/* ---- percent-encoding ------------------------------------------------------------------------ */

static const char hex_upper[] = "0123456789ABCDEF";
static const char hex_lower[] = "0123456789abcdef";

/* One bit per byte value: A-Z a-z 0-9 - _ . ~ (a table, because this runs per byte signed). */
static const uint32_t unreserved[8] = {0, 0x03FF6000, 0x87FFFFFE, 0x47FFFFFE, 0, 0, 0, 0};

static int is_unreserved(unsigned char c)
{
	return (unreserved[c >> 5] >> (c & 31)) & 1;
}

int sign_percent_encode(struct sign_buf *out, const char *s, size_t n)
{
	if (n > (SIZE_MAX - 1) / 3 || sign_buf_reserve(out, n * 3))
		return SIGN_ENOMEM;
	char *w = out->data + out->len;
	for (size_t i = 0; i < n; i++) {
		unsigned char c = (unsigned char)s[i];
		if (is_unreserved(c)) {
			*w++ = (char)c;
		} else {
			*w++ = '%';
			*w++ = hex_upper[c >> 4];
			*w++ = hex_upper[c & 15];
		}
	}
	*w = '\0';
	out->len = (size_t)(w - out->data);
	return SIGN_OK;
}

static int hex_value(unsigned char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	return -1;
}

int sign_percent_decode(struct sign_buf *out, const char *s, size_t n, int plus_is_space,
                        size_t *bad_at)
{
	if (sign_buf_reserve(out, n))
		return SIGN_ENOMEM;
	size_t start = out->len;
	char *w = out->data + out->len;
	for (size_t i = 0; i < n; i++) {
		char c = s[i];
		if (c == '%') {
			int hi = i + 1 < n ? hex_value((unsigned char)s[i + 1]) : -1;
			int lo = i + 2 < n ? hex_value((unsigned char)s[i + 2]) : -1;
			if (hi < 0 || lo < 0) {
				out->len = start; /* leave nothing half-decoded behind */
				out->data[start] = '\0';
				if (bad_at)
					*bad_at = i;
				return SIGN_EINVAL;
			}
			*w++ = (char)(hi << 4 | lo);
			i += 2;
		} else {
			*w++ = (c == '+' && plus_is_space) ? ' ' : c;
		}
	}
	*w = '\0';
	out->len = (size_t)(w - out->data);
	return SIGN_OK;
}

/* ---- parameter lists ------------------------------------------------------------------------- */

void sign_params_init(struct sign_params *p)
{
	p->items = NULL;
	p->len = p->cap = 0;
}

void sign_params_reset(struct sign_params *p)
{
	for (size_t i = 0; i < p->len; i++)
		free(p->items[i].owned);
	p->len = 0;
}

void sign_params_free(struct sign_params *p)
{
	sign_params_reset(p);
	free(p->items);
	sign_params_init(p);
}

static struct sign_param *params_push(struct sign_params *p)
{
	if (p->len == p->cap) {
		struct sign_param *items = bytes_grow(p->items, &p->cap, sizeof *items, 16);
		if (!items)
			return NULL;
		p->items = items;
	}
	return &p->items[p->len++];
}

int sign_params_add(struct sign_params *p, const char *key, size_t key_len, const char *value,
                    size_t value_len)
{
	struct sign_param *it = params_push(p);
	if (!it)
		return SIGN_ENOMEM;
	*it = (struct sign_param){key, value, key_len, value_len, NULL};
	return SIGN_OK;
}

int sign_params_add_copy(struct sign_params *p, const char *key, size_t key_len,
                         const char *value, size_t value_len)
{
	if (key_len > SIZE_MAX - 2 - value_len)
		return SIGN_ENOMEM;
	char *block = malloc(key_len + value_len + 2);
	if (!block)
		return SIGN_ENOMEM;
	memcpy(block, key, key_len);
	block[key_len] = '\0';
	memcpy(block + key_len + 1, value, value_len);
	block[key_len + 1 + value_len] = '\0';
	struct sign_param *it = params_push(p);
	if (!it) {
		free(block);
		return SIGN_ENOMEM;
	}
	*it = (struct sign_param){block, block + key_len + 1, key_len, value_len, block};
	return SIGN_OK;
}

const struct sign_param *sign_params_get(const struct sign_params *p, const char *key,
                                         size_t key_len)
{
	for (size_t i = 0; i < p->len; i++)
		if (p->items[i].key_len == key_len && memcmp(p->items[i].key, key, key_len) == 0)
			return &p->items[i];
	return NULL;
}

static int bytes_cmp(const char *a, size_t an, const char *b, size_t bn)
{
	int c = memcmp(a, b, an < bn ? an : bn);
	if (c)
		return c;
	return an < bn ? -1 : an > bn;
}

static int param_cmp(const void *x, const void *y)
{
	const struct sign_param *a = x, *b = y;
	int c = bytes_cmp(a->key, a->key_len, b->key, b->key_len);
	return c ? c : bytes_cmp(a->value, a->value_len, b->value, b->value_len);
}

void sign_params_sort(struct sign_params *p)
{
	if (p->len > 24) {
		qsort(p->items, p->len, sizeof *p->items, param_cmp);
		return;
	}
	/* insertion sort: request lists are short, and often arrive nearly sorted */
	for (size_t i = 1; i < p->len; i++) {
		struct sign_param it = p->items[i];
		size_t j = i;
		for (; j > 0 && param_cmp(&p->items[j - 1], &it) > 0; j--)
			p->items[j] = p->items[j - 1];
		p->items[j] = it;
	}
}

int sign_canonical_query(struct sign_buf *out, const struct sign_params *p, const char *skip_key)
{
	size_t skip_len = skip_key ? strlen(skip_key) : 0;
	int first = 1;
	for (size_t i = 0; i < p->len; i++) {
		const struct sign_param *it = &p->items[i];
		if (skip_key && it->key_len == skip_len && memcmp(it->key, skip_key, skip_len) == 0)
			continue;
		if ((!first && sign_buf_append_char(out, '&')) ||
		    sign_percent_encode(out, it->key, it->key_len) || sign_buf_append_char(out, '=') ||
		    sign_percent_encode(out, it->value, it->value_len))
			return SIGN_ENOMEM;
		first = 0;
	}
	return sign_buf_reserve(out, 0); /* an empty query still yields a NUL-terminated buffer */
}

/* ---- hashes and MACs ------------------------------------------------------------------------- */

/*
 * Digests are fetched once per process, and each thread keeps one EVP_MD_CTX that it re-initialises
 * for every hash. HMAC (RFC 2104) is built on that context rather than on EVP_MAC, whose per-call
 * context duplication and re-keying cost several times the hashing of a whole request.
 */
static struct {
	EVP_MD *sha1, *sha256;
	pthread_key_t ctx_key;
	int key_ok;
} crypto;
static pthread_once_t crypto_once = PTHREAD_ONCE_INIT;

static void ctx_destroy(void *ctx)
{
	EVP_MD_CTX_free(ctx);
}

static void crypto_init(void)
{
	crypto.sha1 = EVP_MD_fetch(NULL, "SHA1", NULL);
	crypto.sha256 = EVP_MD_fetch(NULL, "SHA256", NULL);
	crypto.key_ok = pthread_key_create(&crypto.ctx_key, ctx_destroy) == 0;
}

/* This thread's digest context, created on first use and freed when the thread ends. */
static EVP_MD_CTX *thread_ctx(void)
{
	pthread_once(&crypto_once, crypto_init);
	if (!crypto.key_ok)
		return NULL;
	EVP_MD_CTX *ctx = pthread_getspecific(crypto.ctx_key);
	if (!ctx && (ctx = EVP_MD_CTX_new()) && pthread_setspecific(crypto.ctx_key, ctx) != 0) {
		EVP_MD_CTX_free(ctx);
		ctx = NULL;
	}
	return ctx;
}

/* md = H(a || b); b may be empty. */
static int digest2(EVP_MD_CTX *ctx, const EVP_MD *type, const void *a, size_t an, const void *b,
                   size_t bn, unsigned char *md)
{
	return EVP_DigestInit_ex2(ctx, type, NULL) && EVP_DigestUpdate(ctx, a, an) &&
	       (bn == 0 || EVP_DigestUpdate(ctx, b, bn)) && EVP_DigestFinal_ex(ctx, md, NULL);
}

/* HMAC over SHA-1 or SHA-256 (both 64-byte blocks); md receives md_size bytes. */
static int hmac(int sha256, size_t md_size, const void *key, size_t key_len, const void *data,
                size_t n, unsigned char *md)
{
	EVP_MD_CTX *ctx = thread_ctx(); /* first, so that crypto_init has run */
	const EVP_MD *type = sha256 ? crypto.sha256 : crypto.sha1;
	if (!ctx || !type)
		return SIGN_ECRYPTO;
	unsigned char k0[64] = {0}, pad[64], inner[32];
	int ok = 1;
	if (key_len > sizeof k0)
		ok = digest2(ctx, type, key, key_len, NULL, 0, k0);
	else
		memcpy(k0, key, key_len);
	for (size_t i = 0; i < sizeof pad; i++)
		pad[i] = k0[i] ^ 0x36;
	ok = ok && digest2(ctx, type, pad, sizeof pad, data, n, inner);
	for (size_t i = 0; i < sizeof pad; i++)
		pad[i] = k0[i] ^ 0x5c;
	ok = ok && digest2(ctx, type, pad, sizeof pad, inner, md_size, md);
	OPENSSL_cleanse(k0, sizeof k0);
	OPENSSL_cleanse(pad, sizeof pad);
	return ok ? SIGN_OK : SIGN_ECRYPTO;
}

static void hex_encode(char *out, const unsigned char *in, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		out[2 * i] = hex_lower[in[i] >> 4];
		out[2 * i + 1] = hex_lower[in[i] & 15];
	}
	out[2 * n] = '\0';
}

int sign_sha256_hex(char out[SIGN_SHA256_HEX_SIZE], const void *data, size_t n)
{
	EVP_MD_CTX *ctx = thread_ctx();
	unsigned char md[32];
	if (!ctx || !crypto.sha256 || !digest2(ctx, crypto.sha256, data, n, NULL, 0, md))
		return SIGN_ECRYPTO;
	hex_encode(out, md, sizeof md);
	return SIGN_OK;
}

/* HMAC-SHA1 as base64 (28 characters and the NUL) or HMAC-SHA256 as lower-case hex, into out. */
static int hmac_text(int sha256, char *out, const void *key, size_t key_len, const void *data, size_t n)
{
	unsigned char md[32];
	size_t len = sha256 ? 32 : 20;
	int rc = hmac(sha256, len, key, key_len, data, n, md);
	if (rc == SIGN_OK && sha256)
		hex_encode(out, md, len);
	else if (rc == SIGN_OK)
		EVP_EncodeBlock((unsigned char *)out, md, (int)len);
	return rc;
}

int sign_hmac_sha1_base64(char out[SIGN_SHA1_B64_SIZE], const void *key, size_t key_len,
                          const void *data, size_t n)
{
	return hmac_text(0, out, key, key_len, data, n);
}

int sign_hmac_sha256_hex(char out[SIGN_SHA256_HEX_SIZE], const void *key, size_t key_len,
                         const void *data, size_t n)
{
	return hmac_text(1, out, key, key_len, data, n);
}

int sign_equal(const char *a, size_t a_len, const char *b, size_t b_len)
{
	/* the length of a signature is public; only its content must not leak */
	return a_len == b_len && CRYPTO_memcmp(a, b, a_len) == 0;
}

/* ---- signature v1 ---------------------------------------------------------------------------- */

void sign_v1_init(struct sign_v1 *s)
{
	sign_buf_init(&s->canonical);
	sign_buf_init(&s->string_to_sign);
	s->signature[0] = '\0';
}

void sign_v1_free(struct sign_v1 *s)
{
	sign_buf_free(&s->canonical);
	sign_buf_free(&s->string_to_sign);
}

int sign_v1_compute(struct sign_v1 *s, const char *method, struct sign_params *params,
                    const char *secret, size_t secret_len)
{
	s->signature[0] = '\0';
	sign_buf_reset(&s->canonical);
	sign_buf_reset(&s->string_to_sign);
	sign_params_sort(params);
	if (sign_canonical_query(&s->canonical, params, "Signature") ||
	    sign_buf_append_str(&s->string_to_sign, method) ||
	    sign_buf_append(&s->string_to_sign, "&%2F&", 5) ||
	    sign_percent_encode(&s->string_to_sign, s->canonical.data, s->canonical.len))
		return SIGN_ENOMEM;

	char stack_key[256]; /* the key is secret + "&"; secrets are short */
	char *key = secret_len < sizeof stack_key ? stack_key : malloc(secret_len + 1);
	if (!key)
		return SIGN_ENOMEM;
	memcpy(key, secret, secret_len);
	key[secret_len] = '&';
	int rc = sign_hmac_sha1_base64(s->signature, key, secret_len + 1, s->string_to_sign.data,
	                               s->string_to_sign.len);
	OPENSSL_cleanse(key, secret_len + 1);
	if (key != stack_key)
		free(key);
	return rc;
}

/* ---- timestamps and nonces ------------------------------------------------------------------- */

/* Days since 1970-01-01 of a proleptic Gregorian date (H. Hinnant's days_from_civil). */
static long long days_from_civil(long long y, unsigned m, unsigned d)
{
	y -= m <= 2;
	long long era = (y >= 0 ? y : y - 399) / 400;
	unsigned yoe = (unsigned)(y - era * 400);
	unsigned doy = (153 * (m > 2 ? m - 3 : m + 9) + 2) / 5 + d - 1;
	unsigned doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
	return era * 146097 + (long long)doe - 719468;
}

static void civil_from_days(long long z, long long *y, unsigned *m, unsigned *d)
{
	z += 719468;
	long long era = (z >= 0 ? z : z - 146096) / 146097;
	unsigned doe = (unsigned)(z - era * 146097);
	unsigned yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
	unsigned doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
	unsigned mp = (5 * doy + 2) / 153;
	*d = doy - (153 * mp + 2) / 5 + 1;
	*m = mp < 10 ? mp + 3 : mp - 9;
	*y = (long long)yoe + era * 400 + (*m <= 2);
}

int sign_timestamp_format(char out[SIGN_TIMESTAMP_SIZE], time_t t)
{
	long long secs = (long long)t, days = secs / 86400, rem = secs % 86400;
	if (rem < 0) {
		rem += 86400;
		days--;
	}
	long long y;
	unsigned m, d;
	civil_from_days(days, &y, &m, &d);
	if (y < 0 || y > 9999) {
		out[0] = '\0';
		return SIGN_EINVAL;
	}
	const unsigned fields[] = {(unsigned)y, m, d, (unsigned)(rem / 3600),
	                           (unsigned)(rem / 60 % 60), (unsigned)(rem % 60)};
	memcpy(out, "0000-00-00T00:00:00Z", SIGN_TIMESTAMP_SIZE);
	static const int end[] = {3, 6, 9, 12, 15, 18}; /* last digit of each field */
	for (int f = 0; f < 6; f++)
		for (unsigned v = fields[f], i = 0; v; v /= 10, i++)
			out[end[f] - (int)i] = (char)('0' + v % 10);
	return SIGN_OK;
}

/* Reads exactly `width` ASCII digits at s; -1 if any is not a digit. */
static int digits(const char *s, int width)
{
	int v = 0;
	for (int i = 0; i < width; i++) {
		if (s[i] < '0' || s[i] > '9')
			return -1;
		v = v * 10 + (s[i] - '0');
	}
	return v;
}

int sign_timestamp_parse(const char *s, size_t n, time_t *out, const char **why)
{
	static const char shape[] = "yyyy-MM-ddTHH:mm:ssZ";
	const char *err = NULL;
	int y = -1, mo = -1, d = -1, h = -1, mi = -1, sec = -1;
	if (n != sizeof shape - 1 || s[4] != '-' || s[7] != '-' || s[10] != 'T' || s[13] != ':' ||
	    s[16] != ':' || s[19] != 'Z') {
		err = "expected UTC yyyy-MM-ddTHH:mm:ssZ, e.g. 2018-01-01T12:00:00Z";
	} else {
		y = digits(s, 4), mo = digits(s + 5, 2), d = digits(s + 8, 2);
		h = digits(s + 11, 2), mi = digits(s + 14, 2), sec = digits(s + 17, 2);
		if (y < 0 || mo < 0 || d < 0 || h < 0 || mi < 0 || sec < 0)
			err = "expected digits in every field of yyyy-MM-ddTHH:mm:ssZ";
	}
	if (!err) {
		static const int mdays[] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
		int leap = (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
		if (mo < 1 || mo > 12)
			err = "month must be 01..12";
		else if (d < 1 || d > mdays[mo - 1] + (mo == 2 && leap))
			err = "day does not exist in that month";
		else if (h > 23 || mi > 59 || sec > 59)
			err = "time of day must be 00:00:00..23:59:59";
	}
	if (err) {
		if (why)
			*why = err;
		return SIGN_EINVAL;
	}
	long long t = days_from_civil(y, (unsigned)mo, (unsigned)d) * 86400 + h * 3600 + mi * 60 +
	              sec;
	if ((long long)(time_t)t != t) {
		if (why)
			*why = "timestamp does not fit in time_t";
		return SIGN_EINVAL;
	}
	*out = (time_t)t;
	return SIGN_OK;
}

int sign_nonce(char out[SIGN_NONCE_SIZE])
{
	unsigned char r[16];
	if (RAND_bytes(r, sizeof r) != 1) {
		out[0] = '\0';
		return SIGN_ECRYPTO;
	}
	hex_encode(out, r, sizeof r);
	return SIGN_OK;
}
