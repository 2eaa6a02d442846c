/* The policy file schema, checked once, here: which fields a declaration and its nested tables
 * have, which levels and rule kinds exist, and the limits a converted rule must respect. The
 * binding (l_policy.c) only converts Lua values into policy.h's structs, reporting a value of the
 * wrong type; everything else is judged by these functions. docs/policy-schema.md documents it.
 * Pure C; messages say what was given and what would be right. */
#include <stdio.h>
#include <string.h>
#include <strings.h>
#include "policy.h"
#include "suggest.h"

const char *const policy_fields[] = {"level", "applies", "rules", "check", "description", "limits", NULL};
const char *const policy_applies_fields[] = {"products", "regions", "rollouts", "tags", NULL};
const char *const policy_period_fields[] = {"from", "to", "tz", "reason", NULL};
const char *const policy_window_fields[] = {"days", "from", "to", "tz", NULL};
const char *const policy_approval_fields[] = {"after_first", "beyond_percent", NULL};
const char *const policy_limits_fields[] = {"memory", "instructions", NULL};

int policy_check_level(const char *level, enum policy_level *out, char *err, size_t errlen)
{
	static const char *const levels[] = {"advisory", "soft", "hard", NULL};
	if (!level) {
		snprintf(err, errlen, "level is required: \"advisory\" (warn), \"soft\" (deny unless "
		         "overridden) or \"hard\" (deny)");
		return -1;
	}
	int l = policy_level_lookup(level);
	if (l < 0) {
		suggest_unknown(err, errlen, NULL, "level", level, levels);
		return -1;
	}
	*out = (enum policy_level)l;
	return 0;
}

int policy_check_kind(const char *kind, enum policy_kind *out, char *err, size_t errlen)
{
	const char *names[POLICY_KIND_COUNT + 1];
	for (int i = 0; i < POLICY_KIND_COUNT; i++)
		names[i] = policy_kind_name((enum policy_kind)i);
	names[POLICY_KIND_COUNT] = NULL;
	int k = policy_kind_lookup(kind);
	if (k < 0) {
		suggest_unknown(err, errlen, NULL, "rule kind", kind, names);
		return -1;
	}
	*out = (enum policy_kind)k;
	return 0;
}

int policy_check_body(const struct policy_body_shape *b, char *err, size_t errlen)
{
	if (!b->has_rules && !b->has_check) {
		snprintf(err, errlen, "a policy needs rules = { ... } or check = function(plan, report) ... end");
		return -1;
	}
	if ((b->has_memory && b->memory <= 0) || (b->has_instructions && b->instructions <= 0)) {
		snprintf(err, errlen, "limits.%s must be a positive integer",
		         b->has_memory && b->memory <= 0 ? "memory" : "instructions");
		return -1;
	}
	return 0;
}

#define FAIL(...) do { snprintf(err, errlen, __VA_ARGS__); return -1; } while (0)

int policy_check_rule(const struct policy_rule *r, char *err, size_t errlen)
{
	const char *kind = policy_kind_name(r->kind);
	switch (r->kind) {
	case POLICY_MAX_FIRST_WAVE_RATE: case POLICY_MAX_RATE: case POLICY_MIN_WAVES:
	case POLICY_MAX_PERCENT_FIRST_WAVE: case POLICY_MIN_SOAK:
		if (!(r->limit >= 0))
			FAIL("rules.%s: expected a number >= 0, got %g", kind, r->limit);
		return 0;
	case POLICY_FORBID_PROTOCOL:
		for (size_t i = 0; i < r->nstrings; i++)
			if (strcasecmp(r->strings[i], "HTTPS") && strcasecmp(r->strings[i], "MQTT"))
				FAIL("rules.%s: expected \"HTTPS\" or \"MQTT\", got \"%s\"", kind, r->strings[i]);
		return 0;
	case POLICY_FREEZE:
		if (r->nperiods == 0 || r->nperiods > POLICY_MAX_PERIODS)
			FAIL("rules.%s: expected 1 to %d entries", kind, POLICY_MAX_PERIODS);
		return 0;
	case POLICY_WINDOWS:
		if (r->windows && (r->nwindows == 0 || r->nwindows > POLICY_MAX_WINDOWS))
			FAIL("rules.%s: expected 1 to %d entries", kind, POLICY_MAX_WINDOWS);
		return 0;
	case POLICY_REQUIRE_APPROVAL:
		if (r->limit > 100)
			FAIL("rules.require_approval.beyond_percent: expected a percentage 0-100");
		if (r->enabled && !r->after_first && r->limit < 0)
			FAIL("rules.require_approval: give after_first = true and/or beyond_percent = N");
		return 0;
	default:
		return 0;
	}
}
