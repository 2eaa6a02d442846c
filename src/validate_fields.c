/* validate_fields: the schema of rollout, wave, defaults and nested fields, and the parsing of
 * each field's value: its type (`field-type`), its format (`duration-format`, `time-format`; the
 * window's in validate_window.c) and the limits that concern one value alone (`rate-range`, `timeout-range`,
 * retry values, tag format, `static-percent`, `static-devices`, `src-version-*`, `gate-range`).
 * Findings on `defaults` are made once, at the rollout's line. Also merges defaults into a wave.
 * Uses timefmt.h, validate_parse.c and the context of validate.c. */
#include "validate_internal.h"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

const char *const vx_wave_field_names[VF_COUNT] = {
	"kind", "versions", "group", "devices", "percent", "all", "rate", "retry", "timeout",
	"overwrite", "mode", "push", "confirm", "multi_module", "protocol", "tags", "finish",
	"after", "start", "delay", "window", "approve", "gate", "on_fail",
};
const char *const vx_wave_field_params[VF_COUNT] = {
	"kind", "SrcVersion.N", "GroupId", "TargetDeviceName.N", "GrayPercent", "TargetSelection",
	"MaximumPerMinute", "retry", "TimeoutInMinutes", "OverwriteMode", "DynamicMode", "NeedPush",
	"NeedConfirm", "MultiModuleMode", "DownloadProtocol", "Tag", "ScheduleFinishTime",
	"after", "start", "delay", "window", "approve", "gate", "on_fail",
};

static const char *const retry_fields[] = { "interval", "count" };
static const char *const gate_fields[] = { "soak", "min_devices", "min_success", "max_failed", "max_failed_ratio",
					   "check", "mode", "confidence", "require_evidence" };
static const char *const gate_modes[] = { "sequential", "literal" };
static const char *const percent_fields[] = { "total" };
#define COUNT(a) (sizeof(a) / sizeof((a)[0]))

/* ---- typed getters: each reports `field-type` and returns -1 on a wrong type ------------------ */

static int get_int(struct vx_ctx *c, const struct validate_value *v, const char *label, const char *param,
		   long long *out)
{
	if (!vx_integer(v, out)) {
		vx_diag(c, VALIDATE_ERROR, "field-type", param, "%s must be an integer, got %s", label, vx_describe(c, v));
		return -1;
	}
	return 0;
}

static int get_bool(struct vx_ctx *c, const struct validate_value *v, const char *label, const char *param, int *out)
{
	if (vx_want(c, v, VALIDATE_BOOLEAN, label, param, "true or false"))
		return -1;
	*out = v->boolean;
	return 0;
}

/* One of `allowed` (compared case-insensitively when `fold`); *out points at the allowed spelling. */
static int get_enum(struct vx_ctx *c, const struct validate_value *v, const char *label, const char *param,
		    const char *const *allowed, size_t n, int fold, const char **out)
{
	if (v->type == VALIDATE_STRING)
		for (size_t i = 0; i < n; i++)
			if (fold ? strcasecmp(v->string, allowed[i]) == 0 : strcmp(v->string, allowed[i]) == 0) {
				*out = allowed[i];
				return 0;
			}
	char *list = vx_printf(c, "\"%s\"", allowed[0]);
	for (size_t i = 1; i < n; i++)
		list = vx_printf(c, "%s%s\"%s\"", list, i + 1 == n ? " or " : ", ", allowed[i]);
	vx_diag(c, VALIDATE_ERROR, "field-type", param, "%s must be %s, got %s", label, list, vx_describe(c, v));
	return -1;
}

static int get_string_list(struct vx_ctx *c, const struct validate_value *v, const char *label, const char *param,
			   const char ***out, size_t *n)
{
	int ok = v->type == VALIDATE_TABLE && v->nfields == 0 && v->nother == 0;
	for (size_t i = 0; ok && i < v->nitems; i++)
		ok = v->items[i].type == VALIDATE_STRING;
	for (size_t i = 0; ok && i < v->nitems; i++)
		if (!vx_text_valid(c, &v->items[i], label, param))
			return -1;
	if (!ok) {
		const char *hint = v->type == VALIDATE_STRING ? vx_printf(c, " (write { \"%s\" })", v->string) : "";
		vx_diag(c, VALIDATE_ERROR, "field-type", param, "%s must be a list of strings, got %s%s", label,
			vx_describe(c, v), hint);
		return -1;
	}
	*out = vx_alloc(c, (v->nitems ? v->nitems : 1) * sizeof **out);
	for (size_t i = 0; i < v->nitems; i++)
		(*out)[i] = v->items[i].string;
	*n = v->nitems;
	return 0;
}

static int get_duration(struct vx_ctx *c, const struct validate_value *v, const char *label, const char *param,
			long long *out)
{
	char err[200];
	if (vx_want(c, v, VALIDATE_STRING, label, param, "a duration string like \"30m\", \"24h\" or \"1h30m\""))
		return -1;
	if (timefmt_parse_duration(v->string, out, err, sizeof err) == 0)
		return 0;
	vx_diag(c, VALIDATE_ERROR, "duration-format", param, "%s: %s", label, err);
	return -1;
}

static int get_time(struct vx_ctx *c, const struct validate_value *v, const char *label, const char *param,
		    long long *out)
{
	char err[200];
	if (vx_want(c, v, VALIDATE_STRING, label, param, "an RFC 3339 time like \"2026-12-01T02:00:00+08:00\""))
		return -1;
	if (timefmt_parse_time(v->string, out, NULL, err, sizeof err) == 0)
		return 0;
	vx_diag(c, VALIDATE_ERROR, "time-format", param, "%s: %s", label, err);
	return -1;
}

/* Sorted copy; the first duplicate or NULL. */
static const char *first_duplicate(struct vx_ctx *c, const char **list, size_t n)
{
	if (n < 2)
		return NULL;
	const char **s = vx_alloc(c, n * sizeof *s);
	memcpy(s, list, n * sizeof *s);
	qsort(s, n, sizeof *s, vx_strcmp_ptr);
	for (size_t i = 1; i < n; i++)
		if (strcmp(s[i - 1], s[i]) == 0)
			return s[i];
	return NULL;
}

static size_t utf8_chars(const char *s, size_t len)
{
	size_t n = 0;
	for (size_t i = 0; i < len; i++)
		n += ((unsigned char)s[i] & 0xC0) != 0x80;
	return n;
}

/* ---- the fields that take more than a type check -------------------------------------------- */

/* "3.1.x", "3.*", "2.0.?", "^1\\.2", "1.[0-3]": a version written as a pattern. */
static int looks_like_pattern(const char *v)
{
	if (strpbrk(v, "*?[]^$|+"))
		return 1;
	size_t n = strlen(v);
	for (size_t i = 0; i < n; i++) {
		int starts = i == 0 || v[i - 1] == '.' || v[i - 1] == '-';
		int ends = i + 1 == n || v[i + 1] == '.' || v[i + 1] == '-';
		if ((v[i] == 'x' || v[i] == 'X') && starts && ends && n > 1)
			return 1;
	}
	return 0;
}

static void parse_versions(struct vx_ctx *c, const struct validate_value *v, const char *label, struct vx_wave_part *p)
{
	const char *param = "SrcVersion.N", *dup;
	if (get_string_list(c, v, label, param, &p->w.versions, &p->w.nversions))
		return;
	p->w.has_versions = 1;
	p->valid |= VF_BIT(VF_VERSIONS);
	if (p->w.nversions == 0)
		vx_diag(c, VALIDATE_ERROR, "src-version-count", param, "%s is empty: list 1 to 10 source versions", label);
	if (p->w.nversions > 10)
		vx_diag(c, VALIDATE_ERROR, "src-version-count", param,
			"%s lists %zu versions: SrcVersion.N takes at most 10 (split the wave)", label, p->w.nversions);
	if ((dup = first_duplicate(c, p->w.versions, p->w.nversions)))
		vx_diag(c, VALIDATE_ERROR, "src-version-unique", param,
			"%s lists \"%s\" twice: source versions must be unique", label, dup);
	for (size_t i = 0; i < p->w.nversions; i++)
		if (looks_like_pattern(p->w.versions[i]))
			vx_diag(c, VALIDATE_WARNING, "src-version-pattern", param,
				"%s: \"%s\" looks like a pattern, but the platform matches SrcVersion literally: "
				"list each version (\"3.1.0\", \"3.1.1\", ...)", label, p->w.versions[i]);
}

static void parse_devices(struct vx_ctx *c, const struct validate_value *v, const char *label, struct vx_wave_part *p)
{
	const char *param = "TargetDeviceName.N", *dup;
	if (get_string_list(c, v, label, param, &p->w.devices, &p->w.ndevices))
		return;
	p->w.has_devices = 1;
	p->valid |= VF_BIT(VF_DEVICES);
	/* up to 200 go out as TargetDeviceName.N, more as a device list file (DnListFileUrl) of at most
	 * VALIDATE_MAX_DEVICE_LIST names (docs/platform-assumptions.md, "Device lists") */
	if (p->w.ndevices == 0)
		vx_diag(c, VALIDATE_ERROR, "static-devices", param, "%s is empty: list at least one device name", label);
	if (p->w.ndevices > VALIDATE_MAX_DEVICE_LIST)
		vx_diag(c, VALIDATE_ERROR, "static-devices", param,
			"%s lists %zu devices: a device list file (DnListFileUrl) takes at most %d per job (split the wave)",
			label, p->w.ndevices, VALIDATE_MAX_DEVICE_LIST);
	for (size_t i = 0; i < p->w.ndevices; i++)
		if (!p->w.devices[i][0]) {
			vx_diag(c, VALIDATE_ERROR, "static-devices", param, "%s has an empty device name (entry %zu)", label, i + 1);
			break;
		}
	if ((dup = first_duplicate(c, p->w.devices, p->w.ndevices)))
		vx_diag(c, VALIDATE_ERROR, "static-devices", param, "%s lists device \"%s\" twice: device names must be unique",
			label, dup);
}

/* GrayPercent is judged on its decimal text so that 12.3456 is caught and 0.1 is not noise.
 * `{ total = N }`: N% in total; the planner computes GrayPercent (docs/platform-assumptions.md). */
static void parse_percent(struct vx_ctx *c, const struct validate_value *v, const char *label, struct vx_wave_part *p)
{
	const char *param = "GrayPercent";
	char buf[64];
	const char *text;
	int total = v->type == VALIDATE_TABLE;
	if (total) {
		vx_check_keys(c, v, label, percent_fields, 1);
		if (!(v = vx_get(v, "total")))
			return (void)vx_diag(c, VALIDATE_ERROR, "field-type", param, "%s needs total = N (N%% of the fleet)", label);
	}
	if (v->type == VALIDATE_NUMBER) {
		if (validate_percent_text(v->number, buf, sizeof buf)) {
			vx_diag(c, VALIDATE_ERROR, "static-percent", param, "%s %s is out of range: GrayPercent must be in (0, 100]",
				label, vx_describe(c, v) + 7);
			return;
		}
		text = buf;
	} else if (v->type == VALIDATE_STRING) {
		const char *s = v->string;
		size_t i = 0;
		while (isdigit((unsigned char)s[i]))
			i++;
		if (s[i] == '.' && i > 0 && isdigit((unsigned char)s[i + 1]))
			for (i++; isdigit((unsigned char)s[i]); i++)
				;
		if (i == 0 || s[i]) {
			vx_diag(c, VALIDATE_ERROR, "field-type", param, "%s must be a number or a decimal string like \"12.5\", got %s",
				label, vx_describe(c, v));
			return;
		}
		size_t n = strlen(s);
		if (strchr(s, '.')) /* "12.50" and "12.5" are the same percentage */
			while (n > 0 && s[n - 1] == '0')
				n--;
		if (n > 0 && s[n - 1] == '.')
			n--;
		text = vx_printf(c, "%.*s", (int)n, s);
	} else {
		vx_want(c, v, VALIDATE_NUMBER, label, param, "a number like 12.5");
		return;
	}
	const char *dot = strchr(text, '.');
	size_t decimals = dot ? strlen(dot + 1) : 0;
	double val = strtod(text, NULL);
	p->w.has_percent = 1;
	p->w.percent = val;
	p->w.percent_text = text == buf ? vx_printf(c, "%s", buf) : text;
	p->w.percent_total = total;
	p->valid |= VF_BIT(VF_PERCENT);
	if (!(val > 0) || val > 100)
		vx_diag(c, VALIDATE_ERROR, "static-percent", param, "%s %s is out of range: GrayPercent must be in (0, 100]",
			label, p->w.percent_text);
	else if (decimals > 3)
		vx_diag(c, VALIDATE_ERROR, "static-percent", param,
			"%s %s has %zu decimals: GrayPercent takes at most 3 (e.g. 12.346)", label, p->w.percent_text, decimals);
}

static int get_minutes(struct vx_ctx *c, const struct validate_value *v, const char *label, const char *param,
		       const char *rule, long long *minutes);

static void parse_retry(struct vx_ctx *c, const struct validate_value *v, const char *label, struct vx_wave_part *p)
{
	const struct validate_value *iv, *cv;
	if (vx_want(c, v, VALIDATE_TABLE, label, "retry", "a table { interval = minutes or \"10m\", count = n }"))
		return;
	vx_check_keys(c, v, label, retry_fields, COUNT(retry_fields));
	p->valid |= VF_BIT(VF_RETRY);
	if ((iv = vx_get(v, "interval"))) {
		char *l = vx_printf(c, "%s.interval", label);
		long long x;
		if (get_minutes(c, iv, l, "RetryInterval", "retry-interval-values", &x) == 0) {
			p->w.has_retry_interval = 1;
			p->w.retry_interval = x;
			if (x != 0 && x != 10 && x != 30 && x != 60 && x != 1440)
				vx_diag(c, VALIDATE_ERROR, "retry-interval-values", "RetryInterval",
					"%s %lld is not allowed: RetryInterval must be 0, 10, 30, 60 or 1440 minutes", l, x);
		}
	}
	if ((cv = vx_get(v, "count"))) {
		char *l = vx_printf(c, "%s.count", label);
		long long x;
		if (get_int(c, cv, l, "RetryCount", &x) == 0) {
			p->w.has_retry_count = 1;
			p->w.retry_count = x;
			if (x != 1 && x != 2 && x != 5)
				vx_diag(c, VALIDATE_ERROR, "retry-count-values", "RetryCount",
					"%s %lld is not allowed: RetryCount must be 1, 2 or 5", l, x);
		}
	}
}

/* Whole minutes, written as an integer or as a duration like "10m" or "24h": one syntax for every
 * field the platform counts in minutes. 0 on success; otherwise the diagnostic is made. */
static int get_minutes(struct vx_ctx *c, const struct validate_value *v, const char *label, const char *param,
		       const char *rule, long long *minutes)
{
	if (v->type == VALIDATE_STRING) {
		long long secs;
		if (get_duration(c, v, label, param, &secs))
			return -1;
		if (secs % 60) {
			vx_diag(c, VALIDATE_ERROR, rule, param,
				"%s \"%s\" is not a whole number of minutes: %s counts minutes (e.g. \"2m\")", label,
				v->string, param);
			return -1;
		}
		*minutes = secs / 60;
		return 0;
	}
	if (!vx_integer(v, minutes)) {
		vx_diag(c, VALIDATE_ERROR, "field-type", param,
			"%s must be whole minutes or a duration like \"24h\", got %s", label, vx_describe(c, v));
		return -1;
	}
	return 0;
}

static void parse_timeout(struct vx_ctx *c, const struct validate_value *v, const char *label, struct vx_wave_part *p)
{
	const char *param = "TimeoutInMinutes";
	long long minutes;
	if (get_minutes(c, v, label, param, "timeout-range", &minutes))
		return;
	p->w.has_timeout = 1;
	p->w.timeout = minutes;
	p->valid |= VF_BIT(VF_TIMEOUT);
	if (minutes < 1 || minutes > 1440)
		vx_diag(c, VALIDATE_ERROR, "timeout-range", param,
			"%s %lld minutes is out of range: TimeoutInMinutes must be 1–1440 (24h)", label, minutes);
}

static int tag_cmp(const void *a, const void *b)
{
	return strcmp(((const struct validate_tag *)a)->key, ((const struct validate_tag *)b)->key);
}

static void parse_tags(struct vx_ctx *c, const struct validate_value *v, const char *label, struct vx_wave_part *p)
{
	if (vx_want(c, v, VALIDATE_TABLE, label, "Tag", "a table { key = \"value\" }"))
		return;
	if (v->nitems || v->nother) {
		vx_diag(c, VALIDATE_ERROR, "field-type", "Tag", "%s must map keys to values ({ channel = \"stable\" }), "
			"not be a list", label);
		return;
	}
	p->w.tags = vx_alloc(c, (v->nfields ? v->nfields : 1) * sizeof *p->w.tags);
	for (size_t i = 0; i < v->nfields; i++) {
		const char *k = v->fields[i].key;
		const struct validate_value *tv = &v->fields[i].value;
		size_t kl = strlen(k), j;
		for (j = 0; j < kl && (isalnum((unsigned char)k[j]) || k[j] == '.'); j++)
			;
		if (kl < 1 || kl > 30 || j < kl)
			vx_diag(c, VALIDATE_ERROR, "tag-key-format", "Tag.N.Key",
				"%s key \"%s\" is invalid: tag keys are 1–30 characters of A-Z, a-z, 0-9 and '.'", label, k);
		if (tv->type != VALIDATE_STRING) {
			vx_diag(c, VALIDATE_ERROR, "field-type", "Tag.N.Value", "%s.%s must be a string, got %s", label, k,
				vx_describe(c, tv));
			continue;
		}
		size_t vl = utf8_chars(tv->string, tv->len);
		if (vl < 1 || vl > 1024)
			vx_diag(c, VALIDATE_ERROR, "tag-value-length", "Tag.N.Value",
				"%s.%s has %zu characters: tag values are 1–1024 characters", label, k, vl);
		p->w.tags[p->w.ntags].key = k;
		p->w.tags[p->w.ntags++].value = tv->string;
	}
	qsort(p->w.tags, p->w.ntags, sizeof *p->w.tags, tag_cmp);
	p->valid |= VF_BIT(VF_TAGS);
}

/* `finish` is a time (ScheduleFinishTime) or a duration after the wave's start. */
static void parse_finish(struct vx_ctx *c, const struct validate_value *v, const char *label, struct vx_wave_part *p)
{
	const char *param = "ScheduleFinishTime";
	char err[200];
	if (vx_want(c, v, VALIDATE_STRING, label, param, "a time (RFC 3339) or a duration after the start (\"2d\")"))
		return;
	const char *s = v->string;
	if (timefmt_parse_duration(s, &p->w.finish_after, err, sizeof err) == 0) {
		p->w.has_finish_after = 1;
	} else if (strlen(s) >= 5 && isdigit((unsigned char)s[0]) && isdigit((unsigned char)s[1]) &&
		   isdigit((unsigned char)s[2]) && isdigit((unsigned char)s[3]) && s[4] == '-') {
		if (timefmt_parse_time(s, &p->w.finish_at, NULL, err, sizeof err)) {
			vx_diag(c, VALIDATE_ERROR, "time-format", param, "%s: %s", label, err);
			return;
		}
		p->w.has_finish_at = 1;
	} else {
		vx_diag(c, VALIDATE_ERROR, "duration-format", param, "%s: %s (or give an RFC 3339 time)", label, err);
		return;
	}
	p->valid |= VF_BIT(VF_FINISH);
}

static void parse_gate_number(struct vx_ctx *c, const struct validate_value *v, const char *label, int integer,
			      int unit, int *has, long long *iout, double *dout)
{
	if (v->type != VALIDATE_NUMBER) {
		vx_diag(c, VALIDATE_ERROR, "field-type", "gate", "%s must be a number, got %s", label, vx_describe(c, v));
		return;
	}
	long long n = 0;
	if (integer && (!vx_integer(v, &n) || n < 0)) {
		vx_diag(c, VALIDATE_ERROR, "gate-range", "gate", "%s %s is out of range: it must be a whole number >= 0",
			label, vx_describe(c, v) + 7);
		return;
	}
	if (unit && !(v->number >= 0 && v->number <= 1)) {
		vx_diag(c, VALIDATE_ERROR, "gate-range", "gate",
			"%s %s is out of range: it is a ratio from 0 to 1 (0.98 means 98%%)", label, vx_describe(c, v) + 7);
		return;
	}
	*has = 1;
	if (iout)
		*iout = n;
	if (dout)
		*dout = v->number;
}

static void parse_gate(struct vx_ctx *c, const struct validate_value *v, const char *label, struct vx_wave_part *p)
{
	struct validate_gate *g = &p->w.gate;
	const struct validate_value *x;
	int n;
	if (vx_want(c, v, VALIDATE_TABLE, label, "gate", "a table { soak =, min_devices =, min_success =, ... }"))
		return;
	vx_check_keys(c, v, label, gate_fields, COUNT(gate_fields));
	if ((x = vx_get(v, "soak")) && get_duration(c, x, vx_printf(c, "%s.soak", label), "gate", &g->soak) == 0)
		g->has_soak = 1;
	if ((x = vx_get(v, "min_devices")))
		parse_gate_number(c, x, vx_printf(c, "%s.min_devices", label), 1, 0, &g->has_min_devices, &g->min_devices, NULL);
	if ((x = vx_get(v, "max_failed")))
		parse_gate_number(c, x, vx_printf(c, "%s.max_failed", label), 1, 0, &g->has_max_failed, &g->max_failed, NULL);
	if ((x = vx_get(v, "min_success")))
		parse_gate_number(c, x, vx_printf(c, "%s.min_success", label), 0, 1, &g->has_min_success, NULL, &g->min_success);
	if ((x = vx_get(v, "max_failed_ratio")))
		parse_gate_number(c, x, vx_printf(c, "%s.max_failed_ratio", label), 0, 1, &g->has_max_failed_ratio, NULL,
				  &g->max_failed_ratio);
	if ((x = vx_get(v, "mode")))
		get_enum(c, x, vx_printf(c, "%s.mode", label), "gate", gate_modes, COUNT(gate_modes), 0, &g->mode);
	if ((x = vx_get(v, "confidence")) && x->type != VALIDATE_NUMBER)
		vx_diag(c, VALIDATE_ERROR, "field-type", "gate", "%s.confidence must be a number, got %s", label,
			vx_describe(c, x));
	else if (x && !(x->number >= 0.5 && x->number <= 0.9999))
		vx_diag(c, VALIDATE_ERROR, "gate-range", "gate",
			"%s.confidence %s is out of range: it is a probability from 0.5 to 0.9999 (0.95 means 95%%)", label,
			vx_describe(c, x) + 7);
	else if (x) {
		g->has_confidence = 1;
		g->confidence = x->number;
	}
	g->require_evidence = VALIDATE_UNSET;
	if ((x = vx_get(v, "require_evidence")) && get_bool(c, x, vx_printf(c, "%s.require_evidence", label), "gate", &n) == 0)
		g->require_evidence = n ? VALIDATE_TRUE : VALIDATE_FALSE;
	if ((x = vx_get(v, "check")) && vx_want(c, x, VALIDATE_FUNCTION, vx_printf(c, "%s.check", label), "gate",
					     "a function(counts) returning \"pass\", \"wait\" or \"fail\"") == 0)
		g->check = x;
	p->w.has_gate = 1;
	p->valid |= VF_BIT(VF_GATE);
}

/* ---- one wave's (or defaults') fields ------------------------------------------------------- */

static void parse_field(struct vx_ctx *c, int f, const struct validate_value *v, const char *label, struct vx_wave_part *p)
{
	static const char *const kinds[] = { "dynamic", "static" }, *const overwrites[] = { "keep", "replace" },
			  *const modes[] = { "continuous", "new-reports" }, *const protocols[] = { "HTTPS", "MQTT" },
			  *const on_fails[] = { "halt", "abort" };
	const char *param = vx_wave_field_params[f], *s;
	struct validate_wave *w = &p->w;
	long long n;
	int ok = 0;
	switch (f) {
	case VF_KIND:
		if ((ok = !get_enum(c, v, label, param, kinds, 2, 0, &s)))
			w->kind = s[0] == 's' ? VALIDATE_STATIC : VALIDATE_DYNAMIC;
		break;
	case VF_VERSIONS: parse_versions(c, v, label, p); return;
	case VF_GROUP:
		if ((ok = !vx_want(c, v, VALIDATE_STRING, label, param, "a group id string") && v->len > 0)) {
			if (!vx_text_valid(c, v, label, param))
				return;
			w->group = v->string;
		}
		else if (v->type == VALIDATE_STRING)
			vx_diag(c, VALIDATE_ERROR, "field-type", param, "%s must not be empty", label);
		break;
	case VF_DEVICES: parse_devices(c, v, label, p); return;
	case VF_PERCENT: parse_percent(c, v, label, p); return;
	case VF_ALL:
		ok = !get_bool(c, v, label, param, &w->all);
		break;
	case VF_RATE:
		if ((ok = !get_int(c, v, label, param, &n))) {
			w->has_rate = 1;
			w->rate = n;
			if (n < 10 || n > 10000)
				vx_diag(c, VALIDATE_ERROR, "rate-range", param,
					"%s %lld is out of range: MaximumPerMinute must be 10–10000", label, n);
		}
		break;
	case VF_RETRY: parse_retry(c, v, label, p); return;
	case VF_TIMEOUT: parse_timeout(c, v, label, p); return;
	case VF_OVERWRITE: ok = !get_enum(c, v, label, param, overwrites, 2, 0, &w->overwrite); break;
	case VF_MODE: ok = !get_enum(c, v, label, param, modes, 2, 0, &w->mode); break;
	case VF_PUSH: ok = !get_bool(c, v, label, param, &w->push); break;
	case VF_CONFIRM: ok = !get_bool(c, v, label, param, &w->confirm); break;
	case VF_MULTI_MODULE: ok = !get_bool(c, v, label, param, &w->multi_module); break;
	case VF_PROTOCOL: ok = !get_enum(c, v, label, param, protocols, 2, 1, &w->protocol); break;
	case VF_TAGS: parse_tags(c, v, label, p); return;
	case VF_FINISH: parse_finish(c, v, label, p); return;
	case VF_AFTER:
		if ((ok = !vx_want(c, v, VALIDATE_STRING, label, param, "the name of an earlier wave")))
			w->after = v->string;
		break;
	case VF_START:
		if ((ok = !get_time(c, v, label, param, &w->start)))
			w->has_start = 1;
		break;
	case VF_DELAY:
		if ((ok = !get_duration(c, v, label, param, &w->delay)))
			w->has_delay = 1;
		break;
	case VF_WINDOW: vx_parse_window(c, v, label, p); return;
	case VF_APPROVE: ok = !get_bool(c, v, label, param, &w->approve); break;
	case VF_GATE: parse_gate(c, v, label, p); return;
	case VF_ON_FAIL: ok = !get_enum(c, v, label, param, on_fails, 2, 0, &w->on_fail); break;
	}
	if (ok)
		p->valid |= VF_BIT(f);
}

void vx_parse_wave_fields(struct vx_ctx *c, const struct validate_value *t, const char *prefix,
			  struct vx_wave_part *out)
{
	out->w.push = out->w.confirm = out->w.multi_module = VALIDATE_UNSET;
	if (t->type != VALIDATE_TABLE)
		return;
	if (t->nitems || t->nother) /* e.g. a wave written inside a wave */
		vx_diag(c, VALIDATE_ERROR, "unknown-field", *prefix ? "defaults" : "wave",
			"%s has %zu positional or non-string keys; wave fields are named (rate = 10), and waves go in the "
			"rollout's list", *prefix ? "defaults" : c->wave ? vx_printf(c, "wave \"%s\"", c->wave) : "a wave",
			t->nitems + t->nother);
	for (size_t i = 0; i < t->nfields; i++) {
		const char *k = t->fields[i].key;
		int f;
		for (f = 0; f < VF_COUNT && strcmp(vx_wave_field_names[f], k) != 0; f++)
			;
		if (f == VF_COUNT) {
			if (!*prefix && strcmp(k, "name") == 0)
				continue;
			const char *s = suggest_closest(k, vx_wave_field_names, VF_COUNT);
			const char *param = vx_printf(c, "%s%s", prefix, k);
			const char *where = *prefix ? "defaults" : c->wave ? vx_printf(c, "wave \"%s\"", c->wave) : "a wave";
			if (s)
				vx_diag(c, VALIDATE_ERROR, "unknown-field", param, "unknown field \"%s\" in %s: did you mean \"%s\"?",
					k, where, s);
			else
				vx_diag(c, VALIDATE_ERROR, "unknown-field", param,
					"unknown field \"%s\" in %s (wave fields: kind, versions, group, devices, percent, all, "
					"rate, retry, timeout, overwrite, mode, push, confirm, multi_module, protocol, tags, "
					"finish, after, start, delay, window, approve, gate, on_fail)", k, where);
			continue;
		}
		out->given |= VF_BIT(f);
		parse_field(c, f, &t->fields[i].value, vx_printf(c, "%s%s", prefix, k), out);
	}
}

/* ---- the field lists, for the generated reference (docs/rollout.md) ------------------------- */

const char *const *validate_field_names(const char *table, size_t *n)
{
	*n = 0;
	if (strcmp(table, "wave") == 0)
		return *n = VF_COUNT, vx_wave_field_names;
	if (strcmp(table, "retry") == 0)
		return *n = COUNT(retry_fields), retry_fields;
	if (strcmp(table, "gate") == 0)
		return *n = COUNT(gate_fields), gate_fields;
	if (strcmp(table, "window") == 0)
		return *n = VX_WINDOW_FIELD_COUNT, vx_window_fields;
	return vx_rollout_field_names(table, n);
}

const char *validate_wave_field_param(size_t i)
{
	return i < VF_COUNT ? vx_wave_field_params[i] : NULL;
}
