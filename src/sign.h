/*
 * sign: Alibaba Cloud request signing for both sides of the wire, the client that signs and the
 * emulator that verifies. Owns percent-encoding and decoding, parameter lists and their canonical
 * form, RPC signature v1 (HMAC-SHA1) and V3 (ACS3-HMAC-SHA256), the V3 Authorization header, and
 * the small helpers around them (hashes, timestamps, nonces, constant-time compare).
 * Implemented in sign.c (all but V3), sign_v3.c and sign_request.c (the client's one-call
 * path). Uses OpenSSL 3 (EVP) only; never Lua.
 * The algorithms: docs/signing.md. Thread-safe: state lives in the
 * caller's structs, plus one digest context per thread.
 *
 * Every function that can fail returns SIGN_OK (0) or a negative SIGN_E* code; sign_strerror()
 * names it. Strings are (pointer, length) pairs where bytes matter, so embedded NULs are kept.
 */
#ifndef OTARUN_SIGN_H
#define OTARUN_SIGN_H

#include <stddef.h>
#include <time.h>

enum {
	SIGN_OK = 0,
	SIGN_ENOMEM = -1,  /* an allocation failed; nothing was leaked */
	SIGN_EINVAL = -2,  /* malformed input (bad escape, bad timestamp, bad header...) */
	SIGN_ECRYPTO = -3, /* OpenSSL refused (missing algorithm, RNG failure) */
};
const char *sign_strerror(int code);

/* ---- growable byte buffer: always NUL-terminated once it holds memory ------------------------ */
struct sign_buf {
	char *data;
	size_t len, cap;
};
void sign_buf_init(struct sign_buf *b);
void sign_buf_free(struct sign_buf *b);
void sign_buf_reset(struct sign_buf *b); /* len = 0; keeps the memory for reuse */
int sign_buf_reserve(struct sign_buf *b, size_t extra);
int sign_buf_append(struct sign_buf *b, const void *p, size_t n);
int sign_buf_append_str(struct sign_buf *b, const char *s);
int sign_buf_append_char(struct sign_buf *b, char c);

/* ---- percent-encoding (reference 1.2) ------------------------------------------------------- */
/* Appends pe(s): A-Za-z0-9 -_.~ literal, every other byte %XY with uppercase hex. */
int sign_percent_encode(struct sign_buf *out, const char *s, size_t n);
/* Appends the decoded bytes. Form decoding turns '+' into a space when plus_is_space is set. A
 * '%' not followed by two hex digits gives SIGN_EINVAL and, if bad_at is not NULL, its offset. */
int sign_percent_decode(struct sign_buf *out, const char *s, size_t n, int plus_is_space,
                        size_t *bad_at);

/* ---- parameter lists: ordered (key, value) pairs -------------------------------------------- */
struct sign_param {
	const char *key, *value;
	size_t key_len, value_len;
	char *owned; /* non-NULL when the pair was copied in (key and value live in this block) */
};
struct sign_params {
	struct sign_param *items;
	size_t len, cap;
};
void sign_params_init(struct sign_params *p);
void sign_params_free(struct sign_params *p);
void sign_params_reset(struct sign_params *p); /* drops the pairs, keeps the array */
/* Borrows the bytes: they must outlive every use of the list. */
int sign_params_add(struct sign_params *p, const char *key, size_t key_len, const char *value,
                    size_t value_len);
/* Copies the bytes (for decoded request parameters whose buffers are reused). */
int sign_params_add_copy(struct sign_params *p, const char *key, size_t key_len,
                         const char *value, size_t value_len);
/* Finds the first pair whose key equals key exactly; NULL if none. */
const struct sign_param *sign_params_get(const struct sign_params *p, const char *key,
                                         size_t key_len);
/* Sorts by key bytes (then by value bytes, so duplicates have one order): Tag.10 < Tag.2. */
void sign_params_sort(struct sign_params *p);
/* Appends pe(k)=pe(v) joined by '&' in list order, skipping any pair whose key equals skip_key
 * (may be NULL). Call sign_params_sort first for the canonical form. */
int sign_canonical_query(struct sign_buf *out, const struct sign_params *p, const char *skip_key);

/* ---- hashes and MACs ------------------------------------------------------------------------- */
#define SIGN_SHA256_HEX_SIZE 65  /* 64 lowercase hex digits + NUL */
#define SIGN_SHA1_B64_SIZE 29    /* 28 base64 characters + NUL */
int sign_sha256_hex(char out[SIGN_SHA256_HEX_SIZE], const void *data, size_t n);
int sign_hmac_sha1_base64(char out[SIGN_SHA1_B64_SIZE], const void *key, size_t key_len,
                          const void *data, size_t n);
int sign_hmac_sha256_hex(char out[SIGN_SHA256_HEX_SIZE], const void *key, size_t key_len,
                         const void *data, size_t n);
/* 1 when equal; the time taken does not depend on where the bytes differ. */
int sign_equal(const char *a, size_t a_len, const char *b, size_t b_len);

/* ---- v1: HMAC-SHA1 over METHOD&%2F&pe(canonical) (reference 1.3) ---------------------------- */
struct sign_v1 {
	struct sign_buf canonical;      /* sorted pe(k)=pe(v)&...; Signature excluded */
	struct sign_buf string_to_sign; /* echoed by the emulator in SignatureDoesNotMatch */
	char signature[SIGN_SHA1_B64_SIZE];
};
void sign_v1_init(struct sign_v1 *s);
void sign_v1_free(struct sign_v1 *s);
/* Sorts params in place, skips a "Signature" pair, keys the HMAC with secret + "&". The buffers
 * in s are reused from call to call. */
int sign_v1_compute(struct sign_v1 *s, const char *method, struct sign_params *params,
                    const char *secret, size_t secret_len);

/* ---- V3: ACS3-HMAC-SHA256 (reference 2.2) --------------------------------------------------- */
#define SIGN_V3_ALGORITHM "ACS3-HMAC-SHA256"
struct sign_v3 {
	struct sign_buf signed_headers;    /* lowercase sorted names joined by ';' */
	struct sign_buf canonical_request;
	struct sign_buf string_to_sign;    /* "ACS3-HMAC-SHA256\n" + hex sha256(canonical request) */
	/* reused working space: lowercased names, and slices of names and of one header's values */
	struct sign_buf scratch;
	struct sign_params names, values;
	char body_sha256[SIGN_SHA256_HEX_SIZE];
	char signature[SIGN_SHA256_HEX_SIZE];
};
void sign_v3_init(struct sign_v3 *s);
void sign_v3_free(struct sign_v3 *s);
/* Appends the names the SDK signs: every header (case-insensitive, deduplicated) named host,
 * content-type or x-acs-*, lowercased, sorted, joined by ';'. */
int sign_v3_default_signed_headers(struct sign_buf *out, const struct sign_params *headers);
/* query is sorted in place. headers: (name, value) pairs, names compared case-insensitively; a
 * name may repeat (multiple values). signed_names: names joined by ';' in any case and order (the
 * client's choice, or the verifier's SignedHeaders); NULL means the SDK default above. A signed
 * name with no header contributes "name:" with an empty value. The HMAC key is the raw secret. */
int sign_v3_compute(struct sign_v3 *s, const char *method, struct sign_params *query,
                    const struct sign_params *headers, const char *signed_names,
                    size_t signed_names_len, const void *body, size_t body_len,
                    const char *secret, size_t secret_len);
/* Appends "ACS3-HMAC-SHA256 Credential=<id>,SignedHeaders=<names>,Signature=<hex>". */
int sign_v3_authorization(struct sign_buf *out, const char *access_key_id,
                          const char *signed_headers, const char *signature);

/* A parsed Authorization header; the slices point into the parsed value. */
struct sign_v3_auth {
	const char *credential, *signed_headers, *signature;
	size_t credential_len, signed_headers_len, signature_len;
};
/* SIGN_EINVAL with *why (a static sentence, may be NULL) saying what was wrong. */
int sign_v3_parse_authorization(const char *value, size_t n, struct sign_v3_auth *out,
                                const char **why);

/* ---- timestamps and nonces ------------------------------------------------------------------ */
#define SIGN_TIMESTAMP_SIZE 21 /* "yyyy-MM-ddTHH:mm:ssZ" + NUL */
/* UTC; SIGN_EINVAL for years outside 0000..9999. */
int sign_timestamp_format(char out[SIGN_TIMESTAMP_SIZE], time_t t);
/* Strict: exactly yyyy-MM-ddTHH:mm:ssZ with real calendar values; *why as above. */
int sign_timestamp_parse(const char *s, size_t n, time_t *out, const char **why);
#define SIGN_NONCE_SIZE 33 /* 32 lowercase hex digits (128 random bits) + NUL */
int sign_nonce(char out[SIGN_NONCE_SIZE]);

/* ---- one call per request (sign_request.c) --------------------------------------------------- */
/*
 * The client's fast path: the caller flattens its nested parameters straight into a request
 * (names are built on a path stack: "Tag" -> "Tag.1" -> "Tag.1.Key"), then one call sorts once,
 * percent-encodes every name and value once, and produces the wire query, the headers and the
 * signature together. Byte for byte the same as flatten + sign_v1_compute / sign_v3_compute.
 * All names and converted values live in one arena; nothing is malloc'd per parameter, and
 * every buffer is reused from call to call.
 */
struct sign_slice {
	const char *p;
	size_t n;
};
struct sign_rq_item {
	const char *key, *value; /* set by sign_rq_v1/v3 once the arena stops growing */
	size_t key_off, key_len, value_off, value_len;
	size_t seq;          /* order of addition: the later of two equal names wins, as in flatten */
	unsigned long long prefix[2]; /* the first 16 name bytes, big-endian, for quick compares */
	int value_in_arena;  /* else value is borrowed from the caller */
};
struct sign_rq_header {
	const char *name; /* static lowercase name */
	struct sign_slice value; /* as given (the canonical form trims it) */
};
#define SIGN_RQ_MAX_HEADERS 8
struct sign_rq {
	struct sign_buf arena, path;
	struct sign_rq_item *items, **order;
	size_t len, cap;
	size_t encoded_max; /* bound on the encoded size of every name=value& */
	/* results */
	struct sign_buf out; /* V3: the canonical request; v1: the wire query, Signature last */
	size_t query_off, query_len; /* V3: the canonical query in out (also the wire query);
	                                v1: the canonical query (out without "&Signature=...") */
	struct sign_buf string_to_sign;
	struct sign_buf authorization; /* V3 */
	const char *signed_headers;    /* V3: static, e.g. "host;x-acs-action;..." */
	struct sign_rq_header headers[SIGN_RQ_MAX_HEADERS]; /* V3: the signed headers, in order */
	size_t header_count;
	const struct sign_rq_item *conflict; /* v1: a business name the signer sets itself */
	char content_sha256[SIGN_SHA256_HEX_SIZE];
	char signature[SIGN_SHA256_HEX_SIZE]; /* V3: 64 hex digits; v1: 28 base64 characters */
	struct sign_mac *mac; /* the last secret's HMAC pad states (sign_mac.h) */
};
/* The facts of one request. p may be NULL only where said; lengths are in bytes. */
struct sign_rq_facts {
	struct sign_slice method;  /* "POST" when p is NULL */
	struct sign_slice host, action, version, date, nonce, access_key_id, secret;
	struct sign_slice token;        /* STS security token; p NULL when none */
	struct sign_slice body;         /* may be empty */
	struct sign_slice content_type; /* V3, signed when p is not NULL */
	struct sign_slice format;       /* v1 Format; "JSON" when p is NULL */
};
void sign_rq_init(struct sign_rq *rq);
void sign_rq_free(struct sign_rq *rq);
void sign_rq_reset(struct sign_rq *rq); /* empty parameter list and path; keeps the memory */
/* Path stack: appends "." name (just name at the top level) or "." decimal index; *mark receives
 * the length to pop back to. */
int sign_rq_path_name(struct sign_rq *rq, const char *name, size_t n, size_t *mark);
int sign_rq_path_index(struct sign_rq *rq, unsigned long long index, size_t *mark);
void sign_rq_path_pop(struct sign_rq *rq, size_t mark);
/* Adds (current path, value). copy: value is copied into the arena; else it is borrowed and must
 * outlive the following sign_rq_v1/v3 call. */
int sign_rq_add_value(struct sign_rq *rq, const char *value, size_t n, int copy);
/* Adds (name, value), both borrowed. */
int sign_rq_add(struct sign_rq *rq, const char *name, size_t name_len, const char *value,
                size_t value_len);
/* V3 over the parameters added so far (the query) and the facts' headers; fills the results.
 * The method, URI "/" and signed headers are those the client sends: host, content-type when
 * given, x-acs-action, x-acs-content-sha256, x-acs-date, x-acs-security-token when given,
 * x-acs-signature-nonce, x-acs-version. */
int sign_rq_v3(struct sign_rq *rq, const struct sign_rq_facts *f);
/* v1: adds the common parameters (Action, Version, Format, AccessKeyId, SignatureMethod,
 * SignatureVersion, SignatureNonce, Timestamp, SecurityToken when given), signs, and leaves the
 * wire query with "&Signature=pe(sig)" appended in out. A parameter already named like one of
 * those (or Signature) gives SIGN_EINVAL with rq->conflict set. */
int sign_rq_v1(struct sign_rq *rq, const struct sign_rq_facts *f);

#endif
