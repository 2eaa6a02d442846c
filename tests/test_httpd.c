/* C unit tests of httpd.c: loopback-only listening, one request seen whole (method, path, raw
 * query, lowercase headers, body, remote), delayed and dropped answers, the body limit. The client
 * is a plain socket in this same thread: the kernel buffers while httpd_poll runs. */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>
#include "httpd.h"

#include "harness.h"

static double now_s(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

struct seen {
	char line[512];
	int mode; /* 0 echo, 1 drop, 2 delay */
};

static void handler(void *ud, const struct httpd_request *req, struct httpd_response *resp)
{
	struct seen *s = ud;
	const char *xt = "";
	for (size_t i = 0; i < req->nheaders; i++)
		if (strcmp(req->headers[i].name, "x-test") == 0)
			xt = req->headers[i].value;
	snprintf(s->line, sizeof s->line, "%s %s %s %s %.*s %s", req->method, req->path, req->query, xt,
		(int)req->body_len, req->body, req->remote);
	resp->status = 201;
	httpd_response_add_header(resp, "X-Answer", "yes");
	httpd_response_set_body(resp, s->line, strlen(s->line));
	resp->drop = s->mode == 1;
	resp->delay_ms = s->mode == 2 ? 150 : 0;
}

/* Sends raw, polls the server until the peer answers or closes; returns bytes read (0: closed). */
static int exchange(struct httpd *h, struct seen *s, const char *raw, char *out, size_t outlen)
{
	int fd = socket(AF_INET, SOCK_STREAM, 0);
	struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = htons((unsigned short)httpd_port(h))};
	inet_pton(AF_INET, "127.0.0.1", &sa.sin_addr);
	if (connect(fd, (struct sockaddr *)&sa, sizeof sa) != 0)
		return -1;
	fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK);
	send(fd, raw, strlen(raw), 0);
	size_t got = 0;
	double end = now_s() + 3;
	while (now_s() < end) {
		httpd_poll(h, 10, handler, s);
		ssize_t n = recv(fd, out + got, outlen - 1 - got, 0);
		if (n == 0)
			break;
		if (n > 0) {
			got += (size_t)n;
			out[got] = '\0';
			const char *head_end = strstr(out, "\r\n\r\n");
			const char *cl = strstr(out, "Content-Length: ");
			if (head_end && cl && strlen(head_end + 4) >= (size_t)atoi(cl + 16))
				break;
		} else if (errno != EAGAIN) {
			break;
		}
	}
	out[got] = '\0';
	close(fd);
	return (int)got;
}

int main(void)
{
	char err[256];
	struct httpd_config bad = {.host = "0.0.0.0"};
	CHECK_MSG(httpd_open(&bad, err, sizeof err) == NULL && strstr(err, "loopback"), "refuses 0.0.0.0");
	struct httpd_config junk = {.host = "example.com"};
	CHECK_MSG(httpd_open(&junk, err, sizeof err) == NULL && strstr(err, "not an IP address"), "refuses names");
	struct httpd_config cfg = {.host = "127.0.0.1", .port = 0, .max_body = 16};
	struct httpd *h = httpd_open(&cfg, err, sizeof err);
	CHECK_MSG(h != NULL, err);
	if (!h)
		goto out;
	CHECK_MSG(httpd_port(h) > 0, "port 0 picks a port");

	struct seen s = {.mode = 0};
	char buf[4096];
	exchange(h, &s, "POST /p%20x?a=1&b=x+y%2A HTTP/1.1\r\nHost: t\r\nX-Test: Val\r\nContent-Length: 3\r\n\r\nabc", buf, sizeof buf);
	CHECK_MSG(strncmp(buf, "HTTP/1.1 201", 12) == 0, "status from the handler");
	CHECK_MSG(strstr(buf, "X-Answer: yes") != NULL, "header from the handler");
	CHECK_MSG(strcmp(s.line, "POST /p%20x a=1&b=x+y%2A Val abc 127.0.0.1") == 0, s.line);

	s.mode = 2;
	double t0 = now_s();
	exchange(h, &s, "GET /slow?1 HTTP/1.1\r\nHost: t\r\n\r\n", buf, sizeof buf);
	CHECK_MSG(strncmp(buf, "HTTP/1.1 201", 12) == 0 && now_s() - t0 >= 0.14, "delayed answer arrives after the delay");

	s.mode = 1;
	int n = exchange(h, &s, "GET /drop HTTP/1.1\r\nHost: t\r\n\r\n", buf, sizeof buf);
	CHECK_MSG(n == 0, "dropped: closed without an answer");

	s.mode = 0;
	exchange(h, &s, "POST /big HTTP/1.1\r\nHost: t\r\nContent-Length: 20\r\n\r\n01234567890123456789", buf, sizeof buf);
	CHECK_MSG(strncmp(buf, "HTTP/1.1 413", 12) == 0, "413 over max_body");

	struct httpd_stats st;
	httpd_get_stats(h, &st);
	CHECK_MSG(st.requests == 4 && st.dropped == 1 && st.too_large == 1, "stats");
	CHECK_MSG(!httpd_stop_requested(h), "not stopping");
	httpd_request_stop(h);
	CHECK_MSG(httpd_stop_requested(h), "stop requested");
	httpd_close(h);
out:
	return harness_report();
}
