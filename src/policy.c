/* The native policy engine: the built-in rule kinds (docs/policy-schema.md) judged against the plan's waves,
 * scoped by `applies`. Configuration rules judge only the waves still to start or change (status
 * waiting or ready, or an action create/update/replace): a wave that runs or finished with
 * nothing to do is history, and a new policy must not block the rest of its rollout. Uses:
 * policy.h; the value parsers live in policy_parse.c. Never allocates. */
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>
#include "policy.h"
#include "timefmt.h"
#include "tz.h"

static const char *const kind_names[POLICY_KIND_COUNT] = {
	"max_first_wave_rate", "max_rate", "min_waves", "require_gate", "min_soak",
	"require_timeout", "require_retry", "forbid_protocol", "freeze", "windows",
	"require_approval", "max_percent_first_wave",
};
static const char *const level_names[] = {"advisory", "soft", "hard"};
static const char *const status_names[] = {"waiting", "ready", "running", "passed", "done",
                                           "superseded", "failed", "cancelled"};
static const char *const action_names[] = {"create", "update", "replace", "cancel", "wait", "none"};

static int lookup(const char *const *names, int n, const char *name)
{
	for (int i = 0; name && i < n; i++)
		if (strcmp(names[i], name) == 0)
			return i;
	return -1;
}

const char *policy_kind_name(enum policy_kind kind)
{
	return (unsigned)kind < POLICY_KIND_COUNT ? kind_names[kind] : "?";
}
int policy_kind_lookup(const char *name) { return lookup(kind_names, POLICY_KIND_COUNT, name); }
const char *policy_level_name(enum policy_level level)
{
	return (unsigned)level <= POLICY_HARD ? level_names[level] : "?";
}
int policy_level_lookup(const char *name) { return lookup(level_names, 3, name); }
int policy_status_lookup(const char *name) { return lookup(status_names, 8, name); }
int policy_action_lookup(const char *name) { return lookup(action_names, 6, name); }

/* ---- scope --------------------------------------------------------------------------------- */

int policy_glob_match(const char *p, const char *s)
{
	const char *star = NULL, *resume = NULL;
	while (*s) {
		if (*p == '*') {
			star = p++;
			resume = s;
		} else if (*p == '?' || *p == *s) {
			p++;
			s++;
		} else if (star) {
			p = star + 1;
			s = ++resume;
		} else {
			return 0;
		}
	}
	while (*p == '*')
		p++;
	return *p == '\0';
}

static int in_list(const char *const *list, size_t n, const char *s, int glob)
{
	if (!s)
		return 0;
	for (size_t i = 0; i < n; i++)
		if (glob ? policy_glob_match(list[i], s) : strcmp(list[i], s) == 0)
			return 1;
	return 0;
}

static int wave_has_tags(const struct policy_wave *w, const struct policy_tag *tags, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		int found = 0;
		for (size_t j = 0; j < w->ntags && !found; j++)
			found = strcmp(w->tags[j].key, tags[i].key) == 0 &&
			        policy_glob_match(tags[i].value, w->tags[j].value);
		if (!found)
			return 0;
	}
	return 1;
}

int policy_scope_matches(const struct policy_scope *sc, const struct policy_rollout *r)
{
	if (sc->nproducts && !in_list(sc->products, sc->nproducts, r->product, 0))
		return 0;
	if (sc->nregions && !in_list(sc->regions, sc->nregions, r->region, 0))
		return 0;
	if (sc->nrollouts && !in_list(sc->rollouts, sc->nrollouts, r->name, 1))
		return 0;
	if (sc->ntags) {
		for (size_t i = 0; i < r->nwaves; i++)
			if (wave_has_tags(&r->waves[i], sc->tags, sc->ntags))
				return 1;
		return 0;
	}
	return 1;
}

/* ---- results ------------------------------------------------------------------------------- */

struct eval {
	const struct policy_def *def;
	const struct policy_plan *plan;
	const struct policy_rollout *r;
	const struct policy_rule *rule;
	policy_emit_fn emit;
	void *ctx;
	int failures; /* in this (rule, rollout) */
	int total;
	int stopped;
};

static void emit(struct eval *e, int passed, const struct policy_wave *w, const char *msg)
{
	if (e->stopped)
		return;
	struct policy_result res = {e->def->name, policy_kind_name(e->rule->kind), e->def->level,
	                            passed, e->r->name, w ? w->name : NULL, msg};
	if (e->emit(e->ctx, &res))
		e->stopped = 1;
}

static void fail(struct eval *e, const struct policy_wave *w, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
static void fail(struct eval *e, const struct policy_wave *w, const char *fmt, ...)
{
	char msg[512];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof msg, fmt, ap);
	va_end(ap);
	e->failures++;
	e->total++;
	emit(e, 0, w, msg);
}

static int wave_pending(const struct policy_wave *w)
{
	switch (w->status) {
	case POLICY_WAITING: case POLICY_READY: case POLICY_STATUS_UNKNOWN:
		return 1;
	default:
		return w->action == POLICY_CREATE || w->action == POLICY_UPDATE ||
		       w->action == POLICY_REPLACE;
	}
}

/* Share of the matching devices a wave reaches, in percent: explicit groups and device lists
 * name their devices and count as 0; a version filter or `all` reaches every matching device. */
static double wave_reach(const struct policy_wave *w)
{
	switch (w->target) {
	case POLICY_TARGET_PERCENT: return w->percent;
	case POLICY_TARGET_GROUP: case POLICY_TARGET_DEVICES: return 0;
	default: return 100;
	}
}

static int period_contains(const struct policy_period *p, long long t)
{
	if (!p->yearly)
		return t >= p->from && t < p->to;
	int md = timefmt_month_day(t, (int)p->tz);
	if (p->from_md <= p->to_md)
		return md >= p->from_md && md <= p->to_md;
	return md >= p->from_md || md <= p->to_md;
}

/* ---- windows: weekly minute intervals in UTC ------------------------------------------------ */

#define WEEK_MINUTES (7 * TIMEFMT_MINUTES_PER_DAY)
#define POLICY_MAX_WINDOW_SPANS (14 * 16)

struct span {
	int from, to;
};

/* Appends the UTC minute-of-week spans of w to spans (at most 14); returns the new count. */
static int window_spans(const struct policy_window *w, long long now, struct span *spans, int n)
{
	int zone_offset = 0;
	long tz = w->zone[0] && tz_offset_at(w->zone, now, &zone_offset) == 0 ? zone_offset : w->tz;
	int len = w->to > w->from ? w->to - w->from : w->to + TIMEFMT_MINUTES_PER_DAY - w->from;
	for (int day = 0; day < 7; day++) {
		if (!(w->days & (1u << day)))
			continue;
		int start = (int)(((long)day * TIMEFMT_MINUTES_PER_DAY + w->from - tz / 60) % WEEK_MINUTES);
		if (start < 0)
			start += WEEK_MINUTES;
		if (start + len <= WEEK_MINUTES) {
			spans[n++] = (struct span){start, start + len};
		} else {
			spans[n++] = (struct span){start, WEEK_MINUTES};
			spans[n++] = (struct span){0, start + len - WEEK_MINUTES};
		}
	}
	return n;
}

static int spans_cover(const struct span *allowed, int na, struct span want)
{
	int a = want.from;
	while (a < want.to) {
		int next = a;
		for (int i = 0; i < na; i++)
			if (allowed[i].from <= a && allowed[i].to > next)
				next = allowed[i].to;
		if (next == a)
			return 0;
		a = next;
	}
	return 1;
}

static int window_within(const struct policy_window *w, const struct policy_rule *rule, long long now)
{
	struct span allowed[POLICY_MAX_WINDOW_SPANS], mine[14];
	int na = 0;
	for (size_t i = 0; i < rule->nwindows && na + 14 <= POLICY_MAX_WINDOW_SPANS; i++)
		na = window_spans(&rule->windows[i], now, allowed, na);
	int nm = window_spans(w, now, mine, 0);
	for (int i = 0; i < nm; i++)
		if (!spans_cover(allowed, na, mine[i]))
			return 0;
	return 1;
}

/* ---- the rules ------------------------------------------------------------------------------ */

static const char *protocol_of(const struct policy_wave *w)
{
	return w->protocol ? w->protocol : "HTTPS";
}

static void rule_first_wave(struct eval *e)
{
	const struct policy_wave *w = &e->r->waves[0];
	if (!wave_pending(w))
		return;
	if (e->rule->kind == POLICY_MAX_FIRST_WAVE_RATE) {
		if (w->rate < 0)
			fail(e, w, "first wave \"%s\" sets no rate, so the platform notifies devices without "
			     "limit; set rate to at most %g per minute", w->name, e->rule->limit);
		else if (w->rate > e->rule->limit)
			fail(e, w, "first wave \"%s\" notifies %ld devices per minute; at most %g allowed",
			     w->name, w->rate, e->rule->limit);
		return;
	}
	double reach = wave_reach(w);
	if (reach > e->rule->limit)
		fail(e, w, "first wave \"%s\" reaches %g%% of the matching devices; at most %g%% allowed "
		     "(use a static wave with percent, devices or a group)", w->name, reach, e->rule->limit);
}

static void rule_per_wave(struct eval *e, const struct policy_wave *w, int last)
{
	const struct policy_rule *rule = e->rule;
	char when[64], other[64];
	switch (rule->kind) {
	case POLICY_MAX_RATE:
		if (w->rate < 0)
			fail(e, w, "wave \"%s\" sets no rate (unlimited); set rate to at most %g per minute",
			     w->name, rule->limit);
		else if (w->rate > rule->limit)
			fail(e, w, "wave \"%s\" notifies %ld devices per minute; at most %g allowed", w->name,
			     w->rate, rule->limit);
		break;
	case POLICY_REQUIRE_GATE:
		if (!last && !w->has_gate)
			fail(e, w, "wave \"%s\" has no gate, so the next wave starts without judging it; "
			     "add gate = { soak =, min_success =, ... }", w->name);
		break;
	case POLICY_MIN_SOAK:
		if (!last && w->soak < 0)
			fail(e, w, "wave \"%s\" has no gate soak; soak at least %s (gate = { soak = ... })",
			     w->name, timefmt_format_duration((long long)rule->limit, when, sizeof when));
		else if (!last && w->soak < rule->limit)
			fail(e, w, "wave \"%s\" soaks %s; at least %s required", w->name,
			     timefmt_format_duration(w->soak, when, sizeof when),
			     timefmt_format_duration((long long)rule->limit, other, sizeof other));
		break;
	case POLICY_REQUIRE_TIMEOUT:
		if (w->timeout < 0)
			fail(e, w, "wave \"%s\" has no timeout; set timeout (minutes, or like \"24h\")", w->name);
		break;
	case POLICY_REQUIRE_RETRY:
		if (w->retry_count < 1)
			fail(e, w, "wave \"%s\" has no retries; set retry = { interval =, count = }", w->name);
		break;
	case POLICY_FORBID_PROTOCOL:
		for (size_t i = 0; i < rule->nstrings; i++)
			if (strcasecmp(rule->strings[i], protocol_of(w)) == 0)
				fail(e, w, "wave \"%s\" downloads over %s%s, which this policy forbids", w->name,
				     protocol_of(w), w->protocol ? "" : " (the platform default)");
		break;
	case POLICY_FREEZE: {
		if (w->status != POLICY_WAITING && w->status != POLICY_READY &&
		    w->status != POLICY_STATUS_UNKNOWN)
			break;
		long long start = e->plan->now;
		if (w->status != POLICY_READY && w->has_earliest_start && w->earliest_start > start)
			start = w->earliest_start;
		for (size_t i = 0; i < rule->nperiods; i++) {
			if (period_contains(&rule->periods[i], start)) {
				timefmt_format_time(start, 0, when, sizeof when);
				fail(e, w, "wave \"%s\" would start at %s, inside the freeze %s", w->name, when,
				     rule->periods[i].text ? rule->periods[i].text : "");
				break;
			}
		}
		break;
	}
	case POLICY_WINDOWS:
		if (!w->has_window)
			fail(e, w, "wave \"%s\" has no window; give it window = { days =, from =, to =, tz = }%s",
			     w->name, rule->windows ? " inside the allowed windows" : "");
		else if (rule->windows && !window_within(&w->window, rule, e->plan->now))
			fail(e, w, "wave \"%s\" may start outside the allowed windows", w->name);
		break;
	case POLICY_REQUIRE_APPROVAL: {
		int need = (rule->after_first && w->index > 1) ||
		           (rule->limit >= 0 && wave_reach(w) > rule->limit);
		if (need && !w->approve) {
			if (rule->after_first && w->index > 1)
				fail(e, w, "wave \"%s\" comes after the first and needs approve = true", w->name);
			else
				fail(e, w, "wave \"%s\" reaches %g%% of the matching devices, beyond %g%%, and "
				     "needs approve = true", w->name, wave_reach(w), rule->limit);
		}
		break;
	}
	default:
		break;
	}
}

static void rule_evaluate(struct eval *e)
{
	const struct policy_rule *rule = e->rule;
	const struct policy_rollout *r = e->r;
	e->failures = 0;
	switch (rule->kind) {
	case POLICY_MIN_WAVES:
		if ((double)r->nwaves < rule->limit)
			fail(e, NULL, "rollout \"%s\" has %zu wave%s; at least %g required", r->name,
			     r->nwaves, r->nwaves == 1 ? "" : "s", rule->limit);
		break;
	case POLICY_MAX_FIRST_WAVE_RATE:
	case POLICY_MAX_PERCENT_FIRST_WAVE:
		if (r->nwaves > 0)
			rule_first_wave(e);
		break;
	default:
		if (!rule->enabled)
			break;
		for (size_t i = 0; i < r->nwaves && !e->stopped; i++)
			if (wave_pending(&r->waves[i]))
				rule_per_wave(e, &r->waves[i], i + 1 == r->nwaves);
		break;
	}
	if (e->failures == 0)
		emit(e, 1, NULL, NULL);
}

int policy_evaluate(const struct policy_def *def, const struct policy_plan *plan,
                    policy_emit_fn emit_fn, void *ctx)
{
	struct eval e = {def, plan, NULL, NULL, emit_fn, ctx, 0, 0, 0};
	for (size_t i = 0; i < plan->nrollouts && !e.stopped; i++) {
		e.r = &plan->rollouts[i];
		if (!policy_scope_matches(&def->scope, e.r))
			continue;
		for (size_t j = 0; j < def->nrules && !e.stopped; j++) {
			e.rule = &def->rules[j];
			rule_evaluate(&e);
		}
	}
	return e.stopped ? -1 : e.total;
}
