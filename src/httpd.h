/* httpd: a small HTTP/1.1 server over libmicrohttpd for the emulator. It owns the listening socket,
 * collects each request whole (method, path, raw query, headers with lowercase names, body up to a
 * limit, remote address) and hands it to one handler, always in the thread that calls httpd_poll:
 * MHD runs with no threads of its own, driven by httpd_poll through MHD_run_wait. A handler may ask
 * for the answer to be delayed (the connection is suspended, so other clients are still served) or
 * for the connection to be dropped without an answer. Pure C: no Lua here (binding: l_httpd.c). */
#ifndef OTARUN_HTTPD_H
#define OTARUN_HTTPD_H
#include <stddef.h>

struct httpd;

struct httpd_header {
	char *name;
	char *value;
};

/* Everything is valid only during the handler call. */
struct httpd_request {
	const char *method;
	const char *path;  /* as received, still percent-encoded, without the query */
	const char *query; /* raw text after '?', "" when there is none */
	const struct httpd_header *headers; /* names lowercased; repeated headers appear repeatedly */
	size_t nheaders;
	const char *body;
	size_t body_len;
	const char *remote; /* client address, e.g. "127.0.0.1" */
};

/* Filled by the handler; everything in it is owned by it (malloc) and freed by the server. */
struct httpd_response {
	int status;
	struct httpd_header *headers;
	size_t nheaders;
	char *body;
	size_t body_len;
	unsigned delay_ms; /* answer (or drop) only after this long */
	int drop;          /* close the connection without any answer */
	int stop;          /* stop serving once this answer is out */
};

typedef void (*httpd_handler_fn)(void *ud, const struct httpd_request *req, struct httpd_response *resp);

struct httpd_config {
	const char *host;  /* IPv4 or IPv6 literal, or "localhost"; default 127.0.0.1 */
	int port;          /* 0 picks a free port */
	int allow_remote;  /* without it only loopback addresses are accepted */
	size_t max_body;   /* bytes; larger bodies get 413; 0 means 1 MiB */
};

/* Opens the socket and the daemon. Returns NULL and a message in err on failure. */
struct httpd *httpd_open(const struct httpd_config *cfg, char *err, size_t errlen);
int httpd_port(const struct httpd *h);
const char *httpd_host(const struct httpd *h);

/* One step: waits up to timeout_ms for network events, handles every complete request with fn,
 * sends what is ready. Returns the number of requests handed to fn, or -1 if MHD failed. */
int httpd_poll(struct httpd *h, int timeout_ms, httpd_handler_fn fn, void *ud);

/* Set by a handler's stop flag, httpd_request_stop, or a caught SIGINT/SIGTERM (sys.h). */
void httpd_request_stop(struct httpd *h);
int httpd_stop_requested(const struct httpd *h);


/* Drops delayed answers, gives queued answers up to about a second to go out, closes everything. */
void httpd_close(struct httpd *h);

/* Response helpers for handlers: return 0, or -1 when out of memory. */
int httpd_response_add_header(struct httpd_response *r, const char *name, const char *value);
int httpd_response_set_body(struct httpd_response *r, const char *data, size_t len);
void httpd_response_clear(struct httpd_response *r);

/* Counters since open. */
struct httpd_stats {
	unsigned long long requests;
	unsigned long long dropped;
	unsigned long long too_large;
	unsigned long long connections;
};
void httpd_get_stats(const struct httpd *h, struct httpd_stats *out);

#endif
