/* bytes: see bytes.h. */
#include "bytes.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

int bytes_append(char **data, size_t *len, size_t *cap, size_t first, const void *p, size_t n)
{
	if (*len + n + 1 > *cap) {
		size_t c = *cap ? *cap : first;
		while (c < *len + n + 1)
			c *= 2;
		char *grown = realloc(*data, c);
		if (!grown)
			return -1;
		*data = grown;
		*cap = c;
	}
	if (n)
		memcpy(*data + *len, p, n);
	*len += n;
	(*data)[*len] = '\0';
	return 0;
}

void *bytes_grow(void *items, size_t *cap, size_t elem, size_t first)
{
	size_t n = *cap ? *cap * 2 : first;
	if (n < *cap || n > SIZE_MAX / elem)
		return NULL;
	void *grown = realloc(items, n * elem);
	if (grown)
		*cap = n;
	return grown;
}
