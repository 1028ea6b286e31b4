/*
 * The aws provider loaded as a real .so through the real loader, talking HTTP and HTTPS to the
 * signature-verifying AWS mock: every credential type and chain step, versions and stages, kv
 * keys, binary secrets, every error mapping, batch with mixed found/not-found, throttling with
 * retries through the resolver, temporary-credential refresh, validate, both tag forms, and a
 * canary check over every message and TRACE log line.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#include "aws_test_util.h"
#include "ctx.h"
#include "host.h"
#include "ref.h"
#include "secret.h"

static mock_aws *g_m;
static char g_home[256];
static int g_tls;

static int setup(void **state, int tls)
{
    (void)state;
    char err[256];
    g_tls = tls;
    if (tls && !mc_tls_supported())
        return -1;
    g_m = mock_aws_start(tls, err, sizeof(err));
    if (g_m == NULL) {
        fprintf(stderr, "%s\n", err);
        return -1;
    }
    if (mock_aws_seed_json(g_m, aws_test_seed, err, sizeof(err)) != 0) {
        fprintf(stderr, "seed: %s\n", err);
        return -1;
    }
    return aws_test_home(g_home, sizeof(g_home));
}

static int setup_http(void **state)
{
    return setup(state, 0);
}

static int setup_https(void **state)
{
    return setup(state, 1);
}

static int teardown(void **state)
{
    (void)state;
    char which[128];
    int leaked = aws_test_leaked(which, sizeof(which));
    mock_aws_stop(g_m);
    g_m = NULL;
    aws_test_rm_home(g_home);
    if (leaked)
        fprintf(stderr, "CANARY LEAKED into a message or log line: %s\n", which);
    return leaked ? -1 : 0;
}

/* Fresh environment and context for one test. */
static vp_ctx *begin(void)
{
    aws_test_env(g_m, g_home);
    mock_aws_reset_counts(g_m);
    mock_aws_set_cred_ttl(g_m, 3600);
    return aws_test_ctx(g_m, NULL);
}

static void want_value(vp_ctx *ctx, const char *uri, const char *want)
{
    char *v = NULL, msg[600];
    size_t len = 0;
    int rc = aws_test_fetch(ctx, uri, &v, &len, msg, sizeof(msg));
    if (rc != 0)
        fprintf(stderr, "%s: %s (%s)\n", uri, msg, vp_err_name(rc));
    assert_int_equal(rc, 0);
    assert_int_equal(len, strlen(want));
    assert_memory_equal(v, want, len);
    free(v);
}

static void want_error(vp_ctx *ctx, const char *uri, int status, const char *in_msg)
{
    char msg[600];
    int rc = aws_test_fetch(ctx, uri, NULL, NULL, msg, sizeof(msg));
    if (rc != status)
        fprintf(stderr, "%s: got %s (%s), want %s\n", uri, vp_err_name(rc), msg,
                vp_err_name(status));
    assert_int_equal(rc, status);
    if (in_msg != NULL && strstr(msg, in_msg) == NULL)
        fprintf(stderr, "%s: message '%s' lacks '%s'\n", uri, msg, in_msg);
    if (in_msg != NULL)
        assert_non_null(strstr(msg, in_msg));
}

static void temp_cred(vp_ctx *ctx)
{
    aws_test_cred(ctx, "tmp", "temporary", "access_key_id", KEY_TEMP, "secret_access_key",
                  CANARY_TEMP_SK, "session_token", CANARY_TEMP_TOKEN, NULL);
}

/* ---- values ------------------------------------------------------------------------------ */

static void test_temporary_values(void **state)
{
    (void)state;
    vp_ctx *ctx = begin();
    temp_cred(ctx);
    want_value(ctx, "aws://tmp@api/key", CANARY_PLAIN);
    want_value(ctx, "aws://tmp@db/main#password", CANARY_PASSWORD);
    want_value(ctx, "aws://tmp@db/main#port", "5432");
    char ver[200];
    assert_int_equal(aws_test_fetch(ctx, "aws://tmp@api/key", NULL, NULL, ver, sizeof(ver)), 0);
    assert_string_equal(ver, "a1b2c3d4-1111-4000-8000-000000000001");
    /* Every request carried a session token, was signed and accepted. */
    assert_int_equal(mock_aws_count(g_m, "GetSecretValue"), 4);
    assert_int_equal(mock_aws_count(g_m, "sig-rejected"), 0);
    vp_ctx_free(ctx);
}

static void test_versions_and_stages(void **state)
{
    (void)state;
    vp_ctx *ctx = begin();
    temp_cred(ctx);
    want_value(ctx, "aws://tmp@versioned", "new-value");
    want_value(ctx, "aws://tmp@versioned?version_stage=AWSPREVIOUS", "old-value");
    want_value(ctx, "aws://tmp@versioned?version_stage=AWSCURRENT", "new-value");
    want_value(ctx, "aws://tmp@versioned?version_id=33333333-3333-4333-8333-333333333333",
               "pending-value");
    want_error(ctx, "aws://tmp@versioned?version_stage=NOPE", VP_ENOTFOUND, "versioned");
    want_error(ctx, "aws://tmp@versioned?version_id=short", VP_EINVAL, "32-64");
    want_error(ctx, "aws://tmp@versioned?colour=blue", VP_EINVAL, "colour");
    assert_int_equal(mock_aws_count(g_m, "sig-rejected"), 0);
    vp_ctx_free(ctx);
}

static void test_binary_and_arn(void **state)
{
    (void)state;
    vp_ctx *ctx = begin();
    temp_cred(ctx);
    char *v = NULL;
    size_t len = 0;
    assert_int_equal(aws_test_fetch(ctx, "aws://tmp@bin/blob", &v, &len, NULL, 0), 0);
    static const unsigned char want[] = {0, 1, 2, 3, 4, 0xff};
    assert_int_equal(len, sizeof(want));
    assert_memory_equal(v, want, sizeof(want));
    free(v);
    /* Cross-account: only by ARN (':' and '/' in the path). */
    want_value(ctx, "aws://tmp@arn:aws:secretsmanager:us-east-1:999999999999:secret:shared-XyZ123",
               "cross-account-value");
    want_error(ctx, "aws://tmp@shared", VP_ENOTFOUND, "'shared'");
    /* An ARN of another region is signed for that region; the mock's endpoint refuses it. */
    want_error(ctx, "aws://tmp@arn:aws:secretsmanager:eu-west-1:123456789012:secret:x-AbCdEf",
               VP_EAUTH, "eu-west-1");
    vp_ctx_free(ctx);
}

static void test_three_argument_form(void **state)
{
    (void)state;
    vp_ctx *ctx = begin();
    temp_cred(ctx);
    static const struct {
        const char *tmpl, *want;
    } cases[] = {
        {"{% vault 'aws', 'tmp', '{\"SecretId\":\"db/main\",\"SecretType\":\"kv\","
         "\"SecretKey\":\"password\"}' %}",
         CANARY_PASSWORD},
        {"{% vault 'aws', 'tmp', '{\"SecretId\":\"api/key\",\"SecretType\":\"plaintext\"}' %}",
         CANARY_PLAIN},
        {"{% vault 'aws', 'tmp', '{\"SecretId\":\"versioned\",\"VersionStage\":\"AWSPREVIOUS\"}' "
         "%}",
         "old-value"},
        {"{% vault 'aws', 'tmp', '{\"SecretId\":\"db/main\",\"SecretType\":\"kv\",\"SecretKey\":"
         "\"port\"}' %}",
         "5432"},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        vp_buf out = VP_BUF_INIT;
        vp_error err;
        int rc =
            vp_render(ctx, cases[i].tmpl, strlen(cases[i].tmpl), NULL, VP_RENDER_SEND, &out, &err);
        if (rc != 0)
            fprintf(stderr, "case %zu: %s\n", i, err.message);
        assert_int_equal(rc, 0);
        assert_string_equal(out.data, cases[i].want);
        vp_buf_free(&out);
    }
    /* kv with an empty key: the whole SecretString. */
    const char *t = "{% vault 'aws', 'tmp', '{\"SecretId\":\"db/main\",\"SecretType\":\"kv\","
                    "\"SecretKey\":\"\"}' %}";
    vp_buf out = VP_BUF_INIT;
    vp_error err;
    assert_int_equal(vp_render(ctx, t, strlen(t), NULL, VP_RENDER_SEND, &out, &err), 0);
    assert_non_null(strstr(out.data, "\"username\":\"admin\""));
    vp_buf_free(&out);
    /* kv with a key the secret lacks. */
    t = "{% vault 'aws', 'tmp', '{\"SecretId\":\"db/main\",\"SecretType\":\"kv\","
        "\"SecretKey\":\"nope\"}' %}";
    assert_int_equal(vp_render(ctx, t, strlen(t), NULL, VP_RENDER_SEND, &out, &err), VP_ENOTFOUND);
    aws_test_record(err.message);
    assert_non_null(strstr(err.message, "nope"));
    vp_buf_free(&out);
    /* Default chain (empty credential) from the environment. */
    setenv("AWS_ACCESS_KEY_ID", KEY_STATIC, 1);
    setenv("AWS_SECRET_ACCESS_KEY", CANARY_STATIC_SK, 1);
    t = "{% vault 'aws', '', '{\"SecretId\":\"api/key\"}' %}";
    assert_int_equal(vp_render(ctx, t, strlen(t), NULL, VP_RENDER_SEND, &out, &err), 0);
    assert_string_equal(out.data, CANARY_PLAIN);
    vp_buf_free(&out);
    vp_ctx_free(ctx);
}

/* ---- errors --------------------------------------------------------------------------------- */

static void test_error_mapping(void **state)
{
    (void)state;
    vp_ctx *ctx = begin();
    aws_test_cred(ctx, "static", "temporary", "access_key_id", KEY_STATIC, "secret_access_key",
                  CANARY_STATIC_SK, NULL);
    want_error(ctx, "aws://static@db/missing", VP_ENOTFOUND, "db/missing");
    want_error(ctx, "aws://static@denied/secret", VP_EPERM, "AccessDeniedException");
    want_error(ctx, "aws://static@kms/broken", VP_EPERM, "DecryptionFailure");
    want_error(ctx, "aws://static@deleted/one", VP_EINVAL, "InvalidRequestException");
    want_error(ctx, "aws://static@err/invalid", VP_EINVAL, "InvalidParameterException");
    want_error(ctx, "aws://static@err/internal", VP_EUNAVAIL, "InternalServiceError");
    want_error(ctx, "aws://static@err/html", VP_EUNAVAIL, "err/html");
    assert_int_equal(mock_aws_count(g_m, "sig-rejected"), 0);

    /* Credentials the service refuses. */
    aws_test_cred(ctx, "expired", "temporary", "access_key_id", KEY_EXPIRED, "secret_access_key",
                  CANARY_EXP_SK, "session_token", CANARY_EXP_TOKEN, NULL);
    want_error(ctx, "aws://expired@api/key", VP_EAUTH, "ExpiredTokenException");
    aws_test_cred(ctx, "wrongkey", "temporary", "access_key_id", KEY_STATIC, "secret_access_key",
                  "wrong-secret-canary-000", NULL);
    want_error(ctx, "aws://wrongkey@api/key", VP_EAUTH, "InvalidSignatureException");
    /* AWS appends the canonical request it expected (with the token header): never shown. */
    char m2[600];
    assert_int_equal(aws_test_fetch(ctx, "aws://wrongkey@api/key", NULL, NULL, m2, sizeof(m2)),
                     VP_EAUTH);
    assert_non_null(strstr(m2, "does not match the signature"));
    assert_null(strstr(m2, "Canonical"));
    aws_test_cred(ctx, "unknown", "temporary", "access_key_id", "AKIAUNKNOWN000000000",
                  "secret_access_key", "unknown-secret-canary-000", NULL);
    want_error(ctx, "aws://unknown@api/key", VP_EAUTH, "UnrecognizedClientException");
    aws_test_cred(ctx, "notoken", "temporary", "access_key_id", KEY_TEMP, "secret_access_key",
                  CANARY_TEMP_SK, NULL);
    want_error(ctx, "aws://notoken@api/key", VP_EAUTH, "UnrecognizedClientException");
    assert_int_equal(mock_aws_count(g_m, "sig-rejected"), 5);
    vp_ctx_free(ctx);
}

static _Atomic int64_t g_skew_ms;
static int64_t skewed_clock(void *ud)
{
    (void)ud;
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000 + g_skew_ms;
}

static void test_stale_signature(void **state)
{
    (void)state;
    aws_test_env(g_m, g_home);
    mock_aws_reset_counts(g_m);
    g_skew_ms = -10 * 60 * 1000;
    vp_ctx *ctx = aws_test_ctx(g_m, skewed_clock);
    temp_cred(ctx);
    want_error(ctx, "aws://tmp@api/key", VP_EAUTH, "Signature expired");
    assert_int_equal(mock_aws_count(g_m, "sig-rejected"), 1);
    g_skew_ms = 0; /* the same instance signs with the right time again */
    want_value(ctx, "aws://tmp@api/key", CANARY_PLAIN);
    vp_ctx_free(ctx);
}

static void test_invalid_inputs(void **state)
{
    (void)state;
    vp_ctx *ctx = begin();
    temp_cred(ctx);
    unsetenv("AWS_REGION");
    want_error(ctx, "aws://tmp@api/key", VP_EINVAL, "region");
    want_value(ctx, "aws://tmp@api/key?region=us-east-1", CANARY_PLAIN);
    /* Unknown credential fields and types are refused by name. */
    aws_test_cred(ctx, "typo", "temporary", "access_key_id", KEY_TEMP, "secret_acces_key", "x",
                  "secret_access_key", CANARY_TEMP_SK, NULL);
    want_error(ctx, "aws://typo@api/key", VP_EINVAL, "secret_acces_key");
    vp_ctx_free(ctx);
}

/* ---- resolver: throttling with retries, batch ------------------------------------------------ */

static void test_throttle_retry(void **state)
{
    (void)state;
    vp_ctx *ctx = begin();
    temp_cred(ctx);
    char err[200];
    assert_int_equal(mock_aws_seed_json(g_m,
                                        "{\"secrets\":[{\"name\":\"throttled\",\"string\":"
                                        "\"after-throttle\",\"throttle\":2}]}",
                                        err, sizeof(err)),
                     0);
    /* Without retries the provider reports the throttling as VP_ERATELIMIT... */
    want_error(ctx, "aws://tmp@throttled", VP_ERATELIMIT, "ThrottlingException");
    /* ...and the resolver retries it (re-signed each time) until it passes. */
    assert_int_equal(mock_aws_seed_json(g_m,
                                        "{\"secrets\":[{\"name\":\"throttled2\",\"string\":"
                                        "\"after-throttle\",\"throttle\":2}]}",
                                        err, sizeof(err)),
                     0);
    mock_aws_reset_counts(g_m);
    vp_buf out = VP_BUF_INIT;
    vp_error e;
    int rc = vp_resolve(ctx, "aws://tmp@throttled2", 20000, &out, &e);
    if (rc != 0)
        fprintf(stderr, "resolve: %s\n", e.message);
    assert_int_equal(rc, 0);
    assert_string_equal(out.data, "after-throttle");
    vp_buf_free(&out);
    assert_int_equal(mock_aws_count(g_m, "GetSecretValue"), 3);
    vp_cache_stats st;
    assert_int_equal(vp_cache_stats_get(ctx, "aws", &st), 0);
    assert_int_equal(st.throttles, 2);
    assert_int_equal(st.retries, 2);
    vp_ctx_free(ctx);
}

/* fetch_batch through the core's batch path: mixed found / not found / denied / kv / version. */
static void test_batch_mixed(void **state)
{
    (void)state;
    vp_ctx *ctx = begin();
    aws_test_cred(ctx, "static", "temporary", "access_key_id", KEY_STATIC, "secret_access_key",
                  CANARY_STATIC_SK, NULL);
    char err[200];
    /* 2 per page: NextToken pagination is followed. */
    assert_int_equal(mock_aws_seed_json(g_m, "{\"batch_page_size\":2}", err, sizeof(err)), 0);
    static const char *const uris[] = {
        "aws://static@api/key",
        "aws://static@db/missing",
        "aws://static@db/main",
        "aws://static@denied/secret",
        "aws://static@versioned?version_stage=AWSPREVIOUS",
        "aws://static@kms/broken",
        "aws://static@bin/blob",
    };
    enum { N = sizeof(uris) / sizeof(uris[0]) };
    static const int want_rc[N] = {0, VP_ENOTFOUND, 0, VP_EPERM, 0, VP_EPERM, 0};
    vp__ref refs[N];
    vp_ref views[N];
    const vp_ref *vps[N];
    vp_secret_out so[N];
    vp_secret_out *outs[N];
    const vp__provider *p = vp__ctx_find_provider(ctx, "aws");
    assert_non_null(p);
    for (size_t i = 0; i < N; i++) {
        vp_error e;
        assert_int_equal(vp__ref_parse(uris[i], strlen(uris[i]), &refs[i], &e), 0);
        vp__ref_view(&refs[i], &views[i]);
        vps[i] = &views[i];
        vp__secret_out_init(&so[i], NULL);
        outs[i] = &so[i];
    }
    uint32_t ra = 0;
    vp_error e;
    int rc = vp__fetch_raw_batch(ctx, p, "static", N, vps, -1, outs, &ra, &e);
    if (rc != 0)
        fprintf(stderr, "batch: %s\n", e.message);
    assert_int_equal(rc, 0);
    for (size_t i = 0; i < N; i++) {
        if (so[i].failed)
            aws_test_record(so[i].message);
        if (so[i].status != want_rc[i])
            fprintf(stderr, "%s: %d (%s)\n", uris[i], so[i].status, so[i].message);
        assert_int_equal(so[i].status, want_rc[i]);
        if (want_rc[i] != 0)
            assert_non_null(strstr(so[i].message, refs[i].path));
    }
    assert_string_equal(so[0].value, CANARY_PLAIN);
    assert_non_null(strstr(so[2].value, CANARY_PASSWORD));
    assert_string_equal(so[4].value, "old-value");
    assert_int_equal(so[6].len, 6);
    /* 6 AWSCURRENT ids in 3 pages of 2; the AWSPREVIOUS one by GetSecretValue. */
    assert_int_equal(mock_aws_count(g_m, "BatchGetSecretValue"), 3);
    assert_int_equal(mock_aws_count(g_m, "GetSecretValue"), 1);
    assert_int_equal(mock_aws_count(g_m, "sig-rejected"), 0);

    /* An identity without batch permission falls back to one GetSecretValue per id. */
    aws_test_cred(ctx, "nobatch", "temporary", "access_key_id", KEY_NOBATCH, "secret_access_key",
                  CANARY_NB_SK, NULL);
    for (size_t i = 0; i < N; i++)
        vp__secret_out_clear(&so[i]);
    mock_aws_reset_counts(g_m);
    assert_int_equal(vp__fetch_raw_batch(ctx, p, "nobatch", 3, vps, -1, outs, &ra, &e), 0);
    assert_int_equal(so[0].status, 0);
    assert_int_equal(so[1].status, VP_ENOTFOUND);
    assert_int_equal(so[2].status, 0);
    assert_int_equal(mock_aws_count(g_m, "BatchGetSecretValue"), 1);
    assert_int_equal(mock_aws_count(g_m, "GetSecretValue"), 3);
    for (size_t i = 0; i < N; i++) {
        if (so[i].failed)
            aws_test_record(so[i].message);
        vp__secret_out_clear(&so[i]);
        vp__ref_free(&refs[i]);
    }
    assert_int_equal(mock_aws_seed_json(g_m, "{\"batch_page_size\":20}", err, sizeof(err)), 0);
    vp_ctx_free(ctx);
}

/* A template with several references: the resolver groups them into one BatchGetSecretValue. */
static void test_render_batches(void **state)
{
    (void)state;
    vp_ctx *ctx = begin();
    temp_cred(ctx);
    const char *t = "{% vault 'aws://tmp@api/key' %}|{% vault 'aws://tmp@db/main#password' %}|"
                    "{% vault 'aws://tmp@db/main#username' %}|{% vault 'aws://tmp@versioned' %}";
    vp_buf out = VP_BUF_INIT;
    vp_error e;
    int rc = vp_render(ctx, t, strlen(t), NULL, VP_RENDER_SEND, &out, &e);
    if (rc != 0)
        fprintf(stderr, "render: %s\n", e.message);
    assert_int_equal(rc, 0);
    assert_string_equal(out.data, CANARY_PLAIN "|" CANARY_PASSWORD "|admin|new-value");
    vp_buf_free(&out);
    assert_int_equal(mock_aws_count(g_m, "BatchGetSecretValue"), 1);
    assert_int_equal(mock_aws_count(g_m, "GetSecretValue"), 0);
    vp_ctx_free(ctx);
}

/* ---- credential types and the chain -----------------------------------------------------------
 */

static void file_paths(char *crd, char *cfg, char *cache, size_t cap)
{
    snprintf(crd, cap, "%s/.aws/credentials", g_home);
    snprintf(cfg, cap, "%s/.aws/config", g_home);
    snprintf(cache, cap, "%s/.aws/sso/cache", g_home);
}

static void test_file_profiles(void **state)
{
    (void)state;
    vp_ctx *ctx = begin();
    char crd[400], cfg[400], cache[400];
    file_paths(crd, cfg, cache, sizeof(crd));
    aws_test_cred(ctx, "dev", "file", "section", "dev", "credentials_file", crd, "config_file", cfg,
                  NULL);
    want_value(ctx, "aws://dev@api/key", CANARY_PLAIN);
    /* role_arn + source_profile: AssumeRole once, then the cached role credentials. */
    aws_test_cred(ctx, "reader", "file", "section", "reader", "credentials_file", crd,
                  "config_file", cfg, NULL);
    want_value(ctx, "aws://reader@api/key", CANARY_PLAIN);
    want_value(ctx, "aws://reader@db/main#password", CANARY_PASSWORD);
    assert_int_equal(mock_aws_count(g_m, "AssumeRole"), 1);
    aws_test_cred(ctx, "badrole", "file", "section", "badrole", "credentials_file", crd,
                  "config_file", cfg, NULL);
    want_error(ctx, "aws://badrole@api/key", VP_EPERM, "role/nope");
    aws_test_cred(ctx, "loop", "file", "section", "loop", "credentials_file", crd, "config_file",
                  cfg, NULL);
    want_error(ctx, "aws://loop@api/key", VP_EINVAL, "loop");
    aws_test_cred(ctx, "nosuch", "file", "section", "nosuch", "credentials_file", crd,
                  "config_file", cfg, NULL);
    want_error(ctx, "aws://nosuch@api/key", VP_EINVAL,
               "the config profile (nosuch) could not be found");
    aws_test_cred(ctx, "nofile", "file", "section", "dev", "credentials_file", "/nonexistent/creds",
                  NULL);
    want_error(ctx, "aws://nofile@api/key", VP_EINVAL, "/nonexistent/creds");
    aws_test_cred(ctx, "exp", "file", "section", "expired", "credentials_file", crd, NULL);
    want_error(ctx, "aws://exp@api/key", VP_EAUTH, "ExpiredTokenException");
    assert_int_equal(mock_aws_count(g_m, "sig-rejected"), 1);
    vp_ctx_free(ctx);
}

static void test_sso(void **state)
{
    (void)state;
    vp_ctx *ctx = begin();
    char crd[400], cfg[400], cache[400];
    file_paths(crd, cfg, cache, sizeof(crd));
    aws_test_cred(ctx, "sso", "sso", "section", "my-sso", "config_file", cfg, "sso_cache_dir",
                  cache, NULL);
    want_value(ctx, "aws://sso@api/key", CANARY_PLAIN);
    want_value(ctx, "aws://sso@db/main#username", "admin");
    assert_int_equal(mock_aws_count(g_m, "GetRoleCredentials"), 1);
    aws_test_cred(ctx, "legacy", "sso", "section", "legacy-sso", "config_file", cfg,
                  "sso_cache_dir", cache, NULL);
    want_value(ctx, "aws://legacy@api/key", CANARY_PLAIN);
    aws_test_cred(ctx, "badname", "sso", "section", "bad-sso", "config_file", cfg, "sso_cache_dir",
                  cache, NULL);
    want_error(ctx, "aws://badname@api/key", VP_EINVAL, "letters, digits");
    aws_test_cred(ctx, "old", "sso", "section", "old-sso", "config_file", cfg, "sso_cache_dir",
                  cache, NULL);
    want_error(ctx, "aws://old@api/key", VP_EAUTH, "aws sso login");
    aws_test_cred(ctx, "norole", "sso", "section", "other-role", "config_file", cfg,
                  "sso_cache_dir", cache, NULL);
    want_error(ctx, "aws://norole@api/key", VP_EPERM, "Admin");
    /* The file type follows SSO profiles too, with the cache directory from HOME. */
    aws_test_cred(ctx, "viafile", "file", "section", "my-sso", "config_file", cfg, NULL);
    want_value(ctx, "aws://viafile@api/key", CANARY_PLAIN);
    vp_ctx_free(ctx);
}

static void test_chain_env_and_profile(void **state)
{
    (void)state;
    vp_ctx *ctx = begin();
    setenv("AWS_ACCESS_KEY_ID", KEY_TEMP, 1);
    setenv("AWS_SECRET_ACCESS_KEY", CANARY_TEMP_SK, 1);
    setenv("AWS_SESSION_TOKEN", CANARY_TEMP_TOKEN, 1);
    want_value(ctx, "aws://api/key", CANARY_PLAIN);
    vp_ctx_free(ctx);

    /* Inso's variables (the details are in test_aws_inso.c). */
    ctx = begin();
    setenv("INSOMNIA_AWS_TYPE", "temporary", 1);
    setenv("INSOMNIA_AWS_ACCESSKEYID", KEY_STATIC, 1);
    setenv("INSOMNIA_AWS_SECRETACCESSKEY", CANARY_STATIC_SK, 1);
    want_value(ctx, "aws://api/key", CANARY_PLAIN);
    vp_ctx_free(ctx);

    /* Shared files from HOME (~/.aws) with AWS_PROFILE, region from AWS_DEFAULT_REGION. */
    ctx = begin();
    unsetenv("AWS_SHARED_CREDENTIALS_FILE");
    unsetenv("AWS_CONFIG_FILE");
    unsetenv("AWS_REGION");
    setenv("AWS_DEFAULT_REGION", "us-east-1", 1);
    setenv("AWS_PROFILE", "reader", 1);
    want_value(ctx, "aws://api/key", CANARY_PLAIN);
    assert_int_equal(mock_aws_count(g_m, "AssumeRole"), 1);
    vp_ctx_free(ctx);

    /* Nothing anywhere. */
    ctx = begin();
    want_error(ctx, "aws://api/key", VP_EAUTH, "no credentials found");
    vp_ctx_free(ctx);
}

static void test_chain_container_and_refresh(void **state)
{
    (void)state;
    vp_ctx *ctx = begin();
    char url[300];
    snprintf(url, sizeof(url), "%s/ecs/credentials", mock_aws_meta_url(g_m));
    setenv("AWS_CONTAINER_CREDENTIALS_FULL_URI", url, 1);
    setenv("AWS_CONTAINER_AUTHORIZATION_TOKEN", CANARY_ECS_TOKEN, 1);
    want_value(ctx, "aws://api/key", CANARY_PLAIN);
    want_value(ctx, "aws://versioned", "new-value");
    want_value(ctx, "aws://db/main#password", CANARY_PASSWORD);
    assert_int_equal(mock_aws_count(g_m, "ecs"), 1); /* cached for its lifetime */
    vp_ctx_free(ctx);

    /* Credentials that expire within the refresh margin are fetched again for every use. */
    ctx = begin();
    setenv("AWS_CONTAINER_CREDENTIALS_FULL_URI", url, 1);
    setenv("AWS_CONTAINER_AUTHORIZATION_TOKEN", CANARY_ECS_TOKEN, 1);
    mock_aws_set_cred_ttl(g_m, 120);
    want_value(ctx, "aws://api/key", CANARY_PLAIN);
    want_value(ctx, "aws://versioned", "new-value");
    want_value(ctx, "aws://db/main#password", CANARY_PASSWORD);
    assert_int_equal(mock_aws_count(g_m, "ecs"), 3);
    vp_ctx_free(ctx);

    /* A wrong token, and a host that is neither loopback nor https. */
    ctx = begin();
    setenv("AWS_CONTAINER_CREDENTIALS_FULL_URI", url, 1);
    setenv("AWS_CONTAINER_AUTHORIZATION_TOKEN", "wrong-ecs-token-canary", 1);
    want_error(ctx, "aws://api/key", VP_EAUTH, "container");
    setenv("AWS_CONTAINER_CREDENTIALS_FULL_URI", "http://example.com/creds", 1);
    want_error(ctx, "aws://api/key", VP_EINVAL, "loopback");
    vp_ctx_free(ctx);
}

static void test_chain_imds(void **state)
{
    (void)state;
    vp_ctx *ctx = begin();
    unsetenv("AWS_EC2_METADATA_DISABLED");
    setenv("AWS_EC2_METADATA_SERVICE_ENDPOINT", mock_aws_meta_url(g_m), 1);
    want_value(ctx, "aws://api/key", CANARY_PLAIN);
    want_value(ctx, "aws://versioned", "new-value");
    assert_int_equal(mock_aws_count(g_m, "imds-token"), 1);
    assert_int_equal(mock_aws_count(g_m, "imds-creds"), 1);
    assert_int_equal(mock_aws_count(g_m, "sig-rejected"), 0);
    vp_ctx_free(ctx);
}

static void test_validate(void **state)
{
    (void)state;
    vp_ctx *ctx = begin();
    temp_cred(ctx);
    aws_test_cred(ctx, "expired", "temporary", "access_key_id", KEY_EXPIRED, "secret_access_key",
                  CANARY_EXP_SK, "session_token", CANARY_EXP_TOKEN, NULL);
    vp_error e;
    int rc = vp_validate(ctx, "aws", "tmp", 10000, &e);
    if (rc != 0)
        fprintf(stderr, "validate: %s\n", e.message);
    assert_int_equal(rc, 0);
    assert_int_equal(mock_aws_count(g_m, "GetCallerIdentity"), 1);
    rc = vp_validate(ctx, "aws", "expired", 10000, &e);
    aws_test_record(e.message);
    assert_int_equal(rc, VP_EAUTH);
    assert_non_null(strstr(e.message, "ExpiredToken"));
    assert_int_equal(mock_aws_count(g_m, "GetSecretValue"), 0); /* reads no secret */
    vp_ctx_free(ctx);
}

static void test_endpoint_field(void **state)
{
    (void)state;
    vp_ctx *ctx = begin();
    char ep[300];
    snprintf(ep, sizeof(ep), "%s", mock_aws_url(g_m));
    unsetenv("AWS_ENDPOINT_URL");
    setenv("AWS_ENDPOINT_URL_SECRETS_MANAGER", "http://127.0.0.1:1", 1);
    aws_test_cred(ctx, "ep", "temporary", "access_key_id", KEY_TEMP, "secret_access_key",
                  CANARY_TEMP_SK, "session_token", CANARY_TEMP_TOKEN, "endpoint_url", ep, NULL);
    want_value(ctx, "aws://ep@api/key", CANARY_PLAIN); /* the field wins over the env */
    setenv("AWS_ENDPOINT_URL_SECRETS_MANAGER", ep, 1);
    temp_cred(ctx);
    want_value(ctx, "aws://tmp@api/key", CANARY_PLAIN);
    vp_ctx_free(ctx);

    /* The profile's services section (config file), without any endpoint variable. */
    ctx = begin();
    unsetenv("AWS_ENDPOINT_URL");
    char cfg[400], text[800];
    snprintf(cfg, sizeof(cfg), "%s/.aws/config-services", g_home);
    snprintf(text, sizeof(text),
             "[profile svc]\nregion = us-east-1\nservices = local-mock\n"
             "[services local-mock]\nsecrets_manager =\n  endpoint_url = %s\n",
             ep);
    aws_test_write_file(cfg, text);
    setenv("AWS_CONFIG_FILE", cfg, 1);
    setenv("AWS_PROFILE", "svc", 1);
    unsetenv("AWS_REGION");
    temp_cred(ctx);
    want_value(ctx, "aws://tmp@api/key", CANARY_PLAIN);
    vp_ctx_free(ctx);
}

/* Transport-level faults of the mock: each maps to its status and the next request works. */
static void test_transport_faults(void **state)
{
    (void)state;
    vp_ctx *ctx = begin();
    temp_cred(ctx);
    mc_server *srv = mock_aws_server(g_m);
    static const struct {
        mc_fault_kind kind;
        int status;
        size_t size;
        int want;
        const char *in_msg;
    } faults[] = {
        {MC_FAULT_GARBAGE, 200, 0, VP_EPROTO, "not JSON"},
        {MC_FAULT_STATUS, 503, 0, VP_EUNAVAIL, "503"},
        {MC_FAULT_STATUS, 429, 0, VP_ERATELIMIT, "429"},
        {MC_FAULT_RESET, 0, 0, VP_ENETWORK, NULL},
        {MC_FAULT_OVERSIZE, 0, (size_t)3 * 1024 * 1024, VP_EPROTO, NULL},
    };
    for (size_t i = 0; i < sizeof(faults) / sizeof(faults[0]); i++) {
        mc_fault f;
        memset(&f, 0, sizeof(f));
        f.kind = faults[i].kind;
        f.status = faults[i].status;
        f.size = faults[i].size;
        f.count = 0; /* every request until cleared: libcurl may retry a reset connection */
        f.retry_after_s = faults[i].status == 503 ? 1 : 0;
        assert_int_equal(mc_fault_add(srv, &f), 0);
        want_error(ctx, "aws://tmp@api/key", faults[i].want, faults[i].in_msg);
        mc_fault_clear(srv);
    }
    mc_fault f;
    memset(&f, 0, sizeof(f));
    f.kind = MC_FAULT_TRUNCATE;
    f.count = 0;
    assert_int_equal(mc_fault_add(srv, &f), 0);
    char msg[600];
    int rc = aws_test_fetch(ctx, "aws://tmp@api/key", NULL, NULL, msg, sizeof(msg));
    assert_true(rc == VP_ENETWORK || rc == VP_EPROTO);
    mc_fault_clear(srv);
    want_value(ctx, "aws://tmp@api/key", CANARY_PLAIN);
    vp_ctx_free(ctx);
}

static void test_no_canary_anywhere(void **state)
{
    (void)state;
    char which[128];
    assert_true(aws_test_log_lines() > 0); /* the capture works: TRACE lines arrived */
    int leaked = aws_test_leaked(which, sizeof(which));
    if (leaked)
        fprintf(stderr, "leaked: %s\n", which);
    assert_false(leaked);
    /* The check itself can fail. */
    aws_test_record("oops " CANARY_TEMP_TOKEN);
    assert_true(aws_test_leaked(which, sizeof(which)));
}

#define ALL_TESTS                                                                              \
    cmocka_unit_test(test_temporary_values), cmocka_unit_test(test_versions_and_stages),       \
        cmocka_unit_test(test_binary_and_arn), cmocka_unit_test(test_three_argument_form),     \
        cmocka_unit_test(test_error_mapping), cmocka_unit_test(test_stale_signature),          \
        cmocka_unit_test(test_invalid_inputs), cmocka_unit_test(test_throttle_retry),          \
        cmocka_unit_test(test_batch_mixed), cmocka_unit_test(test_render_batches),             \
        cmocka_unit_test(test_file_profiles), cmocka_unit_test(test_sso),                      \
        cmocka_unit_test(test_chain_env_and_profile),                                          \
        cmocka_unit_test(test_chain_container_and_refresh), cmocka_unit_test(test_chain_imds), \
        cmocka_unit_test(test_validate), cmocka_unit_test(test_endpoint_field),                \
        cmocka_unit_test(test_transport_faults)

static int final_teardown(void **state)
{
    return teardown(state);
}

int main(void)
{
    const struct CMUnitTest http_tests[] = {ALL_TESTS};
    const struct CMUnitTest https_tests[] = {ALL_TESTS};
    const struct CMUnitTest canary[] = {cmocka_unit_test(test_no_canary_anywhere)};
    int fails = cmocka_run_group_tests_name("aws over http", http_tests, setup_http, teardown);
    fails += cmocka_run_group_tests_name("aws over https", https_tests, setup_https, teardown);
    /* Runs last: everything both groups logged and reported. */
    (void)final_teardown;
    fails += cmocka_run_group_tests_name("aws canary", canary, NULL, NULL);
    return fails;
}
