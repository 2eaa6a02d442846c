/* fleet: the hot parts of the emulator's simulated fleet, in C (docs/emulator-scale.md).
 *
 *  - an event queue keyed by simulated time: events due in the same whole second come out in the
 *    order they went in, earlier seconds first (what lua/otarun/emulator/sim.lua's per-second
 *    buckets did, without a Lua table per second);
 *  - the emulator's stateless hash (seed, what, who, attempt) -> [0, 1), bit for bit the one of
 *    lua/otarun/emulator/ids.lua (splitmix64 finaliser);
 *  - the gray selection of a static batch: the k devices with the lowest hash, in device order.
 *
 * Pure C: no Lua here; the binding is l_fleet.c (module otarun.core.fleet). */
#ifndef OTARUN_FLEET_H
#define OTARUN_FLEET_H
#include <stddef.h>
#include <stdint.h>

/* Events are the caller's packed integers. Each whole second with events has a bucket (its codes
 * in push order, read from `head`); a min-heap orders the seconds and a hash table finds a
 * second's bucket, so a push or a pop costs O(1) but for a new second (O(log seconds)). */
struct fleet_bucket {
	int64_t sec;
	int64_t *codes;
	uint32_t n, cap, head;
	int32_t next_free;
};

struct fleet_queue {
	struct fleet_bucket *b; /* bucket pool; free ones chained through next_free */
	uint32_t nb, capb;
	int32_t free_list;
	uint32_t *heap; /* bucket indexes, min-heap on sec */
	uint32_t nheap, capheap;
	int32_t *slots; /* open addressing (linear probing): bucket index or -1 */
	uint32_t nslots;
	size_t n; /* events queued */
};

/* One queued event, as fleet_queue_sorted lists them. */
struct fleet_event {
	int64_t sec;
	int64_t code;
};

void fleet_queue_init(struct fleet_queue *q);
void fleet_queue_free(struct fleet_queue *q);
/* 0, or -1 when out of memory (the queue is unchanged). */
int fleet_queue_push(struct fleet_queue *q, int64_t sec, int64_t code);
/* Takes the earliest event if it is due at or before t: 1 and *sec, *code set, or 0. */
int fleet_queue_pop_due(struct fleet_queue *q, double t, int64_t *sec, int64_t *code);
/* When the earliest event is due: 1 and *sec, or 0 when the queue is empty. */
int fleet_queue_next(struct fleet_queue *q, int64_t *sec);
/* Events in due order (second, then push order) into out[q->n]; the queue is unchanged. 0, or
 * -1 when out of memory. */
int fleet_queue_sorted(const struct fleet_queue *q, struct fleet_event *out);

uint64_t fleet_mix(uint64_t x);
double fleet_hash01(int64_t seed, int64_t a, int64_t b, int64_t c);

/* Keeps the k devices of d[0..n) with the lowest fleet_hash01(seed, what, d, 0) (ties: lower
 * device first) and sorts them by device number; returns how many were kept (min(k, n)).
 * 0 .. n, or -1 when out of memory. */
long fleet_gray_pick(int64_t *d, size_t n, size_t k, int64_t seed, int64_t what);

#endif
