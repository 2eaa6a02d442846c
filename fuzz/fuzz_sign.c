/* libFuzzer harness: the signer's percent-encoding (decode(encode(x)) == x), form and query
 * decoding, parameter sorting and the canonical query, the request flattening paths, the V3
 * Authorization header parser and the timestamp parser, on arbitrary bytes. */
#include <string.h>
#include <time.h>
#include "fuzz_util.h"
#include "sign.h"

static void round_trip(const char *s, size_t n)
{
	struct sign_buf enc, dec;
	sign_buf_init(&enc);
	sign_buf_init(&dec);
	if (sign_percent_encode(&enc, s, n) == SIGN_OK &&
	    sign_percent_decode(&dec, enc.data ? enc.data : "", enc.len, 0, NULL) == SIGN_OK) {
		FUZZ_CHECK(dec.len == n);
		FUZZ_CHECK(n == 0 || memcmp(dec.data, s, n) == 0);
	}
	sign_buf_free(&enc);
	sign_buf_free(&dec);
}

/* "k=v&k=v..." decoded as a form, sorted and joined again, as the emulator reads a request. */
static void query(const char *s, size_t n)
{
	struct sign_params params;
	struct sign_buf key, value, out;
	sign_params_init(&params);
	sign_buf_init(&key);
	sign_buf_init(&value);
	sign_buf_init(&out);
	const char *end = s + n;
	while (s < end) {
		const char *amp = memchr(s, '&', (size_t)(end - s));
		const char *stop = amp ? amp : end;
		const char *eq = memchr(s, '=', (size_t)(stop - s));
		const char *kend = eq ? eq : stop;
		sign_buf_reset(&key);
		sign_buf_reset(&value);
		size_t bad;
		if (sign_percent_decode(&key, s, (size_t)(kend - s), 1, &bad) == SIGN_OK &&
		    (!eq || sign_percent_decode(&value, eq + 1, (size_t)(stop - eq - 1), 1, &bad) == SIGN_OK))
			sign_params_add_copy(&params, key.data ? key.data : "", key.len,
			                     value.data ? value.data : "", value.len);
		s = amp ? amp + 1 : end;
	}
	sign_params_sort(&params);
	for (size_t i = 1; i < params.len; i++) {
		const struct sign_param *a = &params.items[i - 1], *b = &params.items[i];
		size_t m = a->key_len < b->key_len ? a->key_len : b->key_len;
		int c = memcmp(a->key, b->key, m);
		FUZZ_CHECK(c < 0 || (c == 0 && a->key_len <= b->key_len));
	}
	(void)sign_canonical_query(&out, &params, "Signature");
	sign_params_free(&params);
	sign_buf_free(&key);
	sign_buf_free(&value);
	sign_buf_free(&out);
}

/* The flattening: each byte picks a path step (name or index) or a value, then V3 signs it. */
static void flatten(const uint8_t *d, size_t n)
{
	struct sign_rq rq;
	sign_rq_init(&rq);
	size_t marks[64], depth = 0;
	for (size_t i = 0; i + 1 < n; i += 2) {
		uint8_t op = d[i], arg = d[i + 1];
		size_t mark;
		if (op % 4 == 0 && depth < 64 && sign_rq_path_name(&rq, (const char *)d + i + 1, arg % 8 < n - i - 1 ? arg % 8 : 1, &mark) == SIGN_OK)
			marks[depth++] = mark;
		else if (op % 4 == 1 && depth < 64 && sign_rq_path_index(&rq, arg, &mark) == SIGN_OK)
			marks[depth++] = mark;
		else if (op % 4 == 2 && depth > 0)
			sign_rq_path_pop(&rq, marks[--depth]);
		else
			(void)sign_rq_add_value(&rq, (const char *)d + i + 1, 1, 1);
	}
	struct sign_rq_facts f;
	memset(&f, 0, sizeof f);
#define SL(x) ((struct sign_slice){x, sizeof x - 1})
	f.host = SL("iot.cn-shanghai.aliyuncs.com");
	f.action = SL("QueryProductList");
	f.version = SL("2018-01-20");
	f.date = SL("2026-01-01T00:00:00Z");
	f.nonce = SL("n");
	f.access_key_id = SL("id");
	f.secret = SL("secret");
	(void)sign_rq_v3(&rq, &f);
	sign_rq_free(&rq);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const char *s = (const char *)data;
	round_trip(s, size);
	query(s, size);
	flatten(data, size);
	struct sign_v3_auth auth;
	const char *why = NULL;
	(void)sign_v3_parse_authorization(s, size, &auth, &why);
	time_t t;
	(void)sign_timestamp_parse(s, size, &t, &why);
	return 0;
}
