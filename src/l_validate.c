/* l_validate: the Lua binding of the validator, module `otarun.core.validate`.
 *
 *   check(decls, opts)            -> { diagnostics = {...}, rollouts = {...} }
 *   parse_duration(s)             -> seconds | nil, msg
 *   parse_time(s)                 -> epoch, offset_seconds | nil, msg
 *   format_time(epoch[, offset])  -> "2026-12-01T02:00:00+08:00"
 *   parse_size(s)                 -> bytes | nil, msg
 *   next_window_open(window, t)   -> epoch | nil, msg
 *   fields()                      -> { rollout = {names}, firmware =, wave =, retry =, gate =,
 *                                      window =, params = { wave field = API parameter } }
 *
 * Only converts: Lua tables to the tagged values of validate.h (strings are borrowed from the
 * declarations, which stay on the stack), then the C result back to tables. All C memory of a
 * check sits in an arena owned by a userdata, so a Lua error on the way cannot leak it. */
#include "l_util.h"
#include "timefmt.h"
#include "validate.h"
#include "tz.h"

#include <lauxlib.h>
#include <lua.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define ARENA_META "otarun.validate.arena"
#define MAX_DEPTH 16

struct fill {
	lua_State *L;
	struct validate_arena *arena;
	int functions; /* stack index of the table that keeps function values by handle */
	int nfunctions;
};

static void *fill_alloc(struct fill *f, size_t n)
{
	void *p = validate_arena_alloc(f->arena, n ? n : 1);
	if (!p)
		luaL_error(f->L, "validate: out of memory");
	return p;
}

static int field_cmp(const void *a, const void *b)
{
	return strcmp(((const struct validate_field *)a)->key, ((const struct validate_field *)b)->key);
}

/* The value at stack index `idx` (absolute) into `out`. */
static void fill_value(struct fill *f, int idx, struct validate_value *out, int depth)
{
	lua_State *L = f->L;
	memset(out, 0, sizeof *out);
	switch (lua_type(L, idx)) {
	case LUA_TNIL: out->type = VALIDATE_NIL; return;
	case LUA_TBOOLEAN: out->type = VALIDATE_BOOLEAN; out->boolean = lua_toboolean(L, idx); return;
	case LUA_TNUMBER:
		out->type = VALIDATE_NUMBER;
		out->number = lua_tonumber(L, idx);
		if (lua_isinteger(L, idx)) {
			out->is_integer = 1;
			out->integer = lua_tointeger(L, idx);
		} else if (out->number == floor(out->number) && fabs(out->number) < 9.2e18) {
			out->is_integer = 1; /* 10.0 is a fine rate */
			out->integer = (long long)out->number;
		}
		return;
	case LUA_TSTRING: out->type = VALIDATE_STRING; out->string = lua_tolstring(L, idx, &out->len); return;
	case LUA_TFUNCTION:
		out->type = VALIDATE_FUNCTION;
		lua_pushvalue(L, idx);
		lua_rawseti(L, f->functions, ++f->nfunctions);
		out->handle = f->nfunctions;
		return;
	case LUA_TTABLE: break;
	default: out->type = VALIDATE_OTHER; out->string = luaL_typename(L, idx); return;
	}
	if (depth > MAX_DEPTH) {
		out->type = VALIDATE_OTHER;
		out->string = "a table nested too deeply";
		return;
	}
	luaL_checkstack(L, 4, "validate: tables nested too deeply");
	out->type = VALIDATE_TABLE;
	size_t n = lua_rawlen(L, idx), nstr = 0;
	lua_pushnil(L);
	while (lua_next(L, idx)) {
		if (lua_type(L, -2) == LUA_TSTRING)
			nstr++;
		else if (!(lua_isinteger(L, -2) && lua_tointeger(L, -2) >= 1 && (size_t)lua_tointeger(L, -2) <= n))
			out->nother++;
		lua_pop(L, 1);
	}
	out->fields = fill_alloc(f, nstr * sizeof *out->fields);
	out->items = fill_alloc(f, n * sizeof *out->items);
	lua_pushnil(L);
	while (lua_next(L, idx)) {
		if (lua_type(L, -2) == LUA_TSTRING && out->nfields < nstr) {
			struct validate_field *fl = &out->fields[out->nfields++];
			fl->key = lua_tostring(L, -2);
			fill_value(f, lua_gettop(L), &fl->value, depth + 1);
		}
		lua_pop(L, 1);
	}
	qsort(out->fields, out->nfields, sizeof *out->fields, field_cmp);
	for (size_t i = 0; i < n; i++) {
		lua_rawgeti(L, idx, (lua_Integer)i + 1);
		fill_value(f, lua_gettop(L), &out->items[i], depth + 1);
		lua_pop(L, 1);
	}
	out->nitems = n;
}

static const char *opt_string_field(lua_State *L, int idx, const char *key)
{
	const char *s = lua_getfield(L, idx, key) == LUA_TSTRING ? lua_tostring(L, -1) : NULL;
	lua_pop(L, 1); /* the string stays alive: it is held by the declarations */
	return s;
}

static int opt_int_field(lua_State *L, int idx, const char *key)
{
	lua_getfield(L, idx, key);
	int v = lua_isinteger(L, -1) ? (int)lua_tointeger(L, -1) : 0;
	lua_pop(L, 1);
	return v;
}

static void fill_rollout(struct fill *f, int idx, struct validate_raw_rollout *r)
{
	lua_State *L = f->L;
	r->name = opt_string_field(L, idx, "name");
	r->file = opt_string_field(L, idx, "file");
	r->line = opt_int_field(L, idx, "line");
	lua_getfield(L, idx, "fields");
	fill_value(f, lua_gettop(L), &r->fields, 0);
	lua_pop(L, 1);
	if (lua_getfield(L, idx, "waves") != LUA_TTABLE) {
		lua_pop(L, 1);
		return;
	}
	int waves = lua_gettop(L);
	r->nwaves = lua_rawlen(L, waves);
	r->waves = fill_alloc(f, r->nwaves * sizeof *r->waves);
	for (size_t j = 0; j < r->nwaves; j++) {
		struct validate_raw_wave *w = &r->waves[j];
		if (lua_rawgeti(L, waves, (lua_Integer)j + 1) != LUA_TTABLE)
			luaL_error(L, "validate.check: decls[?].waves[%d] must be a table", (int)j + 1);
		int wi = lua_gettop(L);
		lua_getfield(L, wi, "name");
		fill_value(f, lua_gettop(L), &w->name, MAX_DEPTH + 1);
		lua_pop(L, 1);
		w->line = opt_int_field(L, wi, "line");
		lua_getfield(L, wi, "fields");
		fill_value(f, lua_gettop(L), &w->fields, 0);
		lua_pop(L, 2);
	}
	lua_pop(L, 1);
}

/* ---- building the result -------------------------------------------------------------------- */

static void set_int(lua_State *L, const char *k, int has, long long v)
{
	if (has)
		lutil_set_integer(L, k, (lua_Integer)v);
}

static void set_bool(lua_State *L, const char *k, int v) /* enum validate_tristate */
{
	if (v != VALIDATE_UNSET)
		lutil_set_boolean(L, k, v);
}

static void set_list(lua_State *L, const char *k, int has, const char **v, size_t n)
{
	if (!has)
		return;
	lua_createtable(L, (int)n, 0);
	for (size_t i = 0; i < n; i++) {
		lua_pushstring(L, v[i]);
		lua_rawseti(L, -2, (lua_Integer)i + 1);
	}
	lua_setfield(L, -2, k);
}

static void push_tag(lua_State *L, const char *key, const char *value)
{
	lua_createtable(L, 0, 2);
	lutil_set_string(L, "key", key);
	lutil_set_string(L, "value", value);
}

static void push_window(lua_State *L, const struct validate_window *w)
{
	lua_createtable(L, 0, 5);
	lua_createtable(L, 7, 0);
	for (int d = 1; d <= 7; d++) {
		lua_pushboolean(L, w->days[d]);
		lua_rawseti(L, -2, d);
	}
	lua_setfield(L, -2, "days");
	set_int(L, "from", 1, w->from);
	set_int(L, "to", 1, w->to);
	if (w->zone[0])
		lutil_set_string(L, "tz", w->zone);
	else
		set_int(L, "tz", 1, w->tz);
	lutil_set_string(L, "text", w->text);
}

static void push_gate(lua_State *L, const struct validate_gate *g, int functions)
{
	lua_createtable(L, 0, 6);
	set_int(L, "soak", g->has_soak, g->soak);
	set_int(L, "min_devices", g->has_min_devices, g->min_devices);
	set_int(L, "max_failed", g->has_max_failed, g->max_failed);
	if (g->has_min_success) {
		lua_pushnumber(L, g->min_success);
		lua_setfield(L, -2, "min_success");
	}
	if (g->has_max_failed_ratio) {
		lua_pushnumber(L, g->max_failed_ratio);
		lua_setfield(L, -2, "max_failed_ratio");
	}
	if (g->has_confidence) {
		lua_pushnumber(L, g->confidence);
		lua_setfield(L, -2, "confidence");
	}
	lutil_set_string(L, "mode", g->mode);
	set_bool(L, "require_evidence", g->require_evidence);
	if (g->check) {
		lua_rawgeti(L, functions, g->check->handle);
		lua_setfield(L, -2, "check");
	}
}

/* t[key] = a list of the n items of `size` bytes at items, each pushed by push. */
typedef void (*push_fn)(lua_State *L, const void *item, int functions);
static void set_items(lua_State *L, const char *key, const void *items, size_t n, size_t size, push_fn push,
		      int functions)
{
	lua_createtable(L, (int)n, 0);
	for (size_t i = 0; i < n; i++) {
		push(L, (const char *)items + i * size, functions);
		lua_rawseti(L, -2, (lua_Integer)i + 1);
	}
	lua_setfield(L, -2, key);
}

static void push_wave(lua_State *L, const void *item, int functions)
{
	const struct validate_wave *w = item;
	lua_createtable(L, 0, 24);
	lutil_set_string(L, "name", w->name);
	set_int(L, "line", 1, w->line);
	set_int(L, "index", 1, w->index);
	lutil_set_string(L, "kind", w->kind == VALIDATE_STATIC ? "static" : "dynamic");
	set_list(L, "versions", w->has_versions, w->versions, w->nversions);
	lutil_set_string(L, "group", w->group);
	set_list(L, "devices", w->has_devices, w->devices, w->ndevices);
	if (w->has_percent) {
		lua_pushnumber(L, w->percent);
		lua_setfield(L, -2, "percent");
		lutil_set_string(L, "percent_text", w->percent_text);
		if (w->percent_total)
			lutil_set_boolean(L, "percent_total", 1);
	}
	if (w->all) {
		lua_pushboolean(L, 1);
		lua_setfield(L, -2, "all");
	}
	set_int(L, "rate", w->has_rate, w->rate);
	set_int(L, "retry_interval", w->has_retry_interval, w->retry_interval);
	set_int(L, "retry_count", w->has_retry_count, w->retry_count);
	set_int(L, "timeout", w->has_timeout, w->timeout);
	lutil_set_string(L, "overwrite", w->overwrite);
	lutil_set_string(L, "mode", w->mode);
	set_bool(L, "push", w->push);
	set_bool(L, "confirm", w->confirm);
	set_bool(L, "multi_module", w->multi_module);
	lutil_set_string(L, "protocol", w->protocol);
	lua_createtable(L, (int)w->ntags, 0);
	for (size_t i = 0; i < w->ntags; i++) {
		push_tag(L, w->tags[i].key, w->tags[i].value);
		lua_rawseti(L, -2, (lua_Integer)i + 1);
	}
	lua_setfield(L, -2, "tags");
	if (w->identity_value) {
		push_tag(L, "otarun", w->identity_value);
		lua_setfield(L, -2, "identity_tag");
	}
	set_int(L, "finish_at", w->has_finish_at, w->finish_at);
	set_int(L, "finish_after", w->has_finish_after, w->finish_after);
	lutil_set_string(L, "after", w->after);
	set_bool(L, "after_explicit", w->after_explicit ? 1 : VALIDATE_UNSET);
	set_int(L, "start", w->has_start, w->start);
	set_int(L, "delay", w->has_delay, w->delay);
	if (w->has_window) {
		push_window(L, &w->window);
		lua_setfield(L, -2, "window");
	}
	set_bool(L, "approve", w->approve != 0);
	if (w->has_gate) {
		push_gate(L, &w->gate, functions);
		lua_setfield(L, -2, "gate");
	}
	lutil_set_string(L, "on_fail", w->on_fail);
}

/* notify = { { url =, url_env =, format =, secret_env =, on = { events in their fixed order } } } */
static void push_notify(lua_State *L, const struct validate_rollout *r)
{
	lua_createtable(L, (int)r->nnotify, 0);
	for (size_t i = 0; i < r->nnotify; i++) {
		const struct validate_notify *n = &r->notify[i];
		lua_createtable(L, 0, 5);
		lutil_set_string(L, "url", n->url);
		lutil_set_string(L, "url_env", n->url_env);
		lutil_set_string(L, "format", n->format);
		lutil_set_string(L, "secret_env", n->secret_env);
		lua_createtable(L, VN_COUNT, 0);
		int k = 0;
		for (int e = 0; e < VN_COUNT; e++) {
			if (n->on & (1u << e)) {
				lua_pushstring(L, validate_notify_events[e]);
				lua_rawseti(L, -2, ++k);
			}
		}
		lua_setfield(L, -2, "on");
		lua_rawseti(L, -2, (lua_Integer)i + 1);
	}
	lua_setfield(L, -2, "notify");
}

static void push_rollout(lua_State *L, const void *item, int functions)
{
	const struct validate_rollout *r = item;
	const struct validate_firmware *fw = &r->firmware;
	lua_createtable(L, 0, 10);
	lutil_set_string(L, "name", r->name);
	lutil_set_string(L, "file", r->file);
	set_int(L, "line", 1, r->line);
	lutil_set_string(L, "product", r->product);
	lutil_set_string(L, "region", r->region);
	lutil_set_string(L, "instance", r->instance);
	set_bool(L, "identity", r->identity != 0);
	lua_createtable(L, 0, 8);
	lutil_set_string(L, "id", fw->id);
	lutil_set_string(L, "version", fw->version);
	lutil_set_string(L, "type", fw->type);
	lutil_set_string(L, "src_version", fw->src_version);
	set_int(L, "size", fw->has_size, fw->size);
	set_int(L, "files", fw->has_files, fw->files);
	set_bool(L, "verified", fw->verified);
	set_bool(L, "verify", fw->verify);
	lua_setfield(L, -2, "firmware");
	set_items(L, "waves", r->waves, r->nwaves, sizeof *r->waves, push_wave, functions);
	if (r->nnotify)
		push_notify(L, r);
}

static void push_diagnostic(lua_State *L, const void *item, int functions)
{
	const struct validate_diagnostic *d = item;
	(void)functions;
	lua_createtable(L, 0, 8);
	lutil_set_string(L, "severity", d->severity == VALIDATE_ERROR ? "error" : "warning");
	lutil_set_string(L, "rule", d->rule);
	lutil_set_string(L, "message", d->message);
	lutil_set_string(L, "file", d->file);
	set_int(L, "line", 1, d->line);
	lutil_set_string(L, "rollout", d->rollout);
	lutil_set_string(L, "wave", d->wave);
	lutil_set_string(L, "param", d->param);
}

static void push_result(lua_State *L, const struct validate_result *res, int functions)
{
	lua_createtable(L, 0, 2);
	set_items(L, "diagnostics", res->diagnostics, res->ndiagnostics, sizeof *res->diagnostics,
		  push_diagnostic, functions);
	set_items(L, "rollouts", res->rollouts, res->nrollouts, sizeof *res->rollouts, push_rollout, functions);
}

/* ---- module functions ----------------------------------------------------------------------- */

static int arena_gc(lua_State *L)
{
	struct validate_arena **a = luaL_checkudata(L, 1, ARENA_META);
	validate_arena_free(*a);
	*a = NULL;
	return 0;
}

static int l_check(lua_State *L)
{
	struct validate_options opts = { NULL, (long long)time(NULL) };
	luaL_checktype(L, 1, LUA_TTABLE);
	if (!lua_isnoneornil(L, 2)) {
		luaL_checktype(L, 2, LUA_TTABLE);
		if (lua_getfield(L, 2, "region") == LUA_TSTRING)
			opts.region = lua_tostring(L, -1); /* kept alive by opts */
		else if (!lua_isnil(L, -1))
			luaL_argerror(L, 2, "opts.region must be a string");
		if (lua_getfield(L, 2, "now") != LUA_TNIL) {
			if (!lua_isinteger(L, -1))
				luaL_argerror(L, 2, "opts.now must be an integer (epoch seconds)");
			opts.now = lua_tointeger(L, -1);
		}
		lua_pop(L, 2);
	}
	size_t n = lua_rawlen(L, 1);
	for (size_t i = 1; i <= n; i++) {
		if (lua_rawgeti(L, 1, (lua_Integer)i) != LUA_TTABLE)
			luaL_argerror(L, 1, lua_pushfstring(L, "decls[%d] must be a table", (int)i));
		lua_pop(L, 1);
	}
	struct validate_arena **ud = lua_newuserdatauv(L, sizeof *ud, 0);
	*ud = NULL;
	luaL_setmetatable(L, ARENA_META);
	if (!(*ud = validate_arena_new()))
		return lutil_fail(L, "validate: out of memory");
	lua_newtable(L);
	struct fill f = { L, *ud, lua_gettop(L), 0 };
	struct validate_raw_rollout *raw = fill_alloc(&f, n * sizeof *raw);
	for (size_t i = 0; i < n; i++) {
		lua_rawgeti(L, 1, (lua_Integer)i + 1);
		fill_rollout(&f, lua_gettop(L), &raw[i]);
		lua_pop(L, 1);
	}
	struct validate_result res;
	if (validate_check(*ud, raw, n, &opts, &res))
		return lutil_fail(L, "validate: out of memory");
	push_result(L, &res, f.functions);
	/* the result is all Lua values now: the arena (23 MB for 10,000 waves) goes back at once,
	 * not at the collector's next cycle, so the plan built next reuses its memory */
	validate_arena_free(*ud);
	*ud = NULL;
	return 1;
}

/* parse(s) -> integer | nil, message, for the parsers of one string into one integer. */
static int parse_integer(lua_State *L, int (*parse)(const char *, long long *, char *, size_t))
{
	long long v;
	char err[200];
	if (parse(luaL_checkstring(L, 1), &v, err, sizeof err))
		return lutil_fail(L, err);
	lua_pushinteger(L, (lua_Integer)v);
	return 1;
}

static int l_parse_duration(lua_State *L)
{
	return parse_integer(L, timefmt_parse_duration);
}

static int l_parse_time(lua_State *L)
{
	long long epoch;
	int offset;
	char err[200];
	if (timefmt_parse_time(luaL_checkstring(L, 1), &epoch, &offset, err, sizeof err))
		return lutil_fail(L, err);
	lua_pushinteger(L, (lua_Integer)epoch);
	lua_pushinteger(L, offset);
	return 2;
}

static int l_format_time(lua_State *L)
{
	lua_Integer epoch = luaL_checkinteger(L, 1), offset = luaL_optinteger(L, 2, 0);
	char buf[64];
	luaL_argcheck(L, offset > -86400 && offset < 86400, 2, "offset must be seconds east of UTC, under a day");
	luaL_argcheck(L, timefmt_format_time(epoch, (int)offset, buf, sizeof buf) > 0, 1, "epoch out of range");
	lua_pushstring(L, buf);
	return 1;
}

static int l_parse_size(lua_State *L)
{
	return parse_integer(L, validate_parse_size);
}

/* A window in the normalised shape (days = { [1..7] = bool }, minutes, offset seconds) or as
 * written in a script ("mon-thu", "01:00", "+08:00"). */
static const char *window_from_lua(lua_State *L, int idx, struct validate_window *w, char *err, size_t errlen)
{
	memset(w, 0, sizeof *w);
	int t = lua_getfield(L, idx, "days");
	if (t == LUA_TSTRING) {
		if (timefmt_parse_days(lua_tostring(L, -1), w->days, err, errlen))
			return err;
	} else if (t == LUA_TTABLE) {
		for (int d = 1; d <= 7; d++) {
			lua_rawgeti(L, -1, d);
			w->days[d] = lua_toboolean(L, -1);
			lua_pop(L, 1);
		}
	} else {
		for (int d = 1; d <= 7; d++)
			w->days[d] = 1;
	}
	lua_pop(L, 1);
	const char *keys[3] = { "from", "to", "tz" };
	int *dst[3] = { &w->from, &w->to, &w->tz };
	for (int i = 0; i < 3; i++) {
		t = lua_getfield(L, idx, keys[i]);
		if (t == LUA_TNUMBER && lua_isinteger(L, -1))
			*dst[i] = (int)lua_tointeger(L, -1);
		else if (t == LUA_TSTRING && i < 2 && timefmt_parse_clock(lua_tostring(L, -1), dst[i], err, errlen))
			return err;
		else if (t == LUA_TSTRING && i == 2 && timefmt_parse_tz(lua_tostring(L, -1), dst[i], err, errlen)) {
			if (tz_check(lua_tostring(L, -1), err, errlen) != 0)
				return err;
			snprintf(w->zone, sizeof w->zone, "%s", lua_tostring(L, -1));
		}
		else if (t != LUA_TNIL && t != LUA_TSTRING && t != LUA_TNUMBER)
			return "window.from, .to and .tz must be numbers or strings";
		lua_pop(L, 1);
	}
	if (w->from == w->to)
		w->to = w->from + TIMEFMT_MINUTES_PER_DAY; /* no from/to: the whole day */
	return NULL;
}

static int l_next_window_open(lua_State *L)
{
	struct validate_window w;
	char err[200];
	luaL_checktype(L, 1, LUA_TTABLE);
	lua_Integer t = luaL_checkinteger(L, 2);
	const char *msg = window_from_lua(L, 1, &w, err, sizeof err);
	if (msg)
		return luaL_argerror(L, 1, msg);
	struct timefmt_window tw = {w.days, w.from, w.to, w.tz, w.zone};
	long long open = timefmt_next_window_open(&tw, t);
	if (open < 0)
		return lutil_fail(L, "the window has no days");
	lua_pushinteger(L, (lua_Integer)open);
	return 1;
}

static int l_fields(lua_State *L)
{
	static const char *const tables[] = { "rollout", "firmware", "wave", "retry", "gate", "window" };
	lua_createtable(L, 0, 7);
	for (size_t t = 0; t < sizeof tables / sizeof *tables; t++) {
		size_t n = 0;
		const char *const *names = validate_field_names(tables[t], &n);
		set_list(L, tables[t], names != NULL, (const char **)names, n);
	}
	size_t n = 0;
	const char *const *wave = validate_field_names("wave", &n);
	lua_createtable(L, 0, (int)n);
	for (size_t i = 0; i < n; i++)
		lutil_set_string(L, wave[i], validate_wave_field_param(i));
	lua_setfield(L, -2, "params");
	return 1;
}

int luaopen_otarun_core_validate(lua_State *L)
{
	static const luaL_Reg funcs[] = {
		LUTIL_FN(check), LUTIL_FN(parse_duration), LUTIL_FN(parse_time), LUTIL_FN(format_time),
		LUTIL_FN(parse_size), LUTIL_FN(next_window_open), LUTIL_FN(fields),
		{ NULL, NULL },
	};
	static const luaL_Reg arena_meta[] = { { "__gc", arena_gc }, { NULL, NULL } };
	lutil_new_class(L, ARENA_META, arena_meta, NULL);
	luaL_newlib(L, funcs);
	return 1;
}
