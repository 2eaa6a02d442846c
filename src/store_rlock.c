/*
 * store_rlock.c: locks per rollout (docs/state.md, "Locks"; the API is in store.h). Each held
 * rollout lock is an flock on its own file (SQLite) or a session-level advisory lock keyed on
 * (schema, rollout) (PostgreSQL), plus its holder row in rollout_locks; while any is held, the
 * store's own lock is held shared, so the whole-store lock of store_lock.c excludes them all.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include "store_internal.h"

struct store_rlock {
	struct store_rlock *next;
	int fd; /* SQLite: the rollout's lock file; -1 on PostgreSQL */
	int32_t key;
	char name[];
};

/* The rollout's advisory key: never 0 (write transactions) or 1 (the store's lock). */
static int32_t rollout_key(const char *rollout)
{
	int32_t k = store_key32(rollout);
	return k < 2 ? k + 2 : k;
}

int store_rollout_held(const struct store *s, const char *rollout)
{
	for (const struct store_rlock *r = s->rlocks; r && rollout; r = r->next)
		if (strcmp(r->name, rollout) == 0)
			return 1;
	return 0;
}

/* PATH.locks/NAME-KEY.lock: the name with anything but [A-Za-z0-9._-] as '_', the key keeping
 * names apart that fold alike. */
static int lock_file(struct store *s, const char *rollout, char *out, size_t size)
{
	char dir[4096];
	snprintf(dir, sizeof dir, "%s.locks", s->path);
	if (mkdir(dir, 0777) != 0 && errno != EEXIST)
		return store_fail(s, STORE_ERROR, "cannot create %s: %s", dir, strerror(errno));
	char safe[80];
	size_t n = 0;
	for (const char *p = rollout; *p && n + 1 < sizeof safe; p++)
		safe[n++] = (strchr("._-", *p) || (*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') ||
		             (*p >= '0' && *p <= '9'))
		                    ? *p
		                    : '_';
	safe[n] = '\0';
	snprintf(out, size, "%s/%s-%08x.lock", dir, safe, (unsigned)rollout_key(rollout));
	return STORE_OK;
}

/* The store's lock, shared: got 0 if another process holds it exclusively. */
static int take_shared(struct store *s, int *got)
{
	*got = 1;
	if (s->shared || s->locked || s->memory)
		return STORE_OK;
	if (s->engine == STORE_ENGINE_PG) {
		char sql[96];
		snprintf(sql, sizeof sql, "SELECT pg_try_advisory_lock_shared(%ld, %d)",
		         (long)s->schema_key, STORE_KEY_STORE);
		struct store_q *q = store_q_new(s, sql);
		if (!q)
			return STORE_ERROR;
		int step = store_step(q), rc = STORE_OK;
		if (step == STORE_ROW)
			*got = strcmp(store_coltext(q, 0), "t") == 0;
		else
			rc = store_sqlfail(s, "taking the store's lock (shared)");
		store_q_free(q);
		s->shared = rc == STORE_OK && *got;
		return rc;
	}
	int fd = open(s->lock_path, O_RDWR | O_CREAT | O_CLOEXEC, 0644);
	if (fd < 0)
		return store_fail(s, STORE_ERROR, "cannot open the lock file %s: %s", s->lock_path,
		                  strerror(errno));
	while (flock(fd, LOCK_SH | LOCK_NB) != 0) {
		if (errno == EINTR)
			continue;
		int e = errno;
		close(fd);
		if (e == EWOULDBLOCK) {
			*got = 0;
			return STORE_OK;
		}
		return store_fail(s, STORE_ERROR, "cannot lock %s: %s", s->lock_path, strerror(e));
	}
	s->shared_fd = fd;
	s->shared = 1;
	return STORE_OK;
}

static void drop_shared(struct store *s)
{
	if (!s->shared || s->rlocks)
		return;
	if (s->engine == STORE_ENGINE_PG && s->pg && (long)getpid() == s->pid) {
		char sql[96];
		snprintf(sql, sizeof sql, "SELECT pg_advisory_unlock_shared(%ld, %d)", (long)s->schema_key,
		         STORE_KEY_STORE);
		store_exec(s, sql, "releasing the store's lock");
	}
	if (s->shared_fd >= 0) {
		if ((long)getpid() == s->pid)
			flock(s->shared_fd, LOCK_UN);
		close(s->shared_fd);
	}
	s->shared_fd = -1;
	s->shared = 0;
}

/* One try at the rollout's own lock. -> rc; *fd the SQLite lock file (or -1), *got */
static int try_rollout(struct store *s, const char *rollout, int *fd, int *got)
{
	*fd = -1;
	*got = 1;
	if (s->memory)
		return STORE_OK;
	if (s->engine == STORE_ENGINE_PG)
		return store_pg_try_lock(s, rollout_key(rollout), got);
	char path[4400];
	int rc = lock_file(s, rollout, path, sizeof path);
	if (rc)
		return rc;
	*fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0644);
	if (*fd < 0)
		return store_fail(s, STORE_ERROR, "cannot open the lock file %s: %s", path,
		                  strerror(errno));
	while (flock(*fd, LOCK_EX | LOCK_NB) != 0) {
		if (errno == EINTR)
			continue;
		int e = errno;
		close(*fd);
		*fd = -1;
		if (e == EWOULDBLOCK) {
			*got = 0;
			return STORE_OK;
		}
		return store_fail(s, STORE_ERROR, "cannot lock %s: %s", path, strerror(e));
	}
	return STORE_OK;
}

static void let_go(struct store *s, const char *rollout, int fd)
{
	if (s->engine == STORE_ENGINE_PG && !s->memory && s->pg && (long)getpid() == s->pid)
		store_pg_unlock(s, rollout_key(rollout));
	if (fd >= 0) {
		if ((long)getpid() == s->pid)
			flock(fd, LOCK_UN);
		close(fd);
	}
}

int store_rollout_lock(struct store *s, const char *rollout, double timeout, const char *command,
                       struct store_holder *took_over)
{
	if (took_over)
		memset(took_over, 0, sizeof *took_over);
	if (!rollout || !*rollout)
		return store_fail(s, STORE_INVALID, "rollout name is required");
	if (store_rollout_held(s, rollout))
		return STORE_OK;
	int rc = store_lock_allowed(s);
	if (rc)
		return rc;
	struct store_rlock *r = malloc(sizeof *r + strlen(rollout) + 1);
	if (!r)
		return store_fail(s, STORE_NOMEM, "out of memory");
	strcpy(r->name, rollout);
	r->key = rollout_key(rollout);
	double start = store_monotonic();
	for (;;) {
		int got, fd = -1;
		rc = take_shared(s, &got);
		if (rc == STORE_OK && !got) {
			struct store_holder h;
			rc = store_holder_read(s, NULL, &h);
			if (rc == STORE_OK)
				rc = store_describe_holder(s, NULL, &h, 0);
		}
		if (rc == STORE_OK)
			rc = try_rollout(s, rollout, &fd, &got);
		if (rc == STORE_OK && !got) {
			struct store_holder h;
			rc = store_holder_read(s, rollout, &h);
			if (rc == STORE_OK)
				rc = store_describe_holder(s, rollout, &h, 0);
		}
		if (rc == STORE_OK) {
			rc = store_claim_row(s, rollout, command, took_over,
			                     s->engine == STORE_ENGINE_PG);
			if (rc == STORE_OK) {
				r->fd = fd;
				r->next = s->rlocks;
				s->rlocks = r;
				return STORE_OK;
			}
			let_go(s, rollout, fd);
		}
		drop_shared(s);
		double waited = store_monotonic() - start;
		if (rc != STORE_LOCKED || (timeout >= 0 && waited >= timeout)) {
			free(r);
			if (rc == STORE_LOCKED && waited > 0 && timeout > 0) {
				size_t n = strlen(s->err);
				snprintf(s->err + n, sizeof s->err - n, "; gave up after waiting %.0fs", waited);
			}
			return rc;
		}
		store_nap_until(start, timeout);
	}
}

/* Clears the row and lets go of one held lock. */
static int release(struct store *s, struct store_rlock *r)
{
	int rc = STORE_OK;
	if ((long)getpid() == s->pid && (s->db || s->pg)) {
		struct store_q *st = store_stmt(s, ST_RLOCK_DEL);
		if (st) {
			store_bind_text(st, 1, r->name);
			store_bind_text(st, 2, s->host);
			store_bind_int(st, 3, s->pid);
			if (store_step(st) != STORE_DONE)
				rc = store_sqlfail(s, "clearing the rollout's lock holder");
			store_q_reset(st);
		}
	}
	let_go(s, r->name, r->fd);
	free(r);
	return rc;
}

int store_rollout_unlock(struct store *s, const char *rollout)
{
	for (struct store_rlock **p = &s->rlocks; *p; p = &(*p)->next) {
		if (strcmp((*p)->name, rollout) != 0)
			continue;
		if (s->in_tx)
			return store_fail(s, STORE_CONFLICT, "unlock inside a transaction; commit first");
		struct store_rlock *r = *p;
		*p = r->next;
		int rc = release(s, r);
		drop_shared(s);
		return rc;
	}
	return STORE_OK;
}

int store_rollout_release_all(struct store *s)
{
	int rc = STORE_OK;
	while (s->rlocks) {
		struct store_rlock *r = s->rlocks;
		s->rlocks = r->next;
		int one = release(s, r);
		if (rc == STORE_OK)
			rc = one;
	}
	drop_shared(s);
	return rc;
}
