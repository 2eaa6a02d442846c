/* validate_rollout: the rollout-level fields (product, region, instance, identity, firmware and
 * its facts, defaults, notify) and the merge of defaults into each wave. Uses validate_fields.c to
 * parse `defaults` like a wave, validate_notify.c for `notify`, and the context of validate.c. */
#include "validate_internal.h"

#include <string.h>

static const char *const rollout_fields[] = { "product", "region", "instance", "identity", "firmware", "defaults",
					       "notify" };
static const char *const firmware_fields[] = { "id", "version", "type", "src_version", "size", "files", "verified", "verify" };
#define COUNT(a) (sizeof(a) / sizeof((a)[0]))

static const char *opt_string(struct vx_ctx *c, const struct validate_value *v, const char *label, const char *param)
{
	if (!v || vx_want(c, v, VALIDATE_STRING, label, param, "a string"))
		return NULL;
	return vx_text_valid(c, v, label, param) ? v->string : NULL;
}

static int opt_bool(struct vx_ctx *c, const struct validate_value *v, const char *label, const char *param)
{
	return v && !vx_want(c, v, VALIDATE_BOOLEAN, label, param, "true or false") ? v->boolean : VALIDATE_UNSET;
}

static void parse_firmware_facts(struct vx_ctx *c, const struct validate_value *t, struct validate_firmware *fw)
{
	const struct validate_value *v;
	char err[200];
	vx_check_keys(c, t, "firmware", firmware_fields, COUNT(firmware_fields));
	fw->id = opt_string(c, vx_get(t, "id"), "firmware.id", "FirmwareId");
	fw->version = opt_string(c, vx_get(t, "version"), "firmware.version", "firmware.version");
	fw->src_version = opt_string(c, vx_get(t, "src_version"), "firmware.src_version", "firmware.src_version");
	if ((v = vx_get(t, "type"))) {
		if (v->type == VALIDATE_STRING && (strcmp(v->string, "full") == 0 || strcmp(v->string, "diff") == 0))
			fw->type = v->string;
		else
			vx_diag(c, VALIDATE_ERROR, "field-type", "firmware.type",
				"firmware.type must be \"full\" or \"diff\", got %s", vx_describe(c, v));
	}
	if ((v = vx_get(t, "size"))) {
		if (vx_integer(v, &fw->size) && fw->size >= 0) {
			fw->has_size = 1;
		} else if (v->type == VALIDATE_STRING && validate_parse_size(v->string, &fw->size, err, sizeof err) == 0) {
			fw->has_size = 1;
		} else {
			vx_diag(c, VALIDATE_ERROR, "field-type", "firmware.size",
				"firmware.size must be a number of bytes or a size like \"12MB\", got %s", vx_describe(c, v));
		}
	}
	if ((v = vx_get(t, "files"))) {
		if (vx_integer(v, &fw->files) && fw->files >= 0) {
			fw->has_files = 1;
		} else if (v->type == VALIDATE_TABLE && !v->nfields && !v->nother) {
			fw->has_files = 1;
			fw->files = (long long)v->nitems;
		} else {
			vx_diag(c, VALIDATE_ERROR, "field-type", "firmware.files",
				"firmware.files must be a number of files or a list of them, got %s", vx_describe(c, v));
		}
	}
	fw->verified = opt_bool(c, vx_get(t, "verified"), "firmware.verified", "firmware.verified");
	fw->verify = opt_bool(c, vx_get(t, "verify"), "firmware.verify", "firmware.verify");
}

static void parse_firmware(struct vx_ctx *c, const struct validate_value *v, struct validate_firmware *fw)
{
	fw->verified = fw->verify = VALIDATE_UNSET;
	if (v && v->type == VALIDATE_STRING)
		fw->id = v->string;
	else if (v && v->type == VALIDATE_TABLE)
		parse_firmware_facts(c, v, fw);
	else if (v)
		vx_diag(c, VALIDATE_ERROR, "field-type", "FirmwareId",
			"firmware must be a FirmwareId string or firmware { id = ..., ... }, got %s", vx_describe(c, v));
	if (fw->id && !fw->id[0])
		fw->id = NULL;
	if (!fw->id && (!v || v->type == VALIDATE_TABLE || v->type == VALIDATE_STRING))
		vx_diag(c, VALIDATE_ERROR, "required-firmware", "FirmwareId",
			"rollout \"%s\" has no firmware: give firmware = \"<FirmwareId>\" or firmware { id = \"<FirmwareId>\" }",
			c->rollout ? c->rollout : "?");
	if (fw->verified == VALIDATE_FALSE && fw->verify != VALIDATE_FALSE)
		vx_diag(c, VALIDATE_ERROR, "firmware-unverified", "FirmwareId",
			"firmware %s is not verified: run a verification job (CreateOTAVerifyJob) first, or declare "
			"verify = false if the package was created without verification", fw->id ? fw->id : "");
}

/* The regions where IoT Platform serves instances (docs/regions.md). A name
 * close to one of them is a typo and an error; another name only a warning, since Enterprise
 * Edition instances open in regions this list may not know yet. */
static const char *const iot_regions[] = { "cn-shanghai", "cn-beijing", "cn-shenzhen", "ap-southeast-1",
					   "ap-northeast-1", "us-west-1", "us-east-1", "eu-central-1" };
#define IOT_REGION_LIST "cn-shanghai, cn-beijing, cn-shenzhen, ap-southeast-1, ap-northeast-1, us-west-1, " \
			"us-east-1, eu-central-1"

static int region_listed(const char *region)
{
	for (size_t i = 0; i < sizeof iot_regions / sizeof iot_regions[0]; i++)
		if (strcmp(region, iot_regions[i]) == 0)
			return 1;
	return 0;
}

int vx_region_misspelt(const char *region)
{
	return !region_listed(region) &&
	       suggest_closest(region, iot_regions, sizeof iot_regions / sizeof iot_regions[0]) != NULL;
}

static void check_region(struct vx_ctx *c, const char *region)
{
	if (region_listed(region))
		return;
	const char *near = suggest_closest(region, iot_regions, sizeof iot_regions / sizeof iot_regions[0]);
	if (near)
		vx_diag(c, VALIDATE_ERROR, "region-unknown", "region",
			"region \"%s\" is not an IoT Platform region: did you mean \"%s\"? (regions: " IOT_REGION_LIST ")",
			region, near);
	else
		vx_diag(c, VALIDATE_WARNING, "region-unlisted", "region",
			"region \"%s\" is not one where IoT Platform is documented (" IOT_REGION_LIST "): check the "
			"name, or ignore this for an Enterprise Edition instance in a newer region", region);
}

static void unknown_rollout_field(struct vx_ctx *c, const char *k)
{
	int f;
	for (f = 0; f < VF_COUNT && strcmp(vx_wave_field_names[f], k) != 0; f++)
		;
	if (f < VF_COUNT) {
		vx_diag(c, VALIDATE_ERROR, "unknown-field", k,
			"\"%s\" is a wave field, not a rollout field: put it in a wave or in defaults = { %s = ... }", k, k);
		return;
	}
	if (strcmp(k, "waves") == 0 || strcmp(k, "wave") == 0) {
		vx_diag(c, VALIDATE_ERROR, "unknown-field", k,
			"\"%s\" is not a field of rollout \"%s\": write each wave inside the rollout's braces as "
			"wave \"NAME\" { ... }, separated by commas (no waves = { ... } around them)", k,
			c->rollout ? c->rollout : "?");
		return;
	}
	const char *s = suggest_closest(k, rollout_fields, COUNT(rollout_fields));
	if (s)
		vx_diag(c, VALIDATE_ERROR, "unknown-field", k, "unknown field \"%s\" in rollout \"%s\": did you mean \"%s\"?",
			k, c->rollout ? c->rollout : "?", s);
	else
		vx_diag(c, VALIDATE_ERROR, "unknown-field", k,
			"unknown field \"%s\" in rollout \"%s\" (rollout fields: product, region, instance, identity, "
			"firmware, defaults, notify, and waves)", k, c->rollout ? c->rollout : "?");
}

void vx_parse_rollout_fields(struct vx_ctx *c, const struct validate_raw_rollout *raw, struct validate_rollout *r,
			     struct vx_wave_part *defaults)
{
	const struct validate_value *t = &raw->fields, *v;
	r->name = raw->name;
	r->file = raw->file;
	r->line = raw->line;
	r->identity = 1;
	defaults->w.push = defaults->w.confirm = defaults->w.multi_module = VALIDATE_UNSET;
	for (size_t i = 0; t->type == VALIDATE_TABLE && i < t->nfields; i++) {
		const char *k = t->fields[i].key;
		size_t j;
		for (j = 0; j < COUNT(rollout_fields) && strcmp(rollout_fields[j], k) != 0; j++)
			;
		if (j == COUNT(rollout_fields) && strcmp(k, "name") != 0)
			unknown_rollout_field(c, k);
	}
	if (t->type == VALIDATE_TABLE && t->nother)
		vx_diag(c, VALIDATE_ERROR, "unknown-field", "rollout",
			"rollout \"%s\" has %zu keys that are neither names nor waves", raw->name ? raw->name : "?", t->nother);
	r->product = opt_string(c, vx_get(t, "product"), "product", "ProductKey");
	if (!r->product || !r->product[0]) {
		r->product = NULL;
		vx_diag(c, VALIDATE_ERROR, "required-product", "ProductKey",
			"rollout \"%s\" has no product: give product = \"<ProductKey>\"", raw->name ? raw->name : "?");
	}
	r->region = opt_string(c, vx_get(t, "region"), "region", "region");
	if (!r->region || !r->region[0])
		r->region = c->opts->region && c->opts->region[0] ? c->opts->region : NULL;
	if (!r->region)
		vx_diag(c, VALIDATE_ERROR, "required-region", "region",
			"rollout \"%s\" has no region: give region = \"cn-shanghai\" (or the like) or --region",
			raw->name ? raw->name : "?");
	if (r->region)
		check_region(c, r->region);
	r->instance = opt_string(c, vx_get(t, "instance"), "instance", "IotInstanceId");
	if ((v = vx_get(t, "identity")) && opt_bool(c, v, "identity", "identity") == VALIDATE_FALSE)
		r->identity = 0;
	parse_firmware(c, vx_get(t, "firmware"), &r->firmware);
	if ((v = vx_get(t, "notify")))
		vx_parse_notify(c, v, r);
	if ((v = vx_get(t, "defaults"))) {
		if (v->type == VALIDATE_TABLE)
			vx_parse_wave_fields(c, v, "defaults.", defaults);
		else
			vx_diag(c, VALIDATE_ERROR, "field-type", "defaults", "defaults must be a table of wave fields, got %s",
				vx_describe(c, v));
	}
}

/* ---- merge ---------------------------------------------------------------------------------- */

static void copy_field(struct validate_wave *d, const struct validate_wave *s, int f)
{
	switch (f) {
	case VF_KIND: d->kind = s->kind; break;
	case VF_VERSIONS: d->versions = s->versions; d->nversions = s->nversions; d->has_versions = s->has_versions; break;
	case VF_GROUP: d->group = s->group; break;
	case VF_DEVICES: d->devices = s->devices; d->ndevices = s->ndevices; d->has_devices = s->has_devices; break;
	case VF_PERCENT: d->has_percent = s->has_percent; d->percent = s->percent; d->percent_text = s->percent_text;
		d->percent_total = s->percent_total; break;
	case VF_ALL: d->all = s->all; break;
	case VF_RATE: d->has_rate = s->has_rate; d->rate = s->rate; break;
	case VF_RETRY:
		d->has_retry_interval = s->has_retry_interval; d->retry_interval = s->retry_interval;
		d->has_retry_count = s->has_retry_count; d->retry_count = s->retry_count;
		break;
	case VF_TIMEOUT: d->has_timeout = s->has_timeout; d->timeout = s->timeout; break;
	case VF_OVERWRITE: d->overwrite = s->overwrite; break;
	case VF_MODE: d->mode = s->mode; break;
	case VF_PUSH: d->push = s->push; break;
	case VF_CONFIRM: d->confirm = s->confirm; break;
	case VF_MULTI_MODULE: d->multi_module = s->multi_module; break;
	case VF_PROTOCOL: d->protocol = s->protocol; break;
	case VF_TAGS: d->tags = s->tags; d->ntags = s->ntags; break;
	case VF_FINISH:
		d->has_finish_at = s->has_finish_at; d->finish_at = s->finish_at;
		d->has_finish_after = s->has_finish_after; d->finish_after = s->finish_after;
		break;
	case VF_AFTER: d->after = s->after; d->after_explicit = s->after != NULL; break;
	case VF_START: d->has_start = s->has_start; d->start = s->start; break;
	case VF_DELAY: d->has_delay = s->has_delay; d->delay = s->delay; break;
	case VF_WINDOW: d->has_window = s->has_window; d->window = s->window; break;
	case VF_APPROVE: d->approve = s->approve; break;
	case VF_GATE: d->has_gate = s->has_gate; d->gate = s->gate; break;
	case VF_ON_FAIL: d->on_fail = s->on_fail; break;
	}
}

/* Tags merge key by key; both lists are sorted, and the wave's value wins. */
static void merge_tags(struct vx_ctx *c, const struct validate_wave *own, const struct validate_wave *def,
		       struct validate_wave *out)
{
	size_t i = 0, j = 0, n = 0;
	out->tags = vx_alloc(c, (own->ntags + def->ntags + 1) * sizeof *out->tags);
	while (i < own->ntags || j < def->ntags) {
		int cmp = i == own->ntags ? 1 : j == def->ntags ? -1 : strcmp(own->tags[i].key, def->tags[j].key);
		if (cmp <= 0)
			out->tags[n++] = own->tags[i++];
		else
			out->tags[n++] = def->tags[j++];
		if (cmp == 0)
			j++;
	}
	out->ntags = n;
}

/* A wave's own field replaces the default. Two refinements keep defaults useful for mixed
 * rollouts: a wave that names any target of its own takes no target from defaults (but a static
 * percent/all wave still inherits the `versions` that narrow it), and a
 * default that only fits the other kind of wave (e.g. `mode` on a static wave) is not applied. */
void vx_merge_wave(struct vx_ctx *c, const struct vx_wave_part *own, const struct vx_wave_part *def,
		   struct validate_wave *out, uint32_t *from_defaults)
{
	memset(out, 0, sizeof *out);
	out->push = out->confirm = out->multi_module = VALIDATE_UNSET;
	*from_defaults = 0;
	if (own->given & VF_BIT(VF_KIND))
		out->kind = own->w.kind;
	else if (def->valid & VF_BIT(VF_KIND))
		out->kind = def->w.kind, *from_defaults |= VF_BIT(VF_KIND);
	uint32_t skip = VF_BIT(VF_KIND) | VF_BIT(VF_TAGS);
	if (own->given & VF_TARGETS) {
		skip |= VF_TARGETS;
		/* on static percent/all waves `versions` narrows the target: it still inherits */
		if (out->kind == VALIDATE_STATIC && (own->given & (VF_BIT(VF_PERCENT) | VF_BIT(VF_ALL))))
			skip &= ~VF_BIT(VF_VERSIONS);
	}
	skip |= out->kind == VALIDATE_STATIC ? VF_DYNAMIC_ONLY : VF_STATIC_ONLY;
	for (int f = 0; f < VF_COUNT; f++) {
		if (f == VF_KIND || f == VF_TAGS)
			continue;
		if (own->given & VF_BIT(f)) {
			copy_field(out, &own->w, f);
		} else if ((def->valid & VF_BIT(f)) && !(skip & VF_BIT(f))) {
			copy_field(out, &def->w, f);
			*from_defaults |= VF_BIT(f);
		}
	}
	if ((def->valid & VF_BIT(VF_TAGS)) && !(own->given & VF_BIT(VF_TAGS)))
		*from_defaults |= VF_BIT(VF_TAGS);
	merge_tags(c, &own->w, &def->w, out);
	if (!out->on_fail)
		out->on_fail = "halt";
}

const char *const *vx_rollout_field_names(const char *table, size_t *n)
{
	if (strcmp(table, "rollout") == 0)
		return *n = COUNT(rollout_fields), rollout_fields;
	if (strcmp(table, "firmware") == 0)
		return *n = COUNT(firmware_fields), firmware_fields;
	return NULL;
}
