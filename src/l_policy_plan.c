/* The plan half of otarun.core.policy: converts the plan table (the plan the pipeline builds) into the engine's
 * structs: per rollout name, product and region; per wave status, action, earliest_start and the
 * normalised `spec`. A malformed plan is the caller's mistake and raises, naming the field.
 * Uses: l_policy.h, l_util.h. */
#include <stdio.h>
#include <string.h>
#include <lauxlib.h>
#include "l_policy.h"
#include "l_util.h"
#include "timefmt.h"
#include "tz.h"

/* A window table { days =, from =, to =, tz = } (strings, or the validator's normalised form). */
int lpolicy_window(struct cctx *c, int idx, const char *where, struct policy_window *w)
{
	lua_State *L = c->L;
	char err[200];
	w->days = 0x7f;
	w->from = 0;
	w->to = TIMEFMT_MINUTES_PER_DAY;
	w->tz = 0;
	w->zone[0] = 0;
	if (lua_getfield(L, idx, "days") == LUA_TSTRING) {
		if (policy_parse_days(lua_tostring(L, -1), &w->days, err, sizeof err))
			return lua_pop(L, 1), lpolicy_fail(c, "%s.days: %s", where, err);
	} else if (lua_istable(L, -1)) {
		w->days = 0;
		for (int d = 1; d <= 7; d++) {
			lua_rawgeti(L, -1, d);
			if (lua_toboolean(L, -1))
				w->days |= 1u << (d - 1);
			lua_pop(L, 1);
		}
	}
	lua_pop(L, 1);
	static const char *const ends[] = {"from", "to"};
	for (int i = 0; i < 2; i++) {
		int *dst = i ? &w->to : &w->from;
		int t = lua_getfield(L, idx, ends[i]);
		if (t == LUA_TNUMBER)
			*dst = (int)lua_tointeger(L, -1);
		else if (t == LUA_TSTRING && policy_parse_clock(lua_tostring(L, -1), dst, err, sizeof err))
			return lua_pop(L, 1), lpolicy_fail(c, "%s.%s: %s", where, ends[i], err);
		else if (t != LUA_TNIL && t != LUA_TNUMBER && t != LUA_TSTRING)
			return lua_pop(L, 1), lpolicy_fail(c, "%s.%s: expected a time of day like \"01:00\"", where, ends[i]);
		lua_pop(L, 1);
	}
	int t = lua_getfield(L, idx, "tz");
	if (t == LUA_TNUMBER)
		w->tz = (long)lua_tointeger(L, -1);
	else if (t == LUA_TSTRING && policy_parse_offset(lua_tostring(L, -1), &w->tz, err, sizeof err)) {
		if (tz_check(lua_tostring(L, -1), err, sizeof err) != 0)
			return lua_pop(L, 1), lpolicy_fail(c, "%s.tz: %s", where, err);
		snprintf(w->zone, sizeof w->zone, "%s", lua_tostring(L, -1));
	}
	lua_pop(L, 1);
	return 0;
}

/* ---- the plan ---------------------------------------------------------------------------- */

/* Integer field of the table at idx, -1 when absent; a wrong type is a caller's mistake. */
static long plan_int(lua_State *L, int idx, const char *key, const char *where)
{
	int t = lua_getfield(L, idx, key);
	long v = -1;
	if (t == LUA_TNUMBER)
		v = (long)lua_tonumber(L, -1);
	else if (t != LUA_TNIL)
		luaL_error(L, "%s.%s: expected a number, got %s", where, key, luaL_typename(L, -1));
	lua_pop(L, 1);
	return v;
}

static int plan_enum(lua_State *L, int idx, const char *key, const char *where,
                     int (*lookup)(const char *), int unknown)
{
	const char *s = lutil_opt_string(L, idx, key, where);
	if (!s)
		return unknown;
	int v = lookup(s);
	if (v < 0)
		luaL_error(L, "%s.%s: unknown value \"%s\"", where, key, s);
	return v;
}

static void plan_target(lua_State *L, int spec, struct policy_wave *w)
{
	static const char *const fields[] = {"percent", "all", "devices", "group", "versions"};
	static const enum policy_target targets[] = {POLICY_TARGET_PERCENT, POLICY_TARGET_ALL,
		POLICY_TARGET_DEVICES, POLICY_TARGET_GROUP, POLICY_TARGET_VERSIONS};
	w->target = POLICY_TARGET_NONE;
	for (int i = 0; i < 5 && w->target == POLICY_TARGET_NONE; i++) {
		int t = lua_getfield(L, spec, fields[i]);
		if (t != LUA_TNIL && !(t == LUA_TBOOLEAN && !lua_toboolean(L, -1))) {
			w->target = targets[i];
			if (i == 0)
				w->percent = lua_tonumber(L, -1);
		}
		lua_pop(L, 1);
	}
}

static void plan_gate_window_tags(struct cctx *c, int spec, const char *where, struct policy_wave *w)
{
	lua_State *L = c->L;
	w->soak = -1;
	if (lua_getfield(L, spec, "gate") == LUA_TTABLE) {
		w->has_gate = 1;
		int t = lua_getfield(L, -1, "soak");
		char err[160];
		if (t == LUA_TNUMBER)
			w->soak = (long long)lua_tonumber(L, -1);
		else if (t == LUA_TSTRING && policy_parse_duration(lua_tostring(L, -1), &w->soak, err, sizeof err))
			luaL_error(L, "%s.gate.soak: %s", where, err);
		lua_pop(L, 1);
	}
	lua_pop(L, 1);
	if (lua_getfield(L, spec, "window") == LUA_TTABLE) {
		w->has_window = 1;
		if (lpolicy_window(c, lua_gettop(L), where, &w->window))
			luaL_error(L, "%s", c->err);
	}
	lua_pop(L, 1);
	if (lua_getfield(L, spec, "tags") == LUA_TTABLE) {
		int t = lua_gettop(L);
		size_t n = lua_rawlen(L, t);
		struct policy_tag *tags = lpolicy_anchored(c, n * sizeof *tags);
		for (size_t i = 0; i < n; i++) {
			lua_rawgeti(L, t, (lua_Integer)i + 1);
			tags[i].key = lutil_opt_string(L, -1, "key", where);
			tags[i].value = lutil_opt_string(L, -1, "value", where);
			lua_pop(L, 1);
			if (!tags[i].key || !tags[i].value)
				luaL_error(L, "%s.tags[%d]: expected { key =, value = }", where, (int)i + 1);
		}
		w->tags = tags;
		w->ntags = n;
	}
	lua_pop(L, 1);
}

static void plan_wave(struct cctx *c, int widx, size_t ri, size_t wi, struct policy_wave *w)
{
	lua_State *L = c->L;
	char where[64];
	snprintf(where, sizeof where, "plan.rollouts[%zu].waves[%zu]", ri + 1, wi + 1);
	luaL_checkstack(L, 8, "plan conversion");
	w->name = lutil_opt_string(L, widx, "name", where);
	if (!w->name)
		luaL_error(L, "%s: a wave needs a name", where);
	w->status = (enum policy_status)plan_enum(L, widx, "status", where, policy_status_lookup,
	                                          POLICY_STATUS_UNKNOWN);
	w->action = (enum policy_action)plan_enum(L, widx, "action", where, policy_action_lookup,
	                                          POLICY_ACTION_UNKNOWN);
	if (lua_getfield(L, widx, "earliest_start") == LUA_TNUMBER) {
		w->has_earliest_start = 1;
		w->earliest_start = (long long)lua_tonumber(L, -1);
	}
	lua_pop(L, 1);
	if (lua_getfield(L, widx, "spec") != LUA_TTABLE)
		luaL_error(L, "%s.spec: expected the wave's normalised settings (a table)", where);
	int spec = lua_gettop(L);
	long index = plan_int(L, spec, "index", where);
	w->index = index > 0 ? (int)index : (int)wi + 1;
	const char *kind = lutil_opt_string(L, spec, "kind", where);
	w->is_static = kind && strcmp(kind, "static") == 0;
	plan_target(L, spec, w);
	w->rate = plan_int(L, spec, "rate", where);
	w->timeout = plan_int(L, spec, "timeout", where);
	w->retry_count = plan_int(L, spec, "retry_count", where);
	w->retry_interval = plan_int(L, spec, "retry_interval", where);
	w->protocol = lutil_opt_string(L, spec, "protocol", where);
	lua_getfield(L, spec, "approve");
	w->approve = lua_toboolean(L, -1);
	lua_pop(L, 1);
	plan_gate_window_tags(c, spec, where, w);
	lua_pop(L, 1); /* spec */
}

void lpolicy_plan(struct cctx *c, int pidx, struct policy_plan *plan)
{
	lua_State *L = c->L;
	if (lua_getfield(L, pidx, "rollouts") != LUA_TTABLE)
		luaL_error(L, "plan.rollouts: expected a list of rollouts");
	int rs = lua_gettop(L);
	size_t nr = lua_rawlen(L, rs);
	struct policy_rollout *rollouts = lpolicy_anchored(c, nr * sizeof *rollouts);
	for (size_t i = 0; i < nr; i++) {
		char where[40];
		snprintf(where, sizeof where, "plan.rollouts[%zu]", i + 1);
		if (lua_rawgeti(L, rs, (lua_Integer)i + 1) != LUA_TTABLE)
			luaL_error(L, "%s: expected a rollout table", where);
		int r = lua_gettop(L);
		rollouts[i].name = lutil_opt_string(L, r, "name", where);
		rollouts[i].product = lutil_opt_string(L, r, "product", where);
		rollouts[i].region = lutil_opt_string(L, r, "region", where);
		if (!rollouts[i].name)
			luaL_error(L, "%s: a rollout needs a name", where);
		if (lua_getfield(L, r, "waves") != LUA_TTABLE)
			luaL_error(L, "%s.waves: expected a list of waves", where);
		int ws = lua_gettop(L);
		size_t nw = lua_rawlen(L, ws);
		struct policy_wave *waves = lpolicy_anchored(c, nw * sizeof *waves);
		for (size_t j = 0; j < nw; j++) {
			if (lua_rawgeti(L, ws, (lua_Integer)j + 1) != LUA_TTABLE)
				luaL_error(L, "%s.waves[%zu]: expected a wave table", where, j + 1);
			plan_wave(c, lua_gettop(L), i, j, &waves[j]);
			lua_pop(L, 1);
		}
		rollouts[i].waves = waves;
		rollouts[i].nwaves = nw;
		lua_pop(L, 2);
	}
	plan->rollouts = rollouts;
	plan->nrollouts = nr;
	lua_pop(L, 1);
}

