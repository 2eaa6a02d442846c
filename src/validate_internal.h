/* validate_internal: what validate.c, validate_fields.c and validate_rules.c share and nobody
 * else sees: the checking context (arena, out-of-memory escape, diagnostics, current location)
 * and the wave field schema. */
#ifndef OTARUN_VALIDATE_INTERNAL_H
#define OTARUN_VALIDATE_INTERNAL_H

#include "suggest.h"
#include "timefmt.h"
#include "validate.h"

#include <setjmp.h>
#include <stdint.h>

struct vx_ctx {
	struct validate_arena *arena;
	jmp_buf oom;
	const struct validate_options *opts;
	struct validate_diagnostic *diags;
	size_t ndiags, cap;
	/* Where the findings being made belong. */
	const char *file;
	int line;
	const char *rollout;
	const char *wave;
};

/* Allocation that escapes to validate_check on failure, so callers need no NULL checks. */
void *vx_alloc(struct vx_ctx *c, size_t n);
char *vx_printf(struct vx_ctx *c, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
void vx_diag(struct vx_ctx *c, enum validate_severity sev, const char *rule, const char *param,
	     const char *fmt, ...) __attribute__((format(printf, 5, 6)));
/* Findings from now on belong to rollout r (and wave w, when not NULL). */
void vx_at(struct vx_ctx *c, const struct validate_rollout *r, const struct validate_wave *w);
/* A name and its position, sorted by name, then position (qsort with vx_named_cmp). */
struct vx_named {
	const char *name;
	size_t index;
};
int vx_named_cmp(const void *a, const void *b);
/* 0 when v has type t; else reports `field-type` ("LABEL must be WHAT, got ...") and returns -1. */
int vx_want(struct vx_ctx *c, const struct validate_value *v, enum validate_type t, const char *label,
	    const char *param, const char *what);
/* `string "fast"`, `number 1.5`, `table`: for "got ..." in messages. */
const char *vx_describe(struct vx_ctx *c, const struct validate_value *v);
/* 0 (and an error diagnostic) when a string value holds a control character or NUL */
int vx_text_valid(struct vx_ctx *c, const struct validate_value *v, const char *label, const char *param);
const struct validate_value *vx_get(const struct validate_value *table, const char *key);
/* Reports unknown keys of a nested table (`retry`, `gate`, `window`, `firmware`). */
void vx_check_keys(struct vx_ctx *c, const struct validate_value *t, const char *prefix,
		   const char *const *known, size_t nknown);

/* Wave fields, in the order the documentation lists them. */
enum vx_field {
	VF_KIND, VF_VERSIONS, VF_GROUP, VF_DEVICES, VF_PERCENT, VF_ALL, VF_RATE, VF_RETRY, VF_TIMEOUT,
	VF_OVERWRITE, VF_MODE, VF_PUSH, VF_CONFIRM, VF_MULTI_MODULE, VF_PROTOCOL, VF_TAGS, VF_FINISH,
	VF_AFTER, VF_START, VF_DELAY, VF_WINDOW, VF_APPROVE, VF_GATE, VF_ON_FAIL, VF_COUNT
};
#define VF_BIT(f) ((uint32_t)1 << (f))
#define VF_TARGETS (VF_BIT(VF_VERSIONS) | VF_BIT(VF_GROUP) | VF_BIT(VF_DEVICES) | VF_BIT(VF_PERCENT) | VF_BIT(VF_ALL))
#define VF_STATIC_ONLY (VF_BIT(VF_DEVICES) | VF_BIT(VF_PERCENT) | VF_BIT(VF_ALL) | VF_BIT(VF_FINISH))
#define VF_DYNAMIC_ONLY (VF_BIT(VF_MODE))

extern const char *const vx_wave_field_names[VF_COUNT];
extern const char *const vx_wave_field_params[VF_COUNT];

/* One source of wave fields (a wave's own table or `defaults`), parsed field by field. */
struct vx_wave_part {
	struct validate_wave w;
	uint32_t given; /* fields written */
	uint32_t valid; /* fields that parsed; their values are in w */
};

/* validate_window.c: the window field of a wave (or of defaults). */
#define VX_WINDOW_FIELD_COUNT 4
extern const char *const vx_window_fields[VX_WINDOW_FIELD_COUNT];
void vx_parse_window(struct vx_ctx *c, const struct validate_value *v, const char *label, struct vx_wave_part *p);
void vx_parse_wave_fields(struct vx_ctx *c, const struct validate_value *t, const char *prefix,
			  struct vx_wave_part *out);
/* Fills the rollout-level fields of `out` and parses its `defaults` into `defaults`. */
void vx_parse_rollout_fields(struct vx_ctx *c, const struct validate_raw_rollout *raw,
			     struct validate_rollout *out, struct vx_wave_part *defaults);
/* The wave = its own fields over the defaults; `from_defaults` says which fields came from there. */
void vx_merge_wave(struct vx_ctx *c, const struct vx_wave_part *own, const struct vx_wave_part *defaults,
		   struct validate_wave *out, uint32_t *from_defaults);

/* The rollout's `notify` (one target table or a list of them) into r->notify (validate_notify.c). */
void vx_parse_notify(struct vx_ctx *c, const struct validate_value *v, struct validate_rollout *r);

void vx_wave_rules(struct vx_ctx *c, const struct validate_rollout *r, const struct validate_wave *w,
		   uint32_t from_defaults, uint32_t *reported_once);
void vx_rollout_rules(struct vx_ctx *c, struct validate_rollout *r, const struct validate_raw_rollout *raw);
void vx_global_rules(struct vx_ctx *c, const struct validate_rollout *rs, size_t n);

int vx_name_valid(const char *s);
/* validate_field_names for "rollout" and "firmware" (their lists live in validate_rollout.c). */
const char *const *vx_rollout_field_names(const char *table, size_t *n);
/* 1 and the value when v is a number with an integer value (10 or 10.0). */
int vx_integer(const struct validate_value *v, long long *out);
int vx_strcmp_ptr(const void *a, const void *b);

/* Is this name one letter or two away from a region where IoT Platform serves instances? Rules
 * that depend on the region stay silent then: the typo is the error. (validate_rollout.c) */
int vx_region_misspelt(const char *region);

#endif
