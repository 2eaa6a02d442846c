/*
 * store_write.c: every write to the state store: rollouts and halts, waves and their transitions,
 * jobs, the intent journal, gate readings, approvals, policy overrides, the audit log, and the
 * shared API quota; the secrets check is in store_secrets.c. Each write is its own transaction unless the caller
 * opened one (store_begin) to group several. Uses the statement cache of store.c.
 */
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
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
static int step_done(struct store *s, struct store_q *st, const char *what)
{
	if (!st)
		return STORE_ERROR;
	int rc = store_step(st) == STORE_DONE ? STORE_OK : store_sqlfail(s, what);
	store_q_reset(st);
	return rc;
}

/* Steps an INSERT ... RETURNING id: the new row's id into *id (may be NULL). */
static int step_id(struct store *s, struct store_q *st, const char *what, int64_t *id)
{
	if (!st)
		return STORE_ERROR;
	int step = store_step(st);
	if (step == STORE_ROW) {
		if (id)
			*id = store_colint(st, 0);
		step = store_step(st);
	}
	int rc = step == STORE_DONE ? STORE_OK : store_sqlfail(s, what);
	store_q_reset(st);
	return rc;
}

/* ---- rollouts and waves ---------------------------------------------------------------------- */

int store_rollout_put(struct store *s, const struct store_rollout *r)
{
	int own, rc = required(s, r->name, "rollout name");
	if (rc || (rc = store_tx_enter(s, &own)))
		return rc;
	struct store_q *st = store_stmt(s, ST_ROLLOUT_PUT);
	if (st) {
		store_bind_texts(st, 1, 5, r->name, r->file, r->product, r->region, r->firmware);
		store_bind_int(st, 6, store_now(r->at));
	}
	return store_tx_leave(s, own, step_done(s, st, "recording a rollout"));
}

static int rollout_update(struct store *s, enum store_stmt id, const char *rollout,
                          const char *reason, int64_t at)
{
	int own, rc = required(s, rollout, "rollout name");
	if (rc || (rc = store_tx_enter(s, &own)))
		return rc;
	struct store_q *st = store_stmt(s, id);
	if (st) {
		store_bind_text(st, 1, rollout);
		if (id == ST_ROLLOUT_HALT) {
			store_bind_text(st, 2, reason);
			store_bind_int(st, 3, store_now(at));
		} else {
			store_bind_int(st, 2, store_now(at));
		}
	}
	rc = step_done(s, st, "recording a halt");
	if (rc == STORE_OK && s->changes == 0)
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
	struct store_q *st = store_stmt(s, ST_WAVE_PUT);
	if (st) {
		store_bind_texts(st, 1, 2, w->rollout, w->name);
		store_bind_int(st, 3, w->index);
		store_bind_text(st, 4, w->kind);
		store_bind_int(st, 5, store_now(w->at));
	}
	rc = step_done(s, st, "recording a wave");
	if (rc == STORE_ERROR && store_fk_failed(s))
		rc = store_fail(s, STORE_NOTFOUND, "wave %s/%s: no rollout \"%s\" recorded first",
		                w->rollout, w->name, w->rollout);
	return store_tx_leave(s, own, rc);
}

/* With a transaction open: the wave's state (copied to from) or STORE_NOTFOUND. */
static int wave_get(struct store *s, const char *rollout, const char *wave, char *from,
                    size_t fsize, char *job, size_t jsize)
{
	struct store_q *st = store_stmt(s, ST_WAVE_GET);
	if (!st)
		return STORE_ERROR;
	store_bind_texts(st, 1, 2, rollout, wave);
	int step = store_step(st), rc = STORE_OK;
	if (step == STORE_ROW) {
		const char *f = store_coltext(st, 0), *j = store_coltext(st, 1);
		snprintf(from, fsize, "%s", f ? f : "");
		snprintf(job, jsize, "%s", j ? j : "");
	} else if (step == STORE_DONE) {
		rc = store_fail(s, STORE_NOTFOUND, "no wave \"%s\" of rollout \"%s\" in the state store",
		                wave, rollout);
	} else {
		rc = store_sqlfail(s, "reading a wave");
	}
	store_q_reset(st);
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
	struct store_q *st = rc ? NULL : store_stmt(s, ST_WAVE_SET);
	if (st) {
		store_bind_texts(st, 1, 4, rollout, wave, to, job_id);
		store_bind_int(st, 5, at);
		rc = step_done(s, st, "changing a wave's state");
	}
	st = rc ? NULL : store_stmt(s, ST_TRANSITION_ADD);
	if (st) {
		store_bind_texts(st, 1, 4, rollout, wave, from, to);
		store_bind_int(st, 5, at);
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
	struct store_q *st = store_stmt(s, ST_JOB_PUT);
	if (st) {
		store_bind_texts(st, 1, 7, j->job_id, j->rollout, j->wave, j->firmware, j->kind,
		                 j->identity, j->params_fingerprint);
		store_bind_int(st, 8, store_now(j->created_at));
		store_bind_text(st, 9, j->status);
	}
	return store_tx_leave(s, own, step_done(s, st, "recording a job"));
}

int store_job_status(struct store *s, const char *job_id, const char *status, int64_t at)
{
	int own, rc = required(s, job_id, "job id");
	if (rc || (rc = store_tx_enter(s, &own)))
		return rc;
	struct store_q *st = store_stmt(s, ST_JOB_STATUS);
	if (st) {
		store_bind_texts(st, 1, 2, job_id, status);
		store_bind_int(st, 3, store_now(at));
	}
	rc = step_done(s, st, "recording a job's status");
	if (rc == STORE_OK && s->changes == 0)
		rc = store_fail(s, STORE_NOTFOUND, "no job %s in the state store", job_id);
	return store_tx_leave(s, own, rc);
}

int store_intent_begin(struct store *s, const struct store_intent *in, int64_t *id)
{
	int rc = required(s, in->action, "intent action");
	if (rc)
		return rc;
	if (!s->locked && !store_rollout_held(s, in->rollout))
		return store_fail(s, STORE_CONFLICT,
		                  "intent for %s without holding the state lock; lock the store (or "
		                  "the rollout) first",
		                  in->action);
	if (s->in_tx)
		return store_fail(s, STORE_CONFLICT,
		                  "intent for %s inside a transaction: it must be on disk before the "
		                  "call is sent, so it commits on its own",
		                  in->action);
	if ((rc = store_json_check_secrets(s, in->params_json)))
		return rc;
	/* a lost session lost its locks too: another process may act now (docs/state.md, "Locks");
	 * the intent's own write below is the check that the session, and so the lock, still holds */
	if (!store_session_ok(s))
		return store_fail(s, STORE_ERROR,
		                  "recording an intent: lost the connection to the state database; "
		                  "stopped before acting further (run the command again)");
	int own;
	if ((rc = store_tx_enter(s, &own)))
		return rc;
	struct store_q *st = store_stmt(s, ST_INTENT_ADD);
	if (st) {
		store_bind_texts(st, 1, 5, in->rollout, in->wave, in->action, in->params_json,
		                 in->identity);
		store_bind_int(st, 6, store_now(in->at));
	}
	rc = step_id(s, st, "recording an intent", id);
	return store_tx_leave(s, own, rc);
}

int store_intent_settle(struct store *s, int64_t id, const struct store_settle *r)
{
	if (!in_set(r->state, intent_states))
		return store_fail(s, STORE_INVALID,
		                  "intent %lld: unknown outcome \"%s\" (settled, failed or unknown)",
		                  (long long)id, r->state ? r->state : "(null)");
	if (!s->locked && !s->rlocks)
		return store_fail(s, STORE_CONFLICT,
		                  "settling intent %lld without holding the state lock", (long long)id);
	int own, rc = store_tx_enter(s, &own);
	if (rc)
		return rc;
	struct store_q *st = store_stmt(s, ST_INTENT_GET);
	if (!st)
		return store_tx_leave(s, own, STORE_ERROR);
	store_bind_int(st, 1, id);
	int step = store_step(st);
	char state[16] = "";
	if (step == STORE_ROW)
		snprintf(state, sizeof state, "%s", store_coltext(st, 0));
	if (step != STORE_ROW && step != STORE_DONE)
		store_sqlfail(s, "reading an intent");
	store_q_reset(st);
	if (step == STORE_DONE)
		rc = store_fail(s, STORE_NOTFOUND, "no intent %lld in the state store", (long long)id);
	else if (step != STORE_ROW)
		rc = STORE_ERROR;
	else if (strcmp(state, "settled") == 0 || strcmp(state, "failed") == 0)
		rc = store_fail(s, STORE_CONFLICT, "intent %lld is already %s", (long long)id, state);
	st = rc ? NULL : store_stmt(s, ST_INTENT_SETTLE);
	if (st) {
		store_bind_int(st, 1, id);
		store_bind_texts(st, 2, 3, r->state, r->job_id, r->result);
		store_bind_int(st, 5, store_now(r->at));
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
	struct store_q *st = store_stmt(s, ST_GATE_ADD);
	if (st) {
		store_bind_texts(st, 1, 2, g->rollout, g->wave);
		store_bind_int(st, 3, store_now(g->at));
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
	struct store_q *st = store_stmt(s, ST_APPROVAL_ADD);
	if (st) {
		store_bind_texts(st, 1, 4, a->rollout, a->wave, a->who, a->why);
		store_bind_int(st, 5, store_now(a->at));
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
	struct store_q *st = store_stmt(s, ST_OVERRIDE_ADD);
	if (st) {
		store_bind_texts(st, 1, 4, o->rollout, o->rule, o->reason, o->who);
		store_bind_int(st, 5, store_now(o->at));
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
	struct store_q *st = store_stmt(s, ST_AUDIT_ADD);
	if (st) {
		store_bind_int(st, 1, store_now(a->at));
		store_bind_texts(st, 2, 9, a->who, a->command, a->rollout, a->wave, a->kind,
		                 a->action, a->params_json, a->result, a->request_id);
	}
	rc = step_id(s, st, "writing the audit log", id);
	return store_tx_leave(s, own, rc);
}

/* ---- the shared quota ------------------------------------------------------------------------ */

int store_quota_take(struct store *s, const char *account, const char *action, double rate,
                     double now, double *slot)
{
	int rc = required(s, account, "quota account");
	if (!rc)
		rc = required(s, action, "quota action");
	if (!rc && !(rate > 0))
		rc = store_fail(s, STORE_INVALID, "quota rate for %s must be positive", action);
	if (!rc)
		rc = store_write_allowed(s);
	if (rc)
		return rc;
	/* one statement: atomic on its own, and outside the store's write lock */
	struct store_q *st = store_stmt(s, ST_QUOTA_TAKE);
	if (!st)
		return STORE_ERROR;
	store_bind_texts(st, 1, 2, account, action);
	store_bind_real(st, 3, rate);
	store_bind_real(st, 4, now);
	store_bind_real(st, 5, 1.0 / rate);
	int step = store_step(st);
	if (step == STORE_ROW) {
		*slot = store_colreal(st, 0);
		step = store_step(st);
	}
	rc = step == STORE_DONE ? STORE_OK : store_sqlfail(s, "taking from the shared quota");
	store_q_reset(st);
	return rc;
}
