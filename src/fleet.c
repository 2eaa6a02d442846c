/* fleet: the emulator's event queue, stateless hash and gray selection (see fleet.h). */
#include "fleet.h"

#include <stdlib.h>

void fleet_queue_init(struct fleet_queue *q)
{
	q->heap = NULL;
	q->n = q->cap = 0;
	q->seq = 0;
}

void fleet_queue_free(struct fleet_queue *q)
{
	free(q->heap);
	fleet_queue_init(q);
}

static int before(const struct fleet_event *a, const struct fleet_event *b)
{
	return a->sec < b->sec || (a->sec == b->sec && a->seq < b->seq);
}

int fleet_queue_push(struct fleet_queue *q, int64_t sec, int64_t code)
{
	if (q->n == q->cap) {
		size_t cap = q->cap ? q->cap * 2 : 1024;
		struct fleet_event *h = realloc(q->heap, cap * sizeof *h);
		if (!h)
			return -1;
		q->heap = h;
		q->cap = cap;
	}
	struct fleet_event ev = {sec, q->seq++, code};
	size_t i = q->n++;
	while (i > 0) {
		size_t p = (i - 1) / 2;
		if (!before(&ev, &q->heap[p]))
			break;
		q->heap[i] = q->heap[p];
		i = p;
	}
	q->heap[i] = ev;
	return 0;
}

const struct fleet_event *fleet_queue_peek(const struct fleet_queue *q)
{
	return q->n ? &q->heap[0] : NULL;
}

void fleet_queue_pop(struct fleet_queue *q)
{
	if (!q->n)
		return;
	struct fleet_event last = q->heap[--q->n];
	size_t n = q->n, i = 0;
	if (!n)
		return;
	for (;;) {
		size_t c = 2 * i + 1;
		if (c >= n)
			break;
		if (c + 1 < n && before(&q->heap[c + 1], &q->heap[c]))
			c++;
		if (!before(&q->heap[c], &last))
			break;
		q->heap[i] = q->heap[c];
		i = c;
	}
	q->heap[i] = last;
}

static int event_cmp(const void *pa, const void *pb)
{
	const struct fleet_event *a = pa, *b = pb;
	return before(a, b) ? -1 : before(b, a) ? 1 : 0;
}

void fleet_queue_sorted(const struct fleet_queue *q, struct fleet_event *out)
{
	for (size_t i = 0; i < q->n; i++)
		out[i] = q->heap[i];
	qsort(out, q->n, sizeof *out, event_cmp);
}

/* Lua 5.4 integers wrap and `>>` is a logical shift: unsigned arithmetic gives the same bits. */
uint64_t fleet_mix(uint64_t x)
{
	x = (x ^ (x >> 30)) * UINT64_C(0xbf58476d1ce4e5b9);
	x = (x ^ (x >> 27)) * UINT64_C(0x94d049bb133111eb);
	return x ^ (x >> 31);
}

#define GOLDEN UINT64_C(0x9e3779b97f4a7c15)

double fleet_hash01(int64_t seed, int64_t a, int64_t b, int64_t c)
{
	uint64_t h = fleet_mix((uint64_t)seed * GOLDEN + (uint64_t)a);
	h = fleet_mix(h + (uint64_t)b * GOLDEN);
	h = fleet_mix(h + (uint64_t)c);
	return (double)(h >> 11) * 0x1.0p-53;
}

struct keyed {
	double key;
	int64_t d;
};

static int keyed_cmp(const void *pa, const void *pb)
{
	const struct keyed *a = pa, *b = pb;
	if (a->key != b->key)
		return a->key < b->key ? -1 : 1;
	return a->d < b->d ? -1 : a->d > b->d;
}

static int dev_cmp(const void *pa, const void *pb)
{
	int64_t a = *(const int64_t *)pa, b = *(const int64_t *)pb;
	return a < b ? -1 : a > b;
}

long fleet_gray_pick(int64_t *d, size_t n, size_t k, int64_t seed, int64_t what)
{
	if (k > n)
		k = n;
	if (!n)
		return 0;
	struct keyed *ks = malloc(n * sizeof *ks);
	if (!ks)
		return -1;
	for (size_t i = 0; i < n; i++) {
		ks[i].key = fleet_hash01(seed, what, d[i], 0);
		ks[i].d = d[i];
	}
	qsort(ks, n, sizeof *ks, keyed_cmp);
	for (size_t i = 0; i < k; i++)
		d[i] = ks[i].d;
	free(ks);
	qsort(d, k, sizeof *d, dev_cmp);
	return (long)k;
}
