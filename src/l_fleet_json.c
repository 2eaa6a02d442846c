/* l_fleet_json: the fleet model's columns, lists and event queue written as JSON text for the saved
 * state (lua/otarun/emulator/state.lua splices them into cjson's text; docs/emulator-scale.md),
 * from the C arrays without a Lua value per entry. */
#include <lauxlib.h>
#include <lua.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "l_fleet_model.h"

/* A growing text buffer in C (the columns are written without a Lua value per entry). */
struct tbuf {
	char *p;
	size_t n, cap;
};

static int tb_room(struct tbuf *b, size_t more)
{
	if (b->n + more <= b->cap)
		return 0;
	size_t cap = b->cap ? b->cap : 65536;
	while (cap < b->n + more)
		cap *= 2;
	char *p = realloc(b->p, cap);
	if (!p)
		return -1;
	b->p = p;
	b->cap = cap;
	return 0;
}

static void tb_int(struct tbuf *b, int64_t v)
{
	char digits[24], *q = digits + sizeof digits;
	uint64_t u = v < 0 ? 0 - (uint64_t)v : (uint64_t)v;
	do
		*--q = (char)('0' + u % 10);
	while (u /= 10);
	if (v < 0)
		*--q = '-';
	size_t len = (size_t)(digits + sizeof digits - q);
	memcpy(b->p + b->n, q, len);
	b->n += len;
}

static void tb_str(struct tbuf *b, const char *s, size_t len)
{
	memcpy(b->p + b->n, s, len);
	b->n += len;
}

/* A JSON string (as cjson writes it, '/' escaped too); room for 6 bytes a byte is the caller's. */
static void tb_json_string(struct tbuf *b, const char *s, size_t len)
{
	static const char hex[] = "0123456789abcdef";
	b->p[b->n++] = '"';
	for (size_t i = 0; i < len; i++) {
		unsigned char ch = (unsigned char)s[i];
		if (ch == '"' || ch == '\\' || ch == '/') {
			b->p[b->n++] = '\\';
			b->p[b->n++] = (char)ch;
		} else if (ch < 0x20 || ch == 0x7f) {
			memcpy(b->p + b->n, "\\u00", 4);
			b->n += 4;
			b->p[b->n++] = hex[ch >> 4];
			b->p[b->n++] = hex[ch & 15];
		} else {
			b->p[b->n++] = (char)ch;
		}
	}
	b->p[b->n++] = '"';
}

/* JSON text of a Lua value (a string or an encoded number) by cjson, for the entries C does not
 * write itself; cached by `key` in the table at index `cache`. */
static const char *lua_json(lua_State *L, int cjenc, int cache, int cache_key_top, size_t *len)
{
	/* value on top, key below it */
	lua_pushvalue(L, cjenc);
	lua_insert(L, -2);
	lua_call(L, 1, 1);
	if (cache_key_top) {
		lua_pushvalue(L, -2);
		lua_pushvalue(L, -2);
		lua_rawset(L, cache);
	}
	return lua_tolstring(L, -1, len);
}

/* m:col_json(name, map, enc) -> JSON text of col_table's list (what cjson writes for it) */
static int m_col_json(lua_State *L)
{
	struct fm_model *m = lfm_check(L, 1);
	int col = lfm_col_index(L, luaL_checkstring(L, 2));
	uint32_t n = lfm_col_len(m, col);
	int kind = lfm_col_kind(col);
	const void *bp = lfm_col_base(m, col);
	lua_settop(L, 4);
	lua_getglobal(L, "require");
	lua_pushliteral(L, "cjson");
	lua_call(L, 1, 1);
	lua_getfield(L, -1, "encode");
	int cjenc = lua_gettop(L);
	lua_newtable(L); /* cache: entry value -> JSON text */
	int cache = lua_gettop(L);
	struct tbuf b = {0};
	if (tb_room(&b, 2)) return luaL_error(L, "fleet model: out of memory");
	b.p[b.n++] = '[';
	for (uint32_t i = 1; i <= n; i++) {
		if (tb_room(&b, 64)) {
			free(b.p);
			return luaL_error(L, "fleet model: out of memory");
		}
		if (i > 1)
			b.p[b.n++] = ',';
		switch (kind) {
		case C_NAME: {
			size_t len;
			const char *nm = fm_name(m, i, &len);
			if (tb_room(&b, len * 6 + 2)) {
				free(b.p);
				return luaL_error(L, "fleet model: out of memory");
			}
			tb_json_string(&b, nm, len);
			continue;
		}
		case C_BOOL:
		case C_TRUE: /* an absent entry of a C_TRUE column is saved as false */
			if (((const uint8_t *)bp)[i])
				tb_str(&b, "true", 4);
			else
				tb_str(&b, "false", 5);
			continue;
		case C_U8: tb_int(&b, ((const uint8_t *)bp)[i]); continue;
		case C_U32: tb_int(&b, ((const uint32_t *)bp)[i]); continue;
		case C_U32NIL:
			if (((const uint32_t *)bp)[i])
				tb_int(&b, ((const uint32_t *)bp)[i]);
			else
				tb_str(&b, "false", 5);
			continue;
		case C_I32: tb_int(&b, ((const int32_t *)bp)[i]); continue;
		case C_I32NIL:
			if (((const int32_t *)bp)[i] != FM_NIL)
				tb_int(&b, ((const int32_t *)bp)[i]);
			else
				tb_str(&b, "false", 5);
			continue;
		case C_I64:
			if (((const int64_t *)bp)[i] < 100000000000000 && ((const int64_t *)bp)[i] > -100000000000000) {
				tb_int(&b, ((const int64_t *)bp)[i]);
				continue;
			}
			break;
		case C_NUM:
		case C_NUMNIL: {
			double v = ((const double *)bp)[i];
			if (isnan(v)) {
				tb_str(&b, "false", 5);
				continue;
			}
			if (v == floor(v) && v < 1e14 && v > -1e14) {
				tb_int(&b, (int64_t)v);
				continue;
			}
			if (isfinite(v)) {
				/* 17 significant digits read back exactly (cjson writes 14, hence state.lua's
				 * {"$f": "%a"} for the numbers it writes); a plain number is 4x cheaper to read */
				char num[40];
				int len = snprintf(num, sizeof num, "%.17g", v);
				tb_str(&b, num, (size_t)len);
				continue;
			}
			break;
		}
		default: break;
		}
		/* the rest through Lua: names, symbols, descriptions, large or fractional numbers */
		int keyed = kind == C_SYM || kind == C_DESC || kind == C_U16MAP || kind == C_GLIST;
		if (keyed) {
			int64_t key = kind == C_SYM ? ((const int32_t *)bp)[i]
			              : kind == C_DESC ? ((const int64_t *)bp)[i]
			              : kind == C_U16MAP ? ((const uint16_t *)bp)[i] : ((const uint32_t *)bp)[i];
			lua_pushinteger(L, key);
			if (lua_rawget(L, cache) == LUA_TSTRING) {
				size_t len;
				const char *s = lua_tolstring(L, -1, &len);
				if (tb_room(&b, len)) return luaL_error(L, "fleet model: out of memory");
				tb_str(&b, s, len);
				lua_pop(L, 1);
				continue;
			}
			lua_pop(L, 1);
			lua_pushinteger(L, key);
		}
		lfm_push_saved(L, m, col, i, 3, 4);
		size_t len;
		const char *s;
		if (lua_type(L, -1) == LUA_TBOOLEAN) {
			s = lua_toboolean(L, -1) ? "true" : "false";
			len = strlen(s);
			lua_pop(L, 1);
			lua_pushstring(L, s);
			if (keyed) {
				lua_pushvalue(L, -2);
				lua_pushvalue(L, -2);
				lua_rawset(L, cache);
			}
		} else if (lua_type(L, -1) == LUA_TNUMBER) {
			lua_pushstring(L, lua_tostring(L, -1)); /* an integer: its digits */
			lua_remove(L, -2);
			if (keyed) {
				lua_pushvalue(L, -2);
				lua_pushvalue(L, -2);
				lua_rawset(L, cache);
			}
		} else {
			lua_json(L, cjenc, cache, keyed, &len);
		}
		s = lua_tolstring(L, -1, &len);
		if (tb_room(&b, len)) return luaL_error(L, "fleet model: out of memory");
		tb_str(&b, s, len);
		lua_pop(L, keyed ? 2 : 1);
	}
	if (!tb_room(&b, 1))
		b.p[b.n++] = ']';
	lua_pushlstring(L, b.p, b.n);
	free(b.p);
	return 1;
}

/* m:list_json(...) -> "[...]" of a model list (the arguments of m:list) */
static int m_list_json(lua_State *L)
{
	struct fm_model *m = lfm_check(L, 1);
	const struct fm_list *l = lfm_list_of(L, m, 2);
	struct tbuf b = {0};
	if (tb_room(&b, (size_t)l->n * 11 + 2))
		return luaL_error(L, "fleet model: out of memory");
	b.p[b.n++] = '[';
	for (uint32_t i = 0; i < l->n; i++) {
		if (i)
			b.p[b.n++] = ',';
		tb_int(&b, l->a[i]);
	}
	b.p[b.n++] = ']';
	lua_pushlstring(L, b.p, b.n);
	free(b.p);
	return 1;
}

/* m:q_json() -> "[[sec,[code,...]],...]": the event queue as q_list gives it, as JSON text */
static int m_q_json(lua_State *L)
{
	struct fleet_queue *q = &lfm_check(L, 1)->q;
	struct fleet_event *all = malloc((q->n ? q->n : 1) * sizeof *all);
	struct tbuf b = {0};
	if (!all || fleet_queue_sorted(q, all) != 0 || tb_room(&b, q->n * 48 + 2)) {
		free(all);
		free(b.p);
		return luaL_error(L, "fleet model: out of memory");
	}
	b.p[b.n++] = '[';
	for (size_t i = 0; i < q->n; i++) {
		if (i == 0 || all[i].sec != all[i - 1].sec) {
			if (i > 0)
				tb_str(&b, "]],", 3);
			b.p[b.n++] = '[';
			tb_int(&b, all[i].sec);
			tb_str(&b, ",[", 2);
		} else {
			b.p[b.n++] = ',';
		}
		tb_int(&b, all[i].code);
	}
	if (q->n)
		tb_str(&b, "]]", 2);
	b.p[b.n++] = ']';
	free(all);
	lua_pushlstring(L, b.p, b.n);
	free(b.p);
	return 1;
}

/* A job's rate-window queue, saved and loaded: m:job_queue(serial) -> { code... } (qhead ..
 * qtail); m:job_queue_load(serial, qhead, list) */
static int m_job_queue(lua_State *L)
{
	struct fm_model *m = lfm_check(L, 1);
	struct fm_job *j = &m->jobs[JOB(2)];
	lua_createtable(L, j->qtail >= j->qhead ? (int)(j->qtail - j->qhead + 1) : 0, 0);
	for (int64_t i = j->qhead; i <= j->qtail; i++) {
		lua_pushinteger(L, j->q[i - j->qbase]);
		lua_rawseti(L, -2, i - j->qhead + 1);
	}
	return 1;
}

static int m_job_queue_load(lua_State *L)
{
	struct fm_model *m = lfm_check(L, 1);
	struct fm_job *j = &m->jobs[JOB(2)];
	j->qhead = j->qbase = luaL_checkinteger(L, 3);
	luaL_checktype(L, 4, LUA_TTABLE);
	lua_Integer n = (lua_Integer)lua_rawlen(L, 4);
	for (lua_Integer i = 1; i <= n; i++) {
		lua_rawgeti(L, 4, i);
		if (fm_queue_set(j, j->qhead + i - 1, luaL_checkinteger(L, -1)) != 0)
			return luaL_error(L, "fleet model: out of memory");
		lua_pop(L, 1);
	}
	j->qtail = j->qhead + n - 1;
	return 0;
}

void lfm_open_json(lua_State *L)
{
	static const luaL_Reg methods[] = {
		{"col_json", m_col_json}, {"list_json", m_list_json}, {"q_json", m_q_json},
		{"job_queue", m_job_queue}, {"job_queue_load", m_job_queue_load}, {NULL, NULL},
	};
	luaL_setfuncs(L, methods, 0);
}
