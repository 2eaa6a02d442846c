/*
 * The part of otarun.core.store (src/l_store.c) that moves and describes whole stores
 * (docs/state.md): store.redact(path), store.is_url(path), h:copy_to(other), h:counts() and
 * h:engine(), h:connected(), and the rollout locks: h:rollout_lock(rollout, timeout, command),
 * h:rollout_unlock(rollout), h:rollout_held(rollout), and the shared quota:
 * h:quota_take(account, action, rate, now). l_store.c calls l_store_copy_register.
 */
#include <lauxlib.h>

#include "store.h"

#define STORE_META "otarun.core.store"

struct handle {
	struct store *s;
};

static struct store *check_at(lua_State *L, int idx)
{
	struct handle *h = luaL_checkudata(L, idx, STORE_META);
	if (!h->s)
		luaL_error(L, "state store is closed");
	return h->s;
}

static int fail(lua_State *L, struct store *s, int rc)
{
	lua_pushnil(L);
	lua_pushstring(L, store_errmsg(s));
	lua_pushstring(L, store_rc_name(rc));
	return 3;
}

static void push_counts(lua_State *L, const int64_t *counts)
{
	lua_createtable(L, 0, STORE_COPY_TABLES);
	for (int i = 0; i < STORE_COPY_TABLES; i++) {
		lua_pushinteger(L, (lua_Integer)counts[i]);
		lua_setfield(L, -2, store_copy_table(i));
	}
}

/* h:copy_to(other) -> { table = rows copied } | nil, message, code */
static int l_copy_to(lua_State *L)
{
	struct store *from = check_at(L, 1), *to = check_at(L, 2);
	int64_t counts[STORE_COPY_TABLES] = {0};
	int rc = store_copy(from, to, counts);
	if (rc)
		return fail(L, to, rc);
	push_counts(L, counts);
	return 1;
}

/* h:counts() -> { table = rows } */
static int l_counts(lua_State *L)
{
	struct store *s = check_at(L, 1);
	int64_t counts[STORE_COPY_TABLES] = {0};
	int rc = store_counts(s, counts);
	if (rc)
		return fail(L, s, rc);
	push_counts(L, counts);
	return 1;
}

static int l_engine(lua_State *L)
{
	lua_pushstring(L, store_engine_name(check_at(L, 1)));
	return 1;
}

static int l_connected(lua_State *L)
{
	lua_pushboolean(L, store_session_ok(check_at(L, 1)));
	return 1;
}

static int l_redact(lua_State *L)
{
	char out[2048];
	store_redact(luaL_checkstring(L, 1), out, sizeof out);
	lua_pushstring(L, out);
	return 1;
}

static int l_is_url(lua_State *L)
{
	lua_pushboolean(L, store_is_url(luaL_checkstring(L, 1)));
	return 1;
}

static void push_holder(lua_State *L, const struct store_holder *h)
{
	lua_createtable(L, 0, 6);
	lua_pushstring(L, h->host);
	lua_setfield(L, -2, "host");
	lua_pushinteger(L, h->pid);
	lua_setfield(L, -2, "pid");
	lua_pushinteger(L, h->since);
	lua_setfield(L, -2, "since");
	lua_pushstring(L, h->command);
	lua_setfield(L, -2, "command");
	if (h->alive >= 0) {
		lua_pushboolean(L, h->alive);
		lua_setfield(L, -2, "alive");
	}
}

/* h:rollout_lock(rollout, timeout, command) -> true, takeover|nil | nil, msg, "locked" */
static int l_rollout_lock(lua_State *L)
{
	struct store *s = check_at(L, 1);
	const char *rollout = luaL_checkstring(L, 2);
	lua_Number timeout = luaL_optnumber(L, 3, 0);
	const char *command = luaL_optstring(L, 4, NULL);
	struct store_holder took;
	int rc = store_rollout_lock(s, rollout, (double)timeout, command, &took);
	if (rc == STORE_INVALID)
		return luaL_error(L, "%s", store_errmsg(s));
	if (rc)
		return fail(L, s, rc);
	lua_pushboolean(L, 1);
	if (!took.present)
		return 1;
	push_holder(L, &took);
	return 2;
}

static int l_rollout_unlock(lua_State *L)
{
	struct store *s = check_at(L, 1);
	int rc = store_rollout_unlock(s, luaL_checkstring(L, 2));
	if (rc)
		return fail(L, s, rc);
	lua_pushboolean(L, 1);
	return 1;
}

static int l_rollout_held(lua_State *L)
{
	lua_pushboolean(L, store_rollout_held(check_at(L, 1), luaL_checkstring(L, 2)));
	return 1;
}

/* h:quota_take(account, action, rate, now) -> slot (epoch seconds) | nil, msg, code */
static int l_quota_take(lua_State *L)
{
	struct store *s = check_at(L, 1);
	const char *account = luaL_checkstring(L, 2), *action = luaL_checkstring(L, 3);
	double rate = (double)luaL_checknumber(L, 4), now = (double)luaL_checknumber(L, 5), slot = 0;
	int rc = store_quota_take(s, account, action, rate, now, &slot);
	if (rc == STORE_INVALID)
		return luaL_error(L, "%s", store_errmsg(s));
	if (rc)
		return fail(L, s, rc);
	lua_pushnumber(L, (lua_Number)slot);
	return 1;
}

/* Adds the methods to the table at methods and the functions to the table at fns. */
void l_store_copy_register(lua_State *L, int methods, int fns)
{
	static const luaL_Reg m[] = {
		{"copy_to", l_copy_to},
		{"counts", l_counts},
		{"engine", l_engine},
		{"connected", l_connected},
		{"rollout_lock", l_rollout_lock},
		{"rollout_unlock", l_rollout_unlock},
		{"rollout_held", l_rollout_held},
		{"quota_take", l_quota_take},
		{NULL, NULL},
	};
	static const luaL_Reg f[] = {
		{"redact", l_redact},
		{"is_url", l_is_url},
		{NULL, NULL},
	};
	methods = lua_absindex(L, methods);
	fns = lua_absindex(L, fns);
	lua_pushvalue(L, methods);
	luaL_setfuncs(L, m, 0);
	lua_pop(L, 1);
	lua_pushvalue(L, fns);
	luaL_setfuncs(L, f, 0);
	lua_pop(L, 1);
}
