/* The validator's field lists (validate_field_names, validate_wave_field_param), from which
 * docs/rollout.md and the editor definitions are generated: every listed field is one the
 * validator accepts without an unknown-field finding, and a name not listed is refused. */
#include "harness.h"
#include "validate.h"

#include <stdlib.h>

/* Checks one wave with `field` set to a value of the wrong type: an accepted field gives a
 * field-type (or range) finding, an unknown one unknown-field. -> rule of the first finding */
static const char *first_rule_for_wave_field(const char *field)
{
	static char rule[64];
	struct validate_arena *a = validate_arena_new();
	struct validate_value fw = { .type = VALIDATE_STRING, .string = "fwT1", .len = 4 };
	struct validate_value prod = { .type = VALIDATE_STRING, .string = "pk1", .len = 3 };
	struct validate_value reg = { .type = VALIDATE_STRING, .string = "cn-shanghai", .len = 11 };
	struct validate_field rf[3] = { { "firmware", fw }, { "product", prod }, { "region", reg } };
	struct validate_value bogus = { .type = VALIDATE_OTHER, .string = "userdata" };
	struct validate_field wf[1] = { { field, bogus } };
	struct validate_raw_wave w = { 0 };
	w.name = (struct validate_value){ .type = VALIDATE_STRING, .string = "w", .len = 1 };
	w.fields = (struct validate_value){ .type = VALIDATE_TABLE, .fields = wf, .nfields = 1 };
	struct validate_raw_rollout r = { 0 };
	r.name = "t";
	r.fields = (struct validate_value){ .type = VALIDATE_TABLE, .fields = rf, .nfields = 3 };
	r.waves = &w;
	r.nwaves = 1;
	struct validate_options o = { NULL, 1764547200 };
	struct validate_result res;
	rule[0] = 0;
	if (validate_check(a, &r, 1, &o, &res) == 0)
		for (size_t i = 0; i < res.ndiagnostics; i++)
			if (strcmp(res.diagnostics[i].rule, "target-exclusive") != 0) {
				snprintf(rule, sizeof rule, "%s", res.diagnostics[i].rule);
				break;
			}
	validate_arena_free(a);
	return rule;
}

int main(void)
{
	static const char *const tables[] = { "rollout", "firmware", "wave", "retry", "gate", "window" };
	for (size_t t = 0; t < sizeof tables / sizeof *tables; t++) {
		size_t n = 0;
		const char *const *names = validate_field_names(tables[t], &n);
		CHECK(names != NULL && n > 0, "%s has fields", tables[t]);
		for (size_t i = 0; names && i < n; i++)
			CHECK(names[i] && names[i][0], "%s field %zu named", tables[t], i);
	}
	size_t n = 99;
	CHECK(validate_field_names("nonsense", &n) == NULL && n == 0, "an unknown table has no fields");

	const char *const *wave = validate_field_names("wave", &n);
	CHECK(n == 24, "24 wave fields, got %zu", n);
	CHECK_STR(validate_wave_field_param(1), "SrcVersion.N");
	CHECK_STR(wave[1], "versions");
	CHECK(validate_wave_field_param(n) == NULL, "past the end");
	for (size_t i = 0; i < n; i++) {
		const char *rule = first_rule_for_wave_field(wave[i]);
		CHECK(strcmp(rule, "unknown-field") != 0, "wave field %s is listed but refused as unknown", wave[i]);
	}
	CHECK_STR(first_rule_for_wave_field("rat"), "unknown-field");
	return harness_report();
}
