/* sys: operating-system services (see sys.h). Pure C, POSIX. */
#include "bytes.h"
#include "sys.h"

#include <dirent.h>
#include <errno.h>
#include <pwd.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

/* ---- clocks ------------------------------------------------------------------------------- */

static double clock_seconds(clockid_t id)
{
	struct timespec ts;
	clock_gettime(id, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

double sys_now(void) { return clock_seconds(CLOCK_REALTIME); }
double sys_monotonic(void) { return clock_seconds(CLOCK_MONOTONIC); }

void sys_sleep(double s)
{
	if (!(s > 0))
		return;
	struct timespec ts = {(time_t)s, (long)((s - (double)(time_t)s) * 1e9)};
	while (nanosleep(&ts, &ts) != 0 && errno == EINTR)
		;
}

/* ---- signals ------------------------------------------------------------------------------ */

static volatile sig_atomic_t caught;

static void on_signal(int sig) { caught = sig; }

void sys_catch_signals(int enable)
{
	static struct sigaction old_int, old_term;
	static int active;
	if (enable && !active) {
		struct sigaction sa;
		memset(&sa, 0, sizeof sa);
		sa.sa_handler = on_signal;
		sigemptyset(&sa.sa_mask);
		caught = 0;
		sigaction(SIGINT, &sa, &old_int);
		sigaction(SIGTERM, &sa, &old_term);
		active = 1;
	} else if (!enable && active) {
		sigaction(SIGINT, &old_int, NULL);
		sigaction(SIGTERM, &old_term, NULL);
		active = 0;
	}
}

enum sys_signal sys_caught_signal(void)
{
	int sig = (int)caught;
	return sig == 0 ? SYS_SIGNAL_NONE : sig == SIGINT ? SYS_SIGNAL_INT
	       : sig == SIGTERM ? SYS_SIGNAL_TERM : SYS_SIGNAL_OTHER;
}

const char *sys_signal_name(enum sys_signal sig)
{
	switch (sig) {
	case SYS_SIGNAL_NONE: return NULL;
	case SYS_SIGNAL_INT: return "SIGINT";
	case SYS_SIGNAL_TERM: return "SIGTERM";
	default: return "signal";
	}
}

/* ---- process ------------------------------------------------------------------------------ */

const char *sys_user(char *buf, size_t len)
{
	uid_t uid = getuid();
	struct passwd pw, *found = NULL;
	char scratch[1024];
	if (getpwuid_r(uid, &pw, scratch, sizeof scratch, &found) == 0 && found && found->pw_name[0])
		snprintf(buf, len, "%s", found->pw_name);
	else
		snprintf(buf, len, "uid %d", (int)uid);
	return buf;
}

/* ---- files -------------------------------------------------------------------------------- */

int sys_path_kind(const char *path, int follow, enum sys_kind *kind, long long *size)
{
	struct stat st;
	if ((follow ? stat(path, &st) : lstat(path, &st)) != 0)
		return -1;
	*kind = S_ISREG(st.st_mode) ? SYS_KIND_FILE : S_ISDIR(st.st_mode) ? SYS_KIND_DIRECTORY
	        : S_ISLNK(st.st_mode) ? SYS_KIND_LINK : SYS_KIND_OTHER;
	*size = (long long)st.st_size;
	return 0;
}

const char *sys_kind_name(enum sys_kind kind)
{
	static const char *const names[] = {"file", "directory", "link", "other"};
	return (unsigned)kind <= SYS_KIND_OTHER ? names[kind] : "other";
}

char *sys_resolve(const char *path)
{
	return realpath(path, NULL);
}

enum sys_rc sys_mkdirs(const char *dir, char *err, size_t errlen)
{
	char buf[4096];
	size_t n = strlen(dir);
	if (n == 0)
		return SYS_OK;
	if (n >= sizeof buf) {
		snprintf(err, errlen, "%s: path too long", dir);
		return SYS_ERROR;
	}
	memcpy(buf, dir, n + 1);
	for (size_t i = 1; i <= n; i++) {
		if (buf[i] != '/' && buf[i] != '\0')
			continue;
		char c = buf[i];
		buf[i] = '\0';
		struct stat sb;
		if (mkdir(buf, 0777) != 0 && errno != EEXIST) {
			snprintf(err, errlen, "cannot create directory %s: %s", buf, strerror(errno));
			return SYS_ERROR;
		}
		if (stat(buf, &sb) != 0 || !S_ISDIR(sb.st_mode)) {
			snprintf(err, errlen, "%s exists and is not a directory", buf);
			return SYS_ERROR;
		}
		buf[i] = c;
	}
	return SYS_OK;
}

static int compare_names(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

static int wanted(const char *dir, const char *name, const char *suffix)
{
	size_t len = strlen(name), sl = strlen(suffix);
	if (name[0] == '.' || len <= sl || strcmp(name + len - sl, suffix) != 0)
		return 0;
	char path[4096];
	struct stat st;
	int w = snprintf(path, sizeof path, "%s/%s", dir, name);
	return w > 0 && (size_t)w < sizeof path && stat(path, &st) == 0 && S_ISREG(st.st_mode);
}

enum sys_rc sys_list_files(const char *dir, const char *suffix, struct sys_names *out, char *err,
                           size_t errlen)
{
	out->names = NULL;
	out->n = 0;
	DIR *d = opendir(dir);
	if (!d) {
		int missing = errno == ENOENT;
		snprintf(err, errlen, "cannot read the directory %s: %s", dir, strerror(errno));
		return missing ? SYS_MISSING : SYS_ERROR;
	}
	size_t cap = 0;
	struct dirent *ent;
	while ((ent = readdir(d)) != NULL) {
		if (!wanted(dir, ent->d_name, suffix))
			continue;
		if (out->n == cap) {
			char **grown = bytes_grow(out->names, &cap, sizeof *grown, 16);
			if (!grown)
				goto nomem;
			out->names = grown;
		}
		if (!(out->names[out->n] = strdup(ent->d_name)))
			goto nomem;
		out->n++;
	}
	closedir(d);
	qsort(out->names, out->n, sizeof *out->names, compare_names);
	return SYS_OK;
nomem:
	closedir(d);
	snprintf(err, errlen, "cannot list the directory %s: out of memory", dir);
	return SYS_ERROR;
}

void sys_names_free(struct sys_names *names)
{
	for (size_t i = 0; i < names->n; i++)
		free(names->names[i]);
	free(names->names);
	names->names = NULL;
	names->n = 0;
}

enum sys_rc sys_write_atomic(const char *path, const char *data, size_t len, char *err, size_t errlen)
{
	char tmp[4096];
	int w = snprintf(tmp, sizeof tmp, "%s.tmp.%d", path, (int)getpid());
	if (w < 0 || (size_t)w >= sizeof tmp) {
		snprintf(err, errlen, "%s: path too long", path);
		return SYS_ERROR;
	}
	FILE *fp = fopen(tmp, "wb");
	if (!fp) {
		snprintf(err, errlen, "%s: %s", tmp, strerror(errno));
		return SYS_ERROR;
	}
	int ok = fwrite(data, 1, len, fp) == len;
	ok = fflush(fp) == 0 && ok;
	ok = fsync(fileno(fp)) == 0 && ok;
	ok = fclose(fp) == 0 && ok;
	if (!ok || rename(tmp, path) != 0) {
		int e = errno;
		remove(tmp);
		snprintf(err, errlen, "%s: %s", path, strerror(e));
		return SYS_ERROR;
	}
	return SYS_OK;
}
