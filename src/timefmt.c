/* timefmt: the time grammar (see timefmt.h and docs/time.md). Pure C, no allocation. */
#include "timefmt.h"
#include "tz.h"

#include <ctype.h>
#include <limits.h>
#include <stdio.h>
#include <string.h>

#define FAIL(...) do { if (err && errlen) snprintf(err, errlen, __VA_ARGS__); return -1; } while (0)

/* ---- calendar ------------------------------------------------------------------------------- */

/* Days since 1970-01-01 of a proleptic Gregorian date (Howard Hinnant's algorithm). */
static long long days_from_civil(long long y, int m, int d)
{
	y -= m <= 2;
	long long era = (y >= 0 ? y : y - 399) / 400;
	long long yoe = y - era * 400;
	long long doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
	long long doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
	return era * 146097 + doe - 719468;
}

static void civil_from_days(long long z, long long *y, int *m, int *d)
{
	z += 719468;
	long long era = (z >= 0 ? z : z - 146096) / 146097;
	long long doe = z - era * 146097;
	long long yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
	long long doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
	long long mp = (5 * doy + 2) / 153;
	*d = (int)(doy - (153 * mp + 2) / 5 + 1);
	*m = (int)(mp < 10 ? mp + 3 : mp - 9);
	*y = yoe + era * 400 + (*m <= 2);
}

static int days_in_month(long long y, int m)
{
	static const int dm[] = { 31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31 };
	int leap = (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
	return m == 2 && leap ? 29 : dm[m - 1];
}

static long long floor_div(long long a, long long b)
{
	long long q = a / b;
	return (a % b != 0 && (a < 0) != (b < 0)) ? q - 1 : q;
}

/* Reads exactly n digits. */
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

long long timefmt_days_from_civil(long long y, int m, int d)
{
	return days_from_civil(y, m, d);
}

int timefmt_parse_date(const char *s, long long *day)
{
	int y, m, d;
	if (strlen(s) != 10 || digits(s, 4, &y) || s[4] != '-' || digits(s + 5, 2, &m) || s[7] != '-' ||
	    digits(s + 8, 2, &d) || m < 1 || m > 12 || d < 1 || d > days_in_month(y, m))
		return -1;
	*day = days_from_civil(y, m, d);
	return 0;
}

int timefmt_parse_month_day(const char *s, int *md)
{
	int m, d;
	if (strlen(s) != 5 || digits(s, 2, &m) || s[2] != '-' || digits(s + 3, 2, &d) || m < 1 || m > 12 ||
	    d < 1 || d > days_in_month(2000, m))
		return -1;
	*md = m * 100 + d;
	return 0;
}

/* ---- durations ------------------------------------------------------------------------------ */

int timefmt_parse_duration(const char *s, long long *seconds, char *err, size_t errlen)
{
	static const char units[] = "dhms";
	static const long long mult[] = { TIMEFMT_DAY, 3600, 60, 1 };
	const char *p = s;
	int last = -1;
	long long total = 0;
	if (!*p)
		FAIL("an empty duration; write e.g. \"90s\", \"30m\", \"24h\", \"2d\" or \"1h30m\"");
	while (*p) {
		if (!isdigit((unsigned char)*p))
			FAIL("\"%s\" is not a duration: expected digits then a unit d, h, m or s (e.g. \"1h30m\")", s);
		long long n = 0;
		while (isdigit((unsigned char)*p)) {
			if (n > (LLONG_MAX / 10) / TIMEFMT_DAY)
				FAIL("duration \"%s\" is too large", s);
			n = n * 10 + (*p++ - '0');
		}
		const char *u = *p ? strchr(units, *p) : NULL;
		if (!u)
			FAIL("\"%s\" is not a duration: each number needs a unit d, h, m or s (e.g. \"90s\", \"24h\")", s);
		int ui = (int)(u - units);
		if (ui <= last)
			FAIL("\"%s\" is not a duration: units must appear once each, in the order d, h, m, s (e.g. \"1d12h\")", s);
		last = ui;
		total += n * mult[ui];
		if (total > LLONG_MAX / 4)
			FAIL("duration \"%s\" is too large", s);
		p++;
	}
	if (total <= 0)
		FAIL("duration \"%s\" must be positive", s);
	*seconds = total;
	return 0;
}

/* ---- times ---------------------------------------------------------------------------------- */

int timefmt_parse_time(const char *s, long long *epoch, int *offset, char *err, size_t errlen)
{
	int Y, M, D, h, m, sec, oh = 0, om = 0, sign = 0;
	size_t n = strlen(s);
	const char *want = "expected RFC 3339 like \"2026-12-01T02:00:00+08:00\" or \"2026-12-01T02:00:00Z\"";
	if (n < 19 || digits(s, 4, &Y) || s[4] != '-' || digits(s + 5, 2, &M) || s[7] != '-' ||
	    digits(s + 8, 2, &D) || (s[10] != 'T' && s[10] != 't') || digits(s + 11, 2, &h) ||
	    s[13] != ':' || digits(s + 14, 2, &m) || s[16] != ':' || digits(s + 17, 2, &sec))
		FAIL("\"%s\" is not a time: %s", s, want);
	const char *p = s + 19;
	if (*p == '.') {
		p++;
		if (!isdigit((unsigned char)*p))
			FAIL("\"%s\" is not a time: a '.' must be followed by digits", s);
		while (isdigit((unsigned char)*p))
			p++;
	}
	if ((*p == 'Z' || *p == 'z') && p[1] == 0) {
		sign = 0;
	} else if ((*p == '+' || *p == '-') && strlen(p) == 6 && !digits(p + 1, 2, &oh) && p[3] == ':' &&
		   !digits(p + 4, 2, &om)) {
		sign = *p == '-' ? -1 : 1;
		if (oh > 23 || om > 59)
			FAIL("\"%s\" has an invalid UTC offset %s (at most ±23:59)", s, p);
	} else {
		FAIL("\"%s\" is not a time: it needs a UTC offset, \"Z\" or \"±hh:mm\" (%s)", s, want);
	}
	if (M < 1 || M > 12)
		FAIL("\"%s\" has an invalid month %02d", s, M);
	if (D < 1 || D > days_in_month(Y, M))
		FAIL("\"%s\" is not a date: %04d-%02d has %d days", s, Y, M, days_in_month(Y, M));
	if (h > 23 || m > 59 || sec > 59)
		FAIL("\"%s\" has an invalid time of day %02d:%02d:%02d", s, h, m, sec);
	int off = sign * (oh * 3600 + om * 60);
	*epoch = days_from_civil(Y, M, D) * TIMEFMT_DAY + h * 3600 + m * 60 + sec - off;
	if (offset)
		*offset = off;
	return 0;
}

int timefmt_format_time(long long epoch, int offset, char *buf, size_t buflen)
{
	long long local = epoch + offset, y;
	long long days = floor_div(local, TIMEFMT_DAY), rem = local - days * TIMEFMT_DAY;
	int m, d;
	civil_from_days(days, &y, &m, &d);
	char tz[8] = "Z";
	if (offset) {
		int a = offset < 0 ? -offset : offset;
		snprintf(tz, sizeof tz, "%c%02d:%02d", offset < 0 ? '-' : '+', a / 3600 % 100, a % 3600 / 60);
	}
	int w = snprintf(buf, buflen, "%04lld-%02d-%02dT%02d:%02d:%02d%s", y, m, d, (int)(rem / 3600),
			 (int)(rem % 3600 / 60), (int)(rem % 60), tz);
	return w < 0 || (size_t)w >= buflen ? -1 : w;
}

/* ---- windows -------------------------------------------------------------------------------- */

static const char *const day_names[] = { NULL, "mon", "tue", "wed", "thu", "fri", "sat", "sun" };

static int day_index(const char *s, size_t n)
{
	if (n != 3)
		return 0;
	for (int i = 1; i <= 7; i++)
		if (tolower((unsigned char)s[0]) == day_names[i][0] && tolower((unsigned char)s[1]) == day_names[i][1] &&
		    tolower((unsigned char)s[2]) == day_names[i][2])
			return i;
	return 0;
}

int timefmt_parse_days(const char *s, int days[8], char *err, size_t errlen)
{
	memset(days, 0, 8 * sizeof days[0]);
	if (strcmp(s, "daily") == 0 || strcmp(s, "mon-sun") == 0) {
		for (int i = 1; i <= 7; i++)
			days[i] = 1;
		return 0;
	}
	const char *p = s;
	for (;;) {
		const char *comma = strchr(p, ',');
		size_t n = comma ? (size_t)(comma - p) : strlen(p);
		const char *dash = memchr(p, '-', n);
		int a, b;
		if (dash) {
			a = day_index(p, (size_t)(dash - p));
			b = day_index(dash + 1, n - (size_t)(dash - p) - 1);
		} else {
			a = b = day_index(p, n);
		}
		if (!a || !b)
			FAIL("days \"%s\" is not understood: use \"mon-thu\", \"mon,wed,fri\", \"sat-sun\", \"daily\" "
			     "or a list { \"mon\", \"tue\" }", s);
		for (int d = a;; d = d % 7 + 1) { /* "fri-mon" wraps around the week */
			days[d] = 1;
			if (d == b)
				break;
		}
		if (!comma)
			return 0;
		p = comma + 1;
	}
}

int timefmt_parse_clock(const char *s, int *minutes, char *err, size_t errlen)
{
	int h, m;
	if (strlen(s) != 5 || digits(s, 2, &h) || s[2] != ':' || digits(s + 3, 2, &m) || h > 23 || m > 59)
		FAIL("\"%s\" is not a time of day: write \"HH:MM\" from \"00:00\" to \"23:59\"", s);
	*minutes = h * 60 + m;
	return 0;
}

int timefmt_parse_tz(const char *s, int *offset, char *err, size_t errlen)
{
	int h, m;
	if (strcmp(s, "Z") == 0 || strcmp(s, "UTC") == 0 || strcmp(s, "utc") == 0) {
		*offset = 0;
		return 0;
	}
	if (strlen(s) != 6 || (s[0] != '+' && s[0] != '-') || digits(s + 1, 2, &h) || s[3] != ':' ||
	    digits(s + 4, 2, &m) || h > 23 || m > 59)
		FAIL("tz \"%s\" is not understood: write an offset like \"+08:00\" or \"-05:30\", or \"UTC\"", s);
	*offset = (s[0] == '-' ? -1 : 1) * (h * 3600 + m * 60);
	return 0;
}

/* The instant a local wall-clock time happens: by the fixed offset, or by the zone's rules. */
static long long window_instant(const struct timefmt_window *w, long long local)
{
	return w->zone && w->zone[0] ? tz_local_to_utc(w->zone, local) : local - w->tz;
}

long long timefmt_next_window_open(const struct timefmt_window *w, long long t)
{
	int offset = w->tz;
	if (w->zone && w->zone[0] && tz_offset_at(w->zone, t, &offset) != 0)
		return -1;
	long long today = floor_div(t + offset, TIMEFMT_DAY);
	long long best = -1;
	int span = (w->to > w->from ? w->to - w->from : w->to + TIMEFMT_MINUTES_PER_DAY - w->from) * 60;
	/* Yesterday's window may still be open (it can cross midnight); a week covers every day. */
	for (long long day = today - 1; day <= today + 7; day++) {
		int wd = (int)(((day + 3) % 7 + 7) % 7) + 1; /* 1970-01-01 was a Thursday */
		if (!w->days[wd])
			continue;
		long long open_local = day * TIMEFMT_DAY + (long long)w->from * 60;
		long long open = window_instant(w, open_local), close = window_instant(w, open_local + span);
		if (t >= open && t < close)
			return t;
		if (open >= t && (best < 0 || open < best))
			best = open;
	}
	return best;
}

const char *timefmt_format_duration(long long secs, char *buf, size_t len)
{
	static const long long unit[] = { TIMEFMT_DAY, 3600, 60, 1 };
	static const char name[] = "dhms";
	size_t used = 0;
	buf[0] = '\0';
	for (int i = 0; i < 4 && used < len; i++) {
		if (secs >= unit[i] || (i == 3 && used == 0)) {
			used += (size_t)snprintf(buf + used, len - used, "%lld%c", secs / unit[i], name[i]);
			secs %= unit[i];
		}
	}
	return buf;
}

int timefmt_month_day(long long t, int offset)
{
	long long y;
	int m, d;
	civil_from_days(floor_div(t + offset, TIMEFMT_DAY), &y, &m, &d);
	return m * 100 + d;
}
