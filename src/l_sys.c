/* otarun.core.sys: the binding of the OS-services core (sys.c) plus the few process facts the Lua
 * half needs and standard Lua lacks: terminals, clocks, sleeping, process identity, signals,
 * directories, atomic file replacement. Converts only; docs/architecture-c.md lists the cores. */
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>
#include <lauxlib.h>
#include "l_util.h"
#include "sys.h"

static int sys_l_isatty(lua_State *L)
{
	int fd = (int)luaL_checkinteger(L, 1);
	lua_pushboolean(L, isatty(fd));
	return 1;
}

/* now() -> seconds since the epoch, with fractions */
static int sys_l_now(lua_State *L)
{
	lua_pushnumber(L, (lua_Number)sys_now());
	return 1;
}

static int sys_l_monotonic(lua_State *L)
{
	lua_pushnumber(L, (lua_Number)sys_monotonic());
	return 1;
}

static int sys_l_sleep(lua_State *L)
{
	lua_Number s = luaL_checknumber(L, 1);
	luaL_argcheck(L, s >= 0, 1, "must not be negative");
	sys_sleep((double)s);
	return 0;
}

/* catch_signals(enable): SIGINT/SIGTERM set a flag instead of ending the process, so
 * `otarun run` can finish its tick; signalled() -> "SIGINT"|"SIGTERM"|"signal"|nil. */
static int sys_l_catch_signals(lua_State *L)
{
	sys_catch_signals(lua_toboolean(L, 1));
	return 0;
}

static int sys_l_signalled(lua_State *L)
{
	const char *name = sys_signal_name(sys_caught_signal());
	if (!name)
		return 0;
	lua_pushstring(L, name);
	return 1;
}

static int sys_l_getpid(lua_State *L)
{
	lua_pushinteger(L, (lua_Integer)getpid());
	return 1;
}

static int sys_l_hostname(lua_State *L)
{
	char name[256];
	if (gethostname(name, sizeof name) != 0)
		return luaL_fileresult(L, 0, "gethostname");
	name[sizeof name - 1] = '\0';
	lua_pushstring(L, name);
	return 1;
}

/* true, or nil and the message */
static int sys_l_result(lua_State *L, enum sys_rc rc, const char *err)
{
	if (rc == SYS_OK) {
		lua_pushboolean(L, 1);
		return 1;
	}
	return lutil_fail(L, err);
}

/* user() -> the name of the process's user in the password database, or its uid as text. */
static int sys_l_user(lua_State *L)
{
	char name[256];
	lua_pushstring(L, sys_user(name, sizeof name));
	return 1;
}

/* kind(path [, follow]) -> "file"|"directory"|"link"|"other", size | nil, message, errno: what the
 * trust boundary needs to know before reading or writing a path (docs/sandbox.md). */
static int sys_l_kind(lua_State *L)
{
	const char *path = luaL_checkstring(L, 1);
	enum sys_kind kind;
	long long size;
	if (sys_path_kind(path, lua_toboolean(L, 2), &kind, &size) != 0)
		return luaL_fileresult(L, 0, path);
	lua_pushstring(L, sys_kind_name(kind));
	lua_pushinteger(L, (lua_Integer)size);
	return 2;
}

/* resolve(path) -> the absolute path with every symbolic link resolved | nil, message, errno */
static int sys_l_resolve(lua_State *L)
{
	const char *path = luaL_checkstring(L, 1);
	char *r = sys_resolve(path);
	if (!r)
		return luaL_fileresult(L, 0, path);
	lua_pushstring(L, r);
	free(r);
	return 1;
}

/* write_atomic(path, data) -> true | nil, msg: a reader sees the old file or the new, never half. */
static int sys_l_write_atomic(lua_State *L)
{
	const char *path = luaL_checkstring(L, 1);
	size_t len;
	const char *data = luaL_checklstring(L, 2, &len);
	char err[512];
	return sys_l_result(L, sys_write_atomic(path, data, len, err, sizeof err), err);
}

/* mkdirs(dir) -> true | nil, msg (like mkdir -p) */
static int sys_l_mkdirs(lua_State *L)
{
	const char *dir = luaL_checkstring(L, 1);
	char err[1024];
	return sys_l_result(L, sys_mkdirs(dir, err, sizeof err), err);
}

#define NAMES_MT "otarun.sys.names"

static int names_gc(lua_State *L)
{
	sys_names_free(luaL_checkudata(L, 1, NAMES_MT));
	return 0;
}

/* list_files(dir, suffix) -> sorted names of the regular, not hidden files in dir ending in
 * suffix | nil, message, "missing"|"error". The policy loader lists its directories with it. */
static int sys_l_list_files(lua_State *L)
{
	const char *dir = luaL_checkstring(L, 1);
	const char *suffix = luaL_checkstring(L, 2);
	struct sys_names *names = lua_newuserdatauv(L, sizeof *names, 0); /* freed by __gc */
	names->names = NULL;
	names->n = 0;
	luaL_setmetatable(L, NAMES_MT);
	char err[1024];
	enum sys_rc rc = sys_list_files(dir, suffix, names, err, sizeof err);
	if (rc != SYS_OK) {
		luaL_pushfail(L);
		lua_pushstring(L, err);
		lua_pushstring(L, rc == SYS_MISSING ? "missing" : "error");
		return 3;
	}
	lua_createtable(L, (int)names->n, 0);
	for (size_t i = 0; i < names->n; i++) {
		lua_pushstring(L, names->names[i]);
		lua_rawseti(L, -2, (lua_Integer)i + 1);
	}
	sys_names_free(names);
	return 1;
}

int luaopen_otarun_core_sys(lua_State *L)
{
	static const luaL_Reg fns[] = {
		{"isatty", sys_l_isatty},       {"now", sys_l_now},
		{"monotonic", sys_l_monotonic}, {"sleep", sys_l_sleep},
		{"getpid", sys_l_getpid},       {"hostname", sys_l_hostname}, {"user", sys_l_user},
		{"write_atomic", sys_l_write_atomic}, {"mkdirs", sys_l_mkdirs},
		{"list_files", sys_l_list_files}, {"kind", sys_l_kind}, {"resolve", sys_l_resolve},
		{"catch_signals", sys_l_catch_signals}, {"signalled", sys_l_signalled},
		{NULL, NULL},
	};
	static const luaL_Reg names_meta[] = {{"__gc", names_gc}, {NULL, NULL}};
	lutil_new_class(L, NAMES_MT, names_meta, NULL);
	luaL_newlib(L, fns);
	lua_pushstring(L, OTARUN_VERSION);
	lua_setfield(L, -2, "version");
	return 1;
}
