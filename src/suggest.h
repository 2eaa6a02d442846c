/* suggest: the closest known name to a misspelled one ("rtae" -> "rate"), for every "did you
 * mean" in otarun's C half (validator, policy schema, binding option checks). Pure C. */
#ifndef OTARUN_SUGGEST_H
#define OTARUN_SUGGEST_H
#include <stddef.h>

/* The candidate closest to `word` by edit distance (a swapped pair of letters costs 1, case is
 * ignored), or NULL when none is close enough. */
const char *suggest_closest(const char *word, const char *const *candidates, size_t n);

/* The message for an unknown name: `WHERE: unknown KIND "KEY" (did you mean X?); known: A, B`
 * (no "WHERE: " when where is NULL or empty; no suggestion when none is close). known is
 * NULL-terminated. Returns buf. */
const char *suggest_unknown(char *buf, size_t len, const char *where, const char *kind, const char *key,
                            const char *const *known);

#endif
