/* The C unit tests' shared harness: counts passes and failures, names the failing line, and the
 * closing line "N passed, N failed" that ctest's log and CI read. One copy per test executable. */
#ifndef OTARUN_TEST_HARNESS_H
#define OTARUN_TEST_HARNESS_H
#include <stdio.h>
#include <string.h>

static int passed, failed;

#define CHECK(cond, ...)                                                                       \
	do {                                                                                   \
		if (cond) {                                                                    \
			passed++;                                                              \
		} else {                                                                       \
			failed++;                                                              \
			fprintf(stderr, "FAIL %s:%d: ", __FILE__, __LINE__);                   \
			fprintf(stderr, __VA_ARGS__);                                          \
			fputc('\n', stderr);                                                   \
		}                                                                              \
	} while (0)
/* The condition's own text is the message. */
#define CHECK_TRUE(cond) CHECK((cond), "%s", #cond)
/* A message computed at run time (not a format). */
#define CHECK_MSG(cond, msg) CHECK((cond), "%s", (msg))
#define CHECK_STR(got, want) harness_check_str((got), (want), #got, __FILE__, __LINE__)

static inline void harness_check_str(const char *got, const char *want, const char *expr,
                                     const char *file, int line)
{
	if (got && strcmp(got, want) == 0) {
		passed++;
		return;
	}
	failed++;
	fprintf(stderr, "FAIL %s:%d: %s\n   got: %s\n  want: %s\n", file, line, expr,
	        got ? got : "(null)", want);
}

/* The closing line; the exit status of the test executable. */
static inline int harness_report(void)
{
	printf("%d passed, %d failed\n", passed, failed);
	return failed ? 1 : 0;
}

#endif
