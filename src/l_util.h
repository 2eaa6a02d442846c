/* Shared helpers of the l_*.c bindings: the unknown-key check with its "did you mean" and the
 * argument conversions every binding needs. Bindings only convert; the rules live in the cores. */
#ifndef OTARUN_L_UTIL_H
#define OTARUN_L_UTIL_H
#include <stddef.h>
#include <lua.h>
#include <lauxlib.h>

/* The first key of the table at idx that is not in keys (NULL-terminated): 0 when there is none,
 * else 1 with the message `WHERE: unknown field "KEY" (did you mean X?); known: ...` in msg. */
int lutil_unknown_key(lua_State *L, int idx, const char *where, const char *const *keys, char *msg,
                      size_t len);
/* The same, raised as a Lua error. */
void lutil_check_keys(lua_State *L, int idx, const char *where, const char *const *keys);
/* t[key] of the table at idx as a string, or NULL when absent; raises `WHERE.key: expected a
 * string, got T` on another type. The string stays valid while the table is alive. */
const char *lutil_opt_string(lua_State *L, int idx, const char *key, const char *where);
/* Whether the table at idx holds only its list items 1..n (some may be nil): no named fields. */
int lutil_is_list(lua_State *L, int idx, lua_Integer n);
/* The usual failure result: pushes nil (fail) and msg; returns 2. */
int lutil_fail(lua_State *L, const char *msg);
/* Sets headers[name] = value in the table on top of the stack, joining a repeated name's values
 * with sep (RFC 9110 allows combining them into one comma-separated list). */
void lutil_add_header(lua_State *L, const char *name, const char *value, const char *sep);

/* Creates the metatable `name` (luaL_newmetatable also sets __name) with the metamethods in
 * meta and, when methods is not NULL, __index = a table of methods. Leaves the stack as it was. */
void lutil_new_class(lua_State *L, const char *name, const luaL_Reg *meta, const luaL_Reg *methods);
/* t[key] = value for the table on top of the stack; a NULL string sets nothing. */
void lutil_set_string(lua_State *L, const char *key, const char *value);
void lutil_set_integer(lua_State *L, const char *key, lua_Integer value);
void lutil_set_boolean(lua_State *L, const char *key, int value);

/* One entry of a binding's luaL_Reg table: the Lua name NAME bound to the C function l_NAME. */
#define LUTIL_FN(name) { #name, l_##name }

#endif
