/*
 * gcp provider credentials: service_account (JWT bearer grant verified by the mock against the
 * key's public half; deleted keys, clock skew, key_json), authorized_user (refresh grant, quota
 * project header), access_token (and tokeninfo for validate), the metadata server (flavor
 * header rule both ways), Application Default Credentials in order, unsupported types, token
 * caching and refresh on an injected clock, one refresh shared by concurrent fetches, 401
 * recovery, and validate reading no secret.
 */
#define _DEFAULT_SOURCE
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>
#include <curl/curl.h>

#include "gt_util.h"

static _Atomic int64_t g_mono = 5000000;
static _Atomic int64_t g_wall_offset_ms;

static int64_t mono_clock(void *ud)
{
    (void)ud;
    return atomic_load(&g_mono);
}

static int64_t wall_clock(void *ud)
{
    (void)ud;
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000 + atomic_load(&g_wall_offset_ms);
}

static void expect_val(vp_ctx *ctx, const char *uri, const char *value)
{
    char *v = gt_get(ctx, uri, NULL, NULL);
    if (strcmp(v, value) != 0)
        fail_msg("%s: wrong value (%zu bytes, expected %zu)", uri, strlen(v), strlen(value));
    free(v);
}

static vp_ctx *fresh(void)
{
    gt_clear_env();
    gt_log_reset();
    return gt_ctx(NULL, NULL);
}

static void write_file(const char *path, const char *text)
{
    FILE *f = fopen(path, "w");
    assert_non_null(f);
    fputs(text, f);
    fclose(f);
}

static void test_service_account(void **state)
{
    (void)state;
    gt_clear_env();
    gt_log_reset();
    unsetenv("VAULTPLUG_GCP_TOKEN_URI"); /* the key file's token_uri is used */
    vp_ctx *ctx = gt_ctx(NULL, NULL);
    char f[600];
    snprintf(f, sizeof(f), "serviceAccountKeyFilePath=%s", gt_sa_file(0));
    gt_cred(ctx, "sa", "service_account", f, NULL);
    unsigned g0 = mock_gcp_token_grants(gt_mock);
    expect_val(ctx, "gcp://sa@my-project/db-pass", GT_V3);
    assert_int_equal(mock_gcp_token_grants(gt_mock), g0 + 1);
    vp_error err;
    assert_int_equal(vp_validate(ctx, "gcp", "sa", 10000, &err), 0);

    /* key_file: the lower-case spelling of the same field. */
    snprintf(f, sizeof(f), "key_file=%s", gt_sa_file(0));
    gt_cred(ctx, "lower", "service_account", f, NULL);
    expect_val(ctx, "gcp://lower@my-project/db-pass?version=2", GT_V2);

    /* The key as a field instead of a path. */
    FILE *kf = fopen(gt_sa_file(0), "r");
    char key[8192];
    size_t n = fread(key, 1, sizeof(key) - 1, kf);
    fclose(kf);
    key[n] = '\0';
    char kv[8300];
    snprintf(kv, sizeof(kv), "key_json=%s", key);
    gt_cred(ctx, "inline", "service_account", kv, NULL);
    expect_val(ctx, "gcp://inline@my-project/db-pass?version=1", GT_V1);

    /* A deleted key: Google answers invalid_grant "Invalid JWT Signature.". */
    snprintf(f, sizeof(f), "serviceAccountKeyFilePath=%s", gt_sa_file(1));
    gt_cred(ctx, "doomed", "service_account", f, NULL);
    assert_int_equal(vp_validate(ctx, "gcp", "doomed", 10000, &err), 0);
    mock_gcp_delete_sa_key(gt_mock, 1);
    gt_cred(ctx, "doomed", "service_account", f, NULL); /* new instance: no cached token */
    assert_int_equal(gt_fail(ctx, "gcp://doomed@my-project/db-pass", &err), VP_EAUTH);
    assert_non_null(strstr(err.message, "Invalid JWT Signature"));
    assert_int_equal(vp_validate(ctx, "gcp", "doomed", 10000, &err), VP_EAUTH);

    /* Missing key file, and a file that is not a key. */
    gt_cred(ctx, "gone", "service_account", "serviceAccountKeyFilePath=/nonexistent/key.json",
            NULL);
    assert_int_equal(gt_fail(ctx, "gcp://gone@my-project/db-pass", &err), VP_EAUTH);
    assert_non_null(strstr(err.message, "/nonexistent/key.json"));
    gt_cred(ctx, "notkey", "service_account", "key_json={\"type\":\"service_account\"}", NULL);
    assert_int_equal(gt_fail(ctx, "gcp://notkey@my-project/db-pass", &err), VP_EINVAL);
    assert_non_null(strstr(err.message, "client_email"));
    gt_assert_clean(NULL);
    vp_ctx_free(ctx);
}

/* The mock checks iat/exp against its own clock: a client clock two hours slow is refused. */
static void test_clock_skew(void **state)
{
    (void)state;
    gt_clear_env();
    gt_log_reset();
    atomic_store(&g_wall_offset_ms, -2 * 3600 * 1000);
    vp_ctx *ctx = gt_ctx(wall_clock, NULL);
    char f[600];
    snprintf(f, sizeof(f), "serviceAccountKeyFilePath=%s", gt_sa_file(0));
    gt_cred(ctx, "sa", "service_account", f, NULL);
    vp_error err;
    assert_int_equal(gt_fail(ctx, "gcp://sa@my-project/db-pass", &err), VP_EAUTH);
    assert_non_null(strstr(err.message, "short-lived"));
    atomic_store(&g_wall_offset_ms, 0);
    expect_val(ctx, "gcp://sa@my-project/db-pass", GT_V3);
    vp_ctx_free(ctx);
}

static void test_authorized_user(void **state)
{
    (void)state;
    vp_ctx *ctx = fresh();
    gt_cred(ctx, "user", "authorized_user", "client_id=cid-123.apps.example",
            "client_secret=" GT_CLIENT_SECRET, "refresh_token=" GT_REFRESH_TOKEN,
            "quota_project=my-project", NULL);
    expect_val(ctx, "gcp://user@my-project/db-pass?version=1", GT_V1);
    char up[128];
    mock_gcp_last_user_project(gt_mock, up, sizeof(up));
    assert_string_equal(up, "my-project");
    vp_error err;
    assert_int_equal(vp_validate(ctx, "gcp", "user", 10000, &err), 0);
    /* IAM denies alice this one: 403, not 404. */
    assert_int_equal(gt_fail(ctx, "gcp://user@my-project/private", &err), VP_EPERM);

    gt_cred(ctx, "revoked", "authorized_user", "client_id=cid-123.apps.example",
            "client_secret=" GT_CLIENT_SECRET, "refresh_token=1//revoked-canary-zz", NULL);
    assert_int_equal(gt_fail(ctx, "gcp://revoked@my-project/db-pass", &err), VP_EAUTH);
    assert_non_null(strstr(err.message, "invalid_grant"));
    assert_null(strstr(err.message, "revoked-canary"));
    gt_cred(ctx, "noclient", "authorized_user", "client_id=who", "client_secret=x-canary-xx",
            "refresh_token=" GT_REFRESH_TOKEN, NULL);
    assert_int_equal(gt_fail(ctx, "gcp://noclient@my-project/db-pass", &err), VP_EAUTH);
    assert_non_null(strstr(err.message, "invalid_client"));
    /* Without a quota project no header is sent. */
    gt_cred(ctx, "user2", "authorized_user", "client_id=cid-123.apps.example",
            "client_secret=" GT_CLIENT_SECRET, "refresh_token=" GT_REFRESH_TOKEN, NULL);
    expect_val(ctx, "gcp://user2@my-project/db-pass", GT_V3);
    mock_gcp_last_user_project(gt_mock, up, sizeof(up));
    assert_string_equal(up, "");
    gt_assert_clean(NULL);
    vp_ctx_free(ctx);
}

static void test_access_token(void **state)
{
    (void)state;
    vp_ctx *ctx = fresh();
    gt_cred(ctx, "ci", "access_token", "access_token=" GT_STATIC_TOKEN, "project=my-project", NULL);
    gt_cred(ctx, "bad", "access_token", "access_token=" GT_BAD_TOKEN, NULL);
    unsigned g0 = mock_gcp_token_grants(gt_mock);
    expect_val(ctx, "gcp://ci@db-pass?version=prod", GT_V2);
    assert_int_equal(mock_gcp_token_grants(gt_mock), g0);
    vp_error err;
    assert_int_equal(gt_fail(ctx, "gcp://ci@my-project/private", &err), VP_EPERM);
    assert_int_equal(gt_fail(ctx, "gcp://bad@my-project/db-pass", &err), VP_EAUTH);
    assert_non_null(strstr(err.message, "UNAUTHENTICATED"));
    assert_int_equal(vp_validate(ctx, "gcp", "ci", 10000, &err), 0);
    assert_int_equal(vp_validate(ctx, "gcp", "bad", 10000, &err), VP_EAUTH);
    gt_assert_clean(err.message);
    /* No type, but fields (what the CLI builds from VAULTPLUG_GCP_* variables): the fields say
     * which type; settings alone are the default chain with overrides. */
    gt_cred(ctx, "untyped", "", "ACCESS_TOKEN=" GT_STATIC_TOKEN, "project=my-project", NULL);
    expect_val(ctx, "gcp://untyped@db-pass?version=1", GT_V1);
    setenv("GOOGLE_APPLICATION_CREDENTIALS", gt_sa_file(0), 1);
    char ep[300];
    snprintf(ep, sizeof(ep), "endpoint=%s/wrong-prefix", mock_gcp_url(gt_mock));
    gt_cred(ctx, "adcx", "", ep, NULL);
    assert_int_equal(gt_fail(ctx, "gcp://adcx@my-project/db-pass", &err), VP_ENOTFOUND);
    gt_cred(ctx, "adcy", "", "project=my-project", "colour=blue", NULL);
    assert_int_equal(gt_fail(ctx, "gcp://adcy@db-pass", &err), VP_EINVAL);
    assert_non_null(strstr(err.message, "colour"));
    unsetenv("GOOGLE_APPLICATION_CREDENTIALS");
    /* The environment variable for CI. */
    setenv("VAULTPLUG_GCP_ACCESS_TOKEN", GT_STATIC_TOKEN, 1);
    setenv("VAULTPLUG_GCP_ENDPOINT", mock_gcp_url(gt_mock), 1);
    vp_ctx *c2 = gt_ctx(NULL, NULL);
    expect_val(c2, "gcp://my-project/db-pass", GT_V3);
    gt_assert_clean(NULL);
    vp_ctx_free(c2);
    vp_ctx_free(ctx);
}

/* Point the default chain at the mock (endpoint and token endpoint overrides). */
static void mock_env(void)
{
    setenv("VAULTPLUG_GCP_ENDPOINT", mock_gcp_url(gt_mock), 1);
    setenv("VAULTPLUG_GCP_TOKEN_URI", mock_gcp_token_uri(gt_mock), 1);
}

static void test_adc_order(void **state)
{
    (void)state;
    vp_error err;
    char dir[300], path[500];

    /* 1. GOOGLE_APPLICATION_CREDENTIALS (a service-account key): project from the key. */
    vp_ctx *ctx = fresh();
    mock_env();
    setenv("GOOGLE_APPLICATION_CREDENTIALS", gt_sa_file(0), 1);
    expect_val(ctx, "gcp://db-pass", GT_V3);
    vp_ctx_free(ctx);
    /* ... and GOOGLE_CLOUD_PROJECT wins over the key's project. */
    setenv("GOOGLE_CLOUD_PROJECT", "other-project", 1);
    ctx = gt_ctx(NULL, NULL);
    assert_int_equal(gt_fail(ctx, "gcp://db-pass", &err), VP_EPERM);
    vp_ctx_free(ctx);

    /* Insomnia's variable comes before GOOGLE_APPLICATION_CREDENTIALS. */
    gt_clear_env();
    mock_env();
    setenv("GOOGLE_APPLICATION_CREDENTIALS", "/nonexistent/adc.json", 1);
    setenv("INSOMNIA_GCP_SERVICEACCOUNTKEYFILEPATH", gt_sa_file(0), 1);
    ctx = gt_ctx(NULL, NULL);
    expect_val(ctx, "gcp://db-pass?version=1", GT_V1);
    vp_ctx_free(ctx);
    /* A missing file is an error, never a silent fall-through to the next step. */
    unsetenv("INSOMNIA_GCP_SERVICEACCOUNTKEYFILEPATH");
    ctx = gt_ctx(NULL, NULL);
    assert_int_equal(gt_fail(ctx, "gcp://my-project/db-pass", &err), VP_EAUTH);
    assert_non_null(strstr(err.message, "GOOGLE_APPLICATION_CREDENTIALS"));
    vp_ctx_free(ctx);

    /* 2. The gcloud well-known file under CLOUDSDK_CONFIG (authorized_user with a quota
     *    project), with gcloud's configured project for short names. */
    gt_clear_env();
    mock_env();
    snprintf(dir, sizeof(dir), "%s/gcloud", gt_dir);
    mkdir(dir, 0700);
    snprintf(path, sizeof(path), "%s/configurations", dir);
    mkdir(path, 0700);
    snprintf(path, sizeof(path), "%s/application_default_credentials.json", dir);
    char adc[600];
    snprintf(adc, sizeof(adc), "%s/adc_user.json", gt_dir);
    FILE *in = fopen(adc, "r");
    char text[4096];
    size_t n = fread(text, 1, sizeof(text) - 1, in);
    fclose(in);
    text[n] = '\0';
    write_file(path, text);
    snprintf(path, sizeof(path), "%s/active_config", dir);
    write_file(path, "work\n");
    snprintf(path, sizeof(path), "%s/configurations/config_work", dir);
    write_file(path, "[core]\naccount = alice@example.com\nproject = my-project\n");
    setenv("CLOUDSDK_CONFIG", dir, 1);
    ctx = gt_ctx(NULL, NULL);
    expect_val(ctx, "gcp://db-pass?version=2", GT_V2);
    char up[128];
    mock_gcp_last_user_project(gt_mock, up, sizeof(up));
    assert_string_equal(up, "my-project");
    vp_ctx_free(ctx);

    /* ... or under ~/.config/gcloud. */
    gt_clear_env();
    mock_env();
    char home[300], cfg[400];
    snprintf(home, sizeof(home), "%s/home", gt_dir);
    mkdir(home, 0700);
    snprintf(cfg, sizeof(cfg), "%s/.config", home);
    mkdir(cfg, 0700);
    snprintf(cfg, sizeof(cfg), "%s/.config/gcloud", home);
    mkdir(cfg, 0700);
    snprintf(path, sizeof(path), "%s/application_default_credentials.json", cfg);
    write_file(path, text);
    setenv("HOME", home, 1);
    setenv("GOOGLE_CLOUD_PROJECT", "my-project", 1);
    ctx = gt_ctx(NULL, NULL);
    expect_val(ctx, "gcp://db-pass?version=1", GT_V1);
    vp_ctx_free(ctx);
    unlink(path);
    rmdir(cfg);
    snprintf(cfg, sizeof(cfg), "%s/.config", home);
    rmdir(cfg);
    rmdir(home);

    /* An unsupported type in the well-known file is named. */
    gt_clear_env();
    mock_env();
    setenv("CLOUDSDK_CONFIG", dir, 1);
    snprintf(path, sizeof(path), "%s/application_default_credentials.json", dir);
    write_file(path, "{\"type\":\"external_account\",\"audience\":\"//iam.googleapis.com/x\"}");
    ctx = gt_ctx(NULL, NULL);
    assert_int_equal(gt_fail(ctx, "gcp://my-project/db-pass", &err), VP_ENOTSUP);
    assert_non_null(strstr(err.message, "external_account"));
    vp_ctx_free(ctx);
    unlink(path);
    snprintf(path, sizeof(path), "%s/active_config", dir);
    unlink(path);
    snprintf(path, sizeof(path), "%s/configurations/config_work", dir);
    unlink(path);
    snprintf(path, sizeof(path), "%s/configurations", dir);
    rmdir(path);
    rmdir(dir);

    /* 4. The metadata server: token and project id from it. */
    gt_clear_env();
    mock_env();
    setenv("GCE_METADATA_HOST", mock_gcp_metadata_host(gt_mock), 1);
    setenv("GCE_METADATA_IP", mock_gcp_metadata_host(gt_mock), 1);
    mc_server *md = mock_gcp_metadata_server(gt_mock);
    mc_reset_counters(md);
    unsigned m0 = mock_gcp_metadata_grants(gt_mock);
    ctx = gt_ctx(NULL, NULL);
    expect_val(ctx, "gcp://db-pass", GT_V3);
    expect_val(ctx, "gcp://my-project/db-pass?version=1", GT_V1);
    assert_int_equal(mock_gcp_metadata_grants(gt_mock), m0 + 1);
    assert_int_equal(vp_validate(ctx, "gcp", "", 10000, &err), 0);
    /* Every request carried the flavor header: ping, token, project id. */
    assert_int_equal(mc_log_count(md), 3);
    for (size_t i = 0; i < mc_log_count(md); i++) {
        mc_log_entry e;
        assert_int_equal(mc_log_get(md, i, &e), 0);
        assert_string_equal(mc_log_header(&e, "Metadata-Flavor"), "Google");
        assert_int_equal(e.status, 200);
    }
    vp_ctx_free(ctx);

    /* No metadata server: a clear EAUTH; NO_GCE_CHECK skips the probe. */
    gt_clear_env();
    mock_env();
    ctx = gt_ctx(NULL, NULL);
    assert_int_equal(gt_fail(ctx, "gcp://my-project/db-pass", &err), VP_EAUTH);
    assert_non_null(strstr(err.message, "Application Default Credentials"));
    assert_int_equal(vp_validate(ctx, "gcp", "", 10000, &err), VP_EAUTH);
    vp_ctx_free(ctx);
    setenv("NO_GCE_CHECK", "true", 1);
    setenv("GCE_METADATA_IP", mock_gcp_metadata_host(gt_mock), 1);
    setenv("GCE_METADATA_HOST", mock_gcp_metadata_host(gt_mock), 1);
    mc_reset_counters(md);
    ctx = gt_ctx(NULL, NULL);
    assert_int_equal(gt_fail(ctx, "gcp://my-project/db-pass", &err), VP_EAUTH);
    assert_int_equal(mc_count_total(md), 0);
    vp_ctx_free(ctx);
    gt_assert_clean(NULL);
}

/* The mock metadata server refuses requests without the flavor header, and the provider
 * refuses a "metadata server" that does not answer with it. */
static void impostor(void *ud, const mc_request *req, mc_response *resp)
{
    (void)ud;
    (void)req;
    mc_resp_json(resp, 200, "{\"access_token\":\"ya29.mock-impostor\",\"expires_in\":3599}");
}

static size_t discard(char *p, size_t s, size_t n, void *ud)
{
    (void)p;
    (void)ud;
    return s * n;
}

static void test_metadata_flavor(void **state)
{
    (void)state;
    char url[200];
    snprintf(url, sizeof(url),
             "http://%s/computeMetadata/v1/instance/service-accounts/default/token",
             mock_gcp_metadata_host(gt_mock));
    CURL *c = curl_easy_init();
    assert_non_null(c);
    curl_easy_setopt(c, CURLOPT_URL, url);
    curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, discard);
    assert_int_equal(curl_easy_perform(c), CURLE_OK);
    long code = 0;
    curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &code);
    assert_int_equal(code, 403);
    struct curl_slist *h = curl_slist_append(NULL, "Metadata-Flavor: Google");
    h = curl_slist_append(h, "X-Forwarded-For: 10.0.0.1");
    curl_easy_setopt(c, CURLOPT_HTTPHEADER, h);
    assert_int_equal(curl_easy_perform(c), CURLE_OK);
    curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &code);
    assert_int_equal(code, 403);
    curl_slist_free_all(h);
    curl_easy_cleanup(c);

    mc_server *fake = mc_start(NULL);
    assert_non_null(fake);
    assert_true(mc_route(fake, "*", "/", impostor, NULL) >= 0);
    char hp[64];
    snprintf(hp, sizeof(hp), "127.0.0.1:%u", (unsigned)mc_port(fake));
    vp_ctx *ctx = fresh();
    mock_env();
    setenv("GCE_METADATA_HOST", hp, 1);
    setenv("GCE_METADATA_IP", hp, 1);
    vp_ctx_free(ctx);
    ctx = gt_ctx(NULL, NULL);
    vp_error err;
    assert_int_equal(gt_fail(ctx, "gcp://my-project/db-pass", &err), VP_EAUTH);
    /* An explicit metadata credential skips detection but still checks the header. */
    gt_cred(ctx, "md", "metadata", NULL);
    assert_int_equal(gt_fail(ctx, "gcp://md@my-project/db-pass", &err), VP_EAUTH);
    vp_ctx_free(ctx);
    mc_stop(fake);
}

/* Tokens are cached until 225 s before expiry, then refreshed (injected monotonic clock). */
static void test_token_refresh(void **state)
{
    (void)state;
    gt_clear_env();
    gt_log_reset();
    vp_ctx *ctx = gt_ctx(NULL, mono_clock);
    char f[600];
    snprintf(f, sizeof(f), "serviceAccountKeyFilePath=%s", gt_sa_file(0));
    gt_cred(ctx, "sa", "service_account", f, NULL);
    gt_cred(ctx, "user", "authorized_user", "client_id=cid-123.apps.example",
            "client_secret=" GT_CLIENT_SECRET, "refresh_token=" GT_REFRESH_TOKEN, NULL);
    mock_gcp_set_token_lifetime(gt_mock, 3600, 1); /* expires_in as a string */
    unsigned g0 = mock_gcp_token_grants(gt_mock);
    expect_val(ctx, "gcp://sa@my-project/db-pass", GT_V3);
    expect_val(ctx, "gcp://user@my-project/db-pass", GT_V3);
    assert_int_equal(mock_gcp_token_grants(gt_mock), g0 + 2);
    atomic_fetch_add(&g_mono, (int64_t)3000 * 1000);
    expect_val(ctx, "gcp://sa@my-project/db-pass", GT_V3);
    expect_val(ctx, "gcp://user@my-project/db-pass", GT_V3);
    assert_int_equal(mock_gcp_token_grants(gt_mock), g0 + 2);
    atomic_fetch_add(&g_mono, (int64_t)400 * 1000); /* 3400 s: inside the 225 s margin */
    expect_val(ctx, "gcp://sa@my-project/db-pass", GT_V3);
    expect_val(ctx, "gcp://user@my-project/db-pass", GT_V3);
    assert_int_equal(mock_gcp_token_grants(gt_mock), g0 + 4);
    mock_gcp_set_token_lifetime(gt_mock, 3599, 0);

    /* A token the service rejects (401) is dropped: the next fetch gets a new one. */
    mock_gcp_revoke_tokens(gt_mock);
    vp_error err;
    assert_int_equal(gt_fail(ctx, "gcp://sa@my-project/db-pass", &err), VP_EAUTH);
    expect_val(ctx, "gcp://sa@my-project/db-pass", GT_V3);
    assert_int_equal(mock_gcp_token_grants(gt_mock), g0 + 5);
    gt_assert_clean(NULL);
    vp_ctx_free(ctx);
}

typedef struct {
    vp_ctx *ctx;
    int ok;
} worker_arg;

static void *worker(void *p)
{
    worker_arg *a = p;
    for (int i = 0; i < 10; i++) {
        vp_buf out = VP_BUF_INIT;
        vp_error err;
        if (vp_fetch(a->ctx, "gcp://sa@my-project/db-pass?version=2", 20000, &out, NULL, &err) ==
                0 &&
            out.len == strlen(GT_V2) && memcmp(out.data, GT_V2, out.len) == 0)
            a->ok++;
        vp_buf_free(&out);
    }
    return NULL;
}

/* Eight threads start on a fresh instance at once: one token request serves them all. */
static void test_concurrent_single_refresh(void **state)
{
    (void)state;
    vp_ctx *ctx = fresh();
    char f[600];
    snprintf(f, sizeof(f), "serviceAccountKeyFilePath=%s", gt_sa_file(0));
    gt_cred(ctx, "sa", "service_account", f, NULL);
    unsigned g0 = mock_gcp_token_grants(gt_mock);
    pthread_t th[8];
    worker_arg args[8];
    for (int i = 0; i < 8; i++) {
        args[i] = (worker_arg){ctx, 0};
        assert_int_equal(pthread_create(&th[i], NULL, worker, &args[i]), 0);
    }
    for (int i = 0; i < 8; i++) {
        pthread_join(th[i], NULL);
        assert_int_equal(args[i].ok, 10);
    }
    assert_int_equal(mock_gcp_token_grants(gt_mock), g0 + 1);
    gt_assert_clean(NULL);
    vp_ctx_free(ctx);
}

/* validate obtains a token and reads no secret. */
static void test_validate_reads_nothing(void **state)
{
    (void)state;
    vp_ctx *ctx = fresh();
    char f[600];
    snprintf(f, sizeof(f), "serviceAccountKeyFilePath=%s", gt_sa_file(0));
    gt_cred(ctx, "sa", "service_account", f, NULL);
    gt_cred(ctx, "user", "authorized_user", "client_id=cid-123.apps.example",
            "client_secret=" GT_CLIENT_SECRET, "refresh_token=" GT_REFRESH_TOKEN, NULL);
    unsigned a0 = mock_gcp_access_ok(gt_mock), g0 = mock_gcp_token_grants(gt_mock);
    vp_error err;
    assert_int_equal(vp_validate(ctx, "gcp", "sa", 10000, &err), 0);
    assert_int_equal(vp_validate(ctx, "gcp", "user", 10000, &err), 0);
    assert_int_equal(mock_gcp_token_grants(gt_mock), g0 + 2);
    assert_int_equal(mock_gcp_access_ok(gt_mock), a0);
    gt_assert_clean(NULL);
    vp_ctx_free(ctx);
}

int main(int argc, char **argv)
{
    gt_tls = argc > 1 && strcmp(argv[1], "tls") == 0;
    curl_global_init(CURL_GLOBAL_DEFAULT);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_service_account),
        cmocka_unit_test(test_clock_skew),
        cmocka_unit_test(test_authorized_user),
        cmocka_unit_test(test_access_token),
        cmocka_unit_test(test_adc_order),
        cmocka_unit_test(test_metadata_flavor),
        cmocka_unit_test(test_token_refresh),
        cmocka_unit_test(test_concurrent_single_refresh),
        cmocka_unit_test(test_validate_reads_nothing),
    };
    return cmocka_run_group_tests_name(gt_tls ? "gcp_auth_https" : "gcp_auth_http", tests, gt_setup,
                                       gt_teardown);
}
