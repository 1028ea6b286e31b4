/* test_login - vp_login() with the real azure.so against the Azure mock: the browser flow end to
 * end (the test is the browser: it follows the authorize URL through the mock's redirect to the
 * provider's loopback listener), state mismatch, declined consent, device code, the credential
 * sealed in the vault, silent refresh with refresh-token rotation across contexts, revocation,
 * and the leak check on every output. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "az_testutil.h"

#define KEY_MAX 128

typedef struct lt {
    azt t;
    char vault_path[300];
    char key[KEY_MAX];
    vp_vault *vault;
} lt;

static void attach_vault(lt *l)
{
    vp_error err;
    size_t loaded = 0, skipped = 0;
    assert_int_equal(vp_vault_open(l->vault_path, l->key, &l->vault, &err), 0);
    assert_int_equal(vp_ctx_use_vault(l->t.ctx, l->vault, &loaded, &skipped, &err), 0);
}

static void detach_vault(lt *l)
{
    azt_ctx_free(&l->t);
    vp_vault_close(l->vault);
    l->vault = NULL;
}

static int setup(void **state)
{
    lt *l = calloc(1, sizeof(*l));
    azt_setup(&l->t);
    azt_ctx(&l->t);
    snprintf(l->vault_path, sizeof(l->vault_path), "%s/vault.vpv", l->t.tmpdir);
    vp_buf k = VP_BUF_INIT;
    vp_error err;
    assert_int_equal(vp_vault_create(l->vault_path, NULL, &k, &err), 0);
    snprintf(l->key, sizeof(l->key), "%s", k.data);
    vp_buf_free(&k);
    attach_vault(l);
    *state = l;
    return 0;
}

static int teardown(void **state)
{
    lt *l = *state;
    azt_browser_join(&l->t);
    azt_ctx_free(&l->t);
    vp_vault_close(l->vault);
    azt_teardown(&l->t);
    free(l);
    return 0;
}

static int login(lt *l, const char *name, int device, vp_login_result *res, vp_error *err)
{
    vp_field opts[] = {{"device_code", "1"}};
    int rc = vp_login(l->t.ctx, "azure", name, opts, device ? 1 : 0, 60000, res, err);
    azt_browser_join(&l->t);
    if (rc != 0)
        azt_err(&l->t, err);
    return rc;
}

static void stored_field(lt *l, const char *name, const char *key, char *out, size_t cap)
{
    vp_cred_entry *e = NULL;
    vp_error err;
    out[0] = '\0';
    assert_int_equal(vp_credstore_get(l->vault, "azure", name, &e, &err), 0);
    for (size_t i = 0; i < e->n_fields; i++)
        if (strcmp(e->fields[i].key, key) == 0)
            snprintf(out, cap, "%s", e->fields[i].value);
    vp_cred_entries_free(e, 1);
}

static void test_browser_flow_end_to_end(void **state)
{
    lt *l = *state;
    azt *t = &l->t;
    vp_login_result res;
    vp_error err;
    t->browser_mode = AZT_BROWSER_OPEN_URL;
    assert_int_equal(login(l, "me", 0, &res, &err), 0);
    assert_string_equal(res.provider, "azure");
    assert_string_equal(res.name, "me");
    assert_string_equal(res.type, "user");
    assert_string_equal(res.account, "alice@contoso.example");
    assert_int_equal(res.stored, 1);
    vp_login_result_free(&res);
    /* the browser saw the success page served by the loopback listener */
    assert_int_equal(t->browser_status, 200);
    assert_non_null(strstr(t->browser_page, "Signed in"));
    assert_int_equal(mock_azure_count(t->m, "authorize"), 1);
    assert_int_equal(mock_azure_count(t->m, "token:authorization_code"), 1);
    /* PKCE and the loopback redirect URI went out as Entra expects */
    mc_server *s = mock_azure_server(t->m);
    int seen = 0;
    for (size_t i = 0; i < mc_log_count(s); i++) {
        mc_log_entry e;
        assert_int_equal(mc_log_get(s, i, &e), 0);
        if (strstr(e.path, "/oauth2/v2.0/authorize") == NULL)
            continue;
        assert_non_null(strstr(e.path, "/organizations/"));
        assert_non_null(strstr(e.query, "code_challenge_method=S256"));
        assert_non_null(strstr(e.query, "redirect_uri=http%3A%2F%2Flocalhost%3A"));
        assert_non_null(strstr(e.query, "scope=https%3A%2F%2Fvault.azure.net%2Fuser_impersonation"
                                        "%20openid%20profile%20offline_access"));
        seen++;
    }
    assert_int_equal(seen, 1);

    /* the credential is sealed in the vault, with its refresh token */
    char rt[128], acc[128];
    stored_field(l, "me", "refresh_token", rt, sizeof(rt));
    stored_field(l, "me", "account", acc, sizeof(acc));
    assert_true(strncmp(rt, "mock-rt-", 8) == 0);
    assert_string_equal(acc, "alice@contoso.example");

    /* and renders a secret with the stored access token: no refresh needed yet */
    const char *tmpl = "{% vault 'azure', 'me', '{\"secretIdentifier\":\"https://" AZT_VAULT
                       "/secrets/db-password\"}' %}";
    vp_buf b = VP_BUF_INIT;
    assert_int_equal(vp_render(t->ctx, tmpl, strlen(tmpl), NULL, VP_RENDER_SEND, &b, &err), 0);
    assert_string_equal(b.data, AZT_SECRET_VALUE);
    vp_buf_free(&b);
    assert_int_equal(mock_azure_count(t->m, "token:refresh_token"), 0);
}

static void test_url_shown_when_no_browser(void **state)
{
    lt *l = *state;
    azt *t = &l->t;
    vp_login_result res;
    vp_error err;
    t->browser_mode = AZT_BROWSER_FROM_NOTICE; /* open_url says VP_ENOTSUP */
    assert_int_equal(login(l, "me", 0, &res, &err), 0);
    vp_login_result_free(&res);
    assert_non_null(strstr(t->notices, "/oauth2/v2.0/authorize?"));
    assert_non_null(strstr(t->browser_page, "Signed in"));
}

static void test_state_mismatch(void **state)
{
    lt *l = *state;
    azt *t = &l->t;
    vp_login_result res;
    vp_error err;
    t->browser_mode = AZT_BROWSER_OPEN_URL;
    mock_azure_set_consent(t->m, MOCK_AZ_CONSENT_BAD_STATE);
    assert_int_equal(login(l, "me", 0, &res, &err), VP_EAUTH);
    assert_non_null(strstr(err.message, "state"));
    assert_non_null(strstr(t->browser_page, "Sign-in failed"));
    /* the code was never redeemed, nothing was stored */
    assert_int_equal(mock_azure_count(t->m, "token:authorization_code"), 0);
    vp_cred_entry *e = NULL;
    assert_int_equal(vp_credstore_get(l->vault, "azure", "me", &e, &err), VP_ENOTFOUND);
    assert_null(res.name);
}

static void test_consent_declined(void **state)
{
    lt *l = *state;
    azt *t = &l->t;
    vp_login_result res;
    vp_error err;
    t->browser_mode = AZT_BROWSER_OPEN_URL;
    mock_azure_set_consent(t->m, MOCK_AZ_CONSENT_DENY);
    assert_int_equal(login(l, "me", 0, &res, &err), VP_EAUTH);
    assert_non_null(strstr(err.message, "access_denied"));
    assert_non_null(strstr(err.message, "AADSTS65004"));
    assert_non_null(strstr(t->browser_page, "access_denied"));
    vp_cred_entry *e = NULL;
    assert_int_equal(vp_credstore_get(l->vault, "azure", "me", &e, &err), VP_ENOTFOUND);
}

/* Hours later (injected wall clock), in a new process (new context + the same vault): the access
 * token has expired, the refresh token is used and rotated, and the rotation is persisted. */
static void test_silent_refresh_and_rotation(void **state)
{
    lt *l = *state;
    azt *t = &l->t;
    vp_login_result res;
    vp_error err;
    char v[256], rt1[128], rt2[128], rt3[128];
    t->browser_mode = AZT_BROWSER_OPEN_URL;
    assert_int_equal(login(l, "me", 0, &res, &err), 0);
    vp_login_result_free(&res);
    stored_field(l, "me", "refresh_token", rt1, sizeof(rt1));

    detach_vault(l);
    t->clock_offset_ms = 2 * 3600 * 1000LL; /* two hours later */
    azt_ctx(t);
    attach_vault(l);
    assert_int_equal(azt_fetch(t, "azure://me@" AZT_VAULT "/db-password", v, sizeof(v), &err), 0);
    assert_string_equal(v, AZT_SECRET_VALUE);
    assert_int_equal(mock_azure_count(t->m, "token:refresh_token"), 1);
    stored_field(l, "me", "refresh_token", rt2, sizeof(rt2));
    assert_true(strncmp(rt2, "mock-rt-", 8) == 0);
    assert_string_not_equal(rt1, rt2);
    assert_int_equal(mock_azure_live_refresh_tokens(t->m), 1); /* the old one is dead */
    assert_false(mock_azure_refresh_token_valid(t->m, rt1));
    assert_true(mock_azure_refresh_token_valid(t->m, rt2));

    /* a 401 (token revoked at the vault) also refreshes, once, and rotates again */
    mock_azure_invalidate_access_tokens(t->m);
    assert_int_equal(azt_fetch(t, "azure://me@" AZT_VAULT "/db-password", v, sizeof(v), &err), 0);
    assert_int_equal(mock_azure_count(t->m, "token:refresh_token"), 2);
    stored_field(l, "me", "refresh_token", rt3, sizeof(rt3));
    assert_string_not_equal(rt2, rt3);
    assert_true(mock_azure_refresh_token_valid(t->m, rt3));

    /* yet another "process" hours later still works from the store alone */
    detach_vault(l);
    t->clock_offset_ms = 6 * 3600 * 1000LL;
    azt_ctx(t);
    attach_vault(l);
    assert_int_equal(azt_fetch(t, "azure://me@" AZT_VAULT "/db-password", v, sizeof(v), &err), 0);
    assert_int_equal(mock_azure_count(t->m, "token:refresh_token"), 3);
    assert_int_equal(mock_azure_count(t->m, "authorize"), 1); /* never signed in again */
}

typedef struct fetcher {
    azt *t;
    int ok;
} fetcher;

static void *fetch_many(void *ud)
{
    fetcher *f = ud;
    for (int i = 0; i < 5; i++) {
        vp_buf b = VP_BUF_INIT;
        vp_error err;
        if (vp_fetch(f->t->ctx, "azure://me@" AZT_VAULT "/db-password", 20000, &b, NULL, &err) ==
                0 &&
            strcmp(b.data, AZT_SECRET_VALUE) == 0)
            f->ok++;
        vp_buf_free(&b);
    }
    return NULL;
}

/* Many threads hit an expired sign-in at once: one refresh, one rotation, every fetch served. */
static void test_concurrent_refresh(void **state)
{
    lt *l = *state;
    azt *t = &l->t;
    vp_login_result res;
    vp_error err;
    t->browser_mode = AZT_BROWSER_OPEN_URL;
    assert_int_equal(login(l, "me", 0, &res, &err), 0);
    vp_login_result_free(&res);
    detach_vault(l);
    t->clock_offset_ms = 3 * 3600 * 1000LL;
    azt_ctx(t);
    attach_vault(l);
    pthread_t th[8];
    fetcher f[8];
    for (int i = 0; i < 8; i++) {
        f[i] = (fetcher){t, 0};
        assert_int_equal(pthread_create(&th[i], NULL, fetch_many, &f[i]), 0);
    }
    for (int i = 0; i < 8; i++) {
        pthread_join(th[i], NULL);
        assert_int_equal(f[i].ok, 5);
    }
    assert_int_equal(mock_azure_count(t->m, "token:refresh_token"), 1);
    assert_int_equal(mock_azure_live_refresh_tokens(t->m), 1);
    char rt[128];
    stored_field(l, "me", "refresh_token", rt, sizeof(rt));
    assert_true(mock_azure_refresh_token_valid(t->m, rt)); /* the store holds the live one */
}

static void test_revoked_refresh_token(void **state)
{
    lt *l = *state;
    azt *t = &l->t;
    vp_login_result res;
    vp_error err;
    char v[256];
    t->browser_mode = AZT_BROWSER_OPEN_URL;
    assert_int_equal(login(l, "me", 0, &res, &err), 0);
    vp_login_result_free(&res);
    mock_azure_revoke_refresh_tokens(t->m);
    mock_azure_invalidate_access_tokens(t->m);
    assert_int_equal(azt_fetch(t, "azure://me@" AZT_VAULT "/db-password", v, sizeof(v), &err),
                     VP_EAUTH);
    assert_non_null(strstr(err.message, "invalid_grant"));
    assert_non_null(strstr(err.message, "vaultplug login azure"));
}

static void test_device_code(void **state)
{
    lt *l = *state;
    azt *t = &l->t;
    vp_login_result res;
    vp_error err;
    char v[256];
    mock_azure_set_device_script(t->m, "pending,slow_down,ok", 1);
    assert_int_equal(login(l, "headless", 1, &res, &err), 0);
    assert_string_equal(res.account, "alice@contoso.example");
    assert_int_equal(res.stored, 1);
    vp_login_result_free(&res);
    assert_non_null(strstr(t->notices, "YZMYLD4K"));
    assert_non_null(strstr(t->notices, "https://microsoft.com/devicelogin"));
    /* Polling is silent: the user is told it goes on, for how long, and how to stop it. */
    assert_non_null(strstr(t->notices, "code expires in 15 min; Ctrl-C to cancel"));
    assert_int_equal(mock_azure_count(t->m, "token:device_code"), 3);
    assert_int_equal(mock_azure_count(t->m, "authorize"), 0);
    assert_int_equal(azt_fetch(t, "azure://headless@" AZT_VAULT "/db-password", v, sizeof(v), &err),
                     0);
    assert_string_equal(v, AZT_SECRET_VALUE);
}

static void test_device_code_expired_and_declined(void **state)
{
    lt *l = *state;
    azt *t = &l->t;
    vp_login_result res;
    vp_error err;
    mock_azure_set_device_script(t->m, "pending,expired", 1);
    assert_int_equal(login(l, "headless", 1, &res, &err), VP_EAUTH);
    assert_non_null(strstr(err.message, "expired"));
    mock_azure_set_device_script(t->m, "declined", 1);
    assert_int_equal(login(l, "headless", 1, &res, &err), VP_EAUTH);
    assert_non_null(strstr(err.message, "declined"));
    vp_cred_entry *e = NULL;
    assert_int_equal(vp_credstore_get(l->vault, "azure", "headless", &e, &err), VP_ENOTFOUND);
}

static void test_login_without_vault_and_bad_args(void **state)
{
    lt *l = *state;
    azt *t = &l->t;
    vp_login_result res;
    vp_error err;
    char v[256];
    detach_vault(l);
    azt_ctx(t);
    t->browser_mode = AZT_BROWSER_OPEN_URL;
    assert_int_equal(login(l, "session", 0, &res, &err), 0);
    assert_int_equal(res.stored, 0); /* no vault: this session only */
    vp_login_result_free(&res);
    assert_int_equal(azt_fetch(t, "azure://session@" AZT_VAULT "/db-password", v, sizeof(v), &err),
                     0);
    /* a refresh without a store still works for the session */
    mock_azure_invalidate_access_tokens(t->m);
    assert_int_equal(azt_fetch(t, "azure://session@" AZT_VAULT "/db-password", v, sizeof(v), &err),
                     0);

    assert_int_equal(vp_login(t->ctx, "azure", "bad name!", NULL, 0, 1000, &res, &err), VP_EINVAL);
    assert_int_equal(vp_login(t->ctx, "nosuch", "x", NULL, 0, 1000, &res, &err), VP_ENOTFOUND);
    vp_field bad[] = {{"colour", "red"}};
    assert_int_equal(vp_login(t->ctx, "azure", "x", bad, 1, 1000, &res, &err), VP_EINVAL);
    /* a host with no way to show a URL cannot sign in */
    azt_ctx_free(t);
    t->no_ui = 1;
    azt_ctx(t);
    assert_int_equal(vp_login(t->ctx, "azure", "x", NULL, 0, 1000, &res, &err), VP_ENOTSUP);
    azt_ctx_free(t);
    t->no_ui = 0;
    azt_ctx(t);
    /* nobody comes back from the browser: the deadline ends the wait */
    t->browser_mode = AZT_BROWSER_NONE;
    assert_int_equal(vp_login(t->ctx, "azure", "x", NULL, 0, 1500, &res, &err), VP_ETIMEDOUT);
    azt_err(t, &err);
    attach_vault(l);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_browser_flow_end_to_end, setup, teardown),
        cmocka_unit_test_setup_teardown(test_url_shown_when_no_browser, setup, teardown),
        cmocka_unit_test_setup_teardown(test_state_mismatch, setup, teardown),
        cmocka_unit_test_setup_teardown(test_consent_declined, setup, teardown),
        cmocka_unit_test_setup_teardown(test_silent_refresh_and_rotation, setup, teardown),
        cmocka_unit_test_setup_teardown(test_concurrent_refresh, setup, teardown),
        cmocka_unit_test_setup_teardown(test_revoked_refresh_token, setup, teardown),
        cmocka_unit_test_setup_teardown(test_device_code, setup, teardown),
        cmocka_unit_test_setup_teardown(test_device_code_expired_and_declined, setup, teardown),
        cmocka_unit_test_setup_teardown(test_login_without_vault_and_bad_args, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
