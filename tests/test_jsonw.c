/* test_jsonw: unit tests of the byte-level half of the JSON writer (src/jsonw.c): escapes, number
 * text, key byte order, and a buffer whose allocator refuses. Harness: tests/harness.h. */
#include "jsonw.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "harness.h"

static void *heap_alloc(void *ud, void *ptr, size_t osize, size_t nsize)
{
	(void)ud;
	(void)osize;
	if (nsize == 0) {
		free(ptr);
		return NULL;
	}
	return realloc(ptr, nsize);
}

/* allows *ud bytes in all, then refuses */
static void *tight_alloc(void *ud, void *ptr, size_t osize, size_t nsize)
{
	size_t *left = ud;
	if (nsize > osize && nsize - osize > *left)
		return NULL;
	if (nsize > osize)
		*left -= nsize - osize;
	return heap_alloc(NULL, ptr, osize, nsize);
}

/* s (n bytes) through jw_string, as a NUL-terminated copy in out */
static const char *quoted(const char *s, size_t n, int quote, char *out, size_t size)
{
	struct jw_buf b;
	jw_init(&b, heap_alloc, NULL);
	jw_string(&b, s, n, quote);
	size_t len = b.len < size - 1 ? b.len : size - 1;
	memcpy(out, b.p ? b.p : "", len);
	out[len] = '\0';
	jw_free(&b);
	return out;
}

static void test_escapes(void)
{
	char out[256];
	CHECK_STR(quoted("plain/text", 10, 1, out, sizeof out), "\"plain/text\"");
	CHECK_STR(quoted("a\"b\\c", 5, 0, out, sizeof out), "a\\\"b\\\\c");
	CHECK_STR(quoted("\b\f\n\r\t", 5, 0, out, sizeof out), "\\b\\f\\n\\r\\t");
	CHECK_STR(quoted("\x01\x1f\x7f", 3, 0, out, sizeof out), "\\u0001\\u001f\\u007f");
	CHECK_STR(quoted("a\0b", 3, 1, out, sizeof out), "\"a\\u0000b\"");
	CHECK_STR(quoted("\xc3\xa9\xe2\x82\xac\xff", 6, 0, out, sizeof out), "\xc3\xa9\xe2\x82\xac\xff"); /* bytes >= 0x80 as they are */
	CHECK_STR(quoted("", 0, 1, out, sizeof out), "\"\"");
	/* every control byte escapes to six or two characters, nothing else changes */
	for (int c = 0; c < 256; c++) {
		char in = (char)c;
		quoted(&in, 1, 0, out, sizeof out);
		int named = c == '"' || c == '\\' || c == '\b' || c == '\f' || c == '\n' || c == '\r' || c == '\t';
		size_t want = named ? 2 : (c < 0x20 || c == 0x7f) ? 6 : 1;
		CHECK(strlen(out) == want, "byte %d escaped to \"%s\"", c, out);
	}
}

static void test_numbers(void)
{
	char out[64];
	static const struct { double v; const char *want; } cases[] = {
		{ 3.0, "3" }, { -0.0, "0" }, { 2.5, "2.5" }, { 0.1, "0.1" }, { 1e300, "1e+300" },
		{ 1.0 / 3.0, "0.33333333333333331" }, { 0.1 - 0.4, "-0.30000000000000004" },
		{ 9007199254740991.0, "9007199254740991" }, { 9007199254740992.0, "9007199254740992" },
		{ 1e16, "1e+16" }, { -1e-7, "-1e-07" },
	};
	for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		size_t n = jw_float(cases[i].v, out, sizeof out);
		CHECK(n > 0 && strcmp(out, cases[i].want) == 0 && strtod(out, NULL) == cases[i].v, "%.17g -> \"%s\", want \"%s\"",
		      cases[i].v, n ? out : "(none)", cases[i].want);
	}
	CHECK_TRUE(jw_float(NAN, out, sizeof out) == 0);
	CHECK_TRUE(jw_float(INFINITY, out, sizeof out) == 0);
	CHECK_TRUE(jw_float(-INFINITY, out, sizeof out) == 0);
}

static void test_key_order(void)
{
	CHECK_TRUE(jw_bytes_cmp("a", 1, "b", 1) < 0);
	CHECK_TRUE(jw_bytes_cmp("ab", 2, "a", 1) > 0);
	CHECK_TRUE(jw_bytes_cmp("a", 1, "a\0", 2) < 0);
	CHECK_TRUE(jw_bytes_cmp("Z", 1, "a", 1) < 0);
	CHECK_TRUE(jw_bytes_cmp("\xc3", 1, "z", 1) > 0); /* unsigned bytes */
	CHECK_TRUE(jw_bytes_cmp("same", 4, "same", 4) == 0);
}

static void test_refusing_allocator(void)
{
	size_t left = 5000;
	struct jw_buf b;
	jw_init(&b, tight_alloc, &left);
	jw_put(&b, "0123456789", 10);
	CHECK_TRUE(!b.failed && b.len == 10);
	for (int i = 0; i < 1000 && !b.failed; i++)
		jw_put(&b, "0123456789", 10);
	CHECK_TRUE(b.failed);
	size_t len = b.len;
	jw_putc(&b, 'x');
	jw_string(&b, "abc", 3, 1);
	CHECK_TRUE(b.len == len); /* nothing more once failed */
	jw_free(&b);
	CHECK_TRUE(b.p == NULL && b.len == 0);
}

int main(void)
{
	test_escapes();
	test_numbers();
	test_key_order();
	test_refusing_allocator();
	return harness_report();
}
