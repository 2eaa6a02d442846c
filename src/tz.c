/*
 * tz.c: zone names checked against the tz database, offsets at an instant, and local wall-clock
 * times turned into instants (docs/windows.md). Owns nothing but a copy of $TZ while a call runs.
 * Uses: the C library's localtime_r, setenv, tzset.
 */
#include "tz.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define TZ_NAME_MAX 64

static const char *tz_dir(void)
{
	const char *d = getenv("TZDIR");
	return d && *d ? d : "/usr/share/zoneinfo";
}

/* Letters, digits, '_', '-', '+', components joined by '/', none empty or starting with '.':
 * the shape of every name in the tz database, and never a path that leaves its folder. */
static int tz_name_shape(const char *name)
{
	size_t n = strlen(name);
	if (n == 0 || n >= TZ_NAME_MAX || name[0] == '/' || name[n - 1] == '/')
		return -1;
	for (size_t i = 0; i < n; i++) {
		char c = name[i];
		int ok = (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
			 c == '_' || c == '-' || c == '+' || c == '/';
		if (!ok)
			return -1;
		if ((i == 0 || name[i - 1] == '/') && (c == '/' || c == '.'))
			return -1;
	}
	return 0;
}

int tz_check(const char *name, char *err, size_t errlen)
{
	if (tz_name_shape(name) != 0) {
		snprintf(err, errlen, "\"%s\" is not a time zone name: write an IANA name like \"Europe/Berlin\" "
			 "or \"Asia/Shanghai\", or an offset like \"+08:00\"", name);
		return -1;
	}
	char path[512];
	snprintf(path, sizeof path, "%s/%s", tz_dir(), name);
	FILE *f = fopen(path, "rb");
	char magic[4] = { 0 };
	size_t got = f ? fread(magic, 1, sizeof magic, f) : 0;
	if (f)
		fclose(f);
	if (got != sizeof magic || memcmp(magic, "TZif", 4) != 0) {
		snprintf(err, errlen, "time zone \"%s\" is not in the tz database (%s): write an IANA name "
			 "like \"Europe/Berlin\" or \"America/New_York\" (install Debian's tzdata), or an offset "
			 "like \"+08:00\"", name, tz_dir());
		return -1;
	}
	return 0;
}

/* Runs localtime_r for `utc` with TZ set to `name`, then puts TZ back as it was. */
static int tz_gmtoff(const char *name, long long utc, int *offset)
{
	char saved[256];
	const char *old = getenv("TZ");
	int had = old != NULL && strlen(old) < sizeof saved;
	if (had)
		strcpy(saved, old);
	char want[TZ_NAME_MAX + 2];
	snprintf(want, sizeof want, ":%s", name);
	setenv("TZ", want, 1);
	tzset();
	time_t t = (time_t)utc;
	struct tm tm;
	int rc = localtime_r(&t, &tm) ? 0 : -1;
	if (had)
		setenv("TZ", saved, 1);
	else
		unsetenv("TZ");
	tzset();
	if (rc == 0)
		*offset = (int)tm.tm_gmtoff;
	return rc;
}

int tz_offset_at(const char *name, long long utc, int *offset)
{
	char err[256];
	if (tz_check(name, err, sizeof err) != 0)
		return -1;
	return tz_gmtoff(name, utc, offset);
}

long long tz_local_to_utc(const char *name, long long local)
{
	int before, after;
	/* The offsets a day either side bracket any transition near `local`. */
	if (tz_offset_at(name, local - 86400, &before) != 0 || tz_gmtoff(name, local + 86400, &after) != 0)
		return -1;
	long long first = local - before, second = local - after;
	int off;
	/* A wall-clock time is real in an offset when that offset holds at the instant it names; when it
	 * is real in both (autumn), the first. */
	int first_real = tz_gmtoff(name, first, &off) == 0 && off == before;
	int second_real = tz_gmtoff(name, second, &off) == 0 && off == after;
	if (first_real && (!second_real || first <= second))
		return first;
	if (second_real)
		return second;
	/* In a gap (spring forward): the instant the gap ends, where `after` starts to hold. */
	long long lo = second < first ? second : first, hi = second < first ? first : second;
	while (lo < hi) {
		long long mid = lo + (hi - lo) / 2;
		if (tz_gmtoff(name, mid, &off) == 0 && off == after)
			hi = mid;
		else
			lo = mid + 1;
	}
	return lo;
}
