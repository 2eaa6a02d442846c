/*
 * store_internal.h: what the store's files (store.c, store_engine.c, store_pg.c, store_schema.c,
 * store_lock.c, store_write.c, store_read.c, store_copy.c) share and nobody else sees: the handle,
 * the engine-neutral statement (struct store_q) over SQLite or PostgreSQL (docs/state.md,
 * "Engines"), error and transaction helpers.
 */
#ifndef OTARUN_STORE_INTERNAL_H
#define OTARUN_STORE_INTERNAL_H

#include <sqlite3.h>

#include "store.h"

/* Statements prepared once per handle and reused (store_q_reset after each use). */
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
	ST_RLOCK_GET,
	ST_RLOCK_PUT,
	ST_RLOCK_DEL,
	ST_RLOCK_ANY,
	ST_QUOTA_TAKE,
	ST_COUNT_
};

enum store_engine { STORE_ENGINE_SQLITE, STORE_ENGINE_PG };

#define STORE_QMAX 16 /* most parameters in one statement */
#define STORE_ROW 100 /* store_step: a row is ready */
#define STORE_DONE 101 /* store_step: no (more) rows */

/* One statement, written once in SQLite's dialect with ?N parameters; on PostgreSQL the text is
 * translated ($N) and run with the bound values as text, their types given. */
struct store_q {
	struct store *s;
	sqlite3_stmt *st; /* SQLite */
	char *pgsql;      /* PostgreSQL */
	int nparams;
	char *val[STORE_QMAX];
	unsigned int type[STORE_QMAX]; /* Oid; 0: let the server infer */
	void *res;                     /* PGresult */
	int row, nrows;
};

struct store {
	int engine;
	sqlite3 *db;
	void *pg;      /* PGconn */
	char *schema;  /* PostgreSQL schema */
	int32_t schema_key; /* advisory lock keys: (schema_key, rollout key) */
	char *path;    /* what messages show: the file, or the URL without a password */
	char *lock_path;
	int lock_fd;   /* -1 when not locked */
	int locked;
	int in_tx;     /* an explicit store_begin is open */
	int readonly;
	int memory;    /* ":memory:": the lock is process-local */
	long pid;      /* getpid() when opened: a forked child must not use this handle */
	char host[256];
	int64_t changes;   /* rows the last statement changed */
	char sqlstate[6];  /* PostgreSQL: the last error's SQLSTATE */
	char dberr[512];   /* PostgreSQL: the last error's message */
	struct store_rlock *rlocks; /* rollout locks held (store_rlock.c) */
	int shared_fd;              /* SQLite: the store's lock file, shared while rollouts are held */
	int shared;                 /* the store's lock is held shared (both engines) */
	struct store_q *stmt[ST_COUNT_];
	struct store_q *list_stmt[STORE_LIST_COUNT_];
	char err[1024];
};

/* Sets s->err to "PATH: message" and returns rc. */
int store_fail(struct store *s, int rc, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
/* Same, with ": <the engine's message>" appended; maps corruption to STORE_NOTSTORE. */
int store_sqlfail(struct store *s, const char *what);

/* store_engine.c: statements on either engine. */
struct store_q *store_q_new(struct store *s, const char *sql); /* NULL after store_sqlfail */
void store_q_free(struct store_q *q);
void store_q_reset(struct store_q *q); /* also clears the bindings */
void store_bind_text(struct store_q *q, int idx, const char *v); /* NULL binds SQL NULL */
/* n strings (const char *, NULL for SQL NULL) into parameters first .. first + n - 1. */
void store_bind_texts(struct store_q *q, int first, int n, ...);
void store_bind_int(struct store_q *q, int idx, int64_t v);
void store_bind_null_int(struct store_q *q, int idx);
void store_bind_null(struct store_q *q, int idx); /* of no declared type */
void store_bind_real(struct store_q *q, int idx, double v);
int store_step(struct store_q *q); /* STORE_ROW, STORE_DONE, or STORE_ERROR (see store_sqlfail) */
int store_ncols(struct store_q *q);
const char *store_colname(struct store_q *q, int i);
enum store_type store_coltype(struct store_q *q, int i);
int64_t store_colint(struct store_q *q, int i);
double store_colreal(struct store_q *q, int i);
const char *store_coltext(struct store_q *q, int i); /* NULL for SQL NULL */
const char *store_col_mismatch(struct store_q *q, int i); /* a damaged SQLite column, or NULL */
const char *store_col_decl(struct store_q *q, int i);     /* its declared type, or "" */
int store_fk_failed(struct store *s);               /* the last error was a foreign key's */
int store_native_autocommit(struct store *s);       /* no engine transaction is open */
int store_begin_write(struct store *s);             /* opens a write transaction */

/* The cached statement id, reset and with bindings cleared; NULL after store_sqlfail. */
struct store_q *store_stmt(struct store *s, enum store_stmt id);
int store_exec(struct store *s, const char *sql, const char *what);

/* Wrap one logical write: opens a transaction unless an explicit one is open. */
int store_tx_enter(struct store *s, int *own);
int store_tx_leave(struct store *s, int own, int rc);

int64_t store_now(int64_t at); /* at, or the current time when at <= 0 */
int store_write_allowed(struct store *s);
/* store_write_allowed, and no transaction open: what taking a lock (whole store or rollout) needs. */
int store_lock_allowed(struct store *s);

/* store_schema.c */
struct store_migration {
	int version;
	const char *what;
	const char *sql;
};
extern const struct store_migration store_migrations[];
extern const int store_migration_count;

/* store_pg.c */
int store_is_url(const char *path);
int store_pg_connect(struct store *s, const char *url, const struct store_options *opt);
void store_pg_close(struct store *s);
void store_pg_forget(struct store *s);
int store_pg_exec(struct store *s, const char *sql, const char *what);
int store_pg_step(struct store_q *q);
char *store_pg_translate(const char *sql, int *nparams);
void store_pg_clear(struct store_q *q);
int store_pg_fail(struct store *s, const char *what);
int store_pg_check(struct store *s);                     /* identity and version */
int store_pg_version(struct store *s, int *version);
int store_pg_migrate_step(struct store *s, const struct store_migration *m);
int store_pg_set_version(struct store *s, int version);
int store_pg_try_lock(struct store *s, int32_t key, int *got);
int store_pg_unlock(struct store *s, int32_t key);
int store_pg_in_tx(struct store *s);
int32_t store_key32(const char *text);
#define STORE_KEY_STORE 1 /* advisory key of the store lock; 0 is the write transactions' */

/* store_lock.c */
int store_lock_release(struct store *s); /* flock and row (and rollout locks); the row error */
int store_holder_read(struct store *s, const char *rollout, struct store_holder *h);
int store_describe_holder(struct store *s, const char *rollout, const struct store_holder *h,
                          double waited);
int store_claim_row(struct store *s, const char *rollout, const char *command,
                    struct store_holder *took_over, int proven);
void store_format_utc(int64_t t, char out[32]);
double store_monotonic(void);
void store_nap_until(double start, double timeout);

/* store_rlock.c */
int store_rollout_release_all(struct store *s);
int64_t store_proc_start(long pid); /* clock ticks since boot, or 0 if unknown */

#endif
