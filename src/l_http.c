/*
 * otarun.core.http: the Lua face of http.c. A client is a userdata (metatable
 * "otarun.http.client") owning one curl handle, so its connections are reused and it is released
 * by __gc or __close. Arguments are checked before anything is acquired; the arrays handed to C
 * live in Lua memory and the response lives in the userdata, so a Lua error at any point leaks
 * nothing. Environmental failures return nil, message, kind (kind from http_kind_name).
 */
#include <string.h>
#include <lauxlib.h>
#include "l_util.h"
#include "http.h"

#define CLIENT_MT "otarun.http.client"

struct l_client {
	struct http_client *c; /* NULL once closed */
	struct http_response resp;
};

static struct l_client *check_client(lua_State *L)
{
	struct l_client *lc = luaL_checkudata(L, 1, CLIENT_MT);
	if (!lc->c)
		luaL_error(L, "http client is closed");
	return lc;
}

/* client() -> client | nil, message */
static int http_new_client(lua_State *L)
{
	struct l_client *lc = lua_newuserdatauv(L, sizeof *lc, 0);
	memset(lc, 0, sizeof *lc); /* closed until the handle exists: __gc is always safe */
	http_response_init(&lc->resp);
	luaL_setmetatable(L, CLIENT_MT);
	lc->c = http_client_new();
	if (!lc->c)
		return lutil_fail(L, "cannot initialise libcurl");
	return 1;
}

static int client_close(lua_State *L)
{
	struct l_client *lc = luaL_checkudata(L, 1, CLIENT_MT);
	http_client_free(lc->c);
	lc->c = NULL;
	http_response_free(&lc->resp);
	return 0;
}

static int client_tostring(lua_State *L)
{
	struct l_client *lc = luaL_checkudata(L, 1, CLIENT_MT);
	lua_pushfstring(L, "http client (%s)", lc->c ? "open" : "closed");
	return 1;
}

static const char *const REQUEST_KEYS[] = {"method", "url", "headers", "body",
                                           "connect_timeout", "timeout", "body_limit", NULL};


static long opt_ms(lua_State *L, int t, const char *key)
{
	lua_getfield(L, t, key);
	long ms = 0;
	if (!lua_isnil(L, -1)) {
		if (!lua_isnumber(L, -1) || lua_tonumber(L, -1) <= 0 || lua_tonumber(L, -1) > 86400)
			luaL_error(L, "request: %s must be seconds in (0, 86400]", key);
		ms = (long)(lua_tonumber(L, -1) * 1000.0);
		if (ms < 1)
			ms = 1;
	}
	lua_pop(L, 1);
	return ms;
}

/* Checks the headers table (at stack index h; may be nil) and returns how many there are. */
static size_t count_headers(lua_State *L, int h)
{
	if (lua_isnil(L, h))
		return 0;
	luaL_argexpected(L, lua_istable(L, h), 2, "headers as a table of name = value strings");
	size_t n = 0;
	lua_pushnil(L);
	while (lua_next(L, h)) {
		if (lua_type(L, -2) != LUA_TSTRING || lua_type(L, -1) != LUA_TSTRING)
			luaL_error(L, "request: headers must map string names to string values");
		const char *name = lua_tostring(L, -2);
		size_t vlen;
		const char *value = lua_tolstring(L, -1, &vlen);
		if (!http_header_name_ok(name))
			luaL_error(L, "request: header name %s is not a token", name);
		if (!http_header_value_ok(value) || strlen(value) != vlen)
			luaL_error(L, "request: header %s has CR, LF or NUL in its value", name);
		n++;
		lua_pop(L, 1);
	}
	return n;
}

static void push_response(lua_State *L, const struct http_response *r)
{
	lua_createtable(L, 0, 3);
	lutil_set_integer(L, "status", r->status);
	lua_createtable(L, 0, (int)r->nheaders);
	for (size_t i = 0; i < r->nheaders; i++) /* a repeated header keeps every value */
		lutil_add_header(L, r->headers[i].name, r->headers[i].value, ", ");
	lua_setfield(L, -2, "headers");
	lua_pushlstring(L, r->body ? r->body : "", r->body_len);
	lua_setfield(L, -2, "body");
}

/* client:request{ method=, url=, headers=, body=, connect_timeout=, timeout=, body_limit= }
 *   -> { status=, headers={lowercase name = value}, body= } | nil, message, kind */
static int client_request(lua_State *L)
{
	struct l_client *lc = check_client(L);
	luaL_checktype(L, 2, LUA_TTABLE);
	lua_settop(L, 2);
	lutil_check_keys(L, 2, "request", REQUEST_KEYS);
	struct http_request req = {0};
	lua_getfield(L, 2, "method");  /* 3 */
	lua_getfield(L, 2, "url");     /* 4 */
	lua_getfield(L, 2, "headers"); /* 5 */
	lua_getfield(L, 2, "body");    /* 6 */
	if (!lua_isnil(L, 3) && lua_type(L, 3) != LUA_TSTRING)
		luaL_error(L, "request: method must be a string such as \"POST\"");
	req.method = lua_isnil(L, 3) ? "GET" : lua_tostring(L, 3);
	if (lua_type(L, 4) != LUA_TSTRING)
		luaL_error(L, "request: url must be a string");
	req.url = lua_tostring(L, 4);
	if (!lua_isnil(L, 6) && lua_type(L, 6) != LUA_TSTRING)
		luaL_error(L, "request: body must be a string");
	req.body = lua_tolstring(L, 6, &req.body_len);
	req.connect_timeout_ms = opt_ms(L, 2, "connect_timeout");
	req.timeout_ms = opt_ms(L, 2, "timeout");
	lua_getfield(L, 2, "body_limit");
	lua_Integer limit = lua_isnil(L, -1) ? 0 : luaL_checkinteger(L, -1);
	lua_pop(L, 1);
	if (limit < 0)
		luaL_error(L, "request: body_limit must not be negative");
	size_t n = count_headers(L, 5);

	/* everything is checked; the arrays live in Lua memory and point into strings that stay
	 * referenced by the headers table at index 5 */
	const char **names = lua_newuserdatauv(L, (n ? n : 1) * 2 * sizeof *names, 0);
	const char **values = names + (n ? n : 1);
	size_t i = 0;
	if (n) {
		lua_pushnil(L);
		while (lua_next(L, 5)) {
			names[i] = lua_tostring(L, -2);
			values[i] = lua_tostring(L, -1);
			i++;
			lua_pop(L, 1);
		}
	}
	req.header_names = names;
	req.header_values = values;
	req.nheaders = n;
	lc->resp.body_limit = (size_t)limit;

	char err[512];
	int rc = http_client_request(lc->c, &req, &lc->resp, err, sizeof err);
	if (rc != HTTP_OK) {
		luaL_pushfail(L);
		lua_pushstring(L, err);
		lua_pushstring(L, http_kind_name(rc));
		return 3;
	}
	push_response(L, &lc->resp);
	return 1;
}

/* check_url(url) -> true, plain | nil, message, kind */
static int http_check_url(lua_State *L)
{
	const char *url = luaL_checkstring(L, 1);
	char why[512];
	int plain;
	int rc = http_url_check(url, &plain, why, sizeof why);
	if (rc != HTTP_OK) {
		luaL_pushfail(L);
		lua_pushstring(L, why);
		lua_pushstring(L, http_kind_name(rc));
		return 3;
	}
	lua_pushboolean(L, 1);
	lua_pushboolean(L, plain);
	return 2;
}

static int http_is_loopback(lua_State *L)
{
	lua_pushboolean(L, http_host_is_loopback(luaL_checkstring(L, 1)));
	return 1;
}

int luaopen_otarun_core_http(lua_State *L)
{
	static const luaL_Reg methods[] = {{"request", client_request}, {"close", client_close},
	                                   {NULL, NULL}};
	static const luaL_Reg meta[] = {{"__gc", client_close}, {"__close", client_close},
	                                {"__tostring", client_tostring}, {NULL, NULL}};
	static const luaL_Reg fns[] = {{"client", http_new_client}, {"check_url", http_check_url},
	                               {"is_loopback", http_is_loopback}, {NULL, NULL}};
	lutil_new_class(L, CLIENT_MT, meta, methods);
	luaL_newlib(L, fns);
	return 1;
}
