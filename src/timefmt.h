/* timefmt: the one time grammar of otarun, shared by the validator (rollout scripts), the policy
 * parser (policy files) and the Lua half (through otarun.core.validate): durations ("1h30m"),
 * RFC 3339 times, calendar dates, week days ("mon-thu"), clock times ("01:00"), UTC offsets
 * ("+08:00") and weekly windows. Pure C: no Lua, no allocation. Parsers return 0, or -1 with a
 * reason in err (what was given, what would be right). docs/time.md describes the grammar. */
#ifndef OTARUN_TIMEFMT_H
#define OTARUN_TIMEFMT_H
#include <stddef.h>

#define TIMEFMT_DAY 86400 /* seconds */
#define TIMEFMT_MINUTES_PER_DAY 1440

/* "90s", "30m", "24h", "2d", "1h30m": d/h/m/s in decreasing order, each at most once, > 0. */
int timefmt_parse_duration(const char *s, long long *seconds, char *err, size_t errlen);
/* RFC 3339 with "Z" or "±hh:mm"; fractions of a second are dropped. offset may be NULL. */
int timefmt_parse_time(const char *s, long long *epoch, int *offset, char *err, size_t errlen);
/* "2026-12-01T02:00:00+08:00"; "Z" for offset 0. Returns the length written (< buflen), or -1. */
int timefmt_format_time(long long epoch, int offset, char *buf, size_t buflen);
/* A calendar date "YYYY-MM-DD" -> days since 1970-01-01; -1 (no message) when not one. */
int timefmt_parse_date(const char *s, long long *day);
/* A yearly "MM-DD" -> month * 100 + day; -1 (no message) when not one. */
int timefmt_parse_month_day(const char *s, int *md);
/* Week days: "mon-thu", "mon,wed,fri-sun" (ranges wrap), "daily". days[1] = Monday .. days[7]. */
int timefmt_parse_days(const char *s, int days[8], char *err, size_t errlen);
/* "HH:MM" from "00:00" to "23:59" -> minutes after midnight. */
int timefmt_parse_clock(const char *s, int *minutes, char *err, size_t errlen);
/* "+08:00", "-05:30", "Z" or "UTC" -> seconds east of UTC. */
int timefmt_parse_tz(const char *s, int *offset, char *err, size_t errlen);
/* "1h30m", "2d", "0s": seconds in the duration grammar, largest units first (for messages). */
const char *timefmt_format_duration(long long seconds, char *buf, size_t buflen);
/* The month and day (month * 100 + day) of epoch t at offset seconds east of UTC. */
int timefmt_month_day(long long t, int offset);
/* Days since 1970-01-01 of a proleptic Gregorian date. */
long long timefmt_days_from_civil(long long y, int m, int d);

/* A weekly window: on days[d] (1 = Monday .. 7 = Sunday) from `from` to `to` minutes after local
 * midnight (to <= from crosses midnight), local time being tz seconds east of UTC or, when zone is
 * a name, the time of that IANA zone (tz.h; daylight saving applies). */
struct timefmt_window {
	const int *days; /* 8 entries, [0] unused */
	int from, to, tz;
	const char *zone; /* NULL or "": the fixed offset tz */
};

/* The earliest epoch >= t inside the window (t itself when inside); -1 when it never opens or
 * the zone is unknown. */
long long timefmt_next_window_open(const struct timefmt_window *w, long long t);

#endif
