/* l_fleet: the Lua binding of fleet.c, module `otarun.core.fleet` (docs/emulator-scale.md).
 *
 *   queue() -> q                      an event queue keyed by simulated time (userdata)
 *   q:push(sec, code)                 sec, code integers
 *   q:pop_due(t) -> sec, code | nil   takes the earliest event if it is due at or before t
 *   q:next() -> sec | nil             when the earliest event is due
 *   q:size() -> n
 *   q:list() -> { { sec, { code... } }, ... }   by second, each second's codes in push order
 *   hash01(seed, a[, b[, c]]) -> [0, 1)   as lua/otarun/emulator/ids.lua's, b and c default 0
 *   gray_pick(devices, k, seed, what) -> list   the k devices with the lowest hash, sorted
 *   int_list_json(list) -> "[1,2,3]" | nil   JSON text of a list of integers (nil if any entry is
 *                                     not an integer); state.lua writes its columns with it
 *   ints_in_place(list) -> bool       whole numbers made integers in place; false at a non-whole
 *                                     entry (state.lua then reads the list entry by entry)
 *
 * Only converts arguments and results. */
#include "fleet.h"
#include "l_fleet_model.h"

#include <lauxlib.h>
#include <lua.h>
#include <stdlib.h>

#define QUEUE_META "otarun.fleet.queue"

static struct fleet_queue *check_queue(lua_State *L)
{
	return luaL_checkudata(L, 1, QUEUE_META);
}

static int l_queue(lua_State *L)
{
	struct fleet_queue *q = lua_newuserdatauv(L, sizeof *q, 0);
	fleet_queue_init(q);
	luaL_setmetatable(L, QUEUE_META);
	return 1;
}

static int q_gc(lua_State *L)
{
	fleet_queue_free(check_queue(L));
	return 0;
}

static int q_push(lua_State *L)
{
	struct fleet_queue *q = check_queue(L);
	lua_Integer sec = luaL_checkinteger(L, 2), code = luaL_checkinteger(L, 3);
	if (fleet_queue_push(q, sec, code) != 0)
		return luaL_error(L, "fleet queue: out of memory");
	return 0;
}

static int q_pop_due(lua_State *L)
{
	struct fleet_queue *q = check_queue(L);
	int64_t sec, code;
	if (!fleet_queue_pop_due(q, luaL_checknumber(L, 2), &sec, &code))
		return 0;
	lua_pushinteger(L, sec);
	lua_pushinteger(L, code);
	return 2;
}

static int q_next(lua_State *L)
{
	int64_t sec;
	if (!fleet_queue_next(check_queue(L), &sec))
		return 0;
	lua_pushinteger(L, sec);
	return 1;
}

static int q_size(lua_State *L)
{
	lua_pushinteger(L, (lua_Integer)check_queue(L)->n);
	return 1;
}

/* Pushes a queue's events as { { sec, { code... } }, ... }, by second, each second's codes in
 * push order (also the fleet model's queue, l_fleet_sim.c). */
int lfleet_push_queue_list(lua_State *L, struct fleet_queue *q)
{
	struct fleet_event *all = lua_newuserdatauv(L, (q->n ? q->n : 1) * sizeof *all, 0);
	if (fleet_queue_sorted(q, all) != 0)
		return luaL_error(L, "fleet queue: out of memory");
	lua_createtable(L, 0, 0);
	lua_Integer nsec = 0, ncode = 0;
	for (size_t i = 0; i < q->n; i++) {
		if (i == 0 || all[i].sec != all[i - 1].sec) {
			if (i > 0)
				lua_rawseti(L, -2, 2), lua_rawseti(L, -2, ++nsec);
			lua_createtable(L, 2, 0);
			lua_pushinteger(L, all[i].sec);
			lua_rawseti(L, -2, 1);
			lua_createtable(L, 0, 0);
			ncode = 0;
		}
		lua_pushinteger(L, all[i].code);
		lua_rawseti(L, -2, ++ncode);
	}
	if (q->n) {
		lua_rawseti(L, -2, 2);
		lua_rawseti(L, -2, ++nsec);
	}
	return 1;
}

static int q_list(lua_State *L)
{
	return lfleet_push_queue_list(L, check_queue(L));
}

static int l_hash01(lua_State *L)
{
	lua_pushnumber(L, fleet_hash01(luaL_checkinteger(L, 1), luaL_checkinteger(L, 2),
	                               luaL_optinteger(L, 3, 0), luaL_optinteger(L, 4, 0)));
	return 1;
}

static int l_gray_pick(lua_State *L)
{
	luaL_checktype(L, 1, LUA_TTABLE);
	lua_Integer k = luaL_checkinteger(L, 2), seed = luaL_checkinteger(L, 3);
	lua_Integer what = luaL_checkinteger(L, 4);
	luaL_argcheck(L, k >= 0, 2, "expected a count >= 0");
	size_t n = (size_t)lua_rawlen(L, 1);
	int64_t *d = lua_newuserdatauv(L, (n ? n : 1) * sizeof *d, 0);
	for (size_t i = 0; i < n; i++) {
		lua_rawgeti(L, 1, (lua_Integer)i + 1);
		int ok;
		d[i] = lua_tointegerx(L, -1, &ok);
		if (!ok)
			return luaL_error(L, "gray_pick: device %d is not an integer", (int)i + 1);
		lua_pop(L, 1);
	}
	long kept = fleet_gray_pick(d, n, (size_t)k, seed, what);
	if (kept < 0)
		return luaL_error(L, "gray_pick: out of memory");
	lua_createtable(L, (int)kept, 0);
	for (long i = 0; i < kept; i++) {
		lua_pushinteger(L, d[i]);
		lua_rawseti(L, -2, i + 1);
	}
	return 1;
}

static int l_int_list_json(lua_State *L)
{
	luaL_checktype(L, 1, LUA_TTABLE);
	lua_Integer n = (lua_Integer)lua_rawlen(L, 1);
	luaL_Buffer b;
	luaL_buffinit(L, &b);
	luaL_addchar(&b, '[');
	for (lua_Integer i = 1; i <= n; i++) {
		lua_rawgeti(L, 1, i);
		if (!lua_isinteger(L, -1))
			return 0; /* the buffer's stack slots go with the call */
		lua_Integer v = lua_tointeger(L, -1);
		lua_pop(L, 1);
		char digits[24], *p = digits + sizeof digits;
		uint64_t u = v < 0 ? 0 - (uint64_t)v : (uint64_t)v;
		do
			*--p = (char)('0' + u % 10);
		while (u /= 10);
		if (v < 0)
			*--p = '-';
		if (i > 1)
			luaL_addchar(&b, ',');
		luaL_addlstring(&b, p, (size_t)(digits + sizeof digits - p));
	}
	luaL_addchar(&b, ']');
	luaL_pushresult(&b);
	return 1;
}

/* ints_in_place(list) -> true, every entry now an integer; false (the list unchanged past the
 * first odd entry) when an entry is not a whole number */
static int l_ints_in_place(lua_State *L)
{
	luaL_checktype(L, 1, LUA_TTABLE);
	lua_Integer n = (lua_Integer)lua_rawlen(L, 1);
	for (lua_Integer i = 1; i <= n; i++) {
		int t = lua_rawgeti(L, 1, i), ok = 0;
		lua_Integer v = t == LUA_TNUMBER ? lua_tointegerx(L, -1, &ok) : 0;
		int was_int = lua_isinteger(L, -1);
		lua_pop(L, 1);
		if (!ok) {
			lua_pushboolean(L, 0);
			return 1;
		}
		if (!was_int) {
			lua_pushinteger(L, v);
			lua_rawseti(L, 1, i);
		}
	}
	lua_pushboolean(L, 1);
	return 1;
}

int luaopen_otarun_core_fleet(lua_State *L)
{
	static const luaL_Reg queue_methods[] = {
		{"push", q_push}, {"pop_due", q_pop_due}, {"next", q_next},
		{"size", q_size}, {"list", q_list},       {NULL, NULL},
	};
	static const luaL_Reg funcs[] = {
		{"queue", l_queue}, {"hash01", l_hash01}, {"gray_pick", l_gray_pick},
		{"int_list_json", l_int_list_json}, {"ints_in_place", l_ints_in_place}, {NULL, NULL},
	};
	luaL_newmetatable(L, QUEUE_META);
	luaL_newlib(L, queue_methods);
	lua_setfield(L, -2, "__index");
	lua_pushcfunction(L, q_gc);
	lua_setfield(L, -2, "__gc");
	lua_pop(L, 1);
	luaL_newlib(L, funcs);
	return 1;
}
