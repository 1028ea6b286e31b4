/* test_azure - the Azure Key Vault provider (azure.so through the real loader) against the Azure
 * mock over HTTPS: challenge flow, reference forms, error mapping, service credentials and the
 * empty-credential chain. Every test ends with the leak check (azt_teardown). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "az_testutil.h"

#define URI(cred, rest) "azure://" cred "@" AZT_VAULT "/" rest

static void set_secret_cred(azt *t, const char *name, const char *secret)
{
    vp_field f[] = {
        {"tenant", mock_azure_tenant(t->m)},
        {"client_id", AZT_CLIENT_ID},
        {"client_secret", secret},
    };
    vp_cred_spec c = {name, "client_secret", f, 3};
    vp_error err;
    assert_int_equal(vp_cred_set(t->ctx, "azure", &c, &err), 0);
}

static int setup(void **state)
{
    azt *t = calloc(1, sizeof(*t));
    azt_setup(t);
    azt_ctx(t);
    set_secret_cred(t, "app", AZT_CLIENT_SECRET);
    *state = t;
    return 0;
}

static int teardown(void **state)
{
    azt *t = *state;
    azt_teardown(t);
    free(t);
    return 0;
}

static void test_challenge_flow_and_caching(void **state)
{
    azt *t = *state;
    char v[256];
    vp_error err;
    assert_int_equal(azt_fetch(t, URI("app", "db-password"), v, sizeof(v), &err), 0);
    assert_string_equal(v, AZT_SECRET_VALUE);
    /* bare request -> challenge -> token -> authenticated request */
    assert_int_equal(mock_azure_count(t->m, "kv:bare"), 1);
    assert_int_equal(mock_azure_count(t->m, "kv:bearer"), 1);
    assert_int_equal(mock_azure_count(t->m, "token:client_credentials"), 1);
    /* the bare request really carried no Authorization, the second one a bearer token */
    mc_server *s = mock_azure_server(t->m);
    size_t n = mc_log_count(s);
    int bare = 0, bearer = 0;
    for (size_t i = 0; i < n; i++) {
        mc_log_entry e;
        assert_int_equal(mc_log_get(s, i, &e), 0);
        if (strncmp(e.path, "/secrets/", 9) != 0)
            continue;
        assert_non_null(strstr(e.query, "api-version=7.4"));
        const char *a = mc_log_header(&e, "Authorization");
        if (a[0] == '\0')
            bare++;
        else if (strncmp(a, "Bearer ", 7) == 0)
            bearer++;
    }
    assert_int_equal(bare, 1);
    assert_int_equal(bearer, 1);
    /* second fetch: challenge and token cached */
    assert_int_equal(azt_fetch(t, URI("app", "db-password"), v, sizeof(v), &err), 0);
    assert_int_equal(mock_azure_count(t->m, "kv:bare"), 1);
    assert_int_equal(mock_azure_count(t->m, "token:client_credentials"), 1);
    assert_int_equal(mock_azure_count(t->m, "kv:bearer"), 2);
}

static void test_versions_and_forms(void **state)
{
    azt *t = *state;
    char v[256];
    vp_error err;
    vp_buf b = VP_BUF_INIT;
    vp_fetch_meta meta;
    assert_int_equal(
        vp_fetch(t->ctx, URI("app", "db-password/" AZT_VERSION_V1), 20000, &b, &meta, &err), 0);
    assert_string_equal(b.data, AZT_SECRET_V1);
    assert_string_equal(meta.version, AZT_VERSION_V1);
    vp_buf_free(&b);
    assert_int_equal(
        azt_fetch(t, URI("app", "db-password?version=" AZT_VERSION_V1), v, sizeof(v), &err), 0);
    assert_string_equal(v, AZT_SECRET_V1);
    assert_int_equal(azt_fetch(t, URI("app", "db-password?api-version=7.5"), v, sizeof(v), &err),
                     0);
    assert_string_equal(v, AZT_SECRET_VALUE);
    assert_int_equal(azt_fetch(t, URI("app", "json-secret#password"), v, sizeof(v), &err), 0);
    assert_string_equal(v, AZT_SECRET_VALUE);

    /* Insomnia's three-argument tag: full identifier, with and without a version */
    const char *tmpl = "{% vault 'azure', 'app', '{\"secretIdentifier\":\"https://" AZT_VAULT
                       "/secrets/db-password\"}' %}|{% vault 'azure', 'app', "
                       "'{\"secretIdentifier\":\"https://" AZT_VAULT
                       "/secrets/db-password/" AZT_VERSION_V1 "\"}' %}|{% vault 'azure', 'app', "
                       "'{\"vault\":\"myvault\",\"name\":\"db-password\"}' %}";
    assert_int_equal(vp_render(t->ctx, tmpl, strlen(tmpl), NULL, VP_RENDER_SEND, &b, &err), 0);
    assert_string_equal(b.data, AZT_SECRET_VALUE "|" AZT_SECRET_V1 "|" AZT_SECRET_VALUE);
    vp_buf_free(&b);

    /* malformed references never reach the network */
    uint64_t before = mc_count_total(mock_azure_server(t->m));
    assert_int_equal(azt_fetch(t, "azure://app@evil.example.com/db-password", v, sizeof(v), &err),
                     VP_EINVAL);
    assert_int_equal(azt_fetch(t, URI("app", "bad_name"), v, sizeof(v), &err), VP_EINVAL);
    assert_int_equal(azt_fetch(t, URI("app", "db-password/nothex"), v, sizeof(v), &err), VP_EINVAL);
    assert_int_equal(azt_fetch(t, URI("app", "db-password?colour=red"), v, sizeof(v), &err),
                     VP_EINVAL);
    assert_int_equal(mc_count_total(mock_azure_server(t->m)), before);
}

static void test_error_mapping(void **state)
{
    azt *t = *state;
    char v[256];
    vp_error err;
    assert_int_equal(azt_fetch(t, URI("app", "nope"), v, sizeof(v), &err), VP_ENOTFOUND);
    assert_non_null(strstr(err.message, "SecretNotFound"));
    assert_int_equal(azt_fetch(t, URI("app", "old-secret"), v, sizeof(v), &err), VP_EPERM);
    assert_non_null(strstr(err.message, "disabled"));
    assert_int_equal(azt_fetch(t, URI("app", "payroll"), v, sizeof(v), &err), VP_EPERM);
    assert_non_null(strstr(err.message, "ForbiddenByRbac"));
    assert_non_null(strstr(err.message, "same organisation"));
    mock_azure_throttle(t->m, 1, 7);
    assert_int_equal(azt_fetch(t, URI("app", "db-password"), v, sizeof(v), &err), VP_ERATELIMIT);
    assert_non_null(strstr(err.message, "Throttled"));
    assert_int_equal(azt_fetch(t, URI("app", "db-password"), v, sizeof(v), &err), 0);
}

/* vp_list: every name of the vault once, across pages; a prefix; the identity without the
 * list permission (EPERM, the message names the permission); prefixes that cannot name a vault
 * or a secret. */
static void test_list(void **state)
{
    azt *t = *state;
    char **names = NULL;
    size_t n = 0;
    vp_error err;
    unsigned pages0 = mock_azure_count(t->m, "kv:list");
    assert_int_equal(vp_list(t->ctx, "azure://app@" AZT_VAULT "/", 10000, &names, &n, &err), 0);
    assert_true(n >= 3);
    for (size_t i = 0; i < n; i++) {
        assert_int_equal(strncmp(names[i], AZT_VAULT "/", strlen(AZT_VAULT) + 1), 0);
        assert_null(strstr(names[i], AZT_SECRET_VALUE));
        if (i > 0)
            assert_true(strcmp(names[i - 1], names[i]) < 0); /* sorted, each name once */
    }
    vp_list_free(names, n);
    assert_true(mock_azure_count(t->m, "kv:list") - pages0 >= 2);
    assert_int_equal(vp_list(t->ctx, "azure://app@myvault/db-pass", 10000, &names, &n, &err), 0);
    assert_int_equal(n, 1);
    assert_string_equal(names[0], AZT_VAULT "/db-password");
    vp_list_free(names, n);
    mock_azure_set_list_forbidden(t->m, 1);
    assert_int_equal(vp_list(t->ctx, "azure://app@" AZT_VAULT "/", 10000, &names, &n, &err),
                     VP_EPERM);
    azt_err(t, &err);
    assert_non_null(strstr(err.message, "permission to list secrets"));
    mock_azure_set_list_forbidden(t->m, 0);
    assert_int_equal(vp_list(t->ctx, "azure://app@", 10000, &names, &n, &err), VP_EINVAL);
    assert_non_null(strstr(err.message, "name the vault"));
    assert_int_equal(vp_list(t->ctx, "azure://app@example.com/", 10000, &names, &n, &err),
                     VP_EINVAL);
    assert_int_equal(vp_list(t->ctx, "azure://app@myvault/a_b", 10000, &names, &n, &err),
                     VP_EINVAL);
    assert_null(names);
}

static void test_hostile_challenge_refused(void **state)
{
    azt *t = *state;
    char v[256];
    vp_error err;
    mock_azure_set_challenge(t->m, "Bearer authorization=\"https://login.evil.example/tenant\", "
                                   "resource=\"https://evil.example\"");
    assert_int_equal(azt_fetch(t, URI("app", "db-password"), v, sizeof(v), &err), VP_EPROTO);
    assert_non_null(strstr(err.message, "another domain"));
    assert_int_equal(mock_azure_count(t->m, "token:client_credentials"), 0);
    assert_int_equal(mock_azure_count(t->m, "kv:bearer"), 0);
    /* a scope for a look-alike domain is refused too */
    mock_azure_set_challenge(t->m, "Bearer authorization_uri=\"https://login.microsoftonline.com/"
                                   "t1\", scope=\"https://vault.azure.net.evil.example/.default\"");
    assert_int_equal(azt_fetch(t, URI("app", "db-password"), v, sizeof(v), &err), VP_EPROTO);
    assert_int_equal(mock_azure_count(t->m, "token:client_credentials"), 0);
    /* the newer header form (authorization_uri + scope) is accepted */
    char ok[512];
    snprintf(ok, sizeof(ok),
             "Bearer authorization_uri=\"%s/%s\", scope=\"https://vault.azure.net/.default\"",
             mock_azure_url(t->m), mock_azure_tenant(t->m));
    mock_azure_set_challenge(t->m, ok);
    assert_int_equal(azt_fetch(t, URI("app", "db-password"), v, sizeof(v), &err), 0);
    assert_string_equal(v, AZT_SECRET_VALUE);
}

static void test_token_refreshed_once_on_401(void **state)
{
    azt *t = *state;
    char v[256];
    vp_error err;
    assert_int_equal(azt_fetch(t, URI("app", "db-password"), v, sizeof(v), &err), 0);
    mock_azure_invalidate_access_tokens(t->m);
    assert_int_equal(azt_fetch(t, URI("app", "db-password"), v, sizeof(v), &err), 0);
    assert_int_equal(mock_azure_count(t->m, "token:client_credentials"), 2);
    /* a vault that keeps refusing fresh tokens: VP_EAUTH after one refresh */
    mock_azure_set_token_lifetime(t->m, -10);
    mock_azure_invalidate_access_tokens(t->m);
    assert_int_equal(azt_fetch(t, URI("app", "db-password"), v, sizeof(v), &err), VP_EAUTH);
    assert_int_equal(mock_azure_count(t->m, "token:client_credentials"), 3);
}

static void test_bad_secret_and_validate(void **state)
{
    azt *t = *state;
    char v[256];
    vp_error err;
    set_secret_cred(t, "wrong", "not-the-secret-canary-77");
    assert_int_equal(vp_validate(t->ctx, "azure", "app", 20000, &err), 0);
    assert_int_equal(vp_validate(t->ctx, "azure", "wrong", 20000, &err), VP_EAUTH);
    azt_err(t, &err);
    assert_non_null(strstr(err.message, "invalid_client"));
    assert_int_equal(azt_fetch(t, URI("wrong", "db-password"), v, sizeof(v), &err), VP_EAUTH);
    assert_null(strstr(t->log ? t->log : "", "not-the-secret-canary-77"));
    assert_null(strstr(t->errors, "not-the-secret-canary-77"));
}

static void test_plain_http_refused(void **state)
{
    azt *t = *state;
    char v[256], url[256];
    vp_error err;
    azt_ctx_free(t);
    snprintf(url, sizeof(url), "http://127.0.0.1:%u", (unsigned)mc_port(mock_azure_server(t->m)));
    setenv("VAULTPLUG_AZURE_VAULT_URL", url, 1);
    azt_ctx(t);
    set_secret_cred(t, "app", AZT_CLIENT_SECRET);
    uint64_t before = mc_count_total(mock_azure_server(t->m));
    assert_int_equal(azt_fetch(t, URI("app", "db-password"), v, sizeof(v), &err), VP_EINVAL);
    assert_non_null(strstr(err.message, "plain http"));
    assert_int_equal(mc_count_total(mock_azure_server(t->m)), before);
    setenv("VAULTPLUG_AZURE_VAULT_URL", mock_azure_url(t->m), 1);
}

static void test_workload_identity(void **state)
{
    azt *t = *state;
    char v[256], path[300];
    vp_error err;
    snprintf(path, sizeof(path), "%s/token", t->tmpdir);
    FILE *f = fopen(path, "w");
    assert_non_null(f);
    fprintf(f, "%s\n", AZT_FED_TOKEN);
    fclose(f);
    vp_field fl[] = {{"tenant", mock_azure_tenant(t->m)},
                     {"client_id", AZT_FED_CLIENT_ID},
                     {"token_file", path}};
    vp_cred_spec c = {"wl", "workload_identity", fl, 3};
    assert_int_equal(vp_cred_set(t->ctx, "azure", &c, &err), 0);
    assert_int_equal(azt_fetch(t, URI("wl", "db-password"), v, sizeof(v), &err), 0);
    assert_string_equal(v, AZT_SECRET_VALUE);
    /* the file is re-read: a rotated-away (wrong) token is rejected */
    f = fopen(path, "w");
    fprintf(f, "stale-federated-token-canary\n");
    fclose(f);
    mock_azure_invalidate_access_tokens(t->m);
    assert_int_equal(azt_fetch(t, URI("wl", "db-password"), v, sizeof(v), &err), VP_EAUTH);
    assert_null(strstr(t->errors, "stale-federated-token-canary"));
    assert_null(strstr(t->log ? t->log : "", "stale-federated-token-canary"));
}

static void test_managed_identity(void **state)
{
    azt *t = *state;
    char v[256];
    vp_error err;
    vp_cred_spec c = {"mi", "managed_identity", NULL, 0};
    assert_int_equal(vp_cred_set(t->ctx, "azure", &c, &err), 0);
    assert_int_equal(azt_fetch(t, URI("mi", "db-password"), v, sizeof(v), &err), 0);
    assert_string_equal(v, AZT_SECRET_VALUE);
    assert_int_equal(mock_azure_count(t->m, "imds"), 1);
    /* the IMDS request carried Metadata: true */
    mc_server *s = mock_azure_server(t->m);
    int seen = 0;
    for (size_t i = 0; i < mc_log_count(s); i++) {
        mc_log_entry e;
        assert_int_equal(mc_log_get(s, i, &e), 0);
        if (strcmp(e.path, "/metadata/identity/oauth2/token") == 0) {
            assert_string_equal(mc_log_header(&e, "Metadata"), "true");
            assert_non_null(strstr(e.query, "resource=https%3A%2F%2Fvault.azure.net"));
            seen++;
        }
    }
    assert_int_equal(seen, 1);

    /* App Service: IDENTITY_ENDPOINT + IDENTITY_HEADER */
    char ep[300];
    snprintf(ep, sizeof(ep), "%s/msi/token", mock_azure_url(t->m));
    setenv("IDENTITY_ENDPOINT", ep, 1);
    setenv("IDENTITY_HEADER", AZT_ID_HEADER, 1);
    vp_cred_spec c2 = {"app-svc", "managed_identity", NULL, 0};
    assert_int_equal(vp_cred_set(t->ctx, "azure", &c2, &err), 0);
    assert_int_equal(azt_fetch(t, URI("app-svc", "db-password"), v, sizeof(v), &err), 0);
    assert_int_equal(mock_azure_count(t->m, "appservice"), 1);
    setenv("IDENTITY_HEADER", "wrong-header-canary-11", 1);
    vp_cred_spec c3 = {"app-svc2", "managed_identity", NULL, 0};
    assert_int_equal(vp_cred_set(t->ctx, "azure", &c3, &err), 0);
    assert_int_equal(azt_fetch(t, URI("app-svc2", "db-password"), v, sizeof(v), &err), VP_EAUTH);
    assert_null(strstr(t->errors, "wrong-header-canary-11"));
    unsetenv("IDENTITY_ENDPOINT");
    unsetenv("IDENTITY_HEADER");
}

/* The empty credential: environment -> workload identity -> managed identity. */
static void test_default_chain(void **state)
{
    azt *t = *state;
    char v[256], path[300];
    vp_error err;
    /* 1. environment client secret */
    azt_ctx_free(t);
    setenv("AZURE_TENANT_ID", mock_azure_tenant(t->m), 1);
    setenv("AZURE_CLIENT_ID", AZT_CLIENT_ID, 1);
    setenv("AZURE_CLIENT_SECRET", AZT_CLIENT_SECRET, 1);
    azt_ctx(t);
    assert_int_equal(azt_fetch(t, "azure://" AZT_VAULT "/db-password", v, sizeof(v), &err), 0);
    assert_string_equal(v, AZT_SECRET_VALUE);
    assert_int_equal(mock_azure_count(t->m, "token:client_credentials"), 1);
    assert_int_equal(mock_azure_count(t->m, "imds"), 0);

    /* 2. workload identity */
    azt_ctx_free(t);
    unsetenv("AZURE_CLIENT_SECRET");
    snprintf(path, sizeof(path), "%s/fed", t->tmpdir);
    FILE *f = fopen(path, "w");
    assert_non_null(f);
    fputs(AZT_FED_TOKEN, f);
    fclose(f);
    setenv("AZURE_CLIENT_ID", AZT_FED_CLIENT_ID, 1);
    setenv("AZURE_FEDERATED_TOKEN_FILE", path, 1);
    azt_ctx(t);
    assert_int_equal(vp_validate(t->ctx, "azure", "", 20000, &err), 0);
    assert_int_equal(mock_azure_count(t->m, "token:client_credentials"), 2);
    assert_int_equal(mock_azure_count(t->m, "imds"), 0);

    /* 3. managed identity (user-assigned client id from AZURE_CLIENT_ID) */
    azt_ctx_free(t);
    unsetenv("AZURE_FEDERATED_TOKEN_FILE");
    unsetenv("AZURE_TENANT_ID");
    setenv("AZURE_CLIENT_ID", AZT_MI_CLIENT_ID, 1);
    azt_ctx(t);
    assert_int_equal(azt_fetch(t, "azure://" AZT_VAULT "/db-password", v, sizeof(v), &err), 0);
    assert_string_equal(v, AZT_SECRET_VALUE);
    assert_int_equal(mock_azure_count(t->m, "imds"), 1);
    unsetenv("AZURE_CLIENT_ID");
}

static void test_faults(void **state)
{
    azt *t = *state;
    char v[256];
    vp_error err;
    mc_server *s = mock_azure_server(t->m);
    /* token endpoint answers garbage / 503 */
    mc_fault g = {MC_FAULT_GARBAGE, "/", 1, 0, 200, 0, 0};
    char tp[128];
    snprintf(tp, sizeof(tp), "/%s/oauth2/v2.0/token", mock_azure_tenant(t->m));
    g.path_prefix = tp;
    assert_int_equal(mc_fault_add(s, &g), 0);
    assert_int_equal(azt_fetch(t, URI("app", "db-password"), v, sizeof(v), &err), VP_EPROTO);
    mc_fault u = {MC_FAULT_STATUS, tp, 1, 0, 503, 2, 0};
    assert_int_equal(mc_fault_add(s, &u), 0);
    assert_int_equal(azt_fetch(t, URI("app", "db-password"), v, sizeof(v), &err), VP_EUNAVAIL);
    /* Key Vault answers garbage, then 503, then is fine again */
    mc_fault kg = {MC_FAULT_GARBAGE, "/secrets/", 1, 0, 200, 0, 0};
    assert_int_equal(azt_fetch(t, URI("app", "db-password"), v, sizeof(v), &err), 0);
    assert_int_equal(mc_fault_add(s, &kg), 0);
    assert_int_equal(azt_fetch(t, URI("app", "db-password"), v, sizeof(v), &err), VP_EPROTO);
    mc_fault ku = {MC_FAULT_STATUS, "/secrets/", 1, 0, 503, 0, 0};
    assert_int_equal(mc_fault_add(s, &ku), 0);
    assert_int_equal(azt_fetch(t, URI("app", "db-password"), v, sizeof(v), &err), VP_EUNAVAIL);
    assert_int_equal(azt_fetch(t, URI("app", "db-password"), v, sizeof(v), &err), 0);
    assert_string_equal(v, AZT_SECRET_VALUE);
}

static void test_print_env(void **state)
{
    azt *t = *state;
    char buf[4096] = "";
    FILE *f = tmpfile();
    assert_non_null(f);
    mock_azure_print_env(t->m, f);
    rewind(f);
    size_t n = fread(buf, 1, sizeof(buf) - 1, f);
    buf[n] = '\0';
    fclose(f);
    char line[512];
    snprintf(line, sizeof(line), "export AZURE_AUTHORITY_HOST=%s\n", mock_azure_url(t->m));
    assert_non_null(strstr(buf, line));
    snprintf(line, sizeof(line), "export VAULTPLUG_AZURE_CA_FILE=%s\n", mock_azure_ca_file(t->m));
    assert_non_null(strstr(buf, line));
    assert_non_null(strstr(buf, "export VAULTPLUG_AZURE_VAULT_URL="));
    assert_non_null(strstr(buf, "export AZURE_CLIENT_ID=" AZT_CLIENT_ID "\n"));
    assert_null(strstr(buf, "ALLOW_HTTP")); /* TLS mock: no plain-http switch */
}

static void test_canary_all_outputs(void **state)
{
    azt *t = *state;
    char v[256];
    vp_error err;
    /* exercise every path that formats messages, then azt_teardown checks all of them */
    assert_int_equal(azt_fetch(t, URI("app", "db-password"), v, sizeof(v), &err), 0);
    assert_int_equal(azt_fetch(t, URI("app", "payroll"), v, sizeof(v), &err), VP_EPERM);
    assert_int_equal(azt_fetch(t, URI("app", "old-secret"), v, sizeof(v), &err), VP_EPERM);
    assert_int_equal(azt_fetch(t, URI("app", "missing"), v, sizeof(v), &err), VP_ENOTFOUND);
    assert_non_null(t->log); /* TRACE logging was on and captured something */
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_challenge_flow_and_caching, setup, teardown),
        cmocka_unit_test_setup_teardown(test_versions_and_forms, setup, teardown),
        cmocka_unit_test_setup_teardown(test_error_mapping, setup, teardown),
        cmocka_unit_test_setup_teardown(test_list, setup, teardown),
        cmocka_unit_test_setup_teardown(test_hostile_challenge_refused, setup, teardown),
        cmocka_unit_test_setup_teardown(test_token_refreshed_once_on_401, setup, teardown),
        cmocka_unit_test_setup_teardown(test_bad_secret_and_validate, setup, teardown),
        cmocka_unit_test_setup_teardown(test_plain_http_refused, setup, teardown),
        cmocka_unit_test_setup_teardown(test_workload_identity, setup, teardown),
        cmocka_unit_test_setup_teardown(test_managed_identity, setup, teardown),
        cmocka_unit_test_setup_teardown(test_default_chain, setup, teardown),
        cmocka_unit_test_setup_teardown(test_faults, setup, teardown),
        cmocka_unit_test_setup_teardown(test_print_env, setup, teardown),
        cmocka_unit_test_setup_teardown(test_canary_all_outputs, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
