/*
 * The one-call half of otarun.core.sign: request_v3(facts [, into]) and request_v1(facts [, into])
 * walk the nested business parameters straight into the core's request list (sign_rq_*, no
 * intermediate flattened table) with exactly the naming and the errors of sign.flatten, then sign
 * in one C call and return everything the client sends. Also owns the number-to-text rule both
 * halves share. Uses: sign.h (sign_request.c), l_sign.h.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <lauxlib.h>
#include "l_util.h"

#include "l_sign.h"
#include "sign.h"

#define RQ_META "otarun.core.sign.request"
#define FLATTEN_MAX_DEPTH 32 /* as sign.flatten */

size_t lsign_number_text(lua_State *L, int idx, char out[LSIGN_NUMBER_SIZE], const char *fname,
                         const char *name)
{
	lua_Integer i;
	if (lua_isinteger(L, idx)) {
		i = lua_tointeger(L, idx);
	} else {
		lua_Number x = lua_tonumber(L, idx);
		if (isnan(x) || isinf(x))
			luaL_error(L, "%s: %s: %s cannot be sent; expected a finite number", fname, name,
			           isnan(x) ? "NaN" : "an infinity");
		if (!(x == floor(x) && fabs(x) < 9.2e18)) {
			for (int prec = 15; prec <= 17; prec++) {
				snprintf(out, LSIGN_NUMBER_SIZE, "%.*g", prec, (double)x);
				if (strtod(out, NULL) == (double)x)
					break;
			}
			char *e = strchr(out, 'e');
			if (e && (e[1] == '+' || e[1] == '-') && e[2] == '0') /* 1e-07 -> 1e-7 */
				memmove(e + 2, e + 3, strlen(e + 3) + 1);
			return strlen(out);
		}
		i = (lua_Integer)x;
	}
	/* decimal digits by hand: this runs for every numeric parameter of every request */
	unsigned long long u = i < 0 ? 0ULL - (unsigned long long)i : (unsigned long long)i;
	char digits[24], *w = digits + sizeof digits;
	do
		*--w = (char)('0' + u % 10);
	while (u /= 10);
	if (i < 0)
		*--w = '-';
	size_t n = (size_t)(digits + sizeof digits - w);
	memcpy(out, w, n);
	out[n] = '\0';
	return n;
}

/* ---- walking the nested parameters ----------------------------------------------------------- */

static void nomem(lua_State *L)
{
	luaL_error(L, "flatten: out of memory");
}

/* The current name for an error message (pushed, so it survives the error). */
static const char *where(lua_State *L, struct sign_rq *rq)
{
	if (rq->path.len == 0)
		return "the top level";
	return lua_pushlstring(L, rq->path.data, rq->path.len);
}

static void walk(lua_State *L, struct sign_rq *rq, int idx, int depth);

static void walk_scalar(lua_State *L, struct sign_rq *rq, int idx)
{
	size_t n;
	const char *s;
	char text[LSIGN_NUMBER_SIZE];
	int copy = 0;
	switch (lua_type(L, idx)) {
	case LUA_TSTRING: s = lua_tolstring(L, idx, &n); break; /* the caller's table holds it */
	case LUA_TBOOLEAN:
		s = lua_toboolean(L, idx) ? "true" : "false";
		n = strlen(s);
		break;
	case LUA_TNUMBER:
		if (!lua_isinteger(L, idx) && !isfinite(lua_tonumber(L, idx)))
			lsign_number_text(L, idx, text, "flatten", where(L, rq)); /* raises */
		n = lsign_number_text(L, idx, text, "flatten", "");
		s = text, copy = 1;
		break;
	default:
		luaL_error(L, "flatten: %s: value is a %s; expected a string, number or boolean",
		           where(L, rq), luaL_typename(L, idx));
		return;
	}
	if (sign_rq_add_value(rq, s, n, copy))
		nomem(L);
}

/* A list: Key.1, Key.2, ...; a nil item is skipped but keeps its index. Checked whole before any
 * item is walked, so that the first error is the one flatten reports. */
static void walk_list(lua_State *L, struct sign_rq *rq, int idx, lua_Integer n, int depth)
{
	if (!lutil_is_list(L, idx, n))
		luaL_error(L, "flatten: %s mixes list items and named fields", where(L, rq));
	for (lua_Integer i = 1; i <= n; i++) {
		size_t mark;
		if (lua_rawgeti(L, idx, i) != LUA_TNIL) {
			if (sign_rq_path_index(rq, (unsigned long long)i, &mark))
				nomem(L);
			walk(L, rq, lua_gettop(L), depth + 1);
			sign_rq_path_pop(rq, mark);
		}
		lua_pop(L, 1);
	}
}

static void walk_fields(lua_State *L, struct sign_rq *rq, int idx, int depth)
{
	lua_pushnil(L);
	while (lua_next(L, idx)) {
		if (lua_type(L, -2) != LUA_TSTRING)
			luaL_error(L, "flatten: field names in %s must be strings (got a %s)",
			           where(L, rq), luaL_typename(L, -2));
		size_t kn, mark;
		const char *k = lua_tolstring(L, -2, &kn);
		if (sign_rq_path_name(rq, k, kn, &mark))
			nomem(L);
		walk(L, rq, lua_gettop(L), depth + 1);
		sign_rq_path_pop(rq, mark);
		lua_pop(L, 1);
	}
}

static void walk(lua_State *L, struct sign_rq *rq, int idx, int depth)
{
	int t = lua_type(L, idx);
	if (t == LUA_TNIL || (t == LUA_TLIGHTUSERDATA && lua_touserdata(L, idx) == NULL))
		return; /* nil and cjson.null are not sent */
	if (t != LUA_TTABLE) {
		walk_scalar(L, rq, idx);
		return;
	}
	if (depth > FLATTEN_MAX_DEPTH)
		luaL_error(L, "flatten: %s nests deeper than %d levels (a cycle?)", where(L, rq),
		           FLATTEN_MAX_DEPTH);
	luaL_checkstack(L, 8, "flatten");
	lua_Integer n = (lua_Integer)lua_rawlen(L, idx);
	if (n > 0 && depth == 0)
		luaL_error(L, "flatten: the top level must be a table of named parameters, not a list");
	if (n > 0)
		walk_list(L, rq, idx, n, depth);
	else
		walk_fields(L, rq, idx, depth);
}

/* ---- facts and results ----------------------------------------------------------------------- */

/*
 * Field names, interned once and kept in upvalue 2 (an array): looking a key up by a C string
 * costs a string-cache probe and a strcmp per field, which adds up over twenty fields per request.
 */
enum {
	K_METHOD = 1, K_HOST, K_ACTION, K_VERSION, K_DATE, K_NONCE, K_ACCESS_KEY_ID, K_SECRET,
	K_TOKEN, K_BODY, K_CONTENT_TYPE, K_FORMAT, K_PARAMS,
	K_QUERY, K_CANONICAL_REQUEST, K_STRING_TO_SIGN, K_SIGNATURE, K_SIGNED_HEADERS,
	K_AUTHORIZATION, K_CONTENT_SHA256, K_COUNT
};
static const char *const key_names[K_COUNT] = {
	NULL, "method", "host", "action", "version", "date", "nonce", "access_key_id", "secret",
	"token", "body", "content_type", "format", "params",
	"query", "canonical_request", "string_to_sign", "signature", "signed_headers",
	"authorization", "content_sha256",
};
#define KEYS lua_upvalueindex(2)
#define FACTS_ARG 1
#define INTO_ARG 2
#define RESULT_SLOTS 16 /* the results, plus room for the fields the client adds (url, ...) */

/* facts[key] as a slice (left on the stack, so it stays alive); p is NULL for an absent optional
 * field. */
static struct sign_slice field(lua_State *L, const char *fname, int key, int required)
{
	struct sign_slice s = {NULL, 0};
	lua_rawgeti(L, KEYS, key);
	int t = lua_rawget(L, FACTS_ARG);
	if (t == LUA_TSTRING)
		s.p = lua_tolstring(L, -1, &s.n);
	else if (t != LUA_TNIL || required)
		luaL_error(L, "%s: facts.%s must be a string (got %s)", fname, key_names[key],
		           luaL_typename(L, -1));
	return s;
}

/* Reads the facts (raw fields of the table at 1) and walks facts.params into the request. */
static struct sign_rq *prepare(lua_State *L, const char *fname, struct sign_rq_facts *f)
{
	luaL_checktype(L, FACTS_ARG, LUA_TTABLE);
	if (!lua_isnoneornil(L, INTO_ARG))
		luaL_checktype(L, INTO_ARG, LUA_TTABLE);
	lua_settop(L, INTO_ARG);
	luaL_checkstack(L, K_COUNT + 8, fname);
	static const unsigned required = 1u << K_ACTION | 1u << K_VERSION | 1u << K_DATE | 1u << K_NONCE |
	                                 1u << K_ACCESS_KEY_ID | 1u << K_SECRET;
	struct sign_slice *const slots[] = {&f->method, &f->host, &f->action, &f->version, &f->date,
		&f->nonce, &f->access_key_id, &f->secret, &f->token, &f->body, &f->content_type, &f->format};
	for (int k = K_METHOD; k <= K_FORMAT; k++) /* slots in the order of the K_ names */
		*slots[k - K_METHOD] = field(L, fname, k, (required >> k) & 1);
	lua_rawgeti(L, KEYS, K_PARAMS);
	int t = lua_rawget(L, FACTS_ARG);
	if (t != LUA_TNIL && t != LUA_TTABLE)
		luaL_error(L, "%s: facts.params must be a table of parameters (got %s)", fname,
		           luaL_typename(L, -1));
	struct sign_rq *rq = lua_touserdata(L, lua_upvalueindex(1));
	sign_rq_reset(rq);
	if (t == LUA_TTABLE)
		walk(L, rq, lua_gettop(L), 0);
	return rq;
}

static void push_result(lua_State *L)
{
	if (lua_istable(L, INTO_ARG))
		lua_pushvalue(L, INTO_ARG);
	else
		lua_createtable(L, 0, RESULT_SLOTS);
}

static void set_string(lua_State *L, int key, const char *s, size_t n)
{
	lua_rawgeti(L, KEYS, key);
	lua_pushlstring(L, s, n);
	lua_rawset(L, -3);
}

static int fail(lua_State *L, const char *fname, int rc)
{
	lua_pushnil(L);
	lua_pushfstring(L, "%s: %s", fname, sign_strerror(rc));
	return 2;
}

/* request_v3{ method=, host=, action=, version=, date=, nonce=, params=, body=, content_type=,
 *             access_key_id=, secret=, token= } [, into]
 * -> into or a new table { query, canonical_request, string_to_sign, signature, signed_headers,
 *    authorization, content_sha256 } */
static int l_request_v3(lua_State *L)
{
	struct sign_rq_facts f;
	struct sign_rq *rq = prepare(L, "request_v3", &f);
	if (!f.host.p)
		return luaL_error(L, "request_v3: facts.host must be a string (got nil)");
	int rc = sign_rq_v3(rq, &f);
	if (rc)
		return fail(L, "request_v3", rc);
	push_result(L);
	set_string(L, K_QUERY, rq->out.data + rq->query_off, rq->query_len);
	set_string(L, K_CANONICAL_REQUEST, rq->out.data, rq->out.len);
	set_string(L, K_STRING_TO_SIGN, rq->string_to_sign.data, rq->string_to_sign.len);
	set_string(L, K_SIGNATURE, rq->signature, 64);
	set_string(L, K_CONTENT_SHA256, rq->content_sha256, 64);
	set_string(L, K_SIGNED_HEADERS, rq->signed_headers, strlen(rq->signed_headers));
	set_string(L, K_AUTHORIZATION, rq->authorization.data, rq->authorization.len);
	return 1;
}

/* request_v1{ method=, action=, version=, date=, nonce=, params=, format=, access_key_id=,
 *             secret=, token= } [, into]
 * -> into or a new table { query (the wire query, Signature last), string_to_sign, signature } */
static int l_request_v1(lua_State *L)
{
	struct sign_rq_facts f;
	struct sign_rq *rq = prepare(L, "request_v1", &f);
	int rc = sign_rq_v1(rq, &f);
	if (rc == SIGN_EINVAL)
		return luaL_error(L, "request_v1: parameter %s is set by the signer and cannot be passed",
		                  lua_pushlstring(L, rq->conflict->key, rq->conflict->key_len));
	if (rc)
		return fail(L, "request_v1", rc);
	push_result(L);
	set_string(L, K_QUERY, rq->out.data, rq->out.len);
	set_string(L, K_STRING_TO_SIGN, rq->string_to_sign.data, rq->string_to_sign.len);
	set_string(L, K_SIGNATURE, rq->signature, strlen(rq->signature));
	return 1;
}

static int rq_gc(lua_State *L)
{
	sign_rq_free(luaL_checkudata(L, 1, RQ_META));
	return 0;
}

void lsign_request_open(lua_State *L)
{
	static const luaL_Reg fns[] = {
		{"request_v3", l_request_v3},
		{"request_v1", l_request_v1},
		{NULL, NULL},
	};
	struct sign_rq *rq = lua_newuserdatauv(L, sizeof *rq, 0);
	sign_rq_init(rq);
	if (luaL_newmetatable(L, RQ_META)) {
		lua_pushcfunction(L, rq_gc);
		lua_setfield(L, -2, "__gc");
	}
	lua_setmetatable(L, -2);
	lua_createtable(L, K_COUNT - 1, 0);
	for (int k = 1; k < K_COUNT; k++) {
		lua_pushstring(L, key_names[k]);
		lua_rawseti(L, -2, k);
	}
	luaL_setfuncs(L, fns, 2);
}
