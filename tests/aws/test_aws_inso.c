/*
 * Inso's variables for the empty AWS credential: INSOMNIA_AWS_TYPE = temporary / file / sso and
 * the variables each type reads, against the signature-verifying mock over HTTP and HTTPS (the
 * real aws.so through the real loader). Each success case also sets a competing standard
 * variable that would fail, so passing proves which source was used. Error cases: a missing
 * required variable, an unknown TYPE, a bad region, Inso's variables without TYPE, and the names
 * that never existed in Inso. A canary check runs over every message and TRACE log line.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "aws_test_util.h"

static mock_aws *g_m;
static char g_home[256];

static int setup(int tls)
{
    char err[256];
    if (tls && !mc_tls_supported())
        return -1;
    g_m = mock_aws_start(tls, err, sizeof(err));
    if (g_m == NULL || mock_aws_seed_json(g_m, aws_test_seed, err, sizeof(err)) != 0) {
        fprintf(stderr, "mock: %s\n", err);
        return -1;
    }
    return aws_test_home(g_home, sizeof(g_home));
}

static int setup_http(void **state)
{
    (void)state;
    return setup(0);
}

static int setup_https(void **state)
{
    (void)state;
    return setup(1);
}

static int teardown(void **state)
{
    (void)state;
    mock_aws_stop(g_m);
    g_m = NULL;
    aws_test_rm_home(g_home);
    return 0;
}

/* Clean environment pointed at the mock, then Inso's TYPE; a new context (the empty credential
 * is configured once per context). */
static vp_ctx *begin(const char *type)
{
    aws_test_env(g_m, g_home);
    mock_aws_reset_counts(g_m);
    mock_aws_set_cred_ttl(g_m, 3600);
    if (type != NULL)
        setenv("INSOMNIA_AWS_TYPE", type, 1);
    return aws_test_ctx(g_m, NULL);
}

static void home_path(char *out, size_t cap, const char *rel)
{
    snprintf(out, cap, "%s/%s", g_home, rel);
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
    if (rc != status || strstr(msg, in_msg) == NULL)
        fprintf(stderr, "%s: got %s '%s', want %s with '%s'\n", uri, vp_err_name(rc), msg,
                vp_err_name(status), in_msg);
    assert_int_equal(rc, status);
    assert_non_null(strstr(msg, in_msg));
}

/* Standard-chain keys the mock does not know: if the chain were used, the fetch would fail. */
static void decoy_chain_keys(void)
{
    setenv("AWS_ACCESS_KEY_ID", "AKIAUNKNOWN000000000", 1);
    setenv("AWS_SECRET_ACCESS_KEY", CANARY_INSO_WRONG, 1);
}

static void test_temporary(void **state)
{
    (void)state;
    vp_ctx *ctx = begin("temporary");
    decoy_chain_keys();
    setenv("INSOMNIA_AWS_ACCESSKEYID", KEY_INSO, 1);
    setenv("INSOMNIA_AWS_SECRETACCESSKEY", CANARY_INSO_SK, 1);
    /* The mock's endpoint refuses requests signed for eu-west-1: INSOMNIA_AWS_REGION must win. */
    setenv("AWS_REGION", "eu-west-1", 1);
    setenv("INSOMNIA_AWS_REGION", "us-east-1", 1);
    want_value(ctx, "aws://api/key", CANARY_PLAIN);
    want_value(ctx, "aws://db/main#password", CANARY_PASSWORD);
    const char *t = "{% vault 'aws', '', '{\"SecretId\":\"api/key\"}' %}";
    vp_buf out = VP_BUF_INIT;
    vp_error err;
    assert_int_equal(vp_render(ctx, t, strlen(t), NULL, VP_RENDER_SEND, &out, &err), 0);
    assert_string_equal(out.data, CANARY_PLAIN);
    vp_buf_free(&out);
    assert_int_equal(mock_aws_count(g_m, "sig-rejected"), 0);
    vp_ctx_free(ctx);

    /* With a session token (temporary keys), region from the standard variable. */
    ctx = begin("temporary");
    setenv("INSOMNIA_AWS_ACCESSKEYID", KEY_TEMP, 1);
    setenv("INSOMNIA_AWS_SECRETACCESSKEY", CANARY_TEMP_SK, 1);
    setenv("INSOMNIA_AWS_SESSIONTOKEN", CANARY_TEMP_TOKEN, 1);
    want_value(ctx, "aws://versioned", "new-value");
    vp_ctx_free(ctx);

    /* The session token is really sent: the same keys without it are refused. */
    ctx = begin("temporary");
    setenv("INSOMNIA_AWS_ACCESSKEYID", KEY_TEMP, 1);
    setenv("INSOMNIA_AWS_SECRETACCESSKEY", CANARY_TEMP_SK, 1);
    want_error(ctx, "aws://api/key", VP_EAUTH, "UnrecognizedClientException");
    vp_ctx_free(ctx);

    /* A wrong secret: the service's refusal, never the secret, in the message. */
    ctx = begin("temporary");
    setenv("INSOMNIA_AWS_ACCESSKEYID", KEY_INSO, 1);
    setenv("INSOMNIA_AWS_SECRETACCESSKEY", CANARY_INSO_WRONG, 1);
    want_error(ctx, "aws://api/key", VP_EAUTH, "InvalidSignatureException");
    vp_ctx_free(ctx);
}

static void test_file(void **state)
{
    (void)state;
    char crd[400];
    home_path(crd, sizeof(crd), ".aws/credentials");
    /* INSOMNIA_AWS_FILEPATH beats AWS_SHARED_CREDENTIALS_FILE (/nonexistent), SECTION beats
     * AWS_PROFILE; ENABLECACHE is accepted. */
    vp_ctx *ctx = begin("file");
    decoy_chain_keys();
    setenv("AWS_PROFILE", "nosuch", 1);
    setenv("INSOMNIA_AWS_SECTION", "dev", 1);
    setenv("INSOMNIA_AWS_FILEPATH", crd, 1);
    setenv("INSOMNIA_AWS_ENABLECACHE", "true", 1);
    setenv("INSOMNIA_AWS_REGION", "us-east-1", 1);
    want_value(ctx, "aws://api/key", CANARY_PLAIN);
    want_value(ctx, "aws://db/main#username", "admin");
    vp_ctx_free(ctx);

    /* Without FILEPATH: the standard file (~/.aws/credentials of HOME); a role profile of the
     * config file is assumed through STS. */
    ctx = begin("file");
    unsetenv("AWS_SHARED_CREDENTIALS_FILE");
    unsetenv("AWS_CONFIG_FILE");
    setenv("INSOMNIA_AWS_SECTION", "reader", 1);
    want_value(ctx, "aws://api/key", CANARY_PLAIN);
    assert_int_equal(mock_aws_count(g_m, "AssumeRole"), 1);
    vp_ctx_free(ctx);

    /* A section that exists nowhere, and a file that does not exist, are named. */
    ctx = begin("file");
    setenv("INSOMNIA_AWS_SECTION", "nosuch-section", 1);
    setenv("INSOMNIA_AWS_FILEPATH", crd, 1);
    want_error(ctx, "aws://api/key", VP_EINVAL, "the config profile (nosuch-section)");
    vp_ctx_free(ctx);
    ctx = begin("file");
    setenv("INSOMNIA_AWS_SECTION", "dev", 1);
    setenv("INSOMNIA_AWS_FILEPATH", "/nonexistent/inso-credentials", 1);
    want_error(ctx, "aws://api/key", VP_EINVAL, "/nonexistent/inso-credentials");
    vp_ctx_free(ctx);
    assert_int_equal(mock_aws_count(g_m, "sig-rejected"), 0);
}

static void test_sso(void **state)
{
    (void)state;
    char cfg[400], crd[400];
    home_path(cfg, sizeof(cfg), ".aws/config");
    home_path(crd, sizeof(crd), ".aws/credentials");
    /* INSOMNIA_AWS_CONFIGFILEPATH beats AWS_CONFIG_FILE (/nonexistent); the token comes from
     * the SSO cache of HOME, the role credentials from the portal (GetRoleCredentials). */
    vp_ctx *ctx = begin("sso");
    decoy_chain_keys();
    setenv("AWS_PROFILE", "nosuch", 1);
    setenv("INSOMNIA_AWS_SECTION", "my-sso", 1);
    setenv("INSOMNIA_AWS_CONFIGFILEPATH", cfg, 1);
    setenv("INSOMNIA_AWS_FILEPATH", crd, 1);
    setenv("INSOMNIA_AWS_ENABLECACHE", "false", 1);
    setenv("INSOMNIA_AWS_REGION", "us-east-1", 1);
    want_value(ctx, "aws://api/key", CANARY_PLAIN);
    want_value(ctx, "aws://db/main#password", CANARY_PASSWORD);
    assert_int_equal(mock_aws_count(g_m, "GetRoleCredentials"), 1);
    vp_ctx_free(ctx);

    /* Without CONFIGFILEPATH the standard config file is used: here it does not exist. */
    ctx = begin("sso");
    setenv("INSOMNIA_AWS_SECTION", "my-sso", 1);
    want_error(ctx, "aws://api/key", VP_EINVAL, "the config profile (my-sso)");
    vp_ctx_free(ctx);

    /* An expired SSO session: the user is told to log in again. */
    ctx = begin("sso");
    setenv("INSOMNIA_AWS_SECTION", "old-sso", 1);
    setenv("INSOMNIA_AWS_CONFIGFILEPATH", cfg, 1);
    want_error(ctx, "aws://api/key", VP_EAUTH, "aws sso login");
    vp_ctx_free(ctx);
}

/* A configuration error: VP_EINVAL naming the variable, and no request was sent. */
static void want_config_error(vp_ctx *ctx, const char *var)
{
    want_error(ctx, "aws://api/key", VP_EINVAL, var);
    assert_int_equal(mock_aws_count(g_m, "GetSecretValue"), 0);
    assert_int_equal(mock_aws_count(g_m, "sig-rejected"), 0);
    vp_ctx_free(ctx);
}

static void test_errors(void **state)
{
    (void)state;
    vp_ctx *ctx = begin("temporary");
    setenv("INSOMNIA_AWS_SECRETACCESSKEY", CANARY_INSO_SK, 1);
    want_config_error(ctx, "INSOMNIA_AWS_ACCESSKEYID");

    ctx = begin("temporary");
    setenv("INSOMNIA_AWS_ACCESSKEYID", KEY_INSO, 1);
    setenv("INSOMNIA_AWS_SECRETACCESSKEY", "", 1); /* empty counts as unset */
    want_config_error(ctx, "INSOMNIA_AWS_SECRETACCESSKEY");

    ctx = begin("file");
    setenv("INSOMNIA_AWS_FILEPATH", "/tmp/x", 1);
    want_config_error(ctx, "INSOMNIA_AWS_SECTION");

    ctx = begin("sso");
    want_config_error(ctx, "INSOMNIA_AWS_SECTION");

    /* TYPE values are exact (as in Inso); the standard chain is not a silent fallback. */
    static const char *const bad_types[] = {"Temporary", "static", "profile", " file"};
    for (size_t i = 0; i < sizeof(bad_types) / sizeof(bad_types[0]); i++) {
        ctx = begin(bad_types[i]);
        setenv("AWS_ACCESS_KEY_ID", KEY_INSO, 1);
        setenv("AWS_SECRET_ACCESS_KEY", CANARY_INSO_SK, 1);
        want_config_error(ctx, "INSOMNIA_AWS_TYPE");
    }

    ctx = begin("temporary");
    setenv("INSOMNIA_AWS_ACCESSKEYID", KEY_INSO, 1);
    setenv("INSOMNIA_AWS_SECRETACCESSKEY", CANARY_INSO_SK, 1);
    setenv("INSOMNIA_AWS_REGION", "not a region", 1);
    want_config_error(ctx, "INSOMNIA_AWS_REGION");
}

static void test_without_type(void **state)
{
    (void)state;
    /* Inso's variables without INSOMNIA_AWS_TYPE mean nothing (as in Inso): the standard chain
     * runs, finds nothing, and a warning says why the variables were ignored. */
    vp_ctx *ctx = begin(NULL);
    setenv("INSOMNIA_AWS_ACCESSKEYID", KEY_INSO, 1);
    setenv("INSOMNIA_AWS_SECRETACCESSKEY", CANARY_INSO_SK, 1);
    static const char warning[] = "INSOMNIA_AWS_ACCESSKEYID is set but INSOMNIA_AWS_TYPE";
    size_t before = aws_test_log_count(warning);
    want_error(ctx, "aws://api/key", VP_EAUTH, "no credentials found");
    assert_int_equal(aws_test_log_count(warning), before + 1);
    vp_ctx_free(ctx);

    /* ...and the standard chain still works next to them. */
    ctx = begin(NULL);
    setenv("INSOMNIA_AWS_SECTION", "nosuch", 1);
    setenv("AWS_ACCESS_KEY_ID", KEY_INSO, 1);
    setenv("AWS_SECRET_ACCESS_KEY", CANARY_INSO_SK, 1);
    want_value(ctx, "aws://api/key", CANARY_PLAIN);
    vp_ctx_free(ctx);

    /* The names an earlier version guessed were never Inso's and are not read. */
    static const char *const never[][2] = {
        {"INSOMNIA_AWS_ACCESS_KEY_ID", KEY_INSO},
        {"INSOMNIA_AWS_SECRET_ACCESS_KEY", CANARY_INSO_SK},
        {"INSOMNIA_AWS_PROFILE", "dev"},
        {"INSOMNIA_AWS_CREDENTIALS_FILE", "/tmp/x"},
    };
    ctx = begin(NULL);
    for (size_t i = 0; i < sizeof(never) / sizeof(never[0]); i++)
        setenv(never[i][0], never[i][1], 1);
    want_error(ctx, "aws://api/key", VP_EAUTH, "no credentials found");
    vp_ctx_free(ctx);
    for (size_t i = 0; i < sizeof(never) / sizeof(never[0]); i++)
        unsetenv(never[i][0]);
}

static void test_no_canary_anywhere(void **state)
{
    (void)state;
    char which[128];
    assert_true(aws_test_log_lines() > 0);
    int leaked = aws_test_leaked(which, sizeof(which));
    if (leaked)
        fprintf(stderr, "leaked: %s\n", which);
    assert_false(leaked);
    /* The check itself can fail. */
    aws_test_record("oops " CANARY_INSO_SK);
    assert_true(aws_test_leaked(which, sizeof(which)));
}

#define INSO_TESTS                                                                             \
    cmocka_unit_test(test_temporary), cmocka_unit_test(test_file), cmocka_unit_test(test_sso), \
        cmocka_unit_test(test_errors), cmocka_unit_test(test_without_type)

int main(void)
{
    const struct CMUnitTest http_tests[] = {INSO_TESTS};
    const struct CMUnitTest https_tests[] = {INSO_TESTS};
    const struct CMUnitTest canary[] = {cmocka_unit_test(test_no_canary_anywhere)};
    int fails = cmocka_run_group_tests_name("aws inso over http", http_tests, setup_http, teardown);
    if (mc_tls_supported())
        fails +=
            cmocka_run_group_tests_name("aws inso over https", https_tests, setup_https, teardown);
    /* Last: everything both groups logged and reported. */
    fails += cmocka_run_group_tests_name("aws inso canary", canary, NULL, NULL);
    return fails;
}
