/*
 * test_store.c: unit tests of the state store core (src/store*.c) on real files in a temporary
 * directory: schema creation and migration from an older version, refusal of a newer one and of
 * files that are not otarun stores, waves and transitions, the intent journal (including a holder
 * killed mid-intent), transactions, lists, the fingerprint, the secrets check, and the process
 * lock with fork()ed children: contention, waiting, SIGKILL takeover, mutual exclusion under load
 * and a replaced lock file. Harness: tests/harness.h.
 * `test_store pg` runs the same tests on PostgreSQL (OTARUN_TEST_PG, one schema per store) where
 * they are not about SQLite files, and the PostgreSQL-only ones of tests/test_store_pg.inc.
 */
#define _GNU_SOURCE
#include "store.h"

#include <errno.h>
#include <ftw.h>
#include <signal.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "harness.h"

#define CHECK_RC(s, expr, want)                                                                \
	do {                                                                                   \
		int rc_ = (expr);                                                              \
		CHECK(rc_ == (want), "%s = %s, want %s (%s)", #expr, store_rc_name(rc_),        \
		      store_rc_name(want), store_errmsg(s));                                   \
	} while (0)
#define CHECK_HAS(text, needle)                                                                \
	CHECK(strstr((text), (needle)) != NULL, "%s\n   lacks: %s", (text), (needle))

static char tmpdir[64];
static const char *pg_url; /* set: the stores are schemas of this PostgreSQL database */

/* A store's path: a file in tmpdir, or a schema of its own ("t<pid>_<name>") on PostgreSQL. */
static const char *tpath(const char *name)
{
	static char buf[8][512];
	static int i;
	i = (i + 1) % 8;
	if (!pg_url || strstr(name, ".lock") || strstr(name, ".txt") || strchr(name, '/')) {
		snprintf(buf[i], sizeof buf[i], "%s/%s", tmpdir, name);
		return buf[i];
	}
	char schema[64];
	int n = snprintf(schema, sizeof schema, "t%ld_", (long)getpid());
	for (const char *p = name; *p && n < 60; p++)
		schema[n++] = (*p >= 'a' && *p <= 'z') || (*p >= '0' && *p <= '9') ? *p : '_';
	schema[n] = '\0';
	snprintf(buf[i], sizeof buf[i], "%s%cschema=%s", pg_url, strchr(pg_url, '?') ? '&' : '?',
	         schema);
	return buf[i];
}

static struct store *open_ok(const char *path)
{
	struct store *s;
	char err[512];
	int rc = store_open(&s, path, NULL, err, sizeof err);
	CHECK(rc == STORE_OK && s, "open %s: %s", path, err);
	if (!s) {
		fprintf(stderr, "cannot go on without a store\n");
		exit(1);
	}
	return s;
}

/* ---- helpers over store_list ----------------------------------------------------------------- */

struct rows {
	int n;
	char text[32][256]; /* first text or int column named `want`, per row */
	const char *want;
};

static int collect(void *ctx, int ncols, const struct store_value *cols)
{
	struct rows *r = ctx;
	for (int i = 0; i < ncols && r->n < 32; i++) {
		if (strcmp(cols[i].name, r->want) != 0)
			continue;
		if (cols[i].type == STORE_TEXT)
			snprintf(r->text[r->n], 256, "%s", cols[i].s);
		else if (cols[i].type == STORE_INT)
			snprintf(r->text[r->n], 256, "%lld", (long long)cols[i].i);
		else
			snprintf(r->text[r->n], 256, "NULL");
	}
	r->n++;
	return 0;
}

static struct rows list(struct store *s, enum store_list what, const char *rollout,
                        const char *wave, const char *col)
{
	struct rows r = {.want = col};
	struct store_filter f = {rollout, wave, 0, 0};
	CHECK_RC(s, store_list(s, what, &f, collect, &r), STORE_OK);
	return r;
}

static void seed(struct store *s, const char *rollout)
{
	struct store_rollout r = {rollout, "ex.lua", "a1Le6d0abcd", "cn-shanghai", "fw1", 100};
	CHECK_RC(s, store_rollout_put(s, &r), STORE_OK);
	const char *waves[] = {"canary", "early", "all"};
	for (int i = 0; i < 3; i++) {
		struct store_wave w = {rollout, waves[i], "dynamic", i + 1, 100};
		CHECK_RC(s, store_wave_put(s, &w), STORE_OK);
	}
}

static int pg_raw_exec(const char *path, const char *sql);

static int raw_exec(const char *path, const char *sql)
{
	if (pg_url)
		return pg_raw_exec(path, sql);
	sqlite3 *db;
	int rc = sqlite3_open(path, &db);
	if (rc == SQLITE_OK)
		rc = sqlite3_exec(db, sql, NULL, NULL, NULL);
	sqlite3_close(db);
	return rc;
}

/* ---- schema ---------------------------------------------------------------------------------- */

static void test_create(void)
{
	const char *path = tpath("create.db");
	struct store *s = open_ok(path);
	int v = 0;
	CHECK_RC(s, store_schema_version(s, &v), STORE_OK);
	CHECK(v == STORE_SCHEMA_VERSION, "new store at version %d", v);
	store_close(s);
	if (pg_url)
		return;
	sqlite3 *db;
	sqlite3_open(path, &db);
	sqlite3_stmt *st;
	sqlite3_prepare_v2(db, "PRAGMA journal_mode", -1, &st, NULL);
	sqlite3_step(st);
	CHECK(strcmp((const char *)sqlite3_column_text(st, 0), "wal") == 0, "journal mode %s",
	      sqlite3_column_text(st, 0));
	sqlite3_finalize(st);
	sqlite3_prepare_v2(db, "PRAGMA application_id", -1, &st, NULL);
	sqlite3_step(st);
	CHECK(sqlite3_column_int(st, 0) == STORE_APPLICATION_ID, "application id %d",
	      sqlite3_column_int(st, 0));
	sqlite3_finalize(st);
	sqlite3_close(db);
}

static void test_migrate_from_v1(void)
{
	const char *path = tpath("v1.db");
	struct store *s;
	char err[512];
	struct store_options old = {.target_version = 1};
	CHECK_RC(NULL, store_open(&s, path, &old, err, sizeof err), STORE_OK);
	int v = 0;
	store_schema_version(s, &v);
	CHECK(v == 1, "built a version-1 store, got %d", v);
	seed(s, "cam");
	struct store_audit a = {.kind = "decision", .rollout = "cam", .action = "start", .at = 5};
	CHECK_RC(s, store_audit(s, &a, NULL), STORE_OK);
	store_close(s);
	CHECK(raw_exec(path, "SELECT * FROM approvals") != SQLITE_OK, "v1 has no approvals table");

	s = open_ok(path);
	store_schema_version(s, &v);
	CHECK(v == STORE_SCHEMA_VERSION, "migrated to %d", v);
	struct rows w = list(s, STORE_LIST_WAVES, "cam", NULL, "name");
	CHECK(w.n == 3 && strcmp(w.text[0], "canary") == 0, "waves kept across migration (%d)", w.n);
	struct rows au = list(s, STORE_LIST_AUDIT, NULL, NULL, "action");
	CHECK(au.n == 1 && strcmp(au.text[0], "start") == 0, "audit kept across migration");
	struct store_approval ap = {"cam", "early", "ana@host", "looks fine", 200};
	CHECK_RC(s, store_approval(s, &ap), STORE_OK);
	CHECK_RC(s, store_migrate(s, 1), STORE_INVALID);
	store_close(s);
}

static void test_refuse_newer(void)
{
	const char *path = tpath("newer.db");
	store_close(open_ok(path));
	CHECK(raw_exec(path, "PRAGMA user_version = 99") == SQLITE_OK, "set version 99");
	struct store *s;
	char err[512];
	CHECK_RC(NULL, store_open(&s, path, NULL, err, sizeof err), STORE_NEWER);
	CHECK(s == NULL, "no handle on failure");
	CHECK_HAS(err, path);
	char want[96];
	snprintf(want, sizeof want, "version 99 is newer than this otarun knows (%d)",
	         STORE_SCHEMA_VERSION);
	CHECK_HAS(err, want);
	struct store_options ro = {.readonly = 1};
	CHECK_RC(NULL, store_open(&s, path, &ro, err, sizeof err), STORE_NEWER);
	sqlite3 *db;
	sqlite3_stmt *st;
	sqlite3_open(path, &db);
	sqlite3_prepare_v2(db, "PRAGMA user_version", -1, &st, NULL);
	sqlite3_step(st);
	CHECK(sqlite3_column_int(st, 0) == 99, "never downgraded: %d", sqlite3_column_int(st, 0));
	sqlite3_finalize(st);
	sqlite3_close(db);
}

static void write_file(const char *path, const char *text, size_t n)
{
	FILE *fp = fopen(path, "wb");
	fwrite(text, 1, n, fp);
	fclose(fp);
}

static void test_not_a_store(void)
{
	struct store *s;
	char err[512];
	const char *text = tpath("notes.txt");
	const char *junk = "these are not the rows you are looking for\n";
	write_file(text, junk, strlen(junk));
	CHECK_RC(NULL, store_open(&s, text, NULL, err, sizeof err), STORE_NOTSTORE);
	CHECK_HAS(err, text);
	CHECK_HAS(err, "not a database");

	const char *other = tpath("other.db");
	raw_exec(other, "CREATE TABLE songs(title TEXT)");
	CHECK_RC(NULL, store_open(&s, other, NULL, err, sizeof err), STORE_NOTSTORE);
	CHECK_HAS(err, "not an otarun state store");

	const char *alien = tpath("alien.db");
	raw_exec(alien, "PRAGMA application_id = 42");
	CHECK_RC(NULL, store_open(&s, alien, NULL, err, sizeof err), STORE_NOTSTORE);
	CHECK_HAS(err, "application_id 42");

	CHECK_RC(NULL, store_open(&s, tmpdir, NULL, err, sizeof err), STORE_ERROR);
	CHECK_HAS(err, "is a directory");

	/* a real store whose pages after the header were overwritten */
	const char *broken = tpath("broken.db");
	s = open_ok(broken);
	seed(s, "cam");
	store_close(s);
	FILE *fp = fopen(broken, "r+b");
	fseek(fp, 0, SEEK_END);
	long size = ftell(fp);
	fseek(fp, 100, SEEK_SET);
	for (long i = 100; i < size; i++)
		fputc(0xA5, fp);
	fclose(fp);
	int rc = store_open(&s, broken, NULL, err, sizeof err);
	if (rc == STORE_OK) { /* SQLite may only notice on the first read */
		struct rows r = {.want = "name"};
		rc = store_list(s, STORE_LIST_WAVES, NULL, collect, &r);
		snprintf(err, sizeof err, "%s", store_errmsg(s));
		store_close(s);
	}
	CHECK(rc == STORE_NOTSTORE, "damaged store: %s (%s)", store_rc_name(rc), err);
	CHECK_HAS(err, broken);

	struct store_options ro = {.readonly = 1};
	CHECK_RC(NULL, store_open(&s, tpath("absent.db"), &ro, err, sizeof err), STORE_NOTFOUND);
	CHECK_HAS(err, "no state store here");
}

static void test_readonly(void)
{
	const char *path = tpath("ro.db");
	struct store *s = open_ok(path);
	seed(s, "cam");
	store_close(s);
	struct store_options ro = {.readonly = 1};
	char err[512];
	CHECK_RC(NULL, store_open(&s, path, &ro, err, sizeof err), STORE_OK);
	struct rows w = list(s, STORE_LIST_WAVES, "cam", NULL, "state");
	CHECK(w.n == 3 && strcmp(w.text[2], "waiting") == 0, "read-only reads");
	CHECK_RC(s, store_rollout_halt(s, "cam", "no", 0), STORE_INVALID);
	CHECK_RC(s, store_lock(s, 0, "status", NULL), STORE_INVALID);
	store_close(s);
}

/* ---- waves, intents, transactions ------------------------------------------------------------ */

static void test_waves(void)
{
	struct store *s = open_ok(tpath("waves.db"));
	seed(s, "cam");
	int changed = -1;
	CHECK_RC(s, store_wave_transition(s, "cam", "canary", "ready", "due now", NULL, 200, &changed),
	         STORE_OK);
	CHECK(changed == 1, "waiting -> ready changed");
	CHECK_RC(s, store_wave_transition(s, "cam", "canary", "ready", "again", NULL, 210, &changed),
	         STORE_OK);
	CHECK(changed == 0, "ready -> ready is no transition");
	CHECK_RC(s, store_wave_transition(s, "cam", "canary", "running", "job created", "J1", 300,
	                                  &changed),
	         STORE_OK);
	struct rows from = list(s, STORE_LIST_TRANSITIONS, "cam", "canary", "from");
	struct rows to = list(s, STORE_LIST_TRANSITIONS, "cam", "canary", "to");
	CHECK(from.n == 2 && strcmp(from.text[0], "waiting") == 0 && strcmp(from.text[1], "ready") == 0,
	      "transitions from: %d", from.n);
	CHECK(strcmp(to.text[1], "running") == 0, "transition to running");
	struct rows started = list(s, STORE_LIST_WAVES, "cam", "canary", "started_at");
	struct rows job = list(s, STORE_LIST_WAVES, "cam", "canary", "job_id");
	CHECK(started.n == 1 && strcmp(started.text[0], "300") == 0, "started_at %s", started.text[0]);
	CHECK(strcmp(job.text[0], "J1") == 0, "wave's job %s", job.text[0]);
	CHECK_RC(s, store_wave_transition(s, "cam", "canary", "finished", NULL, NULL, 0, NULL),
	         STORE_INVALID);
	CHECK_HAS(store_errmsg(s), "unknown wave state \"finished\"");
	CHECK_RC(s, store_wave_transition(s, "cam", "nope", "ready", NULL, NULL, 0, NULL),
	         STORE_NOTFOUND);
	CHECK_HAS(store_errmsg(s), "no wave \"nope\" of rollout \"cam\"");
	struct store_wave orphan = {"ghost", "w", NULL, 1, 0};
	CHECK_RC(s, store_wave_put(s, &orphan), STORE_NOTFOUND);
	/* re-declaring a wave never resets its state */
	struct store_wave again = {"cam", "canary", "dynamic", 1, 400};
	CHECK_RC(s, store_wave_put(s, &again), STORE_OK);
	struct rows st = list(s, STORE_LIST_WAVES, "cam", "canary", "state");
	CHECK(strcmp(st.text[0], "running") == 0, "state kept: %s", st.text[0]);
	CHECK_RC(s, store_rollout_halt(s, "cam", "canary gate tripped", 500), STORE_OK);
	struct rows halted = list(s, STORE_LIST_ROLLOUTS, "cam", NULL, "halt_reason");
	CHECK(strcmp(halted.text[0], "canary gate tripped") == 0, "halt reason");
	CHECK_RC(s, store_rollout_unhalt(s, "cam", 600), STORE_OK);
	CHECK_RC(s, store_rollout_halt(s, "other", "x", 0), STORE_NOTFOUND);
	store_close(s);
}

static void test_intents(void)
{
	const char *path = tpath("intents.db");
	struct store *s = open_ok(path);
	seed(s, "cam");
	struct store_intent in = {"cam", "canary", "CreateOTADynamicUpgradeJob",
	                          "{\"FirmwareId\":\"fw1\",\"SrcVersion.1\":\"2.3.1\"}", "cam/canary",
	                          1000};
	int64_t id = 0, id2 = 0;
	CHECK_RC(s, store_intent_begin(s, &in, &id), STORE_CONFLICT); /* not locked */
	CHECK_RC(s, store_lock(s, 0, "apply", NULL), STORE_OK);
	CHECK_RC(s, store_begin(s), STORE_OK);
	CHECK_RC(s, store_intent_begin(s, &in, &id), STORE_CONFLICT); /* inside a transaction */
	CHECK_RC(s, store_rollback(s), STORE_OK);
	CHECK_RC(s, store_intent_begin(s, &in, &id), STORE_OK);
	CHECK_RC(s, store_intent_begin(s, &in, &id2), STORE_OK);
	CHECK(id > 0 && id2 == id + 1, "intent ids %lld %lld", (long long)id, (long long)id2);

	/* committed before any call: another connection sees it at once */
	struct store *other;
	char oerr[512];
	struct store_options ro = {.readonly = 1};
	CHECK_RC(NULL, store_open(&other, path, &ro, oerr, sizeof oerr), STORE_OK);
	if (other) {
		struct rows seen = list(other, STORE_LIST_UNSETTLED, NULL, NULL, "state");
		CHECK(seen.n == 2, "pending intents seen by another connection: %d", seen.n);
		store_close(other);
	}

	struct rows open = {.want = "action"};
	CHECK_RC(s, store_intents_unsettled(s, "cam", collect, &open), STORE_OK);
	CHECK(open.n == 2 && strcmp(open.text[1], "CreateOTADynamicUpgradeJob") == 0, "two unsettled");
	struct store_settle ok = {"settled", "J1", "RequestId R1", 1001};
	CHECK_RC(s, store_intent_settle(s, id, &ok), STORE_OK);
	struct store_settle unk = {"unknown", NULL, "connection dropped", 1002};
	CHECK_RC(s, store_intent_settle(s, id2, &unk), STORE_OK);
	open = list(s, STORE_LIST_UNSETTLED, "cam", NULL, "state");
	CHECK(open.n == 1 && strcmp(open.text[0], "unknown") == 0, "an unknown outcome stays open");
	CHECK_RC(s, store_intent_settle(s, id, &ok), STORE_CONFLICT);
	CHECK_HAS(store_errmsg(s), "already settled");
	struct store_settle adopt = {"settled", "J2", "adopted by identity tag", 1003};
	CHECK_RC(s, store_intent_settle(s, id2, &adopt), STORE_OK);
	CHECK(list(s, STORE_LIST_UNSETTLED, NULL, NULL, "id").n == 0, "all settled");
	struct store_settle bad = {"done", NULL, NULL, 0};
	CHECK_RC(s, store_intent_settle(s, id, &bad), STORE_INVALID);
	CHECK_RC(s, store_intent_settle(s, 999, &ok), STORE_NOTFOUND);
	struct rows jobs = list(s, STORE_LIST_INTENTS, "cam", NULL, "job_id");
	CHECK(jobs.n == 2 && strcmp(jobs.text[1], "J2") == 0, "result job recorded");
	store_close(s);
}

static void test_transactions(void)
{
	struct store *s = open_ok(tpath("tx.db"));
	seed(s, "cam");
	struct store_job job = {"J1", "cam", "canary", "fw1", "dynamic", "pf", "cam/canary", NULL, 50};
	struct store_audit a = {.kind = "call", .action = "CreateOTADynamicUpgradeJob",
	                        .rollout = "cam", .wave = "canary", .result = "ok"};
	CHECK_RC(s, store_begin(s), STORE_OK);
	CHECK(store_in_transaction(s), "in a transaction");
	CHECK_RC(s, store_job_put(s, &job), STORE_OK);
	CHECK_RC(s, store_wave_transition(s, "cam", "canary", "running", "created", "J1", 0, NULL),
	         STORE_OK);
	CHECK_RC(s, store_audit(s, &a, NULL), STORE_OK);
	CHECK_RC(s, store_rollback(s), STORE_OK);
	CHECK(list(s, STORE_LIST_JOBS, NULL, NULL, "job_id").n == 0, "rolled back: no job");
	CHECK(list(s, STORE_LIST_AUDIT, NULL, NULL, "id").n == 0, "rolled back: no audit");
	struct rows st = list(s, STORE_LIST_WAVES, "cam", "canary", "state");
	CHECK(strcmp(st.text[0], "waiting") == 0, "rolled back: wave still %s", st.text[0]);

	CHECK_RC(s, store_begin(s), STORE_OK);
	CHECK_RC(s, store_begin(s), STORE_CONFLICT);
	CHECK_RC(s, store_job_put(s, &job), STORE_OK);
	CHECK_RC(s, store_wave_transition(s, "cam", "canary", "running", "created", "J1", 0, NULL),
	         STORE_OK);
	CHECK_RC(s, store_audit(s, &a, NULL), STORE_OK);
	CHECK_RC(s, store_commit(s), STORE_OK);
	CHECK(list(s, STORE_LIST_JOBS, "cam", "canary", "job_id").n == 1, "committed job");
	CHECK(list(s, STORE_LIST_AUDIT, "cam", NULL, "id").n == 1, "committed audit");
	CHECK_RC(s, store_commit(s), STORE_CONFLICT);

	/* a failing write inside the group leaves the group to the caller, who rolls back */
	CHECK_RC(s, store_begin(s), STORE_OK);
	CHECK_RC(s, store_job_status(s, "J1", "COMPLETED", 0), STORE_OK);
	struct store_audit bad = {.kind = "gossip"};
	CHECK_RC(s, store_audit(s, &bad, NULL), STORE_INVALID);
	CHECK_RC(s, store_rollback(s), STORE_OK);
	struct rows status = list(s, STORE_LIST_JOBS, NULL, NULL, "status");
	CHECK(strcmp(status.text[0], "NULL") == 0, "status rolled back: %s", status.text[0]);
	CHECK_RC(s, store_job_status(s, "J9", "X", 0), STORE_NOTFOUND);
	store_close(s);
}

static void test_lists(void)
{
	struct store *s = open_ok(tpath("lists.db"));
	seed(s, "cam");
	seed(s, "lamp");
	for (int i = 0; i < 5; i++) {
		struct store_audit a = {.kind = "gate", .rollout = i % 2 ? "lamp" : "cam",
		                        .wave = "canary", .at = 10 + i};
		CHECK_RC(s, store_audit(s, &a, NULL), STORE_OK);
	}
	CHECK(list(s, STORE_LIST_ROLLOUTS, NULL, NULL, "name").n == 2, "two rollouts");
	CHECK(list(s, STORE_LIST_WAVES, "lamp", NULL, "name").n == 3, "three lamp waves");
	CHECK(list(s, STORE_LIST_AUDIT, "cam", NULL, "id").n == 3, "cam audit entries");
	struct rows r = {.want = "id"};
	struct store_filter f = {NULL, NULL, 2, 2};
	CHECK_RC(s, store_list(s, STORE_LIST_AUDIT, &f, collect, &r), STORE_OK);
	CHECK(r.n == 2 && strcmp(r.text[0], "3") == 0 && strcmp(r.text[1], "4") == 0,
	      "after id 2, limit 2: %d rows", r.n);
	CHECK(store_list_from_name("gates") == STORE_LIST_GATES, "list names");
	CHECK(store_list_from_name("nope") == -1, "unknown list name");
	struct store_gate g = {"cam", "canary", "{\"succeeded\":40,\"failed\":1}", "wait",
	                       "soak 2h of 24h", 20};
	CHECK_RC(s, store_gate_reading(s, &g), STORE_OK);
	g.verdict = "maybe";
	CHECK_RC(s, store_gate_reading(s, &g), STORE_INVALID);
	struct rows v = list(s, STORE_LIST_GATES, "cam", "canary", "verdict");
	CHECK(v.n == 1 && strcmp(v.text[0], "wait") == 0, "gate reading listed");
	struct store_override o = {"cam", "guardrails.min_soak", "hotfix", "ana@h", "abc", 30};
	CHECK_RC(s, store_override(s, &o), STORE_OK);
	o.reason = "";
	CHECK_RC(s, store_override(s, &o), STORE_INVALID);
	CHECK_HAS(store_errmsg(s), "override reason is required");
	store_close(s);
}

static void test_secrets(void)
{
	struct store *s = open_ok(tpath("secrets.db"));
	static const char *const refused[] = {
		"{\"AccessKeySecret\":\"abc\"}",
		"{\"a\":{\"x-acs-security-token\":\"t\"}}",
		"{\"Signature\":\"sig\"}",
		"[{\"Authorization\":\"ACS3-HMAC-SHA256 Credential=...\"}]",
		"{\"access_key_secret\":\"abc\"}",
		"{\"SecurityToken\":\"t\"}",
	};
	for (size_t i = 0; i < sizeof refused / sizeof refused[0]; i++) {
		struct store_audit a = {.kind = "call", .action = "X", .params_json = refused[i]};
		CHECK_RC(s, store_audit(s, &a, NULL), STORE_INVALID);
		CHECK_HAS(store_errmsg(s), "secrets and signatures never go into the state store");
	}
	struct store_audit fine = {.kind = "call", .action = "X",
	                           .params_json = "{\"SignatureNonce\":\"n\",\"FirmwareId\":\"f\","
	                                          "\"note\":\"the word Signature in a value\"}"};
	CHECK_RC(s, store_audit(s, &fine, NULL), STORE_OK);
	struct store_audit broken = {.kind = "call", .params_json = "{\"a\":"};
	CHECK_RC(s, store_audit(s, &broken, NULL), STORE_INVALID);
	CHECK_HAS(store_errmsg(s), "not valid JSON");
	CHECK(list(s, STORE_LIST_AUDIT, NULL, NULL, "id").n == 1, "only the clean entry stored");
	CHECK_RC(s, store_lock(s, 0, "t", NULL), STORE_OK);
	struct store_intent in = {"r", "w", "CreateOTAStaticUpgradeJob", "{\"Signature\":\"x\"}", NULL,
	                          0};
	CHECK_RC(s, store_intent_begin(s, &in, NULL), STORE_INVALID);
	CHECK(list(s, STORE_LIST_INTENTS, NULL, NULL, "id").n == 0, "no intent with a secret");
	store_close(s);
}

#include "test_store_more.inc"
