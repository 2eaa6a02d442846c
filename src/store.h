/*
 * store.h: otarun's state store, the crash-safety record of every rollout (docs/state.md). An SQLite file
 * (WAL, synchronous=FULL) with a versioned schema migrated forward in C, holding rollouts, waves
 * and their transitions, jobs, the intent journal, gate readings, approvals, policy overrides and
 * the audit log. One process acts on a store at a time (store_lock: flock on PATH.lock plus a
 * holder row), or on a rollout at a time (store_rollout_lock). A postgres:// URL names the same
 * store in a PostgreSQL schema (docs/state.md). A SHA-256 fingerprint of what a saved plan depends
 * on lets `apply PLAN` refuse a stale plan. Pure C (no lua.h); the Lua face is src/l_store.c and
 * lua/otarun/state/init.lua.
 *
 * Conventions: every function returns a store_rc; on failure store_errmsg() says what went wrong
 * and names the store's path. Times are epoch seconds given by the caller (otarun has --now and a
 * simulated clock); 0 means "now". Strings may be NULL where a column is optional. JSON arguments
 * are stored as given (the caller encodes them) after a check that they hold no secret key.
 * A handle is not thread-safe; after fork() a child must open its own.
 */
#ifndef OTARUN_STORE_H
#define OTARUN_STORE_H

#include <stddef.h>
#include <stdint.h>

#define STORE_SCHEMA_VERSION 3
#define STORE_APPLICATION_ID 0x4f544152 /* "OTAR": marks a SQLite file as an otarun store */

enum store_rc {
	STORE_OK = 0,
	STORE_ERROR = 1,    /* I/O or SQLite failure */
	STORE_LOCKED = 2,   /* another process holds the lock */
	STORE_NEWER = 3,    /* schema newer than this binary knows */
	STORE_NOTSTORE = 4, /* not an SQLite database, corrupt, or some other program's database */
	STORE_NOTFOUND = 5, /* no such rollout, wave or intent */
	STORE_INVALID = 6,  /* a caller's mistake: unknown state or kind, a secret in params, ... */
	STORE_CONFLICT = 7, /* an intent settled twice, a write inside the wrong transaction */
	STORE_NOMEM = 8,
};

struct store;

struct store_options {
	int readonly;        /* open without writing: no migration, no lock */
	int busy_timeout_ms; /* 0: 5000 */
	int target_version;  /* 0: STORE_SCHEMA_VERSION; tests build older stores with it */
};

/* Opens (creating if absent, unless readonly) and migrates the store at path. On failure *out is
 * NULL and err holds the message. The parent directory must exist (see sys_mkdirs in sys.h). */
int store_open(struct store **out, const char *path, const struct store_options *opt, char *err,
               size_t errlen);
void store_close(struct store *s); /* releases the lock if held; NULL is fine */
const char *store_errmsg(const struct store *s);
const char *store_path(const struct store *s);
const char *store_rc_name(int rc); /* "ok", "locked", ... */


/* Schema version of the open file; migration to target (0: latest) in one transaction. */
int store_schema_version(struct store *s, int *version);
int store_migrate(struct store *s, int target);

/* Explicit transactions group writes that must be atomic (settle + job + transition + audit).
 * Without one, every write is its own transaction. store_begin takes the write lock (IMMEDIATE). */
int store_begin(struct store *s);
int store_commit(struct store *s);
int store_rollback(struct store *s);
int store_in_transaction(const struct store *s);

/* ---- the process lock ------------------------------------------------------------------------ */

struct store_holder {
	int present;        /* a holder row exists */
	char host[256];
	long pid;
	int64_t proc_start; /* the holder's start time, clock ticks since boot (pid reuse check) */
	int64_t since;      /* when it took the lock */
	char command[64];
	int alive;          /* 1 alive, 0 gone (same host, pid gone or reused), -1 unknown (other host) */
};

/* Takes the exclusive lock, polling until timeout_seconds pass (0: one try; < 0: forever).
 * STORE_LOCKED names the holder: "state locked by pid 1234 on host x since 2026-...Z".
 * If a dead holder's row is found, it is taken over, recorded in the audit log, and described in
 * *took_over (may be NULL). Taking a lock already held by this handle is a no-op. */
int store_lock(struct store *s, double timeout_seconds, const char *command,
               struct store_holder *took_over);
int store_unlock(struct store *s);
int store_locked(const struct store *s);
int store_lock_holder(struct store *s, struct store_holder *h); /* h->present 0 if none */

/* ---- rollout locks (docs/state.md, "Locks") ---------------------------------------------------
 * Several processes share a store by taking one lock per rollout: each rollout's tick or apply is
 * done by one process at a time. Holding any rollout lock also holds the store's lock shared, so
 * store_lock (exclusive) waits for every rollout holder and the other way round. SQLite: an flock
 * on PATH.locks/NAME-KEY.lock; PostgreSQL: a session-level advisory lock on (schema, rollout),
 * released with the session. Either way a holder row (rollout_locks) names host, pid, since and
 * command, and a dead holder's row is taken over and recorded in the audit log. */
int store_rollout_lock(struct store *s, const char *rollout, double timeout_seconds,
                       const char *command, struct store_holder *took_over);
int store_rollout_unlock(struct store *s, const char *rollout);
int store_rollout_held(const struct store *s, const char *rollout); /* by this handle */

/* ---- the shared API quota (docs/state.md, "Shared API quota") ---------------------------------
 * One bucket per (account, action) in the store, refilled at `rate` tokens a second and one token
 * deep: each call reserves the next free slot, atomically, whichever process asks. *slot gets the
 * time (epoch seconds, `now` is the caller's wall clock) at which this request may be sent. */
int store_quota_take(struct store *s, const char *account, const char *action, double rate,
                     double now, double *slot);

/* ---- writes ---------------------------------------------------------------------------------- */

struct store_rollout {
	const char *name, *file, *product, *region, *firmware;
	int64_t at;
};
int store_rollout_put(struct store *s, const struct store_rollout *r); /* upsert; keeps halt */
int store_rollout_halt(struct store *s, const char *rollout, const char *reason, int64_t at);
int store_rollout_unhalt(struct store *s, const char *rollout, int64_t at);

struct store_wave {
	const char *rollout, *name, *kind; /* kind: "dynamic" | "static" | NULL */
	int index;
	int64_t at;
};
/* Upserts a wave (new waves start "waiting"); never changes the state of an existing one. */
int store_wave_put(struct store *s, const struct store_wave *w);
/* Moves a wave to state `to` (the names in docs/state.md), recording from/to/at/why. job_id, when not NULL,
 * becomes the wave's job. Moving to the state it is in records nothing and sets *changed = 0. */
int store_wave_transition(struct store *s, const char *rollout, const char *wave, const char *to,
                          const char *why, const char *job_id, int64_t at, int *changed);
int store_wave_state_valid(const char *state);

struct store_job {
	const char *job_id, *rollout, *wave, *firmware, *kind, *params_fingerprint, *identity;
	const char *status; /* last known platform status, e.g. "IN_PROGRESS" */
	int64_t created_at;
};
int store_job_put(struct store *s, const struct store_job *j); /* upsert */
int store_job_status(struct store *s, const char *job_id, const char *status, int64_t at);

struct store_intent {
	const char *rollout, *wave, *action, *params_json, *identity;
	int64_t at;
};
/* Durably records that `action` is about to be sent. Requires the lock and no open transaction:
 * the intent must be on disk before the call leaves. */
int store_intent_begin(struct store *s, const struct store_intent *in, int64_t *id);

struct store_settle {
	const char *state;  /* "settled" | "failed" | "unknown" */
	const char *job_id; /* the job the call created or was resolved to */
	const char *result; /* what happened: request id, error code and message */
	int64_t at;
};
int store_intent_settle(struct store *s, int64_t id, const struct store_settle *r);

struct store_gate {
	const char *rollout, *wave, *counts_json, *verdict, *reason; /* verdict: pass|wait|fail */
	int64_t at;
};
int store_gate_reading(struct store *s, const struct store_gate *g);

struct store_approval {
	const char *rollout, *wave, *who, *why;
	int64_t at;
};
int store_approval(struct store *s, const struct store_approval *a);

struct store_override {
	const char *rollout, *rule, *reason, *who, *plan_fingerprint; /* rule: "policy.rule" */
	int64_t at;
};
int store_override(struct store *s, const struct store_override *o);

struct store_audit {
	const char *who, *command, *rollout, *wave;
	const char *kind; /* call|decision|gate|approval|override|halt|resume|abort */
	const char *action, *params_json, *result, *request_id;
	int64_t at;
};
int store_audit(struct store *s, const struct store_audit *a, int64_t *id);

/* STORE_INVALID (naming the key) if a JSON text has an object key that carries a secret:
 * AccessKeySecret, SecurityToken, Signature, Authorization, Password and their spellings. */
int store_json_check_secrets(struct store *s, const char *json);
int store_key_is_secret(const char *key); /* the rule above, for one key */

/* ---- reads ----------------------------------------------------------------------------------- */

enum store_list {
	STORE_LIST_ROLLOUTS,
	STORE_LIST_WAVES,
	STORE_LIST_TRANSITIONS,
	STORE_LIST_JOBS,
	STORE_LIST_INTENTS,
	STORE_LIST_UNSETTLED, /* intents pending or unknown: what a crash left open */
	STORE_LIST_GATES,
	STORE_LIST_APPROVALS,
	STORE_LIST_OVERRIDES,
	STORE_LIST_AUDIT,
	STORE_LIST_LOCKS, /* lock holders: the store's (rollout "") and each rollout's */
	STORE_LIST_COUNT_
};

enum store_type { STORE_NULL, STORE_INT, STORE_REAL, STORE_TEXT };

struct store_value {
	const char *name;
	enum store_type type;
	int64_t i;
	double d;
	const char *s; /* valid during the callback only */
};

struct store_filter {
	const char *rollout, *wave; /* NULL: any */
	int64_t after_id;           /* rows with id > after_id (tables with ids) */
	int64_t limit;              /* 0: no limit */
};

/* Calls fn for each row in a stable order (by name or id); fn returns non-zero to stop. */
typedef int (*store_row_fn)(void *ctx, int ncols, const struct store_value *cols);
int store_list(struct store *s, enum store_list what, const struct store_filter *f,
               store_row_fn fn, void *ctx);
const char *store_list_name(enum store_list what); /* "rollouts", "waves", ... */
/* The intents a crash left open (pending or unknown), oldest first; rollout NULL: all. */
int store_intents_unsettled(struct store *s, const char *rollout, store_row_fn fn, void *ctx);
int store_list_from_name(const char *name);         /* -1 if unknown */

/* ---- moving state (docs/state.md) ----------------------------------------------------------- */

/* A URL names a PostgreSQL store (postgres:// or postgresql://); anything else is a file. */
int store_is_url(const char *path);
const char *store_engine_name(const struct store *s); /* "sqlite" | "postgresql" */
/* 0 once a PostgreSQL session is lost (never reconnected: the command must stop); SQLite: 1 */
int store_session_ok(const struct store *s);
/* The path as it may be shown: a URL without its password (userinfo or password=). */
void store_redact(const char *path, char *out, size_t size);

#define STORE_COPY_TABLES 9 /* the history tables push and pull copy */
const char *store_copy_table(int i); /* "rollouts", "waves", ... */
int store_counts(struct store *s, int64_t counts[STORE_COPY_TABLES]);
/* Copies every history table of `from` into the empty store `to` (ids and the audit log
 * included; lock holders and quota buckets are not), in one transaction, and checks the row
 * counts of both afterwards; counts receives the source's. STORE_CONFLICT if `to` holds state. */
int store_copy(struct store *from, struct store *to, int64_t counts[STORE_COPY_TABLES]);

/* SHA-256 hex (65 bytes with NUL) of what a plan over these rollouts depends on: halts, wave
 * states and jobs, jobs, intents and approvals. Order and duplicates of names do not matter. */
int store_fingerprint(struct store *s, const char *const *rollouts, size_t n, char out[65]);

#endif
