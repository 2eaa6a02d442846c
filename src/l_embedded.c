/* otarun.core.embedded: the Lua sources compiled into the binary, listed and read by name (the
 * policy loader reads the built-in policies through it). Uses: embedded.h (generated). */
#include <string.h>
#include <lauxlib.h>
#include "embedded.h"

/* list(prefix) -> array of names starting with prefix */
static int embedded_list(lua_State *L)
{
	size_t plen;
	const char *prefix = luaL_optlstring(L, 1, "", &plen);
	lua_newtable(L);
	lua_Integer n = 0;
	for (const struct embedded_file *f = embedded_files; f->name; f++) {
		if (strncmp(f->name, prefix, plen) == 0) {
			lua_pushstring(L, f->name);
			lua_rawseti(L, -2, ++n);
		}
	}
	return 1;
}

/* read(name) -> source, path | nil */
static int embedded_read(lua_State *L)
{
	const char *name = luaL_checkstring(L, 1);
	for (const struct embedded_file *f = embedded_files; f->name; f++) {
		if (strcmp(f->name, name) == 0) {
			lua_pushlstring(L, f->data, f->len);
			lua_pushstring(L, f->path);
			return 2;
		}
	}
	lua_pushnil(L);
	return 1;
}

int luaopen_otarun_core_embedded(lua_State *L)
{
	static const luaL_Reg fns[] = {{"list", embedded_list}, {"read", embedded_read}, {NULL, NULL}};
	luaL_newlib(L, fns);
	return 1;
}
