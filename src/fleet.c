/* fleet: the emulator's event queue, stateless hash and gray selection (see fleet.h). */
#include "fleet.h"

#include <stdlib.h>
#include <string.h>

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

void fleet_queue_init(struct fleet_queue *q)
{
	memset(q, 0, sizeof *q);
	q->free_list = -1;
}

void fleet_queue_free(struct fleet_queue *q)
{
	for (uint32_t i = 0; i < q->nb; i++)
		free(q->b[i].codes);
	free(q->b);
	free(q->heap);
	free(q->slots);
	fleet_queue_init(q);
}

static uint32_t slot_of(const struct fleet_queue *q, int64_t sec)
{
	return (uint32_t)(fleet_mix((uint64_t)sec) & (q->nslots - 1));
}

/* The bucket of `sec`, or -1. */
static int32_t find_bucket(const struct fleet_queue *q, int64_t sec)
{
	if (!q->nslots)
		return -1;
	for (uint32_t i = slot_of(q, sec);; i = (i + 1) & (q->nslots - 1)) {
		int32_t b = q->slots[i];
		if (b < 0 || q->b[b].sec == sec)
			return b;
	}
}

static void slots_insert(struct fleet_queue *q, int32_t b)
{
	uint32_t i = slot_of(q, q->b[b].sec);
	while (q->slots[i] >= 0)
		i = (i + 1) & (q->nslots - 1);
	q->slots[i] = b;
}

/* Backward-shift deletion keeps every probe chain unbroken without tombstones. */
static void slots_remove(struct fleet_queue *q, int64_t sec)
{
	uint32_t mask = q->nslots - 1, i = slot_of(q, sec);
	while (q->b[q->slots[i]].sec != sec)
		i = (i + 1) & mask;
	for (uint32_t j = (i + 1) & mask; q->slots[j] >= 0; j = (j + 1) & mask) {
		uint32_t home = slot_of(q, q->b[q->slots[j]].sec);
		/* move j back into the hole at i unless its home lies cyclically in (i, j] */
		if (((j - home) & mask) >= ((j - i) & mask)) {
			q->slots[i] = q->slots[j];
			i = j;
		}
	}
	q->slots[i] = -1;
}

static int grow_slots(struct fleet_queue *q)
{
	uint32_t n = q->nslots ? q->nslots * 2 : 1024;
	int32_t *s = malloc(n * sizeof *s);
	if (!s)
		return -1;
	for (uint32_t i = 0; i < n; i++)
		s[i] = -1;
	free(q->slots);
	q->slots = s;
	q->nslots = n;
	for (uint32_t i = 0; i < q->nheap; i++)
		slots_insert(q, (int32_t)q->heap[i]);
	return 0;
}

#define SEC_OF(q, k) ((q)->b[(q)->heap[k]].sec)

static void heap_up(struct fleet_queue *q, uint32_t i)
{
	uint32_t v = q->heap[i];
	while (i > 0) {
		uint32_t p = (i - 1) / 2;
		if (q->b[q->heap[p]].sec <= q->b[v].sec)
			break;
		q->heap[i] = q->heap[p];
		i = p;
	}
	q->heap[i] = v;
}

static void heap_pop_top(struct fleet_queue *q)
{
	uint32_t last = q->heap[--q->nheap], n = q->nheap, i = 0;
	if (!n)
		return;
	for (;;) {
		uint32_t c = 2 * i + 1;
		if (c >= n)
			break;
		if (c + 1 < n && SEC_OF(q, c + 1) < SEC_OF(q, c))
			c++;
		if (SEC_OF(q, c) >= q->b[last].sec)
			break;
		q->heap[i] = q->heap[c];
		i = c;
	}
	q->heap[i] = last;
}

/* A new bucket for `sec`, in the heap and the table; -1 when out of memory. */
static int32_t new_bucket(struct fleet_queue *q, int64_t sec)
{
	if ((q->nheap + 1) * 2 > q->nslots && grow_slots(q) != 0)
		return -1;
	if (q->nheap == q->capheap) {
		uint32_t cap = q->capheap ? q->capheap * 2 : 256;
		uint32_t *h = realloc(q->heap, cap * sizeof *h);
		if (!h)
			return -1;
		q->heap = h;
		q->capheap = cap;
	}
	int32_t b = q->free_list;
	if (b >= 0) {
		q->free_list = q->b[b].next_free;
	} else {
		if (q->nb == q->capb) {
			uint32_t cap = q->capb ? q->capb * 2 : 256;
			struct fleet_bucket *nbk = realloc(q->b, cap * sizeof *nbk);
			if (!nbk)
				return -1;
			q->b = nbk;
			q->capb = cap;
		}
		b = (int32_t)q->nb++;
		q->b[b].codes = NULL;
		q->b[b].cap = 0;
	}
	struct fleet_bucket *bk = &q->b[b];
	bk->sec = sec;
	bk->n = bk->head = 0;
	bk->next_free = -1;
	slots_insert(q, b);
	q->heap[q->nheap] = (uint32_t)b;
	heap_up(q, q->nheap++);
	return b;
}

int fleet_queue_push(struct fleet_queue *q, int64_t sec, int64_t code)
{
	int32_t b = find_bucket(q, sec);
	if (b < 0 && (b = new_bucket(q, sec)) < 0)
		return -1;
	struct fleet_bucket *bk = &q->b[b];
	if (bk->n == bk->cap) {
		uint32_t cap = bk->cap ? bk->cap * 2 : 8;
		int64_t *c = realloc(bk->codes, cap * sizeof *c);
		if (!c)
			return -1; /* a new empty bucket stays: it is taken away on the next pop */
		bk->codes = c;
		bk->cap = cap;
	}
	bk->codes[bk->n++] = code;
	q->n++;
	return 0;
}

/* Drops the earliest bucket (read to its end); large arrays are freed, small ones reused. */
static void drop_top(struct fleet_queue *q)
{
	int32_t b = (int32_t)q->heap[0];
	struct fleet_bucket *bk = &q->b[b];
	slots_remove(q, bk->sec);
	heap_pop_top(q);
	if (bk->cap > 4096) {
		free(bk->codes);
		bk->codes = NULL;
		bk->cap = 0;
	}
	bk->next_free = q->free_list;
	q->free_list = b;
}

int fleet_queue_pop_due(struct fleet_queue *q, double t, int64_t *sec, int64_t *code)
{
	while (q->nheap) {
		struct fleet_bucket *bk = &q->b[q->heap[0]];
		if ((double)bk->sec > t)
			return 0;
		if (bk->head < bk->n) {
			*sec = bk->sec;
			*code = bk->codes[bk->head++];
			q->n--;
			return 1;
		}
		drop_top(q);
	}
	return 0;
}

int fleet_queue_next(struct fleet_queue *q, int64_t *sec)
{
	while (q->nheap && q->b[q->heap[0]].head == q->b[q->heap[0]].n)
		drop_top(q); /* read to its end by the last pop */
	if (!q->nheap)
		return 0;
	*sec = q->b[q->heap[0]].sec;
	return 1;
}

static int event_cmp(const void *pa, const void *pb)
{
	const struct fleet_event *a = pa, *b = pb;
	return a->sec < b->sec ? -1 : a->sec > b->sec;
}

int fleet_queue_sorted(const struct fleet_queue *q, struct fleet_event *out)
{
	/* each second has one bucket: sort the buckets by second, then list each one's codes */
	struct fleet_event *tops = malloc((q->nheap ? q->nheap : 1) * sizeof *tops);
	if (!tops)
		return -1;
	for (uint32_t i = 0; i < q->nheap; i++) {
		tops[i].sec = q->b[q->heap[i]].sec;
		tops[i].code = q->heap[i];
	}
	qsort(tops, q->nheap, sizeof *tops, event_cmp);
	size_t k = 0;
	for (uint32_t i = 0; i < q->nheap; i++) {
		const struct fleet_bucket *bk = &q->b[tops[i].code];
		for (uint32_t j = bk->head; j < bk->n; j++) {
			out[k].sec = bk->sec;
			out[k++].code = bk->codes[j];
		}
	}
	free(tops);
	return 0;
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
