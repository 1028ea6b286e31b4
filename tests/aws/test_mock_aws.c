/*
 * The AWS mock verifies what AWS verifies: requests signed (by the provider's signer) with a key
 * it knows pass; a tampered body or header, a wrong secret, scope region or service, a stale
 * date, a missing or malformed Authorization, a missing session token, a wrong Content-Type or
 * target are refused with AWS's status and error body. Plus the IMDS token rules and the ECS
 * authorization. Driven with plain libcurl.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <cmocka.h>
#include <curl/curl.h>

#include "aws_int.h"
#include "host.h"
#include "mock_aws.h"

static mock_aws *g_m;

#define AK  "AKIAMOCKVERIFY000001"
#define SK  "verify-secret-key-0123456789"
#define TAK "ASIAMOCKVERIFY000002"
#define TSK "verify-temp-secret-0123456789"
#define TOK "verify-session-token-0123456789"

static int setup(void **state)
{
    (void)state;
    char err[256];
    g_m = mock_aws_start(0, err, sizeof(err));
    if (g_m == NULL)
        return -1;
    return mock_aws_seed_json(g_m,
                              "{\"keys\":[{\"access_key_id\":\"" AK "\",\"secret_access_key\":\"" SK
                              "\"},{\"access_key_id\":\"" TAK "\",\"secret_access_key\":\"" TSK
                              "\",\"session_token\":\"" TOK "\"}],"
                              "\"secrets\":[{\"name\":\"s1\",\"string\":\"v1\"}],"
                              "\"imds_role\":\"r1\",\"ecs_token\":\"ecs-tok-0001\"}",
                              err, sizeof(err));
}

static int teardown(void **state)
{
    (void)state;
    mock_aws_stop(g_m);
    return 0;
}

typedef struct resp {
    char body[8192];
    size_t len;
} resp;

static size_t on_body(char *p, size_t s, size_t n, void *ud)
{
    resp *r = ud;
    size_t k = s * n;
    if (r->len + k >= sizeof(r->body))
        k = sizeof(r->body) - 1 - r->len;
    memcpy(r->body + r->len, p, k);
    r->len += k;
    r->body[r->len] = '\0';
    return s * n;
}

static long send_req(const char *method, const char *url, const char *const *headers, size_t n,
                     const char *body, resp *r)
{
    memset(r, 0, sizeof(*r));
    CURL *c = curl_easy_init();
    struct curl_slist *sl = NULL;
    for (size_t i = 0; i < n; i++)
        sl = curl_slist_append(sl, headers[i]);
    sl = curl_slist_append(sl, "Expect:");
    curl_easy_setopt(c, CURLOPT_URL, url);
    curl_easy_setopt(c, CURLOPT_CUSTOMREQUEST, method);
    curl_easy_setopt(c, CURLOPT_HTTPHEADER, sl);
    if (body != NULL)
        curl_easy_setopt(c, CURLOPT_POSTFIELDS, body);
    curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, on_body);
    curl_easy_setopt(c, CURLOPT_WRITEDATA, r);
    long st = 0;
    assert_int_equal(curl_easy_perform(c), CURLE_OK);
    curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &st);
    curl_slist_free_all(sl);
    curl_easy_cleanup(c);
    return st;
}

typedef struct signed_req {
    const char *akid, *secret, *token, *region, *service, *target, *ctype;
    int64_t skew_ms;
    const char *body;      /* signed */
    const char *send_body; /* sent (NULL = body) */
    const char *send_target;
    int no_auth;
} signed_req;

static long do_signed(const signed_req *s, resp *r)
{
    const vp_host *h = vp__host_table();
    char host[128], date[17], authz[600];
    assert_int_equal(aws_url_host(h, mock_aws_url(g_m), host, sizeof(host)), 0);
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    aws_amzdate((int64_t)ts.tv_sec * 1000 + s->skew_ms, date);
    aws_hdr hs[5];
    size_t n = 0;
    hs[n++] = (aws_hdr){"Content-Type", s->ctype ? s->ctype : "application/x-amz-json-1.1"};
    hs[n++] = (aws_hdr){"Host", host};
    hs[n++] = (aws_hdr){"X-Amz-Date", date};
    if (s->token)
        hs[n++] = (aws_hdr){"X-Amz-Security-Token", s->token};
    if (s->target)
        hs[n++] = (aws_hdr){"X-Amz-Target", s->target};
    aws_sigv4_req sr = {"POST",
                        "/",
                        NULL,
                        hs,
                        n,
                        s->body,
                        strlen(s->body),
                        s->akid,
                        s->secret,
                        s->region ? s->region : "us-east-1",
                        s->service ? s->service : "secretsmanager",
                        date};
    aws_sigv4_res res;
    assert_int_equal(aws_sigv4_sign(h, &sr, &res), 0);
    snprintf(authz, sizeof(authz), "Authorization: %s", res.authz);
    aws_sigv4_res_free(h, &res);
    char lines[6][400];
    const char *ptr[6];
    size_t k = 0;
    for (size_t i = 0; i < n; i++) {
        const char *v = hs[i].value;
        if (strcmp(hs[i].name, "X-Amz-Target") == 0 && s->send_target)
            v = s->send_target;
        snprintf(lines[k], sizeof(lines[k]), "%s: %s", hs[i].name, v);
        ptr[k] = lines[k];
        k++;
    }
    if (!s->no_auth)
        ptr[k++] = authz;
    char url[300];
    snprintf(url, sizeof(url), "%s/", mock_aws_url(g_m));
    return send_req("POST", url, ptr, k, s->send_body ? s->send_body : s->body, r);
}

#define GET_S1 "{\"SecretId\":\"s1\"}"

static void expect_aws_error(long st, const resp *r, long want_st, const char *code)
{
    if (st != want_st || strstr(r->body, code) == NULL)
        fprintf(stderr, "got %ld %s, want %ld %s\n", st, r->body, want_st, code);
    assert_int_equal(st, want_st);
    assert_non_null(strstr(r->body, code));
}

static void test_signed_requests(void **state)
{
    (void)state;
    resp r;
    signed_req ok = {AK,   SK, NULL,   NULL, NULL, "secretsmanager.GetSecretValue",
                     NULL, 0,  GET_S1, NULL, NULL, 0};
    long st = do_signed(&ok, &r);
    assert_int_equal(st, 200);
    assert_non_null(strstr(r.body, "\"SecretString\":\"v1\""));

    signed_req t = ok;
    t.send_body = "{\"SecretId\":\"s2\"}"; /* body changed after signing */
    expect_aws_error(do_signed(&t, &r), &r, 400, "InvalidSignatureException");
    t = ok;
    t.send_target = "secretsmanager.BatchGetSecretValue"; /* signed header changed */
    expect_aws_error(do_signed(&t, &r), &r, 400, "InvalidSignatureException");
    t = ok;
    t.secret = "not-the-secret";
    expect_aws_error(do_signed(&t, &r), &r, 400, "InvalidSignatureException");
    t = ok;
    t.region = "eu-west-1";
    expect_aws_error(do_signed(&t, &r), &r, 400, "Credential should be scoped to a valid region");
    t = ok;
    t.service = "sts";
    expect_aws_error(do_signed(&t, &r), &r, 400, "Credential should be scoped to correct service");
    t = ok;
    t.skew_ms = -6 * 60 * 1000;
    expect_aws_error(do_signed(&t, &r), &r, 400, "Signature expired");
    t = ok;
    t.akid = "AKIANOBODY0000000000";
    expect_aws_error(do_signed(&t, &r), &r, 400, "UnrecognizedClientException");
    t = ok;
    t.no_auth = 1;
    expect_aws_error(do_signed(&t, &r), &r, 400, "MissingAuthenticationTokenException");
    /* Temporary keys need their token, and the right one. */
    t = ok;
    t.akid = TAK;
    t.secret = TSK;
    expect_aws_error(do_signed(&t, &r), &r, 400, "UnrecognizedClientException");
    t.token = "some-other-token";
    expect_aws_error(do_signed(&t, &r), &r, 400, "UnrecognizedClientException");
    t.token = TOK;
    assert_int_equal(do_signed(&t, &r), 200);
    /* Protocol checks after authentication. */
    t = ok;
    t.ctype = "application/json";
    expect_aws_error(do_signed(&t, &r), &r, 400, "SerializationException");
    t = ok;
    t.target = "secretsmanager.DeleteSecret";
    expect_aws_error(do_signed(&t, &r), &r, 400, "UnknownOperationException");
    /* STS: query protocol, XML. */
    signed_req sts = {AK,
                      SK,
                      NULL,
                      NULL,
                      "sts",
                      NULL,
                      "application/x-www-form-urlencoded",
                      0,
                      "Action=GetCallerIdentity&Version=2011-06-15",
                      NULL,
                      NULL,
                      0};
    st = do_signed(&sts, &r);
    assert_int_equal(st, 200);
    assert_non_null(strstr(r.body, "<Arn>"));
    sts.secret = "wrong";
    expect_aws_error(do_signed(&sts, &r), &r, 403, "<Code>SignatureDoesNotMatch</Code>");
    assert_true(mock_aws_count(g_m, "sig-rejected") >= 11);
}

/* A malformed Authorization header. */
static void test_incomplete_signature(void **state)
{
    (void)state;
    char url[300];
    snprintf(url, sizeof(url), "%s/", mock_aws_url(g_m));
    const char *h[] = {"Content-Type: application/x-amz-json-1.1",
                       "X-Amz-Target: secretsmanager.GetSecretValue",
                       "Authorization: AWS4-HMAC-SHA256 Credential=" AK "/20240101/us-east-1"};
    resp r;
    long st = send_req("POST", url, h, 3, GET_S1, &r);
    expect_aws_error(st, &r, 400, "IncompleteSignatureException");
}

static void test_imds_and_ecs(void **state)
{
    (void)state;
    char url[300];
    resp r;
    snprintf(url, sizeof(url), "%s/latest/api/token", mock_aws_meta_url(g_m));
    const char *ttl[] = {"x-aws-ec2-metadata-token-ttl-seconds: 21600"};
    const char *fwd[] = {"x-aws-ec2-metadata-token-ttl-seconds: 21600", "X-Forwarded-For: 1.2.3.4"};
    assert_int_equal(send_req("PUT", url, NULL, 0, NULL, &r), 400); /* TTL header required */
    assert_int_equal(send_req("PUT", url, fwd, 2, NULL, &r), 403);
    assert_int_equal(send_req("PUT", url, ttl, 1, NULL, &r), 200);
    char tok[200] = "x-aws-ec2-metadata-token: ";
    assert_true(r.len > 0 && r.len < 100);
    memcpy(tok + strlen(tok), r.body, r.len + 1);
    snprintf(url, sizeof(url), "%s/latest/meta-data/iam/security-credentials/",
             mock_aws_meta_url(g_m));
    assert_int_equal(send_req("GET", url, NULL, 0, NULL, &r), 401);
    const char *th[] = {tok};
    assert_int_equal(send_req("GET", url, th, 1, NULL, &r), 200);
    assert_string_equal(r.body, "r1");
    strcat(url, "r1");
    assert_int_equal(send_req("GET", url, th, 1, NULL, &r), 200);
    assert_non_null(strstr(r.body, "\"Code\":\"Success\""));
    snprintf(url, sizeof(url), "%s/ecs/credentials", mock_aws_meta_url(g_m));
    assert_int_equal(send_req("GET", url, NULL, 0, NULL, &r), 401);
    const char *eh[] = {"Authorization: ecs-tok-0001"};
    assert_int_equal(send_req("GET", url, eh, 1, NULL, &r), 200);
    assert_non_null(strstr(r.body, "\"AccessKeyId\":\"ASIA"));
}

/* The environment the mock prints points a shell at it. */
static void test_print_env(void **state)
{
    (void)state;
    FILE *f = tmpfile();
    assert_non_null(f);
    mock_aws_print_env(g_m, f);
    char buf[4096];
    rewind(f);
    size_t n = fread(buf, 1, sizeof(buf) - 1, f);
    buf[n] = '\0';
    fclose(f);
    char want[400];
    snprintf(want, sizeof(want), "export AWS_ENDPOINT_URL=%s\n", mock_aws_url(g_m));
    assert_non_null(strstr(buf, want));
    snprintf(want, sizeof(want), "export AWS_EC2_METADATA_SERVICE_ENDPOINT=%s\n",
             mock_aws_meta_url(g_m));
    assert_non_null(strstr(buf, want));
    assert_non_null(strstr(buf, "export AWS_REGION=us-east-1\n"));
    assert_non_null(strstr(buf, "export AWS_ACCESS_KEY_ID=" AK "\n"));
}

int main(void)
{
    curl_global_init(CURL_GLOBAL_DEFAULT);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_signed_requests),
        cmocka_unit_test(test_incomplete_signature),
        cmocka_unit_test(test_imds_and_ecs),
        cmocka_unit_test(test_print_env),
    };
    int rc = cmocka_run_group_tests(tests, setup, teardown);
    curl_global_cleanup();
    return rc;
}
