/*
 * gcp provider: every secretName form (URI and three-argument tag), versions and aliases,
 * regional secrets, binary and empty payloads, CRC32C verification, the error classes
 * (google.rpc.Status and HTML bodies), transient faults and retries through the resolver.
 * The real gcp.so is loaded by the loader and talks HTTP, or HTTPS with `tls`, to mock_gcp.
 */
#define _DEFAULT_SOURCE
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "gt_util.h"

/* A context with the service-account credential "sa" (key file from the mock). */
static vp_ctx *sa_ctx(void)
{
    gt_clear_env();
    gt_log_reset();
    vp_ctx *ctx = gt_ctx(NULL, NULL);
    char f[600];
    snprintf(f, sizeof(f), "serviceAccountKeyFilePath=%s", gt_sa_file(0));
    gt_cred(ctx, "sa", "service_account", f, NULL);
    return ctx;
}

static void expect_val(vp_ctx *ctx, const char *uri, const char *value, const char *version)
{
    vp_fetch_meta meta;
    memset(&meta, 0, sizeof(meta));
    char *v = gt_get(ctx, uri, &meta, NULL);
    if (strcmp(v, value) != 0)
        fail_msg("%s: wrong value (%zu bytes, expected %zu)", uri, strlen(v), strlen(value));
    if (version != NULL)
        assert_string_equal(meta.version, version);
    free(v);
}

static void test_name_forms(void **state)
{
    (void)state;
    vp_ctx *ctx = sa_ctx();
    unsigned grants = mock_gcp_token_grants(gt_mock);
    expect_val(ctx, "gcp://sa@my-project/db-pass", GT_V3, "3");
    expect_val(ctx, "gcp://sa@db-pass", GT_V3, "3"); /* project_id of the key */
    expect_val(ctx, "gcp://sa@123456789/db-pass?version=1", GT_V1, "1");
    expect_val(ctx, "gcp://sa@my-project/db-pass?version=latest", GT_V3, "3");
    expect_val(ctx, "gcp://sa@my-project/db-pass?version=prod", GT_V2, "2");
    expect_val(ctx, "gcp://sa@projects/my-project/secrets/db-pass", GT_V3, "3");
    expect_val(ctx, "gcp://sa@projects/123456789/secrets/db-pass/versions/2", GT_V2, "2");
    expect_val(ctx, "gcp://sa@projects/my-project/secrets/db-pass?version=1", GT_V1, "1");
    expect_val(ctx, "gcp://sa@my-project/regional?location=us-east1", "regional-value", "1");
    expect_val(ctx, "gcp://sa@projects/my-project/locations/us-east1/secrets/regional/versions/1",
               "regional-value", "1");
    expect_val(ctx, "gcp://sa@my-project/json#password", GT_JSON_PW, NULL);
    expect_val(ctx, "gcp://sa@my-project/empty", "", "1");
    size_t len = 0;
    char *bin = gt_get(ctx, "gcp://sa@my-project/binary", NULL, &len);
    assert_int_equal(len, 4);
    assert_memory_equal(bin, "\x00\x01\x02\xff", 4);
    free(bin);
    /* One token served all of it. */
    assert_int_equal(mock_gcp_token_grants(gt_mock), grants + 1);
    /* A regional secret is not visible globally. */
    vp_error err;
    assert_int_equal(gt_fail(ctx, "gcp://sa@my-project/regional", &err), VP_ENOTFOUND);
    /* The capture sees the provider's lines (so the canary checks look at something). */
    assert_true(gt_log_count("fetch gcp://sa@my-project/db-pass") > 0);
    gt_assert_clean(NULL);
    vp_ctx_free(ctx);
}

static void test_bad_names(void **state)
{
    (void)state;
    vp_ctx *ctx = sa_ctx();
    mc_reset_counters(mock_gcp_server(gt_mock));
    static const char *const bad[] = {
        "gcp://sa@a/b/c",
        "gcp://sa@projects/p/secrets",
        "gcp://sa@projects/p/things/s",
        "gcp://sa@my-project/db%20pass",
        "gcp://sa@my-project/db-pass?version=1%2F2",
        "gcp://sa@my-project/db-pass?verison=1",
        "gcp://sa@my-project/db-pass?location=US_EAST",
        "gcp://sa@projects/my-project/secrets/db-pass/versions/2?version=3",
        "gcp://sa@../db-pass",
        NULL};
    for (size_t i = 0; bad[i] != NULL; i++) {
        vp_error err;
        int rc = gt_fail(ctx, bad[i], &err);
        if (rc != VP_EINVAL)
            fail_msg("%s: %s (%s)", bad[i], vp_err_name(rc), err.message);
    }
    /* Rejected before any request. */
    assert_int_equal(mc_count_total(mock_gcp_server(gt_mock)), 0);
    vp_ctx_free(ctx);
}

static void test_errors(void **state)
{
    (void)state;
    vp_ctx *ctx = sa_ctx();
    vp_error err;
    assert_int_equal(gt_fail(ctx, "gcp://sa@my-project/nope", &err), VP_ENOTFOUND);
    assert_non_null(strstr(err.message, "not found"));
    assert_int_equal(gt_fail(ctx, "gcp://sa@my-project/db-pass?version=9", &err), VP_ENOTFOUND);
    assert_int_equal(gt_fail(ctx, "gcp://sa@my-project/db-pass?version=nosuchalias", &err),
                     VP_ENOTFOUND);
    assert_int_equal(gt_fail(ctx, "gcp://sa@my-project/disabled", &err), VP_ENOTFOUND);
    assert_non_null(strstr(err.message, "DISABLED"));
    expect_val(ctx, "gcp://sa@my-project/disabled?version=1", "old", "1");
    assert_int_equal(gt_fail(ctx, "gcp://sa@my-project/destroyed?version=1", &err), VP_ENOTFOUND);
    assert_non_null(strstr(err.message, "DESTROYED"));
    assert_int_equal(gt_fail(ctx, "gcp://sa@other-project/db-pass", &err), VP_EPERM);
    assert_non_null(strstr(err.message, "PERMISSION_DENIED"));
    assert_int_equal(gt_fail(ctx, "gcp://sa@unknown-project/db-pass", &err), VP_EPERM);
    assert_int_equal(gt_fail(ctx, "gcp://sa@my-project/db-pass?version=0", &err), VP_EINVAL);
    assert_non_null(strstr(err.message, "INVALID_ARGUMENT"));

    /* A wrong endpoint path: Google answers an HTML 404, not JSON. */
    char f1[600], f2[600];
    snprintf(f1, sizeof(f1), "serviceAccountKeyFilePath=%s", gt_sa_file(0));
    snprintf(f2, sizeof(f2), "endpoint=%s/wrong-prefix", mock_gcp_url(gt_mock));
    gt_cred(ctx, "wrongep", "service_account", f1, f2, NULL);
    assert_int_equal(gt_fail(ctx, "gcp://wrongep@my-project/db-pass", &err), VP_ENOTFOUND);
    assert_non_null(strstr(err.message, "without a Google API error"));

    /* Credentials the provider refuses. */
    gt_cred(ctx, "typo", "service_account", f1, "projcet=x", NULL);
    assert_int_equal(gt_fail(ctx, "gcp://typo@my-project/db-pass", &err), VP_EINVAL);
    assert_non_null(strstr(err.message, "projcet"));
    gt_cred(ctx, "both", "access_token", "access_token=" GT_STATIC_TOKEN, "endpoint=ftp://x", NULL);
    assert_int_equal(gt_fail(ctx, "gcp://both@my-project/db-pass", &err), VP_EINVAL);
    assert_non_null(strstr(err.message, "http"));
    gt_assert_clean(NULL);
    vp_ctx_free(ctx);
}

static void test_crc(void **state)
{
    (void)state;
    vp_ctx *ctx = sa_ctx();
    vp_error err;
    assert_int_equal(gt_fail(ctx, "gcp://sa@my-project/badcrc", &err), VP_EPROTO);
    assert_non_null(strstr(err.message, "CRC32C"));
    mock_gcp_set_crc_mismatch(gt_mock, 1);
    assert_int_equal(gt_fail(ctx, "gcp://sa@my-project/db-pass", &err), VP_EPROTO);
    mock_gcp_set_crc_mismatch(gt_mock, 0);
    expect_val(ctx, "gcp://sa@my-project/db-pass", GT_V3, "3");
    gt_assert_clean(NULL);
    vp_ctx_free(ctx);
}

static void test_faults(void **state)
{
    (void)state;
    vp_ctx *ctx = sa_ctx();
    mc_server *srv = mock_gcp_server(gt_mock);
    expect_val(ctx, "gcp://sa@my-project/db-pass", GT_V3, "3"); /* token cached */
    vp_error err;
    mc_fault f = {.kind = MC_FAULT_STATUS, .path_prefix = "/v1/", .count = 1, .status = 429};
    assert_int_equal(mc_fault_add(srv, &f), 0);
    assert_int_equal(gt_fail(ctx, "gcp://sa@my-project/db-pass", &err), VP_ERATELIMIT);
    f.status = 503;
    assert_int_equal(mc_fault_add(srv, &f), 0);
    assert_int_equal(gt_fail(ctx, "gcp://sa@my-project/db-pass", &err), VP_EUNAVAIL);
    mc_fault g = {.kind = MC_FAULT_GARBAGE, .path_prefix = "/v1/", .count = 1, .status = 200};
    assert_int_equal(mc_fault_add(srv, &g), 0);
    assert_int_equal(gt_fail(ctx, "gcp://sa@my-project/db-pass", &err), VP_EPROTO);
    mc_fault o = {.kind = MC_FAULT_OVERSIZE, .path_prefix = "/v1/", .count = 1, .size = 400000};
    assert_int_equal(mc_fault_add(srv, &o), 0);
    assert_int_equal(gt_fail(ctx, "gcp://sa@my-project/db-pass", &err), VP_EPROTO);
    mc_fault r = {.kind = MC_FAULT_RESET, .path_prefix = "/v1/", .count = 1};
    assert_int_equal(mc_fault_add(srv, &r), 0);
    assert_int_equal(gt_fail(ctx, "gcp://sa@my-project/db-pass", &err), VP_ENETWORK);
    /* The token endpoint failing transiently is transient too. */
    vp_ctx *c2 = sa_ctx();
    mc_fault t = {.kind = MC_FAULT_STATUS, .path_prefix = "/token", .count = 1, .status = 503};
    assert_int_equal(mc_fault_add(srv, &t), 0);
    assert_int_equal(gt_fail(c2, "gcp://sa@my-project/db-pass", &err), VP_EUNAVAIL);
    expect_val(c2, "gcp://sa@my-project/db-pass", GT_V3, "3");
    mc_fault_clear(srv);
    gt_assert_clean(NULL);
    vp_ctx_free(c2);
    vp_ctx_free(ctx);
}

/* The resolver retries 429 (honouring Retry-After) and 503 on its own. */
static void test_retries(void **state)
{
    (void)state;
    vp_ctx *ctx = sa_ctx();
    mc_server *srv = mock_gcp_server(gt_mock);
    mc_fault f = {.kind = MC_FAULT_STATUS,
                  .path_prefix = "/v1/",
                  .count = 1,
                  .status = 429,
                  .retry_after_s = 1};
    assert_int_equal(mc_fault_add(srv, &f), 0);
    mc_fault g = {.kind = MC_FAULT_STATUS, .path_prefix = "/v1/", .count = 1, .status = 503};
    assert_int_equal(mc_fault_add(srv, &g), 0);
    vp_buf out = VP_BUF_INIT;
    vp_error err;
    int rc = vp_resolve(ctx, "gcp://sa@my-project/db-pass?version=2", 20000, &out, &err);
    if (rc != 0)
        fail_msg("vp_resolve: %s", err.message);
    assert_int_equal(out.len, strlen(GT_V2));
    assert_memory_equal(out.data, GT_V2, out.len);
    vp_buf_free(&out);
    vp_cache_stats st;
    assert_int_equal(vp_cache_stats_get(ctx, "gcp", &st), 0);
    assert_int_equal(st.retries, 2);
    assert_int_equal(st.throttles, 1);
    mc_fault_clear(srv);
    gt_assert_clean(NULL);
    vp_ctx_free(ctx);
}

/* Without an override the requests go to Google's global and regional endpoints. A proxy on
 * a closed port stops them before they leave the machine; the failure names the URL. */
static void test_default_endpoints(void **state)
{
    (void)state;
    gt_clear_env();
    unsetenv("VAULTPLUG_GCP_ENDPOINT");
    gt_proxy = "http://127.0.0.1:1";
    vp_ctx *ctx = gt_ctx(NULL, NULL);
    gt_proxy = NULL;
    gt_cred(ctx, "ci", "access_token", "access_token=" GT_STATIC_TOKEN, NULL);
    vp_error err;
    assert_int_equal(gt_fail(ctx, "gcp://ci@my-project/db-pass", &err), VP_ENETWORK);
    assert_non_null(strstr(err.message, "https://secretmanager.googleapis.com/v1/projects/"
                                        "my-project/secrets/db-pass/versions/latest:access"));
    assert_int_equal(gt_fail(ctx, "gcp://ci@my-project/regional?location=us-east1&version=2", &err),
                     VP_ENETWORK);
    assert_non_null(strstr(err.message, "https://secretmanager.us-east1.rep.googleapis.com/v1/"
                                        "projects/my-project/locations/us-east1/secrets/regional/"
                                        "versions/2:access"));
    vp_ctx_free(ctx);
}

static char *render(vp_ctx *ctx, const char *tmpl, int *rc, vp_error *err)
{
    vp_buf out = VP_BUF_INIT;
    *rc = vp_render(ctx, tmpl, strlen(tmpl), NULL, VP_RENDER_SEND, &out, err);
    char *s = strndup(out.data ? out.data : "", out.len);
    vp_buf_free(&out);
    return s;
}

static void test_template_forms(void **state)
{
    (void)state;
    vp_ctx *ctx = sa_ctx();
    int rc;
    vp_error err;
    char *s =
        render(ctx,
               "a={% vault 'gcp', 'sa', '{\"secretName\":\"db-pass\"}' %};"
               "b={% vault 'gcp', 'sa', '{\"secretName\":\"projects/my-project/secrets/"
               "db-pass\",\"version\":1}' %};"
               "c={% vault 'gcp', 'sa', '{\"secretName\":\"projects/123456789/secrets/"
               "db-pass/versions/2\"}' %};"
               "d={% vault 'gcp', 'sa', '{\"secretName\":\"db-pass\",\"version\":\"prod\"}' %};"
               "e={% vault 'gcp://sa@my-project/json#password' %}",
               &rc, &err);
    if (rc != 0)
        fail_msg("render: %s", err.message);
    assert_string_equal(s, "a=" GT_V3 ";b=" GT_V1 ";c=" GT_V2 ";d=" GT_V2 ";e=" GT_JSON_PW);
    free(s);
    /* base64 of {"secretName":"db-pass","version":"1"} */
    s = render(ctx,
               "{% vault 'gcp', 'sa', 'eyJzZWNyZXROYW1lIjoiZGItcGFzcyIsInZlcnNpb24iOiIxIn0=' %}",
               &rc, &err);
    if (rc != 0)
        fail_msg("render b64: %s", err.message);
    assert_string_equal(s, GT_V1);
    free(s);
    s = render(ctx, "{% vault 'gcp', 'sa', '{\"name\":\"db-pass\"}' %}", &rc, &err);
    assert_int_equal(rc, VP_EINVAL);
    free(s);
    s = render(ctx, "{% vault 'gcp', 'sa', '{\"version\":\"1\"}' %}", &rc, &err);
    assert_int_equal(rc, VP_EINVAL);
    assert_non_null(strstr(err.message, "secretName"));
    free(s);
    gt_assert_clean(err.message);
    vp_ctx_free(ctx);
}

int main(int argc, char **argv)
{
    gt_tls = argc > 1 && strcmp(argv[1], "tls") == 0;
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_name_forms),     cmocka_unit_test(test_bad_names),
        cmocka_unit_test(test_errors),         cmocka_unit_test(test_crc),
        cmocka_unit_test(test_faults),         cmocka_unit_test(test_retries),
        cmocka_unit_test(test_template_forms), cmocka_unit_test(test_default_endpoints),
    };
    return cmocka_run_group_tests_name(gt_tls ? "gcp_https" : "gcp_http", tests, gt_setup,
                                       gt_teardown);
}
