/* otarun.core.json: the table walk of otarun's one JSON writer (lua/otarun/json.lua owns the API
 * and says what the text looks like; docs/architecture.md, "JSON"). Walks a Lua value and writes
 * its text through the byte-level core (jsonw.c): marked arrays and objects, lazy values whose
 * text a function writes, deferred values a function makes when the walk reaches them, ranked
 * keys first, then the rest in byte order. Uses: jsonw.h. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <lauxlib.h>
#include <lualib.h>
#include "jsonw.h"
#include "l_util.h"

/* upvalues of encode / write / quote */
#define UP_RANK lua_upvalueindex(1)
#define UP_ARRAY lua_upvalueindex(2)
#define UP_OBJECT lua_upvalueindex(3)
#define UP_LAZY lua_upvalueindex(4)
#define UP_DEFER lua_upvalueindex(5)
#define UP_GENERATED lua_upvalueindex(6)
#define UP_NULL lua_upvalueindex(7)

#define JSON_MAX_DEPTH 64
#define JSON_FLUSH (64 * 1024) /* write(): bytes handed to the sink at a time */
#define JSON_STATE "otarun.json.state"

struct json_key {
	const char *s; /* the key's text: a string anchored on the Lua stack at slot */
	size_t len;
	int rank;      /* position in the fixed ORDER, 0 for none */
	int slot;
};

struct json_state {
	struct jw_buf b;
	struct json_key *keys;
	size_t nkeys, capkeys;
	const char *indent, *pad; /* pad: "\n" and the indent JSON_MAX_DEPTH + 1 times */
	size_t indent_len;
	int sorted, empty_object, dead;
	FILE *file;          /* write() to a file_sink: its file, written directly */
	int omit, sink, put; /* stack slots: omit function, sink function, the put closure (0: none) */
};

static int json_state_gc(lua_State *L)
{
	struct json_state *st = luaL_checkudata(L, 1, JSON_STATE);
	jw_free(&st->b);
	if (st->keys)
		st->b.alloc(st->b.ud, st->keys, st->capkeys * sizeof *st->keys, 0);
	st->keys = NULL;
	st->dead = 1;
	return 0;
}

static void json_raise(lua_State *L, const char *msg)
{
	lua_pushstring(L, msg);
	lua_error(L);
}

static void json_check_mem(lua_State *L, struct json_state *st)
{
	if (st->b.failed)
		json_raise(L, "not enough memory for the JSON text");
}

/* write(): hands the buffer to sink({ text }, 1) once it holds JSON_FLUSH bytes (force: any) */
static void json_flush(lua_State *L, struct json_state *st, int force)
{
	if (!st->sink || st->b.len == 0 || (!force && st->b.len < JSON_FLUSH))
		return;
	if (st->file) {
		/* as the sink would: fh:write, its failure not raised */
		(void)!fwrite(st->b.p, 1, st->b.len, st->file);
		st->b.len = 0;
		return;
	}
	lua_pushvalue(L, st->sink);
	lua_createtable(L, 1, 0);
	lua_pushlstring(L, st->b.p, st->b.len);
	lua_rawseti(L, -2, 1);
	lua_pushinteger(L, 1);
	st->b.len = 0;
	lua_call(L, 2, 0);
}

static void json_newline(struct json_state *st, int depth, int comma)
{
	if (comma)
		jw_putc(&st->b, ',');
	if (st->indent)
		jw_put(&st->b, st->pad, 1 + st->indent_len * (size_t)depth);
}

/* The metatable as getmetatable() sees it (__metatable stands in), pushed; 0 when none. */
static int json_push_mt(lua_State *L, int t)
{
	if (!lua_getmetatable(L, t))
		return 0;
	if (lua_getfield(L, -1, "__metatable") != LUA_TNIL) {
		lua_remove(L, -2);
		return 1;
	}
	lua_pop(L, 1);
	return 1;
}

static void json_value(lua_State *L, struct json_state *st, int idx, int depth);

/* put(piece): a lazy value's writer; valid only while its encode runs */
static int json_put(lua_State *L)
{
	struct json_state *st = lua_touserdata(L, lua_upvalueindex(1));
	if (st->dead)
		return luaL_error(L, "a JSON lazy value's put was called after its encode ended");
	size_t n;
	const char *s = luaL_checklstring(L, 1, &n);
	jw_put(&st->b, s, n);
	json_check_mem(L, st);
	json_flush(L, st, 0);
	return 0;
}

/* An unmarked table: an array when its keys are exactly 1..n (n > 0); empty: an array, or an
 * object with empty_object. */
static int json_is_array(lua_State *L, struct json_state *st, int t)
{
	int first = lua_geti(L, t, 1);
	lua_pop(L, 1);
	if (first == LUA_TNIL) {
		lua_pushnil(L);
		if (lua_next(L, t)) {
			lua_pop(L, 2);
			return 0;
		}
		return !st->empty_object;
	}
	lua_Integer n = luaL_len(L, t), count = 0;
	lua_pushnil(L);
	while (lua_next(L, t)) {
		lua_pop(L, 1);
		if (!lua_isinteger(L, -1)) {
			lua_pop(L, 1);
			return 0;
		}
		lua_Integer k = lua_tointeger(L, -1);
		if (k < 1 || k > n) {
			lua_pop(L, 1);
			return 0;
		}
		count++;
	}
	return count == n;
}

static void json_array(lua_State *L, struct json_state *st, int t, int depth)
{
	lua_Integer n = luaL_len(L, t);
	if (n <= 0) {
		jw_put(&st->b, "[]", 2);
		return;
	}
	jw_putc(&st->b, '[');
	for (lua_Integer i = 1; i <= n; i++) {
		json_newline(st, depth + 1, i > 1);
		lua_geti(L, t, i);
		json_value(L, st, lua_gettop(L), depth + 1);
		lua_pop(L, 1);
	}
	json_newline(st, depth, 0);
	jw_putc(&st->b, ']');
}

/* A generated array: t.n values, the i-th from t.fn(i), each written before the next is made. */
static void json_generated(lua_State *L, struct json_state *st, int t, int depth)
{
	lua_getfield(L, t, "n");
	lua_Integer n = lua_tointeger(L, -1);
	lua_getfield(L, t, "fn");
	int fn = lua_gettop(L);
	if (n <= 0) {
		jw_put(&st->b, "[]", 2);
		lua_pop(L, 2);
		return;
	}
	jw_putc(&st->b, '[');
	for (lua_Integer i = 1; i <= n; i++) {
		json_newline(st, depth + 1, i > 1);
		lua_pushvalue(L, fn);
		lua_pushinteger(L, i);
		lua_call(L, 1, 1);
		json_value(L, st, lua_gettop(L), depth + 1);
		lua_pop(L, 1);
	}
	json_newline(st, depth, 0);
	jw_putc(&st->b, ']');
	lua_pop(L, 2);
}

static int json_omitted(lua_State *L, struct json_state *st, const char *k, size_t len)
{
	if (!st->omit)
		return 0;
	lua_pushvalue(L, st->omit);
	lua_pushlstring(L, k, len);
	lua_call(L, 1, 1);
	int r = lua_toboolean(L, -1);
	lua_pop(L, 1);
	return r;
}

static struct json_key *json_new_key(lua_State *L, struct json_state *st)
{
	if (st->nkeys == st->capkeys) {
		size_t cap = st->capkeys ? st->capkeys * 2 : 64;
		void *p = st->b.alloc(st->b.ud, st->keys, st->capkeys * sizeof *st->keys, cap * sizeof *st->keys);
		if (!p)
			json_raise(L, "not enough memory for the JSON text");
		st->keys = p;
		st->capkeys = cap;
	}
	return &st->keys[st->nkeys++];
}

/* Collects the table's keys from st->keys[base] on, leaving out omitted ones; each key's text is
 * pushed (anchored) on the stack, in the order found. */
static void json_collect_keys(lua_State *L, struct json_state *st, int t)
{
	lua_pushnil(L);
	while (lua_next(L, t)) {
		lua_pop(L, 1);
		luaL_checkstack(L, 4, "JSON object too large");
		int kt = lua_type(L, -1);
		if (kt == LUA_TSTRING) {
			lua_pushvalue(L, -1);
		} else if (kt == LUA_TNUMBER) {
			/* tostring's text: "%d", or "%.14g" with ".0" when it looks like an integer */
			char num[64];
			int n;
			if (lua_isinteger(L, -1))
				n = snprintf(num, sizeof num, LUA_INTEGER_FMT, (LUAI_UACINT)lua_tointeger(L, -1));
			else {
				n = snprintf(num, sizeof num, LUA_NUMBER_FMT, (LUAI_UACNUMBER)lua_tonumber(L, -1));
				if (n > 0 && (size_t)n + 2 < sizeof num && num[strspn(num, "-0123456789")] == '\0') {
					memcpy(num + n, ".0", 3);
					n += 2;
				}
			}
			lua_pushlstring(L, num, n > 0 ? (size_t)n : 0);
		} else {
			lua_pushfstring(L, "JSON object keys must be strings, got %s", lua_typename(L, kt));
			lua_error(L);
		}
		/* the key's text is on top, the key below it */
		size_t len;
		const char *text = lua_tolstring(L, -1, &len);
		if (json_omitted(L, st, text, len)) {
			lua_pop(L, 1);
			continue;
		}
		int rank = 0;
		if (!st->sorted) {
			lua_pushvalue(L, -1);
			if (lua_rawget(L, UP_RANK) == LUA_TNUMBER)
				rank = (int)lua_tointeger(L, -1);
			lua_pop(L, 1);
		}
		lua_insert(L, -2); /* text stays, the key goes back on top for lua_next */
		struct json_key *k = json_new_key(L, st);
		k->s = text;
		k->len = len;
		k->rank = rank;
		k->slot = lua_gettop(L) - 1;
	}
}

static int json_key_less(const void *pa, const void *pb)
{
	const struct json_key *a = pa, *b = pb;
	if (a->rank && b->rank)
		return a->rank - b->rank;
	if (a->rank || b->rank)
		return a->rank ? -1 : 1;
	return jw_bytes_cmp(a->s, a->len, b->s, b->len);
}

/* One member: separator, "key": and t[key] (or t[tonumber(key)] for a number key); the key's
 * text is the string at slot. */
static void json_member(lua_State *L, struct json_state *st, int t, int slot, int first, int depth)
{
	size_t len;
	const char *k = lua_tolstring(L, slot, &len);
	json_newline(st, depth + 1, !first);
	jw_string(&st->b, k, len, 1);
	if (st->indent)
		jw_put(&st->b, ": ", 2);
	else
		jw_putc(&st->b, ':');
	lua_pushvalue(L, slot);
	if (lua_gettable(L, t) == LUA_TNIL) {
		lua_pop(L, 1);
		if (lua_stringtonumber(L, k) == 0)
			lua_pushnil(L);
		else
			lua_gettable(L, t);
	}
	json_value(L, st, lua_gettop(L), depth + 1);
	lua_pop(L, 1);
}

/* Whether key k is in the fixed order list at idx. */
static int json_listed(lua_State *L, int list, const struct json_key *k)
{
	lua_Integer n = (lua_Integer)lua_rawlen(L, list);
	for (lua_Integer i = 1; i <= n; i++) {
		lua_rawgeti(L, list, i);
		size_t len;
		const char *s = lua_tolstring(L, -1, &len);
		int same = s && len == k->len && memcmp(s, k->s, len) == 0;
		lua_pop(L, 1);
		if (same)
			return 1;
	}
	return 0;
}

/* The object at t; mt (a stack slot, or 0) may carry __json_order, the keys written first. */
static void json_object(lua_State *L, struct json_state *st, int t, int mt, int depth)
{
	int top = lua_gettop(L);
	size_t base = st->nkeys;
	json_collect_keys(L, st, t);
	size_t count = st->nkeys - base;
	if (count > 1)
		qsort(st->keys + base, count, sizeof *st->keys, json_key_less);
	int fixed = 0;
	if (mt && lua_type(L, mt) == LUA_TTABLE) {
		if (lua_getfield(L, mt, "__json_order") == LUA_TTABLE)
			fixed = lua_gettop(L);
		else
			lua_pop(L, 1);
	}
	int written = 0;
	if (fixed) {
		lua_Integer n = (lua_Integer)lua_rawlen(L, fixed);
		for (lua_Integer i = 1; i <= n; i++) {
			lua_rawgeti(L, fixed, i);
			size_t len;
			const char *k = lua_tolstring(L, -1, &len);
			int present = 0;
			if (k) {
				lua_pushvalue(L, -1);
				present = lua_gettable(L, t) != LUA_TNIL;
				lua_pop(L, 1);
			}
			if (present && !json_omitted(L, st, k, len)) {
				if (!written)
					jw_putc(&st->b, '{');
				json_member(L, st, t, lua_gettop(L), !written, depth);
				written++;
			}
			lua_pop(L, 1);
		}
	}
	for (size_t i = 0; i < count; i++) {
		/* st->keys may move while members are written (nested objects add keys): index it anew */
		const struct json_key *k = &st->keys[base + i];
		if (fixed && json_listed(L, fixed, k))
			continue;
		if (!written)
			jw_putc(&st->b, '{');
		json_member(L, st, t, k->slot, !written, depth);
		written++;
	}
	st->nkeys = base;
	lua_settop(L, top);
	if (!written) {
		jw_put(&st->b, "{}", 2);
		return;
	}
	json_newline(st, depth, 0);
	jw_putc(&st->b, '}');
}

static void json_table(lua_State *L, struct json_state *st, int t, int depth)
{
	if (depth > JSON_MAX_DEPTH)
		json_raise(L, "JSON nested deeper than 64 levels");
	luaL_checkstack(L, 8, "JSON nested too deep");
	int mt = json_push_mt(L, t) ? lua_gettop(L) : 0;
	if (mt && lua_rawequal(L, mt, UP_LAZY)) {
		lua_getfield(L, t, "fn");
		lua_pushvalue(L, st->put);
		lua_call(L, 1, 0);
	} else if (mt && lua_rawequal(L, mt, UP_DEFER)) {
		lua_getfield(L, t, "fn");
		lua_call(L, 0, 1);
		json_value(L, st, lua_gettop(L), depth);
		lua_pop(L, 1);
	} else if (mt && lua_rawequal(L, mt, UP_GENERATED)) {
		json_generated(L, st, t, depth);
	} else if ((mt && lua_rawequal(L, mt, UP_ARRAY)) ||
	           (!(mt && lua_rawequal(L, mt, UP_OBJECT)) && json_is_array(L, st, t))) {
		json_array(L, st, t, depth);
	} else {
		json_object(L, st, t, mt, depth);
	}
	if (mt)
		lua_pop(L, 1);
}

static void json_value(lua_State *L, struct json_state *st, int idx, int depth)
{
	switch (lua_type(L, idx)) {
	case LUA_TSTRING: {
		size_t n;
		const char *s = lua_tolstring(L, idx, &n);
		jw_string(&st->b, s, n, 1);
		break;
	}
	case LUA_TNUMBER: {
		char num[64];
		size_t n;
		if (lua_isinteger(L, idx))
			n = (size_t)snprintf(num, sizeof num, LUA_INTEGER_FMT, (LUAI_UACINT)lua_tointeger(L, idx));
		else if ((n = jw_float((double)lua_tonumber(L, idx), num, sizeof num)) == 0) {
			lua_pushvalue(L, idx);
			lua_pushfstring(L, "JSON cannot hold %s", luaL_tolstring(L, -1, NULL));
			lua_error(L);
		}
		jw_put(&st->b, num, n);
		break;
	}
	case LUA_TBOOLEAN:
		if (lua_toboolean(L, idx))
			jw_put(&st->b, "true", 4);
		else
			jw_put(&st->b, "false", 5);
		break;
	case LUA_TTABLE:
		json_table(L, st, idx, depth);
		break;
	case LUA_TNIL:
		jw_put(&st->b, "null", 4);
		break;
	default:
		if (lua_rawequal(L, idx, UP_NULL)) {
			jw_put(&st->b, "null", 4);
			break;
		}
		lua_pushfstring(L, "JSON cannot hold a %s", luaL_typename(L, idx));
		lua_error(L);
	}
	json_check_mem(L, st);
	json_flush(L, st, 0);
}

/* A new state in a userdata at the top of the stack, its options read from the table at opts. */
static struct json_state *json_start(lua_State *L, int opts)
{
	struct json_state *st = lua_newuserdatauv(L, sizeof *st, 0);
	memset(st, 0, sizeof *st);
	void *ud;
	lua_Alloc alloc = lua_getallocf(L, &ud);
	jw_init(&st->b, alloc, ud);
	luaL_setmetatable(L, JSON_STATE);
	int slot = lua_gettop(L);
	if (lua_type(L, opts) == LUA_TTABLE) {
		if (lua_getfield(L, opts, "indent") != LUA_TNIL) {
			st->indent = luaL_tolstring(L, -1, &st->indent_len); /* kept on the stack */
			luaL_Buffer pad;
			luaL_buffinit(L, &pad);
			luaL_addchar(&pad, '\n');
			for (int i = 0; i <= JSON_MAX_DEPTH + 1; i++)
				luaL_addlstring(&pad, st->indent, st->indent_len);
			luaL_pushresult(&pad);
			st->pad = lua_tostring(L, -1); /* kept on the stack */
		} else {
			lua_pop(L, 1);
		}
		lua_getfield(L, opts, "sorted");
		st->sorted = lua_toboolean(L, -1);
		lua_getfield(L, opts, "empty_object");
		st->empty_object = lua_toboolean(L, -1);
		lua_pop(L, 2);
		if (lua_getfield(L, opts, "omit") != LUA_TNIL)
			st->omit = lua_gettop(L);
		else
			lua_pop(L, 1);
	}
	lua_pushvalue(L, slot);
	lua_pushcclosure(L, json_put, 1);
	st->put = lua_gettop(L);
	return st;
}

/* encode(value, opts) -> text */
static int l_encode(lua_State *L)
{
	lua_settop(L, 2);
	struct json_state *st = json_start(L, 2);
	json_value(L, st, 1, 0);
	lua_pushlstring(L, st->b.p ? st->b.p : "", st->b.len);
	st->dead = 1;
	jw_free(&st->b);
	return 1;
}

/* write(value, sink, opts [, file]): the text as pieces, sink({ text }, 1) per 64 KB and at the
 * end; with file (an open Lua file, the sink's own), written to it instead */
static int l_write(lua_State *L)
{
	lua_settop(L, 4);
	luaL_checktype(L, 2, LUA_TFUNCTION);
	FILE *file = NULL;
	if (!lua_isnil(L, 4)) {
		luaL_Stream *fs = luaL_checkudata(L, 4, LUA_FILEHANDLE);
		if (!fs->closef)
			return luaL_argerror(L, 4, "the file is closed");
		file = fs->f;
	}
	struct json_state *st = json_start(L, 3);
	st->sink = 2;
	st->file = file;
	json_value(L, st, 1, 0);
	json_flush(L, st, 1);
	st->dead = 1;
	jw_free(&st->b);
	return 0;
}

/* quote(s) -> "s" as a JSON string; escaped(s) -> the same without the quotes */
static int json_string_fn(lua_State *L, int quote)
{
	size_t n;
	const char *s = luaL_checklstring(L, 1, &n);
	struct jw_buf b;
	void *ud;
	lua_Alloc alloc = lua_getallocf(L, &ud);
	char small[256];
	if (n * 6 + 2 <= sizeof small) {
		b = (struct jw_buf){ small, 0, sizeof small, alloc, ud, 0 };
		jw_string(&b, s, n, quote);
		lua_pushlstring(L, b.p, b.len);
		return 1;
	}
	luaL_Buffer lb;
	char *p = luaL_buffinitsize(L, &lb, n * 6 + 2);
	b = (struct jw_buf){ p, 0, n * 6 + 2, alloc, ud, 0 };
	jw_string(&b, s, n, quote);
	luaL_pushresultsize(&lb, b.len);
	return 1;
}

static int l_quote(lua_State *L) { return json_string_fn(L, 1); }
static int l_escaped(lua_State *L) { return json_string_fn(L, 0); }

/* writer(ORDER, ARRAY, OBJECT, LAZY, DEFER, GENERATED, null) -> { encode, write, quote, escaped }:
 * the functions, bound to the key order and the marks of lua/otarun/json.lua */
static int l_writer(lua_State *L)
{
	luaL_checktype(L, 1, LUA_TTABLE);
	for (int i = 2; i <= 6; i++)
		luaL_checktype(L, i, LUA_TTABLE);
	lua_settop(L, 7);
	lua_newtable(L); /* RANK: key -> position in ORDER */
	lua_Integer n = (lua_Integer)lua_rawlen(L, 1);
	for (lua_Integer i = 1; i <= n; i++) {
		lua_rawgeti(L, 1, i);
		lua_pushinteger(L, i);
		lua_rawset(L, -3);
	}
	lua_replace(L, 1);
	static const luaL_Reg fns[] = {LUTIL_FN(encode), LUTIL_FN(write), LUTIL_FN(quote), LUTIL_FN(escaped), {NULL, NULL}};
	lua_newtable(L);
	lua_insert(L, 1);
	luaL_setfuncs(L, fns, 7);
	return 1;
}

int luaopen_otarun_core_json(lua_State *L)
{
	static const luaL_Reg meta[] = {{"__gc", json_state_gc}, {"__close", json_state_gc}, {NULL, NULL}};
	luaL_newmetatable(L, JSON_STATE);
	luaL_setfuncs(L, meta, 0);
	lua_pop(L, 1);
	static const luaL_Reg fns[] = {{"writer", l_writer}, {NULL, NULL}};
	luaL_newlib(L, fns);
	return 1;
}
