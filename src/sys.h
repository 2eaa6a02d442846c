/* sys: the operating-system services otarun needs beyond standard C: clocks and sleeping, the
 * SIGINT/SIGTERM flag of long-running commands, directory creation and listing, and atomic file
 * replacement. Pure C (no Lua); the Lua half reaches it through otarun.core.sys (l_sys.c), the
 * HTTP server (httpd.c) reads the signal flag directly. Errors go to err as one sentence that
 * names the path. */
#ifndef OTARUN_SYS_H
#define OTARUN_SYS_H
#include <stddef.h>

enum sys_rc { SYS_OK = 0, SYS_MISSING = 1, SYS_ERROR = 2 };

/* Seconds since the epoch, and since an arbitrary fixed point, with fractions. */
double sys_now(void);
double sys_monotonic(void);
/* Sleeps s >= 0 seconds, resuming after interrupted sleeps. */
void sys_sleep(double s);

/* The signals a long-running command stops on (not SIGKILL: nothing can catch that). */
enum sys_signal { SYS_SIGNAL_NONE = 0, SYS_SIGNAL_INT, SYS_SIGNAL_TERM, SYS_SIGNAL_OTHER };
/* While enabled, SIGINT and SIGTERM set a flag instead of ending the process; enabling clears the
 * flag and disabling restores the old dispositions. */
void sys_catch_signals(int enable);
/* The signal caught since the last enable, or SYS_SIGNAL_NONE. */
enum sys_signal sys_caught_signal(void);
/* "SIGINT", "SIGTERM", "signal" (another one), or NULL for SYS_SIGNAL_NONE. */
const char *sys_signal_name(enum sys_signal sig);

/* The name of the process's user in the password database, or "uid N"; returns buf. */
const char *sys_user(char *buf, size_t len);

/* What a path is, for the trust boundary (docs/sandbox.md) before it reads or writes one. */
enum sys_kind { SYS_KIND_FILE, SYS_KIND_DIRECTORY, SYS_KIND_LINK, SYS_KIND_OTHER };
/* The kind and size of path, without following a final symbolic link unless follow; -1 with
 * errno set when it cannot be examined. */
int sys_path_kind(const char *path, int follow, enum sys_kind *kind, long long *size);
/* "file", "directory", "link" or "other". */
const char *sys_kind_name(enum sys_kind kind);
/* The absolute path with every symbolic link resolved (malloc'd; the caller frees it), or NULL
 * with errno set. */
char *sys_resolve(const char *path);

/* Creates every missing directory of dir, like mkdir -p. */
enum sys_rc sys_mkdirs(const char *dir, char *err, size_t errlen);

/* The regular files of dir whose names end in `suffix` (hidden ones skipped), sorted bytewise. */
struct sys_names {
	char **names;
	size_t n;
};
/* SYS_MISSING when dir does not exist; free the list with sys_names_free (also after errors). */
enum sys_rc sys_list_files(const char *dir, const char *suffix, struct sys_names *out, char *err,
                           size_t errlen);
void sys_names_free(struct sys_names *names);

/* Replaces path with data so that a reader sees the old file or the new one, never a part:
 * writes path.tmp.PID, syncs it, renames it over path. */
enum sys_rc sys_write_atomic(const char *path, const char *data, size_t len, char *err, size_t errlen);

#endif
