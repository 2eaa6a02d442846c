/*
 * store_copy.c: moving a whole state store between engines or places (`otarun state push` and
 * `state pull`, docs/state.md): every history table copied row by row, ids and the audit log
 * included, into an empty store in one transaction, read from the source in one snapshot, and the
 * row counts of both compared afterwards. Live coordination (lock holders, quota buckets) is not
 * copied: it belongs to the processes of each store.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "store_internal.h"

/* Parents before children (waves refer to rollouts, transitions to waves). */
static const char *const tables[STORE_COPY_TABLES] = {
	"rollouts", "waves",     "wave_transitions", "jobs",     "intents",
	"audit",    "gate_readings", "approvals",    "overrides",
};

static const char *const has_id[] = {"wave_transitions", "intents", "audit", "gate_readings",
                                     "approvals", "overrides", NULL};

const char *store_copy_table(int i)
{
	return i >= 0 && i < STORE_COPY_TABLES ? tables[i] : NULL;
}

int store_counts(struct store *s, int64_t counts[STORE_COPY_TABLES])
{
	for (int i = 0; i < STORE_COPY_TABLES; i++) {
		char sql[96];
		snprintf(sql, sizeof sql, "SELECT count(*) FROM %s", tables[i]);
		struct store_q *q = store_q_new(s, sql);
		if (!q)
			return STORE_ERROR;
		int step = store_step(q), rc = STORE_OK;
		if (step == STORE_ROW)
			counts[i] = store_colint(q, 0);
		else
			rc = store_sqlfail(s, "counting rows");
		store_q_free(q);
		if (rc)
			return rc;
	}
	return STORE_OK;
}

/* Copies one table's rows: SELECT * in the source, the same columns inserted in the target. */
static int copy_table(struct store *from, struct store *to, const char *table)
{
	char sql[1024];
	snprintf(sql, sizeof sql, "SELECT * FROM %s", table);
	struct store_q *src = store_q_new(from, sql), *dst = NULL;
	if (!src)
		return store_fail(to, STORE_ERROR, "reading %s from %s: %s", table, store_path(from),
		                  store_errmsg(from));
	int step, rc = STORE_OK;
	while (rc == STORE_OK && (step = store_step(src)) == STORE_ROW) {
		int n = store_ncols(src);
		if (n > STORE_QMAX) {
			rc = store_fail(to, STORE_ERROR, "%s has too many columns to copy", table);
			break;
		}
		if (!dst) {
			int len = snprintf(sql, sizeof sql, "INSERT INTO %s(", table);
			for (int i = 0; i < n; i++)
				len += snprintf(sql + len, sizeof sql - (size_t)len, "%s\"%s\"", i ? ", " : "",
				                store_colname(src, i));
			len += snprintf(sql + len, sizeof sql - (size_t)len, ") VALUES (");
			for (int i = 0; i < n; i++)
				len += snprintf(sql + len, sizeof sql - (size_t)len, "%s?%d", i ? ", " : "",
				                i + 1);
			snprintf(sql + len, sizeof sql - (size_t)len, ")");
			if (!(dst = store_q_new(to, sql))) {
				rc = STORE_ERROR;
				break;
			}
		}
		store_q_reset(dst);
		for (int i = 0; i < n; i++) {
			switch (store_coltype(src, i)) {
			case STORE_INT:
				store_bind_int(dst, i + 1, store_colint(src, i));
				break;
			case STORE_REAL:
				store_bind_real(dst, i + 1, store_colreal(src, i));
				break;
			case STORE_TEXT:
				store_bind_text(dst, i + 1, store_coltext(src, i));
				break;
			case STORE_NULL:
				store_bind_null(dst, i + 1);
				break;
			}
		}
		if (store_step(dst) != STORE_DONE) {
			char what[96];
			snprintf(what, sizeof what, "copying into %s", table);
			rc = store_sqlfail(to, what);
		}
		store_q_reset(dst);
	}
	if (rc == STORE_OK && step != STORE_DONE)
		rc = store_fail(to, STORE_ERROR, "reading %s from %s: %s", table, store_path(from),
		                (store_sqlfail(from, "reading"), store_errmsg(from)));
	store_q_free(src);
	store_q_free(dst);
	return rc;
}

/* PostgreSQL's identity columns go on from the highest id copied. */
static int advance_ids(struct store *to)
{
	if (to->engine != STORE_ENGINE_PG)
		return STORE_OK;
	for (const char *const *t = has_id; *t; t++) {
		char sql[256];
		snprintf(sql, sizeof sql,
		         "SELECT setval(pg_get_serial_sequence('%s', 'id'), max(id)) FROM %s"
		         " HAVING max(id) IS NOT NULL",
		         *t, *t);
		int rc = store_exec(to, sql, "advancing the ids");
		if (rc)
			return rc;
	}
	return STORE_OK;
}

int store_copy(struct store *from, struct store *to, int64_t counts[STORE_COPY_TABLES])
{
	int64_t have[STORE_COPY_TABLES], got[STORE_COPY_TABLES];
	int rc = store_write_allowed(to);
	if (rc == STORE_OK)
		rc = store_counts(to, have);
	for (int i = 0; rc == STORE_OK && i < STORE_COPY_TABLES; i++)
		if (have[i] > 0)
			rc = store_fail(to, STORE_CONFLICT,
			                "already holds state (%lld rows in %s); copy only into an empty "
			                "store, or give another path, database or ?schema=NAME",
			                (long long)have[i], tables[i]);
	if (rc)
		return rc;
	/* one snapshot of the source */
	int own_read = !from->in_tx && store_native_autocommit(from);
	if (own_read && (rc = store_exec(from, from->engine == STORE_ENGINE_PG
	                                           ? "BEGIN ISOLATION LEVEL REPEATABLE READ"
	                                           : "BEGIN",
	                                 "starting a read")))
		return store_fail(to, rc, "%s", store_errmsg(from));
	int own;
	if (rc == STORE_OK)
		rc = store_tx_enter(to, &own);
	if (rc == STORE_OK) {
		for (int i = 0; rc == STORE_OK && i < STORE_COPY_TABLES; i++)
			rc = copy_table(from, to, tables[i]);
		if (rc == STORE_OK)
			rc = advance_ids(to);
		rc = store_tx_leave(to, own, rc);
	}
	if (rc == STORE_OK && (rc = store_counts(from, counts)))
		rc = store_fail(to, rc, "%s", store_errmsg(from));
	if (own_read)
		store_exec(from, "COMMIT", "ending a read");
	if (rc == STORE_OK)
		rc = store_counts(to, got);
	for (int i = 0; rc == STORE_OK && i < STORE_COPY_TABLES; i++)
		if (got[i] != counts[i])
			rc = store_fail(to, STORE_ERROR, "copy verification failed: %s has %lld rows here, "
			                                 "%lld in the source",
			                tables[i], (long long)got[i], (long long)counts[i]);
	return rc;
}
