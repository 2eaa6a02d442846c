/*
 * sign_v3.c: the V3 signature (ACS3-HMAC-SHA256) of the signer: signed-header selection, the
 * canonical request, the string to sign, the Authorization header and its parser for the
 * verifier. Uses the buffer, parameter lists and hashes of sign.c; no Lua.
 * The algorithm: docs/signing.md.
 */
#include "sign.h"

#include <string.h>

void sign_v3_init(struct sign_v3 *s)
{
	sign_buf_init(&s->signed_headers);
	sign_buf_init(&s->canonical_request);
	sign_buf_init(&s->string_to_sign);
	sign_buf_init(&s->scratch);
	sign_params_init(&s->names);
	sign_params_init(&s->values);
	s->body_sha256[0] = s->signature[0] = '\0';
}

void sign_v3_free(struct sign_v3 *s)
{
	sign_buf_free(&s->signed_headers);
	sign_buf_free(&s->canonical_request);
	sign_buf_free(&s->string_to_sign);
	sign_buf_free(&s->scratch);
	sign_params_free(&s->names);
	sign_params_free(&s->values);
}

static char ascii_lower(char c)
{
	return c >= 'A' && c <= 'Z' ? (char)(c - 'A' + 'a') : c;
}

static int is_space(char c)
{
	return c == ' ' || c == '\t' || c == '\r' || c == '\n' || c == '\v' || c == '\f';
}

/* Trims like JavaScript's String.prototype.trim for ASCII whitespace, as the SDK does. */
static void trim(const char **p, size_t *n)
{
	while (*n && is_space(**p))
		(*p)++, (*n)--;
	while (*n && is_space((*p)[*n - 1]))
		(*n)--;
}

/* a is any case, lower is already lowercase. */
static int name_equal(const char *a, size_t an, const char *lower, size_t ln)
{
	if (an != ln)
		return 0;
	for (size_t i = 0; i < an; i++)
		if (ascii_lower(a[i]) != lower[i])
			return 0;
	return 1;
}

static int signed_by_default(const char *name, size_t n)
{
	return name_equal(name, n, "host", 4) || name_equal(name, n, "content-type", 12) ||
	       (n >= 6 && name_equal(name, 6, "x-acs-", 6));
}

static int append_lower(struct sign_buf *b, const char *s, size_t n)
{
	if (sign_buf_reserve(b, n))
		return SIGN_ENOMEM;
	for (size_t i = 0; i < n; i++)
		b->data[b->len++] = ascii_lower(s[i]);
	b->data[b->len] = '\0';
	return SIGN_OK;
}

/*
 * Fills s->names with the lowercase, sorted, distinct names to sign (slices of s->scratch, which
 * is not appended to afterwards, so they stay valid) and s->signed_headers with them joined by ';'.
 */
static int collect_names(struct sign_v3 *s, const struct sign_params *headers,
                         const char *signed_names, size_t len)
{
	sign_buf_reset(&s->scratch);
	sign_buf_reset(&s->signed_headers);
	sign_params_reset(&s->names);
	if (signed_names) {
		if (append_lower(&s->scratch, signed_names, len))
			return SIGN_ENOMEM;
	} else {
		for (size_t i = 0; i < headers->len; i++) {
			const struct sign_param *h = &headers->items[i];
			if (signed_by_default(h->key, h->key_len) &&
			    (append_lower(&s->scratch, h->key, h->key_len) ||
			     sign_buf_append_char(&s->scratch, ';')))
				return SIGN_ENOMEM;
		}
		if (s->scratch.len)
			s->scratch.len--; /* the last ';' */
	}
	if (sign_buf_reserve(&s->scratch, 0))
		return SIGN_ENOMEM;
	const char *p = s->scratch.data, *end = p + s->scratch.len;
	while (p < end) {
		const char *semi = memchr(p, ';', (size_t)(end - p));
		const char *stop = semi ? semi : end;
		const char *name = p;
		size_t n = (size_t)(stop - p);
		trim(&name, &n);
		if (n == 0)
			return SIGN_EINVAL; /* "a;;b" or a trailing ';' names no header */
		if (sign_params_add(&s->names, name, n, "", 0))
			return SIGN_ENOMEM;
		p = semi ? semi + 1 : end;
		if (semi && p == end)
			return SIGN_EINVAL;
	}
	sign_params_sort(&s->names);
	size_t kept = 0;
	for (size_t i = 0; i < s->names.len; i++) {
		struct sign_param *it = &s->names.items[i];
		if (kept && it->key_len == s->names.items[kept - 1].key_len &&
		    memcmp(it->key, s->names.items[kept - 1].key, it->key_len) == 0)
			continue;
		s->names.items[kept++] = *it;
		if ((kept > 1 && sign_buf_append_char(&s->signed_headers, ';')) ||
		    sign_buf_append(&s->signed_headers, it->key, it->key_len))
			return SIGN_ENOMEM;
	}
	s->names.len = kept;
	return sign_buf_reserve(&s->signed_headers, 0);
}

int sign_v3_default_signed_headers(struct sign_buf *out, const struct sign_params *headers)
{
	struct sign_v3 tmp;
	sign_v3_init(&tmp);
	int rc = collect_names(&tmp, headers, NULL, 0);
	if (rc == SIGN_OK)
		rc = sign_buf_append(out, tmp.signed_headers.data, tmp.signed_headers.len);
	sign_v3_free(&tmp);
	return rc;
}

/* name ":" trimmed values (sorted, joined by ',') "\n" */
static int append_header(struct sign_v3 *s, const struct sign_param *name,
                         const struct sign_params *headers)
{
	struct sign_buf *out = &s->canonical_request;
	sign_params_reset(&s->values);
	for (size_t i = 0; i < headers->len; i++) {
		const struct sign_param *h = &headers->items[i];
		if (!name_equal(h->key, h->key_len, name->key, name->key_len))
			continue;
		const char *v = h->value;
		size_t n = h->value_len;
		trim(&v, &n);
		if (sign_params_add(&s->values, v, n, "", 0))
			return SIGN_ENOMEM;
	}
	sign_params_sort(&s->values);
	if (sign_buf_append(out, name->key, name->key_len) || sign_buf_append_char(out, ':'))
		return SIGN_ENOMEM;
	for (size_t i = 0; i < s->values.len; i++)
		if ((i && sign_buf_append_char(out, ',')) ||
		    sign_buf_append(out, s->values.items[i].key, s->values.items[i].key_len))
			return SIGN_ENOMEM;
	return sign_buf_append_char(out, '\n');
}

int sign_v3_compute(struct sign_v3 *s, const char *method, struct sign_params *query,
                    const struct sign_params *headers, const char *signed_names,
                    size_t signed_names_len, const void *body, size_t body_len,
                    const char *secret, size_t secret_len)
{
	struct sign_buf *cr = &s->canonical_request;
	s->signature[0] = '\0';
	sign_buf_reset(cr);
	sign_buf_reset(&s->string_to_sign);
	int rc = collect_names(s, headers, signed_names, signed_names_len);
	if (rc == SIGN_OK)
		rc = sign_sha256_hex(s->body_sha256, body_len ? body : "", body_len);
	if (rc)
		return rc;
	sign_params_sort(query);
	if (sign_buf_append_str(cr, method) || sign_buf_append(cr, "\n/\n", 3) ||
	    sign_canonical_query(cr, query, NULL) || sign_buf_append_char(cr, '\n'))
		return SIGN_ENOMEM;
	for (size_t i = 0; i < s->names.len; i++)
		if (append_header(s, &s->names.items[i], headers))
			return SIGN_ENOMEM;
	if (sign_buf_append_char(cr, '\n') ||
	    sign_buf_append(cr, s->signed_headers.data, s->signed_headers.len) ||
	    sign_buf_append_char(cr, '\n') || sign_buf_append(cr, s->body_sha256, 64))
		return SIGN_ENOMEM;

	char hashed[SIGN_SHA256_HEX_SIZE];
	if ((rc = sign_sha256_hex(hashed, cr->data, cr->len)))
		return rc;
	if (sign_buf_append(&s->string_to_sign, SIGN_V3_ALGORITHM "\n",
	                    sizeof SIGN_V3_ALGORITHM) ||
	    sign_buf_append(&s->string_to_sign, hashed, 64))
		return SIGN_ENOMEM;
	return sign_hmac_sha256_hex(s->signature, secret, secret_len, s->string_to_sign.data,
	                            s->string_to_sign.len);
}

int sign_v3_authorization(struct sign_buf *out, const char *access_key_id,
                          const char *signed_headers, const char *signature)
{
	if (sign_buf_append_str(out, SIGN_V3_ALGORITHM " Credential=") ||
	    sign_buf_append_str(out, access_key_id) ||
	    sign_buf_append_str(out, ",SignedHeaders=") || sign_buf_append_str(out, signed_headers) ||
	    sign_buf_append_str(out, ",Signature=") || sign_buf_append_str(out, signature))
		return SIGN_ENOMEM;
	return SIGN_OK;
}

static int auth_field(struct sign_v3_auth *a, const char *key, size_t kn, const char *v,
                      size_t vn, const char **why)
{
	const char **slot;
	size_t *slot_len;
	if (kn == 10 && memcmp(key, "Credential", 10) == 0)
		slot = &a->credential, slot_len = &a->credential_len;
	else if (kn == 13 && memcmp(key, "SignedHeaders", 13) == 0)
		slot = &a->signed_headers, slot_len = &a->signed_headers_len;
	else if (kn == 9 && memcmp(key, "Signature", 9) == 0)
		slot = &a->signature, slot_len = &a->signature_len;
	else {
		*why = "unknown field; expected Credential=, SignedHeaders= and Signature=";
		return SIGN_EINVAL;
	}
	if (*slot) {
		*why = "a field (Credential, SignedHeaders or Signature) is given twice";
		return SIGN_EINVAL;
	}
	if (vn == 0) {
		*why = "a field (Credential, SignedHeaders or Signature) has an empty value";
		return SIGN_EINVAL;
	}
	*slot = v, *slot_len = vn;
	return SIGN_OK;
}

static int parse_fields(const char *v, size_t n, struct sign_v3_auth *a, const char **why)
{
	size_t alg = sizeof SIGN_V3_ALGORITHM - 1, i;
	if (n < alg || memcmp(v, SIGN_V3_ALGORITHM, alg) != 0) {
		*why = "Authorization must start with ACS3-HMAC-SHA256";
		return SIGN_EINVAL;
	}
	if (n == alg || v[alg] != ' ') {
		*why = "expected a space and Credential=...,SignedHeaders=...,Signature=... after "
		       "ACS3-HMAC-SHA256";
		return SIGN_EINVAL;
	}
	for (i = alg; i < n && v[i] == ' '; i++)
		;
	while (i < n) {
		const char *comma = memchr(v + i, ',', n - i);
		size_t stop = comma ? (size_t)(comma - v) : n;
		const char *piece = v + i;
		size_t pn = stop - i;
		trim(&piece, &pn);
		const char *eq = memchr(piece, '=', pn);
		if (!eq) {
			*why = "expected Name=value fields separated by commas";
			return SIGN_EINVAL;
		}
		size_t kn = (size_t)(eq - piece);
		if (auth_field(a, piece, kn, eq + 1, pn - kn - 1, why))
			return SIGN_EINVAL;
		i = stop + 1;
		if (comma && i >= n) {
			*why = "trailing comma after the last field";
			return SIGN_EINVAL;
		}
	}
	return SIGN_OK;
}

static int is_hex64(const char *s, size_t n)
{
	if (n != 64)
		return 0;
	for (size_t i = 0; i < n; i++)
		if (!((s[i] >= '0' && s[i] <= '9') || (s[i] >= 'a' && s[i] <= 'f') ||
		      (s[i] >= 'A' && s[i] <= 'F')))
			return 0;
	return 1;
}

int sign_v3_parse_authorization(const char *value, size_t n, struct sign_v3_auth *out,
                                const char **why)
{
	const char *err = NULL;
	memset(out, 0, sizeof *out);
	if (parse_fields(value, n, out, &err) == SIGN_OK) {
		if (!out->credential)
			err = "missing Credential=<AccessKeyId>";
		else if (!out->signed_headers)
			err = "missing SignedHeaders=<names joined by ';'>";
		else if (!out->signature)
			err = "missing Signature=<64 hex digits>";
		else if (!is_hex64(out->signature, out->signature_len))
			err = "Signature must be 64 hex digits";
	}
	if (err) {
		if (why)
			*why = err;
		memset(out, 0, sizeof *out);
		return SIGN_EINVAL;
	}
	return SIGN_OK;
}
