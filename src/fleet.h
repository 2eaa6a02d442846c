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

struct fleet_event {
	int64_t sec;  /* due at this whole second (epoch) */
	uint64_t seq; /* push order, for first-in first-out within a second */
	int64_t code; /* the caller's packed event */
};

struct fleet_queue {
	struct fleet_event *heap;
	size_t n, cap;
	uint64_t seq;
};

void fleet_queue_init(struct fleet_queue *q);
void fleet_queue_free(struct fleet_queue *q);
/* 0, or -1 when out of memory (the queue is unchanged). */
int fleet_queue_push(struct fleet_queue *q, int64_t sec, int64_t code);
/* The earliest event, or NULL when the queue is empty. */
const struct fleet_event *fleet_queue_peek(const struct fleet_queue *q);
void fleet_queue_pop(struct fleet_queue *q);
/* Events in due order (second, then push order) into out[q->n]; the queue is unchanged. */
void fleet_queue_sorted(const struct fleet_queue *q, struct fleet_event *out);

uint64_t fleet_mix(uint64_t x);
double fleet_hash01(int64_t seed, int64_t a, int64_t b, int64_t c);

/* Keeps the k devices of d[0..n) with the lowest fleet_hash01(seed, what, d, 0) (ties: lower
 * device first) and sorts them by device number; returns how many were kept (min(k, n)).
 * 0 .. n, or -1 when out of memory. */
long fleet_gray_pick(int64_t *d, size_t n, size_t k, int64_t seed, int64_t what);

#endif
