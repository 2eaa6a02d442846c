/* test_sys: unit tests of the OS-services core (src/sys.c): mkdirs, directory listing, atomic
 * replacement, path kinds, the signal flag and the clocks, on a scratch directory under /tmp.
 * Harness: tests/harness.h. */
#include "sys.h"

#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "harness.h"

static char tmpdir[64];

static const char *tpath(const char *rel)
{
	static char buf[4][256];
	static int i;
	i = (i + 1) % 4;
	snprintf(buf[i], sizeof buf[i], "%s/%s", tmpdir, rel);
	return buf[i];
}

static void touch(const char *rel, const char *text)
{
	FILE *fp = fopen(tpath(rel), "w");
	if (fp) {
		fputs(text, fp);
		fclose(fp);
	}
}

static void test_mkdirs(void)
{
	char err[256];
	struct stat st;
	CHECK(sys_mkdirs(tpath("a/b/c"), err, sizeof err) == SYS_OK, "mkdirs: %s", err);
	CHECK(stat(tpath("a/b/c"), &st) == 0 && S_ISDIR(st.st_mode), "a/b/c is a directory");
	CHECK(sys_mkdirs(tpath("a/b/c"), err, sizeof err) == SYS_OK, "mkdirs again: %s", err);
	touch("file", "x");
	CHECK(sys_mkdirs(tpath("file/sub"), err, sizeof err) == SYS_ERROR && strstr(err, "not a directory"),
	      "through a file: %s", err);
}

static void test_list_files(void)
{
	char err[256];
	struct sys_names n;
	sys_mkdirs(tpath("list/dir.lua"), err, sizeof err);
	touch("list/b.lua", "");
	touch("list/a.lua", "");
	touch("list/.hidden.lua", "");
	touch("list/notes.txt", "");
	touch("list/.lua", "");
	CHECK(sys_list_files(tpath("list"), ".lua", &n, err, sizeof err) == SYS_OK, "list: %s", err);
	CHECK(n.n == 2, "two files, got %zu", n.n);
	if (n.n == 2) {
		CHECK_STR(n.names[0], "a.lua");
		CHECK_STR(n.names[1], "b.lua");
	}
	sys_names_free(&n);
	CHECK(n.n == 0 && n.names == NULL, "freed");
	CHECK(sys_list_files(tpath("nope"), ".lua", &n, err, sizeof err) == SYS_MISSING &&
	      strstr(err, "cannot read the directory"), "missing: %s", err);
	sys_names_free(&n);
	CHECK(sys_list_files(tpath("file"), ".lua", &n, err, sizeof err) == SYS_ERROR, "not a directory");
	sys_names_free(&n);
}

static void test_write_atomic(void)
{
	char err[256], buf[32] = "";
	CHECK(sys_write_atomic(tpath("w.txt"), "old", 3, err, sizeof err) == SYS_OK, "write: %s", err);
	CHECK(sys_write_atomic(tpath("w.txt"), "new text", 8, err, sizeof err) == SYS_OK, "replace: %s", err);
	FILE *fp = fopen(tpath("w.txt"), "r");
	if (fp) {
		buf[fread(buf, 1, sizeof buf - 1, fp)] = '\0';
		fclose(fp);
	}
	CHECK_STR(buf, "new text");
	CHECK(sys_write_atomic(tpath("nope/w.txt"), "x", 1, err, sizeof err) == SYS_ERROR && strstr(err, "nope"),
	      "missing directory: %s", err);
}

static void test_path_kind(void)
{
	enum sys_kind kind;
	long long size = -1;
	touch("k.txt", "four");
	CHECK(sys_path_kind(tpath("k.txt"), 0, &kind, &size) == 0 && kind == SYS_KIND_FILE && size == 4,
	      "a file of 4 bytes");
	CHECK(sys_path_kind(tmpdir, 0, &kind, &size) == 0 && kind == SYS_KIND_DIRECTORY, "a directory");
	CHECK(symlink(tpath("k.txt"), tpath("k.link")) == 0, "symlink");
	CHECK(sys_path_kind(tpath("k.link"), 0, &kind, &size) == 0 && kind == SYS_KIND_LINK, "a link, not followed");
	CHECK(sys_path_kind(tpath("k.link"), 1, &kind, &size) == 0 && kind == SYS_KIND_FILE, "followed: the file");
	CHECK(sys_path_kind(tpath("none"), 0, &kind, &size) == -1, "missing");
	CHECK_STR(sys_kind_name(SYS_KIND_OTHER), "other");
	char *r = sys_resolve(tpath("k.link"));
	char *want = sys_resolve(tpath("k.txt"));
	CHECK(r && want && strcmp(r, want) == 0 && r[0] == '/', "resolve follows the link: %s", r ? r : "(null)");
	free(r);
	free(want);
	CHECK(sys_resolve(tpath("none")) == NULL, "resolve of a missing path");
}

static void test_signals(void)
{
	CHECK(sys_signal_name(SYS_SIGNAL_NONE) == NULL, "no name for none");
	sys_catch_signals(1);
	CHECK(sys_caught_signal() == SYS_SIGNAL_NONE, "nothing caught yet");
	raise(SIGTERM);
	CHECK(sys_caught_signal() == SYS_SIGNAL_TERM, "SIGTERM caught");
	CHECK_STR(sys_signal_name(sys_caught_signal()), "SIGTERM");
	sys_catch_signals(0);
	sys_catch_signals(1); /* enabling again clears the flag */
	CHECK(sys_caught_signal() == SYS_SIGNAL_NONE, "cleared");
	raise(SIGINT);
	CHECK_STR(sys_signal_name(sys_caught_signal()), "SIGINT");
	sys_catch_signals(0);
}

static void test_clocks(void)
{
	double a = sys_monotonic();
	sys_sleep(0.01);
	double b = sys_monotonic();
	CHECK(b - a >= 0.009, "slept %.4f s", b - a);
	CHECK(sys_now() > 1.7e9, "wall clock after 2023");
}

int main(void)
{
	snprintf(tmpdir, sizeof tmpdir, "/tmp/otarun-sys-XXXXXX");
	if (!mkdtemp(tmpdir)) {
		perror("mkdtemp");
		return 1;
	}
	test_mkdirs();
	test_list_files();
	test_write_atomic();
	test_path_kind();
	test_signals();
	test_clocks();
	char cmd[128];
	snprintf(cmd, sizeof cmd, "rm -rf '%s'", tmpdir);
	if (system(cmd) != 0)
		fprintf(stderr, "could not remove %s\n", tmpdir);
	return harness_report();
}
