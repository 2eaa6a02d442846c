/* fleet_model: the emulator's simulated fleet as struct-of-arrays, and its state machine, in C
 * (docs/emulator-scale.md). Device and task columns are typed arrays indexed by device or task
 * number (1-based, entry 0 unused); each job keeps its task list, one swap-remove bucket per task
 * status and a device -> task map. The handlers (notify, start, finish, timeout, retry, poll,
 * online, the rate-window pump, dynamic matching, assignment) run here on the event queue of
 * fleet.c. Strings (versions, group ids, job statuses) are small integers ("symbols") interned
 * by the Lua side (lua/otarun/emulator/store.lua); what only Lua can do (a status change trace, a
 * job's completion, a schedule's start and end) goes through the callbacks in `cb`.
 *
 * Pure C: no Lua here; the binding is l_fleet_model.c (module otarun.core.fleet_model). */
#ifndef OTARUN_FLEET_MODEL_H
#define OTARUN_FLEET_MODEL_H
#include <stddef.h>
#include <stdint.h>

#include "fleet.h"

#define FM_NIL INT32_MIN /* an absent integer in an int32 column */
#define FM_NST 7

/* event kinds (lua/otarun/emulator/sim.lua packs them) and what a hash draw is for */
enum { FM_K_NOTIFY = 1, FM_K_START, FM_K_FINISH, FM_K_TIMEOUT, FM_K_RETRY, FM_K_POLL, FM_K_ONLINE, FM_K_PUMP,
       FM_K_SCHED_START, FM_K_SCHED_END };
enum { FM_H_ONLINE = 1, FM_H_FAIL, FM_H_DUR, FM_H_START, FM_H_POLL, FM_H_RECONNECT, FM_H_GRAY };

enum { FM_CONFIRM = 1, FM_QUEUED, FM_NOTIFIED, FM_IN_PROGRESS, FM_SUCCEEDED, FM_FAILED, FM_CANCELED };

/* Task descriptions are packed: kind | a << 8 | b << 24 | c << 40 (lua/otarun/emulator/store.lua
 * turns them into text). */
enum { FM_D_NONE, FM_D_SUCCEEDED, FM_D_FAILED, FM_D_RETRY, FM_D_TIMEOUT, FM_D_OVERWRITTEN, FM_D_BUSY, FM_D_TEXT };

struct fm_list {
	uint32_t *a;
	uint32_t n, cap;
};

struct fm_map { /* open addressing, key 0 = empty */
	uint32_t *k, *v;
	uint32_t n, cap;
};

struct fm_job {
	/* what the job was made with (lua/otarun/emulator/ops_jobs.lua), kept here */
	int32_t dest, need_src, group, selection, status; /* symbols, 0 = none */
	int32_t *vers; /* source versions (symbols), when has_vers */
	uint32_t nvers;
	uint8_t has_vers, need_push, need_confirm, has_pump_at, has_pump_gen;
	int32_t overwrite, rate, retry_interval, retry_count, timeout; /* FM_NIL = none */
	int64_t gen, active, wcount, qhead, qtail, pump_gen;
	double wstart, pump_at;
	int64_t *q; /* the rate window's queue: entries qhead..qtail at q[i - qbase] */
	int64_t qbase;
	uint32_t qcap;
	struct fm_list tasks, bucket[FM_NST + 1];
	struct fm_map task_of;
};

struct fm_name_slot {
	uint32_t d, hash; /* device number (0 = free) and its name's hash */
};

struct fm_prod {
	int64_t seed, dmin, dmax, poll, reconnect;
	double *fail; /* by version symbol; NaN = not given (0) */
	uint32_t nfail;
	struct fm_list dyn, devices;
	struct fm_list *by_ver; /* by version symbol */
	uint32_t nby_ver;
	struct fm_name_slot *name_slots; /* device names: open addressing by name */
	uint32_t nslots, nnames;
};

struct fm_callbacks {
	void *ctx;
	/* status change (old 0 for a new task); 0 or -1 (an error, reported by the caller) */
	int (*trace)(void *ctx, uint32_t t, int old, int st, double now);
	/* a static job ran out of active tasks while IN_PROGRESS */
	int (*complete)(void *ctx, uint32_t job, double now);
	/* a scheduled start or end (kind 9 or 10) is due */
	int (*sched)(void *ctx, int kind, uint32_t job, int64_t gen, double now);
	int tracing;
};

struct fm_model {
	double now;
	int32_t sym_dynamic, sym_in_progress;
	struct fleet_queue q;
	int64_t events;
	/* devices */
	uint32_t ndev, capdev;
	uint16_t *d_prod;
	int32_t *d_ver;
	uint8_t *d_online;
	uint32_t *d_task, *d_glist, *d_vpos;
	double *d_created, *d_online_at;
	/* device names: one arena, device d's name at names[d_name[d] .. d_name[d + 1]) */
	char *names;
	uint64_t nbytes, capbytes;
	uint64_t *d_name;
	/* tasks */
	uint32_t ntask, captask;
	uint32_t *t_job, *t_dev, *t_pos, *t_stamp;
	uint8_t *t_status, *t_retry_wait, *t_inq;
	int32_t *t_src, *t_retries, *t_dur, *t_timeout;
	int64_t *t_gen, *t_desc;
	double *t_created, *t_modified, *t_started, *t_astart;
	/* counts of tasks by status */
	int64_t counts[FM_NST + 1];
	struct fm_job *jobs; /* 1-based */
	uint32_t njob, capjob;
	struct fm_prod *prods; /* 1-based */
	uint32_t nprod;
	int32_t **glists; /* group lists: glists[g][0] = count, then group symbols */
	uint32_t nglist;
	struct fm_callbacks cb;
	int err; /* set when a callback failed or memory ran out; the run stops */
};

void fm_init(struct fm_model *m);
void fm_free(struct fm_model *m);
int fm_list_add(struct fm_list *l, uint32_t x);

/* Entities; -1 when out of memory. */
int fm_add_prod(struct fm_model *m);
int fm_prod_fail(struct fm_model *m, uint32_t p, int32_t ver, double odds);
int fm_add_glist(struct fm_model *m, const int32_t *groups, uint32_t n);
long fm_add_device(struct fm_model *m, uint32_t p, int32_t ver, int online, uint32_t glist, double now);
/* The name of the device just added (its last one); -1 when out of memory. */
int fm_add_name(struct fm_model *m, uint32_t d, const char *name, size_t len);
/* The product's device of that name, or 0. */
int fm_grow_names(struct fm_model *m, uint32_t p, uint32_t more);
uint32_t fm_dev_by_name(const struct fm_model *m, uint32_t p, const char *name, size_t len);
const char *fm_name(const struct fm_model *m, uint32_t d, size_t *len);
/* count devices named prefix + %06d of a rising sequence (names already taken skipped), online
 * with the odds `share` by the stateless hash, offline ones scheduled to come online; *seq is the
 * sequence's last number. The first device, or -1 when out of memory. */
long fm_add_devices(struct fm_model *m, uint32_t p, int32_t ver, uint32_t glist, uint32_t count, double share,
                    const char *prefix, int64_t *seq);
int fm_set_version(struct fm_model *m, uint32_t d, int32_t ver);
int fm_add_job(struct fm_model *m);
uint32_t fm_task_of(const struct fm_model *m, uint32_t job, uint32_t d);
int fm_task_of_set(struct fm_model *m, uint32_t job, uint32_t d, uint32_t t);
int fm_queue_set(struct fm_job *j, int64_t i, int64_t code);

/* Tasks */
long fm_new_task(struct fm_model *m, uint32_t job, uint32_t d, int st, int64_t desc);
int fm_set_status(struct fm_model *m, uint32_t t, int st, int64_t desc);
void fm_bump(struct fm_model *m, uint32_t t);
int fm_grow_tasks(struct fm_model *m, uint32_t n);
int fm_grow_devices(struct fm_model *m, uint32_t n);

/* The state machine (fleet_sim.c; lua/otarun/emulator/sim.lua's interface); `m->now` is the clock. */
int fm_push(struct fm_model *m, double time, int kind, int64_t id, int64_t gen);
int fm_run_until(struct fm_model *m, double T);
int fm_assign(struct fm_model *m, uint32_t job, uint32_t d, long *task);
int fm_cancel_task(struct fm_model *m, uint32_t t, int64_t desc);
int fm_requeue(struct fm_model *m, uint32_t t, int reset, int confirm);
int fm_set_online(struct fm_model *m, uint32_t d, int online);
int fm_report(struct fm_model *m, uint32_t d);
int fm_in_group(const struct fm_model *m, uint32_t d, int32_t g);
int fm_covers(const struct fm_model *m, uint32_t job, uint32_t d, int32_t v);
int fm_check_done(struct fm_model *m, uint32_t job);
void fm_bind(struct fm_model *m, uint32_t job, uint32_t d, uint32_t t);
int fm_unbind(struct fm_model *m, uint32_t t);
int fm_kick(struct fm_model *m, uint32_t job);
int64_t fm_reconnect_delay(const struct fm_model *m, uint32_t d);
int fm_progress(const struct fm_model *m, uint32_t t);

#endif
