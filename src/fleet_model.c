/* fleet_model: the emulator's fleet columns, entities, lists and device names (see fleet_model.h;
 * the state machine is fleet_sim.c). */
#include "fleet_model.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>


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

#define GROW(p, n)                                                    \
	do {                                                          \
		void *np_ = realloc((p), (size_t)(n) * sizeof *(p));  \
		if (!np_)                                             \
			return -1;                                    \
		(p) = np_;                                            \
	} while (0)

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

/* The slot of `name` (hash h) in the product's index: its own, or the free one it would take.
 * Each slot keeps the name's hash, so a probe reads the names only on a full hash match. */
static uint32_t name_find(const struct fm_model *m, const struct fm_prod *pr, const char *name, size_t len,
                          uint32_t h)
{
	uint32_t mask = pr->nslots - 1;
	for (uint32_t i = h & mask;; i = (i + 1) & mask) {
		const struct fm_name_slot *sl = &pr->name_slots[i];
		if (!sl->d)
			return i;
		if (sl->hash != h)
			continue;
		size_t dl;
		const char *dn = fm_name(m, sl->d, &dl);
		if (dl == len && !memcmp(dn, name, len))
			return i;
	}
}

uint32_t fm_dev_by_name(const struct fm_model *m, uint32_t p, const char *name, size_t len)
{
	const struct fm_prod *pr = &m->prods[p];
	if (!pr->nslots)
		return 0;
	uint32_t h = (uint32_t)name_hash(name, len);
	return pr->name_slots[name_find(m, pr, name, len, h)].d;
}

/* Files device d's name at slot i (free, hash h) of its product's index, which has room. */
static int put_name(struct fm_model *m, uint32_t d, const char *name, size_t len, uint32_t i, uint32_t h)
{
	if (m->nbytes + len > m->capbytes) {
		uint64_t cap = m->capbytes ? m->capbytes : 4096;
		while (cap < m->nbytes + len)
			cap *= 2;
		GROW(m->names, cap);
		m->capbytes = cap;
	}
	memcpy(m->names + m->nbytes, name, len);
	m->d_name[d] = m->nbytes;
	m->nbytes += len;
	m->d_name[d + 1] = m->nbytes;
	struct fm_prod *pr = &m->prods[m->d_prod[d]];
	pr->name_slots[i].d = d;
	pr->name_slots[i].hash = h;
	pr->nnames++;
	return 0;
}

int fm_add_name(struct fm_model *m, uint32_t d, const char *name, size_t len)
{
	if (fm_grow_names(m, m->d_prod[d], 1) != 0)
		return -1;
	uint32_t h = (uint32_t)name_hash(name, len);
	return put_name(m, d, name, len, name_find(m, &m->prods[m->d_prod[d]], name, len, h), h);
}

/* Room in the product's name index for `more` names (at most half full). */
int fm_grow_names(struct fm_model *m, uint32_t p, uint32_t more)
{
	struct fm_prod *pr = &m->prods[p];
	if ((uint64_t)(pr->nnames + more) * 2 <= pr->nslots)
		return 0;
	uint32_t n = pr->nslots ? pr->nslots : 1024;
	while ((uint64_t)(pr->nnames + more) * 2 > n)
		n *= 2;
	struct fm_name_slot *old = pr->name_slots, *sl = calloc(n, sizeof *sl);
	if (!sl)
		return -1;
	for (uint32_t i = 0; i < pr->nslots; i++) {
		if (!old[i].d)
			continue;
		uint32_t j = old[i].hash & (n - 1);
		while (sl[j].d)
			j = (j + 1) & (n - 1);
		sl[j] = old[i];
	}
	free(old);
	pr->name_slots = sl;
	pr->nslots = n;
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
		uint32_t slot, h;
		do {
			++*seq;
			len = (int)plen + snprintf(name + plen, sizeof name - plen, "%06lld", (long long)*seq);
			h = (uint32_t)name_hash(name, (size_t)len);
			slot = name_find(m, &m->prods[p], name, (size_t)len, h);
		} while (m->prods[p].name_slots[slot].d);
		uint32_t d = m->ndev + 1;
		int online = fleet_hash01(m->prods[p].seed, FM_H_ONLINE, d, 0) < share;
		if (fm_add_device(m, p, ver, online, glist, m->now) < 0 || put_name(m, d, name, (size_t)len, slot, h) != 0)
			return -1;
		if (!online && fm_push(m, m->now + (double)fm_reconnect_delay(m, d), FM_K_ONLINE, d, 0) != 0)
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

