/*
 * store.c: opening and closing the state store, recognising what is not one (not SQLite, corrupt,
 * another program's database, a newer schema), pragmas (WAL, synchronous=FULL, foreign keys, busy
 * timeout), migrations, transactions, errors, and the statement cache the other store_*.c files
 * draw from. SQLite here; a postgres:// URL goes to store_pg.c (docs/state.md). The schema itself
 * is in store_schema.c, written once for both engines.
 */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "store_internal.h"

/* Every reused statement, indexed by enum store_stmt. */
static const char *const stmt_sql[ST_COUNT_] = {
	[ST_ROLLOUT_PUT] =
		"INSERT INTO rollouts(name, file, product, region, firmware, created_at, updated_at)"
		" VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?6) ON CONFLICT(name) DO UPDATE SET"
		" file = excluded.file, product = excluded.product, region = excluded.region,"
		" firmware = excluded.firmware, updated_at = excluded.updated_at",
	[ST_ROLLOUT_HALT] = "UPDATE rollouts SET halted = 1, halt_reason = ?2, halted_at = ?3,"
	                    " updated_at = ?3 WHERE name = ?1",
	[ST_ROLLOUT_UNHALT] = "UPDATE rollouts SET halted = 0, updated_at = ?2 WHERE name = ?1",
	[ST_WAVE_PUT] =
		"INSERT INTO waves(rollout, name, idx, kind, created_at, updated_at)"
		" VALUES (?1, ?2, ?3, ?4, ?5, ?5) ON CONFLICT(rollout, name) DO UPDATE SET"
		" idx = excluded.idx, kind = coalesce(excluded.kind, waves.kind)",
	[ST_WAVE_GET] = "SELECT state, job_id FROM waves WHERE rollout = ?1 AND name = ?2",
	[ST_WAVE_SET] =
		/* back to 'waiting' (resume --retry): the wave starts afresh, with a new job */
		"UPDATE waves SET state = ?3, updated_at = ?5,"
		" job_id = CASE WHEN ?3 = 'waiting' THEN ?4 ELSE coalesce(?4, job_id) END,"
		" started_at = CASE WHEN ?3 = 'waiting' THEN NULL"
		"   WHEN ?3 = 'running' AND started_at IS NULL THEN ?5 ELSE started_at END,"
		" passed_at = CASE WHEN ?3 = 'passed' THEN ?5 WHEN ?3 = 'waiting' THEN NULL ELSE passed_at END,"
		" finished_at = CASE WHEN ?3 IN ('done','superseded','failed','cancelled') THEN ?5"
		"   WHEN ?3 = 'waiting' THEN NULL ELSE finished_at END"
		" WHERE rollout = ?1 AND name = ?2",
	[ST_TRANSITION_ADD] = "INSERT INTO wave_transitions(rollout, wave, from_state, to_state, at,"
	                      " why, job_id) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
	[ST_JOB_PUT] =
		"INSERT INTO jobs(job_id, rollout, wave, firmware, kind, identity, params_fingerprint,"
		" created_at, status, status_at) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9,"
		" CASE WHEN ?9 IS NULL THEN NULL ELSE ?8 END) ON CONFLICT(job_id) DO UPDATE SET"
		" rollout = coalesce(excluded.rollout, jobs.rollout),"
		" wave = coalesce(excluded.wave, jobs.wave),"
		" firmware = coalesce(excluded.firmware, jobs.firmware),"
		" kind = coalesce(excluded.kind, jobs.kind),"
		" identity = coalesce(excluded.identity, jobs.identity),"
		" params_fingerprint = coalesce(excluded.params_fingerprint, jobs.params_fingerprint),"
		" status = coalesce(excluded.status, jobs.status)",
	[ST_JOB_STATUS] = "UPDATE jobs SET status = ?2, status_at = ?3 WHERE job_id = ?1",
	[ST_INTENT_ADD] = "INSERT INTO intents(rollout, wave, action, params, identity, created_at)"
	                  " VALUES (?1, ?2, ?3, ?4, ?5, ?6) RETURNING id",
	[ST_INTENT_GET] = "SELECT state FROM intents WHERE id = ?1",
	[ST_INTENT_SETTLE] = "UPDATE intents SET state = ?2, job_id = coalesce(?3, job_id),"
	                     " result = ?4, settled_at = ?5 WHERE id = ?1",
	[ST_GATE_ADD] = "INSERT INTO gate_readings(rollout, wave, at, counts, verdict, reason)"
	                " VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
	[ST_APPROVAL_ADD] = "INSERT INTO approvals(rollout, wave, who, why, at)"
	                    " VALUES (?1, ?2, ?3, ?4, ?5)",
	[ST_OVERRIDE_ADD] = "INSERT INTO overrides(rollout, rule, reason, who, at, plan_fingerprint)"
	                    " VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
	[ST_AUDIT_ADD] = "INSERT INTO audit(at, who, command, rollout, wave, kind, action, params,"
	                 " result, request_id) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10) RETURNING id",
	[ST_LOCK_GET] = "SELECT host, pid, proc_start, since, command FROM lock WHERE id = 1",
	[ST_LOCK_PUT] = "INSERT INTO lock(id, host, pid, proc_start, since, command)"
	                " VALUES (1, ?1, ?2, ?3, ?4, ?5) ON CONFLICT(id) DO UPDATE SET"
	                " host = excluded.host, pid = excluded.pid, proc_start = excluded.proc_start,"
	                " since = excluded.since, command = excluded.command",
	[ST_LOCK_DEL] = "DELETE FROM lock WHERE id = 1 AND host = ?1 AND pid = ?2",
	[ST_RLOCK_GET] = "SELECT host, pid, proc_start, since, command FROM rollout_locks"
	                 " WHERE rollout = ?1",
	[ST_RLOCK_PUT] = "INSERT INTO rollout_locks(rollout, host, pid, proc_start, since, command)"
	                 " VALUES (?1, ?2, ?3, ?4, ?5, ?6) ON CONFLICT(rollout) DO UPDATE SET"
	                 " host = excluded.host, pid = excluded.pid, proc_start = excluded.proc_start,"
	                 " since = excluded.since, command = excluded.command",
	[ST_RLOCK_DEL] = "DELETE FROM rollout_locks WHERE rollout = ?1 AND host = ?2 AND pid = ?3",
	/* the shared quota: `at` is when the bucket's next token is due (docs/state.md) */
	[ST_QUOTA_TAKE] =
		"INSERT INTO quota(account, action, tokens, at) VALUES (?1, ?2, ?3, ?4 + ?5)"
		" ON CONFLICT(account, action) DO UPDATE SET tokens = excluded.tokens,"
		" at = CASE WHEN quota.at > ?4 THEN quota.at ELSE ?4 END + ?5"
		" RETURNING at - ?5",
	[ST_RLOCK_ANY] = "SELECT host, pid, proc_start, since, command, rollout FROM rollout_locks"
	                 " ORDER BY since, rollout LIMIT 1",
};

/* ---- errors and small helpers ---------------------------------------------------------------- */

int store_fail(struct store *s, int rc, const char *fmt, ...)
{
	int n = snprintf(s->err, sizeof s->err, "%s: ", s->path ? s->path : "state store");
	if (n < 0 || (size_t)n >= sizeof s->err)
		n = 0;
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(s->err + n, sizeof s->err - (size_t)n, fmt, ap);
	va_end(ap);
	return rc;
}

const char *store_errmsg(const struct store *s)
{
	return s ? s->err : "no state store";
}

const char *store_path(const struct store *s)
{
	return s->path;
}

const char *store_rc_name(int rc)
{
	static const char *const names[] = {"ok",       "error",    "locked",  "newer", "notstore",
	                                    "notfound", "invalid",  "conflict", "nomem"};
	return rc >= 0 && rc <= STORE_NOMEM ? names[rc] : "error";
}

int64_t store_now(int64_t at)
{
	return at > 0 ? at : (int64_t)time(NULL);
}

struct store_q *store_stmt(struct store *s, enum store_stmt id)
{
	if (!s->stmt[id] && !(s->stmt[id] = store_q_new(s, stmt_sql[id])))
		return NULL;
	store_q_reset(s->stmt[id]);
	return s->stmt[id];
}

int store_write_allowed(struct store *s)
{
	if (s->readonly)
		return store_fail(s, STORE_INVALID, "opened read-only; this change needs a writable store");
	if ((long)getpid() != s->pid)
		return store_fail(s, STORE_INVALID, "handle used after fork(); open the store again");
	return STORE_OK;
}

/* ---- transactions ---------------------------------------------------------------------------- */

int store_begin(struct store *s)
{
	int rc = store_write_allowed(s);
	if (rc)
		return rc;
	if (s->in_tx)
		return store_fail(s, STORE_CONFLICT, "a transaction is already open");
	rc = store_begin_write(s);
	if (rc == STORE_OK)
		s->in_tx = 1;
	return rc;
}

int store_commit(struct store *s)
{
	if (!s->in_tx)
		return store_fail(s, STORE_CONFLICT, "commit without an open transaction");
	int rc = store_exec(s, "COMMIT", "committing");
	if (rc != STORE_OK) {
		char keep[sizeof s->err];
		memcpy(keep, s->err, sizeof keep);
		store_exec(s, "ROLLBACK", "rolling back");
		memcpy(s->err, keep, sizeof keep);
	}
	s->in_tx = 0;
	return rc;
}

int store_rollback(struct store *s)
{
	if (!s->in_tx)
		return store_fail(s, STORE_CONFLICT, "rollback without an open transaction");
	s->in_tx = 0;
	if (store_native_autocommit(s))
		return STORE_OK; /* the engine already rolled back after an error */
	return store_exec(s, "ROLLBACK", "rolling back");
}

int store_in_transaction(const struct store *s)
{
	return s->in_tx;
}

int store_tx_enter(struct store *s, int *own)
{
	*own = 0;
	int rc = store_write_allowed(s);
	if (rc || s->in_tx)
		return rc;
	rc = store_begin_write(s);
	if (rc == STORE_OK)
		*own = 1;
	return rc;
}

int store_tx_leave(struct store *s, int own, int rc)
{
	if (!own)
		return rc;
	if (rc == STORE_OK)
		rc = store_exec(s, "COMMIT", "committing");
	if (rc != STORE_OK && !store_native_autocommit(s)) {
		char keep[sizeof s->err];
		memcpy(keep, s->err, sizeof keep);
		store_exec(s, "ROLLBACK", "rolling back");
		memcpy(s->err, keep, sizeof keep);
	}
	return rc;
}

/* ---- schema version and migrations ----------------------------------------------------------- */

static int pragma_int(struct store *s, const char *sql, int64_t *out)
{
	sqlite3_stmt *st;
	if (sqlite3_prepare_v2(s->db, sql, -1, &st, NULL) != SQLITE_OK)
		return store_sqlfail(s, "reading the file header");
	int rc = sqlite3_step(st);
	if (rc == SQLITE_ROW)
		*out = sqlite3_column_int64(st, 0);
	sqlite3_finalize(st);
	return rc == SQLITE_ROW ? STORE_OK : store_sqlfail(s, "reading the file header");
}

int store_schema_version(struct store *s, int *version)
{
	if (s->engine == STORE_ENGINE_PG)
		return store_pg_version(s, version);
	int64_t v = 0;
	int rc = pragma_int(s, "PRAGMA user_version", &v);
	*version = (int)v;
	return rc;
}

static int refuse_newer(struct store *s, int version)
{
	return store_fail(s, STORE_NEWER,
	                  "state schema version %d is newer than this otarun knows (%d); use a newer "
	                  "otarun (the store is never downgraded)",
	                  version, STORE_SCHEMA_VERSION);
}

int store_migrate(struct store *s, int target)
{
	if (target <= 0)
		target = STORE_SCHEMA_VERSION;
	if (target > STORE_SCHEMA_VERSION)
		return store_fail(s, STORE_INVALID, "no migration to schema version %d", target);
	if (s->in_tx)
		return store_fail(s, STORE_CONFLICT, "cannot migrate inside a transaction");
	int own, version, rc = store_tx_enter(s, &own);
	if (rc)
		return rc;
	rc = store_schema_version(s, &version);
	if (rc == STORE_OK && version > STORE_SCHEMA_VERSION)
		rc = refuse_newer(s, version);
	if (rc == STORE_OK && version > target)
		rc = store_fail(s, STORE_INVALID, "schema version %d cannot go back to %d", version,
		                target);
	for (int i = 0; rc == STORE_OK && i < store_migration_count; i++) {
		const struct store_migration *m = &store_migrations[i];
		if (m->version <= version || m->version > target)
			continue;
		if (s->engine == STORE_ENGINE_PG) {
			rc = store_pg_migrate_step(s, m);
			if (rc == STORE_OK)
				rc = store_pg_set_version(s, m->version);
			continue;
		}
		if (sqlite3_exec(s->db, m->sql, NULL, NULL, NULL) != SQLITE_OK) {
			char what[160];
			snprintf(what, sizeof what, "migrating to schema version %d (%s)", m->version,
			         m->what);
			rc = store_sqlfail(s, what);
			break;
		}
		char sql[64];
		snprintf(sql, sizeof sql, "PRAGMA user_version = %d", m->version);
		rc = store_exec(s, sql, "recording the schema version");
	}
	return store_tx_leave(s, own, rc);
}

/* Is this file an otarun store we may use? Empty files and new files are. */
/* A current store has every table of store_schema.c; one dropped by hand (or lost) would read as
 * "nothing recorded" and make a plan create again what exists (docs/trust.md). */
static int check_tables(struct store *s)
{
	static const char *const tables[] = {"rollouts", "waves", "wave_transitions", "jobs", "intents",
	                                     "audit", "gate_readings", "approvals", "overrides", "lock"};
	for (size_t i = 0; i < sizeof tables / sizeof tables[0]; i++) {
		char sql[128];
		int64_t n = 0;
		snprintf(sql, sizeof sql,
		         "SELECT count(*) FROM sqlite_master WHERE type = 'table' AND name = '%s'", tables[i]);
		int rc = pragma_int(s, sql, &n);
		if (rc)
			return rc;
		if (n != 1)
			return store_fail(s, STORE_ERROR,
			                  "the state store is damaged: table %s is missing; restore the file "
			                  "from a backup, or point --state at a new one", tables[i]);
	}
	return STORE_OK;
}

static int check_identity(struct store *s)
{
	int64_t app = 0, tables = 0;
	int version, rc;
	if (s->engine == STORE_ENGINE_PG) {
		rc = store_pg_check(s);
		if (rc == STORE_OK)
			rc = store_schema_version(s, &version);
		if (rc == STORE_OK && version > STORE_SCHEMA_VERSION)
			return refuse_newer(s, version);
		if (rc == STORE_OK && s->readonly && version < STORE_SCHEMA_VERSION)
			return store_fail(s, STORE_NOTSTORE,
			                  "state schema version %d is older than this otarun's (%d); a "
			                  "command that writes (plan, apply) will migrate it",
			                  version, STORE_SCHEMA_VERSION);
		return rc;
	}
	rc = pragma_int(s, "PRAGMA application_id", &app);
	if (rc == STORE_OK)
		rc = store_schema_version(s, &version);
	if (rc == STORE_OK)
		rc = pragma_int(s, "SELECT count(*) FROM sqlite_master", &tables);
	if (rc)
		return rc;
	if (app != 0 && app != STORE_APPLICATION_ID)
		return store_fail(s, STORE_NOTSTORE,
		                  "an SQLite database of another program (application_id %lld), not an "
		                  "otarun state store; give --state a new path",
		                  (long long)app);
	if (app == 0 && tables > 0)
		return store_fail(s, STORE_NOTSTORE,
		                  "an SQLite database with tables of its own, not an otarun state store; "
		                  "give --state a new path");
	if (version > STORE_SCHEMA_VERSION)
		return refuse_newer(s, version);
	if (s->readonly && version < STORE_SCHEMA_VERSION)
		return store_fail(s, STORE_NOTSTORE,
		                  version == 0 ? "empty: no state recorded yet"
		                               : "state schema version is older than this otarun's; a "
		                                 "command that writes (plan, apply) will migrate it");
	if (version == STORE_SCHEMA_VERSION)
		return check_tables(s);
	return STORE_OK;
}

/* ---- open and close -------------------------------------------------------------------------- */

static int open_fail(struct store *s, struct store **out, int rc, char *err, size_t errlen)
{
	if (err && errlen)
		snprintf(err, errlen, "%s", s->err);
	store_close(s);
	*out = NULL;
	return rc;
}

static int set_pragmas(struct store *s)
{
	if (s->readonly)
		return store_exec(s, "PRAGMA foreign_keys = ON", "setting pragmas");
	if (!s->memory) {
		sqlite3_stmt *st;
		int ok = sqlite3_prepare_v2(s->db, "PRAGMA journal_mode = WAL", -1, &st, NULL) == SQLITE_OK;
		ok = ok && sqlite3_step(st) == SQLITE_ROW;
		ok = ok && strcmp((const char *)sqlite3_column_text(st, 0), "wal") == 0;
		sqlite3_finalize(st);
		if (!ok)
			return store_sqlfail(s, "switching to WAL journal mode");
	}
	return store_exec(s, "PRAGMA synchronous = FULL; PRAGMA foreign_keys = ON", "setting pragmas");
}

/* 1 when the directory holding path exists but cannot be written by this process, and the store
 * has no -wal file beside it (so there is nothing a reader would have to recover). */
static int store_dir_readonly(const char *path)
{
	char dir[4096], wal[4200];
	const char *slash = strrchr(path, '/');
	if (!slash)
		snprintf(dir, sizeof dir, ".");
	else if (slash == path)
		snprintf(dir, sizeof dir, "/");
	else
		snprintf(dir, sizeof dir, "%.*s", (int)(slash - path), path);
	snprintf(wal, sizeof wal, "%s-wal", path);
	if (strpbrk(path, "?#%")) /* not expressible as a plain URI path */
		return 0;
	return access(dir, W_OK) != 0 && errno != ENOENT && access(wal, F_OK) != 0;
}

int store_open(struct store **out, const char *path, const struct store_options *opt, char *err,
               size_t errlen)
{
	static const struct store_options defaults = {0, 0, 0};
	if (!opt)
		opt = &defaults;
	*out = NULL;
	struct store *s = calloc(1, sizeof *s);
	if (!s) {
		snprintf(err, errlen, "%s: out of memory", path);
		return STORE_NOMEM;
	}
	s->lock_fd = -1;
	s->shared_fd = -1;
	s->pid = (long)getpid();
	s->readonly = opt->readonly;
	s->memory = strcmp(path, ":memory:") == 0;
	int url = store_is_url(path);
	/* a URL is shown only once store_pg_connect has taken its password out */
	const char *shown = url ? "state database" : path;
	size_t plen = strlen(shown);
	s->path = malloc(plen + 1);
	s->lock_path = malloc(plen + 6);
	if (!s->path || !s->lock_path) {
		snprintf(s->err, sizeof s->err, "%s: out of memory", shown);
		return open_fail(s, out, STORE_NOMEM, err, errlen);
	}
	memcpy(s->path, shown, plen + 1);
	snprintf(s->lock_path, plen + 6, "%s.lock", shown);
	if (gethostname(s->host, sizeof s->host) != 0)
		snprintf(s->host, sizeof s->host, "unknown");
	s->host[sizeof s->host - 1] = '\0';
	if (url) {
		int rc = store_pg_connect(s, path, opt);
		if (rc == STORE_OK)
			rc = check_identity(s);
		if (rc == STORE_OK && !opt->readonly)
			rc = store_migrate(s, opt->target_version);
		if (rc)
			return open_fail(s, out, rc, err, errlen);
		*out = s;
		return STORE_OK;
	}

	struct stat sb;
	if (!s->memory && stat(path, &sb) == 0 && S_ISDIR(sb.st_mode))
		return open_fail(s, out,
		                 store_fail(s, STORE_ERROR, "is a directory; --state wants a file such as "
		                                            "%s/state.db", path),
		                 err, errlen);
	if (!s->memory && opt->readonly && stat(path, &sb) != 0)
		return open_fail(s, out, store_fail(s, STORE_NOTFOUND, "no state store here (%s)",
		                                    strerror(errno)),
		                 err, errlen);
	int flags = opt->readonly ? SQLITE_OPEN_READONLY : SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE;
	const char *open_path = path;
	char *uri = NULL;
	if (!s->memory && opt->readonly && store_dir_readonly(path)) {
		/* a WAL database in a directory we cannot write: SQLite could not create its -shm file,
		 * and no writer of ours can be at work there, so read it as immutable (docs/trust.md) */
		uri = sqlite3_mprintf("file:%s?immutable=1", path);
		if (!uri)
			return open_fail(s, out, store_fail(s, STORE_NOMEM, "out of memory"), err, errlen);
		open_path = uri;
		flags |= SQLITE_OPEN_URI;
	}
	int orc = sqlite3_open_v2(open_path, &s->db, flags | SQLITE_OPEN_NOMUTEX, NULL);
	sqlite3_free(uri);
	if (orc != SQLITE_OK)
		return open_fail(s, out, store_sqlfail(s, "cannot open"), err, errlen);
	sqlite3_extended_result_codes(s->db, 0);
	sqlite3_busy_timeout(s->db, opt->busy_timeout_ms > 0 ? opt->busy_timeout_ms : 5000);

	int rc = check_identity(s);
	if (rc == STORE_OK)
		rc = set_pragmas(s);
	if (rc == STORE_OK && !opt->readonly)
		rc = store_migrate(s, opt->target_version);
	if (rc)
		return open_fail(s, out, rc, err, errlen);
	*out = s;
	return STORE_OK;
}

void store_close(struct store *s)
{
	if (!s)
		return;
	int mine = (long)getpid() == s->pid;
	if ((s->db || s->pg) && s->in_tx && mine)
		store_exec(s, "ROLLBACK", "rolling back");
	store_lock_release(s);
	for (int i = 0; i < ST_COUNT_; i++)
		store_q_free(s->stmt[i]);
	for (int i = 0; i < STORE_LIST_COUNT_; i++)
		store_q_free(s->list_stmt[i]);
	if (s->db)
		sqlite3_close_v2(s->db);
	if (s->pg && !mine)
		store_pg_forget(s); /* a forked child must not end its parent's session */
	store_pg_close(s);
	free(s->path);
	free(s->lock_path);
	free(s);
}
