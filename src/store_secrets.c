/*
 * store_secrets.c: the check that keeps secrets out of the JSON the state store records (store.h,
 * store_json_check_secrets): a small JSON reader that validates the text and tests every object
 * key, whatever the engine.
 */
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "store_internal.h"

/* ---- secrets --------------------------------------------------------------------------------- */

/* Lower-cased letters and digits only: "x-acs-security-token" -> "xacssecuritytoken". */
static void key_fold(const char *key, char *out, size_t size)
{
	size_t n = 0;
	for (; *key && n + 1 < size; key++)
		if (isalnum((unsigned char)*key))
			out[n++] = (char)tolower((unsigned char)*key);
	out[n] = '\0';
}

int store_key_is_secret(const char *key)
{
	static const char *const parts[] = {"secret",        "securitytoken", "password",
	                                    "authorization", "privatekey",    NULL};
	char k[256];
	key_fold(key, k, sizeof k);
	if (strcmp(k, "signature") == 0 || strcmp(k, "xacssignature") == 0)
		return 1;
	for (const char *const *p = parts; *p; p++)
		if (strstr(k, *p))
			return 1;
	return 0;
}

/* A small JSON reader for the check below: validates the text and hands every object key, its
 * escapes decoded (ASCII; other code points as '?'), to the secret test. */
struct jscan {
	const char *p;
	const char *bad_key; /* set to the first secret key found */
	char key[256];
};

static void skip_ws(struct jscan *j)
{
	while (*j->p == ' ' || *j->p == '\t' || *j->p == '\n' || *j->p == '\r')
		j->p++;
}

/* A string at j->p (after its quote is checked); its text into out when out is not NULL. */
static int scan_string(struct jscan *j, char *out, size_t size)
{
	size_t n = 0;
	if (*j->p++ != '"')
		return 0;
	for (;;) {
		unsigned char c = (unsigned char)*j->p++;
		if (c == '"')
			break;
		if (c < 0x20)
			return 0;
		if (c == '\\') {
			c = (unsigned char)*j->p++;
			if (c == 'u') {
				unsigned v = 0;
				for (int i = 0; i < 4; i++, j->p++) {
					if (!isxdigit((unsigned char)*j->p))
						return 0;
					v = v * 16 + (unsigned)(isdigit((unsigned char)*j->p)
					                              ? *j->p - '0'
					                              : (tolower((unsigned char)*j->p) - 'a' + 10));
				}
				c = v < 0x80 ? (unsigned char)v : '?';
			} else if (!strchr("\"\\/bfnrt", c) || !c) {
				return 0;
			}
		}
		if (out && n + 1 < size)
			out[n++] = (char)c;
	}
	if (out)
		out[n] = '\0';
	return 1;
}

static int scan_value(struct jscan *j, int depth)
{
	skip_ws(j);
	if (depth > 64)
		return 0;
	char c = *j->p;
	if (c == '{' || c == '[') {
		j->p++;
		skip_ws(j);
		char close = c == '{' ? '}' : ']';
		if (*j->p == close) {
			j->p++;
			return 1;
		}
		for (;;) {
			if (c == '{') {
				skip_ws(j);
				if (!scan_string(j, j->key, sizeof j->key))
					return 0;
				if (!j->bad_key && store_key_is_secret(j->key))
					j->bad_key = j->key;
				skip_ws(j);
				if (*j->p++ != ':')
					return 0;
				if (j->bad_key)
					return 1; /* found: no need to read on */
			}
			if (!scan_value(j, depth + 1))
				return 0;
			if (j->bad_key)
				return 1;
			skip_ws(j);
			if (*j->p == ',') {
				j->p++;
				continue;
			}
			return *j->p++ == close;
		}
	}
	if (c == '"')
		return scan_string(j, NULL, 0);
	if (strncmp(j->p, "true", 4) == 0 || strncmp(j->p, "null", 4) == 0) {
		j->p += 4;
		return 1;
	}
	if (strncmp(j->p, "false", 5) == 0) {
		j->p += 5;
		return 1;
	}
	char *end;
	if (c == '-' || isdigit((unsigned char)c)) {
		strtod(j->p, &end);
		if (end == j->p)
			return 0;
		j->p = end;
		return 1;
	}
	return 0;
}

int store_json_check_secrets(struct store *s, const char *json)
{
	if (!json)
		return STORE_OK;
	struct jscan j = {json, NULL, ""};
	int ok = scan_value(&j, 0);
	if (ok && !j.bad_key) {
		skip_ws(&j);
		ok = *j.p == '\0';
	}
	if (j.bad_key)
		return store_fail(s, STORE_INVALID,
		                  "refusing to store \"%s\": secrets and signatures never go into "
		                  "the state store (leave the key out)",
		                  j.bad_key);
	if (!ok)
		return store_fail(s, STORE_INVALID, "not valid JSON: %.60s", json);
	return STORE_OK;
}

