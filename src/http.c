/*
 * http: the transport under the signed API client (see http.h). One curl easy handle per client,
 * reset before each request so no option leaks from one request into the next while the connection
 * cache survives. The loopback rule is enforced twice: on the URL, and in the open-socket callback
 * on the resolved address, so neither a DNS answer nor a proxy can turn "http to localhost" into
 * cleartext on the network. Uses libcurl and the C library.
 */
#include "bytes.h"
#include "http.h"

#include <arpa/inet.h>
#include <ctype.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <curl/curl.h>
#include "curl_api.h"

#ifndef OTARUN_VERSION
#define OTARUN_VERSION "dev"
#endif
#define HTTP_DEFAULT_BODY_LIMIT ((size_t)32 << 20)
#define HTTP_MAX_HEADER_LINES 4096

struct http_client {
	CURL *easy;
	struct curl_slist *headers;
	struct http_response *resp; /* the response being filled, for the callbacks */
	int plain;                  /* this request is cleartext: only loopback addresses allowed */
	int refused_address;        /* the open-socket callback refused a non-loopback address */
	char curl_err[CURL_ERROR_SIZE];
};

const char *http_kind_name(int kind)
{
	switch (kind) {
	case HTTP_OK: return "ok";
	case HTTP_EREFUSED: return "refused";
	case HTTP_EINVAL: return "invalid";
	case HTTP_ECONNECT: return "connect";
	case HTTP_ETLS: return "tls";
	case HTTP_ESEND: return "send";
	case HTTP_ETIMEOUT: return "timeout_after_send";
	case HTTP_ETOOLARGE: return "too_large";
	case HTTP_ENOMEM: return "nomem";
	}
	return "unknown";
}

/* ---- policy ----------------------------------------------------------------------------------- */

int http_host_is_loopback(const char *host)
{
	if (!host || !*host)
		return 0;
	if (strcasecmp(host, "localhost") == 0 || strcasecmp(host, "localhost.") == 0)
		return 1;
	struct in_addr a4;
	if (inet_pton(AF_INET, host, &a4) == 1)
		return (ntohl(a4.s_addr) >> 24) == 127;
	char buf[64];
	size_t n = strlen(host);
	if (n >= 2 && host[0] == '[' && host[n - 1] == ']') {
		if (n - 2 >= sizeof buf)
			return 0;
		memcpy(buf, host + 1, n - 2);
		buf[n - 2] = '\0';
		host = buf;
	}
	struct in6_addr a6;
	return inet_pton(AF_INET6, host, &a6) == 1 && IN6_IS_ADDR_LOOPBACK(&a6);
}

int http_url_check(const char *url, int *plain, char *why, size_t whylen)
{
	*plain = 0;
	if (whylen)
		why[0] = '\0';
	if (curl_api_load(why, whylen) != 0)
		return HTTP_EINVAL;
	CURLU *u = curl_url();
	if (!u) {
		snprintf(why, whylen, "out of memory");
		return HTTP_ENOMEM;
	}
	char *scheme = NULL, *host = NULL;
	int rc = HTTP_OK;
	if (curl_url_set(u, CURLUPART_URL, url, 0) != CURLUE_OK ||
	    curl_url_get(u, CURLUPART_SCHEME, &scheme, 0) != CURLUE_OK ||
	    curl_url_get(u, CURLUPART_HOST, &host, 0) != CURLUE_OK) {
		snprintf(why, whylen, "not a valid http(s) URL: %s", url);
		rc = HTTP_EINVAL;
	} else if (strcmp(scheme, "https") == 0) {
		rc = HTTP_OK;
	} else if (strcmp(scheme, "http") == 0) {
		*plain = 1;
		if (!http_host_is_loopback(host)) {
			snprintf(why, whylen,
			         "plain http:// to %s refused: use https://, or http:// only to a "
			         "loopback host (127.0.0.0/8, localhost, ::1)", host);
			rc = HTTP_EREFUSED;
		}
	} else {
		snprintf(why, whylen, "scheme %s:// refused: only https:// (and http:// to loopback)",
		         scheme);
		rc = HTTP_EREFUSED;
	}
	curl_free(scheme);
	curl_free(host);
	curl_url_cleanup(u);
	return rc;
}

int http_header_name_ok(const char *name)
{
	if (!*name)
		return 0;
	for (const unsigned char *p = (const unsigned char *)name; *p; p++)
		if (*p <= ' ' || *p >= 127 || *p == ':')
			return 0;
	return 1;
}

int http_header_value_ok(const char *value)
{
	return strpbrk(value, "\r\n") == NULL;
}

/* ---- responses -------------------------------------------------------------------------------- */

void http_response_init(struct http_response *r)
{
	memset(r, 0, sizeof *r);
}

void http_response_clear_headers(struct http_response *r)
{
	for (size_t i = 0; i < r->nheaders; i++) {
		free(r->headers[i].name);
		free(r->headers[i].value);
	}
	r->nheaders = 0;
	r->body_len = 0;
	r->status = 0;
}

void http_response_free(struct http_response *r)
{
	http_response_clear_headers(r);
	free(r->headers);
	free(r->body);
	size_t limit = r->body_limit;
	http_response_init(r);
	r->body_limit = limit;
}

static int is_blank(char c)
{
	return c == ' ' || c == '\t' || c == '\r' || c == '\n';
}

int http_parse_header_line(const char *line, size_t n, const char **name, size_t *name_len,
                           const char **value, size_t *value_len)
{
	while (n > 0 && is_blank(line[n - 1]))
		n--;
	if (n == 0 || is_blank(line[0]))
		return 0; /* blank line, or an obsolete folded continuation: ignored */
	const char *colon = memchr(line, ':', n);
	if (!colon || colon == line)
		return 0; /* the status line, or garbage */
	size_t nl = (size_t)(colon - line);
	while (nl > 0 && is_blank(line[nl - 1]))
		nl--;
	if (nl == 0)
		return 0;
	const char *v = colon + 1, *end = line + n;
	while (v < end && is_blank(*v))
		v++;
	*name = line;
	*name_len = nl;
	*value = v;
	*value_len = (size_t)(end - v);
	return 1;
}

int http_response_add_header(struct http_response *r, const char *name, size_t name_len,
                             const char *value, size_t value_len)
{
	if (r->nheaders == r->headers_cap) {
		struct http_header *h = bytes_grow(r->headers, &r->headers_cap, sizeof *h, 16);
		if (!h)
			return -1;
		r->headers = h;
	}
	char *n = malloc(name_len + 1), *v = malloc(value_len + 1);
	if (!n || !v) {
		free(n);
		free(v);
		return -1;
	}
	for (size_t i = 0; i < name_len; i++)
		n[i] = (char)tolower((unsigned char)name[i]);
	n[name_len] = '\0';
	memcpy(v, value, value_len);
	v[value_len] = '\0';
	r->headers[r->nheaders].name = n;
	r->headers[r->nheaders].value = v;
	r->nheaders++;
	return 0;
}

/* ---- curl callbacks --------------------------------------------------------------------------- */

static size_t on_header(char *data, size_t size, size_t nmemb, void *ud)
{
	struct http_client *c = ud;
	struct http_response *r = c->resp;
	size_t n = size * nmemb;
	if (n >= 5 && memcmp(data, "HTTP/", 5) == 0) {
		/* a new response (after 100 Continue, or a retried request): forget the earlier one */
		http_response_clear_headers(r);
		return n;
	}
	const char *name, *value;
	size_t name_len, value_len;
	if (!http_parse_header_line(data, n, &name, &name_len, &value, &value_len))
		return n;
	if (r->nheaders >= HTTP_MAX_HEADER_LINES)
		return 0; /* absurd response: abort the transfer */
	if (http_response_add_header(r, name, name_len, value, value_len) != 0) {
		r->oom = 1;
		return 0;
	}
	return n;
}

static size_t on_body(char *data, size_t size, size_t nmemb, void *ud)
{
	struct http_client *c = ud;
	struct http_response *r = c->resp;
	size_t n = size * nmemb;
	size_t limit = r->body_limit ? r->body_limit : HTTP_DEFAULT_BODY_LIMIT;
	if (n > limit - r->body_len)
		return 0; /* CURLE_WRITE_ERROR, classified as too large below */
	if (bytes_append(&r->body, &r->body_len, &r->body_cap, 4096, data, n)) {
		r->oom = 1;
		return 0;
	}
	return n;
}

/* For plain http: connect only to loopback addresses, whatever the name resolved to. */
static curl_socket_t on_open_socket(void *ud, curlsocktype purpose, struct curl_sockaddr *addr)
{
	struct http_client *c = ud;
	(void)purpose;
	if (c->plain) {
		int ok = 0;
		if (addr->family == AF_INET) {
			const struct sockaddr_in *sin = (const struct sockaddr_in *)&addr->addr;
			ok = (ntohl(sin->sin_addr.s_addr) >> 24) == 127;
		} else if (addr->family == AF_INET6) {
			const struct sockaddr_in6 *sin6 = (const struct sockaddr_in6 *)&addr->addr;
			ok = IN6_IS_ADDR_LOOPBACK(&sin6->sin6_addr);
		}
		if (!ok) {
			c->refused_address = 1;
			return CURL_SOCKET_BAD;
		}
	}
	return socket(addr->family, addr->socktype, addr->protocol);
}

/* ---- the client ------------------------------------------------------------------------------- */

struct http_client *http_client_new(void)
{
	char err[256];
	if (curl_api_load(err, sizeof err) != 0) {
		fprintf(stderr, "otarun: %s\n", err);
		return NULL;
	}
	struct http_client *c = calloc(1, sizeof *c);
	if (!c)
		return NULL;
	c->easy = curl_easy_init();
	if (!c->easy) {
		free(c);
		return NULL;
	}
	return c;
}

void http_client_free(struct http_client *c)
{
	if (!c)
		return;
	curl_easy_cleanup(c->easy);
	curl_slist_free_all(c->headers);
	free(c);
}

static int method_ok(const char *m)
{
	if (!*m)
		return 0;
	for (; *m; m++)
		if (*m < 'A' || *m > 'Z')
			return 0;
	return 1;
}

/* Builds the header list: the caller's, plus removal of curl's own Content-Type and Expect
 * defaults (the body is signed as given; an unsigned default content type would be a lie). */
static int build_headers(struct http_client *c, const struct http_request *req, char *err,
                         size_t errlen)
{
	int has_ctype = 0;
	for (size_t i = 0; i < req->nheaders; i++) {
		const char *name = req->header_names[i], *value = req->header_values[i];
		if (!http_header_name_ok(name) || !http_header_value_ok(value)) {
			snprintf(err, errlen, "header %s: name must be a token and the value must not "
			         "contain CR or LF", http_header_name_ok(name) ? name : "(invalid name)");
			return HTTP_EINVAL;
		}
		if (strcasecmp(name, "content-type") == 0)
			has_ctype = 1;
		size_t len = strlen(name) + strlen(value) + 3;
		char *line = malloc(len);
		if (!line)
			return HTTP_ENOMEM;
		/* "Name;" is curl's way of sending a header with an empty value */
		if (*value)
			snprintf(line, len, "%s: %s", name, value);
		else
			snprintf(line, len, "%s;", name);
		struct curl_slist *l = curl_slist_append(c->headers, line);
		free(line);
		if (!l)
			return HTTP_ENOMEM;
		c->headers = l;
	}
	const char *extra[] = {has_ctype ? NULL : "Content-Type:", "Expect:"};
	for (size_t i = 0; i < sizeof extra / sizeof *extra; i++) {
		if (!extra[i])
			continue;
		struct curl_slist *l = curl_slist_append(c->headers, extra[i]);
		if (!l)
			return HTTP_ENOMEM;
		c->headers = l;
	}
	return HTTP_OK;
}

static void set_options(struct http_client *c, const struct http_request *req)
{
	CURL *e = c->easy;
	curl_easy_setopt(e, CURLOPT_URL, req->url);
	curl_easy_setopt(e, CURLOPT_PROTOCOLS_STR, "http,https");
	curl_easy_setopt(e, CURLOPT_FOLLOWLOCATION, 0L);
	curl_easy_setopt(e, CURLOPT_SSL_VERIFYPEER, 1L);
	curl_easy_setopt(e, CURLOPT_SSL_VERIFYHOST, 2L);
	curl_easy_setopt(e, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(e, CURLOPT_TCP_KEEPALIVE, 1L);
	curl_easy_setopt(e, CURLOPT_USERAGENT, "otarun/" OTARUN_VERSION);
	curl_easy_setopt(e, CURLOPT_ERRORBUFFER, c->curl_err);
	curl_easy_setopt(e, CURLOPT_HEADERFUNCTION, on_header);
	curl_easy_setopt(e, CURLOPT_HEADERDATA, c);
	curl_easy_setopt(e, CURLOPT_WRITEFUNCTION, on_body);
	curl_easy_setopt(e, CURLOPT_WRITEDATA, c);
	curl_easy_setopt(e, CURLOPT_OPENSOCKETFUNCTION, on_open_socket);
	curl_easy_setopt(e, CURLOPT_OPENSOCKETDATA, c);
	curl_easy_setopt(e, CURLOPT_HTTPHEADER, c->headers);
	curl_easy_setopt(e, CURLOPT_CONNECTTIMEOUT_MS,
	                 req->connect_timeout_ms > 0 ? req->connect_timeout_ms : 10000L);
	curl_easy_setopt(e, CURLOPT_TIMEOUT_MS, req->timeout_ms > 0 ? req->timeout_ms : 60000L);
	if (c->plain)
		curl_easy_setopt(e, CURLOPT_NOPROXY, "*"); /* loopback traffic never leaves the host */
	if (strcmp(req->method, "GET") == 0) {
		curl_easy_setopt(e, CURLOPT_HTTPGET, 1L);
	} else {
		if (strcmp(req->method, "POST") != 0)
			curl_easy_setopt(e, CURLOPT_CUSTOMREQUEST, req->method);
		curl_easy_setopt(e, CURLOPT_POST, 1L);
		curl_easy_setopt(e, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)req->body_len);
		curl_easy_setopt(e, CURLOPT_POSTFIELDS, req->body_len ? req->body : "");
	}
}

static int is_tls_error(CURLcode rc)
{
	switch (rc) {
	case CURLE_SSL_CONNECT_ERROR: case CURLE_PEER_FAILED_VERIFICATION:
	case CURLE_SSL_CERTPROBLEM: case CURLE_SSL_CIPHER: case CURLE_SSL_CACERT_BADFILE:
	case CURLE_SSL_ENGINE_NOTFOUND: case CURLE_SSL_ENGINE_SETFAILED:
	case CURLE_SSL_ENGINE_INITFAILED: case CURLE_SSL_CRL_BADFILE: case CURLE_SSL_ISSUER_ERROR:
	case CURLE_SSL_PINNEDPUBKEYNOTMATCH: case CURLE_SSL_INVALIDCERTSTATUS:
	case CURLE_SSL_CLIENTCERT: case CURLE_USE_SSL_FAILED:
		return 1;
	default:
		return 0;
	}
}

/* Maps a curl failure to what the server may have seen. request_size counts request bytes that
 * were actually written to the socket in this transfer. */
static int classify(struct http_client *c, CURLcode rc, curl_off_t request_size)
{
	if (c->refused_address)
		return HTTP_EREFUSED;
	if (c->resp->oom || rc == CURLE_OUT_OF_MEMORY)
		return HTTP_ENOMEM;
	if (rc == CURLE_WRITE_ERROR)
		return HTTP_ETOOLARGE;
	if (rc == CURLE_UNSUPPORTED_PROTOCOL || rc == CURLE_URL_MALFORMAT)
		return HTTP_EINVAL;
	if (is_tls_error(rc))
		return HTTP_ETLS;
	if (request_size <= 0)
		return HTTP_ECONNECT; /* whatever went wrong, no byte of the request left */
	return rc == CURLE_OPERATION_TIMEDOUT ? HTTP_ETIMEOUT : HTTP_ESEND;
}

int http_client_request(struct http_client *c, const struct http_request *req,
                        struct http_response *resp, char *err, size_t errlen)
{
	if (errlen)
		err[0] = '\0';
	if (!req->method || !method_ok(req->method) || !req->url) {
		snprintf(err, errlen, "method must be an upper-case token and url a string");
		return HTTP_EINVAL;
	}
	int rc = http_url_check(req->url, &c->plain, err, errlen);
	if (rc != HTTP_OK)
		return rc;
	curl_easy_reset(c->easy); /* keeps the connection cache */
	curl_slist_free_all(c->headers);
	c->headers = NULL;
	rc = build_headers(c, req, err, errlen);
	if (rc != HTTP_OK) {
		if (rc == HTTP_ENOMEM)
			snprintf(err, errlen, "out of memory building request headers");
		return rc;
	}
	c->resp = resp;
	c->refused_address = 0;
	c->curl_err[0] = '\0';
	http_response_clear_headers(resp);
	resp->oom = 0;
	set_options(c, req);

	CURLcode cc = curl_easy_perform(c->easy);
	if (cc == CURLE_OK) {
		curl_easy_getinfo(c->easy, CURLINFO_RESPONSE_CODE, &resp->status);
		return HTTP_OK;
	}
	curl_off_t sent = 0;
	long request_size = 0;
	if (curl_easy_getinfo(c->easy, CURLINFO_REQUEST_SIZE, &request_size) == CURLE_OK)
		sent = request_size;
	rc = classify(c, cc, sent);
	const char *detail = c->curl_err[0] ? c->curl_err : curl_easy_strerror(cc);
	switch (rc) {
	case HTTP_EREFUSED:
		snprintf(err, errlen, "plain http:// refused: the host resolved to a non-loopback address");
		break;
	case HTTP_ETOOLARGE:
		snprintf(err, errlen, "response body larger than %zu bytes",
		         resp->body_limit ? resp->body_limit : HTTP_DEFAULT_BODY_LIMIT);
		break;
	case HTTP_ECONNECT:
		snprintf(err, errlen, "%s (nothing was sent)", detail);
		break;
	case HTTP_ETIMEOUT:
	case HTTP_ESEND:
		snprintf(err, errlen, "%s (after the request was sent: outcome unknown)", detail);
		break;
	default:
		snprintf(err, errlen, "%s", detail);
	}
	return rc;
}
