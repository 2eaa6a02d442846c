/* libFuzzer harness: the validator's value parsers (durations, times, sizes, days, clocks, time
 * zones) on arbitrary text. Each must answer 0 or -1 with a NUL-terminated reason, never crash. */
#include <string.h>
#include "fuzz_util.h"
#include "timefmt.h"
#include "validate.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *s = fuzz_cstr(data, size);
	if (!s)
		return 0;
	char err[256];
	long long v;
	int off, days[8], minutes;
	err[0] = '\0';
	if (timefmt_parse_duration(s, &v, err, sizeof err) == 0)
		FUZZ_CHECK(v >= 0);
	FUZZ_CHECK(memchr(err, '\0', sizeof err));
	(void)timefmt_parse_time(s, &v, &off, err, sizeof err);
	(void)validate_parse_size(s, &v, err, sizeof err);
	(void)timefmt_parse_days(s, days, err, sizeof err);
	if (timefmt_parse_clock(s, &minutes, err, sizeof err) == 0)
		FUZZ_CHECK(minutes >= 0 && minutes <= 24 * 60);
	(void)timefmt_parse_tz(s, &off, err, sizeof err);
	FUZZ_CHECK(memchr(err, '\0', sizeof err));
	free(s);
	return 0;
}
