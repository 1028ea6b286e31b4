/*
 * test_hashicorp_inso - Inso's variables for the empty hashicorp credential: INSOMNIA_HASHICORP_
 * TYPE = onPrem (AUTHMETHOD token or appRole, SERVERADDRESS) or cloud (CLIENT_ID/_SECRET), with
 * the real hashicorp.so against the Vault and HCP mocks over HTTP and HTTPS. Every success case
 * also sets a competing standard variable that would fail, so passing proves which source was
 * used. Errors: each missing required variable, unknown TYPE/AUTHMETHOD values, Inso's variables
 * without TYPE, and the names that never existed in Inso. A canary check closes each group.
 *
 * hc_fixture's hcf_clean_env() predates Inso's real names, so this file unsets them itself.
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
#include "mock_hcp.h"
#include "mock_vault.h"

static mock_vault *g_vault;
static mock_hcp *g_hcp;
static const char *g_vault_ca, *g_hcp_ca; /* NULL over HTTP */

#define TOK_INSO   "hvs.inso-token-canary-5e1a"
#define SID_INSO   "inso-secret-id-canary-6f2b"
#define SID_WRONG  "inso-wrong-sid-canary-7a3c"
#define CID_INSO   "sp-inso-client"
#define CSEC_INSO  "inso-client-secret-canary-8b4d"
#define CSEC_WRONG "inso-wrong-client-secret-canary-9c5e"
#define VAULT_VAL  "inso-vault-value-canary-0d6f"
#define HCP_VAL    "inso-hcp-value-canary-1e7a"

static const char *const CANARIES[] = {TOK_INSO,   SID_INSO,  SID_WRONG, CSEC_INSO,
                                       CSEC_WRONG, VAULT_VAL, HCP_VAL,   NULL};

static const char VAULT_SEED[] =
    "{\"secrets\":[{\"mount\":\"secret\",\"path\":\"inso\",\"versions\":[{\"data\":{\"pw\":"
    "\"" VAULT_VAL "\"}}]}],"
    "\"tokens\":[{\"token\":\"" TOK_INSO "\"}],"
    "\"approles\":[{\"role_id\":\"r-inso\",\"secret_id\":\"" SID_INSO "\",\"token_ttl\":600}]}";

static const char HCP_SEED[] =
    "{\"clients\":[{\"client_id\":\"" CID_INSO "\",\"client_secret\":\"" CSEC_INSO "\"}],"
    "\"secrets\":[{\"organization\":\"org1\",\"project\":\"proj1\",\"app\":\"web\","
    "\"name\":\"db\",\"type\":\"kv\",\"versions\":[\"" HCP_VAL "\"]}]}";

/* Every INSOMNIA_HASHICORP_* name this file sets (Inso's, and the invented ones it proves are
 * ignored). */
static const char *const INSO_VARS[] = {
    "INSOMNIA_HASHICORP_TYPE",
    "INSOMNIA_HASHICORP_AUTHMETHOD",
    "INSOMNIA_HASHICORP_SERVERADDRESS",
    "INSOMNIA_HASHICORP_ACCESS_TOKEN",
    "INSOMNIA_HASHICORP_ROLE_ID",
    "INSOMNIA_HASHICORP_SECRET_ID",
    "INSOMNIA_HASHICORP_CLIENT_ID",
    "INSOMNIA_HASHICORP_CLIENT_SECRET",
    "INSOMNIA_HASHICORP_TOKEN",
    "INSOMNIA_HASHICORP_ADDR",
    NULL,
};

static void inso_clear(void)
{
    for (size_t i = 0; INSO_VARS[i]; i++)
        unsetenv(INSO_VARS[i]);
}

static int setup_group(int tls)
{
    char err[256];
    hcf_clean_env();
    inso_clear();
    if (tls && !mc_tls_supported())
        return -1;
    g_vault = mock_vault_start(tls, err, sizeof(err));
    if (g_vault == NULL || mock_vault_seed_json(g_vault, VAULT_SEED, err, sizeof(err)) != 0) {
        fprintf(stderr, "vault mock: %s\n", err);
        return -1;
    }
    g_hcp = mock_hcp_start(tls, err, sizeof(err));
    if (g_hcp == NULL || mock_hcp_seed_json(g_hcp, HCP_SEED, err, sizeof(err)) != 0) {
        fprintf(stderr, "hcp mock: %s\n", err);
        return -1;
    }
    g_vault_ca = tls ? mc_ca_file(mock_vault_server(g_vault)) : NULL;
    g_hcp_ca = tls ? mc_ca_file(mock_hcp_server(g_hcp)) : NULL;
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
    inso_clear();
    hcf_clean_env();
    mock_vault_stop(g_vault);
    mock_hcp_stop(g_hcp);
    g_vault = NULL;
    g_hcp = NULL;
    return 0;
}

static const char *vault_url(void)
{
    return mc_url(mock_vault_server(g_vault));
}

/* A clean environment in which the standard chain would point at the wrong places: VAULT_ADDR
 * at a closed port, VAULT_TOKEN and HCP_CLIENT_* at credentials the mocks refuse. The mocks'
 * CAs: Vault's through VAULT_CACERT (still honoured with onPrem), HCP's as the context's. */
static vp_ctx *begin(const char *type)
{
    hcf_clean_env();
    inso_clear();
    setenv("VAULT_ADDR", "http://127.0.0.1:1", 1);
    setenv("VAULT_TOKEN", "hvs.decoy-not-seeded", 1);
    if (g_vault_ca != NULL)
        setenv("VAULT_CACERT", g_vault_ca, 1);
    const char *hcp = mc_url(mock_hcp_server(g_hcp));
    setenv("HCP_AUTH_URL", hcp, 1);
    setenv("HCP_API_ADDRESS", hcp, 1);
    setenv("HCP_ORGANIZATION_ID", "org1", 1);
    setenv("HCP_PROJECT_ID", "proj1", 1);
    setenv("HCP_CLIENT_ID", CID_INSO, 1);
    setenv("HCP_CLIENT_SECRET", CSEC_WRONG, 1);
    if (type != NULL)
        setenv("INSOMNIA_HASHICORP_TYPE", type, 1);
    return hcf_ctx(g_hcp_ca);
}

static void end(vp_ctx *ctx)
{
    vp_ctx_free(ctx);
    inso_clear();
}

static void want_value(vp_ctx *ctx, const char *uri, const char *want)
{
    char *v = hcf_get(ctx, uri, NULL, 0);
    assert_string_equal(v, want);
    free(v);
}

static void want_err(vp_ctx *ctx, const char *uri, int status, const char *in_msg)
{
    vp_error err;
    int rc = hcf_err(ctx, uri, &err);
    if (rc != status || strstr(err.message, in_msg) == NULL)
        fprintf(stderr, "%s: got %d '%s', want %d with '%s'\n", uri, rc, err.message, status,
                in_msg);
    assert_int_equal(rc, status);
    assert_non_null(strstr(err.message, in_msg));
}

static void t_onprem_token(void **state)
{
    (void)state;
    vp_ctx *ctx = begin("onPrem");
    setenv("INSOMNIA_HASHICORP_AUTHMETHOD", "token", 1);
    setenv("INSOMNIA_HASHICORP_SERVERADDRESS", vault_url(), 1);
    setenv("INSOMNIA_HASHICORP_ACCESS_TOKEN", TOK_INSO, 1);
    uint64_t lookups = mock_vault_count(g_vault, MV_COUNT_LOOKUP);
    want_value(ctx, "hashicorp://secret/inso#pw", VAULT_VAL);
    const char *t = "{% vault 'hashicorp', '', '{\"kvVersion\":\"v2\",\"secretEnginePath\":"
                    "\"secret\",\"secretName\":\"inso\",\"secretKey\":\"pw\"}' %}";
    char out[128];
    vp_error err;
    assert_int_equal(hcf_render(ctx, t, out, sizeof(out), &err), 0);
    assert_string_equal(out, VAULT_VAL);
    assert_int_equal(vp_validate(ctx, "hashicorp", "", 10000, &err), 0);
    assert_true(mock_vault_count(g_vault, MV_COUNT_LOOKUP) > lookups);
    /* onPrem is a Vault credential only: HCP_CLIENT_* are not consulted, the message says so. */
    want_err(ctx, "hcp://web/db", VP_EAUTH, "onPrem");
    end(ctx);

    /* A token the server does not know is refused (it was really sent). */
    ctx = begin("onPrem");
    setenv("INSOMNIA_HASHICORP_AUTHMETHOD", "token", 1);
    setenv("INSOMNIA_HASHICORP_SERVERADDRESS", vault_url(), 1);
    setenv("INSOMNIA_HASHICORP_ACCESS_TOKEN", "hvs.not-seeded-either", 1);
    want_err(ctx, "hashicorp://secret/inso#pw", VP_EAUTH, "token");
    end(ctx);
}

static void t_onprem_approle(void **state)
{
    (void)state;
    uint64_t logins = mock_vault_count(g_vault, MV_COUNT_LOGIN);
    vp_ctx *ctx = begin("onPrem");
    setenv("INSOMNIA_HASHICORP_AUTHMETHOD", "appRole", 1);
    setenv("INSOMNIA_HASHICORP_SERVERADDRESS", vault_url(), 1);
    setenv("INSOMNIA_HASHICORP_ROLE_ID", "r-inso", 1);
    setenv("INSOMNIA_HASHICORP_SECRET_ID", SID_INSO, 1);
    want_value(ctx, "hashicorp://secret/inso#pw", VAULT_VAL);
    want_value(ctx, "hashicorp://secret/inso?version=1#pw", VAULT_VAL);
    assert_int_equal(mock_vault_count(g_vault, MV_COUNT_LOGIN), logins + 1);
    end(ctx);

    /* A wrong secret id: the login is refused, the secret id is not shown. */
    uint64_t fails = mock_vault_count(g_vault, MV_COUNT_LOGIN_FAIL);
    ctx = begin("onPrem");
    setenv("INSOMNIA_HASHICORP_AUTHMETHOD", "appRole", 1);
    setenv("INSOMNIA_HASHICORP_SERVERADDRESS", vault_url(), 1);
    setenv("INSOMNIA_HASHICORP_ROLE_ID", "r-inso", 1);
    setenv("INSOMNIA_HASHICORP_SECRET_ID", SID_WRONG, 1);
    want_err(ctx, "hashicorp://secret/inso#pw", VP_EAUTH, "AppRole");
    assert_true(mock_vault_count(g_vault, MV_COUNT_LOGIN_FAIL) > fails);
    end(ctx);
}

static void t_cloud(void **state)
{
    (void)state;
    uint64_t tokens = mock_hcp_count(g_hcp, MH_COUNT_TOKEN);
    vp_ctx *ctx = begin("cloud");
    setenv("INSOMNIA_HASHICORP_CLIENT_ID", CID_INSO, 1);
    setenv("INSOMNIA_HASHICORP_CLIENT_SECRET", CSEC_INSO, 1);
    want_value(ctx, "hcp://web/db", HCP_VAL);
    const char *t = "{% vault 'hashicorp', '', '{\"organizationId\":\"org1\",\"projectId\":"
                    "\"proj1\",\"appName\":\"web\",\"secretName\":\"db\"}' %}";
    char out[128];
    vp_error err;
    assert_int_equal(hcf_render(ctx, t, out, sizeof(out), &err), 0);
    assert_string_equal(out, HCP_VAL);
    assert_int_equal(vp_validate(ctx, "hashicorp", "", 10000, &err), 0);
    assert_true(mock_hcp_count(g_hcp, MH_COUNT_TOKEN) > tokens);
    /* cloud is HCP only: VAULT_TOKEN is not consulted, the message says so. */
    want_err(ctx, "hashicorp://secret/inso#pw", VP_EAUTH, "cloud");
    end(ctx);

    /* A wrong client secret is refused by the token endpoint. */
    ctx = begin("cloud");
    setenv("INSOMNIA_HASHICORP_CLIENT_ID", CID_INSO, 1);
    setenv("INSOMNIA_HASHICORP_CLIENT_SECRET", CSEC_WRONG, 1);
    want_err(ctx, "hcp://web/db", VP_EAUTH, "rejected");
    end(ctx);
}

/* A configuration error: VP_EINVAL naming the variable; neither mock saw a request. */
static void want_config_error(vp_ctx *ctx, const char *uri, const char *var)
{
    uint64_t v0 = mock_vault_count(g_vault, MV_COUNT_LOOKUP) +
                  mock_vault_count(g_vault, MV_COUNT_LOGIN) +
                  mock_vault_count(g_vault, MV_COUNT_LOGIN_FAIL);
    uint64_t h0 =
        mock_hcp_count(g_hcp, MH_COUNT_TOKEN) + mock_hcp_count(g_hcp, MH_COUNT_TOKEN_FAIL);
    want_err(ctx, uri, VP_EINVAL, var);
    assert_int_equal(mock_vault_count(g_vault, MV_COUNT_LOOKUP) +
                         mock_vault_count(g_vault, MV_COUNT_LOGIN) +
                         mock_vault_count(g_vault, MV_COUNT_LOGIN_FAIL),
                     v0);
    assert_int_equal(
        mock_hcp_count(g_hcp, MH_COUNT_TOKEN) + mock_hcp_count(g_hcp, MH_COUNT_TOKEN_FAIL), h0);
    end(ctx);
}

static const char VREF[] = "hashicorp://secret/inso#pw";

static void onprem(const char *method, const char *addr)
{
    if (method != NULL)
        setenv("INSOMNIA_HASHICORP_AUTHMETHOD", method, 1);
    if (addr != NULL)
        setenv("INSOMNIA_HASHICORP_SERVERADDRESS", addr, 1);
}

static void t_errors(void **state)
{
    (void)state;
    vp_ctx *ctx;
    /* Unknown TYPE values (exact, as in Inso); the standard chain is no silent fallback. */
    static const char *const bad_types[] = {"onprem", "OnPrem", "vault", "hcp", "Cloud"};
    for (size_t i = 0; i < sizeof(bad_types) / sizeof(bad_types[0]); i++) {
        ctx = begin(bad_types[i]);
        setenv("VAULT_ADDR", vault_url(), 1);
        setenv("VAULT_TOKEN", TOK_INSO, 1);
        want_config_error(ctx, VREF, "INSOMNIA_HASHICORP_TYPE");
    }
    /* onPrem: AUTHMETHOD missing or unknown, SERVERADDRESS missing (VAULT_ADDR does not
     * stand in), the method's own variables missing. */
    ctx = begin("onPrem");
    onprem(NULL, vault_url());
    setenv("INSOMNIA_HASHICORP_ACCESS_TOKEN", TOK_INSO, 1);
    want_config_error(ctx, VREF, "INSOMNIA_HASHICORP_AUTHMETHOD");
    static const char *const bad_methods[] = {"userpass", "Token", "AppRole", "kubernetes"};
    for (size_t i = 0; i < sizeof(bad_methods) / sizeof(bad_methods[0]); i++) {
        ctx = begin("onPrem");
        onprem(bad_methods[i], vault_url());
        setenv("INSOMNIA_HASHICORP_ACCESS_TOKEN", TOK_INSO, 1);
        want_config_error(ctx, VREF, "INSOMNIA_HASHICORP_AUTHMETHOD");
    }
    ctx = begin("onPrem");
    onprem("token", NULL);
    setenv("VAULT_ADDR", vault_url(), 1);
    setenv("INSOMNIA_HASHICORP_ACCESS_TOKEN", TOK_INSO, 1);
    want_config_error(ctx, VREF, "INSOMNIA_HASHICORP_SERVERADDRESS");
    ctx = begin("onPrem");
    onprem("token", vault_url());
    want_config_error(ctx, VREF, "INSOMNIA_HASHICORP_ACCESS_TOKEN");
    ctx = begin("onPrem");
    onprem("token", vault_url());
    setenv("INSOMNIA_HASHICORP_ACCESS_TOKEN", "", 1); /* empty counts as unset */
    want_config_error(ctx, VREF, "INSOMNIA_HASHICORP_ACCESS_TOKEN");
    ctx = begin("onPrem");
    onprem("appRole", vault_url());
    setenv("INSOMNIA_HASHICORP_SECRET_ID", SID_INSO, 1);
    want_config_error(ctx, VREF, "INSOMNIA_HASHICORP_ROLE_ID");
    ctx = begin("onPrem");
    onprem("appRole", vault_url());
    setenv("INSOMNIA_HASHICORP_ROLE_ID", "r-inso", 1);
    want_config_error(ctx, VREF, "INSOMNIA_HASHICORP_SECRET_ID");
    ctx = begin("onPrem");
    onprem("token", "ftp://127.0.0.1:8200");
    setenv("INSOMNIA_HASHICORP_ACCESS_TOKEN", TOK_INSO, 1);
    want_config_error(ctx, VREF, "http");
    /* cloud: both client variables are required (HCP_CLIENT_* do not stand in). */
    ctx = begin("cloud");
    setenv("INSOMNIA_HASHICORP_CLIENT_SECRET", CSEC_INSO, 1);
    want_config_error(ctx, "hcp://web/db", "INSOMNIA_HASHICORP_CLIENT_ID");
    ctx = begin("cloud");
    setenv("INSOMNIA_HASHICORP_CLIENT_ID", CID_INSO, 1);
    want_config_error(ctx, "hcp://web/db", "INSOMNIA_HASHICORP_CLIENT_SECRET");
}

static void t_without_type(void **state)
{
    (void)state;
    /* Inso's variables without TYPE are ignored (as in Inso), with a warning: here the
     * standard chain has VAULT_ADDR but no token, so the reference fails for want of one. */
    vp_ctx *ctx = begin(NULL);
    unsetenv("VAULT_TOKEN");
    setenv("VAULT_ADDR", vault_url(), 1);
    setenv("INSOMNIA_HASHICORP_ACCESS_TOKEN", TOK_INSO, 1);
    setenv("INSOMNIA_HASHICORP_AUTHMETHOD", "token", 1);
    want_err(ctx, VREF, VP_EAUTH, "VAULT_TOKEN");
    assert_non_null(strstr(hcf_log(), "is set but INSOMNIA_HASHICORP_TYPE is not"));
    end(ctx);

    /* The names an earlier version guessed were never Inso's and are not read. */
    ctx = begin(NULL);
    unsetenv("VAULT_TOKEN");
    setenv("VAULT_ADDR", vault_url(), 1);
    setenv("INSOMNIA_HASHICORP_TOKEN", TOK_INSO, 1);
    want_err(ctx, VREF, VP_EAUTH, "VAULT_TOKEN");
    end(ctx);
    ctx = begin(NULL);
    setenv("VAULT_TOKEN", TOK_INSO, 1);
    setenv("INSOMNIA_HASHICORP_ADDR", vault_url(), 1); /* VAULT_ADDR is the closed port */
    int rc = hcf_err(ctx, VREF, &(vp_error){0});
    assert_true(rc == VP_ENETWORK || rc == VP_EUNAVAIL);
    end(ctx);

    /* The standard chain is unchanged next to them. */
    ctx = begin(NULL);
    setenv("VAULT_ADDR", vault_url(), 1);
    setenv("VAULT_TOKEN", TOK_INSO, 1);
    setenv("INSOMNIA_HASHICORP_ROLE_ID", "r-inso", 1);
    want_value(ctx, VREF, VAULT_VAL);
    end(ctx);
}

/* Last test of a group: nothing secret reached any log line or error message. */
static void t_canary(void **state)
{
    (void)state;
    /* The capture works: the run logged and failed with messages naming variables. */
    assert_true(strlen(hcf_log()) > 0);
    assert_non_null(strstr(hcf_messages(), "INSOMNIA_HASHICORP_ACCESS_TOKEN"));
    for (size_t i = 0; CANARIES[i]; i++)
        hcf_assert_no_leak(CANARIES[i]);
    hcf_assert_no_leak(mock_vault_root_token(g_vault));
}

#define TESTS                                                                                    \
    cmocka_unit_test(t_onprem_token), cmocka_unit_test(t_onprem_approle),                        \
        cmocka_unit_test(t_cloud), cmocka_unit_test(t_errors), cmocka_unit_test(t_without_type), \
        cmocka_unit_test(t_canary)

int main(void)
{
    const struct CMUnitTest tests[] = {TESTS};
    int rc = cmocka_run_group_tests_name("inso_http", tests, setup_http, teardown_group);
    if (mc_tls_supported())
        rc |= cmocka_run_group_tests_name("inso_https", tests, setup_https, teardown_group);
    return rc;
}
