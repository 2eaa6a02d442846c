/* otarun.core.sandbox: runs a function under a memory budget and an instruction budget that
 * `pcall` cannot swallow. The function runs on its own Lua thread with a count hook; once a budget
 * trips, the hook re-arms on every instruction and raises again (as Redis does), so a script that
 * catches the error is stopped at its next instruction. The memory budget is enforced by the
 * host's allocator (host.c), counted exactly. The environment itself is built in
 * lua/otarun/lang/sandbox.lua. */
#include <string.h>
#include <lauxlib.h>
#include "host.h"

#define SANDBOX_STEP 1000

enum sandbox_trip { TRIP_NONE, TRIP_INSTRUCTIONS, TRIP_MEMORY };

struct sandbox_run {
	lua_Integer budget; /* instructions allowed */
	lua_Integer spent;
	enum sandbox_trip trip;
	size_t memory_limit;
};

static const char SANDBOX_KEY = 'k'; /* registry key: the current run, a light userdata */

static struct sandbox_run *sandbox_current(lua_State *L)
{
	lua_rawgetp(L, LUA_REGISTRYINDEX, &SANDBOX_KEY);
	struct sandbox_run *r = lua_touserdata(L, -1);
	lua_pop(L, 1);
	return r;
}

static void sandbox_hook(lua_State *L, lua_Debug *ar)
{
	(void)ar;
	struct sandbox_run *r = sandbox_current(L);
	if (!r)
		return;
	if (r->trip == TRIP_NONE) {
		r->spent += SANDBOX_STEP;
		if (r->spent >= r->budget)
			r->trip = TRIP_INSTRUCTIONS;
		else if (host_alloc_of(L)->tripped)
			r->trip = TRIP_MEMORY;
		else
			return;
		lua_sethook(L, sandbox_hook, LUA_MASKCOUNT | LUA_MASKLINE, 1);
	}
	/* level 0 is the script's running function (a hook has no frame of its own) */
	luaL_where(L, 0);
	if (r->trip == TRIP_INSTRUCTIONS)
		lua_pushfstring(L, "instruction limit exceeded (%I instructions)",
		                r->budget);
	else
		lua_pushfstring(L, "memory limit exceeded (%I bytes)",
		                (lua_Integer)r->memory_limit);
	lua_concat(L, 2);
	lua_error(L);
}

/* The innermost Lua frame of the stopped script, "file:line: ", for messages made after it died. */
static void sandbox_push_where(lua_State *L, lua_State *T)
{
	lua_Debug ar;
	for (int level = 0; lua_getstack(T, level, &ar); level++) {
		if (lua_getinfo(T, "Sl", &ar) && ar.currentline > 0) {
			lua_pushfstring(L, "%s:%d: ", ar.short_src, ar.currentline);
			return;
		}
	}
	lua_pushliteral(L, "");
}

/* run(fn, { memory = bytes, instructions = n }, ...) ->
 *   true, results...            on success
 *   false, message, traceback, kind   on error; kind is "error", "memory" or "instructions" */
static int sandbox_run(lua_State *L)
{
	luaL_checktype(L, 1, LUA_TFUNCTION);
	luaL_checktype(L, 2, LUA_TTABLE);
	lua_getfield(L, 2, "memory");
	lua_Integer memory = luaL_optinteger(L, -1, 256 * 1024 * 1024);
	lua_getfield(L, 2, "instructions");
	lua_Integer instructions = luaL_optinteger(L, -1, 1000000000);
	lua_pop(L, 2);
	luaL_argcheck(L, memory > 0, 2, "memory must be a positive byte count");
	luaL_argcheck(L, instructions > 0, 2, "instructions must be positive");
	if (sandbox_current(L))
		return luaL_error(L, "sandbox.run cannot nest");

	int nargs = lua_gettop(L) - 2;
	lua_State *T = lua_newthread(L);
	int thread_index = lua_gettop(L);
	lua_pushvalue(L, 1);
	for (int i = 0; i < nargs; i++)
		lua_pushvalue(L, 3 + i);
	lua_xmove(L, T, nargs + 1);

	struct host_alloc *alloc = host_alloc_of(L);
	struct sandbox_run run = {instructions, 0, TRIP_NONE, (size_t)memory};
	lua_pushlightuserdata(L, &run);
	lua_rawsetp(L, LUA_REGISTRYINDEX, &SANDBOX_KEY);
	lua_sethook(T, sandbox_hook, LUA_MASKCOUNT, SANDBOX_STEP);
	size_t saved_limit = alloc->limit;
	alloc->limit = alloc->used + (size_t)memory;
	alloc->tripped = 0;

	int nres = 0;
	int status = lua_resume(T, L, nargs, &nres);

	alloc->limit = saved_limit;
	int mem_tripped = alloc->tripped;
	alloc->tripped = 0;
	lua_sethook(T, NULL, 0, 0);
	lua_pushnil(L);
	lua_rawsetp(L, LUA_REGISTRYINDEX, &SANDBOX_KEY);

	if (status == LUA_OK) {
		lua_pushboolean(L, 1);
		lua_xmove(T, L, nres);
		return nres + 1;
	}
	const char *kind = "error";
	if (run.trip == TRIP_INSTRUCTIONS)
		kind = "instructions";
	else if (run.trip == TRIP_MEMORY || mem_tripped || status == LUA_ERRMEM)
		kind = "memory";
	lua_pushboolean(L, 0);
	if (status == LUA_YIELD) {
		lua_pushliteral(L, "a script may not yield");
		lua_pushliteral(L, "");
	} else {
		lua_xmove(T, L, 1); /* the error object */
		if (!lua_isstring(L, -1)) {
			const char *tn = luaL_typename(L, -1);
			lua_pop(L, 1);
			lua_pushfstring(L, "(error object is a %s value)", tn);
		}
		luaL_traceback(L, T, NULL, 0);
	}
	if (strcmp(kind, "memory") == 0) { /* the message may be Lua's bare "not enough memory" */
		sandbox_push_where(L, T);
		lua_pushfstring(L, "memory limit exceeded (%I bytes)", memory);
		lua_concat(L, 2);
		lua_replace(L, -3);
	}
	lua_pushstring(L, kind);
	(void)thread_index;
	return 4;
}

/* tripped() -> true once the running script has exceeded a budget. The hook raises its error with
 * hooks disabled, so a script's xpcall message handler must not run then (lua/otarun/lang/sandbox.lua
 * wraps xpcall with this): it would loop unwatched. */
static int sandbox_tripped(lua_State *L)
{
	struct sandbox_run *r = sandbox_current(L);
	lua_pushboolean(L, r && (r->trip != TRIP_NONE || host_alloc_of(L)->tripped));
	return 1;
}

/* active() -> true while a sandboxed run is in progress (its budgets apply) */
static int sandbox_active(lua_State *L)
{
	lua_pushboolean(L, sandbox_current(L) != NULL);
	return 1;
}

/* usage() -> bytes in use by the whole state, peak bytes */
static int sandbox_usage(lua_State *L)
{
	struct host_alloc *a = host_alloc_of(L);
	lua_pushinteger(L, (lua_Integer)a->used);
	lua_pushinteger(L, (lua_Integer)a->peak);
	return 2;
}

int luaopen_otarun_core_sandbox(lua_State *L)
{
	static const luaL_Reg fns[] = {
		{"run", sandbox_run},
		{"usage", sandbox_usage},
		{"tripped", sandbox_tripped},
		{"active", sandbox_active},
		{NULL, NULL},
	};
	luaL_newlib(L, fns);
	return 1;
}
