/* suggest: see suggest.h. */
#include "suggest.h"

#include <ctype.h>
#include <stdio.h>
#include <string.h>

/* Optimal string alignment distance: a swapped pair of letters ("rtae") costs 1. */
static size_t edit_distance(const char *a, const char *b)
{
	size_t la = strlen(a), lb = strlen(b);
	if (la > 63 || lb > 63)
		return (size_t)-1;
	size_t d[64][64];
	for (size_t i = 0; i <= la; i++)
		d[i][0] = i;
	for (size_t j = 0; j <= lb; j++)
		d[0][j] = j;
	for (size_t i = 1; i <= la; i++) {
		for (size_t j = 1; j <= lb; j++) {
			size_t cost = tolower((unsigned char)a[i - 1]) != tolower((unsigned char)b[j - 1]);
			size_t v = d[i - 1][j] + 1;
			if (d[i][j - 1] + 1 < v)
				v = d[i][j - 1] + 1;
			if (d[i - 1][j - 1] + cost < v)
				v = d[i - 1][j - 1] + cost;
			if (i > 1 && j > 1 && a[i - 1] == b[j - 2] && a[i - 2] == b[j - 1] && d[i - 2][j - 2] + 1 < v)
				v = d[i - 2][j - 2] + 1;
			d[i][j] = v;
		}
	}
	return d[la][lb];
}

const char *suggest_closest(const char *word, const char *const *candidates, size_t n)
{
	const char *best = NULL;
	size_t best_d = (size_t)-1, len = strlen(word);
	size_t limit = len <= 3 ? 1 : len <= 6 ? 2 : 3;
	for (size_t i = 0; i < n; i++) {
		size_t d = edit_distance(word, candidates[i]);
		if (d < best_d) {
			best_d = d;
			best = candidates[i];
		}
	}
	return best_d <= limit ? best : NULL;
}

const char *suggest_unknown(char *buf, size_t len, const char *where, const char *kind, const char *key,
                            const char *const *known)
{
	size_t n = 0;
	while (known[n])
		n++;
	const char *best = suggest_closest(key, known, n);
	size_t used = 0;
#define ADD(...) do { int w_ = snprintf(buf + used, used < len ? len - used : 0, __VA_ARGS__); \
		if (w_ > 0) used += (size_t)w_; } while (0)
	if (where && *where)
		ADD("%s: ", where);
	ADD("unknown %s \"%s\"", kind, key);
	if (best)
		ADD(" (did you mean %s?)", best);
	ADD("; known: ");
	for (size_t i = 0; i < n; i++)
		ADD("%s%s", i ? ", " : "", known[i]);
#undef ADD
	return buf;
}
