/*
 * test_sign_request.c: unit tests of the signer's one-call path (src/sign_request.c, sign_mac.c):
 * the published v1 and V3 vectors (docs/signing.md) through sign_rq_v1/v3,
 * nested names built on the path stack (reference 1.5, including Tag.10 < Tag.2 and the later of
 * two equal names winning), the v1 reserved-name check, and a property test comparing the new
 * path with the old one (sign_v1_compute / sign_v3_compute) on many random requests: random
 * names and values over all byte values, tokens, bodies, content types, short, long and changing
 * secrets. Harness: tests/harness.h.
 */
#include "sign.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "harness.h"



#define S(lit) ((struct sign_slice){(lit), sizeof(lit) - 1})
static struct sign_slice str(const char *s)
{
	return (struct sign_slice){s, s ? strlen(s) : 0};
}

/* Adds "k=v" pairs (borrowed) from a NULL-terminated list of alternating names and values. */
static void add_all(struct sign_rq *rq, const char *const *kv)
{
	for (; kv[0]; kv += 2)
		if (sign_rq_add(rq, kv[0], strlen(kv[0]), kv[1], strlen(kv[1])))
			abort();
}

/* ---- published vectors ----------------------------------------------------------------------- */

static struct sign_rq_facts v1_facts(const char *action, const char *version, const char *format,
                                     const char *id, const char *nonce, const char *date,
                                     const char *secret)
{
	struct sign_rq_facts f = {0};
	f.method = S("GET");
	f.action = str(action), f.version = str(version), f.format = str(format);
	f.access_key_id = str(id), f.nonce = str(nonce), f.date = str(date);
	f.secret = str(secret);
	return f;
}

static void test_v1_vectors(void)
{
	struct sign_rq rq;
	sign_rq_init(&rq);
	/* V1-a: only common parameters */
	struct sign_rq_facts f = v1_facts("DescribeRegions", "2014-05-26", "XML", "testid",
	                                  "3ee8c1b8-83d3-44af-a94f-4e0ad82fd6cf",
	                                  "2016-02-23T12:46:24Z", "testsecret");
	sign_rq_reset(&rq);
	CHECK(sign_rq_v1(&rq, &f) == SIGN_OK, "V1-a signs");
	CHECK_STR(rq.signature, "OLeaidS1JvxuMvnyHOwuJ+uX5qY=");
	CHECK_STR(rq.string_to_sign.data,
	          "GET&%2F&AccessKeyId%3Dtestid%26Action%3DDescribeRegions%26Format%3DXML"
	          "%26SignatureMethod%3DHMAC-SHA1%26SignatureNonce%3D3ee8c1b8-83d3-44af-a94f-"
	          "4e0ad82fd6cf%26SignatureVersion%3D1.0%26Timestamp%3D2016-02-23T12%253A46%253A24Z"
	          "%26Version%3D2014-05-26");
	CHECK_STR(rq.out.data,
	          "AccessKeyId=testid&Action=DescribeRegions&Format=XML&SignatureMethod=HMAC-SHA1"
	          "&SignatureNonce=3ee8c1b8-83d3-44af-a94f-4e0ad82fd6cf&SignatureVersion=1.0"
	          "&Timestamp=2016-02-23T12%3A46%3A24Z&Version=2014-05-26"
	          "&Signature=OLeaidS1JvxuMvnyHOwuJ%2BuX5qY%3D");
	CHECK(rq.query_len == strlen(rq.out.data) - strlen("&Signature=OLeaidS1JvxuMvnyHOwuJ"
	                                                   "%2BuX5qY%3D"),
	      "query_len covers the canonical query only");

	/* V1-c: one business parameter */
	f = v1_facts("DescribeDedicatedHosts", "2014-05-26", "JSON", "testid",
	             "edb2b34af0af9a6d14deaf7c1a5315eb", "2023-03-13T08:34:30Z", "testsecret");
	sign_rq_reset(&rq);
	add_all(&rq, (const char *const[]){"RegionId", "cn-beijing", NULL});
	CHECK(sign_rq_v1(&rq, &f) == SIGN_OK, "V1-c signs");
	CHECK_STR(rq.signature, "9NaGiOspFP5UPcwX8Iwt2YJXXuk=");

	/* V1-d: UTF-8 and JSON values, a different secret (the cached key must change) */
	f = v1_facts("SendSms", "2017-05-25", "XML", "testId",
	             "45e25e9b-0a6f-4070-8c85-2956eda1b466", "2017-07-12T02:42:19Z", "testSecret");
	sign_rq_reset(&rq);
	add_all(&rq, (const char *const[]){
		"OutId", "123", "PhoneNumbers", "15300000001", "RegionId", "cn-hangzhou",
		"SignName", "\xe9\x98\xbf\xe9\x87\x8c\xe4\xba\x91\xe7\x9f\xad\xe4\xbf\xa1\xe6\xb5"
		"\x8b\xe8\xaf\x95\xe4\xb8\x93\xe7\x94\xa8",
		"TemplateCode", "SMS_71390007", "TemplateParam", "{\"customer\":\"test\"}", NULL});
	CHECK(sign_rq_v1(&rq, &f) == SIGN_OK, "V1-d signs");
	CHECK_STR(rq.signature, "zJDF+Lrzhj/ThnlvIToysFRq6t4=");
	CHECK_STR(rq.string_to_sign.data,
	          "GET&%2F&AccessKeyId%3DtestId%26Action%3DSendSms%26Format%3DXML%26OutId%3D123"
	          "%26PhoneNumbers%3D15300000001%26RegionId%3Dcn-hangzhou%26SignName%3D%25E9%2598"
	          "%25BF%25E9%2587%258C%25E4%25BA%2591%25E7%259F%25AD%25E4%25BF%25A1%25E6%25B5%258B"
	          "%25E8%25AF%2595%25E4%25B8%2593%25E7%2594%25A8%26SignatureMethod%3DHMAC-SHA1"
	          "%26SignatureNonce%3D45e25e9b-0a6f-4070-8c85-2956eda1b466%26SignatureVersion%3D1.0"
	          "%26TemplateCode%3DSMS_71390007%26TemplateParam%3D%257B%2522customer%2522%253A"
	          "%2522test%2522%257D%26Timestamp%3D2017-07-12T02%253A42%253A19Z"
	          "%26Version%3D2017-05-25");
	/* back to V1-c's secret: the cache must not keep answering with testSecret */
	f = v1_facts("DescribeDedicatedHosts", "2014-05-26", "JSON", "testid",
	             "edb2b34af0af9a6d14deaf7c1a5315eb", "2023-03-13T08:34:30Z", "testsecret");
	sign_rq_reset(&rq);
	add_all(&rq, (const char *const[]){"RegionId", "cn-beijing", NULL});
	CHECK(sign_rq_v1(&rq, &f) == SIGN_OK && strcmp(rq.signature, "9NaGiOspFP5UPcwX8Iwt2YJXXuk=")
	      == 0, "V1-c again after another secret: %s", rq.signature);
	sign_rq_free(&rq);
}

static const char V3_SIGNED[] =
	"host;x-acs-action;x-acs-content-sha256;x-acs-date;x-acs-signature-nonce;x-acs-version";

static void test_v3_vector(void)
{
	struct sign_rq rq;
	sign_rq_init(&rq);
	struct sign_rq_facts f = {0};
	f.host = S("ecs.cn-shanghai.aliyuncs.com"), f.action = S("RunInstances");
	f.version = S("2014-05-26"), f.date = S("2023-10-26T10:22:32Z");
	f.nonce = S("3156853299f313e23d1673dc12e1703d");
	f.access_key_id = S("YourAccessKeyId"), f.secret = S("YourAccessKeySecret");
	for (int round = 0; round < 2; round++) { /* the second round reuses buffers and the key */
		sign_rq_reset(&rq);
		add_all(&rq, (const char *const[]){"RegionId", "cn-shanghai", "ImageId",
		                                   "win2019_1809_x64_dtc_zh-cn_40G_alibase_20230811.vhd",
		                                   NULL});
		CHECK(sign_rq_v3(&rq, &f) == SIGN_OK, "V3 vector signs");
		CHECK_STR(rq.signature,
		          "06563a9e1b43f5dfe96b81484da74bceab24a1d853912eee15083a6f0f3283c0");
		CHECK_STR(rq.string_to_sign.data, "ACS3-HMAC-SHA256\n7ea06492da5221eba5297e897ce16e55f9"
		                                  "64061054b7695beedaac1145b1e259");
		CHECK_STR(rq.signed_headers, V3_SIGNED);
		CHECK_STR(rq.authorization.data,
		          "ACS3-HMAC-SHA256 Credential=YourAccessKeyId,SignedHeaders=host;x-acs-action;"
		          "x-acs-content-sha256;x-acs-date;x-acs-signature-nonce;x-acs-version,"
		          "Signature=06563a9e1b43f5dfe96b81484da74bceab24a1d853912eee15083a6f0f3283c0");
		CHECK_STR(rq.content_sha256,
		          "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
		char query[200];
		snprintf(query, sizeof query, "%.*s", (int)rq.query_len, rq.out.data + rq.query_off);
		CHECK_STR(query, "ImageId=win2019_1809_x64_dtc_zh-cn_40G_alibase_20230811.vhd"
		                 "&RegionId=cn-shanghai");
		CHECK(rq.header_count == 6 && strcmp(rq.headers[0].name, "host") == 0 &&
		      strcmp(rq.headers[5].name, "x-acs-version") == 0,
		      "the six signed headers, in name order");
	}
	sign_rq_free(&rq);
}

/* ---- nested names ---------------------------------------------------------------------------- */

static void add_at(struct sign_rq *rq, const char *value)
{
	if (sign_rq_add_value(rq, value, strlen(value), 0))
		abort();
}

static size_t push_name(struct sign_rq *rq, const char *name)
{
	size_t mark;
	if (sign_rq_path_name(rq, name, strlen(name), &mark))
		abort();
	return mark;
}

static size_t push_index(struct sign_rq *rq, unsigned long long i)
{
	size_t mark;
	if (sign_rq_path_index(rq, i, &mark))
		abort();
	return mark;
}

static void test_nested_names(void)
{
	struct sign_rq rq;
	sign_rq_init(&rq);
	/* the SDK's query() of reference 1.5: SrcVersion list, Tag list of structs, scalars */
	size_t top = push_name(&rq, "Tag");
	for (unsigned i = 1; i <= 2; i++) {
		size_t m = push_index(&rq, i);
		size_t k = push_name(&rq, "Key");
		add_at(&rq, i == 1 ? "env" : "team.a");
		sign_rq_path_pop(&rq, k);
		k = push_name(&rq, "Value");
		add_at(&rq, i == 1 ? "canary run/*~" : "ops");
		sign_rq_path_pop(&rq, k);
		sign_rq_path_pop(&rq, m);
	}
	sign_rq_path_pop(&rq, top);
	top = push_name(&rq, "SrcVersion");
	size_t m = push_index(&rq, 1);
	add_at(&rq, "1.0.0");
	sign_rq_path_pop(&rq, m);
	m = push_index(&rq, 2);
	add_at(&rq, "V1.0.1");
	sign_rq_path_pop(&rq, m);
	sign_rq_path_pop(&rq, top);
	top = push_name(&rq, "NeedPush");
	add_at(&rq, "true");
	sign_rq_path_pop(&rq, top);
	CHECK(rq.path.len == 0, "the path is empty again after balanced pops");
	struct sign_rq_facts f = {0};
	f.host = S("h"), f.action = S("A"), f.version = S("v"), f.date = S("d"), f.nonce = S("n");
	f.access_key_id = S("id"), f.secret = S("s");
	CHECK(sign_rq_v3(&rq, &f) == SIGN_OK, "nested request signs");
	char query[300];
	snprintf(query, sizeof query, "%.*s", (int)rq.query_len, rq.out.data + rq.query_off);
	CHECK_STR(query, "NeedPush=true&SrcVersion.1=1.0.0&SrcVersion.2=V1.0.1&Tag.1.Key=env"
	                 "&Tag.1.Value=canary%20run%2F%2A~&Tag.2.Key=team.a&Tag.2.Value=ops");

	/* byte order of names: Tag.10 < Tag.2; the later of two equal names wins (as flatten) */
	sign_rq_reset(&rq);
	top = push_name(&rq, "Tag");
	for (unsigned long long i = 1; i <= 10; i++) {
		m = push_index(&rq, i);
		add_at(&rq, i == 10 ? "ten" : "x");
		sign_rq_path_pop(&rq, m);
	}
	sign_rq_path_pop(&rq, top);
	add_all(&rq, (const char *const[]){"Tag.3", "first", "Tag.3", "second", NULL});
	CHECK(sign_rq_v3(&rq, &f) == SIGN_OK, "Tag list signs");
	snprintf(query, sizeof query, "%.*s", (int)rq.query_len, rq.out.data + rq.query_off);
	CHECK_STR(query, "Tag.1=x&Tag.10=ten&Tag.2=x&Tag.3=second&Tag.4=x&Tag.5=x&Tag.6=x&Tag.7=x"
	                 "&Tag.8=x&Tag.9=x");
	/* a copied value survives its source */
	sign_rq_reset(&rq);
	char scratch[8] = "1440";
	top = push_name(&rq, "TimeoutInMinutes");
	CHECK(sign_rq_add_value(&rq, scratch, 4, 1) == SIGN_OK, "copied value added");
	sign_rq_path_pop(&rq, top);
	memcpy(scratch, "XXXX", 4);
	CHECK(sign_rq_v3(&rq, &f) == SIGN_OK, "copied value signs");
	snprintf(query, sizeof query, "%.*s", (int)rq.query_len, rq.out.data + rq.query_off);
	CHECK_STR(query, "TimeoutInMinutes=1440");
	sign_rq_free(&rq);
}

static void test_v1_reserved(void)
{
	static const char *const names[] = {"Signature", "Timestamp", "AccessKeyId",
	                                    "SecurityToken", "Format"};
	struct sign_rq rq;
	sign_rq_init(&rq);
	struct sign_rq_facts f = v1_facts("A", "v", NULL, "id", "n", "d", "s");
	for (size_t i = 0; i < sizeof names / sizeof *names; i++) {
		sign_rq_reset(&rq);
		add_all(&rq, (const char *const[]){"JobId", "j", names[i], "x", NULL});
		CHECK(sign_rq_v1(&rq, &f) == SIGN_EINVAL && rq.conflict &&
		      rq.conflict->key_len == strlen(names[i]) &&
		      memcmp(rq.conflict->key, names[i], rq.conflict->key_len) == 0,
		      "business parameter %s is refused in v1", names[i]);
	}
	sign_rq_reset(&rq);
	add_all(&rq, (const char *const[]){"Signatures", "x", "Format.1", "y", NULL});
	CHECK(sign_rq_v1(&rq, &f) == SIGN_OK, "names that only start like common ones are fine");
	sign_rq_free(&rq);
}

/* ---- property test: the new path equals the old one ------------------------------------------ */

static unsigned long long rng = 0x9E3779B97F4A7C15ULL;
static unsigned rnd(unsigned n)
{
	rng ^= rng << 13, rng ^= rng >> 7, rng ^= rng << 17;
	return (unsigned)(rng % n);
}

/* Random bytes: mostly name-like, sometimes any byte (NUL, '%', '&', '=', UTF-8, high bytes).
 * Names often share a long start, so that they differ at any byte (the sort compares 8-byte
 * prefixes first). */
static size_t random_bytes(char *out, size_t max, int name)
{
	static const char pool[] = "ABCTagKeyValue.0123456789-_~ /*+=&%:";
	static const char *const starts[] = {"SrcVersion.", "Tag.1.Value.", "MaximumPerMinute",
	                                     "ABCDEFG", "ABCDEFGHIJKLMNO"};
	size_t n = rnd((unsigned)max) + (name ? 1 : 0), i = 0;
	if (name && rnd(2)) {
		const char *st = starts[rnd(sizeof starts / sizeof *starts)];
		for (; st[i] && i < max - 2; i++)
			out[i] = st[i];
		n = i + rnd(3); /* the start itself, or one or two bytes more */
	}
	for (; i < n; i++)
		out[i] = rnd(6) ? pool[rnd(sizeof pool - 1)] : (char)rnd(256);
	return n;
}

struct pair {
	char key[24], value[40];
	size_t key_len, value_len;
};

static int unique_key(const struct pair *p, size_t count, const struct pair *k)
{
	for (size_t i = 0; i < count; i++)
		if (p[i].key_len == k->key_len && memcmp(p[i].key, k->key, k->key_len) == 0)
			return 0;
	return 1;
}

static size_t random_pairs(struct pair *p, size_t max)
{
	size_t count = 0, want = rnd((unsigned)max + 1);
	while (count < want) {
		p[count].key_len = random_bytes(p[count].key, sizeof p[count].key, 1);
		p[count].value_len = random_bytes(p[count].value, sizeof p[count].value, 0);
		if (unique_key(p, count, &p[count]))
			count++;
	}
	return count;
}

static int same_bytes(const char *a, size_t an, const char *b, size_t bn)
{
	return an == bn && memcmp(a, b, an) == 0;
}

static void property_v3(struct sign_rq *rq, struct sign_v3 *old, const char *secret, size_t sn)
{
	struct pair p[40];
	size_t count = random_pairs(p, 40);
	char body[30], ct[20], token[30], nonce[40];
	size_t body_len = rnd(3) ? 0 : random_bytes(body, sizeof body, 1);
	int with_ct = rnd(4) == 0, with_token = rnd(2);
	size_t ct_len = with_ct ? random_bytes(ct, sizeof ct, 0) : 0;
	size_t token_len = with_token ? random_bytes(token, sizeof token, 0) : 0;
	int nonce_len = snprintf(nonce, sizeof nonce, "%s%u%s", rnd(4) ? "" : "  ", rnd(100000),
	                         rnd(4) ? "" : "\t");
	struct sign_rq_facts f = {0};
	f.host = S("iot.cn-shanghai.aliyuncs.com"), f.action = S("CreateOTADynamicUpgradeJob");
	f.version = S("2018-01-20"), f.date = S("2026-01-01T00:00:00Z");
	f.nonce = (struct sign_slice){nonce, (size_t)nonce_len};
	f.access_key_id = S("LTAI5tKey"), f.secret = (struct sign_slice){secret, sn};
	f.body = (struct sign_slice){body, body_len};
	if (with_ct)
		f.content_type = (struct sign_slice){ct, ct_len};
	if (with_token)
		f.token = (struct sign_slice){token, token_len};
	sign_rq_reset(rq);
	struct sign_params q, h;
	sign_params_init(&q);
	sign_params_init(&h);
	for (size_t i = 0; i < count; i++)
		if (sign_rq_add(rq, p[i].key, p[i].key_len, p[i].value, p[i].value_len) ||
		    sign_params_add(&q, p[i].key, p[i].key_len, p[i].value, p[i].value_len))
			abort();
	int rc = sign_rq_v3(rq, &f);
	/* the old path, with the headers the client used to pass */
	char body_hash[SIGN_SHA256_HEX_SIZE];
	if (sign_sha256_hex(body_hash, body, body_len) ||
	    sign_params_add(&h, "host", 4, f.host.p, f.host.n) ||
	    sign_params_add(&h, "x-acs-action", 12, f.action.p, f.action.n) ||
	    sign_params_add(&h, "x-acs-version", 13, f.version.p, f.version.n) ||
	    sign_params_add(&h, "x-acs-date", 10, f.date.p, f.date.n) ||
	    sign_params_add(&h, "x-acs-signature-nonce", 21, f.nonce.p, f.nonce.n) ||
	    sign_params_add(&h, "x-acs-content-sha256", 20, body_hash, 64) ||
	    (with_token && sign_params_add(&h, "x-acs-security-token", 20, token, token_len)) ||
	    (with_ct && sign_params_add(&h, "Content-Type", 12, ct, ct_len)))
		abort();
	int old_rc = sign_v3_compute(old, "POST", &q, &h, NULL, 0, body, body_len, secret, sn);
	struct sign_buf auth;
	sign_buf_init(&auth);
	if (sign_v3_authorization(&auth, "LTAI5tKey", old->signed_headers.data, old->signature))
		abort();
	int same = rc == SIGN_OK && old_rc == SIGN_OK &&
	           same_bytes(rq->out.data, rq->out.len, old->canonical_request.data,
	                      old->canonical_request.len) &&
	           strcmp(rq->string_to_sign.data, old->string_to_sign.data) == 0 &&
	           strcmp(rq->signature, old->signature) == 0 &&
	           strcmp(rq->signed_headers, old->signed_headers.data) == 0 &&
	           strcmp(rq->authorization.data, auth.data) == 0 &&
	           strcmp(rq->content_sha256, body_hash) == 0;
	CHECK(same, "V3 (%zu params, body %zu, ct %d, token %d, secret %zu bytes) differs:\n"
	      "new: %s\nold: %s", count, body_len, with_ct, with_token, sn,
	      rq->out.data ? rq->out.data : "", old->canonical_request.data);
	sign_buf_free(&auth);
	sign_params_free(&q);
	sign_params_free(&h);
}

static void property_v1(struct sign_rq *rq, struct sign_v1 *old, const char *secret, size_t sn)
{
	struct pair p[40];
	size_t count = random_pairs(p, 40);
	char token[30];
	int with_token = rnd(2);
	size_t token_len = with_token ? random_bytes(token, sizeof token, 0) : 0;
	struct sign_rq_facts f = v1_facts("QueryOTAJob", "2018-01-20", rnd(2) ? "JSON" : NULL,
	                                  "LTAI5tKey", "8f1a", "2026-01-01T00:00:00Z", NULL);
	f.method = rnd(2) ? S("POST") : S("GET");
	f.secret = (struct sign_slice){secret, sn};
	if (with_token)
		f.token = (struct sign_slice){token, token_len};
	sign_rq_reset(rq);
	struct sign_params q;
	sign_params_init(&q);
	for (size_t i = 0; i < count; i++) {
		struct sign_rq_item probe = {.key = p[i].key, .key_len = p[i].key_len};
		static const char *const common[] = {"Action", "Version", "Format", "AccessKeyId",
		                                     "SignatureMethod", "SignatureVersion",
		                                     "SignatureNonce", "Timestamp", "SecurityToken",
		                                     "Signature"};
		int reserved = 0;
		for (size_t c = 0; c < sizeof common / sizeof *common; c++)
			reserved |= same_bytes(probe.key, probe.key_len, common[c], strlen(common[c]));
		if (reserved)
			continue;
		if (sign_rq_add(rq, p[i].key, p[i].key_len, p[i].value, p[i].value_len) ||
		    sign_params_add(&q, p[i].key, p[i].key_len, p[i].value, p[i].value_len))
			abort();
	}
	int rc = sign_rq_v1(rq, &f);
	const char *const common_kv[] = {
		"Action", "QueryOTAJob", "Version", "2018-01-20", "Format",
		f.format.p ? f.format.p : "JSON", "AccessKeyId", "LTAI5tKey", "SignatureMethod",
		"HMAC-SHA1", "SignatureVersion", "1.0", "SignatureNonce", "8f1a", "Timestamp",
		"2026-01-01T00:00:00Z", NULL};
	for (const char *const *kv = common_kv; kv[0]; kv += 2)
		if (sign_params_add(&q, kv[0], strlen(kv[0]), kv[1], strlen(kv[1])))
			abort();
	if (with_token && sign_params_add(&q, "SecurityToken", 13, token, token_len))
		abort();
	char method[5];
	snprintf(method, sizeof method, "%.*s", (int)f.method.n, f.method.p);
	int old_rc = sign_v1_compute(old, method, &q, secret, sn);
	/* the wire query the client used to build: canonical + "&Signature=" + pe(signature) */
	struct sign_buf wire;
	sign_buf_init(&wire);
	if (sign_buf_append(&wire, old->canonical.data, old->canonical.len) ||
	    sign_buf_append_str(&wire, "&Signature=") ||
	    sign_percent_encode(&wire, old->signature, strlen(old->signature)))
		abort();
	int same = rc == SIGN_OK && old_rc == SIGN_OK &&
	           same_bytes(rq->out.data, rq->out.len, wire.data, wire.len) &&
	           rq->query_len == old->canonical.len &&
	           same_bytes(rq->string_to_sign.data, rq->string_to_sign.len,
	                      old->string_to_sign.data, old->string_to_sign.len) &&
	           strcmp(rq->signature, old->signature) == 0;
	CHECK(same, "v1 (%zu params, token %d, secret %zu bytes) differs:\nnew: %s\nold: %s", count,
	      with_token, sn, rq->string_to_sign.data ? rq->string_to_sign.data : "",
	      old->string_to_sign.data);
	sign_buf_free(&wire);
	sign_params_free(&q);
}

static void test_property(void)
{
	struct sign_rq rq;
	struct sign_v3 v3;
	struct sign_v1 v1;
	sign_rq_init(&rq);
	sign_v3_init(&v3);
	sign_v1_init(&v1);
	/* secrets: short, exactly one block, longer than a block, longer than the key cache */
	char secrets[4][200];
	const size_t lens[4] = {30, 64, 100, 200};
	for (int s = 0; s < 4; s++)
		for (size_t i = 0; i < lens[s]; i++)
			secrets[s][i] = (char)('a' + (i * 7 + (size_t)s) % 26);
	int before = failed;
	for (int i = 0; i < 3000 && failed - before < 5; i++) {
		int s = rnd(8) ? 0 : (int)rnd(4); /* mostly the same secret, now and then another */
		property_v3(&rq, &v3, secrets[s], lens[s]);
		property_v1(&rq, &v1, secrets[s], lens[s]);
	}
	sign_rq_free(&rq);
	sign_v3_free(&v3);
	sign_v1_free(&v1);
}

int main(void)
{
	test_v1_vectors();
	test_v3_vector();
	test_nested_names();
	test_v1_reserved();
	test_property();
	return harness_report();
}
