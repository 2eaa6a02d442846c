/* Parsers for the values policy rules are written with: durations ("12h", "1h30m"), freeze bounds
 * (dates, RFC 3339 times, or yearly "MM-DD"), window days ("mon-thu", "mon,wed,fri-sun"), clock
 * times ("01:00") and UTC offsets ("+08:00", "Z"). Uses: policy.h, timefmt.h (the grammar rollout
 * scripts are written in). Each error says what was expected, for the policy loader to prefix with the
 * policy and rule. */
#include <ctype.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>
#include "policy.h"
#include "timefmt.h"

static int parse_error(char *err, size_t len, const char *what, const char *s)
{
	snprintf(err, len, "%s, got \"%s\"", what, s);
	return -1;
}

/* Durations, days, clock times and offsets are written as in rollout scripts: the shared grammar
 * (timefmt.c) judges them, so a policy and a script never disagree on what "1h30m" or "fri-mon" mean. */
int policy_parse_duration(const char *s, long long *seconds, char *err, size_t errlen)
{
	return timefmt_parse_duration(s, seconds, err, errlen) ? -1 : 0;
}

int policy_parse_offset(const char *s, long *seconds, char *err, size_t errlen)
{
	int off;
	if (strcmp(s, "z") == 0)
		s = "Z";
	if (timefmt_parse_tz(s, &off, err, errlen))
		return -1;
	*seconds = off;
	return 0;
}

/* "24:00" is allowed here: an allowed window may run to the end of the day. */
int policy_parse_clock(const char *s, int *minute, char *err, size_t errlen)
{
	if (strcmp(s, "24:00") == 0) {
		*minute = TIMEFMT_MINUTES_PER_DAY;
		return 0;
	}
	return timefmt_parse_clock(s, minute, err, errlen) ? -1 : 0;
}

int policy_parse_days(const char *s, unsigned *days, char *err, size_t errlen)
{
	char lower[64];
	size_t n = strlen(s);
	if (n >= sizeof lower)
		return parse_error(err, errlen, "expected days like \"mon-thu\", \"sat,sun\" or \"daily\"", s);
	for (size_t i = 0; i <= n; i++)
		lower[i] = (char)tolower((unsigned char)s[i]);
	int set[8];
	if (timefmt_parse_days(lower, set, err, errlen))
		return -1;
	unsigned mask = 0;
	for (int d = 1; d <= 7; d++)
		if (set[d])
			mask |= 1u << (d - 1);
	*days = mask;
	return 0;
}

/* One bound: "YYYY-MM-DD" (midnight at tz; an end date includes its whole day) or RFC 3339. */
static int parse_bound(const char *s, long tz, int is_end, long long *out, char *err, size_t errlen)
{
	long long day;
	if (timefmt_parse_date(s, &day) == 0) {
		*out = (day + (is_end ? 1 : 0)) * TIMEFMT_DAY - tz;
		return 0;
	}
	char date[11];
	snprintf(date, sizeof date, "%s", s);
	if (timefmt_parse_date(date, &day) == 0 && (s[10] == 'T' || s[10] == 't'))
		return timefmt_parse_time(s, out, NULL, err, errlen); /* its message names the fault */
	return parse_error(err, errlen, "expected a date like \"2026-12-24\", a time like "
	                   "\"2026-12-24T18:00:00+08:00\", or a yearly \"12-24\"", s);
}

int policy_parse_period(const char *from, const char *to, const char *tz,
                        struct policy_period *out, char *err, size_t errlen)
{
	memset(out, 0, sizeof *out);
	if (!from || !to) {
		snprintf(err, errlen, "needs both from and to (dates, RFC 3339 times, or yearly \"MM-DD\")");
		return -1;
	}
	if (tz && policy_parse_offset(tz, &out->tz, err, errlen))
		return -1;
	int yearly_from = timefmt_parse_month_day(from, &out->from_md) == 0;
	int yearly_to = timefmt_parse_month_day(to, &out->to_md) == 0;
	if (yearly_from != yearly_to) {
		snprintf(err, errlen, "from \"%s\" and to \"%s\" must both be yearly (\"MM-DD\") or both "
		         "dates or times", from, to);
		return -1;
	}
	out->yearly = yearly_from;
	if (out->yearly)
		return 0;
	if (parse_bound(from, out->tz, 0, &out->from, err, errlen) ||
	    parse_bound(to, out->tz, 1, &out->to, err, errlen))
		return -1;
	if (out->to <= out->from) {
		snprintf(err, errlen, "the period ends (\"%s\") before it starts (\"%s\")", to, from);
		return -1;
	}
	return 0;
}
