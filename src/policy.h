/* The native policy engine (docs/policy-schema.md): built-in rule kinds judged against a plan, scoped by a
 * policy's `applies`, reporting one result per finding through a callback. Pure C, no Lua: the
 * binding (l_policy.c) converts the plan table and the policy files' rules into these structs.
 * The engine never allocates; every pointer it is given stays owned by the caller. */
#ifndef OTARUN_POLICY_H
#define OTARUN_POLICY_H
#include <stddef.h>

enum policy_level { POLICY_ADVISORY, POLICY_SOFT, POLICY_HARD };

enum policy_status {
	POLICY_WAITING, POLICY_READY, POLICY_RUNNING, POLICY_PASSED, POLICY_DONE,
	POLICY_SUPERSEDED, POLICY_FAILED, POLICY_CANCELLED, POLICY_STATUS_UNKNOWN
};

enum policy_action {
	POLICY_CREATE, POLICY_UPDATE, POLICY_REPLACE, POLICY_CANCEL, POLICY_WAIT, POLICY_NONE,
	POLICY_ACTION_UNKNOWN
};

enum policy_target {
	POLICY_TARGET_NONE, POLICY_TARGET_VERSIONS, POLICY_TARGET_GROUP, POLICY_TARGET_DEVICES,
	POLICY_TARGET_PERCENT, POLICY_TARGET_ALL
};

/* A weekly window: on each day in `days` (bit 0 = Monday ... bit 6 = Sunday), from `from` to `to`
 * minutes of the day at `tz` seconds east of UTC. to <= from crosses midnight into the next day. */
struct policy_window {
	unsigned days;
	int from, to;
	long tz;
	char zone[64]; /* an IANA zone name: its offset at the plan's time replaces tz */
};

struct policy_tag {
	const char *key, *value;
};

/* One wave of the plan, as the rules see it. Integers are -1 when the script left them unset. */
struct policy_wave {
	const char *name;
	int index; /* 1-based */
	int is_static;
	enum policy_status status;
	enum policy_action action;
	int has_earliest_start;
	long long earliest_start;
	enum policy_target target;
	double percent; /* for POLICY_TARGET_PERCENT */
	long rate, timeout, retry_count, retry_interval;
	const char *protocol; /* NULL: the platform default, HTTPS */
	int approve;
	int has_gate;
	long long soak; /* gate soak in seconds, -1 without */
	int has_window;
	struct policy_window window;
	const struct policy_tag *tags;
	size_t ntags;
};

struct policy_rollout {
	const char *name, *product, *region;
	const struct policy_wave *waves;
	size_t nwaves;
};

struct policy_plan {
	long long now;
	const struct policy_rollout *rollouts;
	size_t nrollouts;
};

enum policy_kind {
	POLICY_MAX_FIRST_WAVE_RATE, POLICY_MAX_RATE, POLICY_MIN_WAVES, POLICY_REQUIRE_GATE,
	POLICY_MIN_SOAK, POLICY_REQUIRE_TIMEOUT, POLICY_REQUIRE_RETRY, POLICY_FORBID_PROTOCOL,
	POLICY_FREEZE, POLICY_WINDOWS, POLICY_REQUIRE_APPROVAL, POLICY_MAX_PERCENT_FIRST_WAVE,
	POLICY_KIND_COUNT
};

/* A freeze period [from, to). A yearly one repeats every year between month-days
 * from_md..to_md (month * 100 + day, inclusive, may wrap over the new year) at `tz`. */
struct policy_period {
	int yearly;
	long long from, to;
	int from_md, to_md;
	long tz;
	const char *text; /* as written, for messages */
};

struct policy_rule {
	enum policy_kind kind;
	double limit;       /* max_*, min_waves, min_soak (seconds), beyond_percent (-1: none) */
	int enabled;        /* require_* = true; false turns the rule off */
	int after_first;    /* require_approval: waves after the first need approval */
	const char *const *strings; /* forbid_protocol: upper-case protocol names */
	size_t nstrings;
	const struct policy_period *periods; /* freeze */
	size_t nperiods;
	const struct policy_window *windows; /* windows: NULL = every wave needs a window */
	size_t nwindows;
};

/* Which rollouts a policy judges: every listed criterion must match (a rollout matches a list
 * when it matches any item of it); an empty policy_scope matches every rollout. */
struct policy_scope {
	const char *const *products;
	size_t nproducts;
	const char *const *regions;
	size_t nregions;
	const char *const *rollouts; /* glob patterns: * and ? */
	size_t nrollouts;
	const struct policy_tag *tags; /* some wave of the rollout carries all of them */
	size_t ntags;
};

struct policy_def {
	const char *name;
	enum policy_level level;
	struct policy_scope scope;
	const struct policy_rule *rules;
	size_t nrules;
};

struct policy_result {
	const char *policy, *rule;
	enum policy_level level;
	int passed;
	const char *rollout, *wave; /* wave NULL for a rollout-wide result */
	const char *message;
};

/* Receives each result; a non-zero return stops the evaluation. */
typedef int (*policy_emit_fn)(void *ctx, const struct policy_result *result);

/* Judges every rule of def against every rollout in its scope: for each (rule, rollout) either one
 * failed result per finding or one passed result. Returns the number of failures, or -1 when
 * emit stopped it. */
int policy_evaluate(const struct policy_def *def, const struct policy_plan *plan,
                    policy_emit_fn emit, void *ctx);

int policy_scope_matches(const struct policy_scope *scope, const struct policy_rollout *r);
int policy_glob_match(const char *pattern, const char *text);

const char *policy_kind_name(enum policy_kind kind);
int policy_kind_lookup(const char *name); /* -1 when unknown */
const char *policy_level_name(enum policy_level level);
int policy_level_lookup(const char *name);
int policy_status_lookup(const char *name);
int policy_action_lookup(const char *name);

/* ---- the policy file schema (policy_schema.c): checked here once; the binding only converts */

#define POLICY_MAX_WINDOWS 16
#define POLICY_MAX_PERIODS 1000

/* Field names (NULL-terminated) of a declaration, its applies, a freeze period, a window,
 * require_approval's table and the custom check's limits. */
extern const char *const policy_fields[];
extern const char *const policy_applies_fields[];
extern const char *const policy_period_fields[];
extern const char *const policy_window_fields[];
extern const char *const policy_approval_fields[];
extern const char *const policy_limits_fields[];

/* What the declaration carries besides its compiled rules (limits only when has_*). */
struct policy_body_shape {
	int has_rules, has_check, has_memory, has_instructions;
	long long memory, instructions;
};

/* Each returns 0, or -1 with a message in err (without the "policy NAME: " prefix). */
int policy_check_level(const char *level, enum policy_level *out, char *err, size_t errlen);
int policy_check_kind(const char *kind, enum policy_kind *out, char *err, size_t errlen);
int policy_check_body(const struct policy_body_shape *body, char *err, size_t errlen);
int policy_check_rule(const struct policy_rule *rule, char *err, size_t errlen);

/* Parsers for rule values; each returns 0 on success, -1 with a reason in err. */
int policy_parse_duration(const char *s, long long *seconds, char *err, size_t errlen);
/* from and to are required (NULL: an error saying so); tz may be NULL (UTC). */
int policy_parse_period(const char *from, const char *to, const char *tz,
                        struct policy_period *out, char *err, size_t errlen);
int policy_parse_days(const char *s, unsigned *days, char *err, size_t errlen);
int policy_parse_clock(const char *s, int *minute, char *err, size_t errlen);
int policy_parse_offset(const char *s, long *seconds, char *err, size_t errlen);

#endif
