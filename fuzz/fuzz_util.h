/* Shared by the libFuzzer harnesses (docs/fuzzing.md): the input split into NUL-terminated pieces. */
#ifndef OTARUN_FUZZ_UTIL_H
#define OTARUN_FUZZ_UTIL_H
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

/* An invariant of the code under test: a violation is a finding, in every build type. */
#define FUZZ_CHECK(cond)                 \
	do {                             \
		if (!(cond))             \
			__builtin_trap(); \
	} while (0)

/* A NUL-terminated copy of data[0..n); the caller frees it. NULL when out of memory. */
static inline char *fuzz_cstr(const uint8_t *data, size_t n)
{
	char *s = malloc(n + 1);
	if (!s)
		return NULL;
	memcpy(s, data, n);
	s[n] = '\0';
	return s;
}

/* Splits s in place at each '\n' into at most max pieces; returns how many. */
static inline size_t fuzz_split(char *s, char **pieces, size_t max)
{
	size_t n = 0;
	while (n < max) {
		pieces[n++] = s;
		char *nl = strchr(s, '\n');
		if (!nl)
			break;
		*nl = '\0';
		s = nl + 1;
	}
	return n;
}
#endif
