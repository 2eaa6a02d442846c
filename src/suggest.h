/* suggest: the closest known name to a misspelled one ("rtae" -> "rate"), for every "did you
 * mean" in otarun's C half (validator, policy schema, binding option checks). Pure C. */
#ifndef OTARUN_SUGGEST_H
#define OTARUN_SUGGEST_H
#include <stddef.h>

/* The candidate closest to `word` by edit distance (a swapped pair of letters costs 1, case is
 * ignored), or NULL when none is close enough. */
const char *suggest_closest(const char *word, const char *const *candidates, size_t n);

#endif
