/* Parsers for the values policy rules are written with: durations ("12h", "1h30m"), freeze bounds
 * (dates, RFC 3339 times, or yearly "MM-DD"), window days ("mon-thu", "mon,wed,fri-sun"), clock
 * times ("01:00") and UTC offsets ("+08:00", "Z"). Uses: policy.h. Each error says what was
 * expected, for the policy loader to prefix with the policy and rule. */
#include <ctype.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>
#include "policy.h"

static int parse_error(char *err, size_t len, const char *what, const char *s)
{
	snprintf(err, len, "%s, got \"%s\"", what, s);
	return -1;
}

/* Reads exactly n digits at s into *out. */
static int digits(const char *s, int n, int *out)
{
	int v = 0;
	for (int i = 0; i < n; i++) {
		if (!isdigit((unsigned char)s[i]))
			return -1;
		v = v * 10 + (s[i] - '0');
	}
	*out = v;
	return 0;
}

int policy_parse_duration(const char *s, long long *seconds, char *err, size_t errlen)
{
	static const char units[] = "dhms";
	static const long long mult[] = {86400, 3600, 60, 1};
	const char *what = "expected a duration like 90s, 30m, 12h, 2d or 1h30m";
	long long total = 0;
	int rank = -1;
	const char *p = s;
	if (!*p)
		return parse_error(err, errlen, what, s);
	while (*p) {
		long long n = 0;
		const char *start = p;
		while (isdigit((unsigned char)*p) && n < 100000000)
			n = n * 10 + (*p++ - '0');
		const char *u = *p ? strchr(units, *p) : NULL;
		if (p == start || !u || (int)(u - units) <= rank)
			return parse_error(err, errlen, what, s);
		rank = (int)(u - units);
		total += n * mult[rank];
		p++;
	}
	*seconds = total;
	return 0;
}

int policy_parse_offset(const char *s, long *seconds, char *err, size_t errlen)
{
	int h, m;
	if (strcmp(s, "Z") == 0 || strcmp(s, "z") == 0 || strcmp(s, "UTC") == 0) {
		*seconds = 0;
		return 0;
	}
	if ((s[0] != '+' && s[0] != '-') || digits(s + 1, 2, &h) || s[3] != ':' ||
	    digits(s + 4, 2, &m) || s[6] != '\0' || h > 23 || m > 59)
		return parse_error(err, errlen, "expected a UTC offset like \"+08:00\", \"-05:00\" or \"Z\"", s);
	*seconds = (h * 3600L + m * 60L) * (s[0] == '-' ? -1 : 1);
	return 0;
}

int policy_parse_clock(const char *s, int *minute, char *err, size_t errlen)
{
	int h, m;
	if (digits(s, 2, &h) || s[2] != ':' || digits(s + 3, 2, &m) || s[5] != '\0' || m > 59 ||
	    h > 24 || (h == 24 && m != 0))
		return parse_error(err, errlen, "expected a time of day like \"01:00\"", s);
	*minute = h * 60 + m;
	return 0;
}

static int day_index(const char *s, size_t len)
{
	static const char *const names[] = {"mon", "tue", "wed", "thu", "fri", "sat", "sun"};
	for (int i = 0; i < 7; i++)
		if (len == 3 && strncasecmp(s, names[i], 3) == 0)
			return i;
	return -1;
}

int policy_parse_days(const char *s, unsigned *days, char *err, size_t errlen)
{
	const char *what = "expected days like \"mon-thu\", \"sat,sun\" or \"daily\"";
	if (strcasecmp(s, "daily") == 0) {
		*days = 0x7f;
		return 0;
	}
	unsigned mask = 0;
	const char *p = s;
	while (*p) {
		int a = day_index(p, strcspn(p, ",-")), b;
		if (a < 0)
			return parse_error(err, errlen, what, s);
		p += 3;
		b = a;
		if (*p == '-') {
			b = day_index(p + 1, strcspn(p + 1, ",-"));
			if (b < 0)
				return parse_error(err, errlen, what, s);
			p += 4;
		}
		for (int d = a;; d = (d + 1) % 7) { /* "fri-mon" wraps over the weekend */
			mask |= 1u << d;
			if (d == b)
				break;
		}
		if (*p == ',')
			p++;
		else if (*p)
			return parse_error(err, errlen, what, s);
	}
	if (!mask)
		return parse_error(err, errlen, what, s);
	*days = mask;
	return 0;
}

static long long days_from_civil(long long y, int m, int d)
{
	y -= m <= 2;
	long long era = (y >= 0 ? y : y - 399) / 400, yoe = y - era * 400;
	long long doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
	return era * 146097 + yoe * 365 + yoe / 4 - yoe / 100 + doy - 719468;
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
	int y, m, d, hh = 0, mm = 0, ss = 0;
	if (digits(s, 4, &y) || s[4] != '-' || digits(s + 5, 2, &m) || s[7] != '-' ||
	    digits(s + 8, 2, &d) || !valid_date(y, m, d))
		return parse_error(err, errlen, what, s);
	long long day = days_from_civil(y, m, d);
	if (s[10] == '\0') {
		*out = (day + (is_end ? 1 : 0)) * 86400 - tz;
		return 0;
	}
	if ((s[10] != 'T' && s[10] != 't' && s[10] != ' ') || digits(s + 11, 2, &hh) || s[13] != ':' ||
	    digits(s + 14, 2, &mm) || s[16] != ':' || digits(s + 17, 2, &ss) || hh > 23 || mm > 59 ||
	    ss > 60)
		return parse_error(err, errlen, what, s);
	const char *zone = s + 19;
	while (*zone == '.' || isdigit((unsigned char)*zone))
		zone++;
	long off;
	if (policy_parse_offset(zone, &off, err, errlen))
		return parse_error(err, errlen, "a time needs a zone, Z or +hh:mm", s);
	*out = day * 86400 + hh * 3600 + mm * 60 + ss - off;
	return 0;
}

static int parse_month_day(const char *s, int *md)
{
	int m, d;
	if (digits(s, 2, &m) || s[2] != '-' || digits(s + 3, 2, &d) || s[5] != '\0' || !valid_date(2000, m, d))
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
