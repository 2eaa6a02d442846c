/* l_fleet_sim: the state machine's methods of the fleet model binding (l_fleet_model.c; module
 * otarun.core.fleet_model, docs/emulator-scale.md). Argument 2 of each method that may run the
 * machine is the clock (the emulator's sim.now). Only converts arguments and results. */
#include <lauxlib.h>
#include <lua.h>

#include "l_fleet_model.h"

/* Tasks and the state machine (argument 2 is the clock) -------------------------------------- */

static int m_new_task(lua_State *L)
{
	struct fm_model *m = lfm_enter(L);
	long t = fm_new_task(m, JOB(3), DEV(4), (int)luaL_checkinteger(L, 5), luaL_optinteger(L, 6, 0));
	lfm_leave(L, m, t < 0);
	lua_pushinteger(L, t);
	return 1;
}

static int m_set_status(lua_State *L)
{
	struct fm_model *m = lfm_enter(L);
	return lfm_leave(L, m, fm_set_status(m, TASK(3), (int)luaL_checkinteger(L, 4), luaL_optinteger(L, 5, 0)));
}

static int m_bump(lua_State *L)
{
	struct fm_model *m = lfm_check(L, 1);
	fm_bump(m, TASK(2));
	return 0;
}

static int m_push(lua_State *L)
{
	struct fm_model *m = lfm_enter(L);
	double time = luaL_checknumber(L, 3);
	return lfm_leave(L, m, fm_push(m, time, (int)luaL_checkinteger(L, 4), luaL_checkinteger(L, 5),
	                           luaL_optinteger(L, 6, 0)));
}

/* m:run_until(now, T) -> now, events run */
static int m_run_until(lua_State *L)
{
	struct fm_model *m = lfm_enter(L);
	int64_t before = m->events;
	lfm_leave(L, m, fm_run_until(m, luaL_checknumber(L, 3)));
	lfm_push_num(L, m->now);
	lua_pushinteger(L, m->events - before);
	return 2;
}

static int m_assign(lua_State *L)
{
	struct fm_model *m = lfm_enter(L);
	long t;
	lfm_leave(L, m, fm_assign(m, JOB(3), DEV(4), &t));
	if (!t)
		return 0;
	lua_pushinteger(L, t);
	return 1;
}

/* m:assign_many(now, serial, { d... }[, only_uncovered]): assign each in order; with the flag,
 * only devices the job covers and has no task for (a dynamic job's sweep). */
static int m_assign_many(lua_State *L)
{
	struct fm_model *m = lfm_enter(L);
	uint32_t job = JOB(3);
	luaL_checktype(L, 4, LUA_TTABLE);
	int sweep = lua_toboolean(L, 5);
	for (lua_Integer i = 1, n = (lua_Integer)lua_rawlen(L, 4); i <= n; i++) {
		lua_rawgeti(L, 4, i);
		uint32_t d = lfm_index(L, -1, m->ndev, "device");
		lua_pop(L, 1);
		if (sweep && (!fm_covers(m, job, d, m->d_ver[d]) || fm_task_of(m, job, d)))
			continue;
		long t;
		lfm_leave(L, m, fm_assign(m, job, d, &t));
	}
	return 0;
}

static int m_cancel_task(lua_State *L)
{
	struct fm_model *m = lfm_enter(L);
	return lfm_leave(L, m, fm_cancel_task(m, TASK(3), luaL_optinteger(L, 4, 0)));
}

static int m_requeue(lua_State *L)
{
	struct fm_model *m = lfm_enter(L);
	return lfm_leave(L, m, fm_requeue(m, TASK(3), lua_toboolean(L, 4), lua_toboolean(L, 5)));
}

static int m_set_online(lua_State *L)
{
	struct fm_model *m = lfm_enter(L);
	return lfm_leave(L, m, fm_set_online(m, DEV(3), lua_toboolean(L, 4)));
}

static int m_report(lua_State *L)
{
	struct fm_model *m = lfm_enter(L);
	return lfm_leave(L, m, fm_report(m, DEV(3)));
}

static int m_check_done(lua_State *L)
{
	struct fm_model *m = lfm_enter(L);
	return lfm_leave(L, m, fm_check_done(m, JOB(3)));
}

static int m_unbind(lua_State *L)
{
	struct fm_model *m = lfm_enter(L);
	return lfm_leave(L, m, fm_unbind(m, TASK(3)));
}

static int m_kick(lua_State *L)
{
	struct fm_model *m = lfm_enter(L);
	return lfm_leave(L, m, fm_kick(m, JOB(3)));
}

static int m_bind(lua_State *L)
{
	struct fm_model *m = lfm_check(L, 1);
	fm_bind(m, JOB(2), DEV(3), TASK(4));
	return 0;
}

static int m_covers(lua_State *L)
{
	struct fm_model *m = lfm_check(L, 1);
	lua_pushboolean(L, fm_covers(m, JOB(2), DEV(3), (int32_t)luaL_checkinteger(L, 4)));
	return 1;
}

static int m_reconnect_delay(lua_State *L)
{
	struct fm_model *m = lfm_check(L, 1);
	lua_pushinteger(L, fm_reconnect_delay(m, DEV(2)));
	return 1;
}

static int m_progress(lua_State *L)
{
	struct fm_model *m = lfm_enter(L);
	lua_pushinteger(L, fm_progress(m, TASK(3)));
	return 1;
}

/* The event queue ----------------------------------------------------------------------------- */

static int m_q_next(lua_State *L)
{
	int64_t sec;
	if (!fleet_queue_next(&lfm_check(L, 1)->q, &sec))
		return 0;
	lua_pushinteger(L, sec);
	return 1;
}

static int m_q_push(lua_State *L)
{
	struct fm_model *m = lfm_check(L, 1);
	if (fleet_queue_push(&m->q, luaL_checkinteger(L, 2), luaL_checkinteger(L, 3)) != 0)
		return luaL_error(L, "fleet model: out of memory");
	return 0;
}

static int m_q_list(lua_State *L)
{
	return lfleet_push_queue_list(L, &lfm_check(L, 1)->q);
}

void lfm_open_sim(lua_State *L)
{
	static const luaL_Reg methods[] = {
		{"new_task", m_new_task},
		{"set_status", m_set_status},
		{"bump", m_bump},
		{"push", m_push},
		{"run_until", m_run_until},
		{"assign", m_assign},
		{"assign_many", m_assign_many},
		{"cancel_task", m_cancel_task},
		{"requeue", m_requeue},
		{"set_online", m_set_online},
		{"report", m_report},
		{"check_done", m_check_done},
		{"unbind", m_unbind},
		{"kick", m_kick},
		{"bind", m_bind},
		{"covers", m_covers},
		{"reconnect_delay", m_reconnect_delay},
		{"progress", m_progress},
		{"q_next", m_q_next},
		{"q_push", m_q_push},
		{"q_list", m_q_list},
		{NULL, NULL},
	};
	luaL_setfuncs(L, methods, 0);
}
