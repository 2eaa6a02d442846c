/*
 * store_pg.c: the PostgreSQL engine of the state store (docs/state.md): a postgres:// or
 * postgresql:// URL opened with libpq (which honours the PG* environment variables and
 * ~/.pgpass), ?schema=NAME or OTARUN_STATE_SCHEMA choosing the schema (default "otarun"), the
 * SQLite-dialect statements and migration steps translated once, the schema version kept in the
 * table otarun_meta, and session-level advisory locks. A password never reaches a message: the
 * URL shown is redacted and libpq's messages are scrubbed of it. libpq never reconnects by itself,
 * so a session lost mid-command fails every later statement: the command stops acting.
 */
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <libpq-fe.h>
#include "pq_api.h"

#include "store_internal.h"

#define CONN(s) ((PGconn *)(s)->pg)

int store_is_url(const char *path)
{
	return path && (strncmp(path, "postgres://", 11) == 0 || strncmp(path, "postgresql://", 13) == 0);
}

/* ---- the URL --------------------------------------------------------------------------------- */

struct pg_url {
	char *libpq;   /* for libpq: without schema= */
	char *shown;   /* for messages: without the password either */
	char *password; /* from the URL, to scrub from libpq's messages */
	char schema[64];
};

static void url_free(struct pg_url *u)
{
	free(u->libpq);
	free(u->shown);
	if (u->password)
		memset(u->password, 0, strlen(u->password));
	free(u->password);
}

/* Splits the URL: userinfo password out of `shown`, schema= and password= out of the query. */
static int url_parse(const char *url, struct pg_url *u)
{
	memset(u, 0, sizeof *u);
	size_t n = strlen(url);
	u->libpq = calloc(1, n + 1);
	u->shown = calloc(1, n + 1);
	if (!u->libpq || !u->shown)
		return STORE_NOMEM;
	const char *auth = strstr(url, "://") + 3;
	const char *q = strchr(auth, '?');
	const char *end_auth = q ? q : url + n;
	const char *slash = memchr(auth, '/', (size_t)(end_auth - auth));
	const char *host_end = slash ? slash : end_auth;
	const char *at = NULL;
	for (const char *p = auth; p < host_end; p++)
		if (*p == '@')
			at = p;
	const char *colon = at ? memchr(auth, ':', (size_t)(at - auth)) : NULL;
	/* the base: everything before the query */
	memcpy(u->libpq, url, (size_t)(end_auth - url));
	if (colon) {
		size_t pre = (size_t)(colon - url);
		memcpy(u->shown, url, pre);
		strncat(u->shown, at, (size_t)(end_auth - at));
		u->password = strndup(colon + 1, (size_t)(at - colon - 1));
	} else {
		memcpy(u->shown, url, (size_t)(end_auth - url));
	}
	/* the query: keep everything but schema= (ours) and, in `shown`, password= */
	int lq = 0, sq = 0;
	for (const char *p = q ? q + 1 : NULL; p && *p;) {
		const char *amp = strchr(p, '&');
		size_t len = amp ? (size_t)(amp - p) : strlen(p);
		if (len > 7 && strncmp(p, "schema=", 7) == 0) {
			snprintf(u->schema, sizeof u->schema, "%.*s", (int)(len - 7), p + 7);
			strcat(u->shown, sq++ ? "&" : "?");
			strncat(u->shown, p, len);
		} else {
			strcat(u->libpq, lq++ ? "&" : "?");
			strncat(u->libpq, p, len);
			if (len >= 9 && strncmp(p, "password=", 9) == 0) {
				if (!u->password)
					u->password = strndup(p + 9, len - 9);
			} else {
				strcat(u->shown, sq++ ? "&" : "?");
				strncat(u->shown, p, len);
			}
		}
		p = amp ? amp + 1 : NULL;
	}
	return STORE_OK;
}

void store_redact(const char *path, char *out, size_t size)
{
	struct pg_url u;
	if (!store_is_url(path)) {
		snprintf(out, size, "%s", path);
		return;
	}
	if (url_parse(path, &u) == STORE_OK)
		snprintf(out, size, "%s", u.shown);
	else
		snprintf(out, size, "(a state database URL)");
	url_free(&u);
}

static int schema_valid(const char *name)
{
	if (!name[0] || strlen(name) > 63 || !(islower((unsigned char)name[0]) || name[0] == '_'))
		return 0;
	for (const char *p = name; *p; p++)
		if (!(islower((unsigned char)*p) || isdigit((unsigned char)*p) || *p == '_'))
			return 0;
	return 1;
}

/* ---- errors ---------------------------------------------------------------------------------- */

/* Copies msg into s->dberr, one line, with every occurrence of the password blotted out. */
static void keep_error(struct store *s, const char *msg, const char *state)
{
	snprintf(s->sqlstate, sizeof s->sqlstate, "%s", state ? state : "");
	snprintf(s->dberr, sizeof s->dberr, "%s", msg && *msg ? msg : "unknown error");
	for (char *p = s->dberr; *p; p++)
		if (*p == '\n' || *p == '\r' || *p == '\t')
			*p = ' ';
	char *w = s->dberr;
	for (const char *r = s->dberr; *r; r++)
		if (!(*r == ' ' && (w == s->dberr || w[-1] == ' ')))
			*w++ = *r;
	*w = '\0';
	size_t n = strlen(s->dberr);
	while (n && s->dberr[n - 1] == ' ')
		s->dberr[--n] = '\0';
	const char *pw = CONN(s) ? PQpass(CONN(s)) : NULL;
	if (pw && *pw)
		for (char *hit; (hit = strstr(s->dberr, pw));)
			memset(hit, '*', strlen(pw));
}

static void keep_result_error(struct store *s, PGresult *res)
{
	keep_error(s, res ? PQresultErrorField(res, PG_DIAG_MESSAGE_PRIMARY) : NULL,
	           res ? PQresultErrorField(res, PG_DIAG_SQLSTATE) : NULL);
	if (!res || !PQresultErrorField(res, PG_DIAG_MESSAGE_PRIMARY))
		keep_error(s, PQerrorMessage(CONN(s)), NULL);
}

int store_pg_fail(struct store *s, const char *what)
{
	if (!CONN(s) || PQstatus(CONN(s)) != CONNECTION_OK || strncmp(s->sqlstate, "08", 2) == 0 ||
	    strncmp(s->sqlstate, "57P", 3) == 0)
		return store_fail(s, STORE_ERROR,
		                  "%s: lost the connection to the state database (%s); stopped before "
		                  "acting further (was the server restarted? run the command again)",
		                  what, s->dberr);
	return store_fail(s, STORE_ERROR, "%s: %s", what, s->dberr);
}

/* ---- statements ------------------------------------------------------------------------------ */

/* ?N -> $N outside string literals and quoted names; *nparams: the highest N. */
char *store_pg_translate(const char *sql, int *nparams)
{
	size_t n = strlen(sql);
	char *out = malloc(n + 1), *o = out;
	if (!out)
		return NULL;
	char quote = 0;
	*nparams = 0;
	for (const char *p = sql; *p; p++) {
		if (quote) {
			if (*p == quote)
				quote = 0;
		} else if (*p == '\'' || *p == '"') {
			quote = *p;
		} else if (*p == '?' && isdigit((unsigned char)p[1])) {
			*o++ = '$';
			int v = atoi(p + 1);
			if (v > *nparams)
				*nparams = v;
			continue;
		}
		*o++ = *p;
	}
	*o = '\0';
	return out;
}

void store_pg_clear(struct store_q *q)
{
	if (q->res)
		PQclear(q->res);
	q->res = NULL;
	q->row = q->nrows = 0;
}

int store_pg_step(struct store_q *q)
{
	struct store *s = q->s;
	if (q->res) {
		if (++q->row < q->nrows)
			return STORE_ROW;
		return STORE_DONE;
	}
	const char *vals[STORE_QMAX];
	Oid types[STORE_QMAX];
	for (int i = 0; i < STORE_QMAX; i++) {
		vals[i] = q->val[i];
		types[i] = q->type[i];
	}
	int np = q->nparams > STORE_QMAX ? STORE_QMAX : q->nparams;
	PGresult *res = PQexecParams(CONN(s), q->pgsql, np, types, vals, NULL, NULL, 0);
	ExecStatusType st = PQresultStatus(res);
	if (st != PGRES_TUPLES_OK && st != PGRES_COMMAND_OK) {
		keep_result_error(s, res);
		PQclear(res);
		return STORE_ERROR;
	}
	const char *changed = PQcmdTuples(res);
	s->changes = changed && *changed ? strtoll(changed, NULL, 10) : 0;
	q->res = res;
	q->row = 0;
	q->nrows = st == PGRES_TUPLES_OK ? PQntuples(res) : 0;
	return q->nrows > 0 ? STORE_ROW : STORE_DONE;
}

int store_pg_ncols(struct store_q *q)
{
	return q->res ? PQnfields(q->res) : 0;
}

const char *store_pg_colname(struct store_q *q, int i)
{
	return q->res ? PQfname(q->res, i) : "";
}

enum store_type store_pg_coltype(struct store_q *q, int i)
{
	if (!q->res || q->row >= q->nrows || PQgetisnull(q->res, q->row, i))
		return STORE_NULL;
	switch (PQftype(q->res, i)) {
	case 20: /* int8 */
	case 21: /* int2 */
	case 23: /* int4 */
		return STORE_INT;
	case 700: /* float4 */
	case 701: /* float8 */
		return STORE_REAL;
	default:
		return STORE_TEXT;
	}
}

const char *store_pg_coltext(struct store_q *q, int i)
{
	if (!q->res || q->row >= q->nrows || PQgetisnull(q->res, q->row, i))
		return NULL;
	return PQgetvalue(q->res, q->row, i);
}

int store_pg_in_tx(struct store *s)
{
	PGTransactionStatusType t = PQtransactionStatus(CONN(s));
	return t == PQTRANS_INTRANS || t == PQTRANS_INERROR || t == PQTRANS_ACTIVE;
}

int store_pg_exec(struct store *s, const char *sql, const char *what)
{
	PGresult *res = PQexec(CONN(s), sql);
	ExecStatusType st = PQresultStatus(res);
	int rc = STORE_OK;
	if (st != PGRES_COMMAND_OK && st != PGRES_TUPLES_OK) {
		keep_result_error(s, res);
		rc = store_pg_fail(s, what);
	} else if (strcmp(sql, "COMMIT") == 0 && strcmp(PQcmdStatus(res), "ROLLBACK") == 0) {
		/* PostgreSQL answers COMMIT of a failed transaction with a rollback */
		keep_error(s, "the transaction failed earlier and was rolled back", NULL);
		rc = store_pg_fail(s, what);
	}
	PQclear(res);
	return rc;
}

/* ---- connecting ------------------------------------------------------------------------------ */

static void quiet(void *arg, const char *message)
{
	(void)arg;
	(void)message;
}

int store_pg_connect(struct store *s, const char *url, const struct store_options *opt)
{
	struct pg_url u;
	s->engine = STORE_ENGINE_PG;
	if (url_parse(url, &u) != STORE_OK) {
		url_free(&u);
		return store_fail(s, STORE_NOMEM, "out of memory");
	}
	free(s->path);
	s->path = u.shown;
	u.shown = NULL;
	const char *env = getenv("OTARUN_STATE_SCHEMA");
	if (!u.schema[0])
		snprintf(u.schema, sizeof u.schema, "%s", env && *env ? env : "otarun");
	if (!schema_valid(u.schema)) {
		url_free(&u);
		return store_fail(s, STORE_INVALID,
		                  "schema name \"%.63s\" is not usable; give ?schema=NAME (or "
		                  "OTARUN_STATE_SCHEMA) lower-case letters, digits and _, starting with a "
		                  "letter, at most 63 characters",
		                  u.schema);
	}
	s->schema = strdup(u.schema);
	s->schema_key = store_key32(u.schema);
	const char *keys[] = {"connect_timeout", "dbname", "fallback_application_name", NULL};
	const char *vals[] = {"10", u.libpq, "otarun", NULL};
	char lerr[300];
	if (pq_api_load(lerr, sizeof lerr) != 0) {
		url_free(&u);
		return store_fail(s, STORE_ERROR, "a postgres:// state store needs libpq: %s", lerr);
	}
	s->pg = PQconnectdbParams(keys, vals, 1);
	if (!s->pg || !s->schema) {
		url_free(&u);
		return store_fail(s, STORE_NOMEM, "out of memory");
	}
	PQsetNoticeProcessor(CONN(s), quiet, NULL);
	if (PQstatus(CONN(s)) != CONNECTION_OK) {
		keep_error(s, PQerrorMessage(CONN(s)), NULL);
		if (u.password)
			for (char *hit; (hit = strstr(s->dberr, u.password));)
				memset(hit, '*', strlen(u.password));
		url_free(&u);
		return store_fail(s, STORE_ERROR, "cannot connect to the state database: %s", s->dberr);
	}
	url_free(&u);
	char sql[256];
	snprintf(sql, sizeof sql, "SET search_path TO \"%s\"; SET client_min_messages TO warning%s",
	         s->schema, opt->readonly ? "; SET default_transaction_read_only TO on" : "");
	return store_pg_exec(s, sql, "setting up the session");
}

void store_pg_close(struct store *s)
{
	if (s->pg)
		PQfinish(CONN(s));
	s->pg = NULL;
	free(s->schema);
	s->schema = NULL;
}

/* ---- identity, version, migration ------------------------------------------------------------ */

/* One value from a one-row query with $1 = the schema; NULL (and *rc) if none. */
static char *query_one(struct store *s, const char *sql, int *rc)
{
	const char *vals[1] = {s->schema};
	Oid types[1] = {25};
	PGresult *res = PQexecParams(CONN(s), sql, 1, types, vals, NULL, NULL, 0);
	char *out = NULL;
	*rc = STORE_OK;
	if (PQresultStatus(res) != PGRES_TUPLES_OK) {
		keep_result_error(s, res);
		*rc = store_pg_fail(s, "reading the schema");
	} else if (PQntuples(res) > 0 && !PQgetisnull(res, 0, 0)) {
		out = strdup(PQgetvalue(res, 0, 0));
	}
	PQclear(res);
	return out;
}

int store_pg_version(struct store *s, int *version)
{
	int rc;
	*version = 0;
	char *has = query_one(s, "SELECT 1 FROM pg_tables WHERE schemaname = $1 AND tablename = "
	                         "'otarun_meta'", &rc);
	if (rc || !has)
		return rc;
	free(has);
	char *v = query_one(s, "SELECT value FROM otarun_meta WHERE key = 'schema_version' AND $1 = $1",
	                    &rc);
	if (v)
		*version = atoi(v);
	free(v);
	return rc;
}

/* Is this schema an otarun store (or empty, or absent)? */
int store_pg_check(struct store *s)
{
	int rc;
	char *tables = query_one(s, "SELECT count(*) FROM pg_tables WHERE schemaname = $1", &rc);
	char *meta = rc ? NULL : query_one(s, "SELECT 1 FROM pg_tables WHERE schemaname = $1 AND "
	                                      "tablename = 'otarun_meta'", &rc);
	long ntables = tables ? atol(tables) : 0;
	free(tables);
	free(meta);
	if (rc)
		return rc;
	if (ntables > 0 && !meta)
		return store_fail(s, STORE_NOTSTORE,
		                  "schema \"%s\" holds tables of its own, not an otarun state store; "
		                  "choose another with ?schema=NAME",
		                  s->schema);
	if (ntables == 0 && s->readonly)
		return store_fail(s, STORE_NOTFOUND, "no state recorded yet in schema \"%s\"", s->schema);
	return STORE_OK;
}

static int word_is(const char *p, const char *w)
{
	size_t n = strlen(w);
	return strncmp(p, w, n) == 0 && !isalnum((unsigned char)p[n]) && p[n] != '_';
}

/* SQLite DDL -> PostgreSQL: PRAGMA statements dropped, INTEGER PRIMARY KEY an identity column,
 * INTEGER as BIGINT, REAL as DOUBLE PRECISION. */
static char *ddl_translate(const char *sql)
{
	size_t cap = strlen(sql) * 2 + 64;
	char *out = malloc(cap), *o = out;
	if (!out)
		return NULL;
	const char *p = sql;
	while (*p) {
		int start = p == sql || !(isalnum((unsigned char)p[-1]) || p[-1] == '_');
		if (start && word_is(p, "PRAGMA")) {
			const char *semi = strchr(p, ';');
			p = semi ? semi + 1 : p + strlen(p);
			continue;
		}
		const char *rep = NULL;
		size_t skip = 0;
		if (start && strncmp(p, "INTEGER PRIMARY KEY", 19) == 0) {
			rep = "BIGINT GENERATED BY DEFAULT AS IDENTITY PRIMARY KEY";
			skip = 19;
		} else if (start && word_is(p, "INTEGER")) {
			rep = "BIGINT";
			skip = 7;
		} else if (start && word_is(p, "REAL")) {
			rep = "DOUBLE PRECISION";
			skip = 4;
		}
		if (rep) {
			size_t n = strlen(rep);
			memcpy(o, rep, n);
			o += n;
			p += skip;
		} else {
			*o++ = *p++;
		}
	}
	*o = '\0';
	return out;
}

int store_pg_migrate_step(struct store *s, const struct store_migration *m)
{
	char sql[320];
	snprintf(sql, sizeof sql,
	         "CREATE SCHEMA IF NOT EXISTS \"%s\"; CREATE TABLE IF NOT EXISTS otarun_meta ("
	         "key TEXT PRIMARY KEY, value TEXT NOT NULL); INSERT INTO otarun_meta VALUES "
	         "('application', 'otarun') ON CONFLICT (key) DO NOTHING",
	         s->schema);
	int rc = store_pg_exec(s, sql, "creating the schema");
	char *ddl = rc ? NULL : ddl_translate(m->sql);
	if (rc == STORE_OK && !ddl)
		return store_fail(s, STORE_NOMEM, "out of memory");
	if (ddl) {
		char what[160];
		snprintf(what, sizeof what, "migrating to schema version %d (%s)", m->version, m->what);
		rc = store_pg_exec(s, ddl, what);
		free(ddl);
	}
	return rc;
}

int store_pg_set_version(struct store *s, int version)
{
	char sql[200];
	snprintf(sql, sizeof sql,
	         "INSERT INTO otarun_meta VALUES ('schema_version', '%d') ON CONFLICT (key) DO UPDATE "
	         "SET value = excluded.value",
	         version);
	return store_pg_exec(s, sql, "recording the schema version");
}

/* ---- advisory locks: (schema key, key), held by the session ---------------------------------- */

int store_pg_try_lock(struct store *s, int32_t key, int *got)
{
	char sql[96];
	snprintf(sql, sizeof sql, "SELECT pg_try_advisory_lock(%ld, %ld)", (long)s->schema_key,
	         (long)key);
	PGresult *res = PQexec(CONN(s), sql);
	*got = 0;
	if (PQresultStatus(res) != PGRES_TUPLES_OK) {
		keep_result_error(s, res);
		PQclear(res);
		return store_pg_fail(s, "taking a lock");
	}
	*got = strcmp(PQgetvalue(res, 0, 0), "t") == 0;
	PQclear(res);
	return STORE_OK;
}

int store_pg_unlock(struct store *s, int32_t key)
{
	char sql[96];
	snprintf(sql, sizeof sql, "SELECT pg_advisory_unlock(%ld, %ld)", (long)s->schema_key,
	         (long)key);
	return store_pg_exec(s, sql, "releasing a lock");
}

/* After fork(): drop the connection without telling the server, whose session is the parent's. */
void store_pg_forget(struct store *s)
{
	if (s->pg)
		close(PQsocket(CONN(s)));
}

int store_session_ok(const struct store *s)
{
	return s->engine != STORE_ENGINE_PG || (s->pg && PQstatus(CONN(s)) == CONNECTION_OK);
}
