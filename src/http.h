/*
 * http: one reusable HTTP(S) client over libcurl for the signed API client. Owns the transport
 * policy (https with certificate verification always; plain http only to a loopback host, checked
 * on the URL and again on the address actually connected), response header parsing, and the
 * classification of failures by what the server may have seen: nothing ("connect", "tls"), or
 * possibly the whole request ("send", "timeout_after_send"). Uses libcurl only; never Lua.
 * Logs nothing, so no header value (signatures, security tokens) can leak from here.
 */
#ifndef OTARUN_HTTP_H
#define OTARUN_HTTP_H

#include <stddef.h>

/* Outcome of a request; HTTP_OK or one of the failure kinds (http_kind_name names them). */
enum http_kind {
	HTTP_OK = 0,
	HTTP_EREFUSED,    /* URL refused by policy (scheme, plain http to a non-loopback host) */
	HTTP_EINVAL,      /* malformed request: bad method, header with CR/LF, unparsable URL */
	HTTP_ECONNECT,    /* nothing was sent: name resolution, connection or connect timeout */
	HTTP_ETLS,        /* TLS handshake or certificate failure: nothing was sent */
	HTTP_ESEND,       /* failed after bytes were sent: the server may have processed it */
	HTTP_ETIMEOUT,    /* timed out after bytes were sent: the outcome is unknown */
	HTTP_ETOOLARGE,   /* the response body exceeded the limit */
	HTTP_ENOMEM,
};
const char *http_kind_name(int kind);

/* A parsed response header line: name lowercased, value trimmed. */
struct http_header {
	char *name, *value;
};

struct http_response {
	long status;
	struct http_header *headers;
	size_t nheaders, headers_cap;
	char *body; /* NUL-terminated once non-empty; may hold NULs itself */
	size_t body_len, body_cap;
	size_t body_limit; /* 0: the default (32 MiB) */
	int oom;           /* set by the callbacks when an allocation failed */
};
void http_response_init(struct http_response *r);
void http_response_free(struct http_response *r);
/* Forgets headers and body (keeps body_limit); used when a new status line starts. */
void http_response_clear_headers(struct http_response *r);

struct http_request {
	const char *method;          /* "GET", "POST", ... (A-Z only) */
	const char *url;
	const char *const *header_names;  /* parallel arrays, nheaders long */
	const char *const *header_values;
	size_t nheaders;
	const char *body;            /* may be NULL when body_len == 0 */
	size_t body_len;
	long connect_timeout_ms;     /* <= 0: 10 s */
	long timeout_ms;             /* <= 0: 60 s (whole request) */
};

struct http_client;
/* NULL when libcurl cannot be initialised. */
struct http_client *http_client_new(void);
void http_client_free(struct http_client *c);
/* Performs one request on the client's handle (connections are kept for reuse). Returns HTTP_OK
 * with resp filled, or a failure kind with a sentence in err (always NUL-terminated). */
int http_client_request(struct http_client *c, const struct http_request *req,
                        struct http_response *resp, char *err, size_t errlen);

/* ---- policy and parsing, exposed for the unit tests ------------------------------------------ */
/* 1 for localhost, 127.0.0.0/8 in dotted-quad form, ::1 (with or without brackets). */
int http_host_is_loopback(const char *host);
/* HTTP_OK when url is https://..., or http://LOOPBACK...; else HTTP_EREFUSED (or HTTP_EINVAL for
 * an unparsable URL) with the reason in why. *plain is set to 1 for http. */
int http_url_check(const char *url, int *plain, char *why, size_t whylen);
/* Splits one header line ("Name: value\r\n"): returns 1 with the slices set, 0 for a line that is
 * not a header (status line, blank line, a line without ':'). Leading/trailing blanks trimmed. */
int http_parse_header_line(const char *line, size_t n, const char **name, size_t *name_len,
                           const char **value, size_t *value_len);
/* Appends a parsed header (name lowercased) to r; -1 when out of memory. */
int http_response_add_header(struct http_response *r, const char *name, size_t name_len,
                             const char *value, size_t value_len);
/* 1 when a header name is a token (no CR, LF, ':', blanks) and a value has no CR/LF/NUL. */
int http_header_name_ok(const char *name);
int http_header_value_ok(const char *value);

#endif
