/* The Lua host. Owns the lua_State, its budgeted allocator, the searcher that serves the Lua half
 * of otarun (compiled in by cmake/embed.cmake, or read from --lua-dir), and the one protected entry
 * into Lua: main -> host_main -> lua_pcall(host_entry) with a traceback handler. The commands
 * themselves live in lua/otarun/cli/init.lua. Uses: embedded.h, modules.c. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <lauxlib.h>
#include <lualib.h>
#include "embedded.h"
#include "host.h"

/* Slack granted once the limit has tripped, so the error message and traceback can still be built
 * while the count hook (l_sandbox.c) keeps killing the script. */
#define HOST_ALLOC_SLACK (1u << 20)

static void *host_alloc_fn(void *ud, void *ptr, size_t osize, size_t nsize)
{
	struct host_alloc *a = ud;
	size_t old = ptr ? osize : 0;
	if (nsize == 0) {
		if (!a->exiting)
			free(ptr);
		a->used -= old;
		return NULL;
	}
	if (a->limit && nsize > old) {
		size_t cap = a->tripped ? a->limit + HOST_ALLOC_SLACK : a->limit;
		if (a->used + (nsize - old) > cap) {
			a->tripped = 1;
			return NULL;
		}
	}
	if (a->ceiling && nsize > old) {
		size_t cap = a->ceiling_tripped ? a->ceiling + HOST_ALLOC_SLACK : a->ceiling;
		if (a->used + (nsize - old) > cap) {
			a->ceiling_tripped = 1;
			return NULL;
		}
	}
	void *p = realloc(ptr, nsize);
	if (!p)
		return NULL;
	a->used = a->used - old + nsize;
	if (a->used > a->peak)
		a->peak = a->used;
	return p;
}

struct host_alloc *host_alloc_of(lua_State *L)
{
	void *ud = NULL;
	lua_getallocf(L, &ud);
	return ud;
}

/* Whether a leak checker watches the process (AddressSanitizer's LeakSanitizer). */
#if defined(__SANITIZE_ADDRESS__)
#define HOST_LEAK_CHECKED 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define HOST_LEAK_CHECKED 1
#endif
#endif
#ifndef HOST_LEAK_CHECKED
#define HOST_LEAK_CHECKED 0
#endif

/* ---- the searcher for otarun's own Lua modules ---------------------------------------------- */

static const struct embedded_file *embedded_find(const char *name)
{
	for (const struct embedded_file *f = embedded_files; f->name; f++)
		if (strcmp(f->name, name) == 0)
			return f;
	return NULL;
}

/* package.searchers entry: "otarun.x.y" from --lua-dir (upvalue 1, may be nil) or the binary. */
static int host_searcher(lua_State *L)
{
	const char *name = luaL_checkstring(L, 1);
	const char *dir = lua_tostring(L, lua_upvalueindex(1));
	if (strncmp(name, "otarun", 6) != 0 || (name[6] != '.' && name[6] != '\0')) {
		lua_pushfstring(L, "no otarun module '%s'", name);
		return 1;
	}
	if (dir) {
		/* x.y -> DIR/x/y.lua, then DIR/x/y/init.lua */
		for (int pass = 0; pass < 2; pass++) {
			luaL_Buffer b;
			luaL_buffinit(L, &b);
			luaL_addstring(&b, dir);
			luaL_addchar(&b, '/');
			for (const char *c = name; *c; c++)
				luaL_addchar(&b, *c == '.' ? '/' : *c);
			luaL_addstring(&b, pass == 0 ? ".lua" : "/init.lua");
			luaL_pushresult(&b);
			const char *path = lua_tostring(L, -1);
			FILE *fp = fopen(path, "r");
			if (!fp) {
				lua_pop(L, 1);
				continue;
			}
			fclose(fp);
			if (luaL_loadfilex(L, path, "t") != LUA_OK)
				return lua_error(L);
			lua_insert(L, -2); /* loader, path */
			return 2;
		}
		lua_pushfstring(L, "no file for '%s' under '%s'", name, dir);
		return 1;
	}
	const struct embedded_file *f = embedded_find(name);
	if (!f) {
		lua_pushfstring(L, "%s.init", name);
		f = embedded_find(lua_tostring(L, -1));
		lua_pop(L, 1);
	}
	if (!f) {
		lua_pushfstring(L, "no module '%s' embedded in otarun", name);
		return 1;
	}
	lua_pushfstring(L, "@%s", f->path);
	if (luaL_loadbufferx(L, f->data, f->len, lua_tostring(L, -1), "t") != LUA_OK)
		return lua_error(L);
	lua_pushstring(L, f->path);
	return 2;
}

static void host_install_searcher(lua_State *L, const char *lua_dir)
{
	lua_getglobal(L, "package");
	lua_getfield(L, -1, "searchers");
	lua_Integer n = (lua_Integer)luaL_len(L, -1);
	for (lua_Integer i = n; i >= 2; i--) { /* shift to make room at position 2 */
		lua_rawgeti(L, -1, i);
		lua_rawseti(L, -2, i + 1);
	}
	if (lua_dir)
		lua_pushstring(L, lua_dir);
	else
		lua_pushnil(L);
	lua_pushcclosure(L, host_searcher, 1);
	lua_rawseti(L, -2, 2);
	lua_pop(L, 2);
}

/* ---- the protected entry -------------------------------------------------------------------- */

struct host_args {
	int argc;
	char **argv;
	const char *lua_dir;
	int exit_code;
};

static int host_traceback(lua_State *L)
{
	const char *msg = lua_tostring(L, 1);
	if (!msg) {
		if (luaL_callmeta(L, 1, "__tostring") && lua_type(L, -1) == LUA_TSTRING)
			return 1;
		msg = lua_pushfstring(L, "(error object is a %s value)", luaL_typename(L, 1));
	}
	luaL_traceback(L, L, msg, 1);
	return 1;
}

/* Opens the libraries and installs the modules; run protected, since any of it may raise. */
static int host_setup(lua_State *L)
{
	struct host_args *a = lua_touserdata(L, 1);
	luaL_openlibs(L);
	modules_preload(L);
	host_install_searcher(L, a->lua_dir);
	lua_createtable(L, a->argc, 1); /* arg, as lua.c builds it: arg[0] is the program */
	for (int i = 0; i < a->argc; i++) {
		lua_pushstring(L, a->argv[i]);
		lua_rawseti(L, -2, i);
	}
	lua_setglobal(L, "arg");
	return 0;
}

static const char host_bootstrap[] = "return require('otarun.cli').main(arg)";

/* Runs fn(ud) or the bootstrap chunk under the traceback handler; reports a failure. */
static int host_protected(lua_State *L, lua_CFunction fn, void *ud)
{
	lua_settop(L, 0);
	lua_pushcfunction(L, host_traceback);
	if (fn) {
		lua_pushcfunction(L, fn);
		lua_pushlightuserdata(L, ud);
	} else if (luaL_loadbufferx(L, host_bootstrap, sizeof host_bootstrap - 1, "=otarun", "t") != LUA_OK) {
		fprintf(stderr, "otarun: internal error: %s\n", lua_tostring(L, -1));
		return -1;
	}
	if (lua_pcall(L, fn ? 1 : 0, 1, 1) != LUA_OK) {
		if (!host_alloc_of(L)->ceiling_tripped) /* else host_main says which limit */
			fprintf(stderr, "otarun: internal error: %s\n", lua_tostring(L, -1));
		return -1;
	}
	return (int)lua_tointeger(L, -1);
}

/* The default --max-host-memory: what one command may hold in Lua, scripts' budgets included. */
#define HOST_DEFAULT_CEILING ((size_t)2 << 30)

/* "N" bytes, N > 0 -> 1 and *out; anything else -> 0 */
static int host_parse_bytes(const char *s, size_t *out)
{
	char *end = NULL;
	errno = 0;
	unsigned long long v = strtoull(s, &end, 10);
	if (errno || end == s || *end || v == 0 || s[0] == '-')
		return 0;
	*out = (size_t)v;
	return 1;
}

int host_main(int argc, char **argv)
{
	struct host_alloc alloc = {0};
	alloc.ceiling = HOST_DEFAULT_CEILING;
	const char *ceiling_arg = getenv("OTARUN_MAX_HOST_MEMORY");
	struct host_args args = {0, NULL, getenv("OTARUN_LUA_DIR"), 1};
	/* --lua-dir is the host's own option: it must be known before any module loads. */
	char **kept = calloc((size_t)argc + 1, sizeof *kept);
	if (!kept) {
		fputs("otarun: out of memory\n", stderr);
		return 1;
	}
	for (int i = 0; i < argc; i++) {
		if (strcmp(argv[i], "--lua-dir") == 0 && i + 1 < argc) {
			args.lua_dir = argv[++i];
		} else if (strncmp(argv[i], "--lua-dir=", 10) == 0) {
			args.lua_dir = argv[i] + 10;
		} else if (strcmp(argv[i], "--max-host-memory") == 0 && i + 1 < argc) {
			ceiling_arg = argv[++i];
		} else if (strncmp(argv[i], "--max-host-memory=", 18) == 0) {
			ceiling_arg = argv[i] + 18;
		} else {
			kept[args.argc++] = argv[i];
		}
	}
	args.argv = kept;
	if (ceiling_arg && *ceiling_arg && !host_parse_bytes(ceiling_arg, &alloc.ceiling)) {
		fprintf(stderr, "otarun: --max-host-memory needs a positive number of bytes, got \"%s\"\n",
		        ceiling_arg);
		free(kept);
		return 64;
	}
	lua_State *L = lua_newstate(host_alloc_fn, &alloc);
	if (!L) {
		free(kept);
		fputs("otarun: cannot create the Lua state (out of memory)\n", stderr);
		return 1;
	}
	if (host_protected(L, host_setup, &args) == 0) {
		int code = host_protected(L, NULL, NULL);
		args.exit_code = code < 0 ? 1 : code;
	}
	if (alloc.ceiling_tripped) {
		fprintf(stderr, "otarun: error: this command needed more than %zu bytes of memory, the "
		        "host's limit; raise it with --max-host-memory BYTES (or OTARUN_MAX_HOST_MEMORY), "
		        "or give fewer rollouts at once\n", alloc.ceiling);
		if (args.exit_code == 0)
			args.exit_code = 1;
	}
	/* lua_close still runs every finalizer (stores, files, to-be-closed values); only the frees
	 * of a large heap, one by one, are left to the process's exit, which returns it all at once
	 * (a 10,000-wave plan spent a fifth of its time there). Not under a leak checker. */
#if !HOST_LEAK_CHECKED
	alloc.exiting = 1;
#endif
	lua_close(L);
	free(kept);
	return args.exit_code;
}
