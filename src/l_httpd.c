/* otarun.core.httpd: the Lua binding of httpd.c. A server handle (userdata) that runs ONE Lua
 * handler for every request, always in the thread that owns the lua_State: serve() and poll() drive
 * libmicrohttpd themselves and enter Lua only through lua_pcall, so an error in the handler becomes
 * a 500 answer, never a crash and never a longjmp across libmicrohttpd's frames.
 *
 *   local srv = assert(httpd.listen{ host = "127.0.0.1", port = 0, allow_remote = false,
 *                                    max_body = 1048576 })
 *   srv:serve(function(req) return 200, { ["Content-Type"] = "application/json" }, "{}" end,
 *             { ["until"] = function() return done end, interval_ms = 50, signals = true })
 *
 * req = { method, path, query (raw), headers = { [lowercase name] = value }, body, remote }.
 * The handler returns status, headers, body [, { delay_ms = N, drop = true, stop = true }]. */
#include <stdio.h>
#include <string.h>
#include <lauxlib.h>
#include "l_util.h"
#include "httpd.h"
#include "sys.h"

#define LHTTPD_MT "otarun.core.httpd.server"

struct lhttpd {
	struct httpd *h;
	int busy; /* inside poll/serve: the handler must not re-enter */
};

struct lhttpd_dispatch {
	lua_State *L;
	int handler; /* absolute stack index of the handler */
};

static struct lhttpd *lhttpd_check(lua_State *L, int idx)
{
	struct lhttpd *s = luaL_checkudata(L, idx, LHTTPD_MT);
	if (!s->h)
		luaL_error(L, "the server is closed");
	return s;
}

static const char *const lhttpd_listen_keys[] = {"host", "port", "allow_remote", "max_body", NULL};


/* listen{ host=, port=, allow_remote=, max_body= } -> server | nil, message */
static int lhttpd_listen(lua_State *L)
{
	struct httpd_config cfg = {.host = "127.0.0.1"};
	if (!lua_isnoneornil(L, 1)) {
		luaL_checktype(L, 1, LUA_TTABLE);
		lutil_check_keys(L, 1, "httpd.listen", lhttpd_listen_keys);
		lua_getfield(L, 1, "host");
		cfg.host = luaL_optstring(L, -1, "127.0.0.1");
		lua_getfield(L, 1, "port");
		lua_Integer port = luaL_optinteger(L, -1, 0);
		luaL_argcheck(L, port >= 0 && port <= 65535, 1, "port must be 0-65535");
		cfg.port = (int)port;
		lua_getfield(L, 1, "allow_remote");
		cfg.allow_remote = lua_toboolean(L, -1);
		lua_getfield(L, 1, "max_body");
		lua_Integer mb = luaL_optinteger(L, -1, 1024 * 1024);
		luaL_argcheck(L, mb > 0, 1, "max_body must be a positive byte count");
		cfg.max_body = (size_t)mb;
	}
	struct lhttpd *s = lua_newuserdatauv(L, sizeof *s, 0);
	s->h = NULL;
	s->busy = 0;
	luaL_setmetatable(L, LHTTPD_MT);
	char err[256];
	s->h = httpd_open(&cfg, err, sizeof err);
	if (!s->h)
		return lutil_fail(L, err);
	return 1;
}

/* ---- one request through the Lua handler ------------------------------------------------------ */

static int lhttpd_traceback(lua_State *L)
{
	const char *msg = lua_tostring(L, 1);
	if (!msg)
		msg = lua_pushfstring(L, "(error object is a %s value)", luaL_typename(L, 1));
	luaL_traceback(L, L, msg, 1);
	return 1;
}

static int lhttpd_build_request(lua_State *L)
{
	const struct httpd_request *req = lua_touserdata(L, 1);
	lua_createtable(L, 0, 7);
	lutil_set_string(L, "method", req->method);
	lutil_set_string(L, "path", req->path);
	lutil_set_string(L, "query", req->query);
	lua_pushlstring(L, req->body, req->body_len);
	lua_setfield(L, -2, "body");
	lutil_set_string(L, "remote", req->remote);
	lua_createtable(L, 0, (int)req->nheaders);
	for (size_t i = 0; i < req->nheaders; i++) /* RFC 9110: repeats join into one list */
		lutil_add_header(L, req->headers[i].name, req->headers[i].value, ",");
	lua_setfield(L, -2, "headers");
	return 1;
}

/* args: status, headers, body, opts, resp (lightuserdata) */
static int lhttpd_convert_response(lua_State *L)
{
	struct httpd_response *r = lua_touserdata(L, 5);
	lua_Integer status = luaL_checkinteger(L, 1);
	luaL_argcheck(L, status >= 100 && status <= 599, 1, "the handler's HTTP status must be 100-599");
	r->status = (int)status;
	if (!lua_isnil(L, 2)) {
		luaL_checktype(L, 2, LUA_TTABLE);
		lua_pushnil(L);
		while (lua_next(L, 2) != 0) {
			if (lua_type(L, -2) != LUA_TSTRING || !lua_isstring(L, -1))
				luaL_error(L, "handler headers must map names to strings");
			if (httpd_response_add_header(r, lua_tostring(L, -2), lua_tostring(L, -1)) != 0)
				luaL_error(L, "out of memory");
			lua_pop(L, 1);
		}
	}
	size_t len = 0;
	const char *body = luaL_optlstring(L, 3, "", &len);
	if (httpd_response_set_body(r, body, len) != 0)
		luaL_error(L, "out of memory");
	if (!lua_isnil(L, 4)) {
		luaL_checktype(L, 4, LUA_TTABLE);
		lua_getfield(L, 4, "delay_ms");
		lua_Number d = luaL_optnumber(L, -1, 0);
		luaL_argcheck(L, d >= 0 && d <= 600000, 4, "delay_ms must be 0-600000");
		r->delay_ms = (unsigned)d;
		lua_getfield(L, 4, "drop");
		r->drop = lua_toboolean(L, -1);
		lua_getfield(L, 4, "stop");
		r->stop = lua_toboolean(L, -1);
	}
	return 0;
}

static void lhttpd_json_escape(char *out, size_t outlen, const char *s)
{
	size_t o = 0;
	for (; *s && *s != '\n' && o + 7 < outlen; s++) {
		unsigned char c = (unsigned char)*s;
		if (c == '"' || c == '\\') {
			out[o++] = '\\';
			out[o++] = (char)c;
		} else if (c < 0x20) {
			o += (size_t)snprintf(out + o, outlen - o, "\\u%04x", c);
		} else {
			out[o++] = (char)c;
		}
	}
	out[o] = '\0';
}

static void lhttpd_fail(lua_State *L, struct httpd_response *r, const char *stage)
{
	const char *msg = lua_tostring(L, -1);
	if (!msg)
		msg = "error object is not a string";
	fprintf(stderr, "otarun httpd: %s failed: %s\n", stage, msg);
	char esc[1024], body[1200];
	lhttpd_json_escape(esc, sizeof esc, msg);
	int n = snprintf(body, sizeof body, "{\"Code\":\"InternalError\",\"Message\":\"%s: %s\"}", stage, esc);
	httpd_response_clear(r);
	r->status = 500;
	if (n > 0)
		httpd_response_set_body(r, body, (size_t)n < sizeof body ? (size_t)n : sizeof body - 1);
	httpd_response_add_header(r, "Content-Type", "application/json;charset=utf-8");
}

static void lhttpd_dispatch(void *ud, const struct httpd_request *req, struct httpd_response *resp)
{
	struct lhttpd_dispatch *dc = ud;
	lua_State *L = dc->L;
	int top = lua_gettop(L);
	if (!lua_checkstack(L, 16)) {
		resp->status = 500;
		return;
	}
	lua_pushcfunction(L, lhttpd_traceback);
	int msgh = lua_gettop(L);
	lua_pushcfunction(L, lhttpd_build_request);
	lua_pushlightuserdata(L, (void *)req);
	if (lua_pcall(L, 1, 1, msgh) != LUA_OK) {
		lhttpd_fail(L, resp, "building the request");
		goto out;
	}
	lua_pushvalue(L, dc->handler);
	lua_insert(L, -2);
	if (lua_pcall(L, 1, 4, msgh) != LUA_OK) {
		lhttpd_fail(L, resp, "request handler");
		goto out;
	}
	lua_pushcfunction(L, lhttpd_convert_response);
	lua_insert(L, -5);
	lua_pushlightuserdata(L, resp);
	if (lua_pcall(L, 5, 0, msgh) != LUA_OK)
		lhttpd_fail(L, resp, "request handler's answer");
out:
	lua_settop(L, top);
}

/* ---- methods ---------------------------------------------------------------------------------- */

/* poll(timeout_ms, handler) -> number of requests handled */
static int lhttpd_poll(lua_State *L)
{
	struct lhttpd *s = lhttpd_check(L, 1);
	lua_Integer ms = luaL_checkinteger(L, 2);
	luaL_checktype(L, 3, LUA_TFUNCTION);
	luaL_argcheck(L, ms >= 0 && ms <= 3600000, 2, "timeout must be 0-3600000 ms");
	if (s->busy)
		return luaL_error(L, "server:poll called from inside its own handler");
	struct lhttpd_dispatch dc = {L, 3};
	s->busy = 1;
	int n = httpd_poll(s->h, (int)ms, lhttpd_dispatch, &dc);
	s->busy = 0;
	if (n < 0)
		return lutil_fail(L, "libmicrohttpd failed while polling");
	lua_pushinteger(L, n);
	return 1;
}

static const char *const lhttpd_serve_keys[] = {"until", "interval_ms", "signals", NULL};

/* serve(handler [, { until = fn, interval_ms = 50, signals = true }]) -> reason
 * reason: "stopped" (a handler's stop flag or server:stop()), "signal" (+ "SIGINT"/"SIGTERM"), "until". */
static int lhttpd_serve(lua_State *L)
{
	struct lhttpd *s = lhttpd_check(L, 1);
	luaL_checktype(L, 2, LUA_TFUNCTION);
	int interval = 50, signals = 1, has_until = 0;
	if (!lua_isnoneornil(L, 3)) {
		luaL_checktype(L, 3, LUA_TTABLE);
		lutil_check_keys(L, 3, "server:serve", lhttpd_serve_keys);
		lua_getfield(L, 3, "interval_ms");
		lua_Integer iv = luaL_optinteger(L, -1, 50);
		luaL_argcheck(L, iv >= 0 && iv <= 60000, 3, "interval_ms must be 0-60000");
		interval = (int)iv;
		lua_getfield(L, 3, "signals");
		signals = lua_isnil(L, -1) || lua_toboolean(L, -1);
		if (lua_getfield(L, 3, "until") != LUA_TNIL) {
			luaL_checktype(L, -1, LUA_TFUNCTION);
			has_until = 1;
		}
		lua_settop(L, 3);
	}
	lua_settop(L, 3);
	if (has_until)
		lua_getfield(L, 3, "until"); /* index 4 */
	if (s->busy)
		return luaL_error(L, "server:serve called from inside its own handler");
	struct lhttpd_dispatch dc = {L, 2};
	const char *reason = "stopped";
	if (signals)
		sys_catch_signals(1);
	s->busy = 1;
	for (;;) {
		if (httpd_poll(s->h, interval, lhttpd_dispatch, &dc) < 0) {
			reason = NULL;
			break;
		}
		if (httpd_stop_requested(s->h))
			break;
		if (has_until) {
			lua_pushvalue(L, 4);
			if (lua_pcall(L, 0, 1, 0) != LUA_OK) {
				s->busy = 0;
				if (signals)
					sys_catch_signals(0);
				return lua_error(L);
			}
			int done = lua_toboolean(L, -1);
			lua_pop(L, 1);
			if (done) {
				reason = "until";
				break;
			}
		}
	}
	s->busy = 0;
	enum sys_signal sig = sys_caught_signal();
	if (signals)
		sys_catch_signals(0);
	if (!reason)
		return lutil_fail(L, "libmicrohttpd failed while serving");
	if (sig != SYS_SIGNAL_NONE && strcmp(reason, "stopped") == 0) {
		lua_pushstring(L, "signal");
		lua_pushstring(L, sys_signal_name(sig));
		return 2;
	}
	lua_pushstring(L, reason);
	return 1;
}

static int lhttpd_stop(lua_State *L)
{
	httpd_request_stop(lhttpd_check(L, 1)->h);
	return 0;
}

static int lhttpd_port(lua_State *L)
{
	lua_pushinteger(L, httpd_port(lhttpd_check(L, 1)->h));
	return 1;
}

static int lhttpd_url(lua_State *L)
{
	struct lhttpd *s = lhttpd_check(L, 1);
	const char *host = httpd_host(s->h);
	lua_pushfstring(L, strchr(host, ':') ? "http://[%s]:%d" : "http://%s:%d", host, httpd_port(s->h));
	return 1;
}

static int lhttpd_stats(lua_State *L)
{
	struct httpd_stats st;
	httpd_get_stats(lhttpd_check(L, 1)->h, &st);
	lua_createtable(L, 0, 4);
	lutil_set_integer(L, "requests", (lua_Integer)st.requests);
	lutil_set_integer(L, "dropped", (lua_Integer)st.dropped);
	lutil_set_integer(L, "too_large", (lua_Integer)st.too_large);
	lutil_set_integer(L, "connections", (lua_Integer)st.connections);
	return 1;
}

static int lhttpd_close(lua_State *L)
{
	struct lhttpd *s = luaL_checkudata(L, 1, LHTTPD_MT);
	if (s->busy)
		return luaL_error(L, "server:close called from inside its own handler");
	if (s->h) {
		httpd_close(s->h);
		s->h = NULL;
	}
	return 0;
}

static int lhttpd_tostring(lua_State *L)
{
	struct lhttpd *s = luaL_checkudata(L, 1, LHTTPD_MT);
	if (s->h)
		lua_pushfstring(L, "httpd server (%s:%d)", httpd_host(s->h), httpd_port(s->h));
	else
		lua_pushliteral(L, "httpd server (closed)");
	return 1;
}

static const luaL_Reg lhttpd_methods[] = {
	{"poll", lhttpd_poll},   {"serve", lhttpd_serve}, {"stop", lhttpd_stop},
	{"port", lhttpd_port},   {"url", lhttpd_url},     {"stats", lhttpd_stats},
	{"close", lhttpd_close}, {NULL, NULL},
};

static const luaL_Reg lhttpd_meta[] = {
	{"__gc", lhttpd_close}, {"__close", lhttpd_close}, {"__tostring", lhttpd_tostring}, {NULL, NULL},
};

static const luaL_Reg lhttpd_fns[] = {
	{"listen", lhttpd_listen},
	{NULL, NULL},
};

int luaopen_otarun_core_httpd(lua_State *L)
{
	lutil_new_class(L, LHTTPD_MT, lhttpd_meta, lhttpd_methods);
	luaL_newlib(L, lhttpd_fns);
	return 1;
}
