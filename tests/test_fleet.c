/* Unit tests of fleet.c: the event queue's order (by second, first in first out within one),
 * the hash's published bits (the same as lua/otarun/emulator/ids.lua), and the gray selection. */
#include "fleet.h"

#include <stdlib.h>

#include "harness.h"

static void test_queue_order(void)
{
	struct fleet_queue q;
	fleet_queue_init(&q);
	int64_t sec, code;
	CHECK(!fleet_queue_pop_due(&q, 1e12, &sec, &code), "an empty queue has no event");
	CHECK(!fleet_queue_next(&q, &sec), "an empty queue has no next second");
	/* three seconds, pushed interleaved; within a second the push order must hold */
	int64_t secs[] = {30, 10, 20, 10, 30, 10, 20};
	for (int i = 0; i < 7; i++)
		CHECK(fleet_queue_push(&q, secs[i], i) == 0, "push %d", i);
	CHECK(fleet_queue_next(&q, &sec) && sec == 10, "next second 10");
	CHECK(!fleet_queue_pop_due(&q, 9.5, &sec, &code), "nothing due before 10");
	/* 99 is pushed into second 10 while it is being read: it comes after that second's others */
	int64_t want[] = {1, 3, 5, 99, 2, 6, 0, 4};
	for (int i = 0; i < 8; i++) {
		int got = fleet_queue_pop_due(&q, 30, &sec, &code);
		CHECK(got && code == want[i], "event %d: got %lld want %lld", i, (long long)code,
		      (long long)want[i]);
		if (i == 1)
			CHECK(fleet_queue_push(&q, 10, 99) == 0, "push into the second being read");
	}
	CHECK(q.n == 0 && !fleet_queue_next(&q, &sec), "drained");
	fleet_queue_free(&q);
}

/* Many pushes and pops over many seconds (the hash table grows and deletes with backward
 * shifts): events come out by second, and in push order within one. */
static void test_queue_random(void)
{
	struct fleet_queue q;
	fleet_queue_init(&q);
	srand(7);
	int64_t last_sec = -1, last_code = -1, code = 0, sec, c;
	int bad = 0, failed_pushes = 0;
	for (int round = 0; round < 200; round++) {
		for (int i = 0; i < 500; i++)
			failed_pushes += fleet_queue_push(&q, last_sec + 1 + rand() % 5000, code++) != 0;
		for (int i = 0; i < 400 && fleet_queue_pop_due(&q, 1e18, &sec, &c); i++) {
			if (sec < last_sec || (sec == last_sec && c < last_code))
				bad++;
			last_sec = sec;
			last_code = c;
		}
	}
	CHECK(failed_pushes == 0, "%d pushes failed", failed_pushes);
	CHECK(bad == 0, "%d events out of order", bad);
	CHECK(q.n == 200 * 100, "left %zu", q.n);
	struct fleet_event *all = malloc(q.n * sizeof *all);
	CHECK(fleet_queue_sorted(&q, all) == 0, "sorted");
	int sorted = all[0].sec >= last_sec;
	for (size_t i = 1; i < q.n; i++)
		if (all[i].sec < all[i - 1].sec ||
		    (all[i].sec == all[i - 1].sec && all[i].code < all[i - 1].code))
			sorted = 0;
	CHECK(sorted, "fleet_queue_sorted gives due order");
	/* the listing and the pops agree */
	size_t same = 0, n = q.n;
	for (size_t i = 0; i < n && fleet_queue_pop_due(&q, 1e18, &sec, &c); i++)
		same += sec == all[i].sec && c == all[i].code;
	CHECK(same == n && q.n == 0, "%zu of %zu popped as listed", same, n);
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
