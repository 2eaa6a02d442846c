/*
 * store_lock.c: one process acts on a store at a time. The kernel arbitrates: an exclusive flock on
 * the side file PATH.lock, released by the kernel when the holder dies however it dies (SIGKILL
 * included). The lock row in the database says who holds it (host, pid, process start, since,
 * command) so a waiter can name the holder; a row left by a dead holder is taken over and the
 * takeover recorded in the audit log. Taking the flock while the row names a live process on this
 * host (the lock file was deleted and recreated) is refused, so two processes never act at once.
 * The lock file is never unlinked, for that reason. On PostgreSQL a session-level advisory lock
 * takes the flock's place (docs/state.md, "Locks"): the server releases it when the session ends,
 * so a row found by the new holder is always a dead holder's.
 */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <time.h>
#include <unistd.h>

#include "store_internal.h"

/* Reads a process's state letter and start time (clock ticks since boot) from /proc.
 * Returns 0 if there is no such process or no /proc. */
static int proc_stat(long pid, char *state, int64_t *start)
{
	char path[64], buf[1024];
	snprintf(path, sizeof path, "/proc/%ld/stat", pid);
	FILE *fp = fopen(path, "r");
	if (!fp)
		return 0;
	size_t n = fread(buf, 1, sizeof buf - 1, fp);
	fclose(fp);
	buf[n] = '\0';
	/* the command name may hold spaces and parentheses: fields restart after the last ')' */
	char *p = strrchr(buf, ')');
	if (!p || p[1] != ' ' || !p[2])
		return 0;
	*state = p[2]; /* field 3 */
	int field = 2;
	for (; *p && field < 22; p++)
		if (*p == ' ')
			field++;
	*start = field == 22 ? strtoll(p, NULL, 10) : 0;
	return 1;
}

int64_t store_proc_start(long pid)
{
	char state;
	int64_t start;
	return proc_stat(pid, &state, &start) ? start : 0;
}

/* 1 if pid runs on this host and is the process that recorded proc_start, 0 if gone: exited,
 * a zombie nobody reaped yet (its files, and so its flock, are already closed), or reused. */
static int proc_alive(long pid, int64_t proc_start)
{
	if (pid <= 0 || (kill((pid_t)pid, 0) != 0 && errno != EPERM))
		return 0;
	char state;
	int64_t start;
	if (!proc_stat(pid, &state, &start))
		return 1; /* no /proc: trust kill() */
	if (state == 'Z' || state == 'X' || state == 'x')
		return 0;
	return !(proc_start && start && start != proc_start);
}

void store_format_utc(int64_t t, char out[32])
{
	time_t tt = (time_t)t;
	struct tm tm;
	if (!gmtime_r(&tt, &tm) || strftime(out, 32, "%Y-%m-%dT%H:%M:%SZ", &tm) == 0)
		snprintf(out, 32, "%lld", (long long)t);
}

double store_monotonic(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void copy_text(char *dst, size_t size, const char *src)
{
	snprintf(dst, size, "%s", src ? src : "");
}

/* The holder row of the store's lock (rollout NULL) or of a rollout's. */
int store_holder_read(struct store *s, const char *rollout, struct store_holder *h)
{
	memset(h, 0, sizeof *h);
	struct store_q *st = store_stmt(s, rollout ? ST_RLOCK_GET : ST_LOCK_GET);
	if (!st)
		return STORE_ERROR;
	if (rollout)
		store_bind_text(st, 1, rollout);
	int rc = store_step(st);
	if (rc == STORE_ROW) {
		h->present = 1;
		copy_text(h->host, sizeof h->host, store_coltext(st, 0));
		h->pid = (long)store_colint(st, 1);
		h->proc_start = store_colint(st, 2);
		h->since = store_colint(st, 3);
		copy_text(h->command, sizeof h->command, store_coltext(st, 4));
	}
	if (rc != STORE_ROW && rc != STORE_DONE)
		rc = store_sqlfail(s, "reading the lock holder");
	store_q_reset(st);
	if (rc != STORE_ROW && rc != STORE_DONE)
		return rc;
	if (!h->present)
		return STORE_OK;
	if (strcmp(h->host, s->host) != 0) {
		h->alive = -1;
	} else {
		h->alive = proc_alive(h->pid, h->proc_start);
	}
	return STORE_OK;
}

int store_lock_holder(struct store *s, struct store_holder *h)
{
	return store_holder_read(s, NULL, h);
}

/* STORE_LOCKED, naming what is locked and by whom. */
int store_describe_holder(struct store *s, const char *rollout, const struct store_holder *h,
                          double waited)
{
	char since[32], tail[96] = "", what[300];
	if (waited > 0)
		snprintf(tail, sizeof tail, "; gave up after waiting %.0fs", waited);
	if (rollout)
		snprintf(what, sizeof what, "rollout \"%s\"", rollout);
	else
		snprintf(what, sizeof what, "state");
	if (!h->present && !rollout) {
		/* no holder of the whole store: rollout holders, if any, keep it shared */
		struct store_q *st = store_stmt(s, ST_RLOCK_ANY);
		char line[600] = "";
		if (st && store_step(st) == STORE_ROW) {
			store_format_utc(store_colint(st, 3), since);
			const char *cmd = store_coltext(st, 4);
			snprintf(line, sizeof line,
			         "state in use: rollout \"%s\" locked by pid %lld on host %s since %s%s%s%s",
			         store_coltext(st, 5), (long long)store_colint(st, 1), store_coltext(st, 0),
			         since, cmd ? " (" : "", cmd ? cmd : "", cmd ? ")" : "");
		}
		if (st)
			store_q_reset(st);
		if (line[0])
			return store_fail(s, STORE_LOCKED, "%s%s", line, tail);
	}
	if (!h->present)
		return store_fail(s, STORE_LOCKED, "%s locked by another process (not yet recorded who)%s",
		                  what, tail);
	store_format_utc(h->since, since);
	return store_fail(s, STORE_LOCKED, "%s locked by pid %ld on host %s since %s%s%s%s%s", what,
	                  h->pid, h->host, since, h->command[0] ? " (" : "", h->command,
	                  h->command[0] ? ")" : "", tail);
}

static int describe_holder(struct store *s, const struct store_holder *h, double waited)
{
	return store_describe_holder(s, NULL, h, waited);
}

static void who_am_i(const struct store *s, char *out, size_t size)
{
	const char *user = getenv("USER");
	if (!user || !*user)
		user = getenv("LOGNAME");
	snprintf(out, size, "%s@%s", user && *user ? user : "unknown", s->host);
}

/* With the flock (or advisory lock) held: check the row, record a takeover, write ourselves in.
 * proven: the engine's lock shows any other holder is gone (PostgreSQL). */
int store_claim_row(struct store *s, const char *rollout, const char *command,
                    struct store_holder *took_over, int proven)
{
	struct store_holder h;
	memset(&h, 0, sizeof h);
	int own, rc = store_tx_enter(s, &own);
	if (rc == STORE_OK)
		rc = store_holder_read(s, rollout, &h);
	int mine = h.present && h.pid == s->pid && strcmp(h.host, s->host) == 0;
	if (proven && h.present && !mine)
		h.alive = 0;
	if (rc == STORE_OK && h.present && !mine && h.alive == 1) {
		store_describe_holder(s, rollout, &h, 0);
		size_t n = strlen(s->err);
		snprintf(s->err + n, sizeof s->err - n,
		         " (its lock file %s was replaced; two processes must not act at once)",
		         rollout ? "for the rollout" : s->lock_path);
		rc = STORE_LOCKED;
	}
	int64_t now = (int64_t)time(NULL);
	if (rc == STORE_OK && h.present && !mine) {
		char since[32], who[300], result[512];
		store_format_utc(h.since, since);
		who_am_i(s, who, sizeof who);
		snprintf(result, sizeof result,
		         "took over the lock of pid %ld on host %s (since %s%s%s): %s", h.pid, h.host,
		         since, h.command[0] ? ", " : "", h.command,
		         h.alive == 0 ? "that process is gone" : "its lock file was free");
		struct store_q *st = store_stmt(s, ST_AUDIT_ADD);
		if (!st)
			rc = STORE_ERROR;
		if (rc == STORE_OK) {
			store_bind_int(st, 1, now);
			store_bind_text(st, 2, who);
			store_bind_text(st, 3, command);
			store_bind_text(st, 4, rollout);
			store_bind_text(st, 5, NULL);
			store_bind_text(st, 6, "decision");
			store_bind_text(st, 7, "lock-takeover");
			store_bind_text(st, 8, NULL);
			store_bind_text(st, 9, result);
			store_bind_text(st, 10, NULL);
			int step = store_step(st);
			if (step == STORE_ROW)
				step = store_step(st);
			if (step != STORE_DONE)
				rc = store_sqlfail(s, "recording the lock takeover");
			store_q_reset(st);
		}
		if (took_over)
			*took_over = h;
	}
	struct store_q *st = rc == STORE_OK ? store_stmt(s, rollout ? ST_RLOCK_PUT : ST_LOCK_PUT) : NULL;
	if (rc == STORE_OK && !st)
		rc = STORE_ERROR;
	if (st) {
		int k = rollout ? 1 : 0;
		if (rollout)
			store_bind_text(st, 1, rollout);
		store_bind_text(st, 1 + k, s->host);
		store_bind_int(st, 2 + k, s->pid);
		store_bind_int(st, 3 + k, store_proc_start(s->pid));
		store_bind_int(st, 4 + k, now);
		store_bind_text(st, 5 + k, command);
		if (store_step(st) != STORE_DONE)
			rc = store_sqlfail(s, "recording the lock holder");
		store_q_reset(st);
	}
	return store_tx_leave(s, own, rc);
}

void store_nap_until(double start, double timeout)
{
	double nap = 0.05, waited = store_monotonic() - start;
	if (timeout >= 0 && timeout - waited < nap)
		nap = timeout - waited > 0.001 ? timeout - waited : 0.001;
	struct timespec ts = {0, (long)(nap * 1e9)};
	nanosleep(&ts, NULL);
}

/* PostgreSQL: the session's advisory lock (schema key, STORE_KEY_STORE) in place of the flock. */
static int pg_lock(struct store *s, double timeout, const char *command,
                   struct store_holder *took_over)
{
	double start = store_monotonic();
	for (;;) {
		int got, rc = store_pg_try_lock(s, STORE_KEY_STORE, &got);
		if (rc)
			return rc;
		if (got) {
			rc = store_claim_row(s, NULL, command, took_over, 1);
			if (rc == STORE_OK) {
				s->locked = 1;
				return STORE_OK;
			}
			store_pg_unlock(s, STORE_KEY_STORE);
			return rc;
		}
		double waited = store_monotonic() - start;
		if (timeout >= 0 && waited >= timeout) {
			struct store_holder h;
			rc = store_lock_holder(s, &h);
			return rc ? rc : describe_holder(s, &h, waited);
		}
		store_nap_until(start, timeout);
	}
}

int store_lock_allowed(struct store *s)
{
	int rc = store_write_allowed(s);
	return rc || !s->in_tx ? rc : store_fail(s, STORE_CONFLICT, "lock inside a transaction; lock first");
}

/* Deletes this process's lock-holder row (when the statement is at hand): rc, or the row error. */
static int clear_holder(struct store *s, struct store_q *st, int rc)
{
	if (!st)
		return rc;
	store_bind_text(st, 1, s->host);
	store_bind_int(st, 2, s->pid);
	if (store_step(st) != STORE_DONE)
		rc = store_sqlfail(s, "clearing the lock holder");
	store_q_reset(st);
	return rc;
}

int store_lock(struct store *s, double timeout, const char *command, struct store_holder *took_over)
{
	if (took_over)
		memset(took_over, 0, sizeof *took_over);
	if (s->locked)
		return STORE_OK;
	int rc = store_lock_allowed(s);
	if (rc)
		return rc;
	if (s->rlocks)
		return store_fail(s, STORE_CONFLICT,
		                  "the whole store's lock while holding rollout locks; let them go first");
	if (s->memory) {
		s->locked = 1;
		return STORE_OK;
	}
	if (s->engine == STORE_ENGINE_PG)
		return pg_lock(s, timeout, command, took_over);
	int fd = open(s->lock_path, O_RDWR | O_CREAT | O_CLOEXEC, 0644);
	if (fd < 0)
		return store_fail(s, STORE_ERROR, "cannot open the lock file %s: %s", s->lock_path,
		                  strerror(errno));
	double start = store_monotonic();
	for (;;) {
		if (flock(fd, LOCK_EX | LOCK_NB) == 0) {
			rc = store_claim_row(s, NULL, command, took_over, 0);
			if (rc == STORE_OK)
				break;
			flock(fd, LOCK_UN);
			if (rc != STORE_LOCKED || (timeout >= 0 && store_monotonic() - start >= timeout)) {
				close(fd);
				return rc;
			}
		} else if (errno == EINTR) {
			continue;
		} else if (errno != EWOULDBLOCK) {
			rc = store_fail(s, STORE_ERROR, "cannot lock %s: %s", s->lock_path,
			                strerror(errno));
			close(fd);
			return rc;
		}
		double waited = store_monotonic() - start;
		if (rc != STORE_LOCKED && timeout >= 0 && waited >= timeout) {
			close(fd);
			struct store_holder h;
			rc = store_lock_holder(s, &h);
			return rc ? rc : describe_holder(s, &h, waited);
		}
		rc = STORE_OK;
		double nap = 0.05;
		if (timeout >= 0 && timeout - waited < nap)
			nap = timeout - waited > 0.001 ? timeout - waited : 0.001;
		struct timespec ts = {0, (long)(nap * 1e9)};
		nanosleep(&ts, NULL);
	}
	s->lock_fd = fd;
	s->locked = 1;
	return STORE_OK;
}

int store_locked(const struct store *s)
{
	return s->locked;
}

int store_unlock(struct store *s)
{
	if (!s->locked)
		return STORE_OK;
	if (s->in_tx)
		return store_fail(s, STORE_CONFLICT, "unlock inside a transaction; commit first");
	int rc = store_write_allowed(s);
	if (rc)
		return rc;
	return store_lock_release(s);
}

/* Lets go of the flock. Only the process that took it unlocks it: a forked child closing an
 * inherited handle must not release its parent's lock (LOCK_UN acts on the shared description). */
int store_lock_release(struct store *s)
{
	int rc = store_rollout_release_all(s);
	if (s->engine == STORE_ENGINE_PG && s->locked && s->pg && (long)getpid() == s->pid) {
		rc = clear_holder(s, store_stmt(s, ST_LOCK_DEL), rc);
		store_pg_unlock(s, STORE_KEY_STORE);
	}
	if (s->lock_fd >= 0) {
		if ((long)getpid() == s->pid) {
			rc = clear_holder(s, s->db ? store_stmt(s, ST_LOCK_DEL) : NULL, rc);
			flock(s->lock_fd, LOCK_UN); /* even when the row stays: the next taker clears it */
		}
		close(s->lock_fd);
		s->lock_fd = -1;
	}
	s->locked = 0;
	return rc;
}
