/*
 * store_engine.c: one statement interface (struct store_q) over the two engines of the state store
 * (docs/state.md, "Engines"): SQLite's prepared statements, or PostgreSQL through store_pg.c. The
 * other store files write each statement once, in SQLite's dialect with ?N parameters, and walk
 * its rows with these calls, whatever the engine.
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "store_internal.h"

struct store_q *store_q_new(struct store *s, const char *sql)
{
	struct store_q *q = calloc(1, sizeof *q);
	if (!q) {
		store_fail(s, STORE_NOMEM, "out of memory");
		return NULL;
	}
	q->s = s;
	if (s->engine == STORE_ENGINE_PG) {
		q->pgsql = store_pg_translate(sql, &q->nparams);
		if (!q->pgsql) {
			free(q);
			store_fail(s, STORE_NOMEM, "out of memory");
			return NULL;
		}
		return q;
	}
	if (sqlite3_prepare_v3(s->db, sql, -1, SQLITE_PREPARE_PERSISTENT, &q->st, NULL) != SQLITE_OK) {
		free(q);
		store_sqlfail(s, "preparing a statement");
		return NULL;
	}
	return q;
}

void store_q_reset(struct store_q *q)
{
	if (!q)
		return;
	if (q->st) {
		sqlite3_reset(q->st);
		sqlite3_clear_bindings(q->st);
		return;
	}
	store_pg_clear(q);
	for (int i = 0; i < STORE_QMAX; i++) {
		free(q->val[i]);
		q->val[i] = NULL;
		q->type[i] = 0;
	}
}

void store_q_free(struct store_q *q)
{
	if (!q)
		return;
	store_q_reset(q);
	if (q->st)
		sqlite3_finalize(q->st);
	free(q->pgsql);
	free(q);
}

/* PostgreSQL type oids for the values bound */
enum { OID_INT8 = 20, OID_TEXT = 25, OID_FLOAT8 = 701 };

static void pg_bind(struct store_q *q, int idx, const char *v, unsigned int type)
{
	if (idx < 1 || idx > STORE_QMAX)
		return;
	free(q->val[idx - 1]);
	q->val[idx - 1] = v ? strdup(v) : NULL;
	q->type[idx - 1] = type;
}

void store_bind_text(struct store_q *q, int idx, const char *v)
{
	if (q->st) {
		if (v)
			sqlite3_bind_text(q->st, idx, v, -1, SQLITE_TRANSIENT);
		else
			sqlite3_bind_null(q->st, idx);
		return;
	}
	pg_bind(q, idx, v, OID_TEXT);
}

void store_bind_texts(struct store_q *q, int first, int n, ...)
{
	va_list ap;
	va_start(ap, n);
	for (int i = 0; i < n; i++)
		store_bind_text(q, first + i, va_arg(ap, const char *));
	va_end(ap);
}

void store_bind_int(struct store_q *q, int idx, int64_t v)
{
	if (q->st) {
		sqlite3_bind_int64(q->st, idx, v);
		return;
	}
	char buf[32];
	snprintf(buf, sizeof buf, "%lld", (long long)v);
	pg_bind(q, idx, buf, OID_INT8);
}

void store_bind_null_int(struct store_q *q, int idx)
{
	if (q->st)
		sqlite3_bind_null(q->st, idx);
	else
		pg_bind(q, idx, NULL, OID_INT8);
}

void store_bind_null(struct store_q *q, int idx)
{
	if (q->st)
		sqlite3_bind_null(q->st, idx);
	else
		pg_bind(q, idx, NULL, 0);
}

void store_bind_real(struct store_q *q, int idx, double v)
{
	if (q->st) {
		sqlite3_bind_double(q->st, idx, v);
		return;
	}
	char buf[40];
	snprintf(buf, sizeof buf, "%.17g", v);
	pg_bind(q, idx, buf, OID_FLOAT8);
}

int store_step(struct store_q *q)
{
	if (!q->st)
		return store_pg_step(q);
	int rc = sqlite3_step(q->st);
	if (rc == SQLITE_ROW)
		return STORE_ROW;
	if (rc == SQLITE_DONE) {
		q->s->changes = sqlite3_changes(q->s->db);
		return STORE_DONE;
	}
	return STORE_ERROR;
}

/* ---- columns: PostgreSQL's side needs libpq, so it lives in store_pg.c ------------------------ */

int store_pg_ncols(struct store_q *q);
const char *store_pg_colname(struct store_q *q, int i);
enum store_type store_pg_coltype(struct store_q *q, int i);
const char *store_pg_coltext(struct store_q *q, int i);

int store_ncols(struct store_q *q)
{
	return q->st ? sqlite3_column_count(q->st) : store_pg_ncols(q);
}

const char *store_colname(struct store_q *q, int i)
{
	return q->st ? sqlite3_column_name(q->st, i) : store_pg_colname(q, i);
}

enum store_type store_coltype(struct store_q *q, int i)
{
	if (!q->st)
		return store_pg_coltype(q, i);
	switch (sqlite3_column_type(q->st, i)) {
	case SQLITE_INTEGER:
		return STORE_INT;
	case SQLITE_FLOAT:
		return STORE_REAL;
	case SQLITE_NULL:
		return STORE_NULL;
	default:
		return STORE_TEXT;
	}
}

int64_t store_colint(struct store_q *q, int i)
{
	if (q->st)
		return sqlite3_column_int64(q->st, i);
	const char *t = store_pg_coltext(q, i);
	return t ? strtoll(t, NULL, 10) : 0;
}

double store_colreal(struct store_q *q, int i)
{
	if (q->st)
		return sqlite3_column_double(q->st, i);
	const char *t = store_pg_coltext(q, i);
	return t ? strtod(t, NULL) : 0;
}

const char *store_coltext(struct store_q *q, int i)
{
	if (q->st)
		return (const char *)sqlite3_column_text(q->st, i);
	return store_pg_coltext(q, i);
}

/* SQLite keeps any value in any column: what a column declared INTEGER or TEXT holds when it is
 * something else ("an integer", "a real number", "binary data", "text"), else NULL. PostgreSQL
 * enforces the declared types itself: always NULL. */
const char *store_col_mismatch(struct store_q *q, int i)
{
	if (!q->st)
		return NULL;
	int type = sqlite3_column_type(q->st, i);
	const char *decl = sqlite3_column_decltype(q->st, i);
	if (!decl || type == SQLITE_NULL ||
	    !((strcmp(decl, "INTEGER") == 0 && type != SQLITE_INTEGER) ||
	      (strcmp(decl, "TEXT") == 0 && type != SQLITE_TEXT)))
		return NULL;
	return type == SQLITE_INTEGER ? "an integer"
	       : type == SQLITE_FLOAT ? "a real number"
	       : type == SQLITE_BLOB  ? "binary data"
	                              : "text";
}

const char *store_col_decl(struct store_q *q, int i)
{
	const char *d = q->st ? sqlite3_column_decltype(q->st, i) : NULL;
	return d ? d : "";
}

/* ---- the handle ------------------------------------------------------------------------------ */

int store_fk_failed(struct store *s)
{
	if (s->engine == STORE_ENGINE_PG)
		return strcmp(s->sqlstate, "23503") == 0;
	return sqlite3_extended_errcode(s->db) == SQLITE_CONSTRAINT_FOREIGNKEY;
}

int store_native_autocommit(struct store *s)
{
	if (s->engine == STORE_ENGINE_PG)
		return !store_pg_in_tx(s);
	return sqlite3_get_autocommit(s->db);
}

/* SQLite: one writer at a time (IMMEDIATE). PostgreSQL: the same, by a transaction-level
 * advisory lock on the schema's key, so read-modify-write steps see no concurrent writer. */
int store_begin_write(struct store *s)
{
	if (s->engine == STORE_ENGINE_SQLITE)
		return store_exec(s, "BEGIN IMMEDIATE", "starting a transaction");
	char sql[96];
	snprintf(sql, sizeof sql, "BEGIN; SELECT pg_advisory_xact_lock(%ld, 0)", (long)s->schema_key);
	return store_exec(s, sql, "starting a transaction");
}

int store_exec(struct store *s, const char *sql, const char *what)
{
	if (s->engine == STORE_ENGINE_PG)
		return store_pg_exec(s, sql, what);
	if (sqlite3_exec(s->db, sql, NULL, NULL, NULL) != SQLITE_OK)
		return store_sqlfail(s, what);
	return STORE_OK;
}

int store_sqlfail(struct store *s, const char *what)
{
	if (s->engine == STORE_ENGINE_PG)
		return store_pg_fail(s, what);
	int code = s->db ? sqlite3_errcode(s->db) & 0xff : SQLITE_ERROR;
	const char *msg = s->db ? sqlite3_errmsg(s->db) : "no database";
	if (code == SQLITE_NOTADB || code == SQLITE_CORRUPT)
		return store_fail(s, STORE_NOTSTORE,
		                  "%s: %s (the file is damaged or not an otarun state store)", what, msg);
	if (code == SQLITE_NOMEM)
		return store_fail(s, STORE_NOMEM, "%s: out of memory", what);
	if (code == SQLITE_BUSY || code == SQLITE_LOCKED)
		return store_fail(s, STORE_ERROR, "%s: the database stayed busy (%s)", what, msg);
	return store_fail(s, STORE_ERROR, "%s: %s", what, msg);
}

/* FNV-1a, folded to 32 bits: stable keys for PostgreSQL's advisory locks. */
int32_t store_key32(const char *text)
{
	uint32_t h = 2166136261u;
	for (const unsigned char *p = (const unsigned char *)text; *p; p++) {
		h ^= *p;
		h *= 16777619u;
	}
	return (int32_t)(h & 0x7fffffff);
}

const char *store_engine_name(const struct store *s)
{
	return s->engine == STORE_ENGINE_PG ? "postgresql" : "sqlite";
}
