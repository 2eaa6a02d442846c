/*
 * store_read.c: reading the state store back: one generic row walk per table (store_list) for
 * status, log and the planner, and the state fingerprint a saved plan carries (SHA-256 over a
 * canonical, length-prefixed serialisation of what the plan depends on). Either engine; OpenSSL.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/evp.h>
#include "crypto_api.h" /* libcrypto loaded on first use */

#include "store_internal.h"

/* ?1 rollout, ?2 wave (NULL: any), ?3 rows after this id, ?4 limit (-1: none). */
#define WHERE_RW " WHERE (?1 IS NULL OR rollout = ?1) AND (?2 IS NULL OR wave = ?2) AND id > ?3"

/* The intent journal's rows, for the full list and for the open (pending or unknown) ones. */
#define INTENTS \
	"SELECT id, rollout, wave, action, params, identity, state, job_id, result, created_at," \
	" settled_at FROM intents" WHERE_RW

static const struct {
	const char *name;
	const char *sql;
} lists[STORE_LIST_COUNT_] = {
	[STORE_LIST_ROLLOUTS] = {"rollouts",
		"SELECT name, file, product, region, firmware, halted, halt_reason, halted_at,"
		" created_at, updated_at FROM rollouts WHERE (?1 IS NULL OR name = ?1)"
		" AND (?2 IS NULL OR TRUE) AND ?3 = ?3 ORDER BY name LIMIT ?4"},
	[STORE_LIST_WAVES] = {"waves",
		"SELECT rollout, name, idx AS \"index\", kind, state, job_id, started_at, passed_at,"
		" finished_at, created_at, updated_at FROM waves WHERE (?1 IS NULL OR rollout = ?1)"
		" AND (?2 IS NULL OR name = ?2) AND ?3 = ?3 ORDER BY rollout, idx, name LIMIT ?4"},
	[STORE_LIST_TRANSITIONS] = {"transitions",
		"SELECT id, rollout, wave, from_state AS \"from\", to_state AS \"to\", at, why, job_id"
		" FROM wave_transitions" WHERE_RW " ORDER BY id LIMIT ?4"},
	[STORE_LIST_JOBS] = {"jobs",
		"SELECT job_id, rollout, wave, firmware, kind, identity, params_fingerprint, created_at,"
		" status, status_at FROM jobs WHERE (?1 IS NULL OR rollout = ?1)"
		" AND (?2 IS NULL OR wave = ?2) AND ?3 = ?3 ORDER BY created_at, job_id LIMIT ?4"},
	[STORE_LIST_INTENTS] = {"intents", INTENTS " ORDER BY id LIMIT ?4"},
	[STORE_LIST_UNSETTLED] = {"unsettled",
		INTENTS " AND state IN ('pending', 'unknown') ORDER BY id LIMIT ?4"},
	[STORE_LIST_GATES] = {"gates",
		"SELECT id, rollout, wave, at, counts, verdict, reason FROM gate_readings" WHERE_RW
		" ORDER BY id LIMIT ?4"},
	[STORE_LIST_APPROVALS] = {"approvals",
		"SELECT id, rollout, wave, who, why, at FROM approvals" WHERE_RW " ORDER BY id LIMIT ?4"},
	[STORE_LIST_OVERRIDES] = {"overrides",
		"SELECT id, rollout, rule, reason, who, at, plan_fingerprint FROM overrides"
		" WHERE (?1 IS NULL OR rollout = ?1) AND (?2 IS NULL OR TRUE) AND id > ?3"
		" ORDER BY id LIMIT ?4"},
	[STORE_LIST_AUDIT] = {"audit",
		"SELECT id, at, who, command, rollout, wave, kind, action, params, result, request_id"
		" FROM audit" WHERE_RW " ORDER BY id LIMIT ?4"},
	[STORE_LIST_LOCKS] = {"locks",
		"SELECT rollout, host, pid, since, command FROM (SELECT '' AS rollout, host, pid, since,"
		" command FROM lock UNION ALL SELECT rollout, host, pid, since, command"
		" FROM rollout_locks) x WHERE (?1 IS NULL OR rollout = ?1) AND (?2 IS NULL OR TRUE)"
		" AND ?3 = ?3 ORDER BY rollout LIMIT ?4"},
};

const char *store_list_name(enum store_list what)
{
	return what < STORE_LIST_COUNT_ ? lists[what].name : NULL;
}

int store_list_from_name(const char *name)
{
	for (int i = 0; i < STORE_LIST_COUNT_; i++)
		if (strcmp(name, lists[i].name) == 0)
			return i;
	return -1;
}

#define LIST_MAX_COLS 16

int store_list(struct store *s, enum store_list what, const struct store_filter *f,
               store_row_fn fn, void *ctx)
{
	static const struct store_filter none = {NULL, NULL, 0, 0};
	if ((unsigned)what >= STORE_LIST_COUNT_)
		return store_fail(s, STORE_INVALID, "no such list %d", (int)what);
	if (!f)
		f = &none;
	struct store_q **slot = &s->list_stmt[what];
	if (!*slot && !(*slot = store_q_new(s, lists[what].sql)))
		return STORE_ERROR;
	struct store_q *st = *slot;
	store_q_reset(st);
	store_bind_text(st, 1, f->rollout);
	store_bind_text(st, 2, f->wave);
	store_bind_int(st, 3, f->after_id);
	if (f->limit > 0)
		store_bind_int(st, 4, f->limit);
	else if (s->engine == STORE_ENGINE_PG)
		store_bind_null_int(st, 4); /* LIMIT NULL: none */
	else
		store_bind_int(st, 4, -1);
	int step, rc = STORE_OK;
	struct store_value cols[LIST_MAX_COLS];
	while ((step = store_step(st)) == STORE_ROW) {
		int n = store_ncols(st);
		if (n > LIST_MAX_COLS)
			n = LIST_MAX_COLS;
		for (int i = 0; i < n; i++) {
			struct store_value *v = &cols[i];
			memset(v, 0, sizeof *v);
			v->name = store_colname(st, i);
			const char *held = store_col_mismatch(st, i);
			if (held) {
				/* a damaged or hand-edited store: say so rather than hand on a wrong type */
				const char *decl = store_col_decl(st, i);
				store_q_reset(st);
				return store_fail(s, STORE_ERROR,
				                  "the state store is damaged: column %s of %s holds %s where %s "
				                  "belongs; restore the file from a backup, or point --state at a "
				                  "new one", v->name, lists[what].name, held,
				                  decl[0] == 'I' ? "an integer" : "text");
			}
			v->type = store_coltype(st, i);
			if (v->type == STORE_INT)
				v->i = store_colint(st, i);
			else if (v->type == STORE_REAL)
				v->d = store_colreal(st, i);
			else if (v->type == STORE_TEXT)
				v->s = store_coltext(st, i);
		}
		if (fn(ctx, n, cols))
			break;
	}
	if (step != STORE_ROW && step != STORE_DONE)
		rc = store_sqlfail(s, "reading the state store");
	store_q_reset(st);
	return rc;
}

int store_intents_unsettled(struct store *s, const char *rollout, store_row_fn fn, void *ctx)
{
	struct store_filter f = {rollout, NULL, 0, 0};
	return store_list(s, STORE_LIST_UNSETTLED, &f, fn, ctx);
}

/* ---- fingerprint ----------------------------------------------------------------------------- */

/* Each part of the fingerprint: ?1 is the rollout name; every column is hashed in order. */
static const char *const fp_parts[] = {
	"SELECT 'R', count(*), coalesce(max(halted), 0) FROM rollouts WHERE name = ?1",
	"SELECT 'W', name, state, job_id FROM waves WHERE rollout = ?1 ORDER BY name",
	"SELECT 'J', job_id, wave, kind, firmware, params_fingerprint FROM jobs WHERE rollout = ?1 ORDER BY job_id",
	"SELECT 'I', id, wave, action, state, job_id FROM intents WHERE rollout = ?1 ORDER BY id",
	"SELECT 'A', id, wave FROM approvals WHERE rollout = ?1 ORDER BY id",
};

/* Length-prefixed so that no two different states serialise alike: "5:canary", NULL as "-". */
static int hash_value(EVP_MD_CTX *md, struct store_q *st, int i)
{
	char head[32];
	const char *t = store_coltext(st, i);
	if (!t)
		return EVP_DigestUpdate(md, "-", 1);
	int len = (int)strlen(t);
	int n = snprintf(head, sizeof head, "%d:", len);
	return EVP_DigestUpdate(md, head, (size_t)n) && EVP_DigestUpdate(md, t, (size_t)len);
}

static int cmp_names(const void *a, const void *b)
{
	return strcmp(*(const char *const *)a, *(const char *const *)b);
}

static int fp_rollout(struct store *s, EVP_MD_CTX *md, struct store_q **parts, const char *name)
{
	char head[32];
	int n = snprintf(head, sizeof head, "rollout %zu:", strlen(name));
	if (!EVP_DigestUpdate(md, head, (size_t)n) || !EVP_DigestUpdate(md, name, strlen(name)))
		return store_fail(s, STORE_ERROR, "hashing the state failed");
	for (size_t p = 0; p < sizeof fp_parts / sizeof fp_parts[0]; p++) {
		struct store_q *st = parts[p];
		store_q_reset(st);
		store_bind_text(st, 1, name);
		int step;
		while ((step = store_step(st)) == STORE_ROW) {
			int cols = store_ncols(st), ok = 1;
			for (int i = 0; i < cols && ok; i++)
				ok = hash_value(md, st, i);
			if (!ok || !EVP_DigestUpdate(md, ";", 1))
				return store_fail(s, STORE_ERROR, "hashing the state failed");
		}
		if (step != STORE_DONE)
			return store_sqlfail(s, "reading the state for its fingerprint");
	}
	return STORE_OK;
}

int store_fingerprint(struct store *s, const char *const *rollouts, size_t n, char out[65])
{
	enum { NPARTS = sizeof fp_parts / sizeof fp_parts[0] };
	out[0] = '\0';
	const char **names = malloc((n ? n : 1) * sizeof *names);
	EVP_MD_CTX *md = EVP_MD_CTX_new();
	struct store_q *parts[NPARTS] = {0};
	int rc = names && md ? STORE_OK : store_fail(s, STORE_NOMEM, "out of memory");
	for (size_t i = 0; rc == STORE_OK && i < NPARTS; i++)
		if (!(parts[i] = store_q_new(s, fp_parts[i])))
			rc = STORE_ERROR;
	if (rc == STORE_OK && !EVP_DigestInit_ex(md, EVP_sha256(), NULL))
		rc = store_fail(s, STORE_ERROR, "SHA-256 unavailable");
	if (rc == STORE_OK && !EVP_DigestUpdate(md, "otarun-state-fingerprint-1\n", 27))
		rc = store_fail(s, STORE_ERROR, "hashing the state failed");
	if (rc == STORE_OK) {
		for (size_t i = 0; i < n; i++)
			names[i] = rollouts[i] ? rollouts[i] : "";
		qsort(names, n, sizeof *names, cmp_names);
	}
	/* One read transaction, so the parts agree with each other. */
	int own_read = rc == STORE_OK && !s->in_tx && store_native_autocommit(s);
	if (own_read)
		rc = store_exec(s, s->engine == STORE_ENGINE_PG ? "BEGIN ISOLATION LEVEL REPEATABLE READ"
		                                                : "BEGIN",
		                "starting a read");
	for (size_t i = 0; rc == STORE_OK && i < n; i++)
		if (i == 0 || strcmp(names[i], names[i - 1]) != 0)
			rc = fp_rollout(s, md, parts, names[i]);
	if (own_read) {
		int end = store_exec(s, rc == STORE_OK ? "COMMIT" : "ROLLBACK", "ending a read");
		if (rc == STORE_OK)
			rc = end;
	}
	unsigned char digest[32];
	unsigned int dlen = 0;
	if (rc == STORE_OK && (!EVP_DigestFinal_ex(md, digest, &dlen) || dlen != 32))
		rc = store_fail(s, STORE_ERROR, "hashing the state failed");
	if (rc == STORE_OK)
		for (int i = 0; i < 32; i++)
			snprintf(out + 2 * i, 3, "%02x", digest[i]);
	for (size_t i = 0; i < NPARTS; i++)
		store_q_free(parts[i]);
	EVP_MD_CTX_free(md);
	free(names);
	return rc;
}
