/* l_fleet_cols: the fleet model's columns seen from Lua (docs/emulator-scale.md): column objects
 * (`m:column(name[, map])`, indexable and with a length, read-only), and the saved state's
 * columns written as JSON text, as Lua tables, and loaded back (lua/otarun/emulator/state.lua). */
#include <lauxlib.h>
#include <lua.h>
#include <math.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "l_fleet_model.h"

#define COL_META "otarun.fleet.column"


struct coldesc {
	const char *name;
	int kind, task;
	size_t off;
};

#define D(n, k) {#n, k, 0, offsetof(struct fm_model, n)}
#define T(n, k) {#n, k, 1, offsetof(struct fm_model, n)}
static const struct coldesc COLS[] = {
	D(d_name, C_NAME), D(d_prod, C_U16MAP), D(d_ver, C_SYM), D(d_online, C_BOOL), D(d_task, C_U32NIL),
	D(d_glist, C_GLIST),
	D(d_created, C_NUM), D(d_online_at, C_NUMNIL),
	T(t_job, C_U32), T(t_dev, C_U32), T(t_status, C_U8), T(t_src, C_SYM), T(t_created, C_NUM),
	T(t_modified, C_NUM), T(t_retries, C_I32), T(t_gen, C_I64), T(t_started, C_NUMNIL),
	T(t_astart, C_NUMNIL), T(t_dur, C_I32NIL), T(t_desc, C_DESC), T(t_retry_wait, C_TRUE),
	T(t_inq, C_TRUE), T(t_timeout, C_I32NIL), T(t_stamp, C_U32),
};
#define NCOLS (sizeof COLS / sizeof COLS[0])

int lfm_col_kind(int col)
{
	return COLS[col].kind;
}

struct column {
	struct fm_model *m;
	int col;
};

int lfm_col_index(lua_State *L, const char *name)
{
	for (size_t k = 0; k < NCOLS; k++)
		if (!strcmp(COLS[k].name, name))
			return (int)k;
	return luaL_error(L, "fleet model: no column %s", name);
}

void *lfm_col_base(const struct fm_model *m, int col)
{
	return *(void *const *)((const char *)m + COLS[col].off);
}

uint32_t lfm_col_len(const struct fm_model *m, int col)
{
	return COLS[col].task ? m->ntask : m->ndev;
}

/* Pushes entry i's value (nil for an absent one); map: a table or function at index `map`. */
static void push_value(lua_State *L, const struct fm_model *m, int col, uint32_t i, int map)
{
	void *b = lfm_col_base(m, col);
	switch (COLS[col].kind) {
	case C_NAME: {
		size_t len;
		const char *s = fm_name(m, i, &len);
		lua_pushlstring(L, s, len);
		return;
	}
	case C_BOOL: lua_pushboolean(L, ((uint8_t *)b)[i]); return;
	case C_TRUE:
		if (((uint8_t *)b)[i])
			lua_pushboolean(L, 1);
		else
			lua_pushnil(L);
		return;
	case C_U8: lua_pushinteger(L, ((uint8_t *)b)[i]); return;
	case C_U16MAP: lua_rawgeti(L, map, ((uint16_t *)b)[i]); return;
	case C_SYM:
		if (((int32_t *)b)[i])
			lua_rawgeti(L, map, ((int32_t *)b)[i]);
		else
			lua_pushnil(L);
		return;
	case C_U32: lua_pushinteger(L, ((uint32_t *)b)[i]); return;
	case C_U32NIL:
	case C_GLIST: {
		uint32_t v = ((uint32_t *)b)[i];
		if (!v)
			lua_pushnil(L);
		else if (COLS[col].kind == C_GLIST)
			lua_rawgeti(L, map, v);
		else
			lua_pushinteger(L, v);
		return;
	}
	case C_I32: lua_pushinteger(L, ((int32_t *)b)[i]); return;
	case C_I32NIL:
		if (((int32_t *)b)[i] == FM_NIL)
			lua_pushnil(L);
		else
			lua_pushinteger(L, ((int32_t *)b)[i]);
		return;
	case C_I64: lua_pushinteger(L, ((int64_t *)b)[i]); return;
	case C_DESC: {
		int64_t v = ((int64_t *)b)[i];
		if (!v) {
			lua_pushnil(L);
			return;
		}
		lua_pushvalue(L, map);
		lua_pushinteger(L, v);
		lua_call(L, 1, 1);
		return;
	}
	case C_NUM: lfm_push_num(L, ((double *)b)[i]); return;
	default:
		if (isnan(((double *)b)[i]))
			lua_pushnil(L);
		else
			lfm_push_num(L, ((double *)b)[i]);
	}
}

/* m:column(name[, map]) -> column object */
static int m_column(lua_State *L)
{
	lfm_check(L, 1);
	int col = lfm_col_index(L, luaL_checkstring(L, 2));
	struct column *c = lua_newuserdatauv(L, sizeof *c, 2);
	c->m = lfm_check(L, 1);
	c->col = col;
	lua_pushvalue(L, 1);
	lua_setiuservalue(L, -2, 1);
	lua_pushvalue(L, 3);
	lua_setiuservalue(L, -2, 2);
	luaL_setmetatable(L, COL_META);
	return 1;
}

/* __index and __len of a column object: only ever called with one (no check per access) */
static int c_index(lua_State *L)
{
	struct column *c = lua_touserdata(L, 1);
	int ok;
	lua_Integer i = lua_tointegerx(L, 2, &ok);
	if (!ok || i < 1 || i > (lua_Integer)lfm_col_len(c->m, c->col))
		return 0;
	lua_getiuservalue(L, 1, 2);
	push_value(L, c->m, c->col, (uint32_t)i, lua_gettop(L));
	return 1;
}

static int c_len(lua_State *L)
{
	struct column *c = lua_touserdata(L, 1);
	lua_pushinteger(L, lfm_col_len(c->m, c->col));
	return 1;
}

static int c_newindex(lua_State *L)
{
	return luaL_error(L, "fleet model: the column is read-only (change it through the store)");
}

/* The saved state's form of entry i: absent -> false, a number as it is when whole (else the
 * caller's encoder, argument `enc`). Pushes one value. */
void lfm_push_saved(lua_State *L, const struct fm_model *m, int col, uint32_t i, int map, int enc)
{
	push_value(L, m, col, i, map);
	if (lua_isnil(L, -1)) {
		lua_pop(L, 1);
		if (COLS[col].kind == C_GLIST)
			lua_pushinteger(L, 0); /* no group list */
		else
			lua_pushboolean(L, 0);
	} else if (lua_type(L, -1) == LUA_TNUMBER && !lua_isinteger(L, -1)) {
		lua_pushvalue(L, enc);
		lua_insert(L, -2);
		lua_call(L, 1, 1);
	}
}

/* m:col_table(name, map, enc) -> { value... } as the saved state holds the column */
static int m_col_table(lua_State *L)
{
	struct fm_model *m = lfm_check(L, 1);
	int col = lfm_col_index(L, luaL_checkstring(L, 2));
	uint32_t n = lfm_col_len(m, col);
	lua_createtable(L, (int)n, 0);
	for (uint32_t i = 1; i <= n; i++) {
		lfm_push_saved(L, m, col, i, 3, 4);
		lua_rawseti(L, -2, i);
	}
	return 1;
}

/* m:col_load(name, src, where, conv, map, cache): a saved column (src, cjson's list) into the
 * model. conv(v, where) -> the value for an entry that is not a plain number, string or boolean
 * (or raises); map: for symbol and description columns, intern(string) -> integer, after a look
 * in the table cache. The size is the model's. */
static int m_col_load(lua_State *L)
{
	struct fm_model *m = lfm_check(L, 1);
	int col = lfm_col_index(L, luaL_checkstring(L, 2));
	luaL_checktype(L, 3, LUA_TTABLE);
	const char *where = luaL_checkstring(L, 4);
	uint32_t n = lfm_col_len(m, col);
	int kind = COLS[col].kind;
	void *b = lfm_col_base(m, col);
	if (kind == C_NAME) { /* the name indexes at their final size: no rehash while loading */
		for (uint32_t p = 1; p <= m->nprod; p++) {
			uint32_t count = 0;
			for (uint32_t i = 1; i <= n; i++)
				count += m->d_prod[i] == p;
			if (fm_grow_names(m, p, count) != 0)
				return luaL_error(L, "fleet model: out of memory");
		}
	}
	lua_settop(L, 7);
	if (lua_isnil(L, 7)) {
		lua_newtable(L);
		lua_replace(L, 7);
	}
	for (uint32_t i = 1; i <= n; i++) {
		int t = lua_rawgeti(L, 3, i);
		int sparse = kind == C_TRUE || kind == C_U32NIL || kind == C_I32NIL || kind == C_DESC || kind == C_NUMNIL;
		if (sparse && t == LUA_TBOOLEAN && !lua_toboolean(L, -1)) {
			switch (kind) { /* an absent entry */
			case C_TRUE: ((uint8_t *)b)[i] = 0; break;
			case C_U32NIL: ((uint32_t *)b)[i] = 0; break;
			case C_I32NIL: ((int32_t *)b)[i] = FM_NIL; break;
			case C_DESC: ((int64_t *)b)[i] = 0; break;
			default: ((double *)b)[i] = NAN;
			}
			lua_pop(L, 1);
			continue;
		}
		if (kind == C_NAME) {
			if (t != LUA_TSTRING) {
				lua_pushvalue(L, 5);
				lua_insert(L, -2);
				lua_pushstring(L, where);
				lua_call(L, 2, 1); /* conv raises: a string was expected */
			}
			size_t len;
			const char *s = lua_tolstring(L, -1, &len);
			if (fm_dev_by_name(m, m->d_prod[i], s, len))
				return luaL_error(L, "device %s is saved twice", s);
			if (fm_add_name(m, i, s, len) != 0)
				return luaL_error(L, "fleet model: out of memory");
			lua_pop(L, 1);
			continue;
		}
		if (kind == C_SYM || kind == C_DESC) {
			if (t != LUA_TSTRING) {
				lua_pushvalue(L, 5);
				lua_insert(L, -2);
				lua_pushstring(L, where);
				lua_call(L, 2, 1); /* conv raises: a string was expected */
			}
			lua_pushvalue(L, -1);
			if (lua_rawget(L, 7) == LUA_TNUMBER) { /* known: cache[text] */
				lua_remove(L, -2);
			} else {
				lua_pop(L, 1);
				lua_pushvalue(L, 6);
				lua_insert(L, -2);
				lua_call(L, 1, 1);
			}
			lua_Integer v = lua_tointeger(L, -1);
			if (kind == C_SYM)
				((int32_t *)b)[i] = (int32_t)v;
			else
				((int64_t *)b)[i] = v;
			lua_pop(L, 1);
			continue;
		}
		if (kind == C_BOOL || kind == C_TRUE) {
			if (t != LUA_TBOOLEAN) {
				lua_pushvalue(L, 5);
				lua_insert(L, -2);
				lua_pushstring(L, where);
				lua_call(L, 2, 1);
			}
			((uint8_t *)b)[i] = (uint8_t)lua_toboolean(L, -1);
			lua_pop(L, 1);
			continue;
		}
		int isint = 0;
		double dv = 0;
		lua_Integer iv = 0;
		if (t == LUA_TNUMBER) {
			dv = lua_tonumber(L, -1);
			iv = lua_tointegerx(L, -1, &isint);
		} else if (t == LUA_TTABLE && (kind == C_NUM || kind == C_NUMNIL)) {
			/* state.lua's {"$f": "%a"} for a fractional number, read here without Lua */
			if (lua_getfield(L, -1, "$f") == LUA_TSTRING) {
				const char *txt = lua_tostring(L, -1);
				char *end;
				double x = strtod(txt, &end);
				if (end != txt && !*end) {
					lua_pop(L, 1);
					lua_pushnumber(L, x);
					lua_replace(L, -2);
					t = LUA_TNUMBER;
					dv = x;
					iv = lua_tointegerx(L, -1, &isint);
				} else {
					lua_pop(L, 1);
				}
			} else {
				lua_pop(L, 1);
			}
		}
		if (t != LUA_TNUMBER || ((kind != C_NUM && kind != C_NUMNIL) && !isint)) {
			lua_pushvalue(L, 5);
			lua_insert(L, -2);
			lua_pushstring(L, where);
			lua_call(L, 2, 1); /* decodes {"$i"}, {"$f"} or raises */
			dv = lua_tonumber(L, -1);
			iv = lua_tointegerx(L, -1, &isint);
		}
		lua_pop(L, 1);
		switch (kind) {
		case C_U8: ((uint8_t *)b)[i] = (uint8_t)iv; break;
		case C_U16MAP:
			if (iv < 1 || iv > (lua_Integer)m->nprod)
				return luaL_error(L, "device %d: no product %d", (int)i, (int)iv);
			((uint16_t *)b)[i] = (uint16_t)iv;
			break;
		case C_U32: case C_U32NIL: case C_GLIST: ((uint32_t *)b)[i] = (uint32_t)iv; break;
		case C_I32: case C_I32NIL: ((int32_t *)b)[i] = (int32_t)iv; break;
		case C_I64: ((int64_t *)b)[i] = iv; break;
		default: ((double *)b)[i] = dv;
		}
	}
	return 0;
}

/* m:resize(ndev, ntask): room for the saved columns before col_load fills them */
static int m_resize(lua_State *L)
{
	struct fm_model *m = lfm_check(L, 1);
	lua_Integer nd = luaL_checkinteger(L, 2), nt = luaL_checkinteger(L, 3);
	luaL_argcheck(L, nd >= 0 && nd < UINT32_MAX && nt >= 0 && nt < UINT32_MAX, 2, "bad size");
	if (fm_grow_devices(m, (uint32_t)nd) != 0 || fm_grow_tasks(m, (uint32_t)nt) != 0)
		return luaL_error(L, "fleet model: out of memory");
	m->ndev = (uint32_t)nd;
	m->ntask = (uint32_t)nt;
	m->nbytes = 0;
	for (uint32_t d = 1; d <= m->ndev + 1; d++)
		m->d_name[d] = 0;
	for (uint32_t t = 1; t <= m->ntask; t++)
		m->t_stamp[t] = 0;
	return 0;
}

/* m:ver_list_load(p, sym, list): a product's devices on a version, in the saved order */
static int m_ver_list_load(lua_State *L)
{
	struct fm_model *m = lfm_check(L, 1);
	lua_Integer p = luaL_checkinteger(L, 2), v = luaL_checkinteger(L, 3);
	luaL_argcheck(L, p >= 1 && p <= (lua_Integer)m->nprod, 2, "no such product");
	luaL_argcheck(L, v >= 1 && v < INT32_MAX, 3, "no such version");
	luaL_checktype(L, 4, LUA_TTABLE);
	struct fm_prod *pr = &m->prods[p];
	if ((uint32_t)v >= pr->nby_ver) {
		uint32_t nv = (uint32_t)v + 8;
		struct fm_list *l = realloc(pr->by_ver, nv * sizeof *l);
		if (!l)
			return luaL_error(L, "fleet model: out of memory");
		memset(l + pr->nby_ver, 0, (nv - pr->nby_ver) * sizeof *l);
		pr->by_ver = l;
		pr->nby_ver = nv;
	}
	struct fm_list *l = &pr->by_ver[v];
	l->n = 0;
	if (!l->cap && fm_list_add(l, 0) != 0) /* a version with no device left keeps its list */
		return luaL_error(L, "fleet model: out of memory");
	l->n = 0;
	for (lua_Integer i = 1, n = (lua_Integer)lua_rawlen(L, 4); i <= n; i++) {
		lua_rawgeti(L, 4, i);
		lua_Integer d = lua_tointeger(L, -1);
		lua_pop(L, 1);
		if (d < 1 || d > (lua_Integer)m->ndev || m->d_prod[d] != p || m->d_ver[d] != v)
			return luaL_error(L, "product %d: device %d is not on that version", (int)p, (int)d);
		if (fm_list_add(l, (uint32_t)d) != 0)
			return luaL_error(L, "fleet model: out of memory");
		m->d_vpos[d] = l->n;
	}
	return 0;
}

/* m:ver_keys(p) -> { sym... } the versions the product's devices have been on (each has a list) */
static int m_ver_keys(lua_State *L)
{
	struct fm_model *m = lfm_check(L, 1);
	lua_Integer p = luaL_checkinteger(L, 2);
	luaL_argcheck(L, p >= 1 && p <= (lua_Integer)m->nprod, 2, "no such product");
	const struct fm_prod *pr = &m->prods[p];
	lua_createtable(L, 0, 0);
	lua_Integer n = 0;
	for (uint32_t v = 0; v < pr->nby_ver; v++) {
		if (!pr->by_ver[v].cap)
			continue;
		lua_pushinteger(L, v);
		lua_rawseti(L, -2, ++n);
	}
	return 1;
}

/* m:rebuild_devices(): each product's device list from the product column */
static int m_rebuild_devices(lua_State *L)
{
	struct fm_model *m = lfm_check(L, 1);
	for (uint32_t p = 1; p <= m->nprod; p++)
		m->prods[p].devices.n = 0;
	for (uint32_t d = 1; d <= m->ndev; d++)
		if (fm_list_add(&m->prods[m->d_prod[d]].devices, d) != 0)
			return luaL_error(L, "fleet model: out of memory");
	return 0;
}

/* m:glist_order() -> { glist... } the group lists in the order devices first use them */
static int m_glist_order(lua_State *L)
{
	struct fm_model *m = lfm_check(L, 1);
	lua_createtable(L, 0, 0);
	lua_createtable(L, 0, 0); /* seen */
	lua_Integer n = 0;
	for (uint32_t d = 1; d <= m->ndev; d++) {
		uint32_t g = m->d_glist[d];
		if (!g || lua_rawgeti(L, -1, g) != LUA_TNIL) {
			lua_pop(L, g ? 1 : 0);
			continue;
		}
		lua_pop(L, 1);
		lua_pushboolean(L, 1);
		lua_rawseti(L, -2, g);
		lua_pushinteger(L, g);
		lua_rawseti(L, -3, ++n);
	}
	lua_pop(L, 1);
	return 1;
}

void lfm_open_cols(lua_State *L)
{
	static const luaL_Reg methods[] = {
		{"column", m_column}, {"col_table", m_col_table},  
		{"col_load", m_col_load}, {"resize", m_resize}, {"ver_list_load", m_ver_list_load},
		{"rebuild_devices", m_rebuild_devices}, {"ver_keys", m_ver_keys}, {"glist_order", m_glist_order},
		{NULL, NULL},
	};
	luaL_setfuncs(L, methods, 0);
	luaL_newmetatable(L, COL_META);
	lua_pushcfunction(L, c_index);
	lua_setfield(L, -2, "__index");
	lua_pushcfunction(L, c_len);
	lua_setfield(L, -2, "__len");
	lua_pushcfunction(L, c_newindex);
	lua_setfield(L, -2, "__newindex");
	lua_pop(L, 1);
}
