/*
 * store_schema.c: the state store's schema as an ordered list of migration steps. Step N takes a
 * store from user_version N-1 to N; store.c runs the missing steps in one transaction. Never edit
 * a released step: add a new one. Times are epoch seconds; JSON columns hold the caller's text.
 * This text is the one description of the schema for both engines: SQLite runs it as written,
 * store_pg.c translates it for PostgreSQL (docs/state.md, "Engines"). So it keeps to what both
 * understand: INTEGER, REAL, TEXT, CHECK, REFERENCES, partial indexes, and PRAGMA only for SQLite.
 */
#include "store_internal.h"

/* Step 1: what apply needs (issue 5): rollouts, waves, transitions, jobs, intents, audit. */
static const char step1[] =
	"PRAGMA application_id = 1330921810;\n" /* STORE_APPLICATION_ID */
	"CREATE TABLE rollouts (\n"
	"  name TEXT PRIMARY KEY NOT NULL,\n"
	"  file TEXT, product TEXT, region TEXT, firmware TEXT,\n"
	"  halted INTEGER NOT NULL DEFAULT 0, halt_reason TEXT, halted_at INTEGER,\n"
	"  created_at INTEGER NOT NULL, updated_at INTEGER NOT NULL);\n"
	"CREATE TABLE waves (\n"
	"  rollout TEXT NOT NULL REFERENCES rollouts(name),\n"
	"  name TEXT NOT NULL, idx INTEGER, kind TEXT,\n"
	"  state TEXT NOT NULL DEFAULT 'waiting' CHECK (state IN ('waiting','ready','running',\n"
	"    'passed','done','superseded','failed','cancelled')),\n"
	"  job_id TEXT, started_at INTEGER, passed_at INTEGER, finished_at INTEGER,\n"
	"  created_at INTEGER NOT NULL, updated_at INTEGER NOT NULL,\n"
	"  PRIMARY KEY (rollout, name));\n"
	"CREATE TABLE wave_transitions (\n"
	"  id INTEGER PRIMARY KEY, rollout TEXT NOT NULL, wave TEXT NOT NULL,\n"
	"  from_state TEXT NOT NULL, to_state TEXT NOT NULL, at INTEGER NOT NULL, why TEXT, job_id TEXT,\n"
	"  FOREIGN KEY (rollout, wave) REFERENCES waves(rollout, name));\n"
	"CREATE INDEX wave_transitions_wave ON wave_transitions(rollout, wave);\n"
	"CREATE TABLE jobs (\n"
	"  job_id TEXT PRIMARY KEY NOT NULL, rollout TEXT, wave TEXT, firmware TEXT, kind TEXT,\n"
	"  identity TEXT, params_fingerprint TEXT, created_at INTEGER NOT NULL,\n"
	"  status TEXT, status_at INTEGER);\n"
	"CREATE INDEX jobs_wave ON jobs(rollout, wave);\n"
	"CREATE TABLE intents (\n"
	"  id INTEGER PRIMARY KEY, rollout TEXT, wave TEXT, action TEXT NOT NULL, params TEXT,\n"
	"  identity TEXT,\n"
	"  state TEXT NOT NULL DEFAULT 'pending'\n"
	"    CHECK (state IN ('pending','settled','failed','unknown')),\n"
	"  job_id TEXT, result TEXT, created_at INTEGER NOT NULL, settled_at INTEGER);\n"
	"CREATE INDEX intents_open ON intents(state) WHERE state IN ('pending','unknown');\n"
	"CREATE INDEX intents_rollout ON intents(rollout, id);\n"
	"CREATE TABLE audit (\n"
	"  id INTEGER PRIMARY KEY, at INTEGER NOT NULL, who TEXT, command TEXT, rollout TEXT,\n"
	"  wave TEXT,\n"
	"  kind TEXT NOT NULL CHECK (kind IN ('call','decision','gate','approval','override',\n"
	"    'halt','resume','abort')),\n"
	"  action TEXT, params TEXT, result TEXT, request_id TEXT);\n"
	"CREATE INDEX audit_rollout ON audit(rollout, id);\n";

/* Step 2: what staged runs need (issue 7) and the lock holder row. */
static const char step2[] =
	"CREATE TABLE gate_readings (\n"
	"  id INTEGER PRIMARY KEY, rollout TEXT NOT NULL, wave TEXT NOT NULL, at INTEGER NOT NULL,\n"
	"  counts TEXT, verdict TEXT NOT NULL CHECK (verdict IN ('pass','wait','fail')), reason TEXT);\n"
	"CREATE INDEX gate_readings_wave ON gate_readings(rollout, wave, id);\n"
	"CREATE TABLE approvals (\n"
	"  id INTEGER PRIMARY KEY, rollout TEXT NOT NULL, wave TEXT NOT NULL, who TEXT, why TEXT,\n"
	"  at INTEGER NOT NULL);\n"
	"CREATE INDEX approvals_wave ON approvals(rollout, wave);\n"
	"CREATE TABLE overrides (\n"
	"  id INTEGER PRIMARY KEY, rollout TEXT, rule TEXT NOT NULL, reason TEXT NOT NULL, who TEXT,\n"
	"  at INTEGER NOT NULL, plan_fingerprint TEXT);\n"
	"CREATE TABLE lock (\n"
	"  id INTEGER PRIMARY KEY CHECK (id = 1), host TEXT NOT NULL, pid INTEGER NOT NULL,\n"
	"  proc_start INTEGER, since INTEGER NOT NULL, command TEXT);\n";

/* Step 3: shared state (issue 11): a lock holder per rollout, the shared API quota buckets. */
static const char step3[] =
	"CREATE TABLE rollout_locks (\n"
	"  rollout TEXT PRIMARY KEY NOT NULL, host TEXT NOT NULL, pid INTEGER NOT NULL,\n"
	"  proc_start INTEGER, since INTEGER NOT NULL, command TEXT);\n"
	"CREATE TABLE quota (\n"
	"  account TEXT NOT NULL, action TEXT NOT NULL, tokens REAL NOT NULL, at REAL NOT NULL,\n"
	"  PRIMARY KEY (account, action));\n";

const struct store_migration store_migrations[] = {
	{1, "rollouts, waves, transitions, jobs, intents, audit log", step1},
	{2, "gate readings, approvals, policy overrides, lock holder", step2},
	{3, "rollout lock holders, shared API quota", step3},
};
const int store_migration_count = (int)(sizeof store_migrations / sizeof store_migrations[0]);
