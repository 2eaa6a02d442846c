/* otarun.core.sys: the few operating-system facts the Lua half needs and standard Lua lacks:
 * terminals, wall and monotonic clocks, sleeping, process identity, atomic file replacement. */
#include <errno.h>
#include <pwd.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <lauxlib.h>
#include "httpd.h"

static int sys_isatty(lua_State *L)
{
	int fd = (int)luaL_checkinteger(L, 1);
	lua_pushboolean(L, isatty(fd));
	return 1;
}

/* now() -> seconds since the epoch, with fractions */
static int sys_now(lua_State *L)
{
	struct timespec ts;
	clock_gettime(CLOCK_REALTIME, &ts);
	lua_pushnumber(L, (lua_Number)ts.tv_sec + (lua_Number)ts.tv_nsec / 1e9);
	return 1;
}

static int sys_monotonic(lua_State *L)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	lua_pushnumber(L, (lua_Number)ts.tv_sec + (lua_Number)ts.tv_nsec / 1e9);
	return 1;
}

static int sys_sleep(lua_State *L)
{
	lua_Number s = luaL_checknumber(L, 1);
	luaL_argcheck(L, s >= 0, 1, "must not be negative");
	struct timespec ts = {(time_t)s, (long)((s - (lua_Number)(time_t)s) * 1e9)};
	while (nanosleep(&ts, &ts) != 0 && errno == EINTR)
		;
	return 0;
}

/* catch_signals(enable): SIGINT/SIGTERM set a flag (httpd.c's handler) instead of killing the
 * process, so `otarun run` can finish its tick; signalled() -> "SIGINT"|"SIGTERM"|nil. */
static int sys_catch_signals(lua_State *L)
{
	httpd_catch_signals(lua_toboolean(L, 1));
	return 0;
}

static int sys_signalled(lua_State *L)
{
	int sig = httpd_caught_signal();
	if (!sig)
		return 0;
	lua_pushstring(L, sig == 2 ? "SIGINT" : sig == 15 ? "SIGTERM" : "signal");
	return 1;
}

static int sys_getpid(lua_State *L)
{
	lua_pushinteger(L, (lua_Integer)getpid());
	return 1;
}

static int sys_hostname(lua_State *L)
{
	char name[256];
	if (gethostname(name, sizeof name) != 0)
		return luaL_fileresult(L, 0, "gethostname");
	name[sizeof name - 1] = '\0';
	lua_pushstring(L, name);
	return 1;
}

/* user() -> the name of the process's user in the password database, or its uid as text. */
static int sys_user(lua_State *L)
{
	uid_t uid = getuid();
	struct passwd pw, *found = NULL;
	char buf[1024];
	if (getpwuid_r(uid, &pw, buf, sizeof buf, &found) == 0 && found && found->pw_name[0])
		lua_pushstring(L, found->pw_name);
	else
		lua_pushfstring(L, "uid %d", (int)uid);
	return 1;
}

/* write_atomic(path, data) -> true | nil, msg: a reader sees the old file or the new, never half. */
static int sys_write_atomic(lua_State *L)
{
	const char *path = luaL_checkstring(L, 1);
	size_t len;
	const char *data = luaL_checklstring(L, 2, &len);
	const char *tmp = lua_pushfstring(L, "%s.tmp.%d", path, (int)getpid());
	FILE *fp = fopen(tmp, "wb");
	if (!fp)
		return luaL_fileresult(L, 0, tmp);
	int ok = fwrite(data, 1, len, fp) == len;
	ok = fflush(fp) == 0 && ok;
	ok = fsync(fileno(fp)) == 0 && ok;
	ok = fclose(fp) == 0 && ok;
	if (!ok || rename(tmp, path) != 0) {
		int e = errno;
		remove(tmp);
		errno = e;
		return luaL_fileresult(L, 0, path);
	}
	lua_pushboolean(L, 1);
	return 1;
}

int luaopen_otarun_core_sys(lua_State *L)
{
	static const luaL_Reg fns[] = {
		{"isatty", sys_isatty},       {"now", sys_now},
		{"monotonic", sys_monotonic}, {"sleep", sys_sleep},
		{"getpid", sys_getpid},       {"hostname", sys_hostname}, {"user", sys_user},
		{"write_atomic", sys_write_atomic},
		{"catch_signals", sys_catch_signals}, {"signalled", sys_signalled},
		{NULL, NULL},
	};
	luaL_newlib(L, fns);
	lua_pushstring(L, OTARUN_VERSION);
	lua_setfield(L, -2, "version");
	return 1;
}
