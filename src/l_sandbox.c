/* otarun.core.sandbox: runs a function under a memory budget, an instruction budget and a
 * wall-clock budget that `pcall` cannot swallow (docs/sandbox.md). The function runs on its own
 * Lua thread with a count hook. Once a budget trips, the hook yields the thread away: a yield
 * passes through every pcall, so the run ends at once and the thread is abandoned. Where a yield
 * is impossible (inside a C function that called back into Lua) the hook raises an error and
 * re-arms on every instruction (as Redis does), until the script is back where it can yield.
 * The memory budget is enforced by the host's allocator (host.c), counted exactly; a C call that
 * outlasts the wall-clock budget is ended by src/watchdog.c. The environment itself is built in
 * lua/otarun/lang/sandbox.lua. */
#include <string.h>
#include <time.h>
#include <lauxlib.h>
#include "host.h"
#include "sys.h"
#include "watchdog.h"

#define SANDBOX_STEP 1000
/* Seconds a single C call may run past --max-seconds before the watchdog ends the process. */
#define SANDBOX_GRACE 2.0

enum sandbox_trip { TRIP_NONE, TRIP_INSTRUCTIONS, TRIP_MEMORY, TRIP_SECONDS, TRIP_SIGNAL };

struct sandbox_run {
	lua_Integer budget; /* instructions allowed */
	lua_Integer spent;
	enum sandbox_trip trip;
	size_t memory_limit;
	double seconds;
	struct timespec deadline; /* CLOCK_MONOTONIC */
	char where[LUA_IDSIZE + 24]; /* "file:line: " of the trip, for a yielded thread */
};

static int sandbox_past(const struct timespec *deadline)
{
	struct timespec now;
	clock_gettime(CLOCK_MONOTONIC, &now);
	return now.tv_sec > deadline->tv_sec ||
	       (now.tv_sec == deadline->tv_sec && now.tv_nsec >= deadline->tv_nsec);
}

static void sandbox_push_message(lua_State *L, const struct sandbox_run *r)
{
	if (r->trip == TRIP_INSTRUCTIONS)
		lua_pushfstring(L, "instruction limit exceeded (%I instructions)", r->budget);
	else if (r->trip == TRIP_SECONDS)
		lua_pushfstring(L, "time limit exceeded (%f seconds)", (lua_Number)r->seconds);
	else if (r->trip == TRIP_SIGNAL)
		lua_pushstring(L, sys_caught_signal() == SYS_SIGNAL_INT ? "interrupted by SIGINT" : "interrupted by SIGTERM");
	else
		lua_pushfstring(L, "memory limit exceeded (%I bytes)", (lua_Integer)r->memory_limit);
}

static const char SANDBOX_KEY = 'k'; /* registry key: the current run, a light userdata */

/* short_src of lua/otarun/lang/sandbox.lua, whose wrappers are never the place to blame */
static char sandbox_trusted[LUA_IDSIZE];

/* Pushes "file:line: " of the innermost frame from `level` up that is the script's own code (not
 * a C function, not the sandbox's wrappers), or "". */
static void sandbox_where(lua_State *L, lua_State *T, int level)
{
	lua_Debug ar;
	for (; lua_getstack(T, level, &ar); level++) {
		if (lua_getinfo(T, "Sl", &ar) && ar.currentline > 0 &&
		    strcmp(ar.short_src, sandbox_trusted) != 0) {
			lua_pushfstring(L, "%s:%d: ", ar.short_src, ar.currentline);
			return;
		}
	}
	lua_pushliteral(L, "");
}

static struct sandbox_run *sandbox_current(lua_State *L)
{
	lua_rawgetp(L, LUA_REGISTRYINDEX, &SANDBOX_KEY);
	struct sandbox_run *r = lua_touserdata(L, -1);
	lua_pop(L, 1);
	return r;
}

/* A budget tripped at stack level `level`: a yieldable script notes where and yields (the runner
 * reports it; in a hook lua_yield returns and the hook must return at once), anything else raises
 * the message. */
static int sandbox_stop(lua_State *L, struct sandbox_run *r, int level)
{
	sandbox_where(L, L, level);
	if (lua_isyieldable(L)) {
		strncpy(r->where, lua_tostring(L, -1), sizeof r->where - 1);
		r->where[sizeof r->where - 1] = '\0';
		lua_pop(L, 1);
		return lua_yield(L, 0);
	}
	sandbox_push_message(L, r);
	lua_concat(L, 2);
	return lua_error(L);
}

static void sandbox_hook(lua_State *L, lua_Debug *ar)
{
	struct sandbox_run *r = sandbox_current(L);
	if (!r)
		return;
	if (r->trip == TRIP_NONE) {
		r->spent += SANDBOX_STEP;
		if (r->spent >= r->budget)
			r->trip = TRIP_INSTRUCTIONS;
		else if (host_alloc_of(L)->tripped)
			r->trip = TRIP_MEMORY;
		else if (sandbox_past(&r->deadline))
			r->trip = TRIP_SECONDS;
		else if (sys_caught_signal() != SYS_SIGNAL_NONE) /* `otarun run` stops on SIGINT/SIGTERM (docs/sandbox.md) */
			r->trip = TRIP_SIGNAL;
		else {
			/* every 8th step: where the script is, should a C call outlast the limit */
			if ((r->spent / SANDBOX_STEP) % 8 == 0 && lua_getinfo(L, "Sl", ar) &&
			    strcmp(ar->short_src, sandbox_trusted) != 0)
				watchdog_note(ar->short_src, ar->currentline);
			return;
		}
		lua_sethook(L, sandbox_hook, LUA_MASKCOUNT | LUA_MASKLINE, 1);
	}
	/* level 0 is the script's running function (a hook has no frame of its own) */
	sandbox_stop(L, r, 0);
}

/* charge(n): counts n instructions' worth of work a library function is about to do in C
 * (lua/otarun/lang/sandbox.lua), and trips the budgets before it starts rather than after. */
static int sandbox_charge(lua_State *L)
{
	lua_Number n = luaL_checknumber(L, 1);
	struct sandbox_run *r = sandbox_current(L);
	if (!r || !(n > 0))
		return 0;
	if (r->trip == TRIP_NONE) {
		if (n >= (lua_Number)(r->budget - r->spent))
			r->trip = TRIP_INSTRUCTIONS;
		else if (sandbox_past(&r->deadline))
			r->trip = TRIP_SECONDS;
		else {
			r->spent += (lua_Integer)n;
			lua_Debug ar; /* for src/watchdog.c, should the coming C call outlast the limit */
			for (int level = 1; lua_getstack(L, level, &ar); level++) {
				if (lua_getinfo(L, "Sl", &ar) && ar.currentline > 0 &&
				    strcmp(ar.short_src, sandbox_trusted) != 0) {
					watchdog_note(ar.short_src, ar.currentline);
					break;
				}
			}
			return 0;
		}
	}
	lua_sethook(L, sandbox_hook, LUA_MASKCOUNT | LUA_MASKLINE, 1);
	return sandbox_stop(L, r, 1);
}

/* A message at index -2 that blames the sandbox's own wrappers is made to blame the script's line
 * that called them (T's stack is intact after an error). */
static void sandbox_relocate(lua_State *L, lua_State *T)
{
	size_t n = strlen(sandbox_trusted);
	const char *msg = lua_tostring(L, -2);
	if (n == 0 || !msg || strncmp(msg, sandbox_trusted, n) != 0 || msg[n] != ':')
		return;
	const char *rest = strchr(msg + n + 1, ':');
	if (!rest)
		return;
	rest += rest[1] == ' ' ? 2 : 1;
	sandbox_where(L, T, 0);
	lua_pushstring(L, rest);
	lua_concat(L, 2);
	lua_replace(L, -3);
}

/* run(fn, { memory = bytes, instructions = n, seconds = s, rule = id }, ...) ->
 *   true, results...            on success
 *   false, message, traceback, kind   on error; kind is "error", "memory", "instructions",
 *                                     "seconds" or "interrupted" (SIGINT/SIGTERM caught while
 *                                     signals are caught). rule names the watchdog's diagnostic. */
static int sandbox_run(lua_State *L)
{
	luaL_checktype(L, 1, LUA_TFUNCTION);
	luaL_checktype(L, 2, LUA_TTABLE);
	lua_getfield(L, 2, "memory");
	lua_Integer memory = luaL_optinteger(L, -1, 256 * 1024 * 1024);
	lua_getfield(L, 2, "instructions");
	lua_Integer instructions = luaL_optinteger(L, -1, 1000000000);
	lua_getfield(L, 2, "seconds");
	lua_Number seconds = luaL_optnumber(L, -1, 5);
	lua_getfield(L, 2, "rule");
	const char *rule = luaL_optstring(L, -1, "script-seconds-limit");
	lua_pop(L, 4);
	luaL_argcheck(L, memory > 0, 2, "memory must be a positive byte count");
	luaL_argcheck(L, instructions > 0, 2, "instructions must be positive");
	luaL_argcheck(L, seconds > 0 && seconds <= 86400, 2, "seconds must be in (0, 86400]");
	if (sandbox_current(L))
		return luaL_error(L, "sandbox.run cannot nest");

	int nargs = lua_gettop(L) - 2;
	lua_State *T = lua_newthread(L);
	int thread_index = lua_gettop(L);
	lua_Debug fn_ar;
	lua_pushvalue(L, 1);
	int fn_known = lua_getinfo(L, ">S", &fn_ar) && fn_ar.linedefined >= 0;
	lua_pushvalue(L, 1);
	for (int i = 0; i < nargs; i++)
		lua_pushvalue(L, 3 + i);
	lua_xmove(L, T, nargs + 1);

	struct host_alloc *alloc = host_alloc_of(L);
	struct sandbox_run run = {instructions, 0, TRIP_NONE, (size_t)memory, seconds, {0, 0}, ""};
	clock_gettime(CLOCK_MONOTONIC, &run.deadline);
	time_t whole = (time_t)seconds;
	long nsec = run.deadline.tv_nsec + (long)((seconds - (lua_Number)whole) * 1e9);
	run.deadline.tv_sec += whole + nsec / 1000000000L;
	run.deadline.tv_nsec = nsec % 1000000000L;
	if (watchdog_arm(seconds, SANDBOX_GRACE, rule) != 0)
		return luaL_error(L, "cannot set the sandbox's watchdog timer");
	if (fn_known) /* until the hook knows better: where the function starts */
		watchdog_note(fn_ar.short_src, fn_ar.linedefined);
	lua_pushlightuserdata(L, &run);
	lua_rawsetp(L, LUA_REGISTRYINDEX, &SANDBOX_KEY);
	lua_sethook(T, sandbox_hook, LUA_MASKCOUNT, SANDBOX_STEP);
	size_t saved_limit = alloc->limit;
	alloc->limit = alloc->used + (size_t)memory;
	alloc->tripped = 0;

	int nres = 0;
	int status = lua_resume(T, L, nargs, &nres);

	watchdog_disarm();
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
	else if (run.trip == TRIP_SECONDS)
		kind = "seconds";
	else if (run.trip == TRIP_SIGNAL)
		kind = "interrupted";
	else if (run.trip == TRIP_MEMORY || mem_tripped || status == LUA_ERRMEM)
		kind = "memory";
	lua_pushboolean(L, 0);
	if (status == LUA_YIELD && run.trip != TRIP_NONE) { /* stopped by the hook */
		lua_pushstring(L, run.where);
		sandbox_push_message(L, &run);
		lua_concat(L, 2);
		luaL_traceback(L, T, NULL, 0);
		if (run.trip == TRIP_MEMORY)
			kind = "memory";
	} else if (status == LUA_YIELD) {
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
		sandbox_relocate(L, T);
	}
	if (strcmp(kind, "memory") == 0) { /* the message may be Lua's bare "not enough memory" */
		sandbox_where(L, T, 0);
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

/* trust(short_src): the chunk whose frames diagnostics skip (lua/otarun/lang/sandbox.lua) */
static int sandbox_trust(lua_State *L)
{
	const char *src = luaL_checkstring(L, 1);
	strncpy(sandbox_trusted, src, sizeof sandbox_trusted - 1);
	sandbox_trusted[sizeof sandbox_trusted - 1] = '\0';
	return 0;
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
		{"charge", sandbox_charge},
		{"trust", sandbox_trust},
		{NULL, NULL},
	};
	luaL_newlib(L, fns);
	return 1;
}
