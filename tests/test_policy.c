/* Unit tests for the native policy engine (src/policy.c, src/policy_parse.c): value parsers,
 * scoping, and every built-in rule kind passing and failing on hand-built plans. */
#include <stdio.h>
#include <string.h>
#include "policy.h"

#include "harness.h"

/* ---- a recording emit ---------------------------------------------------------------------- */

struct record {
	int n, failed, stop_after;
	char rule[64], wave[64], message[512];
};

static int record_emit(void *ctx, const struct policy_result *r)
{
	struct record *rec = ctx;
	rec->n++;
	if (!r->passed) {
		rec->failed++;
		snprintf(rec->rule, sizeof rec->rule, "%s", r->rule);
		snprintf(rec->wave, sizeof rec->wave, "%s", r->wave ? r->wave : "");
		snprintf(rec->message, sizeof rec->message, "%s", r->message ? r->message : "");
	}
	return rec->stop_after && rec->n >= rec->stop_after;
}

static struct policy_wave wave(const char *name, int index)
{
	struct policy_wave w;
	memset(&w, 0, sizeof w);
	w.name = name;
	w.index = index;
	w.status = POLICY_WAITING;
	w.action = POLICY_WAIT;
	w.target = POLICY_TARGET_VERSIONS;
	w.rate = w.timeout = w.retry_count = w.retry_interval = -1;
	w.soak = -1;
	return w;
}

static struct policy_wave waves[3];
static struct policy_rollout rollout = {"camera-2.4.0", "a1Le6d0abcd", "cn-shanghai", waves, 3};
static struct policy_plan plan = {1796000000LL, &rollout, 1};

static void reset_plan(void)
{
	waves[0] = wave("canary", 1);
	waves[1] = wave("beta", 2);
	waves[2] = wave("all", 3);
	rollout.nwaves = 3;
}

/* Evaluates one rule at hard level; returns the number of failed results. */
static int run_rule(struct policy_rule rule, struct record *rec)
{
	struct policy_def def = {"p", POLICY_HARD, {0}, &rule, 1};
	memset(rec, 0, sizeof *rec);
	int n = policy_evaluate(&def, &plan, record_emit, rec);
	CHECK_TRUE(n == rec->failed);
	return rec->failed;
}

static struct policy_rule rule(enum policy_kind kind, double limit)
{
	struct policy_rule r;
	memset(&r, 0, sizeof r);
	r.kind = kind;
	r.limit = limit;
	r.enabled = 1;
	return r;
}

/* ---- tests ---------------------------------------------------------------------------------- */

static void test_parsers(void)
{
	char err[256];
	long long s;
	CHECK_TRUE(policy_parse_duration("12h", &s, err, sizeof err) == 0 && s == 43200);
	CHECK_TRUE(policy_parse_duration("1h30m", &s, err, sizeof err) == 0 && s == 5400);
	CHECK_TRUE(policy_parse_duration("2d", &s, err, sizeof err) == 0 && s == 172800);
	CHECK_TRUE(policy_parse_duration("30m1h", &s, err, sizeof err) == -1);
	CHECK_TRUE(policy_parse_duration("12x", &s, err, sizeof err) == -1 && strstr(err, "12x"));
	CHECK_TRUE(policy_parse_duration("", &s, err, sizeof err) == -1);

	long off;
	CHECK_TRUE(policy_parse_offset("+08:00", &off, err, sizeof err) == 0 && off == 28800);
	CHECK_TRUE(policy_parse_offset("-05:30", &off, err, sizeof err) == 0 && off == -19800);
	CHECK_TRUE(policy_parse_offset("Z", &off, err, sizeof err) == 0 && off == 0);
	CHECK_TRUE(policy_parse_offset("+8", &off, err, sizeof err) == -1);

	int minute;
	CHECK_TRUE(policy_parse_clock("01:30", &minute, err, sizeof err) == 0 && minute == 90);
	CHECK_TRUE(policy_parse_clock("24:00", &minute, err, sizeof err) == 0 && minute == 1440);
	CHECK_TRUE(policy_parse_clock("25:00", &minute, err, sizeof err) == -1);

	unsigned days;
	CHECK_TRUE(policy_parse_days("mon-thu", &days, err, sizeof err) == 0 && days == 0x0f);
	CHECK_TRUE(policy_parse_days("sat,sun", &days, err, sizeof err) == 0 && days == 0x60);
	CHECK_TRUE(policy_parse_days("fri-mon", &days, err, sizeof err) == 0 && days == 0x71);
	CHECK_TRUE(policy_parse_days("daily", &days, err, sizeof err) == 0 && days == 0x7f);
	CHECK_TRUE(policy_parse_days("mon-fry", &days, err, sizeof err) == -1);

	struct policy_period p;
	CHECK_TRUE(policy_parse_period("2026-12-24", NULL, NULL, &p, err, sizeof err) == -1 && strstr(err, "needs both"));
	CHECK_TRUE(policy_parse_period("2026-12-24", "2027-01-02", NULL, &p, err, sizeof err) == 0);
	CHECK_TRUE(!p.yearly && p.from == 1798070400LL && p.to == 1798070400LL + 10 * 86400);
	CHECK_TRUE(policy_parse_period("2026-12-24", "2027-01-02", "+08:00", &p, err, sizeof err) == 0);
	CHECK_TRUE(p.from == 1798070400LL - 28800);
	CHECK_TRUE(policy_parse_period("2026-12-24T18:00:00+08:00", "2026-12-25T00:00:00Z", NULL, &p, err,
	                          sizeof err) == 0 && p.from == 1798106400LL && p.to == 1798156800LL);
	CHECK_TRUE(policy_parse_period("12-24", "01-02", NULL, &p, err, sizeof err) == 0 && p.yearly &&
	      p.from_md == 1224 && p.to_md == 102);
	CHECK_TRUE(policy_parse_period("12-24", "2027-01-02", NULL, &p, err, sizeof err) == -1);
	CHECK_TRUE(policy_parse_period("2027-01-02", "2026-12-24", NULL, &p, err, sizeof err) == -1 &&
	      strstr(err, "before it starts"));
	CHECK_TRUE(policy_parse_period("2026-02-30", "2026-03-01", NULL, &p, err, sizeof err) == -1);
	CHECK_TRUE(policy_parse_period("2026-12-24T18:00:00", "2026-12-25", NULL, &p, err, sizeof err) == -1);
}

static void test_names_and_glob(void)
{
	CHECK_TRUE(policy_kind_lookup("min_soak") == POLICY_MIN_SOAK);
	CHECK_TRUE(policy_kind_lookup("min_soaks") == -1);
	CHECK_TRUE(strcmp(policy_kind_name(POLICY_WINDOWS), "windows") == 0);
	CHECK_TRUE(policy_level_lookup("soft") == POLICY_SOFT && policy_level_lookup("medium") == -1);
	CHECK_TRUE(policy_status_lookup("superseded") == POLICY_SUPERSEDED);
	CHECK_TRUE(policy_action_lookup("replace") == POLICY_REPLACE);
	CHECK_TRUE(policy_glob_match("prod-*", "prod-camera"));
	CHECK_TRUE(!policy_glob_match("prod-*", "staging-camera"));
	CHECK_TRUE(policy_glob_match("*-prod", "camera-prod"));
	CHECK_TRUE(policy_glob_match("cam?ra*", "camera-2.4.0"));
	CHECK_TRUE(policy_glob_match("*", ""));
	CHECK_TRUE(!policy_glob_match("a*b", "acbd"));
}

static void test_scope(void)
{
	reset_plan();
	const char *products[] = {"other", "a1Le6d0abcd"};
	const char *regions[] = {"cn-beijing"};
	const char *patterns[] = {"prod-*"};
	struct policy_scope sc = {0};
	CHECK_TRUE(policy_scope_matches(&sc, &rollout));
	sc.products = products;
	sc.nproducts = 2;
	CHECK_TRUE(policy_scope_matches(&sc, &rollout));
	sc.regions = regions;
	sc.nregions = 1;
	CHECK_TRUE(!policy_scope_matches(&sc, &rollout));
	sc.nregions = 0;
	sc.rollouts = patterns;
	sc.nrollouts = 1;
	CHECK_TRUE(!policy_scope_matches(&sc, &rollout));
	sc.nrollouts = 0;
	struct policy_tag want = {"env", "prod*"}, have = {"env", "production"};
	sc.tags = &want;
	sc.ntags = 1;
	CHECK_TRUE(!policy_scope_matches(&sc, &rollout));
	waves[2].tags = &have;
	waves[2].ntags = 1;
	CHECK_TRUE(policy_scope_matches(&sc, &rollout));

	/* an out-of-scope policy emits nothing */
	struct policy_rule r = rule(POLICY_MIN_WAVES, 5);
	struct policy_def def = {"p", POLICY_SOFT, {0}, &r, 1};
	def.scope.regions = regions;
	def.scope.nregions = 1;
	struct record rec = {0};
	CHECK_TRUE(policy_evaluate(&def, &plan, record_emit, &rec) == 0 && rec.n == 0);
}

static void test_rate_rules(void)
{
	struct record rec;
	reset_plan();
	CHECK_TRUE(run_rule(rule(POLICY_MAX_FIRST_WAVE_RATE, 100), &rec) == 1 && strstr(rec.message, "no rate"));
	waves[0].rate = 500;
	CHECK_TRUE(run_rule(rule(POLICY_MAX_FIRST_WAVE_RATE, 100), &rec) == 1 && strstr(rec.message, "500"));
	CHECK_TRUE(strcmp(rec.wave, "canary") == 0 && strcmp(rec.rule, "max_first_wave_rate") == 0);
	waves[0].rate = 100;
	CHECK_TRUE(run_rule(rule(POLICY_MAX_FIRST_WAVE_RATE, 100), &rec) == 0 && rec.n == 1);
	/* a first wave that already ran is history */
	waves[0].rate = 5000;
	waves[0].status = POLICY_DONE;
	waves[0].action = POLICY_NONE;
	CHECK_TRUE(run_rule(rule(POLICY_MAX_FIRST_WAVE_RATE, 100), &rec) == 0);
	waves[0].action = POLICY_UPDATE;
	CHECK_TRUE(run_rule(rule(POLICY_MAX_FIRST_WAVE_RATE, 100), &rec) == 1);

	reset_plan();
	waves[0].rate = 10;
	waves[1].rate = 1000;
	waves[2].rate = 5000;
	CHECK_TRUE(run_rule(rule(POLICY_MAX_RATE, 1000), &rec) == 1 && strcmp(rec.wave, "all") == 0);
	waves[2].rate = -1;
	CHECK_TRUE(run_rule(rule(POLICY_MAX_RATE, 1000), &rec) == 1 && strstr(rec.message, "unlimited"));
	waves[2].rate = 1000;
	CHECK_TRUE(run_rule(rule(POLICY_MAX_RATE, 1000), &rec) == 0);
}

static void test_wave_count_gate_soak(void)
{
	struct record rec;
	reset_plan();
	CHECK_TRUE(run_rule(rule(POLICY_MIN_WAVES, 3), &rec) == 0);
	CHECK_TRUE(run_rule(rule(POLICY_MIN_WAVES, 4), &rec) == 1 && rec.wave[0] == '\0');

	CHECK_TRUE(run_rule(rule(POLICY_REQUIRE_GATE, 0), &rec) == 2); /* the last wave needs none */
	waves[0].has_gate = waves[1].has_gate = 1;
	CHECK_TRUE(run_rule(rule(POLICY_REQUIRE_GATE, 0), &rec) == 0);
	struct policy_rule off = rule(POLICY_REQUIRE_GATE, 0);
	off.enabled = 0;
	waves[0].has_gate = 0;
	CHECK_TRUE(run_rule(off, &rec) == 0);

	CHECK_TRUE(run_rule(rule(POLICY_MIN_SOAK, 43200), &rec) == 2);
	waves[0].soak = 86400;
	waves[1].soak = 3600;
	CHECK_TRUE(run_rule(rule(POLICY_MIN_SOAK, 43200), &rec) == 1 && strcmp(rec.wave, "beta") == 0);
	waves[1].soak = 43200;
	CHECK_TRUE(run_rule(rule(POLICY_MIN_SOAK, 43200), &rec) == 0);
}

static void test_timeout_retry_protocol(void)
{
	struct record rec;
	reset_plan();
	CHECK_TRUE(run_rule(rule(POLICY_REQUIRE_TIMEOUT, 0), &rec) == 3);
	waves[0].timeout = waves[1].timeout = waves[2].timeout = 1440;
	CHECK_TRUE(run_rule(rule(POLICY_REQUIRE_TIMEOUT, 0), &rec) == 0);

	CHECK_TRUE(run_rule(rule(POLICY_REQUIRE_RETRY, 0), &rec) == 3);
	waves[0].retry_count = waves[1].retry_count = waves[2].retry_count = 2;
	CHECK_TRUE(run_rule(rule(POLICY_REQUIRE_RETRY, 0), &rec) == 0);

	const char *mqtt[] = {"mqtt"}, *https[] = {"HTTPS"};
	struct policy_rule r = rule(POLICY_FORBID_PROTOCOL, 0);
	r.strings = mqtt;
	r.nstrings = 1;
	CHECK_TRUE(run_rule(r, &rec) == 0);
	waves[1].protocol = "MQTT";
	CHECK_TRUE(run_rule(r, &rec) == 1 && strcmp(rec.wave, "beta") == 0);
	r.strings = https; /* an unset protocol is the platform default, HTTPS */
	CHECK_TRUE(run_rule(r, &rec) == 2 && strstr(rec.message, "platform default"));
}

static void test_freeze(void)
{
	struct record rec;
	char err[256];
	struct policy_period p[2];
	reset_plan();
	CHECK_TRUE(policy_parse_period("2026-12-24", "2027-01-02", NULL, &p[0], err, sizeof err) == 0);
	p[0].text = "2026-12-24..2027-01-02";
	struct policy_rule r = rule(POLICY_FREEZE, 0);
	r.periods = p;
	r.nperiods = 1;

	plan.now = 1798070400LL - 3600; /* 2026-12-23T23:00:00Z */
	waves[0].status = POLICY_READY;
	CHECK_TRUE(run_rule(r, &rec) == 0);
	waves[1].has_earliest_start = 1;
	waves[1].earliest_start = 1798070400LL + 86400; /* Dec 25 */
	CHECK_TRUE(run_rule(r, &rec) == 1 && strcmp(rec.wave, "beta") == 0 &&
	      strstr(rec.message, "2026-12-25T00:00:00Z"));
	waves[1].earliest_start = 1798070400LL + 10 * 86400; /* Jan 3: after the freeze */
	CHECK_TRUE(run_rule(r, &rec) == 0);
	plan.now = 1798070400LL + 3600; /* inside: the ready wave and the undated waiting one fail */
	CHECK_TRUE(run_rule(r, &rec) == 2);
	waves[0].status = POLICY_RUNNING; /* started before: not judged */
	waves[0].action = POLICY_NONE;
	CHECK_TRUE(run_rule(r, &rec) == 1 && strcmp(rec.wave, "all") == 0);

	/* yearly, wrapping the new year, at +08:00 */
	reset_plan();
	CHECK_TRUE(policy_parse_period("12-24", "01-02", "+08:00", &p[1], err, sizeof err) == 0);
	r.periods = &p[1];
	waves[0].status = POLICY_READY;
	plan.now = 1830297600LL - 28800 + 3600; /* 2028-01-01T01:00:00+08:00 */
	CHECK_TRUE(run_rule(r, &rec) == 3);
	plan.now = 1830297600LL + 2 * 86400; /* 2028-01-03T08:00+08:00 */
	CHECK_TRUE(run_rule(r, &rec) == 0);
	plan.now = 1796000000LL;
}

static void test_windows(void)
{
	struct record rec;
	reset_plan();
	rollout.nwaves = 1;
	struct policy_rule any = rule(POLICY_WINDOWS, 0);
	CHECK_TRUE(run_rule(any, &rec) == 1 && strstr(rec.message, "no window"));
	/* the wave: mon-thu 01:00-05:00 +08:00 */
	waves[0].has_window = 1;
	waves[0].window = (struct policy_window){0x0f, 60, 300, 28800, ""};
	CHECK_TRUE(run_rule(any, &rec) == 0);

	struct policy_window allowed[2] = {{0x7f, 0, 360, 28800, ""}}; /* daily 00:00-06:00 +08:00 */
	struct policy_rule within = rule(POLICY_WINDOWS, 0);
	within.windows = allowed;
	within.nwindows = 1;
	CHECK_TRUE(run_rule(within, &rec) == 0);
	/* the same hours in UTC: 17:00-21:00 the day before */
	allowed[0] = (struct policy_window){0x7f, 17 * 60, 21 * 60, 0, ""};
	CHECK_TRUE(run_rule(within, &rec) == 0);
	allowed[0] = (struct policy_window){0x7f, 18 * 60, 21 * 60, 0, ""};
	CHECK_TRUE(run_rule(within, &rec) == 1 && strstr(rec.message, "outside"));
	/* covered by two windows that meet */
	allowed[0] = (struct policy_window){0x7f, 17 * 60, 19 * 60, 0, ""};
	allowed[1] = (struct policy_window){0x7f, 19 * 60, 21 * 60, 0, ""};
	within.nwindows = 2;
	CHECK_TRUE(run_rule(within, &rec) == 0);
	/* weekdays only in the policy: a wave on sunday fails; one crossing midnight is judged whole */
	allowed[0] = (struct policy_window){0x1f, 22 * 60, 4 * 60, 0, ""}; /* mon-fri 22:00-04:00 UTC */
	within.nwindows = 1;
	waves[0].window = (struct policy_window){0x01, 23 * 60, 3 * 60, 0, ""}; /* mon 23:00-03:00 */
	CHECK_TRUE(run_rule(within, &rec) == 0);
	waves[0].window = (struct policy_window){0x40, 23 * 60, 3 * 60, 0, ""}; /* sun */
	CHECK_TRUE(run_rule(within, &rec) == 1);
	/* a zone is judged at the plan's time: Berlin 01:00-03:00 is 23:00-01:00 UTC in July */
	allowed[0] = (struct policy_window){0x7f, 22 * 60, 2 * 60, 0, ""};
	waves[0].window = (struct policy_window){0x7f, 60, 3 * 60, 0, "Europe/Berlin"};
	CHECK_TRUE(run_rule(within, &rec) == 0);
	long long saved_now = plan.now;
	plan.now = 1784073600LL; /* 2026-07-15: CEST, +02:00 */
	allowed[0] = (struct policy_window){0x7f, 0, 2 * 60, 0, ""};
	CHECK_TRUE(run_rule(within, &rec) == 1);
	plan.now = 1768435200LL; /* 2026-01-15: CET, +01:00: 00:00-02:00 UTC */
	CHECK_TRUE(run_rule(within, &rec) == 0);
	plan.now = saved_now;
	waves[0].has_window = 0;
	CHECK_TRUE(run_rule(within, &rec) == 1 && strstr(rec.message, "inside the allowed"));
}

static void test_approval_and_percent(void)
{
	struct record rec;
	reset_plan();
	struct policy_rule after = rule(POLICY_REQUIRE_APPROVAL, -1);
	after.after_first = 1;
	CHECK_TRUE(run_rule(after, &rec) == 2);
	waves[1].approve = waves[2].approve = 1;
	CHECK_TRUE(run_rule(after, &rec) == 0);

	reset_plan();
	struct policy_rule beyond = rule(POLICY_REQUIRE_APPROVAL, 10);
	waves[0].target = POLICY_TARGET_PERCENT;
	waves[0].percent = 5;
	waves[1].target = POLICY_TARGET_GROUP;
	waves[2].target = POLICY_TARGET_ALL;
	CHECK_TRUE(run_rule(beyond, &rec) == 1 && strcmp(rec.wave, "all") == 0 && strstr(rec.message, "100%"));
	waves[0].percent = 12.5;
	CHECK_TRUE(run_rule(beyond, &rec) == 2);

	struct policy_rule first = rule(POLICY_MAX_PERCENT_FIRST_WAVE, 5);
	CHECK_TRUE(run_rule(first, &rec) == 1 && strstr(rec.message, "12.5%"));
	waves[0].percent = 5;
	CHECK_TRUE(run_rule(first, &rec) == 0);
	waves[0].target = POLICY_TARGET_VERSIONS;
	CHECK_TRUE(run_rule(first, &rec) == 1);
	waves[0].target = POLICY_TARGET_DEVICES;
	CHECK_TRUE(run_rule(first, &rec) == 0);
}

static void test_emit_stop_and_levels(void)
{
	reset_plan();
	struct policy_rule rules[2] = {rule(POLICY_REQUIRE_TIMEOUT, 0), rule(POLICY_MIN_WAVES, 2)};
	struct policy_def def = {"p", POLICY_ADVISORY, {0}, rules, 2};
	struct record rec = {0};
	rec.stop_after = 2;
	CHECK_TRUE(policy_evaluate(&def, &plan, record_emit, &rec) == -1 && rec.n == 2);
	memset(&rec, 0, sizeof rec);
	CHECK_TRUE(policy_evaluate(&def, &plan, record_emit, &rec) == 3 && rec.n == 4); /* 3 fail + 1 pass */
	CHECK_TRUE(strcmp(policy_level_name(POLICY_ADVISORY), "advisory") == 0);
}

int main(void)
{
	test_parsers();
	test_names_and_glob();
	test_scope();
	test_rate_rules();
	test_wave_count_gate_soak();
	test_timeout_retry_protocol();
	test_freeze();
	test_windows();
	test_approval_and_percent();
	test_emit_stop_and_levels();
	return harness_report();
}
