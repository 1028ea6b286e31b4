/*
 * test_hashicorp_hcp - the hashicorp provider's HCP Vault Secrets side (scheme hcp and the
 * three-argument form) against the HCP mock over HTTP and HTTPS: client-credentials token
 * (cached, refreshed at expiry, re-obtained when revoked), static/rotating/dynamic shapes, the
 * wrapped and unwrapped version bodies, grpc-style errors, the environment chain, and a canary
 * check. Also the mock's own token endpoint with HTTP Basic client authentication.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <curl/curl.h>

#include "hc_fixture.h"
#include "mock_hcp.h"

static mock_hcp *g_m;
static const char *g_ca;

#define CID      "sp-client-7c1e"
#define CSECRET  "sp-secret-canary-5a9d"
#define CWRONG   "sp-wrong-canary-6b0e"
#define CID2     "sp-client-limited"
#define CSECRET2 "sp-secret2-canary-7c1f"

static const char *const CANARIES[] = {CSECRET,
                                       CWRONG,
                                       CSECRET2,
                                       "static-v1-canary-a1",
                                       "static-v2-canary-b2",
                                       "rot-k1-canary-c3",
                                       "rot-k2-canary-d4",
                                       "dyn-canary-e5",
                                       NULL};

static const char SEED[] =
    "{\"clients\":[{\"client_id\":\"" CID "\",\"client_secret\":\"" CSECRET "\","
    "\"expires_in\":3600},"
    "{\"client_id\":\"" CID2 "\",\"client_secret\":\"" CSECRET2 "\",\"projects\":[\"other\"]}],"
    "\"secrets\":["
    "{\"organization\":\"org1\",\"project\":\"proj1\",\"app\":\"web\",\"name\":\"db_password\","
    "\"type\":\"kv\",\"versions\":[\"static-v1-canary-a1\",\"static-v2-canary-b2\"]},"
    "{\"organization\":\"org1\",\"project\":\"proj1\",\"app\":\"web\",\"name\":\"twilio\","
    "\"type\":\"rotating\",\"versions\":[{\"api_key\":\"rot-k1-canary-c3\"},"
    "{\"api_key\":\"rot-k2-canary-d4\",\"sid\":\"AC1\"}]},"
    "{\"organization\":\"org1\",\"project\":\"proj1\",\"app\":\"web\",\"name\":\"aws\","
    "\"type\":\"dynamic\",\"values\":{\"access_key_id\":\"dyn-canary-e5\"}}]}";

static int setup_group(int tls)
{
    char err[256];
    hcf_clean_env();
    g_m = mock_hcp_start(tls, err, sizeof(err));
    if (g_m == NULL || mock_hcp_seed_json(g_m, SEED, err, sizeof(err)) != 0) {
        fprintf(stderr, "%s\n", err);
        return -1;
    }
    g_ca = tls ? mc_ca_file(mock_hcp_server(g_m)) : NULL;
    hcf_log_reset();
    return 0;
}

static int setup_http(void **state)
{
    (void)state;
    return setup_group(0);
}

static int setup_https(void **state)
{
    (void)state;
    return setup_group(1);
}

static int teardown_group(void **state)
{
    (void)state;
    mock_hcp_stop(g_m);
    g_m = NULL;
    return 0;
}

static const char *url(void)
{
    return mc_url(mock_hcp_server(g_m));
}

static vp_ctx *ctx_cloud(void)
{
    vp_ctx *ctx = hcf_ctx(g_ca);
    hcf_cred(ctx, "sp", "cloud", "client_id", CID, "client_secret", CSECRET, "auth_url", url(),
             "api_url", url(), NULL);
    hcf_cred(ctx, "spdef", "cloud", "client_id", CID, "client_secret", CSECRET, "auth_url", url(),
             "api_url", url(), "organization_id", "org1", "project_id", "proj1", NULL);
    hcf_cred(ctx, "wrong", "cloud", "client_id", CID, "client_secret", CWRONG, "auth_url", url(),
             "api_url", url(), NULL);
    hcf_cred(ctx, "limited", "cloud", "client_id", CID2, "client_secret", CSECRET2, "auth_url",
             url(), "api_url", url(), NULL);
    return ctx;
}

static void want_value(vp_ctx *ctx, const char *uri, const char *want, const char *want_ver)
{
    char ver[128];
    char *v = hcf_get(ctx, uri, ver, sizeof(ver));
    assert_string_equal(v, want);
    if (want_ver != NULL)
        assert_string_equal(ver, want_ver);
    free(v);
}

static void want_err(vp_ctx *ctx, const char *uri, int status, const char *in_msg)
{
    vp_error err;
    int rc = hcf_err(ctx, uri, &err);
    if (rc != status || (in_msg && strstr(err.message, in_msg) == NULL))
        fprintf(stderr, "%s: got %d '%s'\n", uri, rc, err.message);
    assert_int_equal(rc, status);
    if (in_msg != NULL)
        assert_non_null(strstr(err.message, in_msg));
}

static void t_shapes(void **state)
{
    (void)state;
    vp_ctx *ctx = ctx_cloud();
    uint64_t t0 = mock_hcp_count(g_m, MH_COUNT_TOKEN);
    want_value(ctx, "hcp://sp@org1/proj1/web/db_password", "static-v2-canary-b2", "2");
    want_value(ctx, "hcp://sp@org1/proj1/web/db_password?version=1", "static-v1-canary-a1", "1");
    mock_hcp_set_wrap_versions(g_m, 1);
    want_value(ctx, "hcp://sp@org1/proj1/web/db_password?version=1", "static-v1-canary-a1", "1");
    mock_hcp_set_wrap_versions(g_m, 0);
    want_value(ctx, "hcp://sp@org1/proj1/web/twilio",
               "{\"api_key\":\"rot-k2-canary-d4\",\"sid\":\"AC1\"}", "2");
    want_value(ctx, "hcp://sp@org1/proj1/web/twilio?version=1#api_key", "rot-k1-canary-c3", "1");
    want_value(ctx, "hcp://sp@org1/proj1/web/aws#access_key_id", "dyn-canary-e5", NULL);
    /* organization and project from the credential */
    want_value(ctx, "hcp://spdef@web/db_password", "static-v2-canary-b2", "2");
    /* one token per credential for all of it */
    assert_int_equal(mock_hcp_count(g_m, MH_COUNT_TOKEN) - t0, 2);
    vp_ctx_free(ctx);
}

static void t_config_form(void **state)
{
    (void)state;
    vp_ctx *ctx = ctx_cloud();
    char out[512];
    vp_error err;
    int rc =
        hcf_render(ctx,
                   "{% vault 'hashicorp', 'sp', '{\"organizationId\":\"org1\",\"projectId\":"
                   "\"proj1\",\"appName\":\"web\",\"secretName\":\"db_password\",\"version\":1}'"
                   " %}|{% vault 'hashicorp', 'sp', '{\"organizationId\":\"org1\",\"projectId\":"
                   "\"proj1\",\"appName\":\"web\",\"secretName\":\"twilio\",\"secretKey\":"
                   "\"api_key\"}' %}",
                   out, sizeof(out), &err);
    if (rc != 0)
        fprintf(stderr, "render: %s\n", err.message);
    assert_int_equal(rc, 0);
    assert_string_equal(out, "static-v1-canary-a1|rot-k2-canary-d4");
    vp_ctx_free(ctx);
}

static void t_token_lifetime(void **state)
{
    (void)state;
    vp_ctx *ctx = ctx_cloud();
    uint64_t t0 = mock_hcp_count(g_m, MH_COUNT_TOKEN);
    want_value(ctx, "hcp://sp@org1/proj1/web/db_password", "static-v2-canary-b2", NULL);
    /* an hour later the cached token has expired: a new one, transparently */
    mock_hcp_advance(g_m, 3590);
    hcf_advance(3590);
    want_value(ctx, "hcp://sp@org1/proj1/web/db_password", "static-v2-canary-b2", NULL);
    assert_int_equal(mock_hcp_count(g_m, MH_COUNT_TOKEN) - t0, 2);
    /* revoked on the server: 401, one new token, success */
    mock_hcp_revoke_tokens(g_m);
    want_value(ctx, "hcp://sp@org1/proj1/web/db_password", "static-v2-canary-b2", NULL);
    assert_int_equal(mock_hcp_count(g_m, MH_COUNT_TOKEN) - t0, 3);
    vp_ctx_free(ctx);
}

static void t_errors(void **state)
{
    (void)state;
    vp_ctx *ctx = ctx_cloud();
    vp_error err;
    char val[128];
    want_err(ctx, "hcp://sp@org1/proj1/web/nothere", VP_ENOTFOUND, "not found");
    want_err(ctx, "hcp://sp@org1/proj1/web/db_password?version=9", VP_ENOTFOUND, NULL);
    want_err(ctx, "hcp://wrong@org1/proj1/web/db_password", VP_EAUTH, "rejected");
    want_err(ctx, "hcp://limited@org1/proj1/web/db_password", VP_EPERM, "permission");
    want_err(ctx, "hcp://sp@web/db_password", VP_EINVAL, "HCP_ORGANIZATION_ID");
    want_err(ctx, "hcp://sp@a/b/c", VP_EINVAL, "hcp://");
    want_err(ctx, "hcp://sp@org1/proj1/web/db_password?colour=1", VP_EINVAL, "unknown");
    mock_hcp_fail_next(g_m, 8, 1, 2);
    want_err(ctx, "hcp://sp@org1/proj1/web/db_password", VP_ERATELIMIT, "rate");
    mock_hcp_fail_next(g_m, 14, 1, 0);
    assert_int_equal(
        hcf_resolve(ctx, "hcp://sp@org1/proj1/web/db_password", val, sizeof(val), &err), 0);
    assert_string_equal(val, "static-v2-canary-b2");
    assert_int_equal(vp_validate(ctx, "hashicorp", "sp", 10000, &err), 0);
    assert_int_equal(vp_validate(ctx, "hashicorp", "wrong", 10000, &err), VP_EAUTH);
    vp_ctx_free(ctx);
}

static void t_env_chain(void **state)
{
    (void)state;
    hcf_clean_env();
    setenv("HCP_AUTH_URL", url(), 1);
    setenv("HCP_API_ADDRESS", url(), 1);
    vp_ctx *ctx = hcf_ctx(g_ca);
    want_err(ctx, "hcp://org1/proj1/web/db_password", VP_EAUTH, "HCP_CLIENT_ID");
    vp_ctx_free(ctx);
    setenv("HCP_CLIENT_ID", CID, 1);
    setenv("HCP_CLIENT_SECRET", CSECRET, 1);
    setenv("HCP_ORGANIZATION_ID", "org1", 1);
    setenv("HCP_PROJECT_ID", "proj1", 1);
    ctx = hcf_ctx(g_ca);
    want_value(ctx, "hcp://web/db_password", "static-v2-canary-b2", "2");
    vp_error err;
    assert_int_equal(vp_validate(ctx, "hashicorp", "", 10000, &err), 0);
    vp_ctx_free(ctx);
    /* the HCP credential file instead of variables */
    unsetenv("HCP_CLIENT_ID");
    unsetenv("HCP_CLIENT_SECRET");
    char path[] = "/tmp/hc_cred_XXXXXX";
    int fd = mkstemp(path);
    assert_true(fd >= 0);
    FILE *f = fdopen(fd, "w");
    fprintf(f,
            "{\"project_id\":\"proj1\",\"scheme\":\"service_principal_creds\",\"oauth\":"
            "{\"client_id\":\"%s\",\"client_secret\":\"%s\"}}",
            CID, CSECRET);
    fclose(f);
    setenv("HCP_CRED_FILE", path, 1);
    ctx = hcf_ctx(g_ca);
    want_value(ctx, "hcp://org1/proj1/web/twilio#sid", "AC1", NULL);
    vp_ctx_free(ctx);
    remove(path);
    hcf_clean_env();
}

static size_t sink(char *p, size_t size, size_t n, void *ud)
{
    strncat((char *)ud, p, size * n < 1000 ? size * n : 1000);
    return size * n;
}

/* The mock's token endpoint also takes HTTP Basic client authentication (Go's oauth2). */
static void t_mock_basic_auth(void **state)
{
    (void)state;
    char tokurl[256], body[2048] = "";
    snprintf(tokurl, sizeof(tokurl), "%s/oauth2/token", url());
    CURL *e = curl_easy_init();
    assert_non_null(e);
    curl_easy_setopt(e, CURLOPT_URL, tokurl);
    curl_easy_setopt(e, CURLOPT_PROXY, "");
    curl_easy_setopt(e, CURLOPT_USERNAME, CID);
    curl_easy_setopt(e, CURLOPT_PASSWORD, CSECRET);
    curl_easy_setopt(e, CURLOPT_HTTPAUTH, (long)CURLAUTH_BASIC);
    curl_easy_setopt(e, CURLOPT_POSTFIELDS,
                     "grant_type=client_credentials&audience=https%3A%2F%2Fapi.hashicorp.cloud");
    curl_easy_setopt(e, CURLOPT_WRITEFUNCTION, sink);
    curl_easy_setopt(e, CURLOPT_WRITEDATA, body);
    if (g_ca != NULL)
        curl_easy_setopt(e, CURLOPT_CAINFO, g_ca);
    uint64_t b0 = mock_hcp_count(g_m, MH_COUNT_TOKEN_BASIC);
    assert_int_equal(curl_easy_perform(e), CURLE_OK);
    long status = 0;
    curl_easy_getinfo(e, CURLINFO_RESPONSE_CODE, &status);
    assert_int_equal(status, 200);
    assert_non_null(strstr(body, "\"access_token\""));
    assert_int_equal(mock_hcp_count(g_m, MH_COUNT_TOKEN_BASIC) - b0, 1);
    /* wrong audience is refused like Auth0 does */
    body[0] = '\0';
    curl_easy_setopt(e, CURLOPT_POSTFIELDS,
                     "grant_type=client_credentials&audience=https%3A%2F%2Fexample.com");
    assert_int_equal(curl_easy_perform(e), CURLE_OK);
    curl_easy_getinfo(e, CURLINFO_RESPONSE_CODE, &status);
    assert_int_equal(status, 403);
    assert_non_null(strstr(body, "access_denied"));
    curl_easy_cleanup(e);
}

static void t_canary(void **state)
{
    (void)state;
    assert_true(strlen(hcf_log()) > 0);
    assert_true(strlen(hcf_messages()) > 0);
    for (size_t i = 0; CANARIES[i]; i++)
        hcf_assert_no_leak(CANARIES[i]);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(t_shapes),         cmocka_unit_test(t_config_form),
        cmocka_unit_test(t_token_lifetime), cmocka_unit_test(t_errors),
        cmocka_unit_test(t_env_chain),      cmocka_unit_test(t_mock_basic_auth),
        cmocka_unit_test(t_canary),
    };
    int rc = cmocka_run_group_tests_name("hcp_http", tests, setup_http, teardown_group);
    if (mc_tls_supported())
        rc |= cmocka_run_group_tests_name("hcp_https", tests, setup_https, teardown_group);
    return rc;
}
