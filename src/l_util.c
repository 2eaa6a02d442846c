/* Shared binding helpers (see l_util.h). */
#include <string.h>
#include <lauxlib.h>
#include "l_util.h"
#include "suggest.h"

int lutil_unknown_key(lua_State *L, int idx, const char *where, const char *const *keys, char *msg,
                      size_t len)
{
	idx = lua_absindex(L, idx);
	lua_pushnil(L);
	while (lua_next(L, idx)) {
		lua_pop(L, 1);
		int known = 0;
		if (lua_type(L, -1) == LUA_TSTRING)
			for (const char *const *k = keys; *k && !known; k++)
				known = strcmp(*k, lua_tostring(L, -1)) == 0;
		if (!known) {
			suggest_unknown(msg, len, where, "field", luaL_tolstring(L, -1, NULL), keys);
			lua_pop(L, 2);
			return 1;
		}
	}
	return 0;
}

void lutil_check_keys(lua_State *L, int idx, const char *where, const char *const *keys)
{
	char msg[512];
	if (lutil_unknown_key(L, idx, where, keys, msg, sizeof msg))
		luaL_error(L, "%s", msg);
}

const char *lutil_opt_string(lua_State *L, int idx, const char *key, const char *where)
{
	int t = lua_getfield(L, idx, key);
	const char *s = t == LUA_TSTRING ? lua_tostring(L, -1) : NULL;
	if (t != LUA_TNIL && t != LUA_TSTRING)
		luaL_error(L, "%s.%s: expected a string, got %s", where, key, luaL_typename(L, -1));
	lua_pop(L, 1);
	return s;
}

int lutil_fail(lua_State *L, const char *msg)
{
	luaL_pushfail(L);
	lua_pushstring(L, msg);
	return 2;
}

void lutil_add_header(lua_State *L, const char *name, const char *value, const char *sep)
{
	if (lua_getfield(L, -1, name) == LUA_TSTRING) {
		lua_pushstring(L, sep);
		lua_pushstring(L, value);
		lua_concat(L, 3);
	} else {
		lua_pop(L, 1);
		lua_pushstring(L, value);
	}
	lua_setfield(L, -2, name);
}

void lutil_new_class(lua_State *L, const char *name, const luaL_Reg *meta, const luaL_Reg *methods)
{
	luaL_newmetatable(L, name);
	if (meta)
		luaL_setfuncs(L, meta, 0);
	if (methods) {
		lua_newtable(L);
		luaL_setfuncs(L, methods, 0);
		lua_setfield(L, -2, "__index");
	}
	lua_pop(L, 1);
}

void lutil_set_string(lua_State *L, const char *key, const char *value)
{
	if (value) {
		lua_pushstring(L, value);
		lua_setfield(L, -2, key);
	}
}

void lutil_set_integer(lua_State *L, const char *key, lua_Integer value)
{
	lua_pushinteger(L, value);
	lua_setfield(L, -2, key);
}

void lutil_set_boolean(lua_State *L, const char *key, int value)
{
	lua_pushboolean(L, value);
	lua_setfield(L, -2, key);
}

int lutil_is_list(lua_State *L, int idx, lua_Integer n)
{
	lua_Integer items = 0, entries = 0;
	for (lua_Integer i = 1; i <= n; i++) {
		if (lua_rawgeti(L, idx, i) != LUA_TNIL)
			items++;
		lua_pop(L, 1);
	}
	for (lua_pushnil(L); lua_next(L, idx); lua_pop(L, 1))
		entries++;
	return entries == items;
}
