/*
 * test_sign.c: unit tests of the signer core (src/sign.c, src/sign_v3.c) against the published
 * vectors listed in docs/signing.md (V1-a..V1-d, the doc-trap string, the official V3
 * vector) and RFC 2202/4231 HMAC vectors, plus encoding, sorting, canonical headers, the
 * Authorization parser and timestamps. Harness: tests/harness.h.
 */
#include "sign.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "harness.h"

#define CHECK_RC(expr, want) CHECK((expr) == (want), "%s != %s", #expr, #want)


/* ---- helpers --------------------------------------------------------------------------------- */

static const char *encode(struct sign_buf *b, const char *s)
{
	sign_buf_reset(b);
	return sign_percent_encode(b, s, strlen(s)) == SIGN_OK ? b->data : NULL;
}

/* Adds "k=v" pairs from a NULL-terminated list of alternating keys and values (borrowed). */
static void add_all(struct sign_params *p, const char *const *kv)
{
	for (; kv[0]; kv += 2)
		if (sign_params_add(p, kv[0], strlen(kv[0]), kv[1], strlen(kv[1])))
			abort();
}

static const char *v1_sign(struct sign_v1 *v1, const char *method, const char *const *kv,
                           const char *secret)
{
	struct sign_params p;
	sign_params_init(&p);
	add_all(&p, kv);
	int rc = sign_v1_compute(v1, method, &p, secret, strlen(secret));
	sign_params_free(&p);
	return rc == SIGN_OK ? v1->signature : NULL;
}

/* ---- percent-encoding ------------------------------------------------------------------------ */

static void test_percent_encode(void)
{
	struct sign_buf b;
	sign_buf_init(&b);
	CHECK_STR(encode(&b, "a b"), "a%20b");
	CHECK_STR(encode(&b, "*"), "%2A");
	CHECK_STR(encode(&b, "/=&+"), "%2F%3D%26%2B");
	CHECK_STR(encode(&b, "~-_."), "~-_.");
	CHECK_STR(encode(&b, "\xe6\xb4\xbe"), "%E6%B4%BE"); /* 派 */
	CHECK_STR(encode(&b, "canary run/*~"), "canary%20run%2F%2A~");
	CHECK_STR(encode(&b, "!'()"), "%21%27%28%29");
	CHECK_STR(encode(&b, ""), "");
	/* every byte: literal iff unreserved, else %XY uppercase */
	int bad = 0;
	for (int c = 0; c < 256; c++) {
		char in = (char)c, want[4];
		int lit = (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') ||
		          (c >= '0' && c <= '9') || c == '-' || c == '_' || c == '.' || c == '~';
		if (lit)
			snprintf(want, sizeof want, "%c", c);
		else
			snprintf(want, sizeof want, "%%%02X", c);
		sign_buf_reset(&b);
		if (sign_percent_encode(&b, &in, 1) || b.len != strlen(want) ||
		    memcmp(b.data, want, b.len) != 0)
			bad++;
	}
	CHECK(bad == 0, "%d of 256 single bytes encoded wrongly", bad);
	/* appends rather than overwrites */
	sign_buf_reset(&b);
	sign_buf_append_str(&b, "x=");
	sign_percent_encode(&b, "a b", 3);
	CHECK_STR(b.data, "x=a%20b");
	sign_buf_free(&b);
}

static void test_percent_decode(void)
{
	struct sign_buf b, e;
	sign_buf_init(&b);
	sign_buf_init(&e);
	size_t at = 99;
	CHECK_RC(sign_percent_decode(&b, "a%20b+c", 7, 1, &at), SIGN_OK);
	CHECK_STR(b.data, "a b c");
	sign_buf_reset(&b);
	CHECK_RC(sign_percent_decode(&b, "a+b", 3, 0, &at), SIGN_OK);
	CHECK_STR(b.data, "a+b");
	sign_buf_reset(&b);
	CHECK_RC(sign_percent_decode(&b, "%e6%B4%bE%2a", 12, 1, NULL), SIGN_OK);
	CHECK_STR(b.data, "\xe6\xb4\xbe*");
	sign_buf_reset(&b);
	CHECK_RC(sign_percent_decode(&b, "a%00b", 5, 1, NULL), SIGN_OK);
	CHECK(b.len == 3 && b.data[1] == '\0' && b.data[2] == 'b', "%%00 keeps the NUL byte");

	/* malformed: report where, and leave what was already in the buffer untouched */
	static const struct { const char *in; size_t at; } bad[] = {
		{"%", 0}, {"ab%4", 2}, {"%zz", 0}, {"a%4g", 1}, {"ok%20%", 5}, {"%%41", 0},
	};
	for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
		sign_buf_reset(&b);
		sign_buf_append_str(&b, "keep");
		at = 99;
		int rc = sign_percent_decode(&b, bad[i].in, strlen(bad[i].in), 1, &at);
		CHECK(rc == SIGN_EINVAL && at == bad[i].at && strcmp(b.data, "keep") == 0,
		      "decode(\"%s\") rc=%d at=%zu buf=%s", bad[i].in, rc, at, b.data);
	}

	/* round trip over every byte value */
	char all[256];
	for (int i = 0; i < 256; i++)
		all[i] = (char)i;
	sign_buf_reset(&b);
	sign_percent_encode(&e, all, sizeof all);
	CHECK_RC(sign_percent_decode(&b, e.data, e.len, 1, NULL), SIGN_OK);
	CHECK(b.len == 256 && memcmp(b.data, all, 256) == 0, "decode(encode(bytes 0..255))");
	sign_buf_free(&b);
	sign_buf_free(&e);
}

/* ---- parameter lists ------------------------------------------------------------------------- */

static void test_params_sort(void)
{
	struct sign_params p;
	struct sign_buf b;
	sign_params_init(&p);
	sign_buf_init(&b);
	static const char *const kv[] = {"Tag.2.Key", "team.a", "Tag.10.Key", "x", "Tag.1.Value",
	                                 "canary run/*~", "SrcVersion.2", "V1.0.1", "Tag.1.Key",
	                                 "env", "SrcVersion.1", "1.0.0", "NeedPush", "true", NULL};
	add_all(&p, kv);
	sign_params_sort(&p);
	sign_canonical_query(&b, &p, NULL);
	CHECK_STR(b.data, "NeedPush=true&SrcVersion.1=1.0.0&SrcVersion.2=V1.0.1&Tag.1.Key=env&"
	                  "Tag.1.Value=canary%20run%2F%2A~&Tag.10.Key=x&Tag.2.Key=team.a");

	/* a key that is a prefix sorts first; duplicates order by value; skip_key drops one name */
	sign_params_reset(&p);
	static const char *const kv2[] = {"ab", "1", "a", "z", "a", "b", "Signature", "s", NULL};
	add_all(&p, kv2);
	sign_params_sort(&p);
	sign_buf_reset(&b);
	sign_canonical_query(&b, &p, "Signature");
	CHECK_STR(b.data, "a=b&a=z&ab=1");

	/* a long list (past the insertion-sort cutoff) in reverse order */
	sign_params_reset(&p);
	for (int i = 40; i >= 1; i--) {
		char k[24];
		int kn = snprintf(k, sizeof k, "Tag.%d.Key", i);
		sign_params_add_copy(&p, k, (size_t)kn, "v", 1);
	}
	sign_params_sort(&p);
	int order_ok = p.len == 40;
	for (size_t i = 1; i < p.len; i++)
		if (strcmp(p.items[i - 1].key, p.items[i].key) >= 0)
			order_ok = 0;
	CHECK(order_ok && strcmp(p.items[0].key, "Tag.1.Key") == 0 &&
	      strcmp(p.items[1].key, "Tag.10.Key") == 0 && strcmp(p.items[39].key, "Tag.9.Key") == 0,
	      "40 keys in byte order");

	/* empty list: empty but valid string */
	sign_params_reset(&p);
	sign_buf_reset(&b);
	CHECK(sign_canonical_query(&b, &p, NULL) == SIGN_OK && b.data && b.len == 0,
	      "empty canonical query");

	/* copies survive the caller's buffer; get finds exact keys only */
	char key[] = "Action", val[] = "QueryOTAJob";
	sign_params_add_copy(&p, key, 6, val, 11);
	key[0] = 'X', val[0] = 'X';
	const struct sign_param *got = sign_params_get(&p, "Action", 6);
	CHECK(got && strcmp(got->value, "QueryOTAJob") == 0, "add_copy keeps its own bytes");
	CHECK(sign_params_get(&p, "action", 6) == NULL, "get is case-sensitive");
	sign_params_free(&p);
	sign_buf_free(&b);
}

/* ---- hashes and MACs ------------------------------------------------------------------------- */

static void test_hashes(void)
{
	char hex[SIGN_SHA256_HEX_SIZE], b64[SIGN_SHA1_B64_SIZE];
	sign_sha256_hex(hex, "", 0);
	CHECK_STR(hex, "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
	sign_sha256_hex(hex, "abc", 3);
	CHECK_STR(hex, "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
	/* RFC 2202 case 2 and RFC 4231 case 2 */
	sign_hmac_sha1_base64(b64, "Jefe", 4, "what do ya want for nothing?", 28);
	CHECK_STR(b64, "7/zfauXrL6LSdBbV8YTfnCWafHk=");
	sign_hmac_sha256_hex(hex, "Jefe", 4, "what do ya want for nothing?", 28);
	CHECK_STR(hex, "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843");
	/* keys longer than the 64-byte block are hashed first (RFC 4231 case 6, RFC 2202 case 6) */
	static const char big_data[] = "Test Using Larger Than Block-Size Key - Hash Key First";
	unsigned char big_key[131];
	memset(big_key, 0xaa, sizeof big_key);
	sign_hmac_sha256_hex(hex, big_key, 131, big_data, sizeof big_data - 1);
	CHECK_STR(hex, "60e431591ee0b67f0d8a26aacbf5b77f8e0bc6213728c5140546040f0ee37f54");
	sign_hmac_sha1_base64(b64, big_key, 80, big_data, sizeof big_data - 1);
	CHECK_STR(b64, "qkrl4VJy0A6VcFY3zoo7Ve1AIRI=");
	char k65[65];
	memset(k65, 'k', sizeof k65);
	sign_hmac_sha256_hex(hex, k65, 64, "msg", 3); /* exactly one block: used as is */
	CHECK_STR(hex, "d62ad25bb128e96ab6ef43464aaf2bb91b5b85f013381e9ba6be747e8d0911b2");
	sign_hmac_sha256_hex(hex, k65, 65, "msg", 3);
	CHECK_STR(hex, "c65585780e821bd312cfaa440c33cb28d6af6b323d4977ae83934834ce589e38");
	CHECK_RC(sign_hmac_sha256_hex(hex, "", 0, "", 0), SIGN_OK);
	CHECK_STR(hex, "b613679a0814d9ec772f95d778c35fc5ff1697c493715653c6c712144292c5ad");

	CHECK(sign_equal("abcd", 4, "abcd", 4), "equal strings compare equal");
	CHECK(!sign_equal("abcd", 4, "abce", 4), "last byte differs");
	CHECK(!sign_equal("abcd", 4, "abc", 3), "lengths differ");
}

/* ---- v1 -------------------------------------------------------------------------------------- */

static const char *const v1a[] = {
	"AccessKeyId", "testid", "Action", "DescribeRegions", "Format", "XML",
	"SignatureMethod", "HMAC-SHA1", "SignatureNonce", "3ee8c1b8-83d3-44af-a94f-4e0ad82fd6cf",
	"SignatureVersion", "1.0", "Timestamp", "2016-02-23T12:46:24Z", "Version", "2014-05-26",
	NULL};

static void test_v1_vectors(void)
{
	struct sign_v1 v1;
	sign_v1_init(&v1);
	CHECK_STR(v1_sign(&v1, "GET", v1a, "testsecret"), "OLeaidS1JvxuMvnyHOwuJ+uX5qY=");
	CHECK_STR(v1.string_to_sign.data,
	          "GET&%2F&AccessKeyId%3Dtestid%26Action%3DDescribeRegions%26Format%3DXML%26"
	          "SignatureMethod%3DHMAC-SHA1%26SignatureNonce%3D3ee8c1b8-83d3-44af-a94f-"
	          "4e0ad82fd6cf%26SignatureVersion%3D1.0%26Timestamp%3D2016-02-23T12%253A46%253A24Z"
	          "%26Version%3D2014-05-26");

	static const char *const v1b[] = {
		"AccessKeyId", "testid", "Action", "DescribeRegions", "Format", "XML",
		"SignatureMethod", "HMAC-SHA1", "SignatureNonce",
		"3ee8c1b8-83d3-44af-a94f-4e0ad82fd6cf", "SignatureVersion", "1.0", "TimeStamp",
		"2016-02-23T12:46:24Z", "Version", "2014-05-26", NULL};
	CHECK_STR(v1_sign(&v1, "GET", v1b, "testsecret"), "CT9X0VtwR86fNWSnsc6v8YGOjuE=");

	/* doc trap: the same string with literal '&' between pairs gives the published wrong value */
	char trap[1024], b64[SIGN_SHA1_B64_SIZE];
	size_t n = 0;
	for (const char *s = v1.string_to_sign.data; *s && n < sizeof trap - 1;) {
		if (s > v1.string_to_sign.data + 8 && strncmp(s, "%26", 3) == 0)
			trap[n++] = '&', s += 3;
		else
			trap[n++] = *s++;
	}
	trap[n] = '\0';
	sign_hmac_sha1_base64(b64, "testsecret&", 11, trap, n);
	CHECK_STR(b64, "LZ5DVzNj95387UDL70u7+18AwWY=");

	static const char *const v1c[] = {
		"AccessKeyId", "testid", "Action", "DescribeDedicatedHosts", "Format", "JSON",
		"RegionId", "cn-beijing", "SignatureMethod", "HMAC-SHA1", "SignatureNonce",
		"edb2b34af0af9a6d14deaf7c1a5315eb", "SignatureVersion", "1.0", "Timestamp",
		"2023-03-13T08:34:30Z", "Version", "2014-05-26", NULL};
	CHECK_STR(v1_sign(&v1, "GET", v1c, "testsecret"), "9NaGiOspFP5UPcwX8Iwt2YJXXuk=");

	static const char *const v1d[] = {
		"Version", "2017-05-25", "Timestamp", "2017-07-12T02:42:19Z", "AccessKeyId",
		"testId", "Action", "SendSms", "Format", "XML", "OutId", "123", "PhoneNumbers",
		"15300000001", "RegionId", "cn-hangzhou", "SignName",
		"\xe9\x98\xbf\xe9\x87\x8c\xe4\xba\x91\xe7\x9f\xad\xe4\xbf\xa1\xe6\xb5\x8b\xe8\xaf"
		"\x95\xe4\xb8\x93\xe7\x94\xa8", /* 阿里云短信测试专用 */
		"SignatureMethod", "HMAC-SHA1", "SignatureNonce",
		"45e25e9b-0a6f-4070-8c85-2956eda1b466", "SignatureVersion", "1.0", "TemplateCode",
		"SMS_71390007", "TemplateParam", "{\"customer\":\"test\"}", NULL};
	CHECK_STR(v1_sign(&v1, "GET", v1d, "testSecret"), "zJDF+Lrzhj/ThnlvIToysFRq6t4=");
	CHECK_STR(v1.string_to_sign.data,
	          "GET&%2F&AccessKeyId%3DtestId%26Action%3DSendSms%26Format%3DXML%26OutId%3D123%26"
	          "PhoneNumbers%3D15300000001%26RegionId%3Dcn-hangzhou%26SignName%3D%25E9%2598%25BF"
	          "%25E9%2587%258C%25E4%25BA%2591%25E7%259F%25AD%25E4%25BF%25A1%25E6%25B5%258B%25E8"
	          "%25AF%2595%25E4%25B8%2593%25E7%2594%25A8%26SignatureMethod%3DHMAC-SHA1%26"
	          "SignatureNonce%3D45e25e9b-0a6f-4070-8c85-2956eda1b466%26SignatureVersion%3D1.0%26"
	          "TemplateCode%3DSMS_71390007%26TemplateParam%3D%257B%2522customer%2522%253A%2522"
	          "test%2522%257D%26Timestamp%3D2017-07-12T02%253A42%253A19Z%26Version%3D2017-05-25");
	sign_v1_free(&v1);
}

static void test_v1_properties(void)
{
	struct sign_v1 v1;
	sign_v1_init(&v1);
	/* a Signature parameter (as the verifier receives it) is not signed */
	static const char *const with_sig[] = {
		"AccessKeyId", "testid", "Action", "DescribeRegions", "Format", "XML",
		"SignatureMethod", "HMAC-SHA1", "SignatureNonce",
		"3ee8c1b8-83d3-44af-a94f-4e0ad82fd6cf", "SignatureVersion", "1.0", "Timestamp",
		"2016-02-23T12:46:24Z", "Version", "2014-05-26", "Signature",
		"OLeaidS1JvxuMvnyHOwuJ+uX5qY=", NULL};
	CHECK_STR(v1_sign(&v1, "GET", with_sig, "testsecret"), "OLeaidS1JvxuMvnyHOwuJ+uX5qY=");
	/* the method is signed */
	const char *post = v1_sign(&v1, "POST", v1a, "testsecret");
	CHECK(post && strcmp(post, "OLeaidS1JvxuMvnyHOwuJ+uX5qY=") != 0, "POST differs from GET");
	CHECK(strncmp(v1.string_to_sign.data, "POST&%2F&", 9) == 0, "POST string to sign");
	/* the secret matters, and a secret longer than the stack key buffer works */
	char long_secret[400];
	memset(long_secret, 's', sizeof long_secret - 1);
	long_secret[sizeof long_secret - 1] = '\0';
	const char *longsig = v1_sign(&v1, "GET", v1a, long_secret);
	char want[SIGN_SHA1_B64_SIZE], key[401];
	memcpy(key, long_secret, 399);
	key[399] = '&';
	sign_hmac_sha1_base64(want, key, 400, v1.string_to_sign.data, v1.string_to_sign.len);
	CHECK(longsig && strcmp(longsig, want) == 0, "399-byte secret keyed with trailing &");
	sign_v1_free(&v1);
}

/* ---- v3 -------------------------------------------------------------------------------------- */

static const char *const v3_headers[] = {
	"host", "ecs.cn-shanghai.aliyuncs.com", "x-acs-action", "RunInstances",
	"x-acs-version", "2014-05-26", "x-acs-date", "2023-10-26T10:22:32Z",
	"x-acs-signature-nonce", "3156853299f313e23d1673dc12e1703d", "x-acs-content-sha256",
	"e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855", NULL};
static const char *const v3_query[] = {
	"RegionId", "cn-shanghai", "ImageId", "win2019_1809_x64_dtc_zh-cn_40G_alibase_20230811.vhd",
	NULL};
#define V3_SIGNED "host;x-acs-action;x-acs-content-sha256;x-acs-date;x-acs-signature-nonce;" \
                  "x-acs-version"
#define V3_SIG "06563a9e1b43f5dfe96b81484da74bceab24a1d853912eee15083a6f0f3283c0"

static int v3_sign(struct sign_v3 *s, const char *const *headers, const char *names,
                   const char *body)
{
	struct sign_params q, h;
	sign_params_init(&q);
	sign_params_init(&h);
	add_all(&q, v3_query);
	add_all(&h, headers);
	int rc = sign_v3_compute(s, "POST", &q, &h, names, names ? strlen(names) : 0, body,
	                         strlen(body), "YourAccessKeySecret", 19);
	sign_params_free(&q);
	sign_params_free(&h);
	return rc;
}

static void test_v3_vector(void)
{
	struct sign_v3 s;
	struct sign_buf b;
	sign_v3_init(&s);
	sign_buf_init(&b);
	char hashed[SIGN_SHA256_HEX_SIZE];

	CHECK_RC(v3_sign(&s, v3_headers, NULL, ""), SIGN_OK);
	CHECK_STR(s.signed_headers.data, V3_SIGNED);
	sign_sha256_hex(hashed, s.canonical_request.data, s.canonical_request.len);
	CHECK_STR(hashed, "7ea06492da5221eba5297e897ce16e55f964061054b7695beedaac1145b1e259");
	CHECK_STR(s.string_to_sign.data,
	          "ACS3-HMAC-SHA256\n"
	          "7ea06492da5221eba5297e897ce16e55f964061054b7695beedaac1145b1e259");
	CHECK_STR(s.signature, V3_SIG);
	sign_v3_authorization(&b, "YourAccessKeyId", s.signed_headers.data, s.signature);
	CHECK_STR(b.data, "ACS3-HMAC-SHA256 Credential=YourAccessKeyId,SignedHeaders=" V3_SIGNED
	                  ",Signature=" V3_SIG);

	/* the verifier's path: names as received, in any order and case, plus header name case */
	static const char *const mixed[] = {
		"Host", "ecs.cn-shanghai.aliyuncs.com", "X-Acs-Action", "RunInstances",
		"x-acs-version", "2014-05-26", "X-ACS-DATE", "2023-10-26T10:22:32Z",
		"x-acs-signature-nonce", "3156853299f313e23d1673dc12e1703d", "x-acs-content-sha256",
		"e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855", "accept",
		"application/json", "user-agent", "AlibabaCloud", NULL};
	CHECK_RC(v3_sign(&s, mixed, "x-acs-version;X-ACS-DATE;host;x-acs-action;"
	                            "x-acs-signature-nonce;x-acs-content-sha256;host", ""), SIGN_OK);
	CHECK_STR(s.signature, V3_SIG);
	CHECK_STR(s.signed_headers.data, V3_SIGNED);
	/* default selection ignores accept and user-agent */
	CHECK_RC(v3_sign(&s, mixed, NULL, ""), SIGN_OK);
	CHECK_STR(s.signature, V3_SIG);

	/* a body changes the payload hash and the signature */
	CHECK_RC(v3_sign(&s, v3_headers, NULL, "abc"), SIGN_OK);
	CHECK_STR(s.body_sha256, "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
	CHECK(strcmp(s.signature, V3_SIG) != 0, "body is signed");
	sign_buf_reset(&b);
	sign_v3_default_signed_headers(&b, &(struct sign_params){0});
	CHECK(b.data && b.len == 0, "no headers, no default names");
	sign_buf_free(&b);
	sign_v3_free(&s);
}

static void test_v3_canonical_headers(void)
{
	struct sign_v3 s;
	sign_v3_init(&s);
	static const char *const h[] = {
		"Host", "  example.com\t", "x-acs-multi", "zeta ", "X-ACS-MULTI", " alpha",
		"Content-Type", "application/x-www-form-urlencoded", "x-acs-inner", "a  b", NULL};
	CHECK_RC(v3_sign(&s, h, NULL, ""), SIGN_OK);
	CHECK_STR(s.canonical_request.data,
	          "POST\n/\n"
	          "ImageId=win2019_1809_x64_dtc_zh-cn_40G_alibase_20230811.vhd&RegionId=cn-shanghai\n"
	          "content-type:application/x-www-form-urlencoded\n"
	          "host:example.com\n"
	          "x-acs-inner:a  b\n"
	          "x-acs-multi:alpha,zeta\n"
	          "\n"
	          "content-type;host;x-acs-inner;x-acs-multi\n"
	          "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
	/* a signed name with no such header signs an empty value */
	CHECK_RC(v3_sign(&s, h, "x-acs-missing;host", ""), SIGN_OK);
	CHECK(strstr(s.canonical_request.data, "\nhost:example.com\nx-acs-missing:\n\n") != NULL,
	      "missing header signs as name:\n%s", s.canonical_request.data);
	/* an explicitly empty list signs no header */
	CHECK_RC(v3_sign(&s, h, "", ""), SIGN_OK);
	CHECK(strstr(s.canonical_request.data, "cn-shanghai\n\n\ne3b0") != NULL,
	      "no signed headers:\n%s", s.canonical_request.data);
	/* malformed name lists */
	CHECK_RC(v3_sign(&s, h, "host;;x-acs-date", ""), SIGN_EINVAL);
	CHECK_RC(v3_sign(&s, h, "host;", ""), SIGN_EINVAL);
	CHECK_RC(v3_sign(&s, h, ";host", ""), SIGN_EINVAL);
	sign_v3_free(&s);
}

static void test_v3_parse_authorization(void)
{
	struct sign_v3_auth a;
	const char *why = NULL;
	const char *good = "ACS3-HMAC-SHA256 Credential=YourAccessKeyId,SignedHeaders=" V3_SIGNED
	                   ",Signature=" V3_SIG;
	CHECK_RC(sign_v3_parse_authorization(good, strlen(good), &a, &why), SIGN_OK);
	CHECK(a.credential_len == 15 && memcmp(a.credential, "YourAccessKeyId", 15) == 0,
	      "credential");
	CHECK(a.signed_headers_len == strlen(V3_SIGNED) &&
	      memcmp(a.signed_headers, V3_SIGNED, a.signed_headers_len) == 0, "signed headers");
	CHECK(a.signature_len == 64 && memcmp(a.signature, V3_SIG, 64) == 0, "signature");

	const char *spaced = "ACS3-HMAC-SHA256  Signature=" V3_SIG ", Credential=AK ,"
	                     " SignedHeaders=host";
	CHECK_RC(sign_v3_parse_authorization(spaced, strlen(spaced), &a, &why), SIGN_OK);
	CHECK(a.credential_len == 2 && a.signed_headers_len == 4, "fields in any order, spaces");

	static const struct { const char *in, *why; } bad[] = {
		{"", "start with"},
		{"HMAC-SHA1 Credential=a,SignedHeaders=host,Signature=" V3_SIG, "start with"},
		{"ACS3-HMAC-SHA256", "expected a space"},
		{"ACS3-HMAC-SHA256Credential=a,SignedHeaders=host,Signature=" V3_SIG, "space"},
		{"ACS3-HMAC-SHA256 SignedHeaders=host,Signature=" V3_SIG, "missing Credential"},
		{"ACS3-HMAC-SHA256 Credential=a,Signature=" V3_SIG, "missing SignedHeaders"},
		{"ACS3-HMAC-SHA256 Credential=a,SignedHeaders=host", "missing Signature"},
		{"ACS3-HMAC-SHA256 Credential=a,Credential=b,SignedHeaders=host,Signature=" V3_SIG,
		 "twice"},
		{"ACS3-HMAC-SHA256 Credential=a,SignedHeaders=host,Signature=" V3_SIG ",Extra=1",
		 "unknown field"},
		{"ACS3-HMAC-SHA256 Credential=,SignedHeaders=host,Signature=" V3_SIG, "empty value"},
		{"ACS3-HMAC-SHA256 Credential=a,SignedHeaders=host,Signature=abc", "64 hex"},
		{"ACS3-HMAC-SHA256 Credential=a,SignedHeaders=host,Signature=" V3_SIG ",",
		 "trailing comma"},
		{"ACS3-HMAC-SHA256 Credential a", "Name=value"},
	};
	for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
		why = NULL;
		int rc = sign_v3_parse_authorization(bad[i].in, strlen(bad[i].in), &a, &why);
		CHECK(rc == SIGN_EINVAL && why && strstr(why, bad[i].why) && !a.credential,
		      "parse(\"%s\") rc=%d why=%s (want ...%s...)", bad[i].in, rc,
		      why ? why : "(null)", bad[i].why);
	}
	/* a 64-hex Signature that runs on into the next bytes is still bounded by n */
	char longer[] = "ACS3-HMAC-SHA256 Credential=a,SignedHeaders=host,Signature=" V3_SIG "ff";
	CHECK_RC(sign_v3_parse_authorization(longer, strlen(longer) - 2, &a, &why), SIGN_OK);
	CHECK_RC(sign_v3_parse_authorization(longer, strlen(longer), &a, &why), SIGN_EINVAL);
}

/* ---- timestamps and nonces ------------------------------------------------------------------- */

static void test_timestamps(void)
{
	static const struct { const char *s; long long t; } good[] = {
		{"1970-01-01T00:00:00Z", 0},
		{"2016-02-23T12:46:24Z", 1456231584},
		{"2024-02-29T23:59:59Z", 1709251199},
		{"2000-02-29T00:00:00Z", 951782400},
		{"1969-12-31T23:59:59Z", -1},
		{"9999-12-31T23:59:59Z", 253402300799LL},
		{"0000-01-01T00:00:00Z", -62167219200LL},
	};
	char buf[SIGN_TIMESTAMP_SIZE];
	for (size_t i = 0; i < sizeof good / sizeof good[0]; i++) {
		time_t t = 42;
		const char *why = NULL;
		int rc = sign_timestamp_parse(good[i].s, strlen(good[i].s), &t, &why);
		CHECK(rc == SIGN_OK && (long long)t == good[i].t, "parse %s -> %lld (%s)", good[i].s,
		      (long long)t, why ? why : "");
		rc = sign_timestamp_format(buf, (time_t)good[i].t);
		CHECK(rc == SIGN_OK && strcmp(buf, good[i].s) == 0, "format %lld -> %s", good[i].t,
		      buf);
	}
	/* every hour for ten years round-trips */
	int bad_trips = 0;
	for (long long t = 1500000000; t < 1500000000 + 10LL * 366 * 86400; t += 3599) {
		time_t back = 0;
		if (sign_timestamp_format(buf, (time_t)t) ||
		    sign_timestamp_parse(buf, strlen(buf), &back, NULL) || (long long)back != t)
			bad_trips++;
	}
	CHECK(bad_trips == 0, "%d round trips failed", bad_trips);
	CHECK_RC(sign_timestamp_format(buf, (time_t)253402300800LL), SIGN_EINVAL);

	static const char *const bad[] = {
		"", "2023-02-29T00:00:00Z", "1900-02-29T00:00:00Z", "2018-13-01T00:00:00Z",
		"2018-00-01T00:00:00Z", "2018-01-32T00:00:00Z", "2018-04-31T00:00:00Z",
		"2018-01-00T00:00:00Z", "2018-01-01T24:00:00Z", "2018-01-01T23:60:00Z",
		"2018-01-01T23:59:60Z", "2018-01-01T12:00:00", "2018-01-01t12:00:00Z",
		"2018-01-01T12:00:00z", "2018-01-01T12:00:00.000Z", "2018-01-01T12:00:00Z ",
		"2018-01-01 12:00:00Z", "+018-01-01T12:00:00Z", "2018-1-01T12:00:00Z",
		"2018-01-01T12:0a:00Z", "2018/01/01T12:00:00Z", "2018-01-01T12:00:00+08:00",
	};
	for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
		time_t t = 42;
		const char *why = NULL;
		int rc = sign_timestamp_parse(bad[i], strlen(bad[i]), &t, &why);
		CHECK(rc == SIGN_EINVAL && why && t == 42, "accepted bad timestamp \"%s\"", bad[i]);
	}
}

static void test_nonce(void)
{
	char a[SIGN_NONCE_SIZE], b[SIGN_NONCE_SIZE];
	CHECK_RC(sign_nonce(a), SIGN_OK);
	CHECK_RC(sign_nonce(b), SIGN_OK);
	CHECK(strlen(a) == 32 && strspn(a, "0123456789abcdef") == 32, "nonce shape: %s", a);
	CHECK(strcmp(a, b) != 0, "two nonces differ");
}

static void test_buffer(void)
{
	struct sign_buf b;
	sign_buf_init(&b);
	for (int i = 0; i < 10000; i++)
		sign_buf_append(&b, "0123456789", 10);
	CHECK(b.len == 100000 && b.data[b.len] == '\0' && memcmp(b.data + 99990, "0123456789", 10) == 0,
	      "100000 appended bytes");
	char *before = b.data;
	sign_buf_reset(&b);
	sign_buf_append_str(&b, "x");
	CHECK(b.data == before && strcmp(b.data, "x") == 0, "reset keeps the memory");
	CHECK_RC(sign_buf_reserve(&b, (size_t)-1), SIGN_ENOMEM);
	CHECK_RC(sign_percent_encode(&b, "x", (size_t)-1 / 2), SIGN_ENOMEM);
	sign_buf_free(&b);
	CHECK(b.data == NULL && b.len == 0, "free resets");
}

/* The per-thread digest contexts: threads signing at once get the vector, and free on exit. */
static void *sign_in_thread(void *arg)
{
	struct sign_v3 s;
	sign_v3_init(&s);
	int *bad = arg;
	for (int i = 0; i < 300; i++)
		if (v3_sign(&s, v3_headers, NULL, "") || strcmp(s.signature, V3_SIG) != 0)
			(*bad)++;
	sign_v3_free(&s);
	return NULL;
}

static void test_threads(void)
{
	pthread_t t[4];
	int bad[4] = {0};
	for (int i = 0; i < 4; i++)
		if (pthread_create(&t[i], NULL, sign_in_thread, &bad[i]) != 0)
			bad[i] = -1;
	for (int i = 0; i < 4; i++)
		if (bad[i] >= 0)
			pthread_join(t[i], NULL);
	CHECK(bad[0] == 0 && bad[1] == 0 && bad[2] == 0 && bad[3] == 0,
	      "threads signing concurrently: %d %d %d %d bad", bad[0], bad[1], bad[2], bad[3]);
}

int main(void)
{
	test_percent_encode();
	test_percent_decode();
	test_params_sort();
	test_hashes();
	test_v1_vectors();
	test_v1_properties();
	test_v3_vector();
	test_v3_canonical_headers();
	test_v3_parse_authorization();
	test_timestamps();
	test_nonce();
	test_buffer();
	test_threads();
	return harness_report();
}
