/* bytes: growable memory for the cores: the NUL-terminated byte buffer the HTTP client and server
 * collect bodies in, and the doubling of an array's capacity. Pure C. */
#ifndef OTARUN_BYTES_H
#define OTARUN_BYTES_H
#include <stddef.h>

/* Appends n bytes at p to the buffer (*data, *len) of *cap allocated bytes, growing it by doubling
 * from `first` bytes, and keeps a NUL after the data. 0, or -1 when out of memory (the buffer is
 * then unchanged). */
int bytes_append(char **data, size_t *len, size_t *cap, size_t first, const void *p, size_t n);

/* Reallocates the array `items` of *cap elements of elem bytes to twice as many (to `first` when
 * empty) and updates *cap. NULL (nothing changed) on overflow or when out of memory. */
void *bytes_grow(void *items, size_t *cap, size_t elem, size_t first);

#endif
