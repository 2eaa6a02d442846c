/* test_timefmt: unit tests of the time grammar (src/timefmt.c) and the name suggestion
 * (src/suggest.c): durations, RFC 3339 times both ways, dates, yearly month-days, week days,
 * clock times, offsets and weekly windows. Harness: tests/harness.h. */
#include "suggest.h"
#include "timefmt.h"

#include <stdio.h>
#include <string.h>

#include "harness.h"

static void test_durations_and_times(void)
{
	static const struct { const char *s; long long secs; } good[] = {
		{ "90s", 90 }, { "30m", 1800 }, { "24h", 86400 }, { "2d", 172800 }, { "1h30m", 5400 },
		{ "1d2h3m4s", 93784 }, { "0h1m", 60 },
	};
	static const char *bad[] = { "", "90", "h", "1h1h", "30m1h", "1.5h", "0s", "-1h", "1 h", "1w", "1hx" };
	char err[200];
	long long v;
	int off;
	for (size_t i = 0; i < sizeof good / sizeof good[0]; i++)
		CHECK(timefmt_parse_duration(good[i].s, &v, err, sizeof err) == 0 && v == good[i].secs, "duration %s", good[i].s);
	for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
		CHECK(timefmt_parse_duration(bad[i], &v, err, sizeof err) == -1 && err[0], "bad duration \"%s\"", bad[i]);

	CHECK(timefmt_parse_time("1970-01-01T00:00:00Z", &v, &off, err, sizeof err) == 0 && v == 0 && off == 0, "epoch");
	CHECK(timefmt_parse_time("2026-12-01T02:00:00+08:00", &v, &off, err, sizeof err) == 0 && v == 1796061600 &&
	      off == 28800, "offset +08:00");
	CHECK(timefmt_parse_time("2026-11-30T12:30:00-05:30", &v, &off, err, sizeof err) == 0 && v == 1796061600 &&
	      off == -19800, "offset -05:30");
	CHECK(timefmt_parse_time("2026-12-01T02:00:00.123+08:00", &v, NULL, err, sizeof err) == 0 && v == 1796061600,
	      "fraction dropped");
	CHECK(timefmt_parse_time("2028-02-29T00:00:00Z", &v, NULL, err, sizeof err) == 0, "leap day");
	static const char *bad_times[] = {
		"2027-02-29T00:00:00Z", "2026-02-30T00:00:00Z", "2026-04-31T00:00:00Z", "2026-12-01T24:00:00Z",
		"2026-12-01T02:00:00", "2026-12-01 02:00:00Z", "2026-12-01", "2026-12-01T02:00:00+8:00",
		"2026-00-01T00:00:00Z", "2026-12-01T02:00:00+24:00", "2026-12-01T02:60:00Z",
	};
	for (size_t i = 0; i < sizeof bad_times / sizeof bad_times[0]; i++)
		CHECK(timefmt_parse_time(bad_times[i], &v, NULL, err, sizeof err) == -1, "bad time %s", bad_times[i]);

	char buf[64];
	timefmt_format_time(1796061600, 28800, buf, sizeof buf);
	CHECK(strcmp(buf, "2026-12-01T02:00:00+08:00") == 0, "format +08:00: %s", buf);
	timefmt_format_time(1796061600, 0, buf, sizeof buf);
	CHECK(strcmp(buf, "2026-11-30T18:00:00Z") == 0, "format Z: %s", buf);
	timefmt_format_time(1796061600, -19800, buf, sizeof buf);
	CHECK(strcmp(buf, "2026-11-30T12:30:00-05:30") == 0, "format -05:30: %s", buf);
	timefmt_format_time(-1, 0, buf, sizeof buf);
	CHECK(strcmp(buf, "1969-12-31T23:59:59Z") == 0, "before 1970: %s", buf);

	int days[8];
	CHECK(timefmt_parse_days("daily", days, err, sizeof err) == 0 && days[1] && days[7], "daily");
	CHECK(timefmt_parse_days("sat-sun", days, err, sizeof err) == 0 && !days[5] && days[6] && days[7], "sat-sun");
	CHECK(timefmt_parse_days("mon,wed,fri", days, err, sizeof err) == 0 && days[1] && !days[2] && days[3] && days[5],
	      "mon,wed,fri");
	CHECK(timefmt_parse_days("sun-tue", days, err, sizeof err) == 0 && days[7] && days[1] && days[2] && !days[3] &&
	      !days[6], "sun-tue wraps");
	CHECK(timefmt_parse_days("mon-", days, err, sizeof err) == -1, "mon-");
	CHECK(timefmt_parse_days("monday", days, err, sizeof err) == -1, "monday");
	int m;
	CHECK(timefmt_parse_clock("23:59", &m, err, sizeof err) == 0 && m == 1439, "23:59");
	CHECK(timefmt_parse_clock("24:00", &m, err, sizeof err) == -1, "24:00");
	CHECK(timefmt_parse_tz("-05:30", &off, err, sizeof err) == 0 && off == -19800, "tz -05:30");
	CHECK(timefmt_parse_tz("Z", &off, err, sizeof err) == 0 && off == 0, "tz Z");
	CHECK(timefmt_parse_tz("+0800", &off, err, sizeof err) == -1, "tz +0800");

	static const char *const cands[] = { "rate", "retry", "timeout", "versions" };
	CHECK(suggest_closest("rtae", cands, 4) && strcmp(suggest_closest("rtae", cands, 4), "rate") == 0, "rtae");
	CHECK(suggest_closest("version", cands, 4) && strcmp(suggest_closest("version", cands, 4), "versions") == 0, "version");
	CHECK(suggest_closest("colour", cands, 4) == NULL, "no suggestion when far");
}

static void test_windows(void)
{
	long long t0;
	char err[200];
	/* mon-thu 01:00-05:00 +08:00; 2026-12-01 is a Tuesday */
	int wdays[8] = { 0, 1, 1, 1, 1, 0, 0, 0 };
	struct timefmt_window w = { .days = wdays, .from = 60, .to = 300, .tz = 28800 };
	timefmt_parse_time("2026-12-01T03:00:00+08:00", &t0, NULL, err, sizeof err);
	CHECK(timefmt_next_window_open(&w, t0) == t0, "inside: itself");
	timefmt_parse_time("2026-12-01T05:00:00+08:00", &t0, NULL, err, sizeof err);
	long long want;
	timefmt_parse_time("2026-12-02T01:00:00+08:00", &want, NULL, err, sizeof err);
	CHECK(timefmt_next_window_open(&w, t0) == want, "at close: the next day's opening");
	/* Thursday 06:00 local -> next Monday 01:00 */
	timefmt_parse_time("2026-12-03T06:00:00+08:00", &t0, NULL, err, sizeof err);
	timefmt_parse_time("2026-12-07T01:00:00+08:00", &want, NULL, err, sizeof err);
	CHECK(timefmt_next_window_open(&w, t0) == want, "over the weekend");
	/* the same instant seen from UTC: Wednesday 22:00Z = Thursday 06:00 +08:00 */
	timefmt_parse_time("2026-12-02T22:00:00Z", &t0, NULL, err, sizeof err);
	CHECK(timefmt_next_window_open(&w, t0) == want, "the window's time zone, not UTC");

	/* fri 22:00-02:00 -05:30 crosses midnight: Saturday 01:00 local is inside */
	int xdays[8] = { 0, 0, 0, 0, 0, 1, 0, 0 };
	struct timefmt_window x = { .days = xdays, .from = 1320, .to = 120, .tz = -19800 };
	timefmt_parse_time("2026-12-05T01:00:00-05:30", &t0, NULL, err, sizeof err);
	CHECK(timefmt_next_window_open(&x, t0) == t0, "crossing midnight: still open on Saturday");
	timefmt_parse_time("2026-12-05T02:00:00-05:30", &t0, NULL, err, sizeof err);
	timefmt_parse_time("2026-12-11T22:00:00-05:30", &want, NULL, err, sizeof err);
	CHECK(timefmt_next_window_open(&x, t0) == want, "closed at 02:00: next Friday 22:00");
	timefmt_parse_time("2026-12-04T21:59:59-05:30", &t0, NULL, err, sizeof err);
	CHECK(timefmt_next_window_open(&x, t0) == t0 + 1, "one second before opening");

	int nodays[8] = { 0 };
	struct timefmt_window none = { .days = nodays, .from = 0, .to = 60 };
	CHECK(timefmt_next_window_open(&none, 0) == -1, "no days: never");
}


static void test_dates(void)
{
	long long day;
	int md;
	CHECK(timefmt_parse_date("1970-01-01", &day) == 0 && day == 0, "epoch day");
	CHECK(timefmt_parse_date("2026-12-24", &day) == 0 && day * TIMEFMT_DAY == 1798070400LL, "2026-12-24");
	CHECK(timefmt_parse_date("2028-02-29", &day) == 0, "leap day");
	static const char *bad[] = { "2027-02-29", "2026-13-01", "2026-00-10", "2026-04-31", "2026-1-01",
	                             "2026-12-24T00:00:00Z", "26-12-24", "" };
	for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
		CHECK(timefmt_parse_date(bad[i], &day) == -1, "bad date \"%s\"", bad[i]);
	CHECK(timefmt_parse_month_day("12-24", &md) == 0 && md == 1224, "12-24");
	CHECK(timefmt_parse_month_day("02-29", &md) == 0 && md == 229, "02-29 is a yearly day");
	CHECK(timefmt_parse_month_day("02-30", &md) == -1, "02-30");
	CHECK(timefmt_parse_month_day("2026-12-24", &md) == -1, "a full date is not yearly");
	CHECK(timefmt_days_from_civil(2000, 3, 1) == 11017, "2000-03-01");
	/* 2026-12-31T20:00:00Z is already January 1st at +08:00 */
	CHECK(timefmt_month_day(1798747200LL, 0) == 1231, "month-day in UTC");
	CHECK(timefmt_month_day(1798747200LL, 28800) == 101, "month-day at +08:00");
	CHECK(timefmt_month_day(-1, 0) == 1231, "before 1970");
}

static void test_format_duration(void)
{
	char buf[32];
	CHECK_STR(timefmt_format_duration(5400, buf, sizeof buf), "1h30m");
	CHECK_STR(timefmt_format_duration(172800, buf, sizeof buf), "2d");
	CHECK_STR(timefmt_format_duration(93784, buf, sizeof buf), "1d2h3m4s");
	CHECK_STR(timefmt_format_duration(0, buf, sizeof buf), "0s");
	long long back;
	char err[200];
	CHECK(timefmt_parse_duration(timefmt_format_duration(90061, buf, sizeof buf), &back, err, sizeof err) == 0 &&
	      back == 90061, "formatted durations parse back");
}

int main(void)
{
	test_durations_and_times();
	test_dates();
	test_format_duration();
	test_windows();
	return harness_report();
}
