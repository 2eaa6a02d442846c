/* loadgen: a small keep-alive HTTP/1.1 load generator for the emulator benchmark (bench/emulator).
 * Every request is a v1-signed GET with a fresh SignatureNonce and a current Timestamp, signed
 * with otarun's own signer (src/sign.c, compiled in), so the emulator verifies each one for real.
 * One thread, epoll over C connections, one request in flight per connection.
 *
 *   loadgen [-c CONNS] [-d SECONDS] [-1] HOST PORT ID:SECRET ACTION [Key=Value]...
 *   -1   send one request and print its body (for setting up a benchmark)
 * Prints requests, requests per second, status counts and latency percentiles. */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>
#include "sign.h"

#define LG_MAX_PARAMS 32
#define LG_BUCKETS 10000 /* latency histogram: 0.1 ms buckets up to 1 s */

struct lg_conn {
	int fd;
	char *in;
	size_t in_len, in_cap;
	double t0;
};

struct lg {
	const char *host, *action, *id, *secret;
	int port;
	const char *keys[LG_MAX_PARAMS], *values[LG_MAX_PARAMS];
	int nparams;
	unsigned long long counter, done, success, st200, st4xx, st5xx, other, errors;
	unsigned long long hist[LG_BUCKETS + 1];
	struct sign_v1 v1;
	struct sign_params params;
	struct sign_buf req, enc;
	char nonce_prefix[17];
	time_t ts_time;
	char ts[SIGN_TIMESTAMP_SIZE];
};

static double lg_now(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* Builds the next signed request into g->req. */
static int lg_build(struct lg *g)
{
	time_t t = time(NULL);
	if (t != g->ts_time) {
		g->ts_time = t;
		sign_timestamp_format(g->ts, t);
	}
	char nonce[48];
	snprintf(nonce, sizeof nonce, "%s%016llx", g->nonce_prefix, g->counter++);
	struct sign_params *p = &g->params;
	sign_params_reset(p);
	const char *common[][2] = {
		{"AccessKeyId", g->id}, {"Action", g->action}, {"Format", "JSON"},
		{"SignatureMethod", "HMAC-SHA1"}, {"SignatureNonce", nonce}, {"SignatureVersion", "1.0"},
		{"Timestamp", g->ts}, {"Version", "2018-01-20"},
	};
	for (size_t i = 0; i < sizeof common / sizeof common[0]; i++)
		if (sign_params_add(p, common[i][0], strlen(common[i][0]), common[i][1], strlen(common[i][1])))
			return -1;
	for (int i = 0; i < g->nparams; i++)
		if (sign_params_add(p, g->keys[i], strlen(g->keys[i]), g->values[i], strlen(g->values[i])))
			return -1;
	if (sign_v1_compute(&g->v1, "GET", p, g->secret, strlen(g->secret)))
		return -1;
	sign_buf_reset(&g->enc);
	if (sign_percent_encode(&g->enc, g->v1.signature, strlen(g->v1.signature)))
		return -1;
	sign_buf_reset(&g->req);
	char tail[160];
	snprintf(tail, sizeof tail, " HTTP/1.1\r\nHost: %s:%d\r\nUser-Agent: otarun-loadgen\r\n\r\n", g->host, g->port);
	if (sign_buf_append_str(&g->req, "GET /?") || sign_buf_append(&g->req, g->v1.canonical.data, g->v1.canonical.len) ||
	    sign_buf_append_str(&g->req, "&Signature=") || sign_buf_append(&g->req, g->enc.data, g->enc.len) ||
	    sign_buf_append_str(&g->req, tail))
		return -1;
	return 0;
}

static int lg_send(struct lg *g, struct lg_conn *c)
{
	if (lg_build(g))
		return -1;
	size_t off = 0;
	while (off < g->req.len) {
		ssize_t n = send(c->fd, g->req.data + off, g->req.len - off, MSG_NOSIGNAL);
		if (n < 0 && (errno == EAGAIN || errno == EINTR))
			continue; /* requests are small: the socket buffer drains at once on loopback */
		if (n <= 0)
			return -1;
		off += (size_t)n;
	}
	c->in_len = 0;
	c->t0 = lg_now();
	return 0;
}

/* Returns the total length of a complete response in c->in, 0 if incomplete, -1 if malformed. */
static long lg_complete(struct lg_conn *c, int *status, const char **body, size_t *body_len)
{
	if (c->in_len < 12)
		return 0;
	char *end = memmem(c->in, c->in_len, "\r\n\r\n", 4);
	if (!end)
		return 0;
	size_t head = (size_t)(end - c->in) + 4;
	*status = atoi(c->in + 9);
	long clen = -1;
	for (char *line = c->in; line < end; ) {
		char *nl = memchr(line, '\n', (size_t)(end + 2 - line)); /* the last line ends inside "\r\n\r\n" */
		if (!nl)
			break;
		if (strncasecmp(line, "Content-Length:", 15) == 0)
			clen = atol(line + 15);
		line = nl + 1;
	}
	if (clen < 0)
		return -1;
	if (c->in_len < head + (size_t)clen)
		return 0;
	*body = c->in + head;
	*body_len = (size_t)clen;
	return (long)(head + (size_t)clen);
}

static void lg_record(struct lg *g, struct lg_conn *c, int status, const char *body, size_t len)
{
	g->done++;
	if (status == 200) g->st200++;
	else if (status >= 400 && status < 500) g->st4xx++;
	else if (status >= 500) g->st5xx++;
	else g->other++;
	if (memmem(body, len, "\"Success\":true", 14))
		g->success++;
	long b = (long)((lg_now() - c->t0) * 10000.0);
	g->hist[b < 0 ? 0 : b > LG_BUCKETS ? LG_BUCKETS : b]++;
}

static double lg_percentile(const struct lg *g, double q)
{
	unsigned long long total = 0, seen = 0;
	for (int i = 0; i <= LG_BUCKETS; i++)
		total += g->hist[i];
	for (int i = 0; i <= LG_BUCKETS; i++) {
		seen += g->hist[i];
		if (total && (double)seen >= q * (double)total)
			return (i + 1) / 10.0;
	}
	return 0;
}

static int lg_connect(struct lg *g)
{
	int fd = socket(AF_INET, SOCK_STREAM, 0);
	struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = htons((unsigned short)g->port)};
	inet_pton(AF_INET, g->host, &sa.sin_addr);
	if (fd < 0 || connect(fd, (struct sockaddr *)&sa, sizeof sa) != 0) {
		perror("loadgen: connect");
		if (fd >= 0)
			close(fd);
		return -1;
	}
	int one = 1;
	setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
	fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK);
	return fd;
}

/* Reads what is there; on a complete response records it and sends the next request if `more`. */
static int lg_on_readable(struct lg *g, struct lg_conn *c, int more, int once)
{
	for (;;) {
		if (c->in_cap - c->in_len < 65536) {
			size_t cap = c->in_cap * 2;
			char *n = realloc(c->in, cap);
			if (!n)
				return -1;
			c->in = n;
			c->in_cap = cap;
		}
		ssize_t n = recv(c->fd, c->in + c->in_len, c->in_cap - c->in_len, 0);
		if (n < 0 && errno == EAGAIN)
			return 1;
		if (n <= 0)
			return -1;
		c->in_len += (size_t)n;
		int status;
		const char *body;
		size_t blen;
		long whole = lg_complete(c, &status, &body, &blen);
		if (whole < 0)
			return -1;
		if (whole > 0) {
			lg_record(g, c, status, body, blen);
			if (once) {
				fwrite(body, 1, blen, stdout);
				fputc('\n', stdout);
				return 0;
			}
			if (!more)
				return 0;
			return lg_send(g, c) == 0 ? 1 : -1;
		}
	}
}

int main(int argc, char **argv)
{
	static struct lg g;
	int conns = 32, once = 0, i = 1;
	double seconds = 10;
	for (; i < argc && argv[i][0] == '-'; i++) {
		if (strcmp(argv[i], "-c") == 0 && i + 1 < argc) conns = atoi(argv[++i]);
		else if (strcmp(argv[i], "-d") == 0 && i + 1 < argc) seconds = atof(argv[++i]);
		else if (strcmp(argv[i], "-1") == 0) once = 1;
		else break;
	}
	if (argc - i < 4 || conns < 1 || conns > 1000) {
		fprintf(stderr, "usage: loadgen [-c CONNS] [-d SECONDS] [-1] HOST PORT ID:SECRET ACTION [Key=Value]...\n");
		return 64;
	}
	g.host = argv[i];
	g.port = atoi(argv[i + 1]);
	static char keybuf[512];
	snprintf(keybuf, sizeof keybuf, "%s", argv[i + 2]);
	char *colon = strchr(keybuf, ':');
	if (!colon) {
		fprintf(stderr, "loadgen: the key must be ID:SECRET\n");
		return 64;
	}
	*colon = '\0';
	g.id = keybuf;
	g.secret = colon + 1;
	g.action = argv[i + 3];
	for (int a = i + 4; a < argc && g.nparams < LG_MAX_PARAMS; a++) {
		char *eq = strchr(argv[a], '=');
		if (!eq) {
			fprintf(stderr, "loadgen: parameters are Key=Value, got %s\n", argv[a]);
			return 64;
		}
		*eq = '\0';
		g.keys[g.nparams] = argv[a];
		g.values[g.nparams++] = eq + 1;
	}
	sign_v1_init(&g.v1);
	sign_params_init(&g.params);
	sign_buf_init(&g.req);
	sign_buf_init(&g.enc);
	char rnd[SIGN_NONCE_SIZE];
	sign_nonce(rnd);
	snprintf(g.nonce_prefix, sizeof g.nonce_prefix, "%.16s", rnd);
	if (once)
		conns = 1;
	int ep = epoll_create1(0);
	struct lg_conn *cs = calloc((size_t)conns, sizeof *cs);
	for (int k = 0; k < conns; k++) {
		cs[k].in_cap = 1 << 18;
		cs[k].in = malloc(cs[k].in_cap);
		cs[k].fd = lg_connect(&g);
		if (cs[k].fd < 0)
			return 1;
		struct epoll_event ev = {.events = EPOLLIN, .data.ptr = &cs[k]};
		epoll_ctl(ep, EPOLL_CTL_ADD, cs[k].fd, &ev);
		if (lg_send(&g, &cs[k]) != 0)
			return 1;
	}
	double start = lg_now(), stop = start + seconds;
	int active = conns;
	struct epoll_event evs[256];
	while (active > 0) {
		int n = epoll_wait(ep, evs, 256, 1000);
		int more = !once && lg_now() < stop;
		for (int k = 0; k < n; k++) {
			struct lg_conn *c = evs[k].data.ptr;
			int r = lg_on_readable(&g, c, more, once);
			if (r <= 0) {
				if (r < 0)
					g.errors++;
				epoll_ctl(ep, EPOLL_CTL_DEL, c->fd, NULL);
				close(c->fd);
				active--;
			}
		}
		if (n == 0 && lg_now() > stop + 10)
			break;
	}
	double took = lg_now() - start;
	if (!once)
		printf("%s: %llu requests in %.2f s = %.0f req/s over %d keep-alive connections; "
		       "HTTP 200: %llu (Success: %llu), 4xx: %llu, 5xx: %llu, other: %llu, broken: %llu; "
		       "latency p50 %.1f ms, p99 %.1f ms\n",
		       g.action, g.done, took, (double)g.done / took, conns, g.st200, g.success, g.st4xx, g.st5xx,
		       g.other, g.errors, lg_percentile(&g, 0.5), lg_percentile(&g, 0.99));
	for (int k = 0; k < conns; k++)
		free(cs[k].in);
	free(cs);
	sign_v1_free(&g.v1);
	sign_params_free(&g.params);
	sign_buf_free(&g.req);
	sign_buf_free(&g.enc);
	close(ep);
	return g.errors ? 1 : 0;
}
