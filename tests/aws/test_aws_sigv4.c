/*
 * SigV4: every case of the official 2015 test suite (tests/aws/sigv4-suite, a byte-for-byte copy
 * of PROTOCOLS.md's suite) signed by the provider's sigv4.c through the real host table, with
 * the canonical request, string to sign and Authorization compared byte for byte; plus the
 * JSON-1.1 worked examples of PROTOCOLS.md 1.6 and aws-c-auth's session-token vector.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "aws_int.h"
#include "host.h"

#define AKID   "AKIDEXAMPLE"
#define SECRET "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY"
#define DATE   "20150830T123600Z"

static const char *const cases[] = {
    "get-header-key-duplicate",
    "get-header-value-multiline",
    "get-header-value-order",
    "get-header-value-trim",
    "get-unreserved",
    "get-utf8",
    "get-vanilla",
    "get-vanilla-empty-query-key",
    "get-vanilla-query",
    "get-vanilla-query-order-key",
    "get-vanilla-query-order-key-case",
    "get-vanilla-query-order-value",
    "get-vanilla-query-unreserved",
    "get-vanilla-utf8-query",
    "normalize-path/get-relative",
    "normalize-path/get-relative-relative",
    "normalize-path/get-slash",
    "normalize-path/get-slash-dot-slash",
    "normalize-path/get-slash-pointless-dot",
    "normalize-path/get-slashes",
    "normalize-path/get-space",
    "post-header-key-case",
    "post-header-key-sort",
    "post-header-value-case",
    "post-sts-token/post-sts-header-after",
    "post-sts-token/post-sts-header-before",
    "post-vanilla",
    "post-vanilla-empty-query-value",
    "post-vanilla-query",
    "post-x-www-form-urlencoded",
    "post-x-www-form-urlencoded-parameters",
};
#define N_CASES (sizeof(cases) / sizeof(cases[0]))

static char *slurp(const char *path)
{
    FILE *f = fopen(path, "rb");
    if (f == NULL) {
        fprintf(stderr, "cannot open %s\n", path);
        return NULL;
    }
    char *buf = malloc(1 << 16);
    size_t n = fread(buf, 1, (1 << 16) - 1, f);
    buf[n] = '\0';
    fclose(f);
    return buf;
}

static char *case_file(const char *c, const char *ext)
{
    const char *base = strrchr(c, '/') ? strrchr(c, '/') + 1 : c;
    char path[1024];
    snprintf(path, sizeof(path), "%s/%s/%s.%s", AWS_SIGV4_SUITE, c, base, ext);
    return slurp(path);
}

/* A parsed .req: request line, headers (folded lines joined with ',', the suite's convention)
 * and body. */
typedef struct req {
    char method[16];
    char path[512];
    char query[512];
    char names[32][600];
    char values[32][1300];
    aws_hdr hdrs[32];
    size_t n;
    const char *body;
} req;

static void parse_req(char *text, req *r)
{
    memset(r, 0, sizeof(*r));
    char *line_end = strchr(text, '\n');
    assert_non_null(line_end);
    *line_end = '\0';
    char target[1024];
    assert_int_equal(sscanf(text, "%15s %1023s", r->method, target), 2);
    /* The target may contain a space (get-space): take everything up to " HTTP/1.1". */
    char *start = strchr(text, ' ') + 1;
    char *end = strstr(start, " HTTP/");
    assert_non_null(end);
    *end = '\0';
    char *q = strchr(start, '?');
    if (q != NULL) {
        *q = '\0';
        snprintf(r->query, sizeof(r->query), "%s", q + 1);
    }
    snprintf(r->path, sizeof(r->path), "%s", start);
    char *p = line_end + 1;
    while (*p) {
        char *nl = strchr(p, '\n');
        size_t len = nl ? (size_t)(nl - p) : strlen(p);
        if (len == 0) { /* blank line: the body follows */
            r->body = nl ? nl + 1 : p + len;
            break;
        }
        char line[600];
        snprintf(line, sizeof(line), "%.*s", (int)len, p);
        if (line[0] == ' ' || line[0] == '\t') {
            assert_true(r->n > 0);
            char *v = line;
            while (*v == ' ' || *v == '\t')
                v++;
            size_t cur = strlen(r->values[r->n - 1]);
            snprintf(r->values[r->n - 1] + cur, sizeof(r->values[0]) - cur, ",%s", v);
        } else {
            char *colon = strchr(line, ':');
            assert_non_null(colon);
            *colon = '\0';
            snprintf(r->names[r->n], sizeof(r->names[0]), "%s", line);
            snprintf(r->values[r->n], sizeof(r->values[0]), "%s", colon + 1);
            r->n++;
        }
        p = nl ? nl + 1 : p + len;
    }
    for (size_t i = 0; i < r->n; i++)
        r->hdrs[i] = (aws_hdr){r->names[i], r->values[i]};
    if (r->body == NULL)
        r->body = "";
}

static void run_case(const char *c)
{
    const vp_host *h = vp__host_table();
    char *text = case_file(c, "req");
    char *creq = case_file(c, "creq");
    char *sts = case_file(c, "sts");
    char *authz = case_file(c, "authz");
    assert_non_null(text);
    assert_non_null(creq);
    assert_non_null(sts);
    assert_non_null(authz);
    req r;
    parse_req(text, &r);
    aws_sigv4_req sr = {r.method,       r.path, r.query, r.hdrs,      r.n,       r.body,
                        strlen(r.body), AKID,   SECRET,  "us-east-1", "service", DATE};
    aws_sigv4_res res;
    assert_int_equal(aws_sigv4_sign(h, &sr, &res), 0);
    if (strcmp(res.creq, creq) != 0)
        fprintf(stderr, "%s: canonical request\n--- got\n%s\n--- want\n%s\n", c, res.creq, creq);
    assert_string_equal(res.creq, creq);
    assert_string_equal(res.sts, sts);
    assert_string_equal(res.authz, authz);
    aws_sigv4_res_free(h, &res);
    free(text);
    free(creq);
    free(sts);
    free(authz);
}

static void test_suite_all_cases(void **state)
{
    (void)state;
    for (size_t i = 0; i < N_CASES; i++)
        run_case(cases[i]);
}

/* The test must notice a wrong secret: the same case with one byte changed must differ. */
static void test_suite_detects_wrong_key(void **state)
{
    (void)state;
    const vp_host *h = vp__host_table();
    char *text = case_file("get-vanilla", "req");
    char *authz = case_file("get-vanilla", "authz");
    req r;
    parse_req(text, &r);
    aws_sigv4_req sr = {r.method,    r.path,    r.query,
                        r.hdrs,      r.n,       "",
                        0,           AKID,      "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEZ",
                        "us-east-1", "service", DATE};
    aws_sigv4_res res;
    assert_int_equal(aws_sigv4_sign(h, &sr, &res), 0);
    assert_string_not_equal(res.authz, authz);
    assert_non_null(
        strstr(authz, "5fa00fa31553b73ebf1942676e86291e8372ff2a2260956d9b8aae1d763fbf31"));
    aws_sigv4_res_free(h, &res);
    free(text);
    free(authz);
}

/* PROTOCOLS.md 1.6 worked example (checked against botocore), without and with a token. */
static void test_json11_example(void **state)
{
    (void)state;
    const vp_host *h = vp__host_table();
    const char *body = "{\"SecretId\": \"MyTestDatabaseSecret\"}";
    aws_hdr hs[5] = {
        {"Content-Type", "application/x-amz-json-1.1"},
        {"Host", "secretsmanager.us-east-1.amazonaws.com"},
        {"X-Amz-Date", DATE},
        {"X-Amz-Target", "secretsmanager.GetSecretValue"},
    };
    aws_sigv4_req sr = {
        "POST",           "/", NULL, hs, 4, body, strlen(body), AKID, SECRET, "us-east-1",
        "secretsmanager", DATE};
    aws_sigv4_res res;
    assert_int_equal(aws_sigv4_sign(h, &sr, &res), 0);
    assert_string_equal(res.creq,
                        "POST\n/\n\ncontent-type:application/x-amz-json-1.1\n"
                        "host:secretsmanager.us-east-1.amazonaws.com\n"
                        "x-amz-date:20150830T123600Z\n"
                        "x-amz-target:secretsmanager.GetSecretValue\n\n"
                        "content-type;host;x-amz-date;x-amz-target\n"
                        "280408a17b3c866c880e88518feff9a8bf11cfd7a9d991b724016629481aacef");
    assert_non_null(
        strstr(res.sts, "43a1cc34d31874b3c6bc48dce8978eae71cf7fac70f863fda17fa81d3e4d5e68"));
    assert_non_null(strstr(
        res.authz, "Signature=f3aff68bc0f53e0501b2692ed185ab4e78df2c562d7eff6384dc0fb657eb4eca"));
    aws_sigv4_res_free(h, &res);

    hs[4] = hs[3];
    hs[3] = (aws_hdr){"X-Amz-Security-Token", "AQoDYXdzEPT//////////wEXAMPLE"};
    sr.n_headers = 5;
    assert_int_equal(aws_sigv4_sign(h, &sr, &res), 0);
    assert_non_null(
        strstr(res.sts, "42a683fa6a2c0a29a285730fa30d792794547c0f4099fee6219fe38494d93c9b"));
    assert_non_null(strstr(res.authz,
                           "SignedHeaders=content-type;host;x-amz-date;"
                           "x-amz-security-token;x-amz-target, Signature=6c0a248c8171a1a758ea9f"
                           "8151d2f6cc00d93c1043f8b1775c6bcb504d843d8d"));
    aws_sigv4_res_free(h, &res);
}

/* aws-c-auth's get-vanilla-with-session-token and get-vanilla-query-order-encoded. */
static void test_extra_vectors(void **state)
{
    (void)state;
    const vp_host *h = vp__host_table();
    aws_hdr hs[3] = {
        {"Host", "example.amazonaws.com"},
        {"X-Amz-Date", DATE},
        {"X-Amz-Security-Token",
         "6e86291e8372ff2a2260956d9b8aae1d763fbf315fa00fa31553b73ebf194267"},
    };
    aws_sigv4_req sr = {"GET", "/", NULL, hs, 3, "", 0, AKID, SECRET, "us-east-1", "service", DATE};
    aws_sigv4_res res;
    assert_int_equal(aws_sigv4_sign(h, &sr, &res), 0);
    assert_non_null(strstr(
        res.authz, "Signature=07ec1639c89043aa0e3e2de82b96708f198cceab042d4a97044c66dd9f74e7f8"));
    aws_sigv4_res_free(h, &res);

    sr.query = "Param-3=Value3&Param=Value2&%E1%88%B4=Value1";
    sr.n_headers = 2;
    assert_int_equal(aws_sigv4_sign(h, &sr, &res), 0);
    assert_non_null(strstr(res.creq, "\n%E1%88%B4=Value1&Param=Value2&Param-3=Value3\n"));
    aws_sigv4_res_free(h, &res);
}

static void test_util(void **state)
{
    (void)state;
    int64_t ms = 0;
    assert_int_equal(aws_parse_time(vp__host_table(), "2023-03-04T03:39:48Z", &ms), 0);
    assert_true(ms == 1677901188000LL);
    assert_int_equal(aws_parse_time(vp__host_table(), "2022-02-23T21:56:47+00:00", &ms), 0);
    assert_true(ms == 1645653407000LL);
    assert_int_equal(aws_parse_time(vp__host_table(), "2021-12-07T01:19:12UTC", &ms), 0);
    assert_true(ms == 1638839952000LL);
    assert_int_equal(aws_parse_time(vp__host_table(), "2011-07-15T23:28:33.359Z", &ms), 0);
    assert_true(ms == 1310772513359LL);
    assert_int_equal(aws_parse_time(vp__host_table(), "2011-07-15 nonsense", &ms), -1);
    char d[17];
    aws_amzdate(1440938160000LL, d);
    assert_string_equal(d, DATE);
    char host[64];
    assert_int_equal(aws_url_host(vp__host_table(), "https://h.example:443/x", host, sizeof(host)),
                     0);
    assert_string_equal(host, "h.example");
    assert_int_equal(aws_url_host(vp__host_table(), "http://127.0.0.1:8080", host, sizeof(host)),
                     0);
    assert_string_equal(host, "127.0.0.1:8080");
    char reg[40];
    assert_int_equal(
        aws_arn_region("arn:aws:secretsmanager:eu-west-1:123456789012:secret:db/x-AbCdEf", reg,
                       sizeof(reg)),
        0);
    assert_string_equal(reg, "eu-west-1");
    assert_int_equal(aws_arn_region("db/x", reg, sizeof(reg)), -1);
    const vp_host *h = vp__host_table();
    const char *ini =
        "[default]\nregion = us-west-2\n[profile dev]\n"
        "services = x\n  secrets_manager =\n    endpoint_url = http://no\n"
        "region=eu-central-1 \n# comment\n[sso-session my-sso]\nsso_region=us-east-1\n";
    char *v = aws_ini_get(h, ini, "profile dev", "region");
    assert_string_equal(v, "eu-central-1");
    h->secure_free(v);
    assert_null(aws_ini_get(h, ini, "profile dev", "endpoint_url"));
    const char *svc = "[profile p]\nservices = local\n[services local]\nsts =\n"
                      "  endpoint_url = http://sts.example\nsecrets_manager =\n"
                      "  endpoint_url = http://sm.example\n  other = x\n[profile q]\n";
    v = aws_ini_get_nested(h, svc, "services local", "secrets_manager", "endpoint_url");
    assert_string_equal(v, "http://sm.example");
    h->secure_free(v);
    v = aws_ini_get_nested(h, svc, "services local", "sts", "endpoint_url");
    assert_string_equal(v, "http://sts.example");
    h->secure_free(v);
    assert_null(aws_ini_get_nested(h, svc, "services local", "sso", "endpoint_url"));
    assert_null(aws_ini_get_nested(h, svc, "profile q", "secrets_manager", "endpoint_url"));
    assert_true(aws_ini_has_section(ini, "sso-session my-sso"));
    assert_false(aws_ini_has_section(ini, "profile nope"));
    const char *xml = "<R><Credentials><AccessKeyId>ASIA1</AccessKeyId>"
                      "<SecretAccessKey>a&amp;b</SecretAccessKey></Credentials></R>";
    v = aws_xml_get(h, xml, strlen(xml), "SecretAccessKey");
    assert_string_equal(v, "a&b");
    h->secure_free(v);
    unsigned char sha[20];
    char hex[41];
    h->sha1("my-sso", 6, sha);
    h->hex_encode(sha, 20, hex);
    assert_string_equal(hex, "0ad374308c5a4e22f723adf10145eafad7c4031c");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_suite_all_cases),
        cmocka_unit_test(test_suite_detects_wrong_key),
        cmocka_unit_test(test_json11_example),
        cmocka_unit_test(test_extra_vectors),
        cmocka_unit_test(test_util),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
