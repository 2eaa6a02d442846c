/* The byte-level half of the JSON writer: buffer, escaping, numbers, key comparison. Uses: jsonw.h. */
#include "jsonw.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void jw_init(struct jw_buf *b, jw_alloc_fn alloc, void *ud)
{
	memset(b, 0, sizeof *b);
	b->alloc = alloc;
	b->ud = ud;
}

void jw_free(struct jw_buf *b)
{
	if (b->p)
		b->alloc(b->ud, b->p, b->cap, 0);
	b->p = NULL;
	b->len = b->cap = 0;
}

int jw_reserve(struct jw_buf *b, size_t n)
{
	if (b->failed)
		return -1;
	if (b->cap - b->len >= n)
		return 0;
	size_t cap = b->cap ? b->cap : 4096;
	while (cap - b->len < n) {
		if (cap > ((size_t)-1) / 2) {
			b->failed = 1;
			return -1;
		}
		cap *= 2;
	}
	char *p = b->alloc(b->ud, b->p, b->p ? b->cap : 0, cap);
	if (!p) {
		b->failed = 1;
		return -1;
	}
	b->p = p;
	b->cap = cap;
	return 0;
}

void jw_put(struct jw_buf *b, const char *s, size_t n)
{
	if (n == 0 || jw_reserve(b, n) != 0)
		return;
	memcpy(b->p + b->len, s, n);
	b->len += n;
}

void jw_putc(struct jw_buf *b, char c)
{
	if (jw_reserve(b, 1) != 0)
		return;
	b->p[b->len++] = c;
}

/* 1 for the bytes that need an escape */
static const unsigned char needs_escape[256] = {
	1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1,
	0, 0, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
	0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1, 0, 0, 0,
	0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1,
};

void jw_string(struct jw_buf *b, const char *s, size_t n, int quote)
{
	/* worst case: every byte as \u00XX */
	if (n > ((size_t)-1 - 2) / 6 || jw_reserve(b, n * 6 + 2) != 0) {
		b->failed = 1;
		return;
	}
	char *o = b->p + b->len;
	if (quote)
		*o++ = '"';
	size_t i = 0;
	while (i < n) {
		size_t run = i;
		while (run < n && !needs_escape[(unsigned char)s[run]])
			run++;
		memcpy(o, s + i, run - i);
		o += run - i;
		if (run == n)
			break;
		unsigned char c = (unsigned char)s[run];
		*o++ = '\\';
		switch (c) {
		case '"': *o++ = '"'; break;
		case '\\': *o++ = '\\'; break;
		case '\b': *o++ = 'b'; break;
		case '\f': *o++ = 'f'; break;
		case '\n': *o++ = 'n'; break;
		case '\r': *o++ = 'r'; break;
		case '\t': *o++ = 't'; break;
		default: {
			static const char hex[] = "0123456789abcdef";
			*o++ = 'u';
			*o++ = '0';
			*o++ = '0';
			*o++ = hex[c >> 4];
			*o++ = hex[c & 15];
		}
		}
		i = run + 1;
	}
	if (quote)
		*o++ = '"';
	b->len = (size_t)(o - b->p);
}

size_t jw_float(double v, char *out, size_t size)
{
	if (isnan(v) || isinf(v))
		return 0;
	int n;
	if (v == floor(v) && fabs(v) < 9007199254740992.0)
		n = snprintf(out, size, "%lld", (long long)v);
	else {
		n = snprintf(out, size, "%.14g", v);
		if (strtod(out, NULL) != v)
			n = snprintf(out, size, "%.17g", v);
	}
	return n > 0 && (size_t)n < size ? (size_t)n : 0;
}

int jw_bytes_cmp(const char *a, size_t alen, const char *b, size_t blen)
{
	int c = memcmp(a, b, alen < blen ? alen : blen);
	if (c)
		return c;
	return alen < blen ? -1 : alen > blen;
}
