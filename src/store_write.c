/*
 * store_write.c: every write to the state store: rollouts and halts, waves and their transitions,
 * jobs, the intent journal, gate readings, approvals, policy overrides, the audit log, and the
 * check that keeps secrets out of stored JSON. Each write is its own transaction unless the caller
 * opened one (store_begin) to group several. Uses the statement cache of store.c.
 */
#include <ctype.h>
#include <stdio.h>
#include <string.h>

#include "store_internal.h"

static int required(struct store *s, const char *value, const char *what)
{
	if (value && *value)
		return STORE_OK;
	return store_fail(s, STORE_INVALID, "%s is required", what);
}

static int in_set(const char *v, const char *const *set)
{
	for (; v && *set; set++)
		if (strcmp(v, *set) == 0)
			return 1;
	return 0;
}

static const char *const wave_states[] = {"waiting", "ready",      "running", "passed", "done",
                                          "superseded", "failed", "cancelled", NULL};
static const char *const intent_states[] = {"settled", "failed", "unknown", NULL};
static const char *const audit_kinds[] = {"call", "decision", "gate",  "approval",
                                          "override", "halt", "resume", "abort", NULL};
static const char *const verdicts[] = {"pass", "wait", "fail", NULL};

int store_wave_state_valid(const char *state)
{
	return in_set(state, wave_states);
}

/* Steps a statement that returns no rows, then resets it. */
static int step_done(struct store *s, sqlite3_stmt *st, const char *what)
{
	if (!st)
		return STORE_ERROR;
	int rc = sqlite3_step(st) == SQLITE_DONE ? STORE_OK : store_sqlfail(s, what);
	sqlite3_reset(st);
	return rc;
}

/* ---- secrets --------------------------------------------------------------------------------- */

/* Lower-cased letters and digits only: "x-acs-security-token" -> "xacssecuritytoken". */
static void key_fold(const char *key, char *out, size_t size)
{
	size_t n = 0;
	for (; *key && n + 1 < size; key++)
		if (isalnum((unsigned char)*key))
			out[n++] = (char)tolower((unsigned char)*key);
	out[n] = '\0';
}

int store_key_is_secret(const char *key)
{
	static const char *const parts[] = {"secret",        "securitytoken", "password",
	                                    "authorization", "privatekey",    NULL};
	char k[256];
	key_fold(key, k, sizeof k);
	if (strcmp(k, "signature") == 0 || strcmp(k, "xacssignature") == 0)
		return 1;
	for (const char *const *p = parts; *p; p++)
		if (strstr(k, *p))
			return 1;
	return 0;
}

int store_json_check_secrets(struct store *s, const char *json)
{
	if (!json)
		return STORE_OK;
	sqlite3_stmt *st = store_stmt(s, ST_JSON_VALID);
	if (!st)
		return STORE_ERROR;
	store_bind_text(st, 1, json);
	int valid = sqlite3_step(st) == SQLITE_ROW && sqlite3_column_int(st, 0) == 1;
	sqlite3_reset(st);
	if (!valid)
		return store_fail(s, STORE_INVALID, "not valid JSON: %.60s", json);
	st = store_stmt(s, ST_JSON_KEYS);
	if (!st)
		return STORE_ERROR;
	store_bind_text(st, 1, json);
	int rc = STORE_OK, step;
	while (rc == STORE_OK && (step = sqlite3_step(st)) == SQLITE_ROW) {
		const char *key = (const char *)sqlite3_column_text(st, 0);
		if (key && store_key_is_secret(key))
			rc = store_fail(s, STORE_INVALID,
			                "refusing to store \"%s\": secrets and signatures never go into "
			                "the state store (leave the key out)",
			                key);
	}
	if (rc == STORE_OK && step != SQLITE_DONE)
		rc = store_sqlfail(s, "reading JSON keys");
	sqlite3_reset(st);
	return rc;
}

/* ---- rollouts and waves ---------------------------------------------------------------------- */

int store_rollout_put(struct store *s, const struct store_rollout *r)
{
	int own, rc = required(s, r->name, "rollout name");
	if (rc || (rc = store_tx_enter(s, &own)))
		return rc;
	sqlite3_stmt *st = store_stmt(s, ST_ROLLOUT_PUT);
	if (st) {
		store_bind_texts(st, 1, 5, r->name, r->file, r->product, r->region, r->firmware);
		sqlite3_bind_int64(st, 6, store_now(r->at));
	}
	return store_tx_leave(s, own, step_done(s, st, "recording a rollout"));
}

static int rollout_update(struct store *s, enum store_stmt id, const char *rollout,
                          const char *reason, int64_t at)
{
	int own, rc = required(s, rollout, "rollout name");
	if (rc || (rc = store_tx_enter(s, &own)))
		return rc;
	sqlite3_stmt *st = store_stmt(s, id);
	if (st) {
		store_bind_text(st, 1, rollout);
		if (id == ST_ROLLOUT_HALT) {
			store_bind_text(st, 2, reason);
			sqlite3_bind_int64(st, 3, store_now(at));
		} else {
			sqlite3_bind_int64(st, 2, store_now(at));
		}
	}
	rc = step_done(s, st, "recording a halt");
	if (rc == STORE_OK && sqlite3_changes(s->db) == 0)
		rc = store_fail(s, STORE_NOTFOUND, "no rollout \"%s\" in the state store", rollout);
	return store_tx_leave(s, own, rc);
}

int store_rollout_halt(struct store *s, const char *rollout, const char *reason, int64_t at)
{
	return rollout_update(s, ST_ROLLOUT_HALT, rollout, reason, at);
}

int store_rollout_unhalt(struct store *s, const char *rollout, int64_t at)
{
	return rollout_update(s, ST_ROLLOUT_UNHALT, rollout, NULL, at);
}

int store_wave_put(struct store *s, const struct store_wave *w)
{
	int own, rc = required(s, w->rollout, "rollout name");
	if (!rc)
		rc = required(s, w->name, "wave name");
	if (rc || (rc = store_tx_enter(s, &own)))
		return rc;
	sqlite3_stmt *st = store_stmt(s, ST_WAVE_PUT);
	if (st) {
		store_bind_texts(st, 1, 2, w->rollout, w->name);
		sqlite3_bind_int(st, 3, w->index);
		store_bind_text(st, 4, w->kind);
		sqlite3_bind_int64(st, 5, store_now(w->at));
	}
	rc = step_done(s, st, "recording a wave");
	if (rc == STORE_ERROR && (sqlite3_extended_errcode(s->db) == SQLITE_CONSTRAINT_FOREIGNKEY))
		rc = store_fail(s, STORE_NOTFOUND, "wave %s/%s: no rollout \"%s\" recorded first",
		                w->rollout, w->name, w->rollout);
	return store_tx_leave(s, own, rc);
}

/* With a transaction open: the wave's state (copied to from) or STORE_NOTFOUND. */
static int wave_get(struct store *s, const char *rollout, const char *wave, char *from,
                    size_t fsize, char *job, size_t jsize)
{
	sqlite3_stmt *st = store_stmt(s, ST_WAVE_GET);
	if (!st)
		return STORE_ERROR;
	store_bind_texts(st, 1, 2, rollout, wave);
	int step = sqlite3_step(st), rc = STORE_OK;
	if (step == SQLITE_ROW) {
		const unsigned char *f = sqlite3_column_text(st, 0), *j = sqlite3_column_text(st, 1);
		snprintf(from, fsize, "%s", f ? (const char *)f : "");
		snprintf(job, jsize, "%s", j ? (const char *)j : "");
	} else if (step == SQLITE_DONE) {
		rc = store_fail(s, STORE_NOTFOUND, "no wave \"%s\" of rollout \"%s\" in the state store",
		                wave, rollout);
	} else {
		rc = store_sqlfail(s, "reading a wave");
	}
	sqlite3_reset(st);
	return rc;
}

int store_wave_transition(struct store *s, const char *rollout, const char *wave, const char *to,
                          const char *why, const char *job_id, int64_t at, int *changed)
{
	int dummy;
	if (!changed)
		changed = &dummy;
	*changed = 0;
	if (!store_wave_state_valid(to))
		return store_fail(s, STORE_INVALID,
		                  "unknown wave state \"%s\" (waiting, ready, running, passed, done, "
		                  "superseded, failed or cancelled)",
		                  to ? to : "(null)");
	char from[32], job[256];
	int own, rc = store_tx_enter(s, &own);
	if (rc)
		return rc;
	rc = wave_get(s, rollout, wave, from, sizeof from, job, sizeof job);
	if (rc == STORE_OK && strcmp(from, to) == 0 && (!job_id || strcmp(job_id, job) == 0))
		return store_tx_leave(s, own, rc);
	at = store_now(at);
	sqlite3_stmt *st = rc ? NULL : store_stmt(s, ST_WAVE_SET);
	if (st) {
		store_bind_texts(st, 1, 4, rollout, wave, to, job_id);
		sqlite3_bind_int64(st, 5, at);
		rc = step_done(s, st, "changing a wave's state");
	}
	st = rc ? NULL : store_stmt(s, ST_TRANSITION_ADD);
	if (st) {
		store_bind_texts(st, 1, 4, rollout, wave, from, to);
		sqlite3_bind_int64(st, 5, at);
		store_bind_texts(st, 6, 2, why, job_id);
		rc = step_done(s, st, "recording a wave transition");
	}
	if (rc == STORE_OK)
		*changed = 1;
	return store_tx_leave(s, own, rc);
}

/* ---- jobs and intents ------------------------------------------------------------------------ */

int store_job_put(struct store *s, const struct store_job *j)
{
	int own, rc = required(s, j->job_id, "job id");
	if (rc || (rc = store_tx_enter(s, &own)))
		return rc;
	sqlite3_stmt *st = store_stmt(s, ST_JOB_PUT);
	if (st) {
		store_bind_texts(st, 1, 7, j->job_id, j->rollout, j->wave, j->firmware, j->kind,
		                 j->identity, j->params_fingerprint);
		sqlite3_bind_int64(st, 8, store_now(j->created_at));
		store_bind_text(st, 9, j->status);
	}
	return store_tx_leave(s, own, step_done(s, st, "recording a job"));
}

int store_job_status(struct store *s, const char *job_id, const char *status, int64_t at)
{
	int own, rc = required(s, job_id, "job id");
	if (rc || (rc = store_tx_enter(s, &own)))
		return rc;
	sqlite3_stmt *st = store_stmt(s, ST_JOB_STATUS);
	if (st) {
		store_bind_texts(st, 1, 2, job_id, status);
		sqlite3_bind_int64(st, 3, store_now(at));
	}
	rc = step_done(s, st, "recording a job's status");
	if (rc == STORE_OK && sqlite3_changes(s->db) == 0)
		rc = store_fail(s, STORE_NOTFOUND, "no job %s in the state store", job_id);
	return store_tx_leave(s, own, rc);
}

int store_intent_begin(struct store *s, const struct store_intent *in, int64_t *id)
{
	int rc = required(s, in->action, "intent action");
	if (rc)
		return rc;
	if (!s->locked)
		return store_fail(s, STORE_CONFLICT,
		                  "intent for %s without holding the state lock; lock the store first",
		                  in->action);
	if (s->in_tx)
		return store_fail(s, STORE_CONFLICT,
		                  "intent for %s inside a transaction: it must be on disk before the "
		                  "call is sent, so it commits on its own",
		                  in->action);
	if ((rc = store_json_check_secrets(s, in->params_json)))
		return rc;
	int own;
	if ((rc = store_tx_enter(s, &own)))
		return rc;
	sqlite3_stmt *st = store_stmt(s, ST_INTENT_ADD);
	if (st) {
		store_bind_texts(st, 1, 5, in->rollout, in->wave, in->action, in->params_json,
		                 in->identity);
		sqlite3_bind_int64(st, 6, store_now(in->at));
	}
	rc = step_done(s, st, "recording an intent");
	if (rc == STORE_OK && id)
		*id = sqlite3_last_insert_rowid(s->db);
	return store_tx_leave(s, own, rc);
}

int store_intent_settle(struct store *s, int64_t id, const struct store_settle *r)
{
	if (!in_set(r->state, intent_states))
		return store_fail(s, STORE_INVALID,
		                  "intent %lld: unknown outcome \"%s\" (settled, failed or unknown)",
		                  (long long)id, r->state ? r->state : "(null)");
	if (!s->locked)
		return store_fail(s, STORE_CONFLICT,
		                  "settling intent %lld without holding the state lock", (long long)id);
	int own, rc = store_tx_enter(s, &own);
	if (rc)
		return rc;
	sqlite3_stmt *st = store_stmt(s, ST_INTENT_GET);
	if (!st)
		return store_tx_leave(s, own, STORE_ERROR);
	sqlite3_bind_int64(st, 1, id);
	int step = sqlite3_step(st);
	char state[16] = "";
	if (step == SQLITE_ROW)
		snprintf(state, sizeof state, "%s", (const char *)sqlite3_column_text(st, 0));
	sqlite3_reset(st);
	if (step == SQLITE_DONE)
		rc = store_fail(s, STORE_NOTFOUND, "no intent %lld in the state store", (long long)id);
	else if (step != SQLITE_ROW)
		rc = store_sqlfail(s, "reading an intent");
	else if (strcmp(state, "settled") == 0 || strcmp(state, "failed") == 0)
		rc = store_fail(s, STORE_CONFLICT, "intent %lld is already %s", (long long)id, state);
	st = rc ? NULL : store_stmt(s, ST_INTENT_SETTLE);
	if (st) {
		sqlite3_bind_int64(st, 1, id);
		store_bind_texts(st, 2, 3, r->state, r->job_id, r->result);
		sqlite3_bind_int64(st, 5, store_now(r->at));
		rc = step_done(s, st, "settling an intent");
	}
	return store_tx_leave(s, own, rc);
}

/* ---- gates, approvals, overrides, audit ------------------------------------------------------ */

int store_gate_reading(struct store *s, const struct store_gate *g)
{
	int own, rc = required(s, g->rollout, "rollout name");
	if (!rc)
		rc = required(s, g->wave, "wave name");
	if (!rc && !in_set(g->verdict, verdicts))
		rc = store_fail(s, STORE_INVALID, "gate verdict \"%s\" must be pass, wait or fail",
		                g->verdict ? g->verdict : "(null)");
	if (!rc)
		rc = store_json_check_secrets(s, g->counts_json);
	if (rc || (rc = store_tx_enter(s, &own)))
		return rc;
	sqlite3_stmt *st = store_stmt(s, ST_GATE_ADD);
	if (st) {
		store_bind_texts(st, 1, 2, g->rollout, g->wave);
		sqlite3_bind_int64(st, 3, store_now(g->at));
		store_bind_texts(st, 4, 3, g->counts_json, g->verdict, g->reason);
	}
	return store_tx_leave(s, own, step_done(s, st, "recording a gate reading"));
}

int store_approval(struct store *s, const struct store_approval *a)
{
	int own, rc = required(s, a->rollout, "rollout name");
	if (!rc)
		rc = required(s, a->wave, "wave name");
	if (rc || (rc = store_tx_enter(s, &own)))
		return rc;
	sqlite3_stmt *st = store_stmt(s, ST_APPROVAL_ADD);
	if (st) {
		store_bind_texts(st, 1, 4, a->rollout, a->wave, a->who, a->why);
		sqlite3_bind_int64(st, 5, store_now(a->at));
	}
	return store_tx_leave(s, own, step_done(s, st, "recording an approval"));
}

int store_override(struct store *s, const struct store_override *o)
{
	int own, rc = required(s, o->rule, "overridden rule (POLICY.RULE)");
	if (!rc)
		rc = required(s, o->reason, "override reason");
	if (rc || (rc = store_tx_enter(s, &own)))
		return rc;
	sqlite3_stmt *st = store_stmt(s, ST_OVERRIDE_ADD);
	if (st) {
		store_bind_texts(st, 1, 4, o->rollout, o->rule, o->reason, o->who);
		sqlite3_bind_int64(st, 5, store_now(o->at));
		store_bind_text(st, 6, o->plan_fingerprint);
	}
	return store_tx_leave(s, own, step_done(s, st, "recording a policy override"));
}

int store_audit(struct store *s, const struct store_audit *a, int64_t *id)
{
	int own, rc = STORE_OK;
	if (!in_set(a->kind, audit_kinds))
		rc = store_fail(s, STORE_INVALID,
		                "audit kind \"%s\" must be call, decision, gate, approval, override, "
		                "halt, resume or abort",
		                a->kind ? a->kind : "(null)");
	if (!rc)
		rc = store_json_check_secrets(s, a->params_json);
	if (rc || (rc = store_tx_enter(s, &own)))
		return rc;
	sqlite3_stmt *st = store_stmt(s, ST_AUDIT_ADD);
	if (st) {
		sqlite3_bind_int64(st, 1, store_now(a->at));
		store_bind_texts(st, 2, 9, a->who, a->command, a->rollout, a->wave, a->kind,
		                 a->action, a->params_json, a->result, a->request_id);
	}
	rc = step_done(s, st, "writing the audit log");
	if (rc == STORE_OK && id)
		*id = sqlite3_last_insert_rowid(s->db);
	return store_tx_leave(s, own, rc);
}
