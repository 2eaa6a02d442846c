/*
 * test_store_damaged.c: a state store whose columns were given the wrong type (by hand, or by
 * damage) is refused when listed, with an error that names the column, instead of handing the
 * wrong type on (docs/trust.md). Harness: tests/harness.h.
 */
#include "store.h"

#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "harness.h"

static int count_row(void *ctx, int n, const struct store_value *cols)
{
	(void)n;
	(void)cols;
	(*(int *)ctx)++;
	return 0;
}

static void damage(const char *path, const char *sql)
{
	sqlite3 *db = NULL;
	CHECK(sqlite3_open(path, &db) == SQLITE_OK, "open %s", path);
	CHECK(sqlite3_exec(db, sql, NULL, NULL, NULL) == SQLITE_OK, "%s: %s", sql, sqlite3_errmsg(db));
	sqlite3_close(db);
}

int main(void)
{
	char dir[] = "/tmp/otarun-damaged-XXXXXX";
	CHECK(mkdtemp(dir) != NULL, "mkdtemp");
	char path[128], err[256];
	snprintf(path, sizeof path, "%s/state.db", dir);

	struct store *s = NULL;
	CHECK(store_open(&s, path, NULL, err, sizeof err) == STORE_OK, "open: %s", err);
	struct store_rollout r = {"cam", "cam.lua", "pk", "cn-shanghai", "fw1", 1000};
	CHECK(store_rollout_put(s, &r) == STORE_OK, "rollout_put: %s", store_errmsg(s));
	int rows = 0;
	CHECK(store_list(s, STORE_LIST_ROLLOUTS, NULL, count_row, &rows) == STORE_OK, "list");
	CHECK(rows == 1, "rows = %d", rows);
	store_close(s);

	damage(path, "UPDATE rollouts SET created_at = 'yesterday'");
	struct store_options ro = {0};
	ro.readonly = 1;
	CHECK(store_open(&s, path, &ro, err, sizeof err) == STORE_OK, "open read-only: %s", err);
	rows = 0;
	int rc = store_list(s, STORE_LIST_ROLLOUTS, NULL, count_row, &rows);
	CHECK(rc != STORE_OK, "a damaged column was listed");
	CHECK(strstr(store_errmsg(s), "damaged: column created_at of rollouts holds text where an integer belongs") != NULL,
	      "message: %s", store_errmsg(s));
	CHECK(rows == 0, "rows = %d", rows);
	store_close(s);

	damage(path, "UPDATE rollouts SET created_at = 1000, product = x'00ff'");
	CHECK(store_open(&s, path, &ro, err, sizeof err) == STORE_OK, "open read-only: %s", err);
	CHECK(store_list(s, STORE_LIST_ROLLOUTS, NULL, count_row, &rows) != STORE_OK, "binary data was listed");
	CHECK(strstr(store_errmsg(s), "holds binary data where text belongs") != NULL, "message: %s", store_errmsg(s));
	store_close(s);

	damage(path, "UPDATE rollouts SET product = 'pk'; DROP TABLE jobs");
	CHECK(store_open(&s, path, &ro, err, sizeof err) != STORE_OK, "a store without its jobs table was opened");
	CHECK(strstr(err, "damaged: table jobs is missing") != NULL, "message: %s", err);
	CHECK(store_open(&s, path, NULL, err, sizeof err) != STORE_OK, "opened for writing");
	CHECK(strstr(err, "damaged: table jobs is missing") != NULL, "message: %s", err);

	char cmd[200];
	snprintf(cmd, sizeof cmd, "rm -rf %s", dir);
	CHECK(system(cmd) == 0, "cleanup");
	return harness_report();
}
