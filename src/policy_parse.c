/* Parsers for the values policy rules are written with: durations ("12h", "1h30m"), freeze bounds
 * (dates, RFC 3339 times, or yearly "MM-DD"), window days ("mon-thu", "mon,wed,fri-sun"), clock
 * times ("01:00") and UTC offsets ("+08:00", "Z"). Uses: policy.h, validate.h (its parsers and
 * calendar pieces). Each error says what was expected, for the policy loader to prefix with the
 * policy and rule. */
#include <ctype.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>
#include "policy.h"
#include "validate.h"

static int parse_error(char *err, size_t len, const char *what, const char *s)
{
	snprintf(err, len, "%s, got \"%s\"", what, s);
	return -1;
}

/* Durations, days, clock times and offsets are written as in rollout scripts: the validator's
 * parsers judge them, so a policy and a script never disagree on what "1h30m" or "fri-mon" mean. */
int policy_parse_duration(const char *s, long long *seconds, char *err, size_t errlen)
{
	return validate_parse_duration(s, seconds, err, errlen) ? -1 : 0;
}

int policy_parse_offset(const char *s, long *seconds, char *err, size_t errlen)
{
	int off;
	if (strcmp(s, "z") == 0)
		s = "Z";
	if (validate_parse_tz(s, &off, err, errlen))
		return -1;
	*seconds = off;
	return 0;
}

/* "24:00" is allowed here: an allowed window may run to the end of the day. */
int policy_parse_clock(const char *s, int *minute, char *err, size_t errlen)
{
	if (strcmp(s, "24:00") == 0) {
		*minute = 1440;
		return 0;
	}
	return validate_parse_clock(s, minute, err, errlen) ? -1 : 0;
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
	if (validate_parse_days(lower, set, err, errlen))
		return -1;
	unsigned mask = 0;
	for (int d = 1; d <= 7; d++)
		if (set[d])
			mask |= 1u << (d - 1);
	*days = mask;
	return 0;
}

static int valid_date(int y, int m, int d)
{
	static const int mdays[] = {31, 29, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
	if (m < 1 || m > 12 || d < 1 || d > mdays[m - 1])
		return 0;
	return !(m == 2 && d == 29 && y >= 0 && !(y % 4 == 0 && (y % 100 != 0 || y % 400 == 0)));
}

/* One bound: "YYYY-MM-DD" (midnight at tz; an end date includes its whole day) or RFC 3339. */
static int parse_bound(const char *s, long tz, int is_end, long long *out, char *err, size_t errlen)
{
	const char *what = "expected a date like \"2026-12-24\", a time like \"2026-12-24T18:00:00+08:00\", "
	                   "or a yearly \"12-24\"";
	int y, m, d;
	if (validate_digits(s, 4, &y) || s[4] != '-' || validate_digits(s + 5, 2, &m) || s[7] != '-' ||
	    validate_digits(s + 8, 2, &d) || !valid_date(y, m, d))
		return parse_error(err, errlen, what, s);
	long long day = validate_days_from_civil(y, m, d);
	if (s[10] == '\0') {
		*out = (day + (is_end ? 1 : 0)) * 86400 - tz;
		return 0;
	}
	if (validate_parse_time(s, out, NULL, err, errlen))
		return -1;
	return 0;
}

static int parse_month_day(const char *s, int *md)
{
	int m, d;
	if (validate_digits(s, 2, &m) || s[2] != '-' || validate_digits(s + 3, 2, &d) || s[5] != '\0' ||
	    !valid_date(2000, m, d))
		return -1;
	*md = m * 100 + d;
	return 0;
}

int policy_parse_period(const char *from, const char *to, const char *tz,
                        struct policy_period *out, char *err, size_t errlen)
{
	memset(out, 0, sizeof *out);
	if (tz && policy_parse_offset(tz, &out->tz, err, errlen))
		return -1;
	int yearly_from = parse_month_day(from, &out->from_md) == 0;
	int yearly_to = parse_month_day(to, &out->to_md) == 0;
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
