/* validate_global: rules across the rollouts of one check: unique rollout names,
 * `one-dynamic-per-firmware`, `later-dynamic-wins` and `device-single-job`. Each collects
 * entries, sorts them and looks at neighbours, so the cost is n log n in waves and devices.
 * Uses the context of validate.c. */
#include "validate_internal.h"

#include <stdlib.h>
#include <string.h>

static int str_cmp(const char *a, const char *b)
{
	return strcmp(a ? a : "", b ? b : "");
}

/* ---- names and firmware --------------------------------------------------------------------- */

/* Sorts the m keys and reports each rollout whose key an earlier rollout already has. */
static void repeated_keys(struct vx_ctx *c, const struct validate_rollout *rs, struct vx_named *e, size_t m,
                          void (*report)(struct vx_ctx *, const struct validate_rollout *first, const char *key))
{
	qsort(e, m, sizeof *e, vx_named_cmp);
	for (size_t i = 1; i < m; i++) {
		if (strcmp(e[i].name, e[i - 1].name) != 0)
			continue;
		vx_at(c, &rs[e[i].index], NULL);
		report(c, &rs[e[i - 1].index], e[i].name);
	}
}

static void name_used_twice(struct vx_ctx *c, const struct validate_rollout *first, const char *key)
{
	vx_diag(c, VALIDATE_ERROR, "wave-name", "name",
		"rollout name \"%s\" is used twice (first at %s:%d): rollout names must be unique", key,
		first->file ? first->file : "?", first->line);
}

static void rollout_names(struct vx_ctx *c, const struct validate_rollout *rs, size_t n, struct vx_named *e)
{
	size_t m = 0;
	for (size_t i = 0; i < n; i++)
		if (rs[i].name)
			e[m++] = (struct vx_named){ rs[i].name, i };
	repeated_keys(c, rs, e, m, name_used_twice);
}

static int has_dynamic(const struct validate_rollout *r)
{
	for (size_t j = 0; j < r->nwaves; j++)
		if (r->waves[j].kind == VALIDATE_DYNAMIC)
			return 1;
	return 0;
}

static void firmware_driven_twice(struct vx_ctx *c, const struct validate_rollout *first, const char *key)
{
	vx_diag(c, VALIDATE_ERROR, "one-dynamic-per-firmware", "FirmwareId",
		"rollout \"%s\" (%s:%d) already drives dynamic jobs of firmware %s: the platform runs one dynamic job "
		"per firmware, so put these waves in that rollout", first->name ? first->name : "?",
		first->file ? first->file : "?", first->line, key);
}

static void one_dynamic_per_firmware(struct vx_ctx *c, const struct validate_rollout *rs, size_t n, struct vx_named *e)
{
	size_t m = 0;
	for (size_t i = 0; i < n; i++)
		if (rs[i].firmware.id && has_dynamic(&rs[i]))
			e[m++] = (struct vx_named){ rs[i].firmware.id, i };
	repeated_keys(c, rs, e, m, firmware_driven_twice);
}

/* ---- later-dynamic-wins --------------------------------------------------------------------- */

struct target {
	const char *product, *version, *firmware;
	size_t ri;
};

static int target_cmp(const void *pa, const void *pb)
{
	const struct target *a = pa, *b = pb;
	int r = strcmp(a->product, b->product);
	if (!r)
		r = strcmp(a->version, b->version);
	return r ? r : (a->ri > b->ri) - (a->ri < b->ri);
}

struct pair {
	size_t lo, hi; /* rollout or wave positions; hi is where the finding goes */
	size_t lo2, hi2;
	const char *what;
};

static int pair_cmp(const void *pa, const void *pb)
{
	const struct pair *a = pa, *b = pb;
	if (a->hi != b->hi)
		return a->hi < b->hi ? -1 : 1;
	if (a->hi2 != b->hi2)
		return a->hi2 < b->hi2 ? -1 : 1;
	if (a->lo != b->lo)
		return a->lo < b->lo ? -1 : 1;
	if (a->lo2 != b->lo2)
		return a->lo2 < b->lo2 ? -1 : 1;
	return strcmp(a->what, b->what);
}

static int same_pair(const struct pair *a, const struct pair *b)
{
	return a->lo == b->lo && a->hi == b->hi && a->lo2 == b->lo2 && a->hi2 == b->hi2;
}

/* `what` of pairs [i, j) as "a, b, c and N more". */
static const char *pair_list(struct vx_ctx *c, const struct pair *p, size_t i, size_t j)
{
	char *s = vx_printf(c, "%s", p[i].what);
	for (size_t k = i + 1; k < j && k < i + 5; k++)
		s = vx_printf(c, "%s, %s", s, p[k].what);
	return j - i > 5 ? vx_printf(c, "%s and %zu more", s, j - i - 5) : s;
}

typedef void (*pair_report_fn)(struct vx_ctx *c, const struct validate_rollout *rs, const struct pair *p,
                               size_t i, size_t j);

/* Sorts the np findings and reports each run [i, j) of the same pair once. */
static void report_pairs(struct vx_ctx *c, const struct validate_rollout *rs, struct pair *p, size_t np,
                         pair_report_fn report)
{
	qsort(p, np, sizeof *p, pair_cmp);
	for (size_t i = 0, j; i < np; i = j) {
		for (j = i + 1; j < np && same_pair(&p[i], &p[j]); j++)
			;
		report(c, rs, p, i, j);
	}
}

static void report_later_dynamic(struct vx_ctx *c, const struct validate_rollout *rs, const struct pair *p,
                                 size_t i, size_t j)
{
	const struct validate_rollout *a = &rs[p[i].lo], *b = &rs[p[i].hi];
	vx_at(c, b, NULL);
	vx_diag(c, VALIDATE_WARNING, "later-dynamic-wins", "SrcVersion.N",
		"rollouts \"%s\" (firmware %s) and \"%s\" (firmware %s) both target product %s versions %s "
		"dynamically: a device matched by both gets whichever dynamic job was created last",
		a->name ? a->name : "?", a->firmware.id, b->name ? b->name : "?", b->firmware.id, b->product,
		pair_list(c, p, i, j));
}

/* How many versions (or devices) all waves list together. */
static size_t wave_total(const struct validate_rollout *rs, size_t n, int devices)
{
	size_t total = 0;
	for (size_t i = 0; i < n; i++)
		for (size_t j = 0; j < rs[i].nwaves; j++)
			total += devices ? rs[i].waves[j].ndevices : rs[i].waves[j].nversions;
	return total;
}

static void later_dynamic_wins(struct vx_ctx *c, const struct validate_rollout *rs, size_t n)
{
	size_t total = wave_total(rs, n, 0), m = 0, np = 0;
	struct target *t = vx_alloc(c, (total ? total : 1) * sizeof *t);
	for (size_t i = 0; i < n; i++) {
		if (!rs[i].product || !rs[i].firmware.id)
			continue;
		for (size_t j = 0; j < rs[i].nwaves; j++) {
			const struct validate_wave *w = &rs[i].waves[j];
			if (w->kind == VALIDATE_DYNAMIC)
				for (size_t k = 0; k < w->nversions; k++)
					t[m++] = (struct target){ rs[i].product, w->versions[k], rs[i].firmware.id, i };
		}
	}
	qsort(t, m, sizeof *t, target_cmp);
	struct pair *p = vx_alloc(c, (m ? m : 1) * sizeof *p);
	for (size_t i = 1; i < m; i++) {
		if (t[i].ri == t[i - 1].ri && strcmp(t[i].version, t[i - 1].version) == 0)
			continue; /* the same rollout targets this version in several waves */
		/* The nearest earlier rollout of another firmware targeting this product and version. */
		for (size_t k = i, steps = 0; k-- > 0 && steps < 64; steps++) {
			if (strcmp(t[k].product, t[i].product) != 0 || strcmp(t[k].version, t[i].version) != 0)
				break;
			if (strcmp(t[k].firmware, t[i].firmware) != 0) {
				p[np++] = (struct pair){ t[k].ri, t[i].ri, 0, 0, t[i].version };
				break;
			}
		}
	}
	report_pairs(c, rs, p, np, report_later_dynamic);
}

/* ---- device-single-job ---------------------------------------------------------------------- */

struct device {
	const char *product, *name;
	size_t ri, wi;
};

static int device_cmp(const void *pa, const void *pb)
{
	const struct device *a = pa, *b = pb;
	int r = str_cmp(a->product, b->product);
	if (!r)
		r = strcmp(a->name, b->name);
	if (!r && a->ri != b->ri)
		r = a->ri < b->ri ? -1 : 1;
	if (!r && a->wi != b->wi)
		r = a->wi < b->wi ? -1 : 1;
	return r;
}

static void report_device_twice(struct vx_ctx *c, const struct validate_rollout *rs, const struct pair *p,
                                size_t i, size_t j)
{
	const struct validate_rollout *ra = &rs[p[i].lo], *rb = &rs[p[i].hi];
	const struct validate_wave *wa = &ra->waves[p[i].lo2];
	vx_at(c, rb, &rb->waves[p[i].hi2]);
	vx_diag(c, VALIDATE_WARNING, "device-single-job", "TargetDeviceName.N",
		"device%s %s %s also targeted by wave \"%s\" of rollout \"%s\" (line %d): a device can be pending in "
		"only one job, so the later job's task for it fails while the earlier one is pending",
		j - i > 1 ? "s" : "", pair_list(c, p, i, j), j - i > 1 ? "are" : "is", wa->name ? wa->name : "?",
		ra->name ? ra->name : "?", wa->line);
}

static void device_single_job(struct vx_ctx *c, const struct validate_rollout *rs, size_t n)
{
	size_t total = wave_total(rs, n, 1), m = 0, np = 0;
	struct device *d = vx_alloc(c, (total ? total : 1) * sizeof *d);
	for (size_t i = 0; i < n; i++)
		for (size_t j = 0; j < rs[i].nwaves; j++)
			if (rs[i].waves[j].kind == VALIDATE_STATIC)
				for (size_t k = 0; k < rs[i].waves[j].ndevices; k++)
					d[m++] = (struct device){ rs[i].product, rs[i].waves[j].devices[k], i, j };
	qsort(d, m, sizeof *d, device_cmp);
	struct pair *p = vx_alloc(c, (m ? m : 1) * sizeof *p);
	for (size_t i = 1; i < m; i++) {
		if (str_cmp(d[i].product, d[i - 1].product) || strcmp(d[i].name, d[i - 1].name) ||
		    (d[i].ri == d[i - 1].ri && d[i].wi == d[i - 1].wi))
			continue;
		p[np++] = (struct pair){ d[i - 1].ri, d[i].ri, d[i - 1].wi, d[i].wi, d[i].name };
	}
	report_pairs(c, rs, p, np, report_device_twice);
}

void vx_global_rules(struct vx_ctx *c, const struct validate_rollout *rs, size_t n)
{
	struct vx_named *e = vx_alloc(c, (n ? n : 1) * sizeof *e);
	rollout_names(c, rs, n, e);
	one_dynamic_per_firmware(c, rs, n, e);
	later_dynamic_wins(c, rs, n);
	device_single_job(c, rs, n);
}
