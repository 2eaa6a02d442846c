/* otarun.core.path: what the trust boundary needs to know about a path before reading or writing
 * it (docs/sandbox.md): its kind without following a final symbolic link, and its resolved form,
 * so `require` stays inside the script's directory and `plan --out` never replaces a device. */
#include <errno.h>
#include <limits.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <lauxlib.h>

/* kind(path [, follow]) -> "file"|"directory"|"link"|"other" | nil, message, errno */
static int path_kind(lua_State *L)
{
	const char *path = luaL_checkstring(L, 1);
	int follow = lua_toboolean(L, 2);
	struct stat st;
	if ((follow ? stat(path, &st) : lstat(path, &st)) != 0)
		return luaL_fileresult(L, 0, path);
	const char *kind = S_ISREG(st.st_mode) ? "file" : S_ISDIR(st.st_mode) ? "directory"
	                   : S_ISLNK(st.st_mode) ? "link" : "other";
	lua_pushstring(L, kind);
	lua_pushinteger(L, (lua_Integer)st.st_size);
	return 2;
}

/* resolve(path) -> the absolute path with every symbolic link resolved | nil, message, errno */
static int path_resolve(lua_State *L)
{
	const char *path = luaL_checkstring(L, 1);
	char *r = realpath(path, NULL);
	if (!r)
		return luaL_fileresult(L, 0, path);
	lua_pushstring(L, r);
	free(r);
	return 1;
}

int luaopen_otarun_core_path(lua_State *L)
{
	static const luaL_Reg fns[] = {
		{"kind", path_kind},
		{"resolve", path_resolve},
		{NULL, NULL},
	};
	luaL_newlib(L, fns);
	return 1;
}
