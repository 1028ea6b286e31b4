/*
 * test_hashicorp_list - vp_list through the real hashicorp.so against the Vault mock over HTTP
 * (and HTTPS): one level of a KV v2 mount (LIST metadata/) and a KV v1 mount, folders with a
 * trailing '/', full MOUNT/PATH names that fetch as they are, an empty folder, a policy that
 * refuses the list (VP_EPERM) vs a rejected token (VP_EAUTH), an HCP prefix naming no app,
 * no mount given (VP_EINVAL), and no secret value in any name, log line or message.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "hc_fixture.h"
#include "mock_vault.h"

static mock_vault *g_m;
static const char *g_ca;

#define TOK_GOOD    "hvs.list-good-canary-5d2e"
#define TOK_LIMITED "hvs.list-limited-canary-6f3a"
#define TOK_BOGUS   "hvs.list-bogus-canary-7a4b"

static const char SEED[] =
    "{\"mounts\":[{\"path\":\"secret\",\"version\":2},{\"path\":\"kv\",\"version\":1}],"
    "\"secrets\":["
    "{\"mount\":\"secret\",\"path\":\"orders/signing\",\"versions\":[{\"data\":{\"k\":"
    "\"list-value-canary-01\"}}]},"
    "{\"mount\":\"secret\",\"path\":\"orders/db\",\"versions\":[{\"data\":{\"k\":"
    "\"list-value-canary-02\"}}]},"
    "{\"mount\":\"secret\",\"path\":\"orders/eu/db\",\"versions\":[{\"data\":{\"k\":"
    "\"list-value-canary-03\"}}]},"
    "{\"mount\":\"secret\",\"path\":\"orders/eu/api\",\"versions\":[{\"data\":{\"k\":"
    "\"list-value-canary-04\"}}]},"
    "{\"mount\":\"secret\",\"path\":\"top\",\"versions\":[{\"data\":{\"k\":"
    "\"list-value-canary-05\"}}]},"
    "{\"mount\":\"kv\",\"path\":\"legacy/a\",\"data\":{\"k\":\"list-value-canary-06\"}},"
    "{\"mount\":\"kv\",\"path\":\"legacy/b/c\",\"data\":{\"k\":\"list-value-canary-07\"}}],"
    "\"tokens\":[{\"token\":\"" TOK_GOOD "\"},"
    "{\"token\":\"" TOK_LIMITED "\",\"paths\":[\"kv/\"]}]}";

static int setup_group(int tls)
{
    char err[256];
    hcf_clean_env();
    g_m = mock_vault_start(tls, err, sizeof(err));
    if (g_m == NULL || mock_vault_seed_json(g_m, SEED, err, sizeof(err)) != 0) {
        fprintf(stderr, "%s\n", err);
        return -1;
    }
    g_ca = tls ? mc_ca_file(mock_vault_server(g_m)) : NULL;
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
    mock_vault_stop(g_m);
    g_m = NULL;
    return 0;
}

static vp_ctx *ctx_tokens(void)
{
    const char *addr = mc_url(mock_vault_server(g_m));
    vp_ctx *ctx = hcf_ctx(g_ca);
    hcf_cred(ctx, "good", "token", "token", TOK_GOOD, "address", addr, NULL);
    hcf_cred(ctx, "limited", "token", "token", TOK_LIMITED, "address", addr, NULL);
    hcf_cred(ctx, "bogus", "token", "token", TOK_BOGUS, "address", addr, NULL);
    hcf_cred(ctx, "cloud", "cloud", "client_id", "cid", "client_secret", "list-hcp-canary-8b5c",
             "organization_id", "o", "project_id", "p", NULL);
    return ctx;
}

/* vp_list must give exactly `want` (NULL-terminated, sorted). */
static void want_names(vp_ctx *ctx, const char *uri, const char *const *want)
{
    char **names = NULL;
    size_t n = 0;
    vp_error err;
    int rc = vp_list(ctx, uri, 10000, &names, &n, &err);
    if (rc != 0)
        fprintf(stderr, "%s: %s\n", uri, err.message);
    assert_int_equal(rc, 0);
    size_t k = 0;
    for (; want[k]; k++) {
        assert_true(k < n);
        assert_string_equal(names[k], want[k]);
    }
    assert_int_equal(n, k);
    vp_list_free(names, n);
}

static void want_list_err(vp_ctx *ctx, const char *uri, int status, const char *in_msg)
{
    char **names = NULL;
    size_t n = 0;
    vp_error err;
    int rc = vp_list(ctx, uri, 10000, &names, &n, &err);
    if (rc != status || strstr(err.message, in_msg) == NULL)
        fprintf(stderr, "%s: got %d '%s'\n", uri, rc, err.message);
    assert_int_equal(rc, status);
    assert_non_null(strstr(err.message, in_msg));
    assert_null(names);
    assert_int_equal(n, 0);
}

static void t_kv2_one_level(void **state)
{
    (void)state;
    vp_ctx *ctx = ctx_tokens();
    uint64_t l0 = mock_vault_count(g_m, MV_COUNT_LIST);
    const char *const orders[] = {"secret/orders/db", "secret/orders/eu/", "secret/orders/signing",
                                  NULL};
    want_names(ctx, "hashicorp://good@secret/orders/", orders);
    /* without the trailing slash: the same folder, like `vault kv list secret/orders` */
    want_names(ctx, "hashicorp://good@secret/orders", orders);
    const char *const eu[] = {"secret/orders/eu/api", "secret/orders/eu/db", NULL};
    want_names(ctx, "hashicorp://good@secret/orders/eu/", eu);
    const char *const root[] = {"secret/orders/", "secret/top", NULL};
    want_names(ctx, "hashicorp://good@secret/", root);
    assert_int_equal(mock_vault_count(g_m, MV_COUNT_LIST) - l0, 4);
    /* every name that is not a folder fetches as it is */
    char *v = hcf_get(ctx, "hashicorp://good@secret/orders/eu/api#k", NULL, 0);
    assert_string_equal(v, "list-value-canary-04");
    free(v);
    vp_ctx_free(ctx);
}

static void t_kv1(void **state)
{
    (void)state;
    vp_ctx *ctx = ctx_tokens();
    const char *const legacy[] = {"kv/legacy/a", "kv/legacy/b/", NULL};
    want_names(ctx, "hashicorp://good@kv/legacy/", legacy);
    /* a policy limited to kv/ may list it */
    want_names(ctx, "hashicorp://limited@kv/legacy", legacy);
    vp_ctx_free(ctx);
}

static void t_empty_and_errors(void **state)
{
    (void)state;
    vp_ctx *ctx = ctx_tokens();
    const char *const none[] = {NULL};
    want_names(ctx, "hashicorp://good@secret/nothing/here/", none);
    want_list_err(ctx, "hashicorp://limited@secret/orders/", VP_EPERM, "permission denied");
    want_list_err(ctx, "hashicorp://bogus@secret/orders/", VP_EAUTH, "rejected the token");
    want_list_err(ctx, "hashicorp://good@", VP_EINVAL, "give the KV mount");
    /* An HCP credential lists an app of HCP Vault Secrets (hc_mock_run's testkit run covers
     * it against the HCP mock); a prefix that names no app is refused before any request. */
    want_list_err(ctx, "hashicorp://cloud@a/b/c", VP_EINVAL, "list an app of HCP Vault Secrets");
    want_list_err(ctx, "hashicorp://nosuch@secret/", VP_ENOTFOUND, "no credential named nosuch");
    vp_ctx_free(ctx);
}

static void t_canary(void **state)
{
    (void)state;
    const char *c[] = {TOK_GOOD,
                       TOK_LIMITED,
                       TOK_BOGUS,
                       "list-hcp-canary-8b5c",
                       "list-value-canary-01",
                       "list-value-canary-03",
                       NULL};
    for (size_t i = 0; c[i]; i++)
        hcf_assert_no_leak(c[i]);
}

#define TESTS                                                   \
    cmocka_unit_test(t_kv2_one_level), cmocka_unit_test(t_kv1), \
        cmocka_unit_test(t_empty_and_errors), cmocka_unit_test(t_canary)

int main(void)
{
    const struct CMUnitTest tests[] = {TESTS};
    int rc = cmocka_run_group_tests_name("vault_list_http", tests, setup_http, teardown_group);
    if (mc_tls_supported())
        rc |= cmocka_run_group_tests_name("vault_list_https", tests, setup_https, teardown_group);
    return rc;
}
