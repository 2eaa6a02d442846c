/* validate_notify: a rollout's `notify` field (docs/notifications.md): one target table or a list
 * of them, each with url (or url_env), format, secret_env and on. Rules: notify-url,
 * notify-format, notify-event, notify-secret-env, plus field-type and unknown-field. The URL is
 * checked for its form only (https://, or http:// to a loopback host, as the API client's
 * transport allows); the delivery itself is the Lua half's (lua/otarun/notify/). */
#include "validate_internal.h"

#include <string.h>

const char *const validate_notify_events[VN_COUNT] = {
	"start", "pass", "halt", "approval", "drift", "done", "error", "approve", "abort", "resume",
};

static const char *const target_fields[] = { "url", "url_env", "format", "secret_env", "on" };
static const char *const formats[] = { "json", "dingtalk", "slack" };
#define COUNT(a) (sizeof(a) / sizeof((a)[0]))

/* 1 for localhost, 127.0.0.0/8 written as a dotted quad, [::1]: the hosts plain http may reach. */
static int loopback_host(const char *h, size_t n)
{
	if (n == 9 && strncmp(h, "localhost", 9) == 0)
		return 1;
	if (n == 5 && strncmp(h, "[::1]", 5) == 0)
		return 1;
	if (n < 7 || strncmp(h, "127.", 4) != 0)
		return 0;
	int dots = 0;
	for (size_t i = 0; i < n; i++) {
		if (h[i] == '.')
			dots++;
		else if (h[i] < '0' || h[i] > '9')
			return 0;
	}
	return dots == 3;
}

/* NULL when the URL may be used, else why not. */
static const char *url_problem(struct vx_ctx *c, const char *url)
{
	const char *rest;
	int plain = 0;
	if (strncmp(url, "https://", 8) == 0) {
		rest = url + 8;
	} else if (strncmp(url, "http://", 7) == 0) {
		rest = url + 7;
		plain = 1;
	} else {
		return "it must start with https:// (or http:// to a loopback host)";
	}
	size_t end = strcspn(rest, "/?#");
	const char *at = memchr(rest, '@', end);
	if (at)
		return "it must not carry a user or password before the host";
	size_t host = end;
	if (rest[0] == '[') {
		const char *close = memchr(rest, ']', end);
		host = close ? (size_t)(close - rest) + 1 : end;
	} else {
		const char *colon = memchr(rest, ':', end);
		if (colon)
			host = (size_t)(colon - rest);
	}
	if (host == 0)
		return "it names no host";
	if (plain && !loopback_host(rest, host))
		return vx_printf(c, "plain http:// to %.*s is refused: use https://, or http:// only to a loopback "
				 "host (127.0.0.1, localhost, [::1])", (int)host, rest);
	return NULL;
}

static int env_name_ok(const char *s)
{
	if (!s[0] || (s[0] >= '0' && s[0] <= '9'))
		return 0;
	for (; *s; s++)
		if (!((*s >= 'A' && *s <= 'Z') || (*s >= 'a' && *s <= 'z') || (*s >= '0' && *s <= '9') || *s == '_'))
			return 0;
	return 1;
}

static const char *env_field(struct vx_ctx *c, const struct validate_value *v, const char *param)
{
	if (!v)
		return NULL;
	if (v->type != VALIDATE_STRING || !env_name_ok(v->string)) {
		vx_diag(c, VALIDATE_ERROR, "notify-secret-env", param,
			"%s names an environment variable (letters, digits, _; not starting with a digit), got %s",
			param, vx_describe(c, v));
		return NULL;
	}
	return v->string;
}

static unsigned parse_events(struct vx_ctx *c, const struct validate_value *v, const char *param)
{
	if (!v)
		return (1u << VN_COUNT) - 1;
	if (v->type == VALIDATE_STRING) {
		struct validate_value one = *v;
		struct validate_value list = { .type = VALIDATE_TABLE, .items = &one, .nitems = 1 };
		return parse_events(c, &list, param);
	}
	if (v->type != VALIDATE_TABLE || v->nfields || v->nother || !v->nitems) {
		vx_diag(c, VALIDATE_ERROR, "field-type", param,
			"%s must be a list of events such as { \"halt\", \"approval\" }, got %s", param, vx_describe(c, v));
		return 0;
	}
	unsigned on = 0;
	for (size_t i = 0; i < v->nitems; i++) {
		const struct validate_value *e = &v->items[i];
		int k = VN_COUNT;
		if (e->type == VALIDATE_STRING)
			for (k = 0; k < VN_COUNT && strcmp(validate_notify_events[k], e->string) != 0; k++)
				;
		if (k < VN_COUNT) {
			on |= 1u << k;
			continue;
		}
		const char *s = e->type == VALIDATE_STRING ? suggest_closest(e->string, validate_notify_events, VN_COUNT) : NULL;
		if (s)
			vx_diag(c, VALIDATE_ERROR, "notify-event", param, "unknown event %s in %s: did you mean \"%s\"?",
				vx_describe(c, e), param, s);
		else
			vx_diag(c, VALIDATE_ERROR, "notify-event", param,
				"unknown event %s in %s (events: start, pass, halt, approval, drift, done, error, approve, "
				"abort, resume)", vx_describe(c, e), param);
	}
	return on;
}

static void parse_target(struct vx_ctx *c, const struct validate_value *t, const char *prefix,
			 struct validate_notify *n)
{
	const struct validate_value *v;
	vx_check_keys(c, t, prefix, target_fields, COUNT(target_fields));
	const struct validate_value *url = vx_get(t, "url"), *url_env = vx_get(t, "url_env");
	if (url && url_env) {
		vx_diag(c, VALIDATE_ERROR, "notify-url", vx_printf(c, "%s.url", prefix),
			"%s gives both url and url_env: keep one", prefix);
	} else if (url && url->type != VALIDATE_STRING) {
		vx_diag(c, VALIDATE_ERROR, "field-type", vx_printf(c, "%s.url", prefix),
			"%s.url must be a string such as \"https://...\", got %s", prefix, vx_describe(c, url));
	} else if (url) {
		const char *why = url_problem(c, url->string);
		if (why)
			vx_diag(c, VALIDATE_ERROR, "notify-url", vx_printf(c, "%s.url", prefix),
				"%s.url cannot be used: %s", prefix, why);
		else
			n->url = url->string;
	} else if (url_env) {
		n->url_env = env_field(c, url_env, vx_printf(c, "%s.url_env", prefix));
	} else {
		vx_diag(c, VALIDATE_ERROR, "notify-url", vx_printf(c, "%s.url", prefix),
			"%s has no url: give url = \"https://...\" or url_env = \"NAME\" (a variable holding it)", prefix);
	}
	n->format = "json";
	if ((v = vx_get(t, "format"))) {
		size_t k = COUNT(formats);
		if (v->type == VALIDATE_STRING)
			for (k = 0; k < COUNT(formats) && strcmp(formats[k], v->string) != 0; k++)
				;
		if (k < COUNT(formats))
			n->format = formats[k];
		else
			vx_diag(c, VALIDATE_ERROR, "notify-format", vx_printf(c, "%s.format", prefix),
				"%s.format must be \"json\", \"dingtalk\" or \"slack\", got %s", prefix, vx_describe(c, v));
	}
	n->secret_env = env_field(c, vx_get(t, "secret_env"), vx_printf(c, "%s.secret_env", prefix));
	if (n->secret_env && strcmp(n->format, "slack") == 0)
		vx_diag(c, VALIDATE_WARNING, "notify-secret-env", vx_printf(c, "%s.secret_env", prefix),
			"%s.secret_env is not used: Slack incoming webhooks are not signed (the URL is the secret; "
			"keep it out of the script with url_env)", prefix);
	n->on = parse_events(c, vx_get(t, "on"), vx_printf(c, "%s.on", prefix));
}

void vx_parse_notify(struct vx_ctx *c, const struct validate_value *v, struct validate_rollout *r)
{
	if (v->type != VALIDATE_TABLE) {
		vx_diag(c, VALIDATE_ERROR, "field-type", "notify",
			"notify must be a target { url = ..., format = ..., on = { ... } } or a list of them, got %s",
			vx_describe(c, v));
		return;
	}
	if (v->nfields && v->nitems) {
		vx_diag(c, VALIDATE_ERROR, "field-type", "notify",
			"notify mixes a target's fields with a list of targets: write one target or a list of them");
		return;
	}
	if (!v->nfields && !v->nitems) {
		vx_diag(c, VALIDATE_ERROR, "field-type", "notify", "notify is empty: give a target { url = ... } or leave it out");
		return;
	}
	size_t n = v->nfields ? 1 : v->nitems;
	r->notify = vx_alloc(c, n * sizeof *r->notify);
	memset(r->notify, 0, n * sizeof *r->notify);
	if (v->nfields) {
		parse_target(c, v, "notify", &r->notify[0]);
		r->nnotify = 1;
		return;
	}
	for (size_t i = 0; i < n; i++) {
		const struct validate_value *t = &v->items[i];
		char *prefix = vx_printf(c, "notify[%zu]", i + 1);
		if (t->type != VALIDATE_TABLE) {
			vx_diag(c, VALIDATE_ERROR, "field-type", prefix, "%s must be a target { url = ..., ... }, got %s",
				prefix, vx_describe(c, t));
			continue;
		}
		parse_target(c, t, prefix, &r->notify[r->nnotify++]);
	}
	if (v->nother)
		vx_diag(c, VALIDATE_ERROR, "field-type", "notify", "notify has keys that are neither fields nor list items");
}
