/* The Lua host: one lua_State with a budgeted allocator, the registry of native modules, the
 * searcher for embedded (or on-disk, with --lua-dir) Lua sources, and the single protected entry. */
#ifndef OTARUN_HOST_H
#define OTARUN_HOST_H
#include <stddef.h>
#include <lua.h>

/* Allocator accounting for the whole state. While a sandboxed script runs, `limit` is the byte
 * count the state may not exceed; 0 means unlimited. Counted exactly: every (nsize - osize). */
struct host_alloc {
	size_t used;
	size_t peak;
	size_t limit;
	int tripped; /* set when an allocation was refused because of `limit` */
	size_t ceiling;      /* the whole process's cap, --max-host-memory (docs/sandbox.md); 0: none */
	int ceiling_tripped; /* set when an allocation was refused because of `ceiling` */
	int exiting;         /* lua_close at the end of the process: frees are left to the exit */
};

struct host_alloc *host_alloc_of(lua_State *L);

/* Runs otarun with argv; returns the process exit code. Never exits itself. */
int host_main(int argc, char **argv);

/* src/modules.c: installs every native module into package.preload. */
void modules_preload(lua_State *L);

#endif
