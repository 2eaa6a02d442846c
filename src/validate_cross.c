/* validate_cross: rules across the waves of a rollout (`wave-name`, `wave-after`,
 * `superseded-coverage`, `static-overlap`, `gate-canary-unbounded`, `gate-count-unbounded`: docs/gates.md)
 * and across rollouts (unique rollout names, `one-dynamic-per-firmware`,
 * `later-dynamic-wins`, `device-single-job`). Every check sorts or hashes, never compares all
 * pairs. Uses the context of validate.c. */
#include "validate_internal.h"

#include <stdlib.h>
#include <string.h>

/* ---- a small string set (for version coverage) ---------------------------------------------- */

struct strset {
	const char **slots;
	size_t mask;
};

static size_t str_hash(const char *s)
{
	size_t h = 1469598103934665603ULL;
	for (; *s; s++)
		h = (h ^ (unsigned char)*s) * 1099511628211ULL;
	return h;
}

static void strset_init(struct vx_ctx *c, struct strset *s, size_t capacity)
{
	size_t n = 16;
	while (n < capacity * 2)
		n *= 2;
	s->slots = vx_alloc(c, n * sizeof *s->slots);
	s->mask = n - 1;
}

/* Returns 1 when `key` was already present. */
static int strset_add(struct strset *s, const char *key, int insert)
{
	for (size_t i = str_hash(key) & s->mask;; i = (i + 1) & s->mask) {
		if (!s->slots[i]) {
			if (insert)
				s->slots[i] = key;
			return 0;
		}
		if (strcmp(s->slots[i], key) == 0)
			return 1;
	}
}

/* ---- within a rollout ----------------------------------------------------------------------- */

static void wave_names(struct vx_ctx *c, struct validate_rollout *r, const struct validate_raw_rollout *raw,
		       struct vx_named *sorted, size_t *nsorted)
{
	size_t n = 0;
	for (size_t j = 0; j < r->nwaves; j++) {
		struct validate_wave *w = &r->waves[j];
		vx_at(c, r, w);
		if (raw->waves[j].name.type != VALIDATE_STRING)
			vx_diag(c, VALIDATE_ERROR, "wave-name", "name",
				"wave %zu of rollout \"%s\" has no name: write wave \"NAME\" { ... }", j + 1, r->name ? r->name : "?");
		else if (!vx_name_valid(w->name))
			vx_diag(c, VALIDATE_ERROR, "wave-name", "name",
				"wave name \"%s\" is invalid: use 1–64 characters of A-Z, a-z, 0-9, '.', '_' and '-'", w->name);
		if (w->name)
			sorted[n++] = (struct vx_named){ w->name, j };
	}
	qsort(sorted, n, sizeof *sorted, vx_named_cmp);
	for (size_t i = 1; i < n; i++) {
		if (strcmp(sorted[i].name, sorted[i - 1].name) != 0)
			continue;
		const struct validate_wave *first = &r->waves[sorted[i - 1].index];
		vx_at(c, r, &r->waves[sorted[i].index]);
		vx_diag(c, VALIDATE_ERROR, "wave-name", "name",
			"wave name \"%s\" is used twice in rollout \"%s\" (first at line %d): wave names must be unique",
			sorted[i].name, r->name ? r->name : "?", first->line);
	}
	*nsorted = n;
}

static void wave_after(struct vx_ctx *c, struct validate_rollout *r, const struct vx_named *sorted, size_t n)
{
	for (size_t j = 0; j < r->nwaves; j++) {
		struct validate_wave *w = &r->waves[j];
		if (!w->after_explicit) {
			w->after = j > 0 ? r->waves[j - 1].name : NULL;
			continue;
		}
		struct vx_named key = { w->after, 0 };
		const struct vx_named *lo = sorted, *hi = sorted + n;
		while (lo < hi) { /* the first entry with this name */
			const struct vx_named *mid = lo + (hi - lo) / 2;
			if (strcmp(mid->name, key.name) < 0)
				lo = mid + 1;
			else
				hi = mid;
		}
		vx_at(c, r, w);
		if (lo == sorted + n || strcmp(lo->name, w->after) != 0)
			vx_diag(c, VALIDATE_ERROR, "wave-after", "after",
				"after = \"%s\" names no wave of rollout \"%s\": it must name an earlier wave", w->after,
				r->name ? r->name : "?");
		else if (lo->index >= j)
			vx_diag(c, VALIDATE_ERROR, "wave-after", "after",
				"after = \"%s\" names %s: it must name an earlier wave", w->after,
				lo->index == j ? "this wave itself" : "a later wave");
	}
}

/* Each dynamic wave's strategy is cancelled when a later dynamic wave starts; the versions it
 * targets that no later dynamic wave targets stop being upgraded from then on. */
static void superseded_coverage(struct vx_ctx *c, const struct validate_rollout *r)
{
	size_t total = 0;
	for (size_t j = 0; j < r->nwaves; j++)
		total += r->waves[j].nversions;
	struct strset later;
	strset_init(c, &later, total);
	const struct validate_wave *next = NULL;
	for (size_t j = r->nwaves; j-- > 0;) {
		const struct validate_wave *w = &r->waves[j];
		if (w->kind != VALIDATE_DYNAMIC)
			continue;
		if (next && w->has_versions) {
			char *lost = NULL;
			size_t nlost = 0;
			for (size_t i = 0; i < w->nversions; i++) {
				if (strset_add(&later, w->versions[i], 0))
					continue;
				if (nlost++ < 5)
					lost = lost ? vx_printf(c, "%s, %s", lost, w->versions[i]) : vx_printf(c, "%s", w->versions[i]);
			}
			if (nlost) {
				vx_at(c, r, w);
				vx_diag(c, VALIDATE_WARNING, "superseded-coverage", "SrcVersion.N",
					"when wave \"%s\" starts, this wave's dynamic strategy is cancelled, and no later dynamic wave "
					"targets %s%s: devices reporting %s later are not upgraded",
					next->name ? next->name : "?", lost, nlost > 5 ? vx_printf(c, " and %zu more", nlost - 5) : "",
					nlost == 1 ? "it" : "them");
			}
		}
		for (size_t i = 0; i < w->nversions; i++)
			strset_add(&later, w->versions[i], 1);
		next = w;
	}
}

/* "6h", "1h30m", "45m", "30s" */
static char *short_duration(struct vx_ctx *c, long long secs)
{
	long long h = secs / 3600, m = secs % 3600 / 60;
	if (secs < 60)
		return vx_printf(c, "%llds", secs);
	if (h && m)
		return vx_printf(c, "%lldh%lldm", h, m);
	return h ? vx_printf(c, "%lldh", h) : vx_printf(c, "%lldm", m);
}

/* A dynamic wave over versions upgrades every device on them, now and as they report in: its size
 * has no bound but its rate times the time its gate watches it. Such a wave is no canary (the first
 * gated wave, with waves after it), and a count threshold on it trips for a firmware its own
 * ratios accept once rate x soak x the accepted failure rate exceeds max_failed. */
static void gate_rules(struct vx_ctx *c, const struct validate_rollout *r)
{
	int seen = 0;
	for (size_t j = 0; j < r->nwaves; j++) {
		const struct validate_wave *w = &r->waves[j];
		if (!w->has_gate)
			continue;
		int canary = !seen && j + 1 < r->nwaves;
		seen = 1;
		if (w->kind != VALIDATE_DYNAMIC || !w->has_versions || !w->nversions)
			continue;
		const struct validate_gate *g = &w->gate;
		long long reach = w->has_rate && g->has_soak ? w->rate * (g->soak / 60) : -1;
		char *vers = vx_printf(c, "%s%s", w->versions[0], w->nversions > 1 ? " and the other versions listed" : "");
		char *how = reach >= 0 ? vx_printf(c, "at %lld a minute over its %s soak that is up to %lld devices", w->rate,
						 short_duration(c, g->soak), reach)
				       : vx_printf(c, "as long as its gate is read");
		vx_at(c, r, w);
		if (canary)
			vx_diag(c, VALIDATE_WARNING, "gate-canary-unbounded", "SrcVersion.N",
				"wave \"%s\" is the rollout's canary (its first gated wave), but a dynamic wave over %s has no "
				"bound on its size: it takes every device on %s that reports in, %s. Give the canary a bounded "
				"sample: kind = \"static\" with percent = (and versions =), a group, or devices = { ... }",
				w->name ? w->name : "?", vers, vers, how);
		if (!g->has_max_failed)
			continue;
		double p = -1;
		const char *which = "min_success";
		if (g->has_min_success)
			p = 1 - g->min_success;
		if (g->has_max_failed_ratio && (p < 0 || g->max_failed_ratio < p)) {
			p = g->max_failed_ratio;
			which = "max_failed_ratio";
		}
		if (p > 0 && (reach < 0 || (double)reach * p > (double)g->max_failed))
			vx_diag(c, VALIDATE_WARNING, "gate-count-unbounded", "gate",
				"gate.max_failed = %lld counts devices, not a share, and this dynamic wave grows: %s, so a "
				"firmware failing at the rate its %s accepts (%g%%) fails %s devices and trips the gate for "
				"certain. Bound the wave (static percent, group, devices) or judge it by %s alone",
				g->max_failed, how, which, p * 100,
				reach >= 0 ? vx_printf(c, "about %.0f", (double)reach * p) : vx_printf(c, "ever more"), which);
	}
}

/* Static waves whose targets overlap: a device still pending in the earlier wave's job gets a task
 * in the later one that the platform fails at once (docs/platform-assumptions.md, "Overlapping
 * static waves"). Versions and groups are hashed to the latest earlier wave that targets them; a
 * percent or all wave without versions targets every version. overwrite = "replace" cancels the
 * old task instead, so such a wave is not warned about. */
struct vermap {
	struct strset keys;
	const struct validate_wave **vals;
};

static const struct validate_wave *vermap_get(struct vermap *m, const char *key)
{
	for (size_t i = str_hash(key) & m->keys.mask; m->keys.slots[i]; i = (i + 1) & m->keys.mask)
		if (strcmp(m->keys.slots[i], key) == 0)
			return m->vals[i];
	return NULL;
}

static void vermap_put(struct vermap *m, const char *key, const struct validate_wave *w)
{
	size_t i = str_hash(key) & m->keys.mask;
	for (; m->keys.slots[i]; i = (i + 1) & m->keys.mask)
		if (strcmp(m->keys.slots[i], key) == 0)
			break;
	m->keys.slots[i] = key;
	m->vals[i] = w;
}

static void static_overlap(struct vx_ctx *c, const struct validate_rollout *r)
{
	size_t total = 0;
	for (size_t j = 0; j < r->nwaves; j++)
		total += r->waves[j].nversions + 1;
	struct vermap versions, groups;
	strset_init(c, &versions.keys, total);
	versions.vals = vx_alloc(c, (versions.keys.mask + 1) * sizeof *versions.vals);
	strset_init(c, &groups.keys, r->nwaves);
	groups.vals = vx_alloc(c, (groups.keys.mask + 1) * sizeof *groups.vals);
	const struct validate_wave *every = NULL, *any_versioned = NULL;
	for (size_t j = 0; j < r->nwaves; j++) {
		const struct validate_wave *w = &r->waves[j];
		if (w->kind != VALIDATE_STATIC || w->has_devices)
			continue;
		int shared = !w->group && (w->has_percent || w->all);
		const struct validate_wave *earlier = NULL;
		const char *what = NULL;
		if (w->group) {
			earlier = vermap_get(&groups, w->group);
			what = w->group;
		} else if (shared && every) {
			earlier = every;
		} else if (shared && !w->has_versions) {
			earlier = any_versioned;
		} else if (shared) {
			for (size_t i = 0; i < w->nversions && !earlier; i++)
				if ((earlier = vermap_get(&versions, w->versions[i])))
					what = w->versions[i];
		}
		if (earlier && !(w->overwrite && strcmp(w->overwrite, "replace") == 0)) {
			vx_at(c, r, w);
			vx_diag(c, VALIDATE_WARNING, "static-overlap", "TargetSelection",
				"wave \"%s\" can target devices that still have a pending task of wave \"%s\" (line %d%s%s): "
				"the platform fails such a task at once. The gate does not count these failures; to avoid them, "
				"give wave \"%s\" a finish before this wave starts, or set overwrite = \"replace\" here",
				w->name ? w->name : "?", earlier->name ? earlier->name : "?", earlier->line,
				what ? (w->group ? ", group " : ", version ") : "", what ? what : "",
				earlier->name ? earlier->name : "?");
		}
		if (w->group)
			vermap_put(&groups, w->group, w);
		else if (shared && !w->has_versions)
			every = w;
		else if (shared) {
			any_versioned = w;
			for (size_t i = 0; i < w->nversions; i++)
				vermap_put(&versions, w->versions[i], w);
		}
	}
}

void vx_rollout_rules(struct vx_ctx *c, struct validate_rollout *r, const struct validate_raw_rollout *raw)
{
	struct vx_named *sorted = vx_alloc(c, (r->nwaves ? r->nwaves : 1) * sizeof *sorted);
	size_t n;
	vx_at(c, r, NULL);
	if (!r->name || !vx_name_valid(r->name))
		vx_diag(c, VALIDATE_ERROR, "wave-name", "name",
			"rollout name \"%s\" is invalid: use 1–64 characters of A-Z, a-z, 0-9, '.', '_' and '-'",
			r->name ? r->name : "");
	wave_names(c, r, raw, sorted, &n);
	wave_after(c, r, sorted, n);
	superseded_coverage(c, r);
	static_overlap(c, r);
	gate_rules(c, r);
}
