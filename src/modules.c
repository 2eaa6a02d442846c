/* The one registry of native modules, installed into package.preload by the host. Each entry is a
 * thin binding (src/l_*.c) over a pure C core, or a library linked in statically (lua-cjson). */
#include <lauxlib.h>
#include "host.h"

int luaopen_cjson(lua_State *L);
int luaopen_otarun_core_sandbox(lua_State *L);
int luaopen_otarun_core_sys(lua_State *L);
int luaopen_otarun_core_embedded(lua_State *L);
int luaopen_otarun_core_httpd(lua_State *L);
int luaopen_otarun_core_sign(lua_State *L);
int luaopen_otarun_core_validate(lua_State *L);
int luaopen_otarun_core_policy(lua_State *L);
int luaopen_otarun_core_http(lua_State *L);
int luaopen_otarun_core_store(lua_State *L);
int luaopen_otarun_core_fleet(lua_State *L);
int luaopen_otarun_core_json(lua_State *L);
int luaopen_otarun_core_fleet_model(lua_State *L);

static const luaL_Reg native_modules[] = {
	{"cjson", luaopen_cjson},
	{"otarun.core.sandbox", luaopen_otarun_core_sandbox},
	{"otarun.core.sys", luaopen_otarun_core_sys},
	{"otarun.core.embedded", luaopen_otarun_core_embedded},
	{"otarun.core.httpd", luaopen_otarun_core_httpd},
	{"otarun.core.sign", luaopen_otarun_core_sign},
	{"otarun.core.validate", luaopen_otarun_core_validate},
	{"otarun.core.policy", luaopen_otarun_core_policy},
	{"otarun.core.http", luaopen_otarun_core_http},
	{"otarun.core.store", luaopen_otarun_core_store},
	{"otarun.core.fleet", luaopen_otarun_core_fleet},
	{"otarun.core.json", luaopen_otarun_core_json},
	{"otarun.core.fleet_model", luaopen_otarun_core_fleet_model},
	{NULL, NULL},
};

void modules_preload(lua_State *L)
{
	luaL_getsubtable(L, LUA_REGISTRYINDEX, LUA_PRELOAD_TABLE);
	for (const luaL_Reg *m = native_modules; m->name; m++) {
		lua_pushcfunction(L, m->func);
		lua_setfield(L, -2, m->name);
	}
	lua_pop(L, 1);
}
