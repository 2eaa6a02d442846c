/* tz.c: IANA zones with daylight saving, refused names, and wall-clock times in gaps and folds. */
#include "harness.h"
#include "tz.h"

#include <stdlib.h>

/* 2026-07-15T00:00:00Z and 2026-01-15T00:00:00Z */
#define JULY 1784073600LL
#define JANUARY 1768435200LL

int main(void)
{
	char err[512];
	int off = 0;
	CHECK(tz_check("Europe/Berlin", err, sizeof err) == 0, "Berlin: %s", err);
	CHECK(tz_check("CET", err, sizeof err) == 0, "CET: %s", err);
	CHECK(tz_check("UTC", err, sizeof err) == 0, "UTC: %s", err);
	CHECK(tz_check("Europe/Berlln", err, sizeof err) != 0 && strstr(err, "not in the tz database"), "%s", err);
	CHECK(tz_check("../../etc/passwd", err, sizeof err) != 0 && strstr(err, "not a time zone name"), "%s", err);
	CHECK(tz_check("/etc/passwd", err, sizeof err) != 0, "absolute path accepted");
	CHECK(tz_check("Europe/.hidden", err, sizeof err) != 0, "dot component accepted");
	CHECK(tz_check("", err, sizeof err) != 0, "empty accepted");
	CHECK(tz_check("Europe", err, sizeof err) != 0, "a folder accepted");

	CHECK(tz_offset_at("Europe/Berlin", JULY, &off) == 0 && off == 7200, "Berlin July %d", off);
	CHECK(tz_offset_at("Europe/Berlin", JANUARY, &off) == 0 && off == 3600, "Berlin January %d", off);
	CHECK(tz_offset_at("America/New_York", JULY, &off) == 0 && off == -4 * 3600, "NY July %d", off);
	CHECK(tz_offset_at("Asia/Shanghai", JULY, &off) == 0 && off == 8 * 3600, "Shanghai %d", off);
	CHECK(tz_offset_at("Nowhere/City", JULY, &off) == -1, "unknown zone gave an offset");

	/* 01:00 in Berlin: 23:00Z the day before in July, 00:00Z in January. */
	CHECK(tz_local_to_utc("Europe/Berlin", JULY + 3600) == JULY - 3600, "July 01:00");
	CHECK(tz_local_to_utc("Europe/Berlin", JANUARY + 3600) == JANUARY, "January 01:00");
	/* 2026-03-29 02:30 does not happen in Berlin: the gap ends at 01:00Z (03:00 CEST). */
	long long spring = 1774742400LL; /* 2026-03-29T00:00:00Z */
	CHECK(tz_local_to_utc("Europe/Berlin", spring + 2 * 3600 + 1800) == spring + 3600, "gap -> %lld",
	      tz_local_to_utc("Europe/Berlin", spring + 2 * 3600 + 1800) - spring);
	/* 2026-10-25 02:30 happens twice: the first is 00:30Z (CEST). */
	long long autumn = 1792886400LL; /* 2026-10-25T00:00:00Z */
	CHECK(tz_local_to_utc("Europe/Berlin", autumn + 2 * 3600 + 1800) == autumn + 1800, "fold -> %lld",
	      tz_local_to_utc("Europe/Berlin", autumn + 2 * 3600 + 1800) - autumn);

	/* TZ is put back as it was. */
	setenv("TZ", "Asia/Tokyo", 1);
	tz_offset_at("Europe/Berlin", JULY, &off);
	CHECK(getenv("TZ") && strcmp(getenv("TZ"), "Asia/Tokyo") == 0, "TZ not restored");
	unsetenv("TZ");
	tz_offset_at("Europe/Berlin", JULY, &off);
	CHECK(getenv("TZ") == NULL, "TZ left set");
	return harness_report();
}
