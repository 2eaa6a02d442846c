/*
 * otarun.core.sign: the Lua face of the signer core (sign.h). Converts Lua tables and scalars to
 * parameter lists and back; all signing logic stays in sign.c / sign_v3.c. Also owns flatten(),
 * which turns nested Lua request tables into the SDK's Key.N.Sub wire names (reference 1.5).
 * Working buffers live in one userdata shared by the functions as an upvalue, so a signature
 * costs no malloc once they have grown, and a Lua error mid-call leaks nothing. The client's
 * one-call signers (request_v3, request_v1) live in l_sign_request.c (l_sign.h).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <lauxlib.h>
#include "l_util.h"

#include "l_sign.h"
#include "sign.h"

#define STATE_META "otarun.core.sign.state"
#define FLATTEN_MAX_DEPTH 32

struct state {
	struct sign_v1 v1;
	struct sign_v3 v3;
	struct sign_params params, headers;
	struct sign_buf buf;
};

static struct state *state_of(lua_State *L)
{
	return lua_touserdata(L, lua_upvalueindex(1));
}

static int state_gc(lua_State *L)
{
	struct state *st = luaL_checkudata(L, 1, STATE_META);
	sign_v1_free(&st->v1);
	sign_v3_free(&st->v3);
	sign_params_free(&st->params);
	sign_params_free(&st->headers);
	sign_buf_free(&st->buf);
	return 0;
}

/* nil, message for environmental failures (memory, OpenSSL); never mentions a secret */
static int fail(lua_State *L, int rc, const char *what)
{
	lua_pushnil(L);
	lua_pushfstring(L, "%s: %s", what, sign_strerror(rc));
	return 2;
}

/* ---- scalar conversion, as the SDK's toString() would do it --------------------------------- */

static void push_number_text(lua_State *L, int idx, const char *fname, const char *name)
{
	char text[LSIGN_NUMBER_SIZE];
	size_t n = lsign_number_text(L, idx, text, fname, name);
	lua_pushlstring(L, text, n);
}

/* Pushes the string form of the scalar at idx, or raises naming the function and the name. */
static void push_scalar_text(lua_State *L, int idx, const char *fname, const char *name)
{
	switch (lua_type(L, idx)) {
	case LUA_TSTRING: lua_pushvalue(L, idx); break;
	case LUA_TNUMBER: push_number_text(L, idx, fname, name); break;
	case LUA_TBOOLEAN: lua_pushstring(L, lua_toboolean(L, idx) ? "true" : "false"); break;
	case LUA_TTABLE:
		luaL_error(L, "%s: %s: value is a table; flatten it first (sign.flatten)", fname, name);
		break;
	default:
		luaL_error(L, "%s: %s: value is a %s; expected a string, number or boolean", fname,
		           name, luaL_typename(L, idx));
	}
}

/* The bytes of the scalar at idx; a converted value is anchored in the table at `anchor`. */
static const char *scalar_bytes(lua_State *L, int idx, int anchor, int *anchored, size_t *len,
                                const char *fname, const char *name)
{
	if (lua_type(L, idx) == LUA_TSTRING)
		return lua_tolstring(L, idx, len); /* already held by the caller's table */
	push_scalar_text(L, idx, fname, name);
	const char *s = lua_tolstring(L, -1, len);
	lua_rawseti(L, anchor, ++*anchored);
	return s;
}

/*
 * Fills p from the name->scalar table at idx (with `lists`, a value may also be a list of scalars,
 * one pair each: a header with several values). Converted values are kept alive in a fresh table
 * left on the stack (so the borrowed pointers stay valid until the caller returns). Errors name
 * fname and the item ("parameter", "header").
 */
static int load_pairs(lua_State *L, int idx, struct sign_params *p, const char *fname, const char *item,
                      int lists)
{
	sign_params_reset(p);
	lua_newtable(L);
	int anchor = lua_gettop(L), n = 0;
	const char *vname = lists ? lua_pushfstring(L, "%s: %s", fname, item) : fname;
	lua_pushnil(L);
	while (lua_next(L, idx)) {
		if (lua_type(L, -2) != LUA_TSTRING)
			return luaL_error(L, "%s: %s names must be strings (got a %s)", fname, item,
			                  luaL_typename(L, -2));
		size_t kn, vn;
		const char *k = lua_tolstring(L, -2, &kn);
		int list = lists && lua_istable(L, -1);
		lua_Integer count = list ? (lua_Integer)lua_rawlen(L, -1) : 1;
		for (lua_Integer i = 1; i <= count; i++) {
			if (list)
				lua_rawgeti(L, -1, i);
			else
				lua_pushvalue(L, -1);
			const char *v = scalar_bytes(L, -1, anchor, &n, &vn, vname, k);
			lua_pop(L, 1); /* a string item stays alive in the caller's table */
			if (sign_params_add(p, k, kn, v, vn))
				return SIGN_ENOMEM;
		}
		lua_pop(L, 1);
	}
	if (lists)
		lua_pop(L, 1); /* vname; the anchor table stays */
	return SIGN_OK;
}

/* ---- encoding -------------------------------------------------------------------------------- */

static int l_percent_encode(lua_State *L)
{
	size_t n;
	const char *s = luaL_checklstring(L, 1, &n);
	struct state *st = state_of(L);
	sign_buf_reset(&st->buf);
	int rc = sign_percent_encode(&st->buf, s, n);
	if (rc)
		return fail(L, rc, "percent_encode");
	lua_pushlstring(L, st->buf.data, st->buf.len);
	return 1;
}

/* percent_decode(s [, form=true]): form decoding turns '+' into a space */
static int l_percent_decode(lua_State *L)
{
	size_t n, at = 0;
	const char *s = luaL_checklstring(L, 1, &n);
	int form = lua_isnoneornil(L, 2) ? 1 : lua_toboolean(L, 2);
	struct state *st = state_of(L);
	sign_buf_reset(&st->buf);
	int rc = sign_percent_decode(&st->buf, s, n, form, &at);
	if (rc == SIGN_EINVAL) {
		lua_pushnil(L);
		lua_pushfstring(L, "malformed percent escape at byte %d: '%%' must be followed by two "
		                   "hex digits", (int)at + 1);
		return 2;
	}
	if (rc)
		return fail(L, rc, "percent_decode");
	lua_pushlstring(L, st->buf.data, st->buf.len);
	return 1;
}

static int l_canonical_query(lua_State *L)
{
	luaL_checktype(L, 1, LUA_TTABLE);
	struct state *st = state_of(L);
	int rc = load_pairs(L, 1, &st->params, "canonical_query", "parameter", 0);
	sign_params_sort(&st->params);
	sign_buf_reset(&st->buf);
	if (rc == SIGN_OK)
		rc = sign_canonical_query(&st->buf, &st->params, NULL);
	if (rc)
		return fail(L, rc, "canonical_query");
	lua_pushlstring(L, st->buf.data, st->buf.len);
	return 1;
}

/* ---- signatures ------------------------------------------------------------------------------ */

/* v1(method, params, secret) -> signature, string_to_sign */
static int l_v1(lua_State *L)
{
	const char *method = luaL_checkstring(L, 1);
	luaL_checktype(L, 2, LUA_TTABLE);
	size_t sn;
	const char *secret = luaL_checklstring(L, 3, &sn);
	struct state *st = state_of(L);
	int rc = load_pairs(L, 2, &st->params, "v1", "parameter", 0);
	if (rc == SIGN_OK)
		rc = sign_v1_compute(&st->v1, method, &st->params, secret, sn);
	if (rc)
		return fail(L, rc, "v1");
	lua_pushstring(L, st->v1.signature);
	lua_pushlstring(L, st->v1.string_to_sign.data, st->v1.string_to_sign.len);
	return 2;
}

/* Leaves the names to sign in st->buf: a string is used as received, a list is joined by ';'. */
static const char *signed_names_arg(lua_State *L, int idx, struct state *st, size_t *len)
{
	if (lua_isnoneornil(L, idx))
		return NULL;
	if (lua_type(L, idx) == LUA_TSTRING)
		return lua_tolstring(L, idx, len);
	luaL_argexpected(L, lua_istable(L, idx), idx, "list of header names, string or nil");
	lua_Integer n = (lua_Integer)lua_rawlen(L, idx);
	for (lua_Integer i = 1; i <= n; i++) {
		lua_rawgeti(L, idx, i);
		const char *name = lua_tostring(L, -1);
		if (lua_type(L, -1) != LUA_TSTRING || !*name || strchr(name, ';'))
			luaL_argerror(L, idx, lua_pushfstring(L, "item %d must be a non-empty header "
			                                         "name without ';'", (int)i));
		lua_pop(L, 1);
	}
	sign_buf_reset(&st->buf);
	for (lua_Integer i = 1; i <= n; i++) {
		lua_rawgeti(L, idx, i);
		size_t kn;
		const char *name = lua_tolstring(L, -1, &kn);
		int rc = (i > 1 && sign_buf_append_char(&st->buf, ';')) ||
		         sign_buf_append(&st->buf, name, kn);
		lua_pop(L, 1);
		if (rc)
			luaL_error(L, "v3: out of memory");
	}
	*len = st->buf.len;
	return st->buf.data ? st->buf.data : "";
}

/* v3(method, params, headers, body, secret [, names]) -> signature, string_to_sign,
 * canonical_request, signed_headers */
static int l_v3(lua_State *L)
{
	const char *method = luaL_checkstring(L, 1);
	luaL_checktype(L, 2, LUA_TTABLE);
	luaL_checktype(L, 3, LUA_TTABLE);
	size_t bn = 0, sn, nn = 0;
	const char *body = luaL_optlstring(L, 4, "", &bn);
	const char *secret = luaL_checklstring(L, 5, &sn);
	struct state *st = state_of(L);
	const char *names = signed_names_arg(L, 6, st, &nn);
	int rc = load_pairs(L, 2, &st->params, "v3", "parameter", 0);
	if (rc == SIGN_OK)
		rc = load_pairs(L, 3, &st->headers, "v3", "header", 1);
	if (rc == SIGN_OK)
		rc = sign_v3_compute(&st->v3, method, &st->params, &st->headers, names, nn, body, bn,
		                     secret, sn);
	if (rc == SIGN_EINVAL) {
		lua_pushnil(L);
		lua_pushstring(L, "v3: signed header names must be non-empty and separated by ';' "
		                  "(e.g. host;x-acs-date)");
		return 2;
	}
	if (rc)
		return fail(L, rc, "v3");
	struct sign_v3 *v3 = &st->v3;
	lua_pushstring(L, v3->signature);
	lua_pushlstring(L, v3->string_to_sign.data, v3->string_to_sign.len);
	lua_pushlstring(L, v3->canonical_request.data, v3->canonical_request.len);
	lua_pushlstring(L, v3->signed_headers.data, v3->signed_headers.len);
	return 4;
}

static int l_authorization(lua_State *L)
{
	const char *id = luaL_checkstring(L, 1);
	const char *names = luaL_checkstring(L, 2);
	const char *sig = luaL_checkstring(L, 3);
	struct state *st = state_of(L);
	sign_buf_reset(&st->buf);
	int rc = sign_v3_authorization(&st->buf, id, names, sig);
	if (rc)
		return fail(L, rc, "authorization");
	lua_pushlstring(L, st->buf.data, st->buf.len);
	return 1;
}

static int l_parse_authorization(lua_State *L)
{
	size_t n;
	const char *value = luaL_checklstring(L, 1, &n);
	struct sign_v3_auth a;
	const char *why = "malformed";
	if (sign_v3_parse_authorization(value, n, &a, &why)) {
		lua_pushnil(L);
		lua_pushfstring(L, "Authorization header: %s", why);
		return 2;
	}
	lua_createtable(L, 0, 3);
	lua_pushlstring(L, a.credential, a.credential_len);
	lua_setfield(L, -2, "credential");
	lua_pushlstring(L, a.signed_headers, a.signed_headers_len);
	lua_setfield(L, -2, "signed_headers");
	lua_pushlstring(L, a.signature, a.signature_len);
	lua_setfield(L, -2, "signature");
	return 1;
}

/* ---- helpers --------------------------------------------------------------------------------- */

static int l_sha256_hex(lua_State *L)
{
	size_t n;
	const char *s = luaL_checklstring(L, 1, &n);
	char hex[SIGN_SHA256_HEX_SIZE];
	int rc = sign_sha256_hex(hex, s, n);
	if (rc)
		return fail(L, rc, "sha256_hex");
	lua_pushstring(L, hex);
	return 1;
}

/* key, message -> the MAC as text: the two HMACs differ only in the core function and the size
 * of `out` */
typedef int (*mac_fn)(char *out, const void *key, size_t key_len, const void *data, size_t n);

static int push_mac(lua_State *L, mac_fn mac, char *out, const char *what)
{
	size_t kn, n;
	const char *key = luaL_checklstring(L, 1, &kn);
	const char *s = luaL_checklstring(L, 2, &n);
	int rc = mac(out, key, kn, s, n);
	if (rc)
		return fail(L, rc, what);
	lua_pushstring(L, out);
	return 1;
}

static int l_hmac_sha1_base64(lua_State *L)
{
	char out[SIGN_SHA1_B64_SIZE];
	return push_mac(L, sign_hmac_sha1_base64, out, "hmac_sha1_base64");
}

static int l_hmac_sha256_hex(lua_State *L)
{
	char out[SIGN_SHA256_HEX_SIZE];
	return push_mac(L, sign_hmac_sha256_hex, out, "hmac_sha256_hex");
}

static int l_equal(lua_State *L)
{
	size_t an, bn;
	const char *a = luaL_checklstring(L, 1, &an);
	const char *b = luaL_checklstring(L, 2, &bn);
	lua_pushboolean(L, sign_equal(a, an, b, bn));
	return 1;
}

/* timestamp([epoch]) -> "yyyy-MM-ddTHH:mm:ssZ"; now when epoch is nil */
static int l_timestamp(lua_State *L)
{
	time_t t = lua_isnoneornil(L, 1) ? time(NULL) : (time_t)luaL_checkinteger(L, 1);
	char out[SIGN_TIMESTAMP_SIZE];
	if (sign_timestamp_format(out, t))
		return luaL_argerror(L, 1, "epoch outside years 0000..9999");
	lua_pushstring(L, out);
	return 1;
}

static int l_parse_timestamp(lua_State *L)
{
	size_t n;
	const char *s = luaL_checklstring(L, 1, &n);
	time_t t;
	const char *why = "malformed";
	if (sign_timestamp_parse(s, n, &t, &why)) {
		lua_pushnil(L);
		lua_pushfstring(L, "bad timestamp \"%s\": %s", s, why);
		return 2;
	}
	lua_pushinteger(L, (lua_Integer)t);
	return 1;
}

static int l_nonce(lua_State *L)
{
	char out[SIGN_NONCE_SIZE];
	int rc = sign_nonce(out);
	if (rc)
		return fail(L, rc, "nonce");
	lua_pushstring(L, out);
	return 1;
}

/* ---- flatten (reference 1.5) ----------------------------------------------------------------- */

static void flatten_into(lua_State *L, int out, int value, int prefix, int depth);

/* Recurses on the value on top of the stack under prefix name (at the top - 1), then pops both. */
static void flatten_child(lua_State *L, int out, int depth)
{
	int top = lua_gettop(L);
	flatten_into(L, out, top, top - 1, depth + 1);
	lua_settop(L, top - 2);
}

static void flatten_table(lua_State *L, int out, int value, int prefix, int depth)
{
	const char *where = prefix ? lua_tostring(L, prefix) : "the top level";
	lua_Integer n = (lua_Integer)lua_rawlen(L, value);
	if (n > 0 && !prefix)
		luaL_error(L, "flatten: the top level must be a table of named parameters, not a list");
	if (n > 0 && !lutil_is_list(L, value, n))
		luaL_error(L, "flatten: %s mixes list items and named fields", where);
	if (n == 0)
		for (lua_pushnil(L); lua_next(L, value); lua_pop(L, 1))
			if (lua_type(L, -2) != LUA_TSTRING)
				luaL_error(L, "flatten: field names in %s must be strings (got a %s)", where,
				           luaL_typename(L, -2));
	if (n > 0) {
		for (lua_Integer i = 1; i <= n; i++) {
			lua_pushfstring(L, "%s.%I", where, (LUAI_UACINT)i);
			lua_rawgeti(L, value, i);
			flatten_child(L, out, depth); /* a nil item is skipped; its index is still used */
		}
		return;
	}
	lua_pushnil(L);
	while (lua_next(L, value)) {
		if (prefix)
			lua_pushfstring(L, "%s.%s", where, lua_tostring(L, -2));
		else
			lua_pushvalue(L, -2);
		lua_insert(L, -2);
		flatten_child(L, out, depth);
	}
}

static void flatten_into(lua_State *L, int out, int value, int prefix, int depth)
{
	luaL_checkstack(L, 8, "flatten");
	int t = lua_type(L, value);
	if (t == LUA_TNIL || (t == LUA_TLIGHTUSERDATA && lua_touserdata(L, value) == NULL))
		return; /* nil and cjson.null are not sent */
	if (t == LUA_TTABLE) {
		if (depth > FLATTEN_MAX_DEPTH)
			luaL_error(L, "flatten: %s nests deeper than %d levels (a cycle?)",
			           prefix ? lua_tostring(L, prefix) : "the top level", FLATTEN_MAX_DEPTH);
		flatten_table(L, out, value, prefix, depth);
		return;
	}
	if (!prefix)
		luaL_argexpected(L, 0, 1, "table");
	lua_pushvalue(L, prefix);
	push_scalar_text(L, value, "flatten", lua_tostring(L, prefix));
	lua_rawset(L, out);
}

/* flatten(tbl) -> { ["Tag.1.Key"] = "env", ... } */
static int l_flatten(lua_State *L)
{
	luaL_checktype(L, 1, LUA_TTABLE);
	lua_settop(L, 1);
	lua_newtable(L);
	flatten_into(L, 2, 1, 0, 0);
	return 1;
}

static const luaL_Reg sign_funcs[] = {
	{"percent_encode", l_percent_encode},
	{"percent_decode", l_percent_decode},
	{"canonical_query", l_canonical_query},
	{"v1", l_v1},
	{"v3", l_v3},
	{"authorization", l_authorization},
	{"parse_authorization", l_parse_authorization},
	{"sha256_hex", l_sha256_hex},
	{"hmac_sha1_base64", l_hmac_sha1_base64},
	{"hmac_sha256_hex", l_hmac_sha256_hex},
	{"equal", l_equal},
	{"timestamp", l_timestamp},
	{"parse_timestamp", l_parse_timestamp},
	{"nonce", l_nonce},
	{"flatten", l_flatten},
	{NULL, NULL},
};

int luaopen_otarun_core_sign(lua_State *L)
{
	luaL_newlibtable(L, sign_funcs);
	struct state *st = lua_newuserdatauv(L, sizeof *st, 0);
	sign_v1_init(&st->v1);
	sign_v3_init(&st->v3);
	sign_params_init(&st->params);
	sign_params_init(&st->headers);
	sign_buf_init(&st->buf);
	if (luaL_newmetatable(L, STATE_META)) {
		lua_pushcfunction(L, state_gc);
		lua_setfield(L, -2, "__gc");
	}
	lua_setmetatable(L, -2);
	luaL_setfuncs(L, sign_funcs, 1);
	lsign_request_open(L);
	return 1;
}
