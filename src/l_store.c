/*
 * otarun.core.store: the Lua face of the state store core (store.h). A store is a userdata with
 * __gc and __close; methods take option tables (unknown fields raise), convert them to the core's
 * structs and return results as tables. Misuse (wrong types, unknown states or kinds, secrets in
 * params) raises; environmental failure (locked, I/O, not found, conflict) returns nil, message,
 * code. JSON fields (params, counts) are strings here: lua/otarun/state/init.lua encodes tables.
 */
#include <math.h>
#include <string.h>

#include <lauxlib.h>
#include "l_util.h"

#include "store.h"

#define STORE_META "otarun.core.store"

void l_store_copy_register(lua_State *L, int methods, int fns);

struct handle {
	struct store *s;
};

static struct store *check_store(lua_State *L)
{
	struct handle *h = luaL_checkudata(L, 1, STORE_META);
	if (!h->s)
		luaL_error(L, "state store is closed");
	return h->s;
}

/* Pushes the outcome of a core call: true, or nil + message + code; INVALID raises. */
static int result(lua_State *L, struct store *s, int rc)
{
	if (rc == STORE_OK) {
		lua_pushboolean(L, 1);
		return 1;
	}
	if (rc == STORE_INVALID)
		return luaL_error(L, "%s", store_errmsg(s));
	lua_pushnil(L);
	lua_pushstring(L, store_errmsg(s));
	lua_pushstring(L, store_rc_name(rc));
	return 3;
}

/* ---- option tables --------------------------------------------------------------------------- */

/* Raises on a key of the table at idx that is not in fields. */
static void check_fields(lua_State *L, int idx, const char *fn, const char *const *fields)
{
	luaL_checktype(L, idx, LUA_TTABLE);
	lutil_check_keys(L, idx, fn, fields);
}

/* t[name] as a string or NULL; the string stays valid while t is on the stack. */
static const char *opt_text(lua_State *L, int idx, const char *name)
{
	int t = lua_getfield(L, idx, name);
	const char *v = NULL;
	if (t == LUA_TSTRING)
		v = lua_tostring(L, -1);
	else if (t != LUA_TNIL)
		luaL_error(L, "field %s must be a string, got %s", name, lua_typename(L, t));
	lua_pop(L, 1);
	return v;
}

static int64_t opt_int(lua_State *L, int idx, const char *name)
{
	int t = lua_getfield(L, idx, name);
	int64_t v = 0;
	if (t == LUA_TNUMBER) {
		lua_Number n = lua_tonumber(L, -1);
		if (!isfinite(n))
			luaL_error(L, "field %s must be a finite number", name);
		v = lua_isinteger(L, -1) ? (int64_t)lua_tointeger(L, -1) : (int64_t)floor(n);
	} else if (t != LUA_TNIL) {
		luaL_error(L, "field %s must be a number, got %s", name, lua_typename(L, t));
	}
	lua_pop(L, 1);
	return v;
}

static int64_t arg_at(lua_State *L, int idx)
{
	lua_Number n = luaL_optnumber(L, idx, 0);
	luaL_argcheck(L, isfinite(n), idx, "time must be finite");
	return (int64_t)floor(n);
}

/* ---- open, close, lock ----------------------------------------------------------------------- */

static int l_open(lua_State *L)
{
	static const char *const fields[] = {"readonly", "busy_timeout_ms", "target_version", NULL};
	const char *path = luaL_checkstring(L, 1);
	struct store_options opt = {0, 0, 0};
	if (!lua_isnoneornil(L, 2)) {
		check_fields(L, 2, "store.open", fields);
		lua_getfield(L, 2, "readonly");
		opt.readonly = lua_toboolean(L, -1);
		lua_pop(L, 1);
		opt.busy_timeout_ms = (int)opt_int(L, 2, "busy_timeout_ms");
		opt.target_version = (int)opt_int(L, 2, "target_version");
	}
	struct handle *h = lua_newuserdatauv(L, sizeof *h, 0);
	h->s = NULL;
	luaL_setmetatable(L, STORE_META);
	char err[1024];
	int rc = store_open(&h->s, path, &opt, err, sizeof err);
	if (rc != STORE_OK) {
		lua_pushnil(L);
		lua_pushstring(L, err);
		lua_pushstring(L, store_rc_name(rc));
		return 3;
	}
	return 1;
}

static int l_close(lua_State *L)
{
	struct handle *h = luaL_checkudata(L, 1, STORE_META);
	store_close(h->s);
	h->s = NULL;
	return 0;
}

static int l_path(lua_State *L)
{
	lua_pushstring(L, store_path(check_store(L)));
	return 1;
}

static int l_version(lua_State *L)
{
	struct store *s = check_store(L);
	int v, rc = store_schema_version(s, &v);
	if (rc)
		return result(L, s, rc);
	lua_pushinteger(L, v);
	return 1;
}

static int l_migrate(lua_State *L)
{
	struct store *s = check_store(L);
	return result(L, s, store_migrate(s, (int)luaL_optinteger(L, 2, 0)));
}

static void push_holder(lua_State *L, const struct store_holder *h)
{
	lua_createtable(L, 0, 6);
	lutil_set_string(L, "host", h->host);
	lutil_set_integer(L, "pid", h->pid);
	lutil_set_integer(L, "since", h->since);
	lutil_set_string(L, "command", h->command);
	if (h->alive >= 0)
		lutil_set_boolean(L, "alive", h->alive);
}

/* lock(timeout_seconds, command) -> true, takeover|nil | nil, msg, "locked", holder */
static int l_lock(lua_State *L)
{
	struct store *s = check_store(L);
	lua_Number timeout = luaL_optnumber(L, 2, 0);
	const char *command = luaL_optstring(L, 3, NULL);
	struct store_holder took;
	int rc = store_lock(s, (double)timeout, command, &took);
	if (rc == STORE_OK) {
		lua_pushboolean(L, 1);
		if (!took.present)
			return 1;
		push_holder(L, &took);
		return 2;
	}
	int n = result(L, s, rc);
	struct store_holder h;
	if (rc == STORE_LOCKED && store_lock_holder(s, &h) == STORE_OK && h.present) {
		push_holder(L, &h);
		n++;
	}
	return n;
}

/* Methods that only call the core: true | nil, message, code. */
#define STORE_CALL(name, fn) \
	static int name(lua_State *L) \
	{ \
		struct store *s = check_store(L); \
		return result(L, s, fn(s)); \
	}
STORE_CALL(l_unlock, store_unlock)
STORE_CALL(l_begin, store_begin)
STORE_CALL(l_commit, store_commit)
STORE_CALL(l_rollback, store_rollback)

static int l_locked(lua_State *L)
{
	lua_pushboolean(L, store_locked(check_store(L)));
	return 1;
}

static int l_holder(lua_State *L)
{
	struct store *s = check_store(L);
	struct store_holder h;
	int rc = store_lock_holder(s, &h);
	if (rc)
		return result(L, s, rc);
	if (!h.present)
		lua_pushnil(L);
	else
		push_holder(L, &h);
	return 1;
}

static int l_in_transaction(lua_State *L)
{
	lua_pushboolean(L, store_in_transaction(check_store(L)));
	return 1;
}

/* ---- writes --------------------------------------------------------------------------------- */

static int l_rollout_put(lua_State *L)
{
	static const char *const fields[] = {"name", "file", "product", "region", "firmware", "at",
	                                     NULL};
	struct store *s = check_store(L);
	check_fields(L, 2, "store:rollout_put", fields);
	struct store_rollout r = {opt_text(L, 2, "name"),    opt_text(L, 2, "file"),
	                          opt_text(L, 2, "product"), opt_text(L, 2, "region"),
	                          opt_text(L, 2, "firmware"), opt_int(L, 2, "at")};
	return result(L, s, store_rollout_put(s, &r));
}

static int l_rollout_halt(lua_State *L)
{
	struct store *s = check_store(L);
	const char *name = luaL_checkstring(L, 2);
	const char *reason = luaL_checkstring(L, 3);
	return result(L, s, store_rollout_halt(s, name, reason, arg_at(L, 4)));
}

static int l_rollout_unhalt(lua_State *L)
{
	struct store *s = check_store(L);
	const char *name = luaL_checkstring(L, 2);
	return result(L, s, store_rollout_unhalt(s, name, arg_at(L, 3)));
}

static int l_wave_put(lua_State *L)
{
	static const char *const fields[] = {"rollout", "name", "kind", "index", "at", NULL};
	struct store *s = check_store(L);
	check_fields(L, 2, "store:wave_put", fields);
	struct store_wave w = {opt_text(L, 2, "rollout"), opt_text(L, 2, "name"),
	                       opt_text(L, 2, "kind"), (int)opt_int(L, 2, "index"), opt_int(L, 2, "at")};
	return result(L, s, store_wave_put(s, &w));
}

/* wave_transition{rollout, wave, to, why, job_id, at} -> changed (boolean) */
static int l_wave_transition(lua_State *L)
{
	static const char *const fields[] = {"rollout", "wave", "to", "why", "job_id", "at", NULL};
	struct store *s = check_store(L);
	check_fields(L, 2, "store:wave_transition", fields);
	int changed = 0;
	int rc = store_wave_transition(s, opt_text(L, 2, "rollout"), opt_text(L, 2, "wave"),
	                               opt_text(L, 2, "to"), opt_text(L, 2, "why"),
	                               opt_text(L, 2, "job_id"), opt_int(L, 2, "at"), &changed);
	if (rc)
		return result(L, s, rc);
	lua_pushboolean(L, changed);
	return 1;
}

static int l_job_put(lua_State *L)
{
	static const char *const fields[] = {"job_id", "rollout", "wave", "firmware", "kind",
	                                     "params_fingerprint", "identity", "status", "created_at",
	                                     NULL};
	struct store *s = check_store(L);
	check_fields(L, 2, "store:job_put", fields);
	struct store_job j = {
		opt_text(L, 2, "job_id"),   opt_text(L, 2, "rollout"),
		opt_text(L, 2, "wave"),     opt_text(L, 2, "firmware"),
		opt_text(L, 2, "kind"),     opt_text(L, 2, "params_fingerprint"),
		opt_text(L, 2, "identity"), opt_text(L, 2, "status"),
		opt_int(L, 2, "created_at"),
	};
	return result(L, s, store_job_put(s, &j));
}

static int l_job_status(lua_State *L)
{
	struct store *s = check_store(L);
	const char *job = luaL_checkstring(L, 2);
	const char *status = luaL_checkstring(L, 3);
	return result(L, s, store_job_status(s, job, status, arg_at(L, 4)));
}

/* intent_begin{rollout, wave, action, params (JSON), identity, at} -> id */
static int l_intent_begin(lua_State *L)
{
	static const char *const fields[] = {"rollout", "wave", "action", "params", "identity", "at",
	                                     NULL};
	struct store *s = check_store(L);
	check_fields(L, 2, "store:intent_begin", fields);
	struct store_intent in = {opt_text(L, 2, "rollout"), opt_text(L, 2, "wave"),
	                          opt_text(L, 2, "action"),  opt_text(L, 2, "params"),
	                          opt_text(L, 2, "identity"), opt_int(L, 2, "at")};
	int64_t id = 0;
	int rc = store_intent_begin(s, &in, &id);
	if (rc)
		return result(L, s, rc);
	lua_pushinteger(L, (lua_Integer)id);
	return 1;
}

/* intent_settle(id, {state, job_id, result, at}) */
static int l_intent_settle(lua_State *L)
{
	static const char *const fields[] = {"state", "job_id", "result", "at", NULL};
	struct store *s = check_store(L);
	lua_Integer id = luaL_checkinteger(L, 2);
	check_fields(L, 3, "store:intent_settle", fields);
	struct store_settle r = {opt_text(L, 3, "state"), opt_text(L, 3, "job_id"),
	                         opt_text(L, 3, "result"), opt_int(L, 3, "at")};
	return result(L, s, store_intent_settle(s, (int64_t)id, &r));
}

static int l_gate_reading(lua_State *L)
{
	static const char *const fields[] = {"rollout", "wave", "counts", "verdict", "reason", "at",
	                                     NULL};
	struct store *s = check_store(L);
	check_fields(L, 2, "store:gate_reading", fields);
	struct store_gate g = {opt_text(L, 2, "rollout"), opt_text(L, 2, "wave"),
	                       opt_text(L, 2, "counts"),  opt_text(L, 2, "verdict"),
	                       opt_text(L, 2, "reason"),  opt_int(L, 2, "at")};
	return result(L, s, store_gate_reading(s, &g));
}

static int l_approval(lua_State *L)
{
	static const char *const fields[] = {"rollout", "wave", "who", "why", "at", NULL};
	struct store *s = check_store(L);
	check_fields(L, 2, "store:approval", fields);
	struct store_approval a = {opt_text(L, 2, "rollout"), opt_text(L, 2, "wave"),
	                           opt_text(L, 2, "who"), opt_text(L, 2, "why"), opt_int(L, 2, "at")};
	return result(L, s, store_approval(s, &a));
}

static int l_override(lua_State *L)
{
	static const char *const fields[] = {"rollout", "rule", "reason", "who", "plan_fingerprint",
	                                     "at", NULL};
	struct store *s = check_store(L);
	check_fields(L, 2, "store:override", fields);
	struct store_override o = {opt_text(L, 2, "rollout"), opt_text(L, 2, "rule"),
	                           opt_text(L, 2, "reason"),  opt_text(L, 2, "who"),
	                           opt_text(L, 2, "plan_fingerprint"), opt_int(L, 2, "at")};
	return result(L, s, store_override(s, &o));
}

/* audit{at, who, command, rollout, wave, kind, action, params (JSON), result, request_id} -> id */
static int l_audit(lua_State *L)
{
	static const char *const fields[] = {"at", "who", "command", "rollout", "wave", "kind",
	                                     "action", "params", "result", "request_id", NULL};
	struct store *s = check_store(L);
	check_fields(L, 2, "store:audit", fields);
	struct store_audit a = {
		.who = opt_text(L, 2, "who"),         .command = opt_text(L, 2, "command"),
		.rollout = opt_text(L, 2, "rollout"), .wave = opt_text(L, 2, "wave"),
		.kind = opt_text(L, 2, "kind"),       .action = opt_text(L, 2, "action"),
		.params_json = opt_text(L, 2, "params"), .result = opt_text(L, 2, "result"),
		.request_id = opt_text(L, 2, "request_id"), .at = opt_int(L, 2, "at"),
	};
	int64_t id = 0;
	int rc = store_audit(s, &a, &id);
	if (rc)
		return result(L, s, rc);
	lua_pushinteger(L, (lua_Integer)id);
	return 1;
}

/* check_secrets(json) -> true; raises naming the key */
static int l_check_secrets(lua_State *L)
{
	struct store *s = check_store(L);
	return result(L, s, store_json_check_secrets(s, luaL_checkstring(L, 2)));
}

/* secret_key(name) -> boolean: would the store refuse this key? (state.lua strips such keys) */
static int l_secret_key(lua_State *L)
{
	lua_pushboolean(L, store_key_is_secret(luaL_checkstring(L, 1)));
	return 1;
}

/* ---- reads ----------------------------------------------------------------------------------- */

struct rows_ctx {
	lua_State *L;
	lua_Integer n;
};

/* Runs inside store_list: only pushes (a memory error would leave the statement to be reset by
 * its next use, which store_list does first). */
static int push_row(void *ctx, int ncols, const struct store_value *cols)
{
	struct rows_ctx *r = ctx;
	lua_State *L = r->L;
	lua_createtable(L, 0, ncols);
	for (int i = 0; i < ncols; i++) {
		switch (cols[i].type) {
		case STORE_NULL:
			continue;
		case STORE_INT:
			lua_pushinteger(L, (lua_Integer)cols[i].i);
			break;
		case STORE_REAL:
			lua_pushnumber(L, (lua_Number)cols[i].d);
			break;
		case STORE_TEXT:
			lua_pushstring(L, cols[i].s);
			break;
		}
		lua_setfield(L, -2, cols[i].name);
	}
	lua_rawseti(L, -2, ++r->n);
	return 0;
}

/* list(name, {rollout, wave, after, limit}) -> array of row tables */
static int l_list(lua_State *L)
{
	static const char *const fields[] = {"rollout", "wave", "after", "limit", NULL};
	struct store *s = check_store(L);
	const char *name = luaL_checkstring(L, 2);
	int what = store_list_from_name(name);
	if (what < 0)
		return luaL_argerror(L, 2, lua_pushfstring(L, "no list \"%s\" (rollouts, waves, "
		                                                "transitions, jobs, intents, unsettled, "
		                                                "gates, approvals, overrides, audit, locks)",
		                                             name));
	struct store_filter f = {NULL, NULL, 0, 0};
	if (!lua_isnoneornil(L, 3)) {
		check_fields(L, 3, "store:list", fields);
		f.rollout = opt_text(L, 3, "rollout");
		f.wave = opt_text(L, 3, "wave");
		f.after_id = opt_int(L, 3, "after");
		f.limit = opt_int(L, 3, "limit");
	}
	lua_newtable(L);
	struct rows_ctx ctx = {L, 0};
	int rc = store_list(s, (enum store_list)what, &f, push_row, &ctx);
	return rc ? result(L, s, rc) : 1;
}

/* fingerprint({rollout names}) -> 64 hex digits */
static int l_fingerprint(lua_State *L)
{
	struct store *s = check_store(L);
	luaL_checktype(L, 2, LUA_TTABLE);
	lua_Integer n = luaL_len(L, 2);
	luaL_argcheck(L, n >= 0 && n < 100000, 2, "too many rollouts");
	const char **names = lua_newuserdatauv(L, (size_t)(n ? n : 1) * sizeof *names, 0);
	for (lua_Integer i = 1; i <= n; i++) {
		if (lua_rawgeti(L, 2, i) != LUA_TSTRING)
			return luaL_argerror(L, 2, "rollout names must be strings");
		names[i - 1] = lua_tostring(L, -1);
		lua_pop(L, 1); /* still referenced by the table at 2 */
	}
	char out[65];
	int rc = store_fingerprint(s, names, (size_t)n, out);
	if (rc)
		return result(L, s, rc);
	lua_pushstring(L, out);
	return 1;
}

int luaopen_otarun_core_store(lua_State *L)
{
	static const luaL_Reg methods[] = {
		LUTIL_FN(close), LUTIL_FN(path), LUTIL_FN(version), LUTIL_FN(migrate),
		LUTIL_FN(lock), LUTIL_FN(unlock), LUTIL_FN(locked), LUTIL_FN(holder),
		LUTIL_FN(begin), LUTIL_FN(commit), LUTIL_FN(rollback), LUTIL_FN(in_transaction),
		LUTIL_FN(rollout_put), LUTIL_FN(rollout_halt), LUTIL_FN(rollout_unhalt), LUTIL_FN(wave_put),
		LUTIL_FN(wave_transition), LUTIL_FN(job_put), LUTIL_FN(job_status), LUTIL_FN(intent_begin),
		LUTIL_FN(intent_settle), LUTIL_FN(gate_reading), LUTIL_FN(approval), LUTIL_FN(override),
		LUTIL_FN(audit), LUTIL_FN(check_secrets), LUTIL_FN(list), LUTIL_FN(fingerprint),
		{NULL, NULL},
	};
	static const luaL_Reg meta[] = {
		{"__gc", l_close},
		{"__close", l_close},
		{NULL, NULL},
	};
	static const luaL_Reg fns[] = {
		{"open", l_open},
		{"secret_key", l_secret_key},
		{NULL, NULL},
	};
	luaL_newmetatable(L, STORE_META);
	luaL_setfuncs(L, meta, 0);
	luaL_newlib(L, methods);
	luaL_newlib(L, fns);
	l_store_copy_register(L, -2, -1); /* src/l_store_copy.c */
	lua_insert(L, -3);                /* fns below the metatable */
	lua_setfield(L, -2, "__index");
	lua_pushliteral(L, STORE_META);
	lua_setfield(L, -2, "__name");
	lua_pop(L, 1);
	lua_pushinteger(L, STORE_SCHEMA_VERSION);
	lua_setfield(L, -2, "SCHEMA_VERSION");
	return 1;
}
