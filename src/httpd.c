/* httpd: the emulator's HTTP server core (see httpd.h). Uses libmicrohttpd in "external event loop"
 * mode with epoll, a listening socket it creates itself (so it can refuse non-loopback addresses
 * and report the port picked for port 0), MHD's URI log callback to see the request target exactly
 * as received (MHD would otherwise decode the query for us), and suspend/resume for delayed answers
 * so a slow answer never stalls the other connections. */
#include "bytes.h"
#include "httpd.h"
#include "sys.h"

#include <arpa/inet.h>
#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>
#include <microhttpd.h>
#include "mhd_api.h"

#define HTTPD_DEFAULT_MAX_BODY (1024u * 1024u)
#define HTTPD_MAX_PARAMS 1000 /* query parameters in one request */

/* One request in flight; MHD's per-request pointer (con_cls). */
struct hreq {
	struct httpd *h;
	struct MHD_Connection *conn;
	char *uri;
	char *body;
	size_t len, cap;
	int started;
	int too_large;
	int delayed;   /* suspended, waiting for due_ms */
	int ready;     /* resumed: send `resp` (or drop) on the next access-handler call */
	int queued;    /* a response was handed to MHD and is not yet fully sent */
	long long due_ms;
	struct httpd_response resp;
	struct hreq *next; /* in h->delayed */
};

struct httpd {
	struct MHD_Daemon *d;
	char host[64];
	int port;
	size_t max_body;
	httpd_handler_fn fn;
	void *ud;
	int handled;
	int stop;
	int closing;
	int pending_sends;
	struct hreq *delayed;
	struct httpd_stats stats;
};

static long long hd_mono_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* ---- responses -------------------------------------------------------------------------------- */

static char *hd_strdup(const char *s)
{
	size_t n = strlen(s);
	char *p = malloc(n + 1);
	if (p)
		memcpy(p, s, n + 1);
	return p;
}

int httpd_response_add_header(struct httpd_response *r, const char *name, const char *value)
{
	struct httpd_header *nh = realloc(r->headers, (r->nheaders + 1) * sizeof *nh);
	if (!nh)
		return -1;
	r->headers = nh;
	char *n = hd_strdup(name), *v = hd_strdup(value);
	if (!n || !v) {
		free(n);
		free(v);
		return -1;
	}
	r->headers[r->nheaders].name = n;
	r->headers[r->nheaders].value = v;
	r->nheaders++;
	return 0;
}

int httpd_response_set_body(struct httpd_response *r, const char *data, size_t len)
{
	char *b = malloc(len ? len : 1);
	if (!b)
		return -1;
	if (len)
		memcpy(b, data, len);
	free(r->body);
	r->body = b;
	r->body_len = len;
	return 0;
}

void httpd_response_clear(struct httpd_response *r)
{
	for (size_t i = 0; i < r->nheaders; i++) {
		free(r->headers[i].name);
		free(r->headers[i].value);
	}
	free(r->headers);
	free(r->body);
	memset(r, 0, sizeof *r);
}

/* ---- MHD callbacks ---------------------------------------------------------------------------- */

static void *hd_uri_log(void *cls, const char *uri, struct MHD_Connection *conn)
{
	struct hreq *q = calloc(1, sizeof *q);
	if (!q)
		return NULL;
	q->h = cls;
	q->conn = conn;
	q->uri = hd_strdup(uri ? uri : "/");
	if (!q->uri) {
		free(q);
		return NULL;
	}
	/* The handler reads the raw query from this copy, never MHD's parsed arguments. MHD 0.9.x would
	 * parse them next into the connection's memory pool, and a query of a few thousand parameters
	 * exhausts it: the connection was closed with no answer. Ending MHD's argument string right after
	 * the '?' leaves it nothing to parse, so every request reaches hd_dispatch (docs/trust.md). */
	char *qm = uri ? strchr(uri, '?') : NULL;
	if (qm)
		qm[1] = '\0';
	return q;
}

static void hd_completed(void *cls, struct MHD_Connection *conn, void **con_cls,
                         enum MHD_RequestTerminationCode toe)
{
	struct httpd *h = cls;
	struct hreq *q = *con_cls;
	(void)conn;
	(void)toe;
	if (!q)
		return;
	if (q->queued)
		h->pending_sends--;
	httpd_response_clear(&q->resp);
	free(q->body);
	free(q->uri);
	free(q);
	*con_cls = NULL;
}

static void hd_notify_connection(void *cls, struct MHD_Connection *conn, void **socket_ctx,
                                 enum MHD_ConnectionNotificationCode toe)
{
	struct httpd *h = cls;
	(void)conn;
	(void)socket_ctx;
	if (toe == MHD_CONNECTION_NOTIFY_STARTED)
		h->stats.connections++;
}

struct hd_headers {
	struct httpd_header *v;
	size_t n, cap;
	int oom;
};

static enum MHD_Result hd_collect_header(void *cls, enum MHD_ValueKind kind, const char *key,
                                         const char *value)
{
	struct hd_headers *hs = cls;
	(void)kind;
	if (hs->n == hs->cap) {
		struct httpd_header *nv = bytes_grow(hs->v, &hs->cap, sizeof *nv, 16);
		if (!nv) {
			hs->oom = 1;
			return MHD_NO;
		}
		hs->v = nv;
	}
	char *n = hd_strdup(key), *v = hd_strdup(value ? value : "");
	if (!n || !v) {
		free(n);
		free(v);
		hs->oom = 1;
		return MHD_NO;
	}
	for (char *p = n; *p; p++)
		*p = (char)tolower((unsigned char)*p);
	hs->v[hs->n].name = n;
	hs->v[hs->n].value = v;
	hs->n++;
	return MHD_YES;
}

static void hd_free_headers(struct hd_headers *hs)
{
	for (size_t i = 0; i < hs->n; i++) {
		free(hs->v[i].name);
		free(hs->v[i].value);
	}
	free(hs->v);
}

static void hd_remote(struct MHD_Connection *conn, char *buf, size_t len)
{
	const union MHD_ConnectionInfo *ci =
		MHD_get_connection_info(conn, MHD_CONNECTION_INFO_CLIENT_ADDRESS);
	snprintf(buf, len, "unknown");
	if (!ci || !ci->client_addr)
		return;
	const struct sockaddr *sa = ci->client_addr;
	if (sa->sa_family == AF_INET)
		inet_ntop(AF_INET, &((const struct sockaddr_in *)(const void *)sa)->sin_addr, buf, (socklen_t)len);
	else if (sa->sa_family == AF_INET6)
		inet_ntop(AF_INET6, &((const struct sockaddr_in6 *)(const void *)sa)->sin6_addr, buf, (socklen_t)len);
}

/* Hands the finished response to MHD. Takes the body without copying it. */
static enum MHD_Result hd_send(struct hreq *q, struct httpd_response *r)
{
	struct MHD_Response *mr = MHD_create_response_from_buffer(r->body_len, r->body ? r->body : (char *)"",
		r->body ? MHD_RESPMEM_MUST_FREE : MHD_RESPMEM_PERSISTENT);
	if (!mr)
		return MHD_NO;
	r->body = NULL;
	for (size_t i = 0; i < r->nheaders; i++)
		MHD_add_response_header(mr, r->headers[i].name, r->headers[i].value);
	enum MHD_Result ok = MHD_queue_response(q->conn, (unsigned)r->status, mr);
	MHD_destroy_response(mr);
	if (ok == MHD_YES) {
		q->queued = 1;
		q->h->pending_sends++;
	}
	return ok;
}

static int hd_set_simple(struct httpd_response *r, int status, const char *json)
{
	httpd_response_clear(r);
	r->status = status;
	if (httpd_response_set_body(r, json, strlen(json)) != 0 ||
	    httpd_response_add_header(r, "Content-Type", "application/json;charset=utf-8") != 0)
		return -1;
	return 0;
}

/* The whole request is in: build the request view, run the handler, answer now or later. */
static enum MHD_Result hd_dispatch(struct httpd *h, struct hreq *q, const char *method)
{
	struct httpd_response *r = &q->resp;
	h->stats.requests++;
	h->handled++;
	if (q->too_large) {
		h->stats.too_large++;
		char msg[160];
		snprintf(msg, sizeof msg, "{\"Code\":\"RequestEntityTooLarge\",\"Message\":\"the request body "
			"exceeds %zu bytes\"}", h->max_body);
		if (hd_set_simple(r, 413, msg) != 0)
			return MHD_NO;
		return hd_send(q, r);
	}
	size_t params = 0;
	for (const char *c = strchr(q->uri, '?'); c && *c; c++)
		params += *c == '&' || *c == '?';
	if (params > HTTPD_MAX_PARAMS) {
		h->stats.too_large++;
		char msg[200];
		snprintf(msg, sizeof msg, "{\"Code\":\"InvalidParameter\",\"Message\":\"the request has %zu "
			"query parameters; at most %d are accepted\"}", params, HTTPD_MAX_PARAMS);
		if (hd_set_simple(r, 400, msg) != 0)
			return MHD_NO;
		return hd_send(q, r);
	}
	struct hd_headers hs = {0};
	MHD_get_connection_values(q->conn, MHD_HEADER_KIND, hd_collect_header, &hs);
	if (hs.oom) {
		hd_free_headers(&hs);
		return MHD_NO;
	}
	char remote[INET6_ADDRSTRLEN + 1];
	hd_remote(q->conn, remote, sizeof remote);
	char *qm = strchr(q->uri, '?');
	if (qm)
		*qm = '\0';
	struct httpd_request req = {
		.method = method, .path = q->uri, .query = qm ? qm + 1 : "",
		.headers = hs.v, .nheaders = hs.n,
		.body = q->body ? q->body : "", .body_len = q->len, .remote = remote,
	};
	r->status = 200;
	h->fn(h->ud, &req, r);
	hd_free_headers(&hs);
	if (r->stop)
		h->stop = 1;
	if (r->status < 100 || r->status > 999)
		r->status = 500;
	if (r->delay_ms > 0) {
		q->delayed = 1;
		q->due_ms = hd_mono_ms() + r->delay_ms;
		q->next = h->delayed;
		h->delayed = q;
		MHD_suspend_connection(q->conn);
		return MHD_YES;
	}
	if (r->drop) {
		h->stats.dropped++;
		return MHD_NO;
	}
	return hd_send(q, r);
}

static enum MHD_Result hd_access(void *cls, struct MHD_Connection *conn, const char *url,
                                 const char *method, const char *version, const char *upload_data,
                                 size_t *upload_data_size, void **con_cls)
{
	struct httpd *h = cls;
	struct hreq *q = *con_cls;
	(void)url;
	(void)version;
	(void)conn;
	if (!q || h->closing || !h->fn)
		return MHD_NO;
	if (q->ready) {
		q->ready = 0;
		if (q->resp.drop) {
			h->stats.dropped++;
			return MHD_NO;
		}
		return hd_send(q, &q->resp);
	}
	if (!q->started) {
		q->started = 1;
		return MHD_YES;
	}
	if (*upload_data_size > 0) {
		size_t n = *upload_data_size;
		*upload_data_size = 0;
		if (q->too_large || n > h->max_body - q->len) {
			q->too_large = 1;
			return MHD_YES;
		}
		return bytes_append(&q->body, &q->len, &q->cap, 1024, upload_data, n) ? MHD_NO : MHD_YES;
	}
	if (q->queued || q->delayed)
		return MHD_YES;
	return hd_dispatch(h, q, method);
}

/* ---- socket and daemon ------------------------------------------------------------------------ */

static int hd_is_loopback(const struct sockaddr_storage *ss)
{
	if (ss->ss_family == AF_INET) {
		const struct sockaddr_in *in = (const void *)ss;
		return (ntohl(in->sin_addr.s_addr) >> 24) == 127;
	}
	const struct sockaddr_in6 *in6 = (const void *)ss;
	return IN6_IS_ADDR_LOOPBACK(&in6->sin6_addr);
}

static int hd_listen_socket(const struct httpd_config *cfg, char *host_out, size_t host_len, int *port_out,
                            char *err, size_t errlen)
{
	const char *host = cfg->host && *cfg->host ? cfg->host : "127.0.0.1";
	char lit[64];
	size_t hl = strlen(host);
	if (hl >= sizeof lit) {
		snprintf(err, errlen, "listen address %.40s... is too long", host);
		return -1;
	}
	if (host[0] == '[' && hl > 2 && host[hl - 1] == ']') {
		memcpy(lit, host + 1, hl - 2);
		lit[hl - 2] = '\0';
	} else {
		snprintf(lit, sizeof lit, "%s", strcmp(host, "localhost") == 0 ? "127.0.0.1" : host);
	}
	struct sockaddr_storage ss;
	memset(&ss, 0, sizeof ss);
	socklen_t sl;
	struct sockaddr_in *in = (void *)&ss;
	struct sockaddr_in6 *in6 = (void *)&ss;
	if (inet_pton(AF_INET, lit, &in->sin_addr) == 1) {
		in->sin_family = AF_INET;
		in->sin_port = htons((unsigned short)cfg->port);
		sl = sizeof *in;
	} else if (inet_pton(AF_INET6, lit, &in6->sin6_addr) == 1) {
		in6->sin6_family = AF_INET6;
		in6->sin6_port = htons((unsigned short)cfg->port);
		sl = sizeof *in6;
	} else {
		snprintf(err, errlen, "listen address %s is not an IP address (use e.g. 127.0.0.1 or [::1])", host);
		return -1;
	}
	if (cfg->port < 0 || cfg->port > 65535) {
		snprintf(err, errlen, "port %d is out of range (0-65535; 0 picks a free port)", cfg->port);
		return -1;
	}
	if (!cfg->allow_remote && !hd_is_loopback(&ss)) {
		snprintf(err, errlen, "refusing to listen on %s: not a loopback address (the emulator is for "
			"local tests; allow it explicitly with --allow-remote)", host);
		return -1;
	}
	int fd = socket(ss.ss_family, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0) {
		snprintf(err, errlen, "socket: %s", strerror(errno));
		return -1;
	}
	int one = 1;
	setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
	if (bind(fd, (struct sockaddr *)&ss, sl) != 0 || listen(fd, 1024) != 0) {
		snprintf(err, errlen, "cannot listen on %s:%d: %s", host, cfg->port, strerror(errno));
		close(fd);
		return -1;
	}
	fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK);
	struct sockaddr_storage got;
	socklen_t gl = sizeof got;
	getsockname(fd, (struct sockaddr *)&got, &gl);
	*port_out = ntohs(got.ss_family == AF_INET ? ((struct sockaddr_in *)(void *)&got)->sin_port
		: ((struct sockaddr_in6 *)(void *)&got)->sin6_port);
	snprintf(host_out, host_len, "%s", lit);
	return fd;
}

struct httpd *httpd_open(const struct httpd_config *cfg, char *err, size_t errlen)
{
	if (mhd_api_load(err, errlen) != 0)
		return NULL;
	struct httpd *h = calloc(1, sizeof *h);
	if (!h) {
		snprintf(err, errlen, "out of memory");
		return NULL;
	}
	h->max_body = cfg->max_body ? cfg->max_body : HTTPD_DEFAULT_MAX_BODY;
	int fd = hd_listen_socket(cfg, h->host, sizeof h->host, &h->port, err, errlen);
	if (fd < 0) {
		free(h);
		return NULL;
	}
	unsigned flags = MHD_USE_EPOLL | MHD_ALLOW_SUSPEND_RESUME;
	h->d = MHD_start_daemon(flags, 0, NULL, NULL, hd_access, h,
		MHD_OPTION_LISTEN_SOCKET, (MHD_socket)fd,
		MHD_OPTION_URI_LOG_CALLBACK, hd_uri_log, h,
		MHD_OPTION_NOTIFY_COMPLETED, hd_completed, h,
		MHD_OPTION_NOTIFY_CONNECTION, hd_notify_connection, h,
		MHD_OPTION_CONNECTION_TIMEOUT, (unsigned)120,
		MHD_OPTION_CONNECTION_MEMORY_LIMIT, (size_t)(512 * 1024), /* a 400 KB request line */
		MHD_OPTION_CONNECTION_LIMIT, (unsigned)4000,
		MHD_OPTION_END);
	if (!h->d) {
		snprintf(err, errlen, "libmicrohttpd could not start on %s:%d", h->host, h->port);
		close(fd);
		free(h);
		return NULL;
	}
	return h;
}

int httpd_port(const struct httpd *h) { return h->port; }
const char *httpd_host(const struct httpd *h) { return h->host; }
void httpd_request_stop(struct httpd *h) { h->stop = 1; }
void httpd_get_stats(const struct httpd *h, struct httpd_stats *out) { *out = h->stats; }

int httpd_stop_requested(const struct httpd *h) { return h->stop || sys_caught_signal() != SYS_SIGNAL_NONE; }

/* Resumes suspended connections whose delay is over (all of them when `all`). */
static int hd_resume_due(struct httpd *h, int all)
{
	long long now = hd_mono_ms();
	int n = 0;
	for (struct hreq **pp = &h->delayed; *pp;) {
		struct hreq *q = *pp;
		if (all || q->due_ms <= now) {
			*pp = q->next;
			q->next = NULL;
			q->delayed = 0;
			q->ready = 1;
			MHD_resume_connection(q->conn);
			n++;
		} else {
			pp = &q->next;
		}
	}
	return n;
}

int httpd_poll(struct httpd *h, int timeout_ms, httpd_handler_fn fn, void *ud)
{
	h->fn = fn;
	h->ud = ud;
	h->handled = 0;
	int wait = timeout_ms < 0 ? 0 : timeout_ms;
	long long now = hd_mono_ms();
	for (struct hreq *q = h->delayed; q; q = q->next) {
		long long left = q->due_ms - now;
		if (left < wait)
			wait = left < 0 ? 0 : (int)left;
	}
	int rc = MHD_run_wait(h->d, wait) == MHD_YES ? 0 : -1;
	if (rc == 0 && hd_resume_due(h, 0) > 0)
		rc = MHD_run_wait(h->d, 0) == MHD_YES ? 0 : -1;
	h->fn = NULL;
	h->ud = NULL;
	return rc < 0 ? -1 : h->handled;
}

void httpd_close(struct httpd *h)
{
	if (!h)
		return;
	h->closing = 1;
	h->fn = NULL;
	hd_resume_due(h, 1);
	long long deadline = hd_mono_ms() + 1000;
	do {
		MHD_run_wait(h->d, 10);
	} while (h->pending_sends > 0 && hd_mono_ms() < deadline);
	MHD_stop_daemon(h->d);
	free(h);
}
