/*
 * test_hashicorp_vault - the hashicorp provider (real .so through the real loader) against the
 * Vault mock over HTTP and HTTPS: KV v1/v2 with mount detection, the config form, deleted and
 * destroyed versions, error mapping and retries, token/AppRole/environment credentials,
 * namespaces by header and by path, token renewal and re-login across expiry, and a canary check
 * over every log line and error message of the run.
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
static const char *g_ca; /* CA of the HTTPS mock, NULL for HTTP */

#define TOK_GOOD    "hvs.tok-good-canary-a81f"
#define TOK_LIMITED "hvs.tok-limited-canary-b3c2"
#define TOK_SHORT   "hvs.tok-short-canary-c4d5"
#define TOK_FIXED   "hvs.tok-fixed-canary-d6e7"
#define TOK_BOGUS   "hvs.tok-bogus-canary-1234"
#define SID_RENEW   "s-renew-canary-e8f9"
#define SID_FIXED   "s-fixed-canary-f0a1"
#define SID_WRONG   "s-wrong-canary-2b3c"

static const char *const CANARIES[] = {TOK_GOOD,
                                       TOK_LIMITED,
                                       TOK_SHORT,
                                       TOK_FIXED,
                                       TOK_BOGUS,
                                       SID_RENEW,
                                       SID_FIXED,
                                       SID_WRONG,
                                       "pw-v1-canary-11aa",
                                       "pw-v2-canary-22bb",
                                       "pw-v3-canary-33cc",
                                       "pw-v4-canary-44dd",
                                       "legacy-key-canary-9a7f",
                                       "ns-value-canary-31c4",
                                       "deep-value-canary-77ab",
                                       "multi-mount-canary-0e2d",
                                       NULL};

static const char SEED[] =
    "{\"namespaces\":[\"team1\",\"team1/sub\"],"
    "\"mounts\":[{\"namespace\":\"team1\",\"path\":\"secret\",\"version\":2},"
    "{\"namespace\":\"team1/sub\",\"path\":\"kv\",\"version\":1},"
    "{\"path\":\"pki\",\"type\":\"pki\"},{\"path\":\"apps/kv2\",\"version\":2}],"
    "\"secrets\":["
    "{\"mount\":\"secret\",\"path\":\"myapp\",\"versions\":["
    "{\"data\":{\"password\":\"pw-v1-canary-11aa\",\"user\":\"alice\"}},"
    "{\"data\":{\"password\":\"pw-v2-canary-22bb\"},\"deleted\":true},"
    "{\"data\":{\"password\":\"pw-v3-canary-33cc\"},\"destroyed\":true},"
    "{\"data\":{\"password\":\"pw-v4-canary-44dd\",\"user\":\"alice\",\"port\":5432}}]},"
    "{\"mount\":\"kv\",\"path\":\"legacy\",\"data\":{\"api_key\":\"legacy-key-canary-9a7f\","
    "\"n\":1}},"
    "{\"namespace\":\"team1\",\"mount\":\"secret\",\"path\":\"nsapp\",\"versions\":["
    "{\"data\":{\"token\":\"ns-value-canary-31c4\"}}]},"
    "{\"namespace\":\"team1/sub\",\"mount\":\"kv\",\"path\":\"deep\",\"data\":{\"k\":"
    "\"deep-value-canary-77ab\"}},"
    "{\"mount\":\"apps/kv2\",\"path\":\"db/main\",\"versions\":[{\"data\":{\"pw\":"
    "\"multi-mount-canary-0e2d\"}}]}],"
    "\"tokens\":[{\"token\":\"" TOK_GOOD "\"},"
    "{\"token\":\"" TOK_LIMITED "\",\"paths\":[\"kv/\"]}],"
    "\"approles\":["
    "{\"role_id\":\"r-renew\",\"secret_id\":\"" SID_RENEW "\",\"token_ttl\":60,"
    "\"token_max_ttl\":150,\"renewable\":true},"
    "{\"role_id\":\"r-fixed\",\"secret_id\":\"" SID_FIXED "\",\"token_ttl\":60,"
    "\"renewable\":false},"
    "{\"mount\":\"ci-approle\",\"role_id\":\"r-ci\",\"secret_id\":null,\"token_ttl\":0}]}";

static int setup_group(int tls)
{
    char err[256];
    hcf_clean_env();
    g_m = mock_vault_start(tls, err, sizeof(err));
    if (g_m == NULL) {
        fprintf(stderr, "%s\n", err);
        return -1;
    }
    if (mock_vault_seed_json(g_m, SEED, err, sizeof(err)) != 0) {
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

static const char *addr(void)
{
    return mc_url(mock_vault_server(g_m));
}

/* A context with the token credential "good" (and "limited", "bogus"). */
static vp_ctx *ctx_tokens(void)
{
    vp_ctx *ctx = hcf_ctx(g_ca);
    hcf_cred(ctx, "good", "token", "token", TOK_GOOD, "address", addr(), NULL);
    hcf_cred(ctx, "limited", "token", "token", TOK_LIMITED, "address", addr(), NULL);
    hcf_cred(ctx, "bogus", "token", "token", TOK_BOGUS, "address", addr(), NULL);
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

static void t_kv2_detect(void **state)
{
    (void)state;
    vp_ctx *ctx = ctx_tokens();
    uint64_t mounts0 = mock_vault_count(g_m, MV_COUNT_MOUNTS);
    want_value(ctx, "hashicorp://good@secret/myapp",
               "{\"password\":\"pw-v4-canary-44dd\",\"user\":\"alice\",\"port\":5432}", "4");
    want_value(ctx, "hashicorp://good@secret/myapp#password", "pw-v4-canary-44dd", "4");
    want_value(ctx, "hashicorp://good@secret/myapp?version=1#password", "pw-v1-canary-11aa", "1");
    want_value(ctx, "hashicorp://good@secret/myapp?version=0#port", "5432", "4");
    /* the mount's version was detected once and remembered */
    assert_int_equal(mock_vault_count(g_m, MV_COUNT_MOUNTS) - mounts0, 1);
    /* a two-segment mount is found by detection too */
    want_value(ctx, "hashicorp://good@apps/kv2/db/main#pw", "multi-mount-canary-0e2d", "1");
    vp_ctx_free(ctx);
}

static void t_kv1_detect(void **state)
{
    (void)state;
    vp_ctx *ctx = ctx_tokens();
    want_value(ctx, "hashicorp://good@kv/legacy",
               "{\"api_key\":\"legacy-key-canary-9a7f\",\"n\":1}", "");
    want_value(ctx, "hashicorp://good@kv/legacy#api_key", "legacy-key-canary-9a7f", NULL);
    want_err(ctx, "hashicorp://good@kv/legacy?version=2", VP_EINVAL, "version 1");
    want_err(ctx, "hashicorp://good@pki/issue/x", VP_ENOTSUP, "not a KV");
    vp_ctx_free(ctx);
}

static void t_kv_explicit(void **state)
{
    (void)state;
    vp_ctx *ctx = ctx_tokens();
    uint64_t mounts0 = mock_vault_count(g_m, MV_COUNT_MOUNTS);
    want_value(ctx, "hashicorp://good@db/main?kv=v2&mount=apps/kv2#pw", "multi-mount-canary-0e2d",
               "1");
    want_value(ctx, "hashicorp://good@legacy?kv=v1&mount=kv#api_key", "legacy-key-canary-9a7f",
               NULL);
    /* both KV versions and mounts were given: no detection request */
    assert_int_equal(mock_vault_count(g_m, MV_COUNT_MOUNTS), mounts0);
    /* v2 read as v1 hits the mock's "Invalid path for a versioned K/V" 404 */
    want_err(ctx, "hashicorp://good@myapp?kv=v1&mount=secret", VP_ENOTFOUND, "version 2");
    want_err(ctx, "hashicorp://good@secret/myapp?kv=v3", VP_EINVAL, "v1 or v2");
    want_err(ctx, "hashicorp://good@secret/myapp?colour=blue", VP_EINVAL, "unknown parameter");
    want_err(ctx, "hashicorp://good@justamount", VP_EINVAL, "MOUNT/SECRET");
    vp_ctx_free(ctx);
}

/* A Vault without sys/internal/ui/mounts: the first segment is the mount, KV v1. */
static void t_legacy_mounts(void **state)
{
    (void)state;
    vp_ctx *ctx = ctx_tokens();
    mock_vault_set_legacy_mounts(g_m, 1);
    uint64_t mounts0 = mock_vault_count(g_m, MV_COUNT_MOUNTS);
    want_value(ctx, "hashicorp://good@kv/legacy#api_key", "legacy-key-canary-9a7f", NULL);
    want_value(ctx, "hashicorp://good@kv/legacy#n", "1", NULL);
    /* the 404 was remembered as "v1" too: one lookup for both reads */
    assert_int_equal(mock_vault_count(g_m, MV_COUNT_MOUNTS) - mounts0, 1);
    /* a v2 mount read as v1 on such a server: the versioned-path 404 */
    want_err(ctx, "hashicorp://good@secret/myapp", VP_ENOTFOUND, "version 2");
    mock_vault_set_legacy_mounts(g_m, 0);
    vp_ctx_free(ctx);
}

static void t_config_form(void **state)
{
    (void)state;
    vp_ctx *ctx = ctx_tokens();
    char out[512];
    vp_error err;
    int rc =
        hcf_render(ctx,
                   "a={% vault 'hashicorp', 'good', '{\"kvVersion\":\"v2\",\"secretEnginePath\":"
                   "\"secret\",\"secretName\":\"myapp\",\"secretKey\":\"password\","
                   "\"version\":1}' %} b={% vault 'hashicorp', 'good', '{\"kvVersion\":\"v1\","
                   "\"secretEnginePath\":\"kv\",\"secretName\":\"legacy\",\"secretKey\":"
                   "\"api_key\"}' %} c={% vault 'hashicorp', 'good', '{\"secretEnginePath\":"
                   "\"apps/kv2\",\"secretName\":\"db/main\",\"secretKey\":\"pw\"}' %}",
                   out, sizeof(out), &err);
    if (rc != 0)
        fprintf(stderr, "render: %s\n", err.message);
    assert_int_equal(rc, 0);
    assert_string_equal(out, "a=pw-v1-canary-11aa b=legacy-key-canary-9a7f "
                             "c=multi-mount-canary-0e2d");
    /* no secretKey: the whole data object as JSON */
    rc = hcf_render(ctx,
                    "{% vault 'hashicorp', 'good', '{\"kvVersion\":\"v1\",\"secretEnginePath\":"
                    "\"kv\",\"secretName\":\"legacy\"}' %}",
                    out, sizeof(out), &err);
    assert_int_equal(rc, 0);
    assert_string_equal(out, "{\"api_key\":\"legacy-key-canary-9a7f\",\"n\":1}");
    rc =
        hcf_render(ctx,
                   "{% vault 'hashicorp', 'good', '{\"secretEnginePath\":\"secret\",\"secretName\":"
                   "\"myapp\",\"secretKey\":\"nokey\"}' %}",
                   out, sizeof(out), &err);
    assert_int_equal(rc, VP_ENOTFOUND);
    vp_ctx_free(ctx);
}

static void t_deleted_destroyed(void **state)
{
    (void)state;
    vp_ctx *ctx = ctx_tokens();
    want_err(ctx, "hashicorp://good@secret/myapp?version=2", VP_ENOTFOUND, "was deleted");
    want_err(ctx, "hashicorp://good@secret/myapp?version=3", VP_ENOTFOUND, "was destroyed");
    want_err(ctx, "hashicorp://good@secret/myapp?version=99", VP_ENOTFOUND, "not found");
    want_err(ctx, "hashicorp://good@secret/nothere", VP_ENOTFOUND, "not found");
    want_err(ctx, "hashicorp://good@kv/nothere", VP_ENOTFOUND, "not found");
    vp_ctx_free(ctx);
}

static void t_retryable(void **state)
{
    (void)state;
    vp_ctx *ctx = ctx_tokens();
    char val[256];
    vp_error err;
    want_value(ctx, "hashicorp://good@secret/myapp#user", "alice", NULL); /* warm up */
    mock_vault_set_sealed(g_m, 1);
    want_err(ctx, "hashicorp://good@secret/myapp#user", VP_EUNAVAIL, "sealed");
    mock_vault_set_sealed(g_m, 0);
    mock_vault_fail_next(g_m, "secret/", 429, 1, 1);
    want_err(ctx, "hashicorp://good@secret/myapp#user", VP_ERATELIMIT, "rate limit");
    /* 412 (eventual consistency) once, then success: the resolver retries */
    mock_vault_fail_next(g_m, "secret/", 412, 1, 0);
    assert_int_equal(hcf_resolve(ctx, "hashicorp://good@secret/myapp?version=1#password", val,
                                 sizeof(val), &err),
                     0);
    assert_string_equal(val, "pw-v1-canary-11aa");
    mock_vault_fail_next(g_m, "kv/", 503, 1, 0);
    assert_int_equal(hcf_resolve(ctx, "hashicorp://good@kv/legacy#n", val, sizeof(val), &err), 0);
    assert_string_equal(val, "1");
    /* garbage body and a reset connection */
    mc_fault f = {MC_FAULT_GARBAGE, "/v1/secret/", 1, 0, 200, 0, 0};
    assert_int_equal(mc_fault_add(mock_vault_server(g_m), &f), 0);
    want_err(ctx, "hashicorp://good@secret/myapp#user", VP_EPROTO, NULL);
    /* every attempt reset (libcurl itself retries once on a reused connection) */
    mc_fault r = {MC_FAULT_RESET, "/v1/secret/", 0, 0, 0, 0, 0};
    assert_int_equal(mc_fault_add(mock_vault_server(g_m), &r), 0);
    want_err(ctx, "hashicorp://good@secret/myapp#user", VP_ENETWORK, NULL);
    mc_fault_clear(mock_vault_server(g_m));
    vp_ctx_free(ctx);
}

static void t_perm_vs_auth(void **state)
{
    (void)state;
    vp_ctx *ctx = ctx_tokens();
    vp_error err;
    want_value(ctx, "hashicorp://limited@kv/legacy#api_key", "legacy-key-canary-9a7f", NULL);
    want_err(ctx, "hashicorp://limited@secret/myapp", VP_EPERM, "permission denied");
    want_err(ctx, "hashicorp://bogus@secret/myapp", VP_EAUTH, "rejected the token");
    assert_int_equal(vp_validate(ctx, "hashicorp", "good", 10000, &err), 0);
    assert_int_equal(vp_validate(ctx, "hashicorp", "bogus", 10000, &err), VP_EAUTH);
    vp_ctx_free(ctx);
}

static void t_approle(void **state)
{
    (void)state;
    vp_ctx *ctx = hcf_ctx(g_ca);
    vp_error err;
    hcf_cred(ctx, "ci", "appRole", "role_id", "r-ci", "mount", "ci-approle", "address", addr(),
             NULL);
    hcf_cred(ctx, "wrong", "appRole", "role_id", "r-renew", "secret_id", SID_WRONG, "address",
             addr(), NULL);
    uint64_t l0 = mock_vault_count(g_m, MV_COUNT_LOGIN);
    want_value(ctx, "hashicorp://ci@secret/myapp#user", "alice", NULL);
    want_value(ctx, "hashicorp://ci@kv/legacy#n", "1", NULL);
    want_value(ctx, "hashicorp://ci@secret/myapp?version=1#user", "alice", NULL);
    assert_int_equal(mock_vault_count(g_m, MV_COUNT_LOGIN) - l0, 1);
    /* the server revokes the token: the provider logs in again without failing the fetch */
    mock_vault_revoke_issued(g_m);
    want_value(ctx, "hashicorp://ci@secret/myapp#user", "alice", NULL);
    assert_int_equal(mock_vault_count(g_m, MV_COUNT_LOGIN) - l0, 2);
    want_err(ctx, "hashicorp://wrong@secret/myapp", VP_EAUTH, "AppRole login");
    assert_int_equal(vp_validate(ctx, "hashicorp", "ci", 10000, &err), 0);
    assert_int_equal(vp_validate(ctx, "hashicorp", "wrong", 10000, &err), VP_EAUTH);
    vp_ctx_free(ctx);
}

/* Both clocks (mock and provider) move together. */
static void advance(int64_t s)
{
    mock_vault_advance(g_m, s);
    hcf_advance(s);
}

static void t_token_lifetime_long(void **state)
{
    (void)state;
    vp_ctx *ctx = hcf_ctx(g_ca);
    hcf_cred(ctx, "renew", "appRole", "role_id", "r-renew", "secret_id", SID_RENEW, "address",
             addr(), NULL);
    uint64_t l0 = mock_vault_count(g_m, MV_COUNT_LOGIN), r0 = mock_vault_count(g_m, MV_COUNT_RENEW);
    /* ~5 minutes of a long-running host with a 60 s token capped at 150 s: every fetch works;
     * the token is renewed while it can be and replaced when its max TTL runs out */
    for (int i = 0; i < 12; i++) {
        want_value(ctx, "hashicorp://renew@secret/myapp#user", "alice", NULL);
        advance(25);
    }
    assert_true(mock_vault_count(g_m, MV_COUNT_RENEW) - r0 >= 2);
    assert_true(mock_vault_count(g_m, MV_COUNT_LOGIN) - l0 >= 2);

    /* a given renewable token is renewed before it expires (seeded now: its TTL runs from
     * the mock's current time) */
    char err[128];
    assert_int_equal(mock_vault_seed_json(g_m,
                                          "{\"tokens\":[{\"token\":\"" TOK_SHORT
                                          "\",\"ttl\":60,\"renewable\":true}]}",
                                          err, sizeof(err)),
                     0);
    hcf_cred(ctx, "short", "token", "token", TOK_SHORT, "address", addr(), NULL);
    want_value(ctx, "hashicorp://short@secret/myapp#user", "alice", NULL);
    r0 = mock_vault_count(g_m, MV_COUNT_RENEW);
    for (int i = 0; i < 4; i++) {
        advance(45);
        want_value(ctx, "hashicorp://short@secret/myapp#user", "alice", NULL);
    }
    assert_int_equal(mock_vault_count(g_m, MV_COUNT_RENEW) - r0, 4);
    vp_ctx_free(ctx);
}

static void t_token_nonrenewable(void **state)
{
    (void)state;
    char err[128];
    assert_int_equal(mock_vault_seed_json(g_m,
                                          "{\"tokens\":[{\"token\":\"" TOK_FIXED
                                          "\",\"ttl\":60,\"renewable\":false}]}",
                                          err, sizeof(err)),
                     0);
    vp_ctx *ctx = hcf_ctx(g_ca);
    hcf_cred(ctx, "fixed", "appRole", "role_id", "r-fixed", "secret_id", SID_FIXED, "address",
             addr(), NULL);
    hcf_cred(ctx, "ftok", "token", "token", TOK_FIXED, "address", addr(), NULL);
    uint64_t l0 = mock_vault_count(g_m, MV_COUNT_LOGIN);
    want_value(ctx, "hashicorp://fixed@secret/myapp#user", "alice", NULL);
    want_value(ctx, "hashicorp://ftok@secret/myapp#user", "alice", NULL);
    advance(50);
    /* the AppRole token cannot be renewed: a new login before it expires */
    want_value(ctx, "hashicorp://fixed@secret/myapp#user", "alice", NULL);
    assert_int_equal(mock_vault_count(g_m, MV_COUNT_LOGIN) - l0, 2);
    uint64_t d0 = mock_vault_count(g_m, MV_COUNT_DENIED);
    advance(20);
    /* the given token expired: a clear authentication error without a request */
    want_err(ctx, "hashicorp://ftok@secret/myapp#user", VP_EAUTH, "expired");
    assert_int_equal(mock_vault_count(g_m, MV_COUNT_DENIED), d0);
    vp_ctx_free(ctx);
}

static void t_namespaces(void **state)
{
    (void)state;
    vp_ctx *ctx = hcf_ctx(g_ca);
    hcf_cred(ctx, "hdr", "token", "token", TOK_GOOD, "address", addr(), "namespace", "team1", NULL);
    hcf_cred(ctx, "pfx", "token", "token", TOK_GOOD, "address", addr(), "namespace", "/team1/",
             "send_namespace_via_header", "false", NULL);
    uint64_t h0 = mock_vault_count(g_m, MV_COUNT_NS_HEADER);
    uint64_t p0 = mock_vault_count(g_m, MV_COUNT_NS_PATH);
    want_value(ctx, "hashicorp://hdr@secret/nsapp#token", "ns-value-canary-31c4", "1");
    assert_true(mock_vault_count(g_m, MV_COUNT_NS_HEADER) > h0);
    assert_int_equal(mock_vault_count(g_m, MV_COUNT_NS_PATH), p0);
    h0 = mock_vault_count(g_m, MV_COUNT_NS_HEADER);
    want_value(ctx, "hashicorp://pfx@secret/nsapp#token", "ns-value-canary-31c4", "1");
    assert_true(mock_vault_count(g_m, MV_COUNT_NS_PATH) > p0);
    assert_int_equal(mock_vault_count(g_m, MV_COUNT_NS_HEADER), h0);
    /* a per-reference namespace; header and path combine on the server */
    want_value(ctx, "hashicorp://hdr@kv/deep?namespace=team1/sub#k", "deep-value-canary-77ab",
               NULL);
    want_value(ctx, "hashicorp://pfx@kv/deep?namespace=team1/sub#k", "deep-value-canary-77ab",
               NULL);
    /* the root namespace does not have the secret */
    hcf_cred(ctx, "root", "token", "token", TOK_GOOD, "address", addr(), NULL);
    want_err(ctx, "hashicorp://root@secret/nsapp", VP_ENOTFOUND, NULL);
    vp_ctx_free(ctx);
}

static void t_env_chain(void **state)
{
    (void)state;
    const char *home = hcf_clean_env();
    vp_ctx *ctx;
    setenv("VAULT_ADDR", addr(), 1);
    if (g_ca != NULL)
        setenv("VAULT_CACERT", g_ca, 1);
    /* no credentials at all: a clear authentication error */
    ctx = hcf_ctx(NULL);
    want_err(ctx, "hashicorp://secret/myapp", VP_EAUTH, "VAULT_TOKEN");
    vp_ctx_free(ctx);
    /* VAULT_TOKEN (and VAULT_CACERT instead of the context's CA for HTTPS) */
    setenv("VAULT_TOKEN", TOK_GOOD, 1);
    ctx = hcf_ctx(NULL);
    want_value(ctx, "hashicorp://secret/myapp#password", "pw-v4-canary-44dd", "4");
    vp_ctx_free(ctx);
    unsetenv("VAULT_TOKEN");
    /* Inso's variables: INSOMNIA_HASHICORP_TYPE=onPrem with a token */
    setenv("INSOMNIA_HASHICORP_TYPE", "onPrem", 1);
    setenv("INSOMNIA_HASHICORP_AUTHMETHOD", "token", 1);
    setenv("INSOMNIA_HASHICORP_SERVERADDRESS", addr(), 1);
    setenv("INSOMNIA_HASHICORP_ACCESS_TOKEN", TOK_GOOD, 1);
    ctx = hcf_ctx(NULL);
    want_value(ctx, "hashicorp://kv/legacy#n", "1", NULL);
    vp_ctx_free(ctx);
    unsetenv("INSOMNIA_HASHICORP_TYPE");
    unsetenv("INSOMNIA_HASHICORP_AUTHMETHOD");
    unsetenv("INSOMNIA_HASHICORP_SERVERADDRESS");
    unsetenv("INSOMNIA_HASHICORP_ACCESS_TOKEN");
    /* the CLI's token file, whitespace trimmed */
    char path[512];
    snprintf(path, sizeof(path), "%s/.vault-token", home);
    FILE *f = fopen(path, "w");
    assert_non_null(f);
    fprintf(f, "  %s\n\n", TOK_GOOD);
    fclose(f);
    ctx = hcf_ctx(NULL);
    want_value(ctx, "hashicorp://secret/myapp?version=1#password", "pw-v1-canary-11aa", "1");
    vp_error err;
    assert_int_equal(vp_validate(ctx, "hashicorp", "", 10000, &err), 0);
    vp_ctx_free(ctx);
    remove(path);
    /* VAULT_NAMESPACE */
    setenv("VAULT_TOKEN", TOK_GOOD, 1);
    setenv("VAULT_NAMESPACE", "team1", 1);
    ctx = hcf_ctx(NULL);
    want_value(ctx, "hashicorp://secret/nsapp#token", "ns-value-canary-31c4", NULL);
    vp_ctx_free(ctx);
    unsetenv("VAULT_NAMESPACE");
    /* AppRole through Inso's variables (TYPE=onPrem, AUTHMETHOD=appRole) */
    unsetenv("VAULT_TOKEN");
    setenv("INSOMNIA_HASHICORP_TYPE", "onPrem", 1);
    setenv("INSOMNIA_HASHICORP_AUTHMETHOD", "appRole", 1);
    setenv("INSOMNIA_HASHICORP_SERVERADDRESS", addr(), 1);
    setenv("INSOMNIA_HASHICORP_ROLE_ID", "r-renew", 1);
    setenv("INSOMNIA_HASHICORP_SECRET_ID", SID_RENEW, 1);
    ctx = hcf_ctx(NULL);
    want_value(ctx, "hashicorp://secret/myapp#user", "alice", NULL);
    vp_ctx_free(ctx);
    unsetenv("INSOMNIA_HASHICORP_TYPE");
    unsetenv("INSOMNIA_HASHICORP_AUTHMETHOD");
    unsetenv("INSOMNIA_HASHICORP_SERVERADDRESS");
    unsetenv("INSOMNIA_HASHICORP_ROLE_ID");
    unsetenv("INSOMNIA_HASHICORP_SECRET_ID");
    if (g_ca != NULL) {
        /* without any CA the TLS handshake fails; VAULT_SKIP_VERIFY works, with a warning */
        setenv("VAULT_TOKEN", TOK_GOOD, 1);
        unsetenv("VAULT_CACERT");
        ctx = hcf_ctx(NULL);
        int rc = hcf_err(ctx, "hashicorp://kv/legacy#n", &err);
        assert_true(rc == VP_ENETWORK || rc == VP_EAUTH || rc == VP_EPROTO);
        vp_ctx_free(ctx);
        setenv("VAULT_SKIP_VERIFY", "true", 1);
        size_t off = strlen(hcf_log());
        ctx = hcf_ctx(NULL);
        want_value(ctx, "hashicorp://kv/legacy#n", "1", NULL);
        vp_ctx_free(ctx);
        assert_non_null(strstr(hcf_log() + off, "verif"));
        unsetenv("VAULT_SKIP_VERIFY");
    }
    hcf_clean_env();
}

static void t_cred_errors(void **state)
{
    (void)state;
    vp_ctx *ctx = hcf_ctx(g_ca);
    hcf_cred(ctx, "typo", "token", "token", TOK_GOOD, "tokn", TOK_GOOD, NULL);
    hcf_cred(ctx, "hcpcred", "cloud", "client_id", "x", "client_secret", "y-secret-value", NULL);
    hcf_cred(ctx, "badaddr", "token", "token", TOK_GOOD, "address", "ftp://x", NULL);
    vp_error err;
    int rc = hcf_err(ctx, "hashicorp://typo@secret/myapp", &err);
    assert_int_equal(rc, VP_EINVAL);
    want_err(ctx, "hashicorp://hcpcred@secret/myapp", VP_EINVAL, "type 'cloud'");
    want_err(ctx, "hashicorp://badaddr@secret/myapp", VP_EINVAL, "http");
    vp_ctx_free(ctx);
}

/* Last test of a group: nothing secret reached any log line or error message. */
static void t_canary(void **state)
{
    (void)state;
    assert_true(strlen(hcf_log()) > 0);
    assert_true(strlen(hcf_messages()) > 0);
    for (size_t i = 0; CANARIES[i]; i++)
        hcf_assert_no_leak(CANARIES[i]);
    hcf_assert_no_leak(mock_vault_root_token(g_m));
}

#define TESTS                                                                   \
    cmocka_unit_test(t_kv2_detect), cmocka_unit_test(t_kv1_detect),             \
        cmocka_unit_test(t_kv_explicit), cmocka_unit_test(t_legacy_mounts),     \
        cmocka_unit_test(t_config_form), cmocka_unit_test(t_deleted_destroyed), \
        cmocka_unit_test(t_retryable), cmocka_unit_test(t_perm_vs_auth),        \
        cmocka_unit_test(t_approle), cmocka_unit_test(t_token_lifetime_long),   \
        cmocka_unit_test(t_token_nonrenewable), cmocka_unit_test(t_namespaces), \
        cmocka_unit_test(t_env_chain), cmocka_unit_test(t_cred_errors), cmocka_unit_test(t_canary)

int main(void)
{
    const struct CMUnitTest tests[] = {TESTS};
    int rc = cmocka_run_group_tests_name("vault_http", tests, setup_http, teardown_group);
    if (mc_tls_supported())
        rc |= cmocka_run_group_tests_name("vault_https", tests, setup_https, teardown_group);
    return rc;
}
