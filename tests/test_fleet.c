/* Unit tests of fleet.c: the event queue's order (by second, first in first out within one),
 * the hash's published bits (the same as lua/otarun/emulator/ids.lua), and the gray selection. */
#include "fleet.h"

#include <stdlib.h>

#include "harness.h"

static void test_queue_order(void)
{
	struct fleet_queue q;
	fleet_queue_init(&q);
	CHECK(fleet_queue_peek(&q) == NULL, "an empty queue has no first event");
	/* three seconds, pushed interleaved; within a second the push order must hold */
	int64_t secs[] = {30, 10, 20, 10, 30, 10, 20};
	for (int i = 0; i < 7; i++)
		CHECK(fleet_queue_push(&q, secs[i], i) == 0, "push %d", i);
	int64_t want[] = {1, 3, 5, 2, 6, 0, 4};
	for (int i = 0; i < 7; i++) {
		const struct fleet_event *ev = fleet_queue_peek(&q);
		CHECK(ev && ev->code == want[i], "event %d: got %lld want %lld", i,
		      ev ? (long long)ev->code : -1LL, (long long)want[i]);
		fleet_queue_pop(&q);
	}
	CHECK(q.n == 0, "drained");
	fleet_queue_free(&q);
}

/* Many random pushes and pops against a sorted reference: (sec, push order) must come out sorted. */
static void test_queue_random(void)
{
	struct fleet_queue q;
	fleet_queue_init(&q);
	srand(7);
	int64_t last_sec = -1, last_code = -1, code = 0;
	int bad = 0;
	for (int round = 0; round < 200; round++) {
		for (int i = 0; i < 500; i++)
			fleet_queue_push(&q, last_sec + 1 + rand() % 50, code++);
		for (int i = 0; i < 400 && q.n; i++) {
			const struct fleet_event *ev = fleet_queue_peek(&q);
			if (ev->sec < last_sec || (ev->sec == last_sec && ev->code < last_code))
				bad++;
			last_sec = ev->sec;
			last_code = ev->code;
			fleet_queue_pop(&q);
		}
	}
	CHECK(bad == 0, "%d events out of order", bad);
	struct fleet_event *all = malloc(q.n * sizeof *all);
	fleet_queue_sorted(&q, all);
	int sorted = 1;
	for (size_t i = 1; i < q.n; i++)
		if (all[i].sec < all[i - 1].sec || (all[i].sec == all[i - 1].sec && all[i].code < all[i - 1].code))
			sorted = 0;
	CHECK(sorted, "fleet_queue_sorted gives due order");
	CHECK(q.n == 200 * 100, "left %zu", q.n);
	free(all);
	fleet_queue_free(&q);
}

static void test_hash(void)
{
	/* splitmix64's published first outputs for seed 0: mix(0x9e3779b97f4a7c15), ... */
	CHECK(fleet_mix(UINT64_C(0x9e3779b97f4a7c15)) == UINT64_C(0xe220a8397b1dcdaf), "splitmix64 #1");
	CHECK(fleet_mix(UINT64_C(0x3c6ef372fe94f82a)) == UINT64_C(0x6e789e6aa1b965f4), "splitmix64 #2");
	/* values printed by the former pure-Lua ids.hash01 (spec/emulator/reference/ids.lua) */
	CHECK(fleet_hash01(7, 1, 1, 0) == 0x1.d84d9dc9155fep-2, "hash01(7, 1, 1, 0)");
	CHECK(fleet_hash01(-3, 2, 5, 9) == 0x1.59752cc216853p-1, "negative seeds wrap like Lua's integers");
	CHECK(fleet_hash01(123456789, 3, 1000000, 2) == 0x1.aed74c33e2cbfp-1, "hash01(123456789, ...)");
	CHECK(fleet_hash01(7, 1, 1, 0) != fleet_hash01(7, 1, 2, 0), "depends on who");
}

static void test_gray_pick(void)
{
	int64_t d[100];
	for (int i = 0; i < 100; i++)
		d[i] = 100 - i;
	long k = fleet_gray_pick(d, 100, 10, 7, 7);
	CHECK(k == 10, "kept %ld", k);
	int sorted = 1;
	for (int i = 1; i < 10; i++)
		sorted &= d[i] > d[i - 1];
	CHECK(sorted, "kept devices in device order");
	/* every kept device hashes below every dropped one */
	double worst_kept = 0;
	for (int i = 0; i < 10; i++)
		if (fleet_hash01(7, 7, d[i], 0) > worst_kept)
			worst_kept = fleet_hash01(7, 7, d[i], 0);
	int below = 0;
	for (int64_t x = 1; x <= 100; x++)
		below += fleet_hash01(7, 7, x, 0) <= worst_kept;
	CHECK(below == 10, "the 10 lowest hashes: %d at or below the worst kept", below);
	CHECK(fleet_gray_pick(d, 0, 5, 7, 7) == 0, "empty list");
	CHECK(fleet_gray_pick(d, 3, 5, 7, 7) == 3, "k above n keeps n");
}

int main(void)
{
	test_queue_order();
	test_queue_random();
	test_hash();
	test_gray_pick();
	return harness_report();
}
