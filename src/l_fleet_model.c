/* l_fleet_model: the Lua binding of fleet_model.c, module `otarun.core.fleet_model`
 * (docs/emulator-scale.md lists its functions). The model's uservalue is the emulator's store
 * table (lua/otarun/emulator/store.lua): callbacks read `trace`, `_complete` and `_sched` there.
 * Columns are read through column objects (m:column(name, map)) whose __index is C. Only converts
 * arguments and results; the JSON writers of the saved state's columns are in l_fleet_cols.c. */
#include "l_fleet_model.h"

#include <lauxlib.h>
#include <lua.h>
#include <math.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#define MODEL_META "otarun.fleet.model"

struct fm_model *lfm_check(lua_State *L, int i)
{
	return luaL_checkudata(L, i, MODEL_META);
}

/* Callbacks: the model is argument 1 of every method. */
static int call_store(lua_State *L, const char *name, int nargs)
{
	lua_getiuservalue(L, 1, 1);
	lua_getfield(L, -1, name);
	lua_remove(L, -2);
	lua_insert(L, -1 - nargs);
	return lua_pcall(L, nargs, 0, 0) == LUA_OK ? 0 : -1;
}

static int cb_trace(void *ctx, uint32_t t, int old, int st, double now)
{
	lua_State *L = ctx;
	lua_pushinteger(L, t);
	if (old)
		lua_pushinteger(L, old);
	else
		lua_pushnil(L);
	lua_pushinteger(L, st);
	lfm_push_num(L, now);
	return call_store(L, "trace", 4);
}

static int cb_complete(void *ctx, uint32_t job, double now)
{
	lua_State *L = ctx;
	lua_pushinteger(L, job);
	lfm_push_num(L, now);
	return call_store(L, "_complete", 2);
}

static int cb_sched(void *ctx, int kind, uint32_t job, int64_t gen, double now)
{
	lua_State *L = ctx;
	lua_pushinteger(L, kind);
	lua_pushinteger(L, job);
	lua_pushinteger(L, gen);
	lfm_push_num(L, now);
	return call_store(L, "_sched", 4);
}

void lfm_push_num(lua_State *L, double v)
{
	if (v == floor(v) && v >= -9.0e15 && v <= 9.0e15)
		lua_pushinteger(L, (lua_Integer)v);
	else
		lua_pushnumber(L, v);
}

/* The start of a method that may run the state machine: `now` is argument 2. */
struct fm_model *lfm_enter(lua_State *L)
{
	struct fm_model *m = lfm_check(L, 1);
	m->now = luaL_checknumber(L, 2);
	m->cb.ctx = L;
	lua_getiuservalue(L, 1, 1);
	m->cb.tracing = lua_getfield(L, -1, "trace") != LUA_TNIL;
	lua_pop(L, 2);
	return m;
}

/* After such a method: raise what a callback raised, or report memory. */
int lfm_leave(lua_State *L, struct fm_model *m, int rc)
{
	if (!m->err && rc == 0)
		return 0;
	m->err = 0;
	if (lua_gettop(L) > 0 && lua_type(L, -1) == LUA_TSTRING)
		return lua_error(L);
	if (lua_gettop(L) > 0 && lua_type(L, -1) == LUA_TTABLE)
		return lua_error(L);
	return luaL_error(L, "fleet model: out of memory");
}

uint32_t lfm_index(lua_State *L, int i, uint32_t n, const char *what)
{
	lua_Integer v = luaL_checkinteger(L, i);
	if (v < 1 || (lua_Integer)n < v)
		luaL_error(L, "fleet model: no %s %d", what, (int)v);
	return (uint32_t)v;
}


static int l_new(lua_State *L)
{
	lua_Integer dyn = luaL_checkinteger(L, 1), inp = luaL_checkinteger(L, 2);
	luaL_checktype(L, 3, LUA_TTABLE);
	struct fm_model *m = lua_newuserdatauv(L, sizeof *m, 1);
	fm_init(m);
	m->sym_dynamic = (int32_t)dyn;
	m->sym_in_progress = (int32_t)inp;
	m->cb.trace = cb_trace;
	m->cb.complete = cb_complete;
	m->cb.sched = cb_sched;
	luaL_setmetatable(L, MODEL_META);
	lua_pushvalue(L, 3);
	lua_setiuservalue(L, -2, 1);
	return 1;
}

static int m_gc(lua_State *L)
{
	fm_free(lfm_check(L, 1));
	return 0;
}

/* Entities ------------------------------------------------------------------------------------ */

static int m_add_prod(lua_State *L)
{
	if (lfm_check(L, 1)->nprod >= UINT16_MAX) /* d_prod holds 16 bits */
		return luaL_error(L, "the emulator holds at most %d products", (int)UINT16_MAX);
	int p = fm_add_prod(lfm_check(L, 1));
	if (p < 0)
		return luaL_error(L, "fleet model: out of memory");
	lua_pushinteger(L, p);
	return 1;
}

/* m:prod_set(p, seed, dmin, dmax, poll, reconnect, failure = { [sym] = odds }, dyn = { serial... }) */
static int m_prod_set(lua_State *L)
{
	struct fm_model *m = lfm_check(L, 1);
	struct fm_prod *p = &m->prods[PROD(2)];
	p->seed = luaL_checkinteger(L, 3);
	p->dmin = luaL_optinteger(L, 4, 0);
	p->dmax = luaL_optinteger(L, 5, 0);
	p->poll = luaL_optinteger(L, 6, 0);
	p->reconnect = luaL_optinteger(L, 7, 0);
	for (uint32_t i = 0; i < p->nfail; i++)
		p->fail[i] = NAN;
	luaL_checktype(L, 8, LUA_TTABLE);
	lua_pushnil(L);
	while (lua_next(L, 8)) {
		int32_t ver = (int32_t)luaL_checkinteger(L, -2);
		if (fm_prod_fail(m, (uint32_t)(p - m->prods), ver, luaL_checknumber(L, -1)) != 0)
			return luaL_error(L, "fleet model: out of memory");
		lua_pop(L, 1);
	}
	luaL_checktype(L, 9, LUA_TTABLE);
	p->dyn.n = 0;
	for (lua_Integer i = 1, n = (lua_Integer)lua_rawlen(L, 9); i <= n; i++) {
		lua_rawgeti(L, 9, i);
		uint32_t j = lfm_index(L, -1, m->njob, "job");
		lua_pop(L, 1);
		if (fm_list_add(&p->dyn, j) != 0)
			return luaL_error(L, "fleet model: out of memory");
	}
	return 0;
}

static int m_add_glist(lua_State *L)
{
	struct fm_model *m = lfm_check(L, 1);
	luaL_checktype(L, 2, LUA_TTABLE);
	uint32_t n = (uint32_t)lua_rawlen(L, 2);
	int32_t *g = lua_newuserdatauv(L, (n ? n : 1) * sizeof *g, 0);
	for (uint32_t i = 0; i < n; i++) {
		lua_rawgeti(L, 2, i + 1);
		g[i] = (int32_t)luaL_checkinteger(L, -1);
		lua_pop(L, 1);
	}
	int id = fm_add_glist(m, g, n);
	if (id < 0)
		return luaL_error(L, "fleet model: out of memory");
	lua_pushinteger(L, id);
	return 1;
}

/* m:add_device(now, p, ver, online, glist, name) -> d */
static int m_add_device(lua_State *L)
{
	struct fm_model *m = lfm_check(L, 1);
	double now = luaL_checknumber(L, 2);
	uint32_t p = PROD(3);
	size_t len;
	const char *name = luaL_checklstring(L, 7, &len);
	long d = fm_add_device(m, p, (int32_t)luaL_checkinteger(L, 4), lua_toboolean(L, 5),
	                       (uint32_t)luaL_optinteger(L, 6, 0), now);
	if (d < 0 || fm_add_name(m, (uint32_t)d, name, len) != 0)
		return luaL_error(L, "fleet model: out of memory");
	lua_pushinteger(L, d);
	return 1;
}

/* m:add_devices(now, p, ver, glist, count, share, prefix, seq) -> first device, last seq */
static int m_add_devices(lua_State *L)
{
	struct fm_model *m = lfm_enter(L);
	uint32_t p = PROD(3);
	int32_t ver = (int32_t)luaL_checkinteger(L, 4);
	uint32_t glist = (uint32_t)luaL_checkinteger(L, 5);
	lua_Integer count = luaL_checkinteger(L, 6);
	double share = luaL_checknumber(L, 7);
	const char *prefix = luaL_checkstring(L, 8);
	int64_t seq = luaL_checkinteger(L, 9);
	luaL_argcheck(L, count >= 0 && count < UINT32_MAX, 6, "bad count");
	luaL_argcheck(L, strlen(prefix) < 200, 8, "prefix too long");
	long first = fm_add_devices(m, p, ver, glist, (uint32_t)count, share, prefix, &seq);
	lfm_leave(L, m, first < 0);
	lua_pushinteger(L, first);
	lua_pushinteger(L, seq);
	return 2;
}

/* m:dev_by_name(p, name) -> d | nil */
static int m_dev_by_name(lua_State *L)
{
	struct fm_model *m = lfm_check(L, 1);
	uint32_t p = PROD(2);
	if (lua_type(L, 3) != LUA_TSTRING)
		return 0;
	size_t len;
	const char *name = lua_tolstring(L, 3, &len);
	uint32_t d = fm_dev_by_name(m, p, name, len);
	if (!d)
		return 0;
	lua_pushinteger(L, d);
	return 1;
}

static int m_set_version(lua_State *L)
{
	struct fm_model *m = lfm_check(L, 1);
	if (fm_set_version(m, DEV(2), (int32_t)luaL_checkinteger(L, 3)) != 0)
		return luaL_error(L, "fleet model: out of memory");
	return 0;
}

static int m_add_job(lua_State *L)
{
	int j = fm_add_job(lfm_check(L, 1));
	if (j < 0)
		return luaL_error(L, "fleet model: out of memory");
	lua_pushinteger(L, j);
	return 1;
}

/* Job fields: integers (FM_NIL or 0 = nil where noted), numbers, booleans, symbol lists. */
enum { F_SYM, F_INT, F_INTNIL, F_I64, F_NUM, F_BOOL };
static const struct {
	const char *name;
	int kind;
	size_t off;
} JOB_FIELDS[] = {
	{"dest", F_SYM, offsetof(struct fm_job, dest)},
	{"need_src", F_SYM, offsetof(struct fm_job, need_src)},
	{"group", F_SYM, offsetof(struct fm_job, group)},
	{"selection", F_SYM, offsetof(struct fm_job, selection)},
	{"status", F_SYM, offsetof(struct fm_job, status)},
	{"overwrite", F_INTNIL, offsetof(struct fm_job, overwrite)},
	{"rate", F_INTNIL, offsetof(struct fm_job, rate)},
	{"retry_interval", F_INTNIL, offsetof(struct fm_job, retry_interval)},
	{"retry_count", F_INTNIL, offsetof(struct fm_job, retry_count)},
	{"timeout", F_INTNIL, offsetof(struct fm_job, timeout)},
	{"need_push", F_BOOL, offsetof(struct fm_job, need_push)},
	{"need_confirm", F_BOOL, offsetof(struct fm_job, need_confirm)},
	{"gen", F_I64, offsetof(struct fm_job, gen)},
	{"active", F_I64, offsetof(struct fm_job, active)},
	{"wcount", F_I64, offsetof(struct fm_job, wcount)},
	{"qhead", F_I64, offsetof(struct fm_job, qhead)},
	{"qtail", F_I64, offsetof(struct fm_job, qtail)},
	{"wstart", F_NUM, offsetof(struct fm_job, wstart)},
	{"pump_gen", F_I64, offsetof(struct fm_job, pump_gen)},
	{"pump_at", F_NUM, offsetof(struct fm_job, pump_at)},
};
#define NJOB_FIELDS (sizeof JOB_FIELDS / sizeof JOB_FIELDS[0])

static int job_field(lua_State *L, int i)
{
	const char *name = luaL_checkstring(L, i);
	for (size_t k = 0; k < NJOB_FIELDS; k++)
		if (!strcmp(JOB_FIELDS[k].name, name))
			return (int)k;
	return luaL_error(L, "fleet model: no job field %s", name);
}

static uint8_t *has_flag(struct fm_job *j, const char *name)
{
	if (!strcmp(name, "pump_gen"))
		return &j->has_pump_gen;
	if (!strcmp(name, "pump_at"))
		return &j->has_pump_at;
	return NULL;
}

/* m:job_get(serial, field) -> value | nil */
static int m_job_get(lua_State *L)
{
	struct fm_model *m = lfm_check(L, 1);
	struct fm_job *j = &m->jobs[JOB(2)];
	int k = job_field(L, 3);
	char *p = (char *)j + JOB_FIELDS[k].off;
	uint8_t *has = has_flag(j, JOB_FIELDS[k].name);
	if (has && !*has)
		return 0;
	switch (JOB_FIELDS[k].kind) {
	case F_SYM:
		if (!*(int32_t *)p)
			return 0;
		lua_pushinteger(L, *(int32_t *)p);
		break;
	case F_INTNIL:
		if (*(int32_t *)p == FM_NIL)
			return 0;
		lua_pushinteger(L, *(int32_t *)p);
		break;
	case F_I64: lua_pushinteger(L, *(int64_t *)p); break;
	case F_NUM: lfm_push_num(L, *(double *)p); break;
	default: lua_pushboolean(L, *(uint8_t *)p); break;
	}
	return 1;
}

/* m:job_set(serial, field, value|nil) */
static int m_job_set(lua_State *L)
{
	struct fm_model *m = lfm_check(L, 1);
	struct fm_job *j = &m->jobs[JOB(2)];
	int k = job_field(L, 3);
	char *p = (char *)j + JOB_FIELDS[k].off;
	uint8_t *has = has_flag(j, JOB_FIELDS[k].name);
	int isnil = lua_isnoneornil(L, 4);
	if (has)
		*has = !isnil;
	switch (JOB_FIELDS[k].kind) {
	case F_SYM: *(int32_t *)p = isnil ? 0 : (int32_t)luaL_checkinteger(L, 4); break;
	case F_INTNIL: *(int32_t *)p = isnil ? FM_NIL : (int32_t)luaL_checkinteger(L, 4); break;
	case F_I64: *(int64_t *)p = isnil ? 0 : luaL_checkinteger(L, 4); break;
	case F_NUM: *(double *)p = isnil ? 0 : luaL_checknumber(L, 4); break;
	default: *(uint8_t *)p = (uint8_t)lua_toboolean(L, 4); break;
	}
	return 0;
}

/* m:job_versions(serial, { sym... } | nil) */
static int m_job_versions(lua_State *L)
{
	struct fm_model *m = lfm_check(L, 1);
	struct fm_job *j = &m->jobs[JOB(2)];
	j->nvers = 0;
	j->has_vers = !lua_isnoneornil(L, 3);
	if (!j->has_vers)
		return 0;
	luaL_checktype(L, 3, LUA_TTABLE);
	uint32_t n = (uint32_t)lua_rawlen(L, 3);
	int32_t *v = realloc(j->vers, (n ? n : 1) * sizeof *v);
	if (!v)
		return luaL_error(L, "fleet model: out of memory");
	j->vers = v;
	for (uint32_t i = 0; i < n; i++) {
		lua_rawgeti(L, 3, i + 1);
		v[i] = (int32_t)luaL_checkinteger(L, -1);
		lua_pop(L, 1);
	}
	j->nvers = n;
	return 0;
}

/* The lists: (serial, st) a job's bucket (st 1..7) or its tasks (st 0); ("ver", p, sym) a
 * product's devices on a version; ("dev", p) a product's devices. */
struct fm_list *lfm_list_of(lua_State *L, struct fm_model *m, int i)
{
	static struct fm_list empty;
	if (lua_type(L, i) == LUA_TSTRING) {
		const char *what = lua_tostring(L, i);
		struct fm_prod *p = &m->prods[lfm_index(L, i + 1, m->nprod, "product")];
		if (!strcmp(what, "dev"))
			return &p->devices;
		lua_Integer v = luaL_checkinteger(L, i + 2);
		return v >= 0 && (uint32_t)v < p->nby_ver ? &p->by_ver[v] : &empty;
	}
	struct fm_job *j = &m->jobs[lfm_index(L, i, m->njob, "job")];
	lua_Integer st = luaL_checkinteger(L, i + 1);
	luaL_argcheck(L, st >= 0 && st <= FM_NST, i + 1, "expected a task status 0..7");
	return st ? &j->bucket[st] : &j->tasks;
}

static int m_list_len(lua_State *L)
{
	struct fm_model *m = lfm_check(L, 1);
	lua_pushinteger(L, lfm_list_of(L, m, 2)->n);
	return 1;
}

/* m:list_at(i, ...) -> entry i (1-based) | nil */
static int m_list_at(lua_State *L)
{
	struct fm_model *m = lfm_check(L, 1);
	lua_Integer i = luaL_checkinteger(L, 2);
	struct fm_list *l = lfm_list_of(L, m, 3);
	if (i < 1 || i > (lua_Integer)l->n)
		return 0;
	lua_pushinteger(L, l->a[i - 1]);
	return 1;
}

static int m_list(lua_State *L)
{
	struct fm_model *m = lfm_check(L, 1);
	struct fm_list *l = lfm_list_of(L, m, 2);
	lua_createtable(L, (int)l->n, 0);
	for (uint32_t i = 0; i < l->n; i++) {
		lua_pushinteger(L, l->a[i]);
		lua_rawseti(L, -2, i + 1);
	}
	return 1;
}

/* m:list_slice(first, last, ...) -> { entries first..last } of a list (m:list's arguments) */
static int m_list_slice(lua_State *L)
{
	struct fm_model *m = lfm_check(L, 1);
	lua_Integer first = luaL_checkinteger(L, 2), last = luaL_checkinteger(L, 3);
	struct fm_list *l = lfm_list_of(L, m, 4);
	if (first < 1)
		first = 1;
	if (last > (lua_Integer)l->n)
		last = (lua_Integer)l->n;
	lua_createtable(L, last >= first ? (int)(last - first + 1) : 0, 0);
	for (lua_Integer i = first; i <= last; i++) {
		lua_pushinteger(L, l->a[i - 1]);
		lua_rawseti(L, -2, i - first + 1);
	}
	return 1;
}

/* m:job_list_load(serial, st, list): a saved task list or bucket (positions follow). */
static int m_job_list_load(lua_State *L)
{
	struct fm_model *m = lfm_check(L, 1);
	uint32_t job = JOB(2);
	lua_Integer st = luaL_checkinteger(L, 3);
	luaL_argcheck(L, st >= 0 && st <= FM_NST, 3, "expected a task status 0..7");
	luaL_checktype(L, 4, LUA_TTABLE);
	struct fm_list *l = st ? &m->jobs[job].bucket[st] : &m->jobs[job].tasks;
	l->n = 0;
	for (lua_Integer i = 1, n = (lua_Integer)lua_rawlen(L, 4); i <= n; i++) {
		lua_rawgeti(L, 4, i);
		uint32_t t = lfm_index(L, -1, m->ntask, "task");
		lua_pop(L, 1);
		if (fm_list_add(l, t) != 0)
			return luaL_error(L, "fleet model: out of memory");
		if (st) {
			m->t_pos[t] = (uint32_t)i;
		} else if (fm_task_of_set(m, job, m->t_dev[t], t) != 0) {
			return luaL_error(L, "fleet model: out of memory");
		}
	}
	return 0;
}

/* m:task_state(t) -> status, change stamp */
static int m_task_state(lua_State *L)
{
	struct fm_model *m = lfm_check(L, 1);
	uint32_t t = TASK(2);
	lua_pushinteger(L, m->t_status[t]);
	lua_pushinteger(L, m->t_stamp[t]);
	return 2;
}

static int m_task_of(lua_State *L)
{
	struct fm_model *m = lfm_check(L, 1);
	uint32_t job = JOB(2);
	lua_Integer d = luaL_checkinteger(L, 3);
	uint32_t t = d >= 1 && d <= (lua_Integer)m->ndev ? fm_task_of(m, job, (uint32_t)d) : 0;
	if (!t)
		return 0;
	lua_pushinteger(L, t);
	return 1;
}

static int m_counts(lua_State *L)
{
	struct fm_model *m = lfm_check(L, 1);
	if (lua_istable(L, 2)) {
		for (int s = 1; s <= FM_NST; s++) {
			lua_rawgeti(L, 2, s);
			m->counts[s] = luaL_checkinteger(L, -1);
			lua_pop(L, 1);
		}
		return 0;
	}
	lua_createtable(L, FM_NST, 0);
	for (int s = 1; s <= FM_NST; s++) {
		lua_pushinteger(L, m->counts[s]);
		lua_rawseti(L, -2, s);
	}
	return 1;
}

static int m_count(lua_State *L)
{
	struct fm_model *m = lfm_check(L, 1);
	lua_Integer s = luaL_checkinteger(L, 2);
	if (s < 1 || s > FM_NST)
		return 0;
	lua_pushinteger(L, m->counts[s]);
	return 1;
}

/* m:in_group(d, group symbol) -> bool */
static int m_in_group(lua_State *L)
{
	struct fm_model *m = lfm_check(L, 1);
	lua_pushboolean(L, fm_in_group(m, DEV(2), (int32_t)luaL_checkinteger(L, 3)));
	return 1;
}

static int m_online_count(lua_State *L)
{
	struct fm_model *m = lfm_check(L, 1);
	lua_Integer n = 0;
	for (uint32_t d = 1; d <= m->ndev; d++)
		n += m->d_online[d];
	lua_pushinteger(L, n);
	return 1;
}

static int m_sizes(lua_State *L)
{
	struct fm_model *m = lfm_check(L, 1);
	lua_pushinteger(L, m->ndev);
	lua_pushinteger(L, m->ntask);
	return 2;
}

int luaopen_otarun_core_fleet_model(lua_State *L)
{
	static const luaL_Reg methods[] = {
		{"add_prod", m_add_prod}, {"prod_set", m_prod_set}, {"add_glist", m_add_glist},
		{"add_device", m_add_device}, {"add_devices", m_add_devices}, {"dev_by_name", m_dev_by_name},
		{"set_version", m_set_version}, {"add_job", m_add_job}, {"job_get", m_job_get},
		{"job_set", m_job_set}, {"job_versions", m_job_versions}, {"list_len", m_list_len},
		{"list_at", m_list_at}, {"list", m_list}, {"list_slice", m_list_slice},
		{"job_list_load", m_job_list_load},
		{"task_of", m_task_of}, {"task_state", m_task_state}, {"counts", m_counts}, {"count", m_count},
		{"sizes", m_sizes}, {"in_group", m_in_group}, {"online_count", m_online_count}, {NULL, NULL},
	};
	luaL_newmetatable(L, MODEL_META);
	luaL_newlib(L, methods);
	lfm_open_cols(L);
	lfm_open_sim(L);
	lfm_open_json(L);
	lua_setfield(L, -2, "__index");
	lua_pushcfunction(L, m_gc);
	lua_setfield(L, -2, "__gc");
	lua_pop(L, 1);
	lua_newtable(L);
	lua_pushcfunction(L, l_new);
	lua_setfield(L, -2, "new");
	return 1;
}
