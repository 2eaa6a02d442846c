/* Unit tests of fleet_model.c and fleet_sim.c without Lua: device names (the arena and its index),
 * the per-version swap-remove lists, a job's buckets and counts through a task's life, and the
 * columns growing past their first size. The model's equality with the pure-Lua reference is
 * spec/emulator/model_equiv_spec.lua's. */
#include "fleet_model.h"

#include <math.h>
#include <stdio.h>
#include <string.h>

#include "harness.h"

static int traced, completed;

static int on_trace(void *ctx, uint32_t t, int old, int st, double now)
{
	(void)ctx, (void)t, (void)old, (void)st, (void)now;
	traced++;
	return 0;
}

static int on_complete(void *ctx, uint32_t job, double now)
{
	(void)ctx, (void)job, (void)now;
	completed++;
	return 0;
}

static int on_sched(void *ctx, int kind, uint32_t job, int64_t gen, double now)
{
	(void)ctx, (void)kind, (void)job, (void)gen, (void)now;
	return 0;
}

static void setup(struct fm_model *m)
{
	fm_init(m);
	m->sym_dynamic = 10;
	m->sym_in_progress = 11;
	m->cb.trace = on_trace;
	m->cb.complete = on_complete;
	m->cb.sched = on_sched;
	m->cb.tracing = 1;
	m->now = 1000;
}

static void test_names_and_versions(void)
{
	struct fm_model m;
	setup(&m);
	int p = fm_add_prod(&m), q = fm_add_prod(&m);
	CHECK(p == 1 && q == 2, "products 1 and 2");
	m.prods[p].seed = m.prods[q].seed = 7;
	m.prods[p].reconnect = m.prods[q].reconnect = 600;
	int64_t seq = 0;
	/* "dev000002" taken first: the bulk add skips it */
	long d1 = fm_add_device(&m, p, 1, 1, 0, m.now);
	CHECK(d1 == 1 && fm_add_name(&m, 1, "dev000002", 9) == 0, "a named device");
	long first = fm_add_devices(&m, p, 1, 0, 5000, 0.5, "dev", &seq);
	CHECK(first == 2 && m.ndev == 5001 && seq == 5001, "5000 devices, one name skipped: seq %lld", (long long)seq);
	CHECK(fm_dev_by_name(&m, p, "dev000001", 9) == 2, "dev000001 is device 2");
	CHECK(fm_dev_by_name(&m, p, "dev000002", 9) == 1, "dev000002 stays device 1");
	CHECK(fm_dev_by_name(&m, p, "dev005001", 9) == 5001, "the last one");
	CHECK(fm_dev_by_name(&m, q, "dev000001", 9) == 0, "names are per product");
	size_t len;
	const char *name = fm_name(&m, 5001, &len);
	CHECK(len == 9 && !memcmp(name, "dev005001", 9), "name of 5001");
	int online = 0;
	for (uint32_t d = 1; d <= m.ndev; d++)
		online += m.d_online[d];
	CHECK(online > 2300 && online < 2700, "about half online: %d", online);
	CHECK(m.q.n == m.ndev - (uint32_t)online, "the offline ones scheduled: %zu", m.q.n);
	/* version lists: moving devices keeps each list exact */
	for (uint32_t d = 1; d <= m.ndev; d += 2)
		CHECK(fm_set_version(&m, d, 3) == 0, "move %u", d);
	CHECK(m.prods[p].by_ver[1].n == 2500 && m.prods[p].by_ver[3].n == 2501, "2500 stay, 2501 moved");
	for (uint32_t i = 0; i < m.prods[p].by_ver[3].n; i++) {
		uint32_t d = m.prods[p].by_ver[3].a[i];
		CHECK(m.d_ver[d] == 3 && m.d_vpos[d] == i + 1, "device %u filed at %u", d, i + 1);
	}
	fm_free(&m);
}

static void test_task_life(void)
{
	struct fm_model m;
	setup(&m);
	int p = fm_add_prod(&m);
	struct fm_prod *pr = &m.prods[p];
	pr->seed = 3, pr->dmin = 60, pr->dmax = 120, pr->poll = 60, pr->reconnect = 600;
	CHECK(fm_prod_fail(&m, p, 1, 0.0) == 0, "odds");
	int64_t seq = 0;
	CHECK(fm_add_devices(&m, p, 1, 0, 3000, 1.0, "d", &seq) == 1, "3000 devices online");
	int job = fm_add_job(&m);
	struct fm_job *j = &m.jobs[job];
	j->dest = 2, j->status = 11, j->selection = 12, j->need_push = 1, j->rate = 1000, j->wstart = m.now;
	traced = completed = 0;
	for (uint32_t d = 1; d <= 3000; d++) {
		long t;
		CHECK(fm_assign(&m, job, d, &t) == 0 && t == (long)d, "task for %u", d);
	}
	CHECK(m.ntask == 3000 && m.counts[FM_QUEUED] == 3000 && traced == 3000, "3000 queued");
	CHECK(m.jobs[job].active == 3000 && fm_task_of(&m, job, 17) == 17, "bound and mapped");
	/* 1000 a minute, spread over the window: the first minute notifies exactly 1000 */
	CHECK(fm_run_until(&m, m.now + 59) == 0, "run");
	CHECK(m.counts[FM_QUEUED] == 2000, "one window notified: %lld queued", (long long)m.counts[FM_QUEUED]);
	CHECK(fm_run_until(&m, m.now + 86400) == 0, "run a day");
	CHECK(m.counts[FM_SUCCEEDED] == 3000 && m.jobs[job].bucket[FM_SUCCEEDED].n == 3000, "all succeeded");
	CHECK(m.prods[p].by_ver[2].n == 3000 && m.prods[p].by_ver[1].n == 0, "all on version 2");
	CHECK(completed == 1 && m.jobs[job].active == 0, "the static job completed once");
	CHECK(fm_progress(&m, 5) == 100 && m.t_desc[5] == FM_D_SUCCEEDED, "progress and description");
	fm_free(&m);
}

int main(void)
{
	test_names_and_versions();
	test_task_life();
	return harness_report();
}
