/* validate_parse: the value parsers of the validator (durations, RFC 3339 times, maintenance
 * windows, package sizes, GrayPercent text) and the edit-distance suggestion for misspelled
 * fields. Pure C, no allocation; used by validate.c, validate_fields.c, l_validate.c and (the
 * calendar pieces) policy_parse.c. */
#include "validate.h"
#include "tz.h"

#include <ctype.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
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

/* The two above, for the policy parser (policy_parse.c), so both read dates the same way. */
int validate_digits(const char *s, int n, int *out)
{
	return digits(s, n, out);
}

long long validate_days_from_civil(long long y, int m, int d)
{
	return days_from_civil(y, m, d);
}

/* ---- durations ------------------------------------------------------------------------------ */

int validate_parse_duration(const char *s, long long *seconds, char *err, size_t errlen)
{
	static const char units[] = "dhms";
	static const long long mult[] = { 86400, 3600, 60, 1 };
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
			if (n > (LLONG_MAX / 10) / 86400)
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

int validate_parse_time(const char *s, long long *epoch, int *offset, char *err, size_t errlen)
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
	*epoch = days_from_civil(Y, M, D) * 86400 + h * 3600 + m * 60 + sec - off;
	if (offset)
		*offset = off;
	return 0;
}

int validate_format_time(long long epoch, int offset, char *buf, size_t buflen)
{
	long long local = epoch + offset, y;
	long long days = floor_div(local, 86400), rem = local - days * 86400;
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

/* ---- sizes ---------------------------------------------------------------------------------- */

int validate_parse_size(const char *s, long long *bytes, char *err, size_t errlen)
{
	static const struct { const char *unit; long long mult; } units[] = {
		{ "", 1 }, { "b", 1 }, { "kb", 1024 }, { "kib", 1024 }, { "k", 1024 },
		{ "mb", 1048576 }, { "mib", 1048576 }, { "m", 1048576 },
		{ "gb", 1073741824 }, { "gib", 1073741824 }, { "g", 1073741824 },
	};
	const char *p = s;
	while (isdigit((unsigned char)*p))
		p++;
	if (*p == '.') {
		p++;
		while (isdigit((unsigned char)*p))
			p++;
	}
	if (p == s || !isdigit((unsigned char)s[0]) || p[-1] == '.')
		FAIL("\"%s\" is not a size: write bytes or a number with B, KB, MB or GB (e.g. \"12MB\")", s);
	const char *u = p;
	while (*u == ' ')
		u++;
	char unit[8];
	size_t ul = strlen(u);
	if (ul >= sizeof unit)
		FAIL("\"%s\" has an unknown size unit \"%s\" (use B, KB, MB or GB)", s, u);
	for (size_t i = 0; i < ul && i < sizeof unit - 1; i++)
		unit[i] = (char)tolower((unsigned char)u[i]);
	unit[ul] = '\0';
	for (size_t i = 0; i < sizeof units / sizeof units[0]; i++) {
		if (strcmp(unit, units[i].unit) == 0) {
			double v = strtod(s, NULL) * (double)units[i].mult;
			if (v > 9e18)
				FAIL("size \"%s\" is too large", s);
			*bytes = (long long)v;
			return 0;
		}
	}
	FAIL("\"%s\" has an unknown size unit \"%s\" (use B, KB, MB or GB)", s, u);
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

int validate_parse_days(const char *s, int days[8], char *err, size_t errlen)
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

int validate_parse_clock(const char *s, int *minutes, char *err, size_t errlen)
{
	int h, m;
	if (strlen(s) != 5 || digits(s, 2, &h) || s[2] != ':' || digits(s + 3, 2, &m) || h > 23 || m > 59)
		FAIL("\"%s\" is not a time of day: write \"HH:MM\" from \"00:00\" to \"23:59\"", s);
	*minutes = h * 60 + m;
	return 0;
}

int validate_parse_tz(const char *s, int *offset, char *err, size_t errlen)
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
static long long window_instant(const struct validate_window *w, long long local)
{
	return w->zone[0] ? tz_local_to_utc(w->zone, local) : local - w->tz;
}

long long validate_next_window_open(const struct validate_window *w, long long t)
{
	int offset = w->tz;
	if (w->zone[0] && tz_offset_at(w->zone, t, &offset) != 0)
		return -1;
	long long today = floor_div(t + offset, 86400);
	long long best = -1;
	int span = (w->to > w->from ? w->to - w->from : w->to + 1440 - w->from) * 60;
	/* Yesterday's window may still be open (it can cross midnight); a week covers every day. */
	for (long long day = today - 1; day <= today + 7; day++) {
		int wd = (int)(((day + 3) % 7 + 7) % 7) + 1; /* 1970-01-01 was a Thursday */
		if (!w->days[wd])
			continue;
		long long open_local = day * 86400 + (long long)w->from * 60;
		long long open = window_instant(w, open_local), close = window_instant(w, open_local + span);
		if (t >= open && t < close)
			return t;
		if (open >= t && (best < 0 || open < best))
			best = open;
	}
	return best;
}

/* ---- GrayPercent ---------------------------------------------------------------------------- */

int validate_percent_text(double v, char *buf, size_t buflen)
{
	if (!(v >= 0) || v > 1e9 || buflen < 32)
		return -1;
	/* The shortest text that reads back as the same double: 12.5 not 12.5000000001. */
	for (int prec = 1; prec <= 17; prec++) {
		char tmp[64];
		snprintf(tmp, sizeof tmp, "%.*f", prec, v);
		if (strtod(tmp, NULL) == v) {
			size_t n = strlen(tmp);
			while (n > 0 && tmp[n - 1] == '0')
				n--;
			if (n > 0 && tmp[n - 1] == '.')
				n--;
			tmp[n] = 0;
			snprintf(buf, buflen, "%s", tmp);
			return 0;
		}
	}
	snprintf(buf, buflen, "%.17f", v);
	return 0;
}

/* ---- suggestions ---------------------------------------------------------------------------- */

/* Optimal string alignment distance: a swapped pair of letters ("rtae") costs 1. */
static size_t edit_distance(const char *a, const char *b)
{
	size_t la = strlen(a), lb = strlen(b);
	if (la > 63 || lb > 63)
		return (size_t)-1;
	size_t d[64][64];
	for (size_t i = 0; i <= la; i++)
		d[i][0] = i;
	for (size_t j = 0; j <= lb; j++)
		d[0][j] = j;
	for (size_t i = 1; i <= la; i++) {
		for (size_t j = 1; j <= lb; j++) {
			size_t cost = tolower((unsigned char)a[i - 1]) != tolower((unsigned char)b[j - 1]);
			size_t v = d[i - 1][j] + 1;
			if (d[i][j - 1] + 1 < v)
				v = d[i][j - 1] + 1;
			if (d[i - 1][j - 1] + cost < v)
				v = d[i - 1][j - 1] + cost;
			if (i > 1 && j > 1 && a[i - 1] == b[j - 2] && a[i - 2] == b[j - 1] && d[i - 2][j - 2] + 1 < v)
				v = d[i - 2][j - 2] + 1;
			d[i][j] = v;
		}
	}
	return d[la][lb];
}

const char *validate_suggest(const char *word, const char *const *candidates, size_t n)
{
	const char *best = NULL;
	size_t best_d = (size_t)-1, len = strlen(word);
	size_t limit = len <= 3 ? 1 : len <= 6 ? 2 : 3;
	for (size_t i = 0; i < n; i++) {
		size_t d = edit_distance(word, candidates[i]);
		if (d < best_d) {
			best_d = d;
			best = candidates[i];
		}
	}
	return best_d <= limit ? best : NULL;
}
