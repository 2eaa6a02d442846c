/*
 * store_internal.h: what the store's files (store.c, store_schema.c, store_lock.c, store_write.c,
 * store_read.c) share and nobody else sees: the handle, the prepared-statement cache, error and
 * transaction helpers.
 */
#ifndef OTARUN_STORE_INTERNAL_H
#define OTARUN_STORE_INTERNAL_H

#include <sqlite3.h>

#include "store.h"

/* Statements prepared once per handle and reused (sqlite3_reset after each use). */
enum store_stmt {
	ST_ROLLOUT_PUT,
	ST_ROLLOUT_HALT,
	ST_ROLLOUT_UNHALT,
	ST_WAVE_PUT,
	ST_WAVE_GET,
	ST_WAVE_SET,
	ST_TRANSITION_ADD,
	ST_JOB_PUT,
	ST_JOB_STATUS,
	ST_INTENT_ADD,
	ST_INTENT_GET,
	ST_INTENT_SETTLE,
	ST_GATE_ADD,
	ST_APPROVAL_ADD,
	ST_OVERRIDE_ADD,
	ST_AUDIT_ADD,
	ST_LOCK_GET,
	ST_LOCK_PUT,
	ST_LOCK_DEL,
	ST_JSON_VALID,
	ST_JSON_KEYS,
	ST_COUNT_
};

struct store {
	sqlite3 *db;
	char *path;
	char *lock_path;
	int lock_fd;   /* -1 when not locked */
	int locked;
	int in_tx;     /* an explicit store_begin is open */
	int readonly;
	int memory;    /* ":memory:": the lock is process-local */
	long pid;      /* getpid() when opened: a forked child must not use this handle */
	char host[256];
	sqlite3_stmt *stmt[ST_COUNT_];
	sqlite3_stmt *list_stmt[STORE_LIST_COUNT_];
	char err[1024];
};

/* Sets s->err to "PATH: message" and returns rc. */
int store_fail(struct store *s, int rc, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
/* Same, with ": <SQLite's message>" appended; maps corruption to STORE_NOTSTORE. */
int store_sqlfail(struct store *s, const char *what);

/* The cached statement id, reset and with bindings cleared; NULL after store_sqlfail. */
sqlite3_stmt *store_stmt(struct store *s, enum store_stmt id);
int store_exec(struct store *s, const char *sql, const char *what);

/* Wrap one logical write: opens a transaction unless an explicit one is open. */
int store_tx_enter(struct store *s, int *own);
int store_tx_leave(struct store *s, int own, int rc);

int64_t store_now(int64_t at); /* at, or the current time when at <= 0 */
void store_bind_text(sqlite3_stmt *st, int idx, const char *v); /* NULL binds SQL NULL */
/* n strings (const char *, NULL for SQL NULL) into parameters first .. first + n - 1. */
void store_bind_texts(sqlite3_stmt *st, int first, int n, ...);
int store_write_allowed(struct store *s);

/* store_schema.c */
struct store_migration {
	int version;
	const char *what;
	const char *sql;
};
extern const struct store_migration store_migrations[];
extern const int store_migration_count;

/* store_lock.c */
int store_lock_release(struct store *s); /* flock and row; the row error, if any */
int64_t store_proc_start(long pid); /* clock ticks since boot, or 0 if unknown */

#endif
