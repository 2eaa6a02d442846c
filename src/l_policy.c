/* otarun.core.policy: the binding of the native policy engine (policy.c). It only converts (the
 * schema is checked once, in policy_schema.c): a policy declaration into a compiled policy, and the plan table
 * (per rollout: name, product, region; per wave: status, action, earliest_start and the
 * normalised `spec`) into C structs, then turns the engine's results into Lua tables.
 * Every C array lives in a userdata anchored in a Lua table, so a Lua error never leaks. */
#include <ctype.h>
#include <stdlib.h>
#include <stdarg.h>
#include <string.h>
#include <strings.h>
#include <lauxlib.h>
#include "policy.h"
#include "l_policy.h"
#include "l_util.h"

#define COMPILED LPOLICY_COMPILED


void *lpolicy_anchored(struct cctx *c, size_t size)
{
	void *p = lua_newuserdatauv(c->L, size ? size : 1, 0);
	memset(p, 0, size ? size : 1);
	lua_rawseti(c->L, c->anchor, (lua_Integer)lua_rawlen(c->L, c->anchor) + 1);
	return p;
}

/* The string at idx, kept alive by the anchor table. */
const char *lpolicy_anchored_string(struct cctx *c, int idx)
{
	const char *s = lua_tostring(c->L, idx);
	lua_pushvalue(c->L, idx);
	lua_rawseti(c->L, c->anchor, (lua_Integer)lua_rawlen(c->L, c->anchor) + 1);
	return s;
}

int lpolicy_fail(struct cctx *c, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(c->err, sizeof c->err, fmt, ap);
	va_end(ap);
	return -1;
}

/* Every key of the table at idx is one of the schema's `allowed` (NULL-terminated). */
static int only_keys(struct cctx *c, int idx, const char *where, const char *const *allowed)
{
	return lutil_unknown_key(c->L, idx, where, allowed, c->err, sizeof c->err) ? -1 : 0;
}

/* A string or an array of strings at idx -> anchored array. */
static int string_list(struct cctx *c, int idx, const char *where, const char *const **out, size_t *n)
{
	lua_State *L = c->L;
	if (lua_type(L, idx) == LUA_TSTRING) {
		const char **a = lpolicy_anchored(c, sizeof *a);
		a[0] = lpolicy_anchored_string(c, idx);
		*out = a;
		*n = 1;
		return 0;
	}
	if (!lua_istable(L, idx))
		return lpolicy_fail(c, "%s: expected a string or a list of strings, got %s", where, luaL_typename(L, idx));
	size_t len = lua_rawlen(L, idx);
	const char **a = lpolicy_anchored(c, len * sizeof *a);
	for (size_t i = 0; i < len; i++) {
		lua_rawgeti(L, idx, (lua_Integer)i + 1);
		if (lua_type(L, -1) != LUA_TSTRING) {
			lua_pop(L, 1);
			return lpolicy_fail(c, "%s[%zu]: expected a string", where, i + 1);
		}
		a[i] = lpolicy_anchored_string(c, -1);
		lua_pop(L, 1);
	}
	*out = a;
	*n = len;
	return 0;
}

/* Field `key` of the table at idx as a string, or NULL when absent; -1 on a wrong type. */
static int opt_string_field(struct cctx *c, int idx, const char *key, const char *where, const char **out)
{
	int t = lua_getfield(c->L, idx, key);
	*out = NULL;
	if (t == LUA_TSTRING)
		*out = lpolicy_anchored_string(c, -1);
	lua_pop(c->L, 1);
	if (t != LUA_TNIL && t != LUA_TSTRING)
		return lpolicy_fail(c, "%s.%s: expected a string", where, key);
	return 0;
}

static int compile_period(struct cctx *c, int idx, const char *where, struct policy_period *p)
{
	const char *from, *to, *tz, *reason;
	if (!lua_istable(c->L, idx))
		return lpolicy_fail(c, "%s: expected { from = \"2026-12-24\", to = \"2027-01-02\" }", where);
	if (only_keys(c, idx, where, policy_period_fields) || opt_string_field(c, idx, "from", where, &from) ||
	    opt_string_field(c, idx, "to", where, &to) || opt_string_field(c, idx, "tz", where, &tz) ||
	    opt_string_field(c, idx, "reason", where, &reason))
		return -1;
	char err[200];
	if (policy_parse_period(from, to, tz, p, err, sizeof err))
		return lpolicy_fail(c, "%s: %s", where, err);
	lua_pushfstring(c->L, "%s to %s%s%s%s%s", from, to, tz ? " " : "", tz ? tz : "",
	                reason ? ": " : "", reason ? reason : "");
	p->text = lpolicy_anchored_string(c, -1);
	lua_pop(c->L, 1);
	return 0;
}

static int compile_window(struct cctx *c, int idx, const char *where, struct policy_window *w)
{
	if (!lua_istable(c->L, idx))
		return lpolicy_fail(c, "%s: expected { days =, from =, to =, tz = }", where);
	return only_keys(c, idx, where, policy_window_fields) || lpolicy_window(c, idx, where, w) ? -1 : 0;
}

/* freeze and windows: one table (recognised by its `probe` field) or a list of them. */
static int compile_list_rule(struct cctx *c, int idx, const char *where, struct policy_rule *r)
{
	lua_State *L = c->L;
	int freeze = r->kind == POLICY_FREEZE;
	if (!freeze && lua_isboolean(L, idx)) {
		r->enabled = lua_toboolean(L, idx);
		return 0;
	}
	if (!lua_istable(L, idx))
		return lpolicy_fail(c, "%s: expected %s", where, freeze ?
		             "a list of { from =, to = } periods" : "true, or a list of { days =, from =, to =, tz = }");
	lua_getfield(L, idx, freeze ? "from" : "days");
	int single = !lua_isnil(L, -1);
	lua_pop(L, 1);
	size_t n = single ? 1 : lua_rawlen(L, idx);
	size_t size = freeze ? sizeof(struct policy_period) : sizeof(struct policy_window);
	char *items = lpolicy_anchored(c, n * size);
	for (size_t i = 0; i < n; i++) {
		char at[96];
		snprintf(at, sizeof at, "%s[%zu]", where, i + 1);
		if (!single)
			lua_rawgeti(L, idx, (lua_Integer)i + 1);
		int t = single ? idx : lua_gettop(L);
		int rc = freeze ? compile_period(c, t, at, (struct policy_period *)(void *)(items + i * size))
		                : compile_window(c, t, at, (struct policy_window *)(void *)(items + i * size));
		if (!single)
			lua_pop(L, 1);
		if (rc)
			return -1;
	}
	if (freeze) {
		r->periods = (const struct policy_period *)(void *)items;
		r->nperiods = n;
	} else {
		r->windows = (const struct policy_window *)(void *)items;
		r->nwindows = n;
	}
	return 0;
}

static int compile_approval(struct cctx *c, int idx, struct policy_rule *r)
{
	lua_State *L = c->L;
	r->limit = -1;
	if (lua_isboolean(L, idx)) {
		r->enabled = r->after_first = lua_toboolean(L, idx);
		return 0;
	}
	if (!lua_istable(L, idx))
		return lpolicy_fail(c, "rules.require_approval: expected true, or { after_first = true, beyond_percent = 10 }");
	if (only_keys(c, idx, "rules.require_approval", policy_approval_fields))
		return -1;
	lua_getfield(L, idx, "after_first");
	r->after_first = lua_toboolean(L, -1);
	int t = lua_getfield(L, idx, "beyond_percent");
	r->limit = t == LUA_TNUMBER ? lua_tonumber(L, -1) : -1;
	lua_pop(L, 2);
	if (t != LUA_TNIL && t != LUA_TNUMBER)
		return lpolicy_fail(c, "rules.require_approval.beyond_percent: expected a percentage 0-100");
	return 0;
}

/* Converts rules[kind] (at idx) into r; the schema (policy_check_rule) judges the result. */
static int compile_rule(struct cctx *c, const char *kind, int idx, struct policy_rule *r)
{
	lua_State *L = c->L;
	char where[64];
	if (policy_check_kind(kind, &r->kind, c->err, sizeof c->err))
		return -1;
	snprintf(where, sizeof where, "rules.%s", kind);
	r->enabled = 1;
	int rc = 0;
	switch (r->kind) {
	case POLICY_MAX_FIRST_WAVE_RATE: case POLICY_MAX_RATE: case POLICY_MIN_WAVES:
	case POLICY_MAX_PERCENT_FIRST_WAVE:
		if (lua_type(L, idx) != LUA_TNUMBER)
			return lpolicy_fail(c, "%s: expected a number >= 0, got %s", where, luaL_typename(L, idx));
		r->limit = lua_tonumber(L, idx);
		break;
	case POLICY_REQUIRE_GATE: case POLICY_REQUIRE_TIMEOUT: case POLICY_REQUIRE_RETRY:
		if (!lua_isboolean(L, idx))
			return lpolicy_fail(c, "%s: expected true or false, got %s", where, luaL_typename(L, idx));
		r->enabled = lua_toboolean(L, idx);
		break;
	case POLICY_MIN_SOAK:
		if (lua_type(L, idx) == LUA_TNUMBER) {
			r->limit = lua_tonumber(L, idx);
		} else if (lua_type(L, idx) == LUA_TSTRING) {
			long long s;
			char err[160];
			if (policy_parse_duration(lua_tostring(L, idx), &s, err, sizeof err))
				return lpolicy_fail(c, "%s: %s", where, err);
			r->limit = (double)s;
		} else {
			return lpolicy_fail(c, "%s: expected a duration like \"12h\" or seconds", where);
		}
		break;
	case POLICY_FORBID_PROTOCOL:
		rc = string_list(c, idx, where, &r->strings, &r->nstrings);
		break;
	case POLICY_FREEZE: case POLICY_WINDOWS:
		rc = compile_list_rule(c, idx, where, r);
		break;
	case POLICY_REQUIRE_APPROVAL:
		rc = compile_approval(c, idx, r);
		break;
	default:
		break;
	}
	return rc ? -1 : policy_check_rule(r, c->err, sizeof c->err);
}

static int compile_scope(struct cctx *c, int idx, struct policy_scope *sc)
{
	lua_State *L = c->L;
	if (lua_isnil(L, idx))
		return 0;
	if (!lua_istable(L, idx))
		return lpolicy_fail(c, "applies must be a table like { products = { \"a1Le6d0abcd\" } }");
	if (only_keys(c, idx, "applies", policy_applies_fields))
		return -1;
	static const char *const lists[] = {"products", "regions", "rollouts"};
	const char *const **dst[] = {&sc->products, &sc->regions, &sc->rollouts};
	size_t *ndst[] = {&sc->nproducts, &sc->nregions, &sc->nrollouts};
	for (int i = 0; i < 3; i++) {
		char where[32];
		snprintf(where, sizeof where, "applies.%s", lists[i]);
		int t = lua_getfield(L, idx, lists[i]);
		int rc = t == LUA_TNIL ? 0 : string_list(c, lua_gettop(L), where, dst[i], ndst[i]);
		lua_pop(L, 1);
		if (rc)
			return -1;
	}
	if (lua_getfield(L, idx, "tags") != LUA_TNIL) {
		int t = lua_gettop(L);
		if (!lua_istable(L, t))
			return lua_pop(L, 1), lpolicy_fail(c, "applies.tags: expected { key = \"value\" }");
		size_t n = 0;
		for (lua_pushnil(L); lua_next(L, t); lua_pop(L, 1))
			n++;
		struct policy_tag *tags = lpolicy_anchored(c, n * sizeof *tags);
		size_t i = 0;
		for (lua_pushnil(L); lua_next(L, t); lua_pop(L, 1), i++) {
			if (lua_type(L, -2) != LUA_TSTRING || lua_type(L, -1) != LUA_TSTRING)
				return lua_pop(L, 3), lpolicy_fail(c, "applies.tags: expected string keys and values");
			tags[i].key = lpolicy_anchored_string(c, -2);
			tags[i].value = lpolicy_anchored_string(c, -1);
		}
		sc->tags = tags;
		sc->ntags = n;
	}
	lua_pop(L, 1);
	return 0;
}

/* The declaration's fields besides level, applies and rules: check and limits (the loader runs
 * the check; only their shape is judged here). */
static int compile_body_shape(struct cctx *c, int body, int has_rules)
{
	lua_State *L = c->L;
	struct policy_body_shape shape = {has_rules, 0, 0, 0, 0, 0};
	int t = lua_getfield(L, body, "check");
	lua_pop(L, 1);
	if (t != LUA_TNIL && t != LUA_TFUNCTION)
		return lpolicy_fail(c, "check must be a function(plan, report)");
	shape.has_check = t == LUA_TFUNCTION;
	t = lua_getfield(L, body, "limits");
	int rc = 0;
	if (t == LUA_TTABLE) {
		int at = lua_gettop(L);
		rc = only_keys(c, at, "limits", policy_limits_fields);
		static const char *const keys[] = {"memory", "instructions"};
		int *has[] = {&shape.has_memory, &shape.has_instructions};
		long long *val[] = {&shape.memory, &shape.instructions};
		for (int i = 0; i < 2 && !rc; i++) {
			int vt = lua_getfield(L, at, keys[i]);
			if (vt != LUA_TNIL && !lua_isinteger(L, -1))
				rc = lpolicy_fail(c, "limits.%s must be a positive integer", keys[i]);
			*has[i] = vt != LUA_TNIL;
			*val[i] = (long long)lua_tointeger(L, -1);
			lua_pop(L, 1);
		}
	} else if (t != LUA_TNIL) {
		rc = lpolicy_fail(c, "limits must be { memory =, instructions = }");
	}
	lua_pop(L, 1);
	return rc ? -1 : policy_check_body(&shape, c->err, sizeof c->err);
}

/* compile(name, body) -> compiled | nil, message: the body of `policy "NAME" { ... }` checked
 * against the schema (policy_schema.c) and converted. The message has no "policy NAME: " prefix. */
static int l_compile(lua_State *L)
{
	luaL_checkstring(L, 1);
	luaL_checktype(L, 2, LUA_TTABLE);
	lua_settop(L, 2);
	lua_getfield(L, 2, "level");    /* 3 */
	lua_getfield(L, 2, "applies");  /* 4 */
	lua_getfield(L, 2, "rules");    /* 5 */
	struct policy_def *def = lua_newuserdatauv(L, sizeof *def, 1); /* 6 */
	memset(def, 0, sizeof *def);
	luaL_setmetatable(L, COMPILED);
	lua_newtable(L); /* 7: the anchor */
	lua_pushvalue(L, -1);
	lua_setiuservalue(L, 6, 1);
	struct cctx c = {L, 7, ""};
	def->name = lpolicy_anchored_string(&c, 1);
	if (only_keys(&c, 2, NULL, policy_fields))
		goto failed;
	if (!lua_isnil(L, 3) && lua_type(L, 3) != LUA_TSTRING) {
		lpolicy_fail(&c, "level must be \"advisory\", \"soft\" or \"hard\", got %s", luaL_typename(L, 3));
		goto failed;
	}
	if (policy_check_level(lua_tostring(L, 3), &def->level, c.err, sizeof c.err) ||
	    compile_scope(&c, 4, &def->scope))
		goto failed;
	if (!lua_isnil(L, 5) && !lua_istable(L, 5)) {
		lpolicy_fail(&c, "rules must be a table like { min_waves = 2 }");
		goto failed;
	}
	if (lua_istable(L, 5)) {
		size_t n = 0;
		for (lua_pushnil(L); lua_next(L, 5); lua_pop(L, 1))
			n++;
		struct policy_rule *rules = lpolicy_anchored(&c, n * sizeof *rules);
		for (lua_pushnil(L); lua_next(L, 5); lua_pop(L, 1)) {
			if (lua_type(L, -2) != LUA_TSTRING) {
				lpolicy_fail(&c, "rules: keys must be rule kind names");
				goto failed;
			}
			if (compile_rule(&c, lua_tostring(L, -2), lua_gettop(L), &rules[def->nrules]))
				goto failed;
			def->nrules++;
		}
		/* pairs() order is random per state: judge in the engine's fixed order instead */
		for (size_t i = 1; i < def->nrules; i++)
			for (size_t j = i; j > 0 && rules[j].kind < rules[j - 1].kind; j--) {
				struct policy_rule t = rules[j];
				rules[j] = rules[j - 1];
				rules[j - 1] = t;
			}
		def->rules = rules;
	}
	if (compile_body_shape(&c, 2, lua_istable(L, 5)))
		goto failed;
	lua_settop(L, 6);
	return 1;
failed:
	lua_settop(L, 0);
	return lutil_fail(L, c.err);
}

struct emit_ctx {
	lua_State *L;
	int results;
	lua_Integer n;
};

static int emit_result(void *ctx, const struct policy_result *r)
{
	struct emit_ctx *e = ctx;
	lua_State *L = e->L;
	lua_createtable(L, 0, 8);
	lutil_set_string(L, "policy", r->policy);
	lutil_set_string(L, "rule", r->rule);
	lutil_set_string(L, "level", policy_level_name(r->level));
	lutil_set_boolean(L, "passed", r->passed);
	lutil_set_string(L, "rollout", r->rollout);
	lutil_set_string(L, "wave", r->wave);
	lutil_set_string(L, "message", r->message);
	lua_rawseti(L, e->results, ++e->n);
	return 0;
}

/* evaluate(plan, { compiled... } [, now]) ->
 *   { { policy, rule, level, passed, rollout, wave, message }... },
 *   { [i] = { indexes of the plan's rollouts in the scope of policy i } } */
static int l_evaluate(lua_State *L)
{
	luaL_checktype(L, 1, LUA_TTABLE);
	luaL_checktype(L, 2, LUA_TTABLE);
	struct policy_plan plan = {0, NULL, 0};
	if (lua_isnoneornil(L, 3)) {
		lua_getfield(L, 1, "now");
		luaL_argcheck(L, lua_type(L, -1) == LUA_TNUMBER, 3, "give now (epoch) or set plan.now");
		plan.now = (long long)lua_tonumber(L, -1);
		lua_pop(L, 1);
	} else {
		plan.now = (long long)luaL_checknumber(L, 3);
	}
	size_t np = lua_rawlen(L, 2);
	for (size_t i = 0; i < np; i++) {
		lua_rawgeti(L, 2, (lua_Integer)i + 1);
		luaL_argexpected(L, luaL_testudata(L, -1, COMPILED) != NULL, 2, "a list of compiled policies");
		lua_pop(L, 1);
	}
	lua_settop(L, 2);
	lua_newtable(L); /* 3: the anchor */
	struct cctx c = {L, 3, ""};
	lpolicy_plan(&c, 1, &plan);
	lua_newtable(L); /* 4: results */
	struct emit_ctx e = {L, 4, 0};
	for (size_t i = 0; i < np; i++) {
		lua_rawgeti(L, 2, (lua_Integer)i + 1);
		const struct policy_def *def = lua_touserdata(L, -1);
		lua_pop(L, 1); /* the list at 2 keeps it alive */
		policy_evaluate(def, &plan, emit_result, &e);
	}
	lua_createtable(L, (int)np, 0); /* 5: per policy, the indexes of the rollouts in scope */
	for (size_t i = 0; i < np; i++) {
		lua_rawgeti(L, 2, (lua_Integer)i + 1);
		const struct policy_def *def = lua_touserdata(L, -1);
		lua_pop(L, 1);
		lua_newtable(L);
		lua_Integer n = 0;
		for (size_t r = 0; r < plan.nrollouts; r++)
			if (policy_scope_matches(&def->scope, &plan.rollouts[r])) {
				lua_pushinteger(L, (lua_Integer)r + 1);
				lua_rawseti(L, -2, ++n);
			}
		lua_rawseti(L, 5, (lua_Integer)i + 1);
	}
	return 2;
}

/* fields() -> the schema's field names: { policy =, applies =, period =, window =, approval =,
 * limits = } (lists in their documented order), for the generated editor definitions. */
static int l_fields(lua_State *L)
{
	static const char *const names[] = {"policy", "applies", "period", "window", "approval", "limits"};
	const char *const *lists[] = {policy_fields, policy_applies_fields, policy_period_fields,
	                              policy_window_fields, policy_approval_fields, policy_limits_fields};
	lua_createtable(L, 0, 6);
	for (int i = 0; i < 6; i++) {
		lua_newtable(L);
		for (int j = 0; lists[i][j]; j++) {
			lua_pushstring(L, lists[i][j]);
			lua_rawseti(L, -2, j + 1);
		}
		lua_setfield(L, -2, names[i]);
	}
	return 1;
}

/* kinds() -> the built-in rule kind names */
static int l_kinds(lua_State *L)
{
	lua_createtable(L, POLICY_KIND_COUNT, 0);
	for (int i = 0; i < POLICY_KIND_COUNT; i++) {
		lua_pushstring(L, policy_kind_name((enum policy_kind)i));
		lua_rawseti(L, -2, i + 1);
	}
	return 1;
}

int luaopen_otarun_core_policy(lua_State *L)
{
	static const luaL_Reg fns[] = {
		LUTIL_FN(compile), LUTIL_FN(evaluate), LUTIL_FN(fields), LUTIL_FN(kinds),
		{NULL, NULL},
	};
	lutil_new_class(L, COMPILED, NULL, NULL);
	luaL_newlib(L, fns);
	return 1;
}
