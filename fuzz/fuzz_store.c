/* libFuzzer harness: the state store opened read-only on arbitrary bytes (a damaged, truncated or
 * foreign file), every list read and the fingerprint taken. Must fail cleanly, never crash. */
#include <stdio.h>
#include <unistd.h>
#include "fuzz_util.h"
#include "store.h"

static int count_row(void *ctx, int n, const struct store_value *cols)
{
	(void)cols;
	*(int *)ctx += n;
	return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char path[] = "/tmp/otarun-fuzz-store-XXXXXX";
	int fd = mkstemp(path);
	if (fd < 0)
		return 0;
	if (write(fd, data, size) != (ssize_t)size) {
		close(fd);
		unlink(path);
		return 0;
	}
	close(fd);
	struct store *s = NULL;
	struct store_options opt = {0};
	opt.readonly = 1;
	opt.busy_timeout_ms = 1;
	char err[512];
	if (store_open(&s, path, &opt, err, sizeof err) == STORE_OK) {
		int cells = 0;
		for (int i = 0; i < STORE_LIST_COUNT_; i++)
			(void)store_list(s, (enum store_list)i, NULL, count_row, &cells);
		const char *names[] = {"cam", "cam-0001"};
		char fp[80];
		(void)store_fingerprint(s, names, 2, fp);
		store_close(s);
	}
	unlink(path);
	return 0;
}
