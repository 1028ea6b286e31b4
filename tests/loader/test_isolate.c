/*
 * test_isolate - isolate_providers through the public shared library (the helper process is
 * found next to libvaultplug.so): a provider whose fetch or init crashes fails its reference
 * with the signal and is restarted for the next one; a fetch that ignores its deadline has its
 * helper killed; credentials reach the helper and a replaced one is sent again.
 */
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <time.h>

#include <cmocka.h>

#include <vaultplug/vaultplug.h>

#include "mockcloud.h"

/* What a crash in the provider looks like: SIGSEGV named in the message. Sanitizers catch the
 * signal and end the helper their own way (SIGABRT, or an exit status), so under them only
 * the provider and the operation are checked. */
#if defined(__SANITIZE_THREAD__) || defined(__SANITIZE_ADDRESS__)
#define CRASHED(name, what) name ": "
#else
#define CRASHED(name, what) \
    name ": the provider crashed during " what " (signal 11, Segmentation fault)"
#endif

static int64_t now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static vp_ctx *iso_ctx_opt(int isolate);

static vp_ctx *iso_ctx(void)
{
    return iso_ctx_opt(1);
}

static vp_ctx *iso_ctx_opt(int isolate)
{
    static const char *const dirs[] = {LT_MODS_DIR, LT_BROKEN_DIR, NULL};
    static const char *const enabled[] = {"ltgood", "ltfetchsegv", "ltfetchhang", "ltinitsegv",
                                          NULL};
    vp_options o;
    vp_options_init(&o);
    o.plugin_dirs = dirs;
    o.enabled_providers = enabled;
    o.ignore_env_plugin_path = 1;
    o.no_default_plugin_dir = 1;
    o.http_timeout_ms = 400;
    o.retry_attempts = 1;
    o.isolate_providers = isolate;
    vp_ctx *ctx = NULL;
    vp_error err;
    if (vp_ctx_new(&o, &ctx, &err) != 0)
        fail_msg("vp_ctx_new: %s", err.message);
    return ctx;
}

static void fetch_ok(vp_ctx *ctx, const char *uri, const char *want)
{
    vp_buf out = VP_BUF_INIT;
    vp_error err;
    int rc = vp_fetch(ctx, uri, 0, &out, NULL, &err);
    if (rc != 0)
        fail_msg("fetch %s: %d %s", uri, rc, err.message);
    assert_string_equal(out.data, want);
    vp_buf_free(&out);
}

static void fetch_err(vp_ctx *ctx, const char *uri, int code, const char *needle)
{
    vp_buf out = VP_BUF_INIT;
    vp_error err;
    int rc = vp_fetch(ctx, uri, 0, &out, NULL, &err);
    if (rc != code)
        fail_msg("fetch %s: %d (%s), want %d", uri, rc, err.message, code);
    if (strstr(err.message, needle) == NULL)
        fail_msg("fetch %s: message '%s' lacks '%s'", uri, err.message, needle);
    assert_null(out.data);
}

static void test_crash_restart(void **state)
{
    (void)state;
    vp_ctx *ctx = iso_ctx();
    fetch_ok(ctx, "ltfetchsegv://ok", "ok");
    fetch_err(ctx, "ltfetchsegv://boom", VP_EUNAVAIL, CRASHED("ltfetchsegv", "fetch"));
    fetch_ok(ctx, "ltfetchsegv://ok", "ok"); /* a new helper */
    fetch_err(ctx, "ltfetchsegv://boom", VP_EUNAVAIL, "restarts for the next reference");
    fetch_ok(ctx, "ltfetchsegv://ok", "ok");
    fetch_err(ctx, "ltinitsegv://x", VP_EUNAVAIL, CRASHED("ltinitsegv", "init"));
    vp_error err;
    assert_int_equal(vp_provider_check(ctx, "ltinitsegv", &err), VP_EUNAVAIL);
    assert_int_equal(vp_provider_check(ctx, "ltgood", &err), 0);
    fetch_ok(ctx, "ltgood://a/b", "a/b");
    vp_ctx_free(ctx);
}

static void test_deadline_kills_helper(void **state)
{
    (void)state;
    vp_ctx *ctx = iso_ctx();
    vp_buf out = VP_BUF_INIT;
    vp_error err;
    int64_t t0 = now_ms();
    assert_int_equal(vp_resolve(ctx, "ltfetchhang://stuck", 300, &out, &err), VP_ETIMEDOUT);
    assert_true(now_ms() - t0 < 2000);
    assert_non_null(strstr(err.message, "ltfetchhang: fetch did not finish by its deadline"));
    assert_non_null(strstr(err.message, "restarts for the next reference"));
    assert_int_equal(vp_resolve(ctx, "ltfetchhang://ok", 300, &out, &err), 0);
    assert_string_equal(out.data, "ok");
    vp_buf_free(&out);
    t0 = now_ms();
    vp_ctx_free(ctx);
    assert_true(now_ms() - t0 < 1000);
}

static void test_credentials_cross(void **state)
{
    (void)state;
    vp_ctx *ctx = iso_ctx();
    vp_field f1[] = {{"user", "alice"}, {"password", "s3cret-canary"}};
    vp_cred_spec c1 = {"prod", "basic", f1, 2};
    vp_error err;
    assert_int_equal(vp_cred_set(ctx, "ltgood", &c1, &err), 0);
    fetch_ok(ctx, "ltgood://prod@whoami", "user=alice cred=prod");
    fetch_ok(ctx, "ltgood://prod@whoami", "user=alice cred=prod");
    /* prod's instance once (not per fetch: the credential is sent once), plus the default's. */
    fetch_ok(ctx, "ltgood://stats", "configures=2");
    vp_field f2[] = {{"user", "bob"}, {"password", "other-canary"}};
    vp_cred_spec c2 = {"prod", "basic", f2, 2};
    assert_int_equal(vp_cred_set(ctx, "ltgood", &c2, &err), 0);
    fetch_ok(ctx, "ltgood://prod@whoami", "user=bob cred=prod");
    fetch_ok(ctx, "ltgood://stats", "configures=3");
    /* The helper's messages are redacted by its own library, which knows the password. */
    fetch_err(ctx, "ltgood://prod@leak", VP_EAUTH, "password [REDACTED] rejected");
    fetch_err(ctx, "ltgood://nobody@whoami", VP_ENOTFOUND, "no credential named nobody");
    assert_int_equal(vp_validate(ctx, "ltgood", "prod", 0, &err), 0);
    vp_ctx_free(ctx);
}

typedef struct racer {
    vp_ctx *ctx;
    const char *uri;
    uint32_t timeout_ms;
    int rc;
    int64_t ms;
    int busy; /* the message says it waited behind another reference */
} racer;

static void *race(void *arg)
{
    racer *r = arg;
    vp_buf out = VP_BUF_INIT;
    vp_error err;
    int64_t t0 = now_ms();
    r->rc = vp_resolve(r->ctx, r->uri, r->timeout_ms, &out, &err);
    r->ms = now_ms() - t0;
    r->busy = strstr(err.message, "busy with another reference") != NULL;
    vp_buf_free(&out);
    return NULL;
}

/* The helper serves one reference at a time: a reference waiting behind a stuck one still
 * returns by its own deadline, and does not start (and kill) a helper for nothing. */
static void test_busy_helper_keeps_deadlines(void **state)
{
    (void)state;
    vp_ctx *ctx = iso_ctx();
    racer r[3] = {{ctx, "ltfetchhang://a", 400, 0, 0, 0},
                  {ctx, "ltfetchhang://b", 200, 0, 0, 0},
                  {ctx, "ltfetchhang://c", 200, 0, 0, 0}};
    pthread_t th[3];
    /* a first; b and c, with earlier deadlines, queue behind it. */
    assert_int_equal(pthread_create(&th[0], NULL, race, &r[0]), 0);
    nanosleep(&(struct timespec){0, 100 * 1000000L}, NULL);
    for (int i = 1; i < 3; i++)
        assert_int_equal(pthread_create(&th[i], NULL, race, &r[i]), 0);
    int busy = 0;
    for (int i = 0; i < 3; i++) {
        pthread_join(th[i], NULL);
        assert_int_equal(r[i].rc, VP_ETIMEDOUT);
        assert_true(r[i].ms < 2000);
        busy += r[i].busy;
    }
    assert_int_equal(busy, 2); /* a ran (and had its helper killed), b and c waited */
    assert_false(r[0].busy);
    fetch_ok(ctx, "ltfetchhang://ok", "ok");
    vp_ctx_free(ctx);
}

/* The administrator's isolate_providers, and a host's -1 under allow_host_override or not:
 * a hanging fetch says which way it ran (killed helper, or abandoned in-process call). */
static void admin_case(const char *json, int host, const char *needle)
{
    char path[] = "/tmp/vp-isolate-admin-XXXXXX";
    int fd = mkstemp(path);
    assert_true(fd >= 0);
    assert_int_equal(write(fd, json, strlen(json)), (ssize_t)strlen(json));
    close(fd);
    setenv("VAULTPLUG_SYSTEM_CONFIG", path, 1);
    vp_ctx *ctx = iso_ctx_opt(host);
    fetch_err(ctx, "ltfetchhang://x", VP_ETIMEDOUT, needle);
    vp_ctx_free(ctx);
    unlink(path);
    setenv("VAULTPLUG_SYSTEM_CONFIG", "/nonexistent/vaultplug-config.json", 1);
}

static void test_admin_policy(void **state)
{
    (void)state;
    admin_case("{\"isolate_providers\": true}", 0, "helper process was stopped");
    admin_case("{\"isolate_providers\": true}", -1, "helper process was stopped");
    admin_case("{\"isolate_providers\": true, \"allow_host_override\": true}", -1,
               "ignored cancellation");
    admin_case("{}", 1, "helper process was stopped");
    admin_case("{}", 0, "ignored cancellation");
}

static void h_secret(void *ud, const mc_request *req, mc_response *resp)
{
    (void)ud;
    resp->status = 200;
    mc_resp_bodyf(resp, "tls-%s", req->path);
}

/* The host's HTTP options reach the helper: rtmock over HTTPS trusts the mock's CA only
 * through vp_options.ca_file. */
static void test_http_options_reach_helper(void **state)
{
    (void)state;
    if (!mc_tls_supported())
        skip();
    char ca[] = "/tmp/vp-isolate-ca-XXXXXX";
    int fd = mkstemp(ca);
    assert_true(fd >= 0);
    close(fd);
    mc_options mo = {.tls = 1, .ca_out = ca};
    mc_server *srv = mc_start(&mo);
    assert_non_null(srv);
    mc_route(srv, "GET", "/secret/", h_secret, NULL);
    setenv("RT_MOCK_BASE", mc_url(srv), 1);
    static const char *const dirs[] = {RT_MODS_DIR, NULL};
    static const char *const enabled[] = {"rtmock", NULL};
    for (int with_ca = 0; with_ca < 2; with_ca++) {
        vp_options o;
        vp_options_init(&o);
        o.plugin_dirs = dirs;
        o.enabled_providers = enabled;
        o.ignore_env_plugin_path = 1;
        o.no_default_plugin_dir = 1;
        o.isolate_providers = 1;
        o.retry_attempts = 1;
        o.ca_file = with_ca ? ca : NULL;
        vp_ctx *ctx = NULL;
        vp_error err;
        assert_int_equal(vp_ctx_new(&o, &ctx, &err), 0);
        vp_buf out = VP_BUF_INIT;
        int rc = vp_fetch(ctx, "rtmock://x", 5000, &out, NULL, &err);
        if (with_ca) {
            if (rc != 0)
                fail_msg("fetch with the CA: %s", err.message);
            assert_string_equal(out.data, "tls-/secret/x");
        } else {
            assert_int_not_equal(rc, 0); /* the system store does not know the mock's CA */
        }
        vp_buf_free(&out);
        vp_ctx_free(ctx);
    }
    unsetenv("RT_MOCK_BASE");
    mc_stop(srv);
    unlink(ca);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_crash_restart),
        cmocka_unit_test(test_deadline_kills_helper),
        cmocka_unit_test(test_credentials_cross),
        cmocka_unit_test(test_busy_helper_keeps_deadlines),
        cmocka_unit_test(test_admin_policy),
        cmocka_unit_test(test_http_options_reach_helper),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
