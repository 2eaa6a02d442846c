/* validate: the entry point of the offline validator. Owns the arena, the checking context
 * (diagnostics, the location findings belong to), and the order of work: rollout fields and
 * defaults, then each wave (own fields over defaults, then its rules), then each rollout's
 * cross-wave rules, then the rules across rollouts, then sorting. Uses validate_fields.c for
 * field parsing and validate_rules.c for the rules. */
#include "validate_internal.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ---- arena ---------------------------------------------------------------------------------- */

struct arena_chunk {
	struct arena_chunk *next;
	size_t used, size;
	_Alignas(16) unsigned char data[];
};

struct validate_arena {
	struct arena_chunk *head;
};

struct validate_arena *validate_arena_new(void)
{
	return calloc(1, sizeof(struct validate_arena));
}

void validate_arena_free(struct validate_arena *a)
{
	if (!a)
		return;
	for (struct arena_chunk *ch = a->head, *next; ch; ch = next) {
		next = ch->next;
		free(ch);
	}
	free(a);
}

void *validate_arena_alloc(struct validate_arena *a, size_t size)
{
	size = (size + 15) & ~(size_t)15;
	if (size == 0)
		size = 16;
	struct arena_chunk *ch = a->head;
	if (!ch || ch->size - ch->used < size) {
		size_t want = size > 65536 ? size : 65536;
		ch = malloc(sizeof *ch + want);
		if (!ch)
			return NULL;
		ch->size = want;
		ch->used = 0;
		ch->next = a->head;
		a->head = ch;
	}
	void *p = ch->data + ch->used;
	ch->used += size;
	memset(p, 0, size);
	return p;
}

/* ---- context helpers ------------------------------------------------------------------------ */

void *vx_alloc(struct vx_ctx *c, size_t n)
{
	void *p = validate_arena_alloc(c->arena, n);
	if (!p)
		longjmp(c->oom, 1);
	return p;
}

static char *vx_vprintf(struct vx_ctx *c, const char *fmt, va_list ap)
{
	va_list ap2;
	va_copy(ap2, ap);
	int n = vsnprintf(NULL, 0, fmt, ap2);
	va_end(ap2);
	if (n < 0)
		n = 0;
	char *s = vx_alloc(c, (size_t)n + 1);
	vsnprintf(s, (size_t)n + 1, fmt, ap);
	return s;
}

char *vx_printf(struct vx_ctx *c, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	char *s = vx_vprintf(c, fmt, ap);
	va_end(ap);
	return s;
}

void vx_at(struct vx_ctx *c, const struct validate_rollout *r, const struct validate_wave *w)
{
	c->file = r->file;
	c->rollout = r->name;
	c->line = w ? w->line : r->line;
	c->wave = w ? w->name : NULL;
}

int vx_named_cmp(const void *pa, const void *pb)
{
	const struct vx_named *a = pa, *b = pb;
	int r = strcmp(a->name, b->name);
	return r ? r : (a->index > b->index) - (a->index < b->index);
}

int vx_want(struct vx_ctx *c, const struct validate_value *v, enum validate_type t, const char *label,
	    const char *param, const char *what)
{
	if (v->type == t)
		return 0;
	vx_diag(c, VALIDATE_ERROR, "field-type", param, "%s must be %s, got %s", label, what, vx_describe(c, v));
	return -1;
}

void vx_diag(struct vx_ctx *c, enum validate_severity sev, const char *rule, const char *param,
	     const char *fmt, ...)
{
	if (c->ndiags == c->cap) {
		size_t cap = c->cap ? c->cap * 2 : 64;
		struct validate_diagnostic *d = vx_alloc(c, cap * sizeof *d);
		if (c->ndiags)
			memcpy(d, c->diags, c->ndiags * sizeof *d);
		c->diags = d;
		c->cap = cap;
	}
	struct validate_diagnostic *d = &c->diags[c->ndiags];
	va_list ap;
	va_start(ap, fmt);
	d->message = vx_vprintf(c, fmt, ap);
	va_end(ap);
	d->severity = sev;
	d->rule = rule;
	d->param = param;
	d->file = c->file;
	d->line = c->line;
	d->rollout = c->rollout;
	d->wave = c->wave;
	d->seq = c->ndiags++;
}

const char *vx_describe(struct vx_ctx *c, const struct validate_value *v)
{
	switch (v->type) {
	case VALIDATE_NIL: return "nil";
	case VALIDATE_BOOLEAN: return v->boolean ? "boolean true" : "boolean false";
	case VALIDATE_NUMBER:
		return v->is_integer ? vx_printf(c, "number %lld", v->integer) : vx_printf(c, "number %.14g", v->number);
	case VALIDATE_STRING: {
		/* what the script wrote, with control characters shown as '?' (docs/trust.md) */
		char shown[41];
		size_t n = v->len > 40 ? 37 : v->len, i;
		for (i = 0; i < n; i++) {
			unsigned char ch = (unsigned char)v->string[i];
			shown[i] = ch < 0x20 || ch == 0x7f ? '?' : (char)ch;
		}
		shown[i] = '\0';
		return vx_printf(c, v->len > 40 ? "string \"%s...\"" : "string \"%s\"", shown);
	}
	case VALIDATE_TABLE: return "a table";
	case VALIDATE_FUNCTION: return "a function";
	default: return v->string ? v->string : "an unsupported value";
	}
}

const struct validate_value *vx_get(const struct validate_value *t, const char *key)
{
	if (!t || t->type != VALIDATE_TABLE)
		return NULL;
	for (size_t i = 0; i < t->nfields; i++)
		if (strcmp(t->fields[i].key, key) == 0)
			return &t->fields[i].value;
	return NULL;
}

void vx_check_keys(struct vx_ctx *c, const struct validate_value *t, const char *prefix,
		   const char *const *known, size_t nknown)
{
	for (size_t i = 0; i < t->nfields; i++) {
		const char *k = t->fields[i].key;
		size_t j;
		for (j = 0; j < nknown && strcmp(known[j], k) != 0; j++)
			;
		if (j < nknown)
			continue;
		const char *s = suggest_closest(k, known, nknown);
		char *list = vx_printf(c, "%s", known[0]);
		for (j = 1; j < nknown; j++)
			list = vx_printf(c, "%s, %s", list, known[j]);
		if (s)
			vx_diag(c, VALIDATE_ERROR, "unknown-field", vx_printf(c, "%s.%s", prefix, k),
				"unknown field \"%s\" in %s: did you mean \"%s\"?", k, prefix, s);
		else
			vx_diag(c, VALIDATE_ERROR, "unknown-field", vx_printf(c, "%s.%s", prefix, k),
				"unknown field \"%s\" in %s (known: %s)", k, prefix, list);
	}
	if (t->nitems || t->nother)
		vx_diag(c, VALIDATE_ERROR, "unknown-field", prefix,
			"%s has positional or non-string keys; it takes only named fields", prefix);
}

int vx_integer(const struct validate_value *v, long long *out)
{
	if (v->type != VALIDATE_NUMBER)
		return 0;
	if (v->is_integer) {
		*out = v->integer;
		return 1;
	}
	if (v->number > -9.2e18 && v->number < 9.2e18 && v->number == (double)(long long)v->number) {
		*out = (long long)v->number; /* 10.0 is a fine rate */
		return 1;
	}
	return 0;
}

int vx_text_valid(struct vx_ctx *c, const struct validate_value *v, const char *label, const char *param)
{
	if (!v || v->type != VALIDATE_STRING)
		return 1;
	for (size_t i = 0; i < v->len; i++) {
		unsigned char ch = (unsigned char)v->string[i];
		if (ch < 0x20 || ch == 0x7f) {
			vx_diag(c, VALIDATE_ERROR, "control-character", param,
				"%s contains a control character (byte 0x%02x at offset %zu); it is printed in plans "
				"and logs, so it must be plain text", label, ch, i);
			return 0;
		}
	}
	return 1;
}

int vx_name_valid(const char *s)
{
	size_t n = 0;
	for (; s[n]; n++) {
		char ch = s[n];
		if (!((ch >= 'A' && ch <= 'Z') || (ch >= 'a' && ch <= 'z') || (ch >= '0' && ch <= '9') ||
		      ch == '.' || ch == '_' || ch == '-'))
			return 0;
	}
	return n >= 1 && n <= 64;
}

int vx_strcmp_ptr(const void *a, const void *b)
{
	return strcmp(*(const char *const *)a, *(const char *const *)b);
}

/* ---- the check ------------------------------------------------------------------------------ */

static int diag_cmp(const void *pa, const void *pb)
{
	const struct validate_diagnostic *a = pa, *b = pb;
	int r = strcmp(a->file ? a->file : "", b->file ? b->file : "");
	if (r)
		return r;
	if (a->line != b->line)
		return a->line < b->line ? -1 : 1;
	r = strcmp(a->rule, b->rule);
	if (r)
		return r;
	return a->seq < b->seq ? -1 : a->seq > b->seq;
}

static void check_rollout(struct vx_ctx *c, const struct validate_raw_rollout *raw, struct validate_rollout *r)
{
	struct vx_wave_part defaults;
	memset(&defaults, 0, sizeof defaults);
	c->file = raw->file;
	c->line = raw->line;
	c->rollout = raw->name;
	c->wave = NULL;
	vx_parse_rollout_fields(c, raw, r, &defaults);
	r->nwaves = raw->nwaves;
	r->waves = vx_alloc(c, (raw->nwaves ? raw->nwaves : 1) * sizeof *r->waves);
	uint32_t reported_once = 0;
	for (size_t j = 0; j < raw->nwaves; j++) {
		const struct validate_raw_wave *rw = &raw->waves[j];
		struct validate_wave *w = &r->waves[j];
		struct vx_wave_part own;
		uint32_t from_defaults;
		memset(&own, 0, sizeof own);
		c->line = rw->line;
		c->wave = rw->name.type == VALIDATE_STRING ? rw->name.string : NULL;
		vx_parse_wave_fields(c, &rw->fields, "", &own);
		vx_merge_wave(c, &own, &defaults, w, &from_defaults);
		w->name = c->wave;
		w->line = rw->line;
		w->index = (int)j + 1;
		if (r->identity && w->name && r->name)
			w->identity_value = vx_printf(c, "%s/%s", r->name, w->name);
		vx_wave_rules(c, r, w, from_defaults, &reported_once);
	}
	c->line = raw->line;
	c->wave = NULL;
	vx_rollout_rules(c, r, raw);
}

int validate_check(struct validate_arena *arena, const struct validate_raw_rollout *raw, size_t n,
		   const struct validate_options *opts, struct validate_result *out)
{
	struct vx_ctx *c = validate_arena_alloc(arena, sizeof *c);
	if (!c)
		return -1;
	memset(out, 0, sizeof *out);
	c->arena = arena;
	c->opts = opts;
	if (setjmp(c->oom))
		return -1;
	struct validate_rollout *rs = vx_alloc(c, (n ? n : 1) * sizeof *rs);
	for (size_t i = 0; i < n; i++)
		check_rollout(c, &raw[i], &rs[i]);
	c->wave = NULL;
	vx_global_rules(c, rs, n);
	if (c->ndiags)
		qsort(c->diags, c->ndiags, sizeof *c->diags, diag_cmp);
	out->diagnostics = c->diags;
	out->ndiagnostics = c->ndiags;
	out->rollouts = rs;
	out->nrollouts = n;
	for (size_t i = 0; i < c->ndiags; i++) {
		if (c->diags[i].severity == VALIDATE_ERROR)
			out->nerrors++;
		else
			out->nwarnings++;
	}
	return 0;
}
