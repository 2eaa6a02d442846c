/*
 * sign_request.c: the signer's one-call path for the client (sign_rq_*): parameters flattened
 * straight into one arena, sorted once on precomputed name prefixes, percent-encoded once into
 * the buffer that is both hashed and sent, then signed (V3 or v1). Must stay byte-identical to
 * flatten + sign_v3_compute / sign_v1_compute (tests/test_sign_request.c checks it on random
 * requests). Uses the buffers and hashes of sign.c; no Lua.
 * The algorithms: docs/signing.md.
 */
#include "bytes.h"
#include "sign.h"
#include "sign_mac.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

static const char EMPTY_SHA256[] =
	"e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855";

void sign_rq_init(struct sign_rq *rq)
{
	memset(rq, 0, sizeof *rq);
	sign_buf_init(&rq->arena);
	sign_buf_init(&rq->path);
	sign_buf_init(&rq->out);
	sign_buf_init(&rq->string_to_sign);
	sign_buf_init(&rq->authorization);
	rq->signed_headers = "";
}

void sign_rq_free(struct sign_rq *rq)
{
	sign_buf_free(&rq->arena);
	sign_buf_free(&rq->path);
	sign_buf_free(&rq->out);
	sign_buf_free(&rq->string_to_sign);
	sign_buf_free(&rq->authorization);
	free(rq->items);
	free(rq->order);
	sign_mac_free(rq->mac);
	sign_rq_init(rq);
}

void sign_rq_reset(struct sign_rq *rq)
{
	sign_buf_reset(&rq->arena);
	sign_buf_reset(&rq->path);
	rq->len = 0;
	rq->encoded_max = 0;
	rq->conflict = NULL;
	rq->header_count = 0;
	rq->signed_headers = "";
	rq->signature[0] = rq->content_sha256[0] = '\0';
}

/* ---- building the list ----------------------------------------------------------------------- */

int sign_rq_path_name(struct sign_rq *rq, const char *name, size_t n, size_t *mark)
{
	struct sign_buf *p = &rq->path;
	*mark = p->len;
	if (sign_buf_reserve(p, n + 1))
		return SIGN_ENOMEM;
	if (p->len)
		p->data[p->len++] = '.';
	memcpy(p->data + p->len, name, n);
	p->len += n;
	p->data[p->len] = '\0';
	return SIGN_OK;
}

int sign_rq_path_index(struct sign_rq *rq, unsigned long long index, size_t *mark)
{
	char digits[24], *w = digits + sizeof digits;
	do
		*--w = (char)('0' + index % 10);
	while (index /= 10);
	return sign_rq_path_name(rq, w, (size_t)(digits + sizeof digits - w), mark);
}

void sign_rq_path_pop(struct sign_rq *rq, size_t mark)
{
	if (mark <= rq->path.len) {
		rq->path.len = mark;
		if (rq->path.data)
			rq->path.data[mark] = '\0';
	}
}

static struct sign_rq_item *push_item(struct sign_rq *rq)
{
	if (rq->len == rq->cap) {
		size_t cap = rq->cap, order_cap = rq->cap;
		struct sign_rq_item *items = bytes_grow(rq->items, &cap, sizeof *items, 32);
		if (!items)
			return NULL;
		rq->items = items;
		struct sign_rq_item **order = bytes_grow(rq->order, &order_cap, sizeof *order, 32);
		if (!order)
			return NULL; /* items grew; cap did not, so the next push retries both */
		rq->order = order;
		rq->cap = cap;
	}
	return &rq->items[rq->len];
}

/* Counts the pair in: its encoded form takes at most 3 bytes per byte, plus '=' and '&'. */
static int account(struct sign_rq *rq, size_t key_len, size_t value_len)
{
	const size_t limit = SIZE_MAX / 8;
	if (key_len > limit || value_len > limit || rq->encoded_max > limit)
		return SIGN_ENOMEM;
	rq->encoded_max += 3 * (key_len + value_len) + 2;
	rq->len++;
	return SIGN_OK;
}

int sign_rq_add_value(struct sign_rq *rq, const char *value, size_t n, int copy)
{
	struct sign_rq_item *it = push_item(rq);
	if (!it)
		return SIGN_ENOMEM;
	it->key = it->value = NULL;
	it->key_off = rq->arena.len;
	it->key_len = rq->path.len;
	if (sign_buf_append(&rq->arena, rq->path.data ? rq->path.data : "", rq->path.len))
		return SIGN_ENOMEM;
	it->value_len = n;
	it->value_in_arena = copy;
	if (copy) {
		it->value_off = rq->arena.len;
		if (sign_buf_append(&rq->arena, value, n))
			return SIGN_ENOMEM;
	} else {
		it->value = value;
	}
	it->seq = rq->len;
	return account(rq, it->key_len, n);
}

int sign_rq_add(struct sign_rq *rq, const char *name, size_t name_len, const char *value,
                size_t value_len)
{
	struct sign_rq_item *it = push_item(rq);
	if (!it)
		return SIGN_ENOMEM;
	*it = (struct sign_rq_item){.key = name, .value = value, .key_len = name_len,
	                            .value_len = value_len, .seq = rq->len, .key_off = SIZE_MAX};
	return account(rq, name_len, value_len);
}

/* ---- sorting --------------------------------------------------------------------------------- */

/* The first 8 bytes of s (zero-padded), big-endian, so that integer order is byte order. */
static unsigned long long be_prefix(const char *s, size_t n)
{
	unsigned char b[8] = {0};
	memcpy(b, s, n < 8 ? n : 8);
	return (unsigned long long)b[0] << 56 | (unsigned long long)b[1] << 48 |
	       (unsigned long long)b[2] << 40 | (unsigned long long)b[3] << 32 |
	       (unsigned long long)b[4] << 24 | (unsigned long long)b[5] << 16 |
	       (unsigned long long)b[6] << 8 | (unsigned long long)b[7];
}

/* Points names and values into the arena (which no longer grows) and computes the prefixes. */
static void resolve(struct sign_rq *rq)
{
	for (size_t i = 0; i < rq->len; i++) {
		struct sign_rq_item *it = &rq->items[i];
		if (it->key_off != SIZE_MAX)
			it->key = rq->arena.data + it->key_off;
		if (it->value_in_arena)
			it->value = rq->arena.data + it->value_off;
		it->prefix[0] = be_prefix(it->key, it->key_len);
		it->prefix[1] = it->key_len > 8 ? be_prefix(it->key + 8, it->key_len - 8) : 0;
		rq->order[i] = it;
	}
}

static int key_cmp(const struct sign_rq_item *a, const struct sign_rq_item *b)
{
	if (a->prefix[0] != b->prefix[0])
		return a->prefix[0] < b->prefix[0] ? -1 : 1;
	if (a->prefix[1] != b->prefix[1])
		return a->prefix[1] < b->prefix[1] ? -1 : 1;
	size_t n = a->key_len < b->key_len ? a->key_len : b->key_len;
	int c = n > 16 ? memcmp(a->key + 16, b->key + 16, n - 16) : 0;
	if (c)
		return c;
	return a->key_len < b->key_len ? -1 : a->key_len > b->key_len;
}

static int item_cmp(const struct sign_rq_item *a, const struct sign_rq_item *b)
{
	int c = key_cmp(a, b);
	return c ? c : (a->seq < b->seq ? -1 : a->seq > b->seq);
}

/* Binary insertion sort of the pointers: few compares, and the moves are memmoves of pointers. */
static void sort_order(struct sign_rq *rq)
{
	struct sign_rq_item **o = rq->order;
	for (size_t i = 1; i < rq->len; i++) {
		struct sign_rq_item *it = o[i];
		if (item_cmp(o[i - 1], it) <= 0)
			continue;
		size_t lo = 0, hi = i - 1; /* the place is in [lo, hi] */
		while (lo < hi) {
			size_t mid = lo + (hi - lo) / 2;
			if (item_cmp(o[mid], it) <= 0)
				lo = mid + 1;
			else
				hi = mid;
		}
		memmove(o + lo + 1, o + lo, (i - lo) * sizeof *o);
		o[lo] = it;
	}
}

/* Whether the i-th sorted pair is shadowed by a later pair of the same name. */
static int shadowed(const struct sign_rq *rq, size_t i)
{
	return i + 1 < rq->len && key_cmp(rq->order[i], rq->order[i + 1]) == 0;
}

/* ---- encoding -------------------------------------------------------------------------------- */


/*
 * pe() of every byte value, laid out so that the encoder copies 4 bytes and advances by len with
 * no branch: A-Z a-z 0-9 - _ . ~ stay literal, every other byte becomes %XY (uppercase hex).
 * Writers therefore need 3 bytes of slack past the encoded end (PE_SLACK).
 */
struct pe_code {
	char b[3];
	unsigned char len;
};
#define PE_SLACK 3
#define PE_UNRES(c)                                                                            \
	(((c) >= 'A' && (c) <= 'Z') || ((c) >= 'a' && (c) <= 'z') || ((c) >= '0' && (c) <= '9') || \
	 (c) == '-' || (c) == '_' || (c) == '.' || (c) == '~')
#define PE_HEX(n) ((n) < 10 ? '0' + (n) : 'A' + (n) - 10)
#define PE(c)                                                                                  \
	{{PE_UNRES(c) ? (c) : '%', PE_UNRES(c) ? 0 : PE_HEX((c) >> 4),                          \
	  PE_UNRES(c) ? 0 : PE_HEX((c) & 15)},                                                   \
	 PE_UNRES(c) ? 1 : 3}
#define PE4(c) PE(c), PE((c) + 1), PE((c) + 2), PE((c) + 3)
#define PE16(c) PE4(c), PE4((c) + 4), PE4((c) + 8), PE4((c) + 12)
#define PE64(c) PE16(c), PE16((c) + 16), PE16((c) + 32), PE16((c) + 48)
static const struct pe_code pe_table[256] = {PE64(0), PE64(64), PE64(128), PE64(192)};

static char *pe(char *w, const char *s, size_t n)
{
	/* the common case, a literal byte, advances w by a constant: no load feeds the next store */
	for (size_t i = 0; i < n; i++) {
		unsigned char c = (unsigned char)s[i];
		if (pe_table[c].len == 1) {
			*w++ = (char)c;
		} else {
			memcpy(w, pe_table[c].b, 3);
			w += 3;
		}
	}
	return w;
}

/* pe(s) into *o and, at the same time, pe(pe(s)) into *t: v1 signs the encoded canonical query. */
static void pe_twice(char **o, char **t, const char *s, size_t n)
{
	char *w = *o, *v = *t;
	for (size_t i = 0; i < n; i++) {
		const struct pe_code *e = &pe_table[(unsigned char)s[i]];
		memcpy(w, e, 4);
		w += e->len;
		if (e->len == 1) {
			*v++ = e->b[0];
		} else {
			memcpy(v, "%25", 3);
			v[3] = e->b[1], v[4] = e->b[2];
			v += 5;
		}
	}
	*o = w, *t = v;
}

/* Writes the sorted canonical query at w (room: encoded_max); returns the end. */
static char *write_query(const struct sign_rq *rq, char *w)
{
	char *start = w;
	for (size_t i = 0; i < rq->len; i++) {
		if (shadowed(rq, i))
			continue;
		const struct sign_rq_item *it = rq->order[i];
		if (w != start)
			*w++ = '&';
		w = pe(w, it->key, it->key_len);
		*w++ = '=';
		w = pe(w, it->value, it->value_len);
	}
	return w;
}

static char *put(char *w, const char *s, size_t n)
{
	memcpy(w, s, n);
	return w + n;
}

/* ---- V3 -------------------------------------------------------------------------------------- */

static int is_space(char c)
{
	return c == ' ' || c == '\t' || c == '\r' || c == '\n' || c == '\v' || c == '\f';
}

static struct sign_slice trimmed(struct sign_slice s)
{
	while (s.n && is_space(*s.p))
		s.p++, s.n--;
	while (s.n && is_space(s.p[s.n - 1]))
		s.n--;
	return s;
}

/* The signed headers in name order; rq->signed_headers names them. */
static void v3_headers(struct sign_rq *rq, const struct sign_rq_facts *f, int ct, int token)
{
	static const char *const names[4] = {
		"host;x-acs-action;x-acs-content-sha256;x-acs-date;x-acs-signature-nonce;"
		"x-acs-version",
		"content-type;host;x-acs-action;x-acs-content-sha256;x-acs-date;"
		"x-acs-signature-nonce;x-acs-version",
		"host;x-acs-action;x-acs-content-sha256;x-acs-date;x-acs-security-token;"
		"x-acs-signature-nonce;x-acs-version",
		"content-type;host;x-acs-action;x-acs-content-sha256;x-acs-date;"
		"x-acs-security-token;x-acs-signature-nonce;x-acs-version",
	};
	struct sign_rq_header *h = rq->headers;
	size_t n = 0;
	rq->signed_headers = names[ct + 2 * token];
	if (ct)
		h[n++] = (struct sign_rq_header){"content-type", f->content_type};
	h[n++] = (struct sign_rq_header){"host", f->host};
	h[n++] = (struct sign_rq_header){"x-acs-action", f->action};
	h[n++] = (struct sign_rq_header){"x-acs-content-sha256", {rq->content_sha256, 64}};
	h[n++] = (struct sign_rq_header){"x-acs-date", f->date};
	if (token)
		h[n++] = (struct sign_rq_header){"x-acs-security-token", f->token};
	h[n++] = (struct sign_rq_header){"x-acs-signature-nonce", f->nonce};
	h[n++] = (struct sign_rq_header){"x-acs-version", f->version};
	rq->header_count = n;
}

int sign_rq_v3(struct sign_rq *rq, const struct sign_rq_facts *f)
{
	struct sign_slice method = f->method.p ? f->method : (struct sign_slice){"POST", 4};
	int rc;
	if (f->body.n == 0)
		memcpy(rq->content_sha256, EMPTY_SHA256, sizeof EMPTY_SHA256);
	else if ((rc = sign_mac_sha256_hex(rq->content_sha256, f->body.p, f->body.n)))
		return rc;
	v3_headers(rq, f, f->content_type.p != NULL, f->token.p != NULL);
	size_t sh_len = strlen(rq->signed_headers);
	size_t room = method.n + 3 + rq->encoded_max + PE_SLACK + 1;
	for (size_t i = 0; i < rq->header_count; i++)
		room += strlen(rq->headers[i].name) + rq->headers[i].value.n + 2;
	room += 1 + sh_len + 1 + 64;

	struct sign_buf *cr = &rq->out;
	sign_buf_reset(cr);
	if (sign_buf_reserve(cr, room))
		return SIGN_ENOMEM;
	resolve(rq);
	sort_order(rq);
	char *w = put(cr->data, method.p, method.n);
	w = put(w, "\n/\n", 3);
	rq->query_off = (size_t)(w - cr->data);
	w = write_query(rq, w);
	rq->query_len = (size_t)(w - cr->data) - rq->query_off;
	*w++ = '\n';
	for (size_t i = 0; i < rq->header_count; i++) {
		const struct sign_rq_header *h = &rq->headers[i];
		struct sign_slice v = trimmed(h->value);
		w = put(w, h->name, strlen(h->name));
		*w++ = ':';
		w = put(w, v.p, v.n);
		*w++ = '\n';
	}
	*w++ = '\n';
	w = put(w, rq->signed_headers, sh_len);
	*w++ = '\n';
	w = put(w, rq->content_sha256, 64);
	*w = '\0';
	cr->len = (size_t)(w - cr->data);

	char hashed[SIGN_SHA256_HEX_SIZE];
	struct sign_buf *sts = &rq->string_to_sign;
	sign_buf_reset(sts);
	if ((rc = sign_mac_sha256_hex(hashed, cr->data, cr->len)))
		return rc;
	if (sign_buf_append(sts, SIGN_V3_ALGORITHM "\n", sizeof SIGN_V3_ALGORITHM) ||
	    sign_buf_append(sts, hashed, 64))
		return SIGN_ENOMEM;
	if (!rq->mac && !(rq->mac = sign_mac_new()))
		return SIGN_ENOMEM;
	if ((rc = sign_mac_hmac_sha256_hex(rq->mac, rq->signature, f->secret.p, f->secret.n,
	                                   sts->data, sts->len)))
		return rc;
	struct sign_buf *a = &rq->authorization;
	sign_buf_reset(a);
	if (sign_buf_append(a, SIGN_V3_ALGORITHM " Credential=", sizeof SIGN_V3_ALGORITHM + 11) ||
	    sign_buf_append(a, f->access_key_id.p, f->access_key_id.n) ||
	    sign_buf_append(a, ",SignedHeaders=", 15) || sign_buf_append(a, rq->signed_headers, sh_len) ||
	    sign_buf_append(a, ",Signature=", 11) || sign_buf_append(a, rq->signature, 64))
		return SIGN_ENOMEM;
	return SIGN_OK;
}

/* ---- v1 -------------------------------------------------------------------------------------- */

static const char *const v1_common[] = {
	"Action", "Version", "Format", "AccessKeyId", "SignatureMethod", "SignatureVersion",
	"SignatureNonce", "Timestamp", "SecurityToken", "Signature",
};

static int is_v1_common(const struct sign_rq_item *it)
{
	for (size_t i = 0; i < sizeof v1_common / sizeof *v1_common; i++)
		if (it->key_len == strlen(v1_common[i]) &&
		    memcmp(it->key, v1_common[i], it->key_len) == 0)
			return 1;
	return 0;
}

static int v1_add_common(struct sign_rq *rq, const struct sign_rq_facts *f)
{
	struct sign_slice format = f->format.p ? f->format : (struct sign_slice){"JSON", 4};
	const struct {
		const char *name;
		struct sign_slice value;
	} common[] = {
		{"Action", f->action}, {"Version", f->version}, {"Format", format},
		{"AccessKeyId", f->access_key_id}, {"SignatureMethod", {"HMAC-SHA1", 9}},
		{"SignatureVersion", {"1.0", 3}}, {"SignatureNonce", f->nonce},
		{"Timestamp", f->date}, {"SecurityToken", f->token},
	};
	for (size_t i = 0; i < sizeof common / sizeof *common; i++)
		if (common[i].value.p && sign_rq_add(rq, common[i].name, strlen(common[i].name),
		                                     common[i].value.p, common[i].value.n))
			return SIGN_ENOMEM;
	return SIGN_OK;
}

int sign_rq_v1(struct sign_rq *rq, const struct sign_rq_facts *f)
{
	struct sign_slice method = f->method.p ? f->method : (struct sign_slice){"POST", 4};
	for (size_t i = 0; i < rq->len; i++) {
		if (rq->items[i].key_off != SIZE_MAX)
			rq->items[i].key = rq->arena.data + rq->items[i].key_off;
		if (is_v1_common(&rq->items[i])) {
			rq->conflict = &rq->items[i];
			return SIGN_EINVAL;
		}
	}
	int rc = v1_add_common(rq, f);
	if (rc)
		return rc;
	/* out: canonical + "&Signature=" + pe(28 base64 chars); sts: method&%2F& + pe(canonical) */
	struct sign_buf *out = &rq->out, *sts = &rq->string_to_sign;
	sign_buf_reset(out);
	sign_buf_reset(sts);
	if (sign_buf_reserve(out, rq->encoded_max + 11 + 3 * 28 + PE_SLACK) ||
	    sign_buf_reserve(sts, method.n + 5 + 2 * rq->encoded_max + 4 * rq->len))
		return SIGN_ENOMEM;
	resolve(rq);
	sort_order(rq);
	char *w = out->data, *t = put(sts->data, method.p, method.n);
	t = put(t, "&%2F&", 5);
	for (size_t i = 0; i < rq->len; i++) {
		if (shadowed(rq, i))
			continue;
		const struct sign_rq_item *it = rq->order[i];
		if (w != out->data) {
			*w++ = '&';
			t = put(t, "%26", 3);
		}
		pe_twice(&w, &t, it->key, it->key_len);
		*w++ = '=';
		t = put(t, "%3D", 3);
		pe_twice(&w, &t, it->value, it->value_len);
	}
	*t = '\0';
	sts->len = (size_t)(t - sts->data);
	rq->query_off = 0;
	rq->query_len = (size_t)(w - out->data);

	if (!rq->mac && !(rq->mac = sign_mac_new()))
		return SIGN_ENOMEM;
	if ((rc = sign_mac_hmac_sha1_base64(rq->mac, rq->signature, f->secret.p, f->secret.n, "&", 1,
	                                    sts->data, sts->len)))
		return rc;
	w = put(w, "&Signature=", 11);
	w = pe(w, rq->signature, strlen(rq->signature));
	*w = '\0';
	out->len = (size_t)(w - out->data);
	return SIGN_OK;
}
