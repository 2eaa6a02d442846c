/* fleet_model: the emulator's fleet columns and state machine (see fleet_model.h). Each handler is
 * the one lua/otarun/emulator/sim.lua had (spec/emulator/reference/sim.lua keeps it in Lua), step
 * for step: spec/emulator/model_equiv_spec.lua compares the two. */
#include "fleet_model.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

enum { K_NOTIFY = 1, K_START, K_FINISH, K_TIMEOUT, K_RETRY, K_POLL, K_ONLINE, K_PUMP, K_SCHED_START, K_SCHED_END };
enum { H_ONLINE = 1, H_FAIL, H_DUR, H_START, H_POLL, H_RECONNECT, H_GRAY };

void fm_init(struct fm_model *m)
{
	memset(m, 0, sizeof *m);
	fleet_queue_init(&m->q);
}

static void list_free(struct fm_list *l)
{
	free(l->a);
	memset(l, 0, sizeof *l);
}

void fm_free(struct fm_model *m)
{
	fleet_queue_free(&m->q);
	void *cols[] = {m->d_prod, m->d_ver, m->d_online, m->d_task, m->d_glist, m->d_vpos, m->d_created,
	                m->d_online_at, m->t_job, m->t_dev, m->t_pos, m->t_stamp, m->t_status, m->t_retry_wait,
	                m->t_inq, m->t_src, m->t_retries, m->t_dur, m->t_timeout, m->t_gen, m->t_desc,
	                m->t_created, m->t_modified, m->t_started, m->t_astart, m->names, m->d_name};
	for (size_t i = 0; i < sizeof cols / sizeof cols[0]; i++)
		free(cols[i]);
	for (uint32_t j = 1; j <= m->njob; j++) {
		struct fm_job *job = &m->jobs[j];
		free(job->vers);
		free(job->q);
		list_free(&job->tasks);
		for (int s = 0; s <= FM_NST; s++)
			list_free(&job->bucket[s]);
		free(job->task_of.k);
		free(job->task_of.v);
	}
	free(m->jobs);
	for (uint32_t p = 1; p <= m->nprod; p++) {
		struct fm_prod *pr = &m->prods[p];
		free(pr->fail);
		list_free(&pr->dyn);
		list_free(&pr->devices);
		for (uint32_t v = 0; v < pr->nby_ver; v++)
			list_free(&pr->by_ver[v]);
		free(pr->by_ver);
		free(pr->name_slots);
	}
	free(m->prods);
	for (uint32_t g = 1; g <= m->nglist; g++)
		free(m->glists[g]);
	free(m->glists);
	fm_init(m);
}

/* Lists and maps ---------------------------------------------------------------------------- */

int fm_list_add(struct fm_list *l, uint32_t x)
{
	if (l->n == l->cap) {
		uint32_t cap = l->cap ? l->cap * 2 : 4;
		uint32_t *a = realloc(l->a, cap * sizeof *a);
		if (!a)
			return -1;
		l->a = a;
		l->cap = cap;
	}
	l->a[l->n++] = x;
	return 0;
}

/* Unordered lists with O(1) removal: pos[x] is x's 1-based index (removal moves the last in). */
static int ilist_add(struct fm_list *l, uint32_t *pos, uint32_t x)
{
	if (fm_list_add(l, x) != 0)
		return -1;
	pos[x] = l->n;
	return 0;
}

static void ilist_remove(struct fm_list *l, uint32_t *pos, uint32_t x)
{
	uint32_t i = pos[x], last = l->a[l->n - 1];
	l->a[i - 1] = last;
	pos[last] = i;
	l->n--;
}

static uint32_t map_slot(uint32_t key, uint32_t cap)
{
	return (uint32_t)(fleet_mix(key) & (cap - 1));
}

uint32_t fm_task_of(const struct fm_model *m, uint32_t job, uint32_t d)
{
	const struct fm_map *mp = &m->jobs[job].task_of;
	if (!mp->cap)
		return 0;
	for (uint32_t i = map_slot(d, mp->cap);; i = (i + 1) & (mp->cap - 1)) {
		if (mp->k[i] == d)
			return mp->v[i];
		if (!mp->k[i])
			return 0;
	}
}

int fm_task_of_set(struct fm_model *m, uint32_t job, uint32_t d, uint32_t t)
{
	struct fm_map *mp = &m->jobs[job].task_of;
	if ((mp->n + 1) * 2 > mp->cap) {
		uint32_t cap = mp->cap ? mp->cap * 2 : 16;
		uint32_t *k = calloc(cap, sizeof *k), *v = malloc(cap * sizeof *v);
		if (!k || !v) {
			free(k);
			free(v);
			return -1;
		}
		for (uint32_t i = 0; i < mp->cap; i++) {
			if (!mp->k[i])
				continue;
			uint32_t s = map_slot(mp->k[i], cap);
			while (k[s])
				s = (s + 1) & (cap - 1);
			k[s] = mp->k[i];
			v[s] = mp->v[i];
		}
		free(mp->k);
		free(mp->v);
		mp->k = k;
		mp->v = v;
		mp->cap = cap;
	}
	uint32_t i = map_slot(d, mp->cap);
	while (mp->k[i] && mp->k[i] != d)
		i = (i + 1) & (mp->cap - 1);
	if (!mp->k[i])
		mp->n++;
	mp->k[i] = d;
	mp->v[i] = t;
	return 0;
}

/* Columns ------------------------------------------------------------------------------------ */

#define GROW(p, n) do { void *np_ = realloc((p), (size_t)(n) * sizeof *(p)); if (!np_) return -1; (p) = np_; } while (0)

int fm_grow_devices(struct fm_model *m, uint32_t n)
{
	if (n < m->capdev)
		return 0;
	uint32_t cap = m->capdev ? m->capdev : 1024;
	while (cap <= n)
		cap *= 2;
	GROW(m->d_prod, cap); GROW(m->d_ver, cap); GROW(m->d_online, cap); GROW(m->d_task, cap);
	GROW(m->d_glist, cap); GROW(m->d_vpos, cap); GROW(m->d_created, cap); GROW(m->d_online_at, cap);
	GROW(m->d_name, cap + 1);
	if (!m->capdev)
		m->d_name[1] = 0;
	m->capdev = cap;
	return 0;
}

int fm_grow_tasks(struct fm_model *m, uint32_t n)
{
	if (n < m->captask)
		return 0;
	uint32_t cap = m->captask ? m->captask : 1024;
	while (cap <= n)
		cap *= 2;
	GROW(m->t_job, cap); GROW(m->t_dev, cap); GROW(m->t_pos, cap); GROW(m->t_stamp, cap);
	GROW(m->t_status, cap); GROW(m->t_retry_wait, cap); GROW(m->t_inq, cap); GROW(m->t_src, cap);
	GROW(m->t_retries, cap); GROW(m->t_dur, cap); GROW(m->t_timeout, cap); GROW(m->t_gen, cap);
	GROW(m->t_desc, cap); GROW(m->t_created, cap); GROW(m->t_modified, cap); GROW(m->t_started, cap);
	GROW(m->t_astart, cap);
	m->captask = cap;
	return 0;
}

/* Entities ------------------------------------------------------------------------------------ */

int fm_add_prod(struct fm_model *m)
{
	GROW(m->prods, m->nprod + 2);
	struct fm_prod *p = &m->prods[++m->nprod];
	memset(p, 0, sizeof *p);
	return (int)m->nprod;
}

int fm_prod_fail(struct fm_model *m, uint32_t p, int32_t ver, double odds)
{
	struct fm_prod *pr = &m->prods[p];
	if ((uint32_t)ver >= pr->nfail) {
		uint32_t n = (uint32_t)ver + 8;
		GROW(pr->fail, n);
		for (uint32_t i = pr->nfail; i < n; i++)
			pr->fail[i] = NAN;
		pr->nfail = n;
	}
	pr->fail[ver] = odds;
	return 0;
}

int fm_add_glist(struct fm_model *m, const int32_t *groups, uint32_t n)
{
	GROW(m->glists, m->nglist + 2);
	int32_t *g = malloc((n + 1) * sizeof *g);
	if (!g)
		return -1;
	g[0] = (int32_t)n;
	memcpy(g + 1, groups, n * sizeof *g);
	m->glists[++m->nglist] = g;
	return (int)m->nglist;
}

static struct fm_list *by_ver(struct fm_prod *pr, int32_t ver)
{
	if ((uint32_t)ver >= pr->nby_ver) {
		uint32_t n = (uint32_t)ver + 8;
		struct fm_list *l = realloc(pr->by_ver, n * sizeof *l);
		if (!l)
			return NULL;
		memset(l + pr->nby_ver, 0, (n - pr->nby_ver) * sizeof *l);
		pr->by_ver = l;
		pr->nby_ver = n;
	}
	return &pr->by_ver[ver];
}

long fm_add_device(struct fm_model *m, uint32_t p, int32_t ver, int online, uint32_t glist, double now)
{
	uint32_t d = m->ndev + 1;
	if (fm_grow_devices(m, d) != 0)
		return -1;
	struct fm_prod *pr = &m->prods[p];
	struct fm_list *l = by_ver(pr, ver);
	if (!l || fm_list_add(&pr->devices, d) != 0 || ilist_add(l, m->d_vpos, d) != 0)
		return -1;
	m->ndev = d;
	m->d_prod[d] = (uint16_t)p;
	m->d_ver[d] = ver;
	m->d_online[d] = (uint8_t)online;
	m->d_task[d] = 0;
	m->d_glist[d] = glist;
	m->d_created[d] = now;
	m->d_online_at[d] = online ? now : NAN;
	m->d_name[d + 1] = m->nbytes; /* no name yet */
	return (long)d;
}

static uint64_t name_hash(const char *s, size_t len)
{
	uint64_t h = UINT64_C(0xcbf29ce484222325);
	for (size_t i = 0; i < len; i++)
		h = (h ^ (unsigned char)s[i]) * UINT64_C(0x100000001b3);
	return fleet_mix(h);
}

const char *fm_name(const struct fm_model *m, uint32_t d, size_t *len)
{
	*len = (size_t)(m->d_name[d + 1] - m->d_name[d]);
	return m->names + m->d_name[d];
}

static uint32_t *name_slot(const struct fm_model *m, const struct fm_prod *pr, const char *name, size_t len)
{
	uint32_t mask = pr->nslots - 1;
	for (uint32_t i = (uint32_t)name_hash(name, len) & mask;; i = (i + 1) & mask) {
		uint32_t d = pr->name_slots[i];
		size_t dl;
		if (!d)
			return &pr->name_slots[i];
		const char *dn = fm_name(m, d, &dl);
		if (dl == len && !memcmp(dn, name, len))
			return &pr->name_slots[i];
	}
}

uint32_t fm_dev_by_name(const struct fm_model *m, uint32_t p, const char *name, size_t len)
{
	const struct fm_prod *pr = &m->prods[p];
	return pr->nslots ? *name_slot(m, pr, name, len) : 0;
}

int fm_add_name(struct fm_model *m, uint32_t d, const char *name, size_t len)
{
	struct fm_prod *pr = &m->prods[m->d_prod[d]];
	if (m->nbytes + len > m->capbytes) {
		uint64_t cap = m->capbytes ? m->capbytes : 4096;
		while (cap < m->nbytes + len)
			cap *= 2;
		GROW(m->names, cap);
		m->capbytes = cap;
	}
	if (fm_grow_names(m, m->d_prod[d], 1) != 0)
		return -1;
	memcpy(m->names + m->nbytes, name, len);
	m->d_name[d] = m->nbytes;
	m->nbytes += len;
	m->d_name[d + 1] = m->nbytes;
	*name_slot(m, pr, name, len) = d;
	pr->nnames++;
	return 0;
}

/* Room in the product's name index for `more` names (at most half full). */
int fm_grow_names(struct fm_model *m, uint32_t p, uint32_t more)
{
	struct fm_prod *pr = &m->prods[p];
	if ((uint64_t)(pr->nnames + more) * 2 > pr->nslots) {
		uint32_t n = pr->nslots ? pr->nslots : 1024;
		while ((uint64_t)(pr->nnames + more) * 2 > n)
			n *= 2;
		uint32_t *old = pr->name_slots, nold = pr->nslots;
		pr->name_slots = calloc(n, sizeof *pr->name_slots);
		if (!pr->name_slots) {
			pr->name_slots = old;
			return -1;
		}
		pr->nslots = n;
		for (uint32_t i = 0; i < nold; i++) {
			if (old[i]) {
				size_t l;
				const char *s = fm_name(m, old[i], &l);
				*name_slot(m, pr, s, l) = old[i];
			}
		}
		free(old);
	}
	return 0;
}

long fm_add_devices(struct fm_model *m, uint32_t p, int32_t ver, uint32_t glist, uint32_t count, double share,
                    const char *prefix, int64_t *seq)
{
	long first = (long)m->ndev + 1;
	size_t plen = strlen(prefix);
	char name[256];
	if (plen > sizeof name - 32)
		return -1;
	memcpy(name, prefix, plen);
	if (fm_grow_names(m, p, count) != 0)
		return -1;
	for (uint32_t i = 0; i < count; i++) {
		int len;
		do {
			++*seq;
			len = (int)plen + snprintf(name + plen, sizeof name - plen, "%06lld", (long long)*seq);
		} while (fm_dev_by_name(m, p, name, (size_t)len));
		uint32_t d = m->ndev + 1;
		int online = fleet_hash01(m->prods[p].seed, H_ONLINE, d, 0) < share;
		if (fm_add_device(m, p, ver, online, glist, m->now) < 0 || fm_add_name(m, d, name, (size_t)len) != 0)
			return -1;
		if (!online && fm_push(m, m->now + (double)fm_reconnect_delay(m, d), K_ONLINE, d, 0) != 0)
			return -1;
	}
	return first;
}

int fm_set_version(struct fm_model *m, uint32_t d, int32_t ver)
{
	int32_t old = m->d_ver[d];
	if (old == ver)
		return 0;
	struct fm_prod *pr = &m->prods[m->d_prod[d]];
	struct fm_list *l = by_ver(pr, ver);
	if (!l)
		return -1;
	ilist_remove(&pr->by_ver[old], m->d_vpos, d);
	m->d_ver[d] = ver;
	return ilist_add(l, m->d_vpos, d);
}

int fm_add_job(struct fm_model *m)
{
	if (m->njob + 1 >= m->capjob) {
		uint32_t cap = m->capjob ? m->capjob * 2 : 16;
		GROW(m->jobs, cap);
		m->capjob = cap;
	}
	struct fm_job *j = &m->jobs[++m->njob];
	memset(j, 0, sizeof *j);
	j->overwrite = 1;
	j->rate = 10000;
	j->retry_interval = j->retry_count = j->timeout = FM_NIL;
	j->qhead = j->qbase = 1;
	return (int)m->njob;
}

/* Puts `code` at index i of the job's queue (i = qtail + 1 when appending). */
int fm_queue_set(struct fm_job *j, int64_t i, int64_t code)
{
	if (i - j->qbase >= (int64_t)j->qcap) {
		int64_t live = j->qtail - j->qhead + 1;
		if (live < 0)
			live = 0;
		if (j->qhead > j->qbase && live > 0)
			memmove(j->q, j->q + (j->qhead - j->qbase), (size_t)live * sizeof *j->q);
		j->qbase = j->qhead;
		if (i - j->qbase >= (int64_t)j->qcap) {
			uint32_t cap = j->qcap ? j->qcap : 16;
			while ((int64_t)cap <= i - j->qbase)
				cap *= 2;
			GROW(j->q, cap);
			j->qcap = cap;
		}
	}
	j->q[i - j->qbase] = code;
	return 0;
}

/* Tasks --------------------------------------------------------------------------------------- */

static int trace(struct fm_model *m, uint32_t t, int old, int st)
{
	if (m->cb.tracing && m->cb.trace(m->cb.ctx, t, old, st, m->now) != 0) {
		m->err = 1;
		return -1;
	}
	return 0;
}

long fm_new_task(struct fm_model *m, uint32_t job, uint32_t d, int st, int64_t desc)
{
	uint32_t t = m->ntask + 1;
	struct fm_job *j = &m->jobs[job];
	if (fm_grow_tasks(m, t) != 0 || fm_list_add(&j->tasks, t) != 0 || fm_task_of_set(m, job, d, t) != 0
	    || ilist_add(&j->bucket[st], m->t_pos, t) != 0)
		return -1;
	m->ntask = t;
	m->t_job[t] = job;
	m->t_dev[t] = d;
	m->t_status[t] = (uint8_t)st;
	m->t_src[t] = m->d_ver[d];
	m->t_created[t] = m->t_modified[t] = m->now;
	m->t_retries[t] = 0;
	m->t_gen[t] = 0;
	m->t_desc[t] = desc;
	m->t_timeout[t] = j->timeout;
	m->t_started[t] = m->t_astart[t] = NAN;
	m->t_dur[t] = FM_NIL;
	m->t_retry_wait[t] = m->t_inq[t] = 0;
	m->t_stamp[t] = 0;
	m->counts[st]++;
	if (trace(m, t, 0, st) != 0)
		return -1;
	return (long)t;
}

int fm_set_status(struct fm_model *m, uint32_t t, int st, int64_t desc)
{
	struct fm_job *j = &m->jobs[m->t_job[t]];
	int old = m->t_status[t];
	if (old != st) {
		ilist_remove(&j->bucket[old], m->t_pos, t);
		m->counts[old]--;
		m->t_status[t] = (uint8_t)st;
		if (ilist_add(&j->bucket[st], m->t_pos, t) != 0)
			return -1;
		m->counts[st]++;
	}
	m->t_modified[t] = m->now;
	m->t_desc[t] = desc;
	m->t_stamp[t]++;
	return trace(m, t, old, st);
}

void fm_bump(struct fm_model *m, uint32_t t)
{
	m->t_gen[t]++;
	m->t_inq[t] = 0;
	m->t_retry_wait[t] = 0;
}

/* The state machine --------------------------------------------------------------------------- */

#define GEN_OK(m, t, g) (((m)->t_gen[t] & 0xFFF) == (g))
#define DESC(kind, a, b, c) ((int64_t)(kind) | (int64_t)(a) << 8 | (int64_t)(b) << 24 | (int64_t)(c) << 40)

int fm_push(struct fm_model *m, double time, int kind, int64_t id, int64_t gen)
{
	double sec = ceil(time), cur = ceil(m->now);
	if (sec < cur)
		sec = cur;
	if (fleet_queue_push(&m->q, (int64_t)sec, (((id << 12) | (gen & 0xFFF)) << 4) | kind) != 0) {
		m->err = 1;
		return -1;
	}
	return 0;
}

int fm_check_done(struct fm_model *m, uint32_t job)
{
	struct fm_job *j = &m->jobs[job];
	if (j->selection == m->sym_dynamic || j->status != m->sym_in_progress || j->active > 0)
		return 0;
	if (m->cb.complete(m->cb.ctx, job, m->now) != 0) {
		m->err = 1;
		return -1;
	}
	return 0;
}

int fm_unbind(struct fm_model *m, uint32_t t)
{
	uint32_t d = m->t_dev[t];
	if (m->d_task[d] != t)
		return 0;
	m->d_task[d] = 0;
	m->jobs[m->t_job[t]].active--;
	return fm_check_done(m, m->t_job[t]);
}

void fm_bind(struct fm_model *m, uint32_t job, uint32_t d, uint32_t t)
{
	m->d_task[d] = t;
	m->jobs[job].active++;
}

int fm_cancel_task(struct fm_model *m, uint32_t t, int64_t desc)
{
	fm_bump(m, t);
	if (fm_set_status(m, t, FM_CANCELED, desc) != 0)
		return -1;
	return fm_unbind(m, t);
}

int fm_kick(struct fm_model *m, uint32_t job)
{
	struct fm_job *j = &m->jobs[job];
	j->pump_gen = (j->has_pump_gen ? j->pump_gen : 0) + 1;
	j->has_pump_gen = 1;
	j->pump_at = m->now;
	j->has_pump_at = 1;
	return fm_push(m, m->now, K_PUMP, job, j->pump_gen);
}

static int enqueue(struct fm_model *m, uint32_t job, uint32_t t)
{
	if (m->t_inq[t])
		return 0;
	m->t_inq[t] = 1;
	struct fm_job *j = &m->jobs[job];
	if (fm_queue_set(j, j->qtail + 1, ((int64_t)t << 12) | (m->t_gen[t] & 0xFFF)) != 0) {
		m->err = 1;
		return -1;
	}
	j->qtail++;
	if (!j->has_pump_at)
		return fm_kick(m, job);
	return 0;
}

/* The task is QUEUED and its device may take it: pushed through the job's rate window, or, with
 * NeedPush=false, when the device next polls. Offline devices wait for their ONLINE event. */
static int arrive(struct fm_model *m, uint32_t t)
{
	uint32_t d = m->t_dev[t];
	if (!m->d_online[d])
		return 0;
	uint32_t job = m->t_job[t];
	if (m->jobs[job].need_push)
		return enqueue(m, job, t);
	const struct fm_prod *p = &m->prods[m->d_prod[d]];
	double delay = floor(fleet_hash01(p->seed, H_POLL, t, m->t_retries[t]) * (double)p->poll);
	return fm_push(m, m->now + delay, K_POLL, t, m->t_gen[t]);
}

/* Notifications per minute: fixed one-minute windows from the job's start, at most `rate` per
 * window, spread evenly across it. */
static int pump(struct fm_model *m, uint32_t job)
{
	struct fm_job *j = &m->jobs[job];
	double now = m->now;
	j->has_pump_at = 0;
	if (now >= j->wstart + 60) {
		j->wstart = j->wstart + 60 * floor((now - j->wstart) / 60);
		j->wcount = 0;
	}
	int64_t head = j->qhead, tail = j->qtail;
	while (head <= tail && j->wcount < j->rate) {
		int64_t code = j->q[head - j->qbase];
		head++;
		uint32_t t = (uint32_t)(code >> 12);
		int64_t g = code & 0xFFF;
		if (!GEN_OK(m, t, g))
			continue;
		if (m->t_status[t] == FM_QUEUED && m->d_online[m->t_dev[t]]) {
			double at = j->wstart + (double)((j->wcount * 60) / j->rate);
			if (at < now)
				at = now;
			if (fm_push(m, at, K_NOTIFY, t, g) != 0)
				return -1;
			j->wcount++;
		} else {
			m->t_inq[t] = 0;
		}
	}
	j->qhead = head;
	if (head <= tail) {
		j->pump_at = j->wstart + 60;
		j->has_pump_at = 1;
		return fm_push(m, j->pump_at, K_PUMP, job, j->pump_gen);
	}
	return 0;
}

static int on_notify(struct fm_model *m, uint32_t t, int64_t g)
{
	if (m->t_status[t] != FM_QUEUED || !GEN_OK(m, t, g))
		return 0;
	m->t_inq[t] = 0;
	if (fm_set_status(m, t, FM_NOTIFIED, 0) != 0)
		return -1;
	const struct fm_prod *p = &m->prods[m->d_prod[m->t_dev[t]]];
	double delay = 5 + floor(fleet_hash01(p->seed, H_START, t, m->t_retries[t]) * 55);
	return fm_push(m, m->now + delay, K_START, t, g);
}

static int on_start(struct fm_model *m, uint32_t t, int64_t g)
{
	if (m->t_status[t] != FM_NOTIFIED || !GEN_OK(m, t, g))
		return 0;
	uint32_t d = m->t_dev[t];
	if (!m->d_online[d])
		return 0; /* resumed by the device's ONLINE event */
	double now = m->now;
	if (fm_set_status(m, t, FM_IN_PROGRESS, 0) != 0)
		return -1;
	if (isnan(m->t_started[t]))
		m->t_started[t] = now;
	const struct fm_prod *p = &m->prods[m->d_prod[d]];
	int64_t dur = p->dmin + (int64_t)floor(fleet_hash01(p->seed, H_DUR, t, m->t_retries[t]) * (double)(p->dmax - p->dmin + 1));
	m->t_astart[t] = now;
	m->t_dur[t] = (int32_t)dur;
	int32_t timeout = m->t_timeout[t];
	if (timeout != FM_NIL) {
		double deadline = m->t_started[t] + (double)timeout * 60;
		if (now + (double)dur >= deadline)
			return fm_push(m, deadline, K_TIMEOUT, t, g);
	}
	return fm_push(m, now + (double)dur, K_FINISH, t, g);
}

static int on_finish(struct fm_model *m, uint32_t t, int64_t g)
{
	if (m->t_status[t] != FM_IN_PROGRESS || !GEN_OK(m, t, g))
		return 0;
	uint32_t d = m->t_dev[t], job = m->t_job[t];
	const struct fm_prod *p = &m->prods[m->d_prod[d]];
	int32_t attempt = m->t_retries[t], src = m->t_src[t];
	double odds = (uint32_t)src < p->nfail && !isnan(p->fail[src]) ? p->fail[src] : 0;
	if (fleet_hash01(p->seed, H_FAIL, d, (int64_t)job * 64 + attempt) >= odds) {
		if (fm_set_status(m, t, FM_SUCCEEDED, DESC(FM_D_SUCCEEDED, 0, 0, 0)) != 0 || fm_unbind(m, t) != 0
		    || fm_set_version(m, d, m->jobs[job].dest) != 0)
			return -1;
		return fm_report(m, d);
	}
	const struct fm_job *j = &m->jobs[job];
	int32_t count = j->retry_count == FM_NIL ? 0 : j->retry_count;
	if (j->retry_interval != FM_NIL && attempt < count) {
		int32_t interval = j->retry_interval;
		if (fm_set_status(m, t, FM_FAILED, DESC(FM_D_RETRY, attempt + 1, count, interval)) != 0)
			return -1;
		m->t_retry_wait[t] = 1;
		return fm_push(m, m->now + (double)interval * 60, K_RETRY, t, g);
	}
	if (fm_set_status(m, t, FM_FAILED, DESC(FM_D_FAILED, 0, 0, 0)) != 0 || fm_unbind(m, t) != 0)
		return -1;
	return fm_report(m, d);
}

static int on_timeout(struct fm_model *m, uint32_t t, int64_t g)
{
	if (m->t_status[t] != FM_IN_PROGRESS || !GEN_OK(m, t, g))
		return 0;
	if (fm_set_status(m, t, FM_FAILED, DESC(FM_D_TIMEOUT, m->t_timeout[t], 0, 0)) != 0)
		return -1;
	return fm_unbind(m, t);
}

static int on_retry(struct fm_model *m, uint32_t t, int64_t g)
{
	if (m->t_status[t] != FM_FAILED || !m->t_retry_wait[t] || !GEN_OK(m, t, g))
		return 0;
	m->t_retry_wait[t] = 0;
	m->t_retries[t]++;
	if (fm_set_status(m, t, FM_QUEUED, 0) != 0)
		return -1;
	return arrive(m, t);
}

static int on_poll(struct fm_model *m, uint32_t t, int64_t g)
{
	if (m->t_status[t] != FM_QUEUED || !GEN_OK(m, t, g))
		return 0;
	return enqueue(m, m->t_job[t], t);
}

static int on_pump(struct fm_model *m, uint32_t job, int64_t g)
{
	if ((m->jobs[job].pump_gen & 0xFFF) != g)
		return 0;
	return pump(m, job);
}

int fm_run_until(struct fm_model *m, double T)
{
	int64_t sec, code;
	while (!m->err && fleet_queue_pop_due(&m->q, T, &sec, &code)) {
		if ((double)sec > m->now)
			m->now = (double)sec;
		int64_t rest = code >> 4, id = rest >> 12, g = rest & 0xFFF;
		uint32_t x = (uint32_t)id;
		switch (code & 15) {
		case K_NOTIFY: on_notify(m, x, g); break;
		case K_START: on_start(m, x, g); break;
		case K_FINISH: on_finish(m, x, g); break;
		case K_TIMEOUT: on_timeout(m, x, g); break;
		case K_RETRY: on_retry(m, x, g); break;
		case K_POLL: on_poll(m, x, g); break;
		case K_ONLINE: fm_set_online(m, x, 1); break;
		case K_PUMP: on_pump(m, x, g); break;
		default:
			if (m->cb.sched(m->cb.ctx, (int)(code & 15), x, g, m->now) != 0)
				m->err = 1;
		}
		m->events++;
	}
	if (m->err)
		return -1;
	if (T > m->now)
		m->now = T;
	return 0;
}

int fm_set_online(struct fm_model *m, uint32_t d, int online)
{
	if (m->d_online[d] == online)
		return 0;
	m->d_online[d] = (uint8_t)online;
	if (!online)
		return 0;
	m->d_online_at[d] = m->now;
	uint32_t t = m->d_task[d];
	if (t) {
		int st = m->t_status[t];
		if (st == FM_QUEUED && arrive(m, t) != 0)
			return -1;
		if (st == FM_NOTIFIED && fm_push(m, m->now, K_START, t, m->t_gen[t]) != 0)
			return -1;
	}
	return fm_report(m, d);
}

/* Exponential reconnect delay with the product's mean, deterministic per device. */
int64_t fm_reconnect_delay(const struct fm_model *m, uint32_t d)
{
	const struct fm_prod *p = &m->prods[m->d_prod[d]];
	double u = fleet_hash01(p->seed, H_RECONNECT, d, 0);
	return (int64_t)floor(-(double)p->reconnect * log(1 - u)) + 1;
}

static int in_group(const struct fm_model *m, uint32_t d, int32_t g)
{
	uint32_t gl = m->d_glist[d];
	if (!gl)
		return 0;
	const int32_t *list = m->glists[gl];
	for (int32_t i = 1; i <= list[0]; i++)
		if (list[i] == g)
			return 1;
	return 0;
}

int fm_covers(const struct fm_model *m, uint32_t job, uint32_t d, int32_t v)
{
	const struct fm_job *j = &m->jobs[job];
	if (v == j->dest)
		return 0;
	if (j->has_vers) {
		for (uint32_t i = 0; i < j->nvers; i++)
			if (j->vers[i] == v)
				return 1;
		return 0;
	}
	if (j->need_src && v != j->need_src)
		return 0;
	return j->group != 0 && in_group(m, d, j->group);
}

/* The device reports its version: the latest running dynamic job of its product that covers it
 * takes it ("the device performs the latest dynamic update"). */
int fm_report(struct fm_model *m, uint32_t d)
{
	const struct fm_list *dyn = &m->prods[m->d_prod[d]].dyn;
	int32_t v = m->d_ver[d];
	for (uint32_t i = dyn->n; i-- > 0;) {
		uint32_t job = dyn->a[i];
		if (fm_covers(m, job, d, v)) {
			long t;
			if (!fm_task_of(m, job, d))
				return fm_assign(m, job, d, &t);
			return 0;
		}
	}
	return 0;
}

/* Gives device d a task in job, honouring "one pending or updating task per device"
 * (lua/otarun/emulator/sim.lua, Sim:assign). *task: the task or 0. */
int fm_assign(struct fm_model *m, uint32_t job, uint32_t d, long *task)
{
	*task = 0;
	uint32_t cur = m->d_task[d];
	if (cur) {
		uint32_t other = m->t_job[cur];
		if (m->jobs[job].overwrite == 2 && m->t_status[cur] != FM_IN_PROGRESS) {
			if (fm_cancel_task(m, cur, DESC(FM_D_OVERWRITTEN, job, 0, 0)) != 0)
				return -1;
		} else {
			if (m->jobs[job].selection != m->sym_dynamic
			    && fm_new_task(m, job, d, FM_FAILED, DESC(FM_D_BUSY, other, 0, 0)) < 0)
				return -1;
			return 0;
		}
	}
	int st = m->jobs[job].need_confirm ? FM_CONFIRM : FM_QUEUED;
	long t = fm_new_task(m, job, d, st, 0);
	if (t < 0)
		return -1;
	fm_bind(m, job, d, (uint32_t)t);
	*task = t;
	if (st == FM_QUEUED)
		return arrive(m, (uint32_t)t);
	return 0;
}

/* ConfirmOTATask, ReupgradeOTATask: the task (re)enters the queue, or waits for confirmation
 * again. */
int fm_requeue(struct fm_model *m, uint32_t t, int reset, int confirm)
{
	fm_bump(m, t);
	if (reset) {
		m->t_retries[t] = 0;
		m->t_started[t] = NAN;
	}
	if (fm_set_status(m, t, confirm ? FM_CONFIRM : FM_QUEUED, 0) != 0)
		return -1;
	return confirm ? 0 : arrive(m, t);
}

int fm_progress(const struct fm_model *m, uint32_t t)
{
	int st = m->t_status[t];
	if (st == FM_SUCCEEDED)
		return 100;
	if (st != FM_IN_PROGRESS)
		return 0;
	int32_t dur = m->t_dur[t];
	if (dur == FM_NIL || dur <= 0)
		return 0;
	double p = (m->now - m->t_astart[t]) / dur * 100;
	if (p > 99)
		p = 99;
	if (p < 0)
		p = 0;
	return (int)floor(p);
}
