/*
 * tz.h: time zones for maintenance windows: IANA zone names from the system's tz database (Debian
 * `tzdata`, /usr/share/zoneinfo or $TZDIR), with daylight saving, and fixed offsets. Pure C (no
 * lua.h). See docs/windows.md.
 *
 * The offsets come from the C library's own reading of the zone file (localtime_r with TZ set for
 * the call and restored after), so every rule the tz database holds applies. The C library takes an
 * unknown name for UTC without a word; tz_check refuses such a name first, so a misspelt zone is an
 * error instead of a window silently in UTC.
 */
#ifndef OTARUN_TZ_H
#define OTARUN_TZ_H

#include <stddef.h>

/* 0 when `name` is a zone of the tz database ("Europe/Berlin", "CET", "UTC"); otherwise -1 and a
 * message in err saying what was wrong and what would be right. */
int tz_check(const char *name, char *err, size_t errlen);

/* Seconds east of UTC in zone `name` at the instant `utc` (epoch seconds). 0 on success; -1 when
 * the zone is not in the tz database. */
int tz_offset_at(const char *name, long long utc, int *offset);

/* The instant at which the local wall-clock time `local` (seconds since the epoch as if the zone
 * were UTC) happens in zone `name`. A local time skipped by a spring-forward gap maps to the instant
 * just after the gap; one that happens twice (autumn) to the first. -1 when the zone is unknown. */
long long tz_local_to_utc(const char *name, long long local);

#endif
