/* validate: the offline checker for rollout declarations.
 *
 * Owns: the C shape of a raw declaration (what the user wrote, as tagged values), the schema of
 * rollout / wave / defaults / nested fields, the parsers for durations, times, windows and sizes,
 * every platform rule that can be judged without the platform, and the normalised rollouts the
 * planner consumes. Pure C: no Lua here; src/l_validate.c converts Lua tables to and from these
 * structs. All memory of one check lives in one arena, freed at once. */
#ifndef OTARUN_VALIDATE_H
#define OTARUN_VALIDATE_H

#include <stddef.h>
#include <stdint.h>

/* ---- arena ---------------------------------------------------------------------------------- */

struct validate_arena;
struct validate_arena *validate_arena_new(void);
void validate_arena_free(struct validate_arena *a);
/* NULL when out of memory (inside validate_check, out of memory makes validate_check fail). */
void *validate_arena_alloc(struct validate_arena *a, size_t size);

/* ---- raw input: what the user wrote ---------------------------------------------------------- */

enum validate_type {
	VALIDATE_NIL,
	VALIDATE_BOOLEAN,
	VALIDATE_NUMBER,
	VALIDATE_STRING,
	VALIDATE_TABLE,
	VALIDATE_FUNCTION,
	VALIDATE_OTHER /* userdata, thread: `string` holds the type name */
};

struct validate_field;

struct validate_value {
	enum validate_type type;
	int boolean;
	double number;
	int is_integer;     /* a number with an exact integer value; then `integer` holds it */
	long long integer;
	const char *string; /* NUL-terminated, not owned; `len` bytes */
	size_t len;
	struct validate_field *fields; /* string-keyed entries of a table */
	size_t nfields;
	struct validate_value *items;  /* the sequence t[1..n] of a table */
	size_t nitems;
	size_t nother;                 /* table keys that are neither strings nor in the sequence */
	int handle;                    /* the binding's reference to a function value */
};

struct validate_field {
	const char *key;
	struct validate_value value;
};

struct validate_raw_wave {
	struct validate_value name; /* a string when the user named the wave */
	int line;
	struct validate_value fields; /* a table (or nil) */
};

struct validate_raw_rollout {
	const char *name; /* may be NULL */
	const char *file;
	int line;
	struct validate_value fields; /* a table (or nil) */
	struct validate_raw_wave *waves;
	size_t nwaves;
};

struct validate_options {
	const char *region; /* fills a missing region; may be NULL */
	long long now;      /* epoch seconds: the start of waves without `start` */
};

/* ---- output ---------------------------------------------------------------------------------- */

enum validate_severity { VALIDATE_ERROR, VALIDATE_WARNING };

struct validate_diagnostic {
	enum validate_severity severity;
	const char *rule;
	const char *message;
	const char *file;
	int line;
	const char *rollout;
	const char *wave; /* NULL for a rollout-level finding */
	const char *param;
	size_t seq;       /* emission order, the last sort key */
};

struct validate_tag {
	const char *key;
	const char *value;
};

struct validate_window {
	int days[8];      /* days[1] = Monday .. days[7] = Sunday */
	int from, to;     /* minutes after local midnight; to < from crosses midnight */
	int tz;           /* seconds east of UTC, when zone is empty */
	char zone[64];    /* an IANA zone name ("Europe/Berlin"), or "" for the fixed offset tz */
	const char *text; /* "mon-thu 01:00-05:00 +08:00" */
};

struct validate_gate {
	int has_soak, has_min_devices, has_min_success, has_max_failed, has_max_failed_ratio, has_confidence;
	long long soak, min_devices, max_failed;
	double min_success, max_failed_ratio, confidence;
	const char *mode;     /* "sequential" | "literal" | NULL (sequential); docs/gates.md */
	int require_evidence; /* enum validate_tristate */
	const struct validate_value *check; /* the function, or NULL */
};

enum validate_kind { VALIDATE_DYNAMIC, VALIDATE_STATIC };
enum validate_tristate { VALIDATE_UNSET = -1, VALIDATE_FALSE = 0, VALIDATE_TRUE = 1 };

/* Device names of one static job: TargetDeviceName.N takes 200, a DnListFileUrl file this many. */
#define VALIDATE_MAX_DEVICE_LIST 1000000

struct validate_wave {
	const char *name; /* NULL when missing or invalid */
	int line;
	int index;        /* 1-based */
	enum validate_kind kind;
	const char **versions; size_t nversions; int has_versions;
	const char *group;
	const char **devices; size_t ndevices; int has_devices;
	int has_percent; double percent; const char *percent_text;
	int percent_total; /* percent = { total = N }: N% of the fleet in total, GrayPercent computed by the planner */
	int all;
	int has_rate, has_retry_interval, has_retry_count, has_timeout;
	long long rate, retry_interval, retry_count, timeout;
	const char *overwrite; /* "keep" | "replace" | NULL */
	const char *mode;      /* "continuous" | "new-reports" | NULL */
	int push, confirm, multi_module; /* enum validate_tristate */
	const char *protocol;  /* "HTTPS" | "MQTT" | NULL */
	struct validate_tag *tags; size_t ntags; /* user tags, sorted by key */
	const char *identity_value; /* "ROLLOUT/WAVE", NULL when identity = false */
	int has_finish_at, has_finish_after;
	long long finish_at, finish_after;
	const char *after; int after_explicit;
	int has_start, has_delay;
	long long start, delay;
	int has_window; struct validate_window window;
	int approve;
	int has_gate; struct validate_gate gate;
	const char *on_fail; /* "halt" | "abort" */
};

struct validate_firmware {
	const char *id, *version, *type, *src_version; /* type: "full" | "diff" | NULL */
	int has_size, has_files;
	long long size, files;
	int verified, verify; /* enum validate_tristate */
};

/* One `notify` target (docs/notifications.md): where a rollout's events go. */
enum validate_notify_event {
	VN_START, VN_PASS, VN_HALT, VN_APPROVAL, VN_DRIFT, VN_DONE, VN_ERROR, VN_APPROVE, VN_ABORT,
	VN_RESUME, VN_COUNT
};
extern const char *const validate_notify_events[VN_COUNT];

struct validate_notify {
	const char *url, *url_env;    /* exactly one is set */
	const char *format;           /* "json" | "dingtalk" | "slack" */
	const char *secret_env;       /* NULL: unsigned */
	unsigned on;                  /* bit (1 << enum validate_notify_event) per event */
};

struct validate_rollout {
	const char *name, *file;
	int line;
	const char *product, *region, *instance;
	int identity;
	struct validate_firmware firmware;
	struct validate_notify *notify;
	size_t nnotify;
	struct validate_wave *waves;
	size_t nwaves;
};

struct validate_result {
	struct validate_diagnostic *diagnostics; /* sorted by file, line, rule */
	size_t ndiagnostics;
	struct validate_rollout *rollouts;
	size_t nrollouts;
	size_t nerrors, nwarnings;
};

/* Checks `n` raw rollouts. Everything in `out` is allocated from `arena` (and may point into the
 * input). Returns 0, or -1 when out of memory. */
int validate_check(struct validate_arena *arena, const struct validate_raw_rollout *raw, size_t n,
                   const struct validate_options *opts, struct validate_result *out);

/* ---- parsers (0 on success; on failure -1 and a reason in err) ---------------------------- */

/* Bytes from "12MB", "512KB", "1.5GB", "100B", "1024" (1 KB = 1024 bytes). */
int validate_parse_size(const char *s, long long *bytes, char *err, size_t errlen);
/* The shortest decimal text of a GrayPercent; -1 when not a plain non-negative decimal. */
int validate_percent_text(double v, char *buf, size_t buflen);
/* Durations, times, days, clock times, offsets and windows: timefmt.h; suggestions: suggest.h. */
/* The field names the validator accepts in one table ("rollout", "firmware", "wave", "retry",
 * "gate", "window"), in their documented order; NULL for another table. The reference in docs/
 * and the editor definitions are generated from these lists. */
const char *const *validate_field_names(const char *table, size_t *n);
/* The API parameter a wave field becomes (the i-th name of validate_field_names("wave")). */
const char *validate_wave_field_param(size_t i);

#endif
