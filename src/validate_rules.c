/* validate_rules: the rules that combine fields (a merged wave's target form, retry against
 * timeout, tags with the identity tag, MQTT, regions, schedules), the rules across a rollout's
 * waves (names, `after`, superseded coverage) and across rollouts (unique names, one dynamic job
 * per firmware, overlapping dynamic targets, devices in two jobs). Cross-wave and cross-rollout
 * checks sort or hash instead of comparing every pair, so 10,000 waves stay fast.
 * Uses the context of validate.c. */
#include "validate_internal.h"

#include <stdlib.h>
#include <string.h>

#define MQTT_MAX_BYTES (16LL * 1024 * 1024)

/* Rules that can be reported once per rollout when only defaults are involved. */
enum once_rule {
	ONCE_RETRY_REQUIRED, ONCE_RETRY_BELOW, ONCE_RETRY_1440, ONCE_OVERWRITE, ONCE_MQTT_REGION,
	ONCE_MQTT_PACKAGE, ONCE_DIFF, ONCE_TAG_COUNT, ONCE_TAG_TOTAL, ONCE_TAG_RESERVED,
};

struct wave_check {
	struct vx_ctx *c;
	const struct validate_rollout *r;
	const struct validate_wave *w;
	uint32_t from_defaults;
	uint32_t *reported_once;
};

/* A finding caused only by defaults goes to the rollout's line, once; otherwise to the wave. */
static int at_rollout_once(struct wave_check *k, uint32_t fields, int once)
{
	if (!fields || (fields & ~k->from_defaults))
		return 0;
	if (*k->reported_once & (1u << once))
		return -1;
	*k->reported_once |= 1u << once;
	return 1;
}

#define EMIT(k, fields, once, sev, rule, param, ...) do { \
	int where_ = at_rollout_once((k), (fields), (once)); \
	if (where_ < 0) break; \
	int line_ = (k)->c->line; const char *wave_ = (k)->c->wave; \
	if (where_) { (k)->c->line = (k)->r->line; (k)->c->wave = NULL; } \
	vx_diag((k)->c, (sev), (rule), (param), __VA_ARGS__); \
	(k)->c->line = line_; (k)->c->wave = wave_; \
} while (0)

static void target_rules(struct wave_check *k)
{
	struct vx_ctx *c = k->c;
	const struct validate_wave *w = k->w;
	const char *P = "TargetSelection";
	if (w->kind == VALIDATE_DYNAMIC) {
		const char *misplaced = w->has_devices ? "devices" : w->has_percent ? "percent" : w->all ? "all" :
					(w->has_finish_at || w->has_finish_after) ? "finish" : NULL;
		if (misplaced)
			vx_diag(c, VALIDATE_ERROR, "target-exclusive", misplaced,
				"%s is for static waves only: add kind = \"static\" or remove %s", misplaced, misplaced);
		if (w->has_versions + (w->group != NULL) != 1)
			vx_diag(c, VALIDATE_ERROR, "target-exclusive", P,
				"a dynamic wave takes exactly one of versions, group (it has %s)",
				w->has_versions && w->group ? "both" : "neither");
		return;
	}
	if (w->mode)
		vx_diag(c, VALIDATE_ERROR, "target-exclusive", "DynamicMode",
			"mode is for dynamic waves only: remove it or drop kind = \"static\"");
	int forms = w->has_devices + w->has_percent + (w->all != 0) + (w->group != NULL);
	if (forms != 1)
		vx_diag(c, VALIDATE_ERROR, "target-exclusive", P,
			"a static wave takes exactly one of devices, percent, all, group (it has %s)",
			forms ? "more than one" : "none");
	else if (w->has_versions && (w->has_devices || w->group))
		vx_diag(c, VALIDATE_ERROR, "target-exclusive", "SrcVersion.N",
			"versions may only narrow percent or all; a static wave with %s cannot take versions",
			w->has_devices ? "devices" : "group");
}

static void diff_package_rule(struct wave_check *k)
{
	const struct validate_firmware *fw = &k->r->firmware;
	const struct validate_wave *w = k->w;
	if (!fw->type || strcmp(fw->type, "diff") != 0 || !fw->src_version)
		return;
	if (w->has_versions && (w->nversions != 1 || strcmp(w->versions[0], fw->src_version) != 0))
		EMIT(k, VF_BIT(VF_VERSIONS), ONCE_DIFF, VALIDATE_ERROR, "src-version-diff-package", "SrcVersion.N",
		     "firmware %s is a differential package from %s: versions must be exactly { \"%s\" }",
		     fw->id ? fw->id : "", fw->src_version, fw->src_version);
	else if (!w->has_versions && w->kind == VALIDATE_STATIC && (w->has_percent || w->all))
		/* the platform skips devices on other versions (docs/platform-assumptions.md) */
		vx_diag(k->c, VALIDATE_WARNING, "src-version-diff-package", "SrcVersion.N",
			"firmware %s is a differential package from %s: the platform skips every device of this wave that "
			"is not on %s (they get no task); narrow the wave with versions = { \"%s\" } to say so",
			fw->id ? fw->id : "", fw->src_version, fw->src_version, fw->src_version);
}

static size_t utf8_chars(const char *s)
{
	size_t n = 0;
	for (; *s; s++)
		n += ((unsigned char)*s & 0xC0) != 0x80;
	return n;
}

static void tag_rules(struct wave_check *k)
{
	const struct validate_wave *w = k->w;
	uint32_t tags = k->r->identity ? 0 : VF_BIT(VF_TAGS); /* the identity tag differs per wave */
	size_t count = w->ntags, total = 0;
	for (size_t i = 0; i < w->ntags; i++) {
		total += utf8_chars(w->tags[i].key) + utf8_chars(w->tags[i].value);
		if (k->r->identity && strcmp(w->tags[i].key, "otarun") == 0)
			EMIT(k, VF_BIT(VF_TAGS), ONCE_TAG_RESERVED, VALIDATE_ERROR, "tag-key-format", "Tag.N.Key",
			     "tag key \"otarun\" is reserved for otarun's identity tag: rename it or set identity = false");
	}
	const char *ident = "";
	if (w->identity_value) {
		count++;
		total += 6 + utf8_chars(w->identity_value);
		ident = " (including the identity tag otarun; identity = false turns it off)";
	}
	if (count > 10)
		EMIT(k, tags, ONCE_TAG_COUNT, VALIDATE_ERROR, "tag-count", "Tag",
		     "%zu tags are too many: a job takes at most 10 tags%s", count, ident);
	if (total > 4096)
		EMIT(k, tags, ONCE_TAG_TOTAL, VALIDATE_ERROR, "tag-total-length", "Tag",
		     "tags have %zu characters of keys and values: at most 4096%s", total, ident);
}

static void retry_rules(struct wave_check *k)
{
	const struct validate_wave *w = k->w;
	uint32_t rt = VF_BIT(VF_RETRY) | VF_BIT(VF_TIMEOUT);
	if (w->has_retry_interval && !w->has_retry_count)
		EMIT(k, VF_BIT(VF_RETRY), ONCE_RETRY_REQUIRED, VALIDATE_ERROR, "retry-count-required", "RetryCount",
		     "retry.interval %lld needs a retry.count (1, 2 or 5)", w->retry_interval);
	if (w->has_retry_interval && w->has_timeout && w->retry_interval >= w->timeout)
		EMIT(k, rt, ONCE_RETRY_BELOW, VALIDATE_ERROR, "retry-interval-below-timeout", "RetryInterval",
		     "retry.interval %lld must be less than timeout %lld minutes (RetryInterval < TimeoutInMinutes)",
		     w->retry_interval, w->timeout);
	if (w->has_retry_interval && w->retry_interval == 1440 && w->has_timeout)
		EMIT(k, rt, ONCE_RETRY_1440, VALIDATE_WARNING, "retry-1440-with-timeout", "RetryInterval",
		     "retry.interval 1440 with a timeout: a timed-out update is never retried; drop the timeout");
}

static void platform_rules(struct wave_check *k)
{
	struct vx_ctx *c = k->c;
	const struct validate_wave *w = k->w;
	const struct validate_rollout *r = k->r;
	const struct validate_firmware *fw = &r->firmware;
	if (w->overwrite && strcmp(w->overwrite, "replace") == 0 && w->multi_module == VALIDATE_TRUE)
		EMIT(k, VF_BIT(VF_OVERWRITE) | VF_BIT(VF_MULTI_MODULE), ONCE_OVERWRITE, VALIDATE_ERROR,
		     "overwrite-multi-module", "OverwriteMode",
		     "overwrite = \"replace\" (OverwriteMode 2) cannot be combined with multi_module = true");
	if (w->protocol && strcmp(w->protocol, "MQTT") == 0) {
		if (r->region && !vx_region_misspelt(r->region) && strcmp(r->region, "cn-shanghai") != 0 && strcmp(r->region, "cn-beijing") != 0 &&
		    strcmp(r->region, "cn-shenzhen") != 0)
			EMIT(k, VF_BIT(VF_PROTOCOL), ONCE_MQTT_REGION, VALIDATE_ERROR, "mqtt-region", "DownloadProtocol",
			     "protocol MQTT is not available in %s: only cn-shanghai, cn-beijing and cn-shenzhen (use HTTPS)",
			     r->region);
		if (fw->has_files && fw->files != 1)
			EMIT(k, VF_BIT(VF_PROTOCOL), ONCE_MQTT_PACKAGE, VALIDATE_ERROR, "mqtt-package", "DownloadProtocol",
			     "protocol MQTT needs a package of exactly one file; firmware %s has %lld (use HTTPS)",
			     fw->id ? fw->id : "", fw->files);
		else if (fw->has_size && fw->size > MQTT_MAX_BYTES)
			EMIT(k, VF_BIT(VF_PROTOCOL), ONCE_MQTT_PACKAGE, VALIDATE_ERROR, "mqtt-package", "DownloadProtocol",
			     "protocol MQTT takes packages of at most 16 MB (16777216 bytes); firmware %s has %lld bytes "
			     "(use HTTPS)", fw->id ? fw->id : "", fw->size);
	}
	if (w->kind == VALIDATE_DYNAMIC && w->group && r->region && !vx_region_misspelt(r->region) &&
	    strcmp(r->region, "cn-shanghai") != 0)
		vx_diag(c, VALIDATE_ERROR, "dynamic-group-region", "GroupId",
			"dynamic waves on a group work only in cn-shanghai, not %s: target versions instead", r->region);
}

static void schedule_rule(struct wave_check *k)
{
	const struct validate_wave *w = k->w;
	long long span, start = w->has_start ? w->start : k->c->opts->now;
	if (w->kind != VALIDATE_STATIC || !(w->has_finish_at || w->has_finish_after))
		return;
	span = w->has_finish_after ? w->finish_after : w->finish_at - start;
	if (span < 3600 || span > 30LL * 86400) {
		char a[40], b[40];
		const char *from = w->has_start ? "start" : "now";
		timefmt_format_time(start, 0, a, sizeof a);
		timefmt_format_time(start + span, 0, b, sizeof b);
		vx_diag(k->c, VALIDATE_ERROR, "static-schedule", "ScheduleFinishTime",
			"finish %s is %lld seconds after %s %s: ScheduleFinishTime must be 1h to 30d after the start",
			b, span, from, a);
	}
}

void vx_wave_rules(struct vx_ctx *c, const struct validate_rollout *r, const struct validate_wave *w,
		   uint32_t from_defaults, uint32_t *reported_once)
{
	struct wave_check k = { c, r, w, from_defaults, reported_once };
	target_rules(&k);
	diff_package_rule(&k);
	tag_rules(&k);
	retry_rules(&k);
	platform_rules(&k);
	schedule_rule(&k);
}
