/* Unit tests for http.c that need no network: the loopback/scheme policy, header line parsing,
 * response header storage, header validation, and a refused request that never reaches curl. */
#include <stdio.h>
#include <string.h>
#include "http.h"

#include "harness.h"

static void test_loopback(void)
{
	CHECK_TRUE(http_host_is_loopback("127.0.0.1"));
	CHECK_TRUE(http_host_is_loopback("127.255.3.9"));
	CHECK_TRUE(http_host_is_loopback("localhost"));
	CHECK_TRUE(http_host_is_loopback("LOCALHOST"));
	CHECK_TRUE(http_host_is_loopback("::1"));
	CHECK_TRUE(http_host_is_loopback("[::1]"));
	CHECK_TRUE(!http_host_is_loopback("128.0.0.1"));
	CHECK_TRUE(!http_host_is_loopback("10.0.0.1"));
	CHECK_TRUE(!http_host_is_loopback("0.0.0.0"));
	CHECK_TRUE(!http_host_is_loopback("localhost.example.com"));
	CHECK_TRUE(!http_host_is_loopback("127.0.0.1.nip.io"));
	CHECK_TRUE(!http_host_is_loopback("::2"));
	CHECK_TRUE(!http_host_is_loopback("[::]"));
	CHECK_TRUE(!http_host_is_loopback(""));
	CHECK_TRUE(!http_host_is_loopback("127.1")); /* not dotted-quad: refused rather than guessed */
}

static void test_url_policy(void)
{
	char why[256];
	int plain = -1;
	CHECK_TRUE(http_url_check("https://iot.cn-shanghai.aliyuncs.com/", &plain, why, sizeof why) ==
	      HTTP_OK);
	CHECK_TRUE(plain == 0);
	CHECK_TRUE(http_url_check("http://127.0.0.1:8080/", &plain, why, sizeof why) == HTTP_OK);
	CHECK_TRUE(plain == 1);
	CHECK_TRUE(http_url_check("http://[::1]:8080/?a=b", &plain, why, sizeof why) == HTTP_OK);
	CHECK_TRUE(http_url_check("HTTP://localhost:1/", &plain, why, sizeof why) == HTTP_OK);
	CHECK_TRUE(http_url_check("http://iot.cn-shanghai.aliyuncs.com/", &plain, why, sizeof why) ==
	      HTTP_EREFUSED);
	CHECK_TRUE(strstr(why, "iot.cn-shanghai.aliyuncs.com") != NULL);
	CHECK_TRUE(strstr(why, "https://") != NULL);
	CHECK_TRUE(http_url_check("http://10.1.2.3/", &plain, why, sizeof why) == HTTP_EREFUSED);
	CHECK_TRUE(http_url_check("http://127.0.0.1@evil.example/", &plain, why, sizeof why) ==
	      HTTP_EREFUSED);
	CHECK_TRUE(http_url_check("ftp://127.0.0.1/", &plain, why, sizeof why) != HTTP_OK);
	CHECK_TRUE(http_url_check("file:///etc/passwd", &plain, why, sizeof why) != HTTP_OK);
	CHECK_TRUE(http_url_check("not a url", &plain, why, sizeof why) != HTTP_OK);
	CHECK_TRUE(http_url_check("127.0.0.1:8080", &plain, why, sizeof why) != HTTP_OK);
}

static void test_header_lines(void)
{
	const char *name, *value;
	size_t nl, vl;
	const char *line = "X-Acs-Retry-After:  2000 \r\n";
	CHECK_TRUE(http_parse_header_line(line, strlen(line), &name, &nl, &value, &vl) == 1);
	CHECK_TRUE(nl == 17 && memcmp(name, "X-Acs-Retry-After", 17) == 0);
	CHECK_TRUE(vl == 4 && memcmp(value, "2000", 4) == 0);
	line = "Empty:\r\n";
	CHECK_TRUE(http_parse_header_line(line, strlen(line), &name, &nl, &value, &vl) == 1);
	CHECK_TRUE(nl == 5 && vl == 0);
	line = "Location: http://a/b:c\r\n"; /* only the first colon splits */
	CHECK_TRUE(http_parse_header_line(line, strlen(line), &name, &nl, &value, &vl) == 1);
	CHECK_TRUE(vl == 12 && memcmp(value, "http://a/b:c", 12) == 0);
	line = "HTTP/1.1 200 OK\r\n";
	CHECK_TRUE(http_parse_header_line(line, strlen(line), &name, &nl, &value, &vl) == 0);
	line = "\r\n";
	CHECK_TRUE(http_parse_header_line(line, strlen(line), &name, &nl, &value, &vl) == 0);
	line = "  folded continuation\r\n";
	CHECK_TRUE(http_parse_header_line(line, strlen(line), &name, &nl, &value, &vl) == 0);
	line = ": no name\r\n";
	CHECK_TRUE(http_parse_header_line(line, strlen(line), &name, &nl, &value, &vl) == 0);
}

static void test_response_headers(void)
{
	struct http_response r;
	http_response_init(&r);
	CHECK_TRUE(http_response_add_header(&r, "Content-Type", 12, "application/json", 16) == 0);
	for (int i = 0; i < 40; i++) /* grows past the initial capacity */
		CHECK_TRUE(http_response_add_header(&r, "X-N", 3, "v", 1) == 0);
	CHECK_TRUE(r.nheaders == 41);
	CHECK_TRUE(strcmp(r.headers[0].name, "content-type") == 0);
	CHECK_TRUE(strcmp(r.headers[0].value, "application/json") == 0);
	http_response_clear_headers(&r);
	CHECK_TRUE(r.nheaders == 0);
	http_response_free(&r);
}

static void test_header_validation(void)
{
	CHECK_TRUE(http_header_name_ok("x-acs-date"));
	CHECK_TRUE(!http_header_name_ok(""));
	CHECK_TRUE(!http_header_name_ok("bad name"));
	CHECK_TRUE(!http_header_name_ok("a:b"));
	CHECK_TRUE(!http_header_name_ok("a\r\nb"));
	CHECK_TRUE(http_header_value_ok("ACS3-HMAC-SHA256 Credential=x"));
	CHECK_TRUE(!http_header_value_ok("x\r\nInjected: 1"));
	CHECK_TRUE(!http_header_value_ok("x\n"));
}

static void test_refused_request(void)
{
	struct http_client *c = http_client_new();
	CHECK_TRUE(c != NULL);
	if (!c)
		return;
	struct http_response r;
	http_response_init(&r);
	char err[256];
	const char *names[] = {"x-acs-action"}, *values[] = {"QueryOTAJob"};
	struct http_request req = {.method = "POST", .url = "http://192.0.2.1/", .header_names = names,
	                           .header_values = values, .nheaders = 1};
	CHECK_TRUE(http_client_request(c, &req, &r, err, sizeof err) == HTTP_EREFUSED);
	CHECK_TRUE(strstr(err, "192.0.2.1") != NULL);
	req.method = "post";
	CHECK_TRUE(http_client_request(c, &req, &r, err, sizeof err) == HTTP_EINVAL);
	const char *bad[] = {"v\r\nX: y"};
	req.method = "POST";
	req.url = "http://127.0.0.1:9/";
	req.header_values = bad;
	CHECK_TRUE(http_client_request(c, &req, &r, err, sizeof err) == HTTP_EINVAL);
	http_response_free(&r);
	http_client_free(c);
	CHECK_TRUE(strcmp(http_kind_name(HTTP_ETIMEOUT), "timeout_after_send") == 0);
	CHECK_TRUE(strcmp(http_kind_name(HTTP_ECONNECT), "connect") == 0);
}

int main(void)
{
	test_loopback();
	test_url_policy();
	test_header_lines();
	test_response_headers();
	test_header_validation();
	test_refused_request();
	return harness_report();
}
