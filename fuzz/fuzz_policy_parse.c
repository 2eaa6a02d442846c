/* libFuzzer harness: the policy engine's value parsers and glob matcher on arbitrary text. The
 * input is split at newlines: duration/days/clock/offset get piece 0, a period gets pieces 0-2,
 * the glob matcher pattern 0 against text 1. */
#include "fuzz_util.h"
#include "policy.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *s = fuzz_cstr(data, size);
	if (!s)
		return 0;
	char *p[3] = {"", "", ""};
	fuzz_split(s, p, 3);
	char err[256];
	long long secs;
	unsigned days;
	int minute;
	long offset;
	struct policy_period period;
	(void)policy_parse_duration(p[0], &secs, err, sizeof err);
	(void)policy_parse_days(p[0], &days, err, sizeof err);
	(void)policy_parse_clock(p[0], &minute, err, sizeof err);
	(void)policy_parse_offset(p[0], &offset, err, sizeof err);
	(void)policy_parse_period(p[0], p[1], p[2], &period, err, sizeof err);
	int m = policy_glob_match(p[0], p[1]);
	FUZZ_CHECK(m == 0 || m == 1);
	(void)policy_kind_lookup(p[0]);
	(void)policy_level_lookup(p[0]);
	free(s);
	return 0;
}
