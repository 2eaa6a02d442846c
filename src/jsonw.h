/* The byte-level half of otarun's one JSON writer (lua/otarun/json.lua; docs/architecture.md,
 * "JSON"): a growable output buffer, string escaping, number text and the key order's byte
 * comparison. The table walk is the binding's (src/l_json.c); this file never sees Lua. */
#ifndef OTARUN_JSONW_H
#define OTARUN_JSONW_H
#include <stddef.h>

/* An allocator with lua_Alloc's contract (nsize 0 frees), so the binding's buffer counts against
 * the host's memory budget like every other allocation. */
typedef void *(*jw_alloc_fn)(void *ud, void *ptr, size_t osize, size_t nsize);

struct jw_buf {
	char *p;
	size_t len, cap;
	jw_alloc_fn alloc;
	void *ud;
	int failed; /* an allocation failed: the text is incomplete */
};

void jw_init(struct jw_buf *b, jw_alloc_fn alloc, void *ud);
void jw_free(struct jw_buf *b);
/* Room for n more bytes: 0, or -1 (and b->failed) when the allocator refuses. */
int jw_reserve(struct jw_buf *b, size_t n);
void jw_put(struct jw_buf *b, const char *s, size_t n);
void jw_putc(struct jw_buf *b, char c);
/* s as a JSON string: quoted when quote is set; '"', '\\' and control characters (0x00-0x1f,
 * 0x7f) escaped, \b \f \n \r \t by name, the rest as \u00XX; every other byte as is. */
void jw_string(struct jw_buf *b, const char *s, size_t n, int quote);
/* A float's text: integral values below 2^53 as integers, else the shorter of %.14g and %.17g
 * that reads back the same. -> length written to out (at least 32 bytes), or 0 for NaN and
 * infinities, which JSON cannot hold. */
size_t jw_float(double v, char *out, size_t size);
/* Byte order of two strings (memcmp, then the shorter first), as Lua's < on strings in the C locale. */
int jw_bytes_cmp(const char *a, size_t alen, const char *b, size_t blen);

#endif
