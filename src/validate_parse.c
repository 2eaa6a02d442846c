/* validate_parse: the validator's own value parsers (package sizes, GrayPercent text). Times,
 * durations and windows are the shared grammar of timefmt.c. Pure C, no allocation. */
#include "validate.h"

#include <ctype.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define FAIL(...) do { if (err && errlen) snprintf(err, errlen, __VA_ARGS__); return -1; } while (0)

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
