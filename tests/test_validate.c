/* test_validate: unit tests of the validator core (src/validate*.c): every rule that is judged
 * offline, broken once and met exactly at its limit; the parsers; defaults merging;
 * diagnostic order; and the time for 10,000 waves. Builds raw declarations by hand. */
#include "validate.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "harness.h"

/* ---- building raw values -------------------------------------------------------------------- */

static struct validate_arena *A;
static const struct validate_value NIL = { .type = VALIDATE_NIL };

static void *alloc(size_t n)
{
	void *p = validate_arena_alloc(A, n ? n : 1);
	if (!p) {
		fprintf(stderr, "out of memory\n");
		abort();
	}
	return p;
}

static struct validate_value S(const char *s)
{
	return (struct validate_value){ .type = VALIDATE_STRING, .string = s, .len = strlen(s) };
}
static struct validate_value I(long long n)
{
	return (struct validate_value){ .type = VALIDATE_NUMBER, .number = (double)n, .is_integer = 1, .integer = n };
}
static struct validate_value D(double d)
{
	return (struct validate_value){ .type = VALIDATE_NUMBER, .number = d };
}
static struct validate_value B(int b)
{
	return (struct validate_value){ .type = VALIDATE_BOOLEAN, .boolean = b };
}
static struct validate_value F(void)
{
	return (struct validate_value){ .type = VALIDATE_FUNCTION, .handle = 7 };
}

/* T("k", v, "k2", v2, NULL): a table with string keys. */
static struct validate_value T(const char *k, ...)
{
	struct validate_value t = { .type = VALIDATE_TABLE };
	t.fields = alloc(32 * sizeof *t.fields);
	va_list ap;
	va_start(ap, k);
	for (; k; k = va_arg(ap, const char *)) {
		t.fields[t.nfields].key = k;
		t.fields[t.nfields++].value = va_arg(ap, struct validate_value);
	}
	va_end(ap);
	return t;
}

/* L("a", "b", NULL): a list of strings. */
static struct validate_value L(const char *s, ...)
{
	struct validate_value t = { .type = VALIDATE_TABLE };
	t.items = alloc(64 * sizeof *t.items);
	va_list ap;
	va_start(ap, s);
	for (; s; s = va_arg(ap, const char *))
		t.items[t.nitems++] = S(s);
	va_end(ap);
	return t;
}

/* A list of n strings "<prefix><i>". */
static struct validate_value LN(const char *prefix, size_t n)
{
	struct validate_value t = { .type = VALIDATE_TABLE };
	t.items = alloc(n * sizeof *t.items);
	for (size_t i = 0; i < n; i++) {
		char *s = alloc(32);
		snprintf(s, 32, "%s%zu", prefix, i);
		t.items[t.nitems++] = S(s);
	}
	return t;
}

static char *repeat(char ch, size_t n)
{
	char *s = alloc(n + 1);
	memset(s, ch, n);
	s[n] = 0;
	return s;
}

/* A table of the usual rollout fields, plus (or replacing) the given ones; NIL removes. */
static struct validate_value RF(const char *k, ...)
{
	struct validate_value t = T("product", S("a1Le6d0abcd"), "region", S("cn-shanghai"), "firmware", S("fw1"), NULL);
	va_list ap;
	va_start(ap, k);
	for (; k; k = va_arg(ap, const char *)) {
		struct validate_value v = va_arg(ap, struct validate_value);
		size_t i;
		for (i = 0; i < t.nfields && strcmp(t.fields[i].key, k) != 0; i++)
			;
		t.fields[i].key = k;
		t.fields[i].value = v;
		if (i == t.nfields)
			t.nfields++;
	}
	va_end(ap);
	size_t j = 0; /* drop NILs */
	for (size_t i = 0; i < t.nfields; i++)
		if (t.fields[i].value.type != VALIDATE_NIL)
			t.fields[j++] = t.fields[i];
	t.nfields = j;
	return t;
}

/* ---- running a check ------------------------------------------------------------------------ */

static struct validate_raw_rollout ROLL[4];
static size_t NROLL;
static struct validate_result R;
static long long NOW = 1796000000; /* 2026-11-30 */

/* Starts a new set of declarations; rollout i is named "r<i>" at line 100*(i+1). */
static struct validate_raw_rollout *rollout(struct validate_value fields)
{
	struct validate_raw_rollout *r = &ROLL[NROLL];
	char *name = alloc(8);
	snprintf(name, 8, "r%zu", NROLL);
	memset(r, 0, sizeof *r);
	r->name = name;
	r->file = "t.lua";
	r->line = 100 * (int)(NROLL + 1);
	r->fields = fields;
	r->waves = alloc(16 * sizeof *r->waves);
	NROLL++;
	return r;
}

/* Adds wave "w<j>" at line rollout line + 10*(j+1). */
static void wave(struct validate_raw_rollout *r, struct validate_value fields)
{
	struct validate_raw_wave *w = &r->waves[r->nwaves];
	char *name = alloc(8);
	snprintf(name, 8, "w%zu", r->nwaves + 1);
	w->name = S(name);
	w->line = r->line + 10 * (int)(r->nwaves + 1);
	w->fields = fields;
	r->nwaves++;
}

static void run_opts(const char *region)
{
	struct validate_options o = { region, NOW };
	if (validate_check(A, ROLL, NROLL, &o, &R) != 0) {
		fprintf(stderr, "validate_check failed\n");
		abort();
	}
	NROLL = 0;
}

static void run(void)
{
	run_opts(NULL);
}

/* Runs one rollout with the usual fields and one wave. */
static void one_wave(struct validate_value wave_fields)
{
	wave(rollout(RF(NULL)), wave_fields);
	run();
}

static const struct validate_diagnostic *find(const char *rule)
{
	for (size_t i = 0; i < R.ndiagnostics; i++)
		if (strcmp(R.diagnostics[i].rule, rule) == 0)
			return &R.diagnostics[i];
	return NULL;
}

static size_t count(const char *rule)
{
	size_t n = 0;
	for (size_t i = 0; i < R.ndiagnostics; i++)
		n += strcmp(R.diagnostics[i].rule, rule) == 0;
	return n;
}

static void dump(void)
{
	for (size_t i = 0; i < R.ndiagnostics; i++)
		fprintf(stderr, "    %s:%d %s %s [%s] %s\n", R.diagnostics[i].file, R.diagnostics[i].line,
			R.diagnostics[i].severity == VALIDATE_ERROR ? "error" : "warning", R.diagnostics[i].rule,
			R.diagnostics[i].param ? R.diagnostics[i].param : "", R.diagnostics[i].message);
}

/* The last check reported `rule` with this severity and param (and, if given, message text). */
static int expect_at(int line, const char *rule, enum validate_severity sev, const char *param, const char *text)
{
	for (size_t i = 0; i < R.ndiagnostics; i++) {
		const struct validate_diagnostic *d = &R.diagnostics[i];
		if (strcmp(d->rule, rule) == 0 && d->severity == sev && d->param && strcmp(d->param, param) == 0 &&
		    (!text || strstr(d->message, text)))
			return 1;
	}
	fprintf(stderr, "FAIL line %d: expected %s %s [%s]%s%s; got:\n", line, sev == VALIDATE_ERROR ? "error" : "warning",
		rule, param, text ? " with: " : "", text ? text : "");
	dump();
	return 0;
}
#define EXPECT(rule, sev, param, text) do { \
	if (expect_at(__LINE__, (rule), (sev), (param), (text))) passed++; else failed++; \
} while (0)
/* The last check reported nothing at all. */
#define CLEAN() do { CHECK(R.ndiagnostics == 0, "expected no diagnostics"); if (R.ndiagnostics) dump(); } while (0)
#define NONE(rule) do { CHECK(count(rule) == 0, "expected no %s", rule); if (count(rule)) dump(); } while (0)

#define E VALIDATE_ERROR
#define W VALIDATE_WARNING
#define V1 L("1.0", NULL)

#include "test_validate_rules.inc"
#include "test_validate_parse.inc"
#include "test_validate_notify.inc"
#include "test_validate_fidelity.inc"

int main(void)
{
	A = validate_arena_new();
	test_fields();
	test_required();
	test_names();
	test_targets();
	test_versions();
	test_tags();
	test_retry_timeout_rate();
	test_platform();
	test_static();
	test_cross();
	test_formats();
	test_defaults();
	test_order();
	test_parsers();
	test_notify();
	test_fidelity();
	test_speed();
	validate_arena_free(A);
	return harness_report();
}
