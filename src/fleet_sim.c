/* fleet_sim: the state machine of the emulator's fleet model (see fleet_model.h). Each handler is
 * the one lua/otarun/emulator/sim.lua had (spec/emulator/reference/sim.lua keeps it in Lua), step
 * for step: spec/emulator/model_equiv_spec.lua compares the two. */
#include "fleet_model.h"

#include <math.h>

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
	return fm_push(m, m->now, FM_K_PUMP, job, j->pump_gen);
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
	double delay = floor(fleet_hash01(p->seed, FM_H_POLL, t, m->t_retries[t]) * (double)p->poll);
	return fm_push(m, m->now + delay, FM_K_POLL, t, m->t_gen[t]);
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
			if (fm_push(m, at, FM_K_NOTIFY, t, g) != 0)
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
		return fm_push(m, j->pump_at, FM_K_PUMP, job, j->pump_gen);
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
	double delay = 5 + floor(fleet_hash01(p->seed, FM_H_START, t, m->t_retries[t]) * 55);
	return fm_push(m, m->now + delay, FM_K_START, t, g);
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
	double u = fleet_hash01(p->seed, FM_H_DUR, t, m->t_retries[t]);
	int64_t dur = p->dmin + (int64_t)floor(u * (double)(p->dmax - p->dmin + 1));
	m->t_astart[t] = now;
	m->t_dur[t] = (int32_t)dur;
	int32_t timeout = m->t_timeout[t];
	if (timeout != FM_NIL) {
		double deadline = m->t_started[t] + (double)timeout * 60;
		if (now + (double)dur >= deadline)
			return fm_push(m, deadline, FM_K_TIMEOUT, t, g);
	}
	return fm_push(m, now + (double)dur, FM_K_FINISH, t, g);
}

static int on_finish(struct fm_model *m, uint32_t t, int64_t g)
{
	if (m->t_status[t] != FM_IN_PROGRESS || !GEN_OK(m, t, g))
		return 0;
	uint32_t d = m->t_dev[t], job = m->t_job[t];
	const struct fm_prod *p = &m->prods[m->d_prod[d]];
	int32_t attempt = m->t_retries[t], src = m->t_src[t];
	double odds = (uint32_t)src < p->nfail && !isnan(p->fail[src]) ? p->fail[src] : 0;
	if (fleet_hash01(p->seed, FM_H_FAIL, d, (int64_t)job * 64 + attempt) >= odds) {
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
		return fm_push(m, m->now + (double)interval * 60, FM_K_RETRY, t, g);
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
		case FM_K_NOTIFY: on_notify(m, x, g); break;
		case FM_K_START: on_start(m, x, g); break;
		case FM_K_FINISH: on_finish(m, x, g); break;
		case FM_K_TIMEOUT: on_timeout(m, x, g); break;
		case FM_K_RETRY: on_retry(m, x, g); break;
		case FM_K_POLL: on_poll(m, x, g); break;
		case FM_K_ONLINE: fm_set_online(m, x, 1); break;
		case FM_K_PUMP: on_pump(m, x, g); break;
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
		if (st == FM_NOTIFIED && fm_push(m, m->now, FM_K_START, t, m->t_gen[t]) != 0)
			return -1;
	}
	return fm_report(m, d);
}

/* Exponential reconnect delay with the product's mean, deterministic per device. */
int64_t fm_reconnect_delay(const struct fm_model *m, uint32_t d)
{
	const struct fm_prod *p = &m->prods[m->d_prod[d]];
	double u = fleet_hash01(p->seed, FM_H_RECONNECT, d, 0);
	return (int64_t)floor(-(double)p->reconnect * log(1 - u)) + 1;
}

int fm_in_group(const struct fm_model *m, uint32_t d, int32_t g)
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
	return j->group != 0 && fm_in_group(m, d, j->group);
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
