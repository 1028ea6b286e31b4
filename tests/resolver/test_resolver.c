/*
 * Resolver and cache: hits, misses and expiry on an injected clock, provider TTLs, JSON keys
 * sharing one entry, per-provider reset, LRU bounds, singleflight (64 threads, one upstream
 * request), retries with Retry-After and deadlines, stale-if-error, negative caching, rendering
 * through the resolver (both tag forms), a multi-threaded stress with resets (for TSan), and
 * fork() after a render (the child may not use the parent's context; a new one works).
 */
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#include "mockcloud.h"
#include "vaultplug/vaultplug.h"

static mc_server *g_srv;
static int g_route;
static atomic_uint g_seq;
static _Atomic int64_t g_now_ms = 1000000;

static int64_t test_clock(void *ud)
{
    (void)ud;
    return atomic_load(&g_now_ms);
}

/* GET /secret/<path>: "missing/..." 404, "json/..." a JSON object, else "v<seq>:<path>" (a
 * new value per request, so a refetch is visible). */
static void h_secret(void *ud, const mc_request *req, mc_response *resp)
{
    (void)ud;
    const char *path = req->path + strlen("/secret/");
    unsigned n = atomic_fetch_add(&g_seq, 1) + 1;
    if (strncmp(path, "missing", 7) == 0)
        mc_resp_json(resp, 404, "{\"error\":\"not found\"}");
    else if (strncmp(path, "json", 4) == 0)
        mc_resp_json(resp, 200, "{\"user\":\"u%u\",\"password\":\"p%u\"}", n, n);
    else {
        resp->status = 200;
        mc_resp_bodyf(resp, "v%u:%s", n, path);
    }
}

/* GET /batch/<p1>,<p2>,...: {"p1":"b<seq>:p1",...}, "missing..." names left out. */
static int g_batch_route;
static void h_batch(void *ud, const mc_request *req, mc_response *resp)
{
    (void)ud;
    char names[2048];
    snprintf(names, sizeof(names), "%s", req->path + strlen("/batch/"));
    unsigned n = atomic_fetch_add(&g_seq, 1) + 1;
    char body[8192] = "{";
    char *save = NULL;
    for (char *t = strtok_r(names, ",", &save); t; t = strtok_r(NULL, ",", &save)) {
        if (strncmp(t, "missing", 7) == 0)
            continue;
        snprintf(body + strlen(body), sizeof(body) - strlen(body), "%s\"%s\":\"b%u:%s\"",
                 body[1] ? "," : "", t, n, t);
    }
    strcat(body, "}");
    mc_resp_json(resp, 200, "%s", body);
}

static uint64_t upstream(void)
{
    return mc_route_count(g_srv, g_route);
}

static int group_setup(void **state)
{
    (void)state;
    g_srv = mc_start(NULL);
    if (g_srv == NULL)
        return -1;
    g_route = mc_route(g_srv, "GET", "/secret/", h_secret, NULL);
    g_batch_route = mc_route(g_srv, "GET", "/batch/", h_batch, NULL);
    setenv("RT_MOCK_BASE", mc_url(g_srv), 1);
    return 0;
}

static int group_teardown(void **state)
{
    (void)state;
    mc_stop(g_srv);
    return 0;
}

static const char *const g_dirs[] = {RT_MODS_DIR, VP_BUILD_PROVIDER_DIR, NULL};
static const char *const g_enabled[] = {"rtmock", "rtbatch", "echo", NULL};

static vp_ctx *new_ctx(vp_options *o, int fake_clock)
{
    o->plugin_dirs = g_dirs;
    o->enabled_providers = g_enabled;
    o->ignore_env_plugin_path = 1;
    o->no_default_plugin_dir = 1;
    if (fake_clock) {
        o->wall_clock_ms = test_clock;
        o->monotonic_clock_ms = test_clock;
    }
    vp_ctx *ctx = NULL;
    vp_error err;
    int rc = vp_ctx_new(o, &ctx, &err);
    if (rc != 0)
        fprintf(stderr, "vp_ctx_new: %s\n", err.message);
    assert_int_equal(rc, 0);
    assert_int_equal(vp_provider_check(ctx, "rtmock", &err), 0);
    mc_fault_clear(g_srv);
    mc_reset_counters(g_srv);
    return ctx;
}

/* Resolve uri, expecting success; returns a malloc'd copy of the value. */
static char *get(vp_ctx *ctx, const char *uri)
{
    vp_buf out = VP_BUF_INIT;
    vp_error err;
    int rc = vp_resolve(ctx, uri, 0, &out, &err);
    if (rc != 0)
        fprintf(stderr, "vp_resolve %s: %s\n", uri, err.message);
    assert_int_equal(rc, 0);
    char *s = strndup(out.data, out.len);
    vp_buf_free(&out);
    return s;
}

static int get_err(vp_ctx *ctx, const char *uri, uint32_t timeout_ms, vp_error *err)
{
    vp_buf out = VP_BUF_INIT;
    int rc = vp_resolve(ctx, uri, timeout_ms, &out, err);
    assert_null(out.data);
    return rc;
}

static void test_hit_miss_expiry(void **state)
{
    (void)state;
    vp_options o;
    vp_options_init(&o);
    vp_ctx *ctx = new_ctx(&o, 1);
    assert_int_equal(vp_cache_set_ttl(ctx, NULL, 60), 0);
    char *a = get(ctx, "rtmock://k1");
    assert_int_equal(upstream(), 1);
    char *b = get(ctx, "rtmock://k1");
    assert_int_equal(upstream(), 1);
    assert_string_equal(a, b);
    /* another spelling of the same reference: same entry */
    free(b);
    b = get(ctx, "RTMOCK://%6B1");
    assert_string_equal(a, b);
    assert_int_equal(upstream(), 1);
    free(b);
    atomic_fetch_add(&g_now_ms, 59000);
    b = get(ctx, "rtmock://k1");
    assert_string_equal(a, b);
    assert_int_equal(upstream(), 1);
    free(b);
    atomic_fetch_add(&g_now_ms, 2000); /* past 60 s */
    b = get(ctx, "rtmock://k1");
    assert_string_not_equal(a, b);
    assert_int_equal(upstream(), 2);
    free(a);
    free(b);

    /* the provider's TTL wins when shorter */
    a = get(ctx, "rtmock://k2?ttl=5");
    atomic_fetch_add(&g_now_ms, 4000);
    b = get(ctx, "rtmock://k2?ttl=5");
    assert_string_equal(a, b);
    atomic_fetch_add(&g_now_ms, 2000);
    free(b);
    b = get(ctx, "rtmock://k2?ttl=5");
    assert_string_not_equal(a, b);
    free(a);
    free(b);

    /* TTL 0 disables caching; per-provider override */
    assert_int_equal(vp_cache_set_ttl(ctx, "rtmock", 0), 0);
    mc_reset_counters(g_srv);
    free(get(ctx, "rtmock://k3"));
    free(get(ctx, "rtmock://k3"));
    assert_int_equal(upstream(), 2);
    assert_int_equal(vp_cache_set_ttl(ctx, "rtmock", -1), 0);
    assert_int_equal(vp_cache_set_ttl(ctx, NULL, 720 * 60 + 1), VP_EINVAL);
    assert_int_equal(vp_cache_set_ttl(ctx, "nope", 10), VP_ENOTFOUND);

    vp_cache_stats st;
    assert_int_equal(vp_cache_stats_get(ctx, "rtmock", &st), 0);
    assert_true(st.hits >= 4);
    assert_true(st.misses >= 5);
    assert_int_equal(st.fetches, st.misses);
    assert_int_equal(st.errors, 0);
    vp_ctx_free(ctx);
}

static void test_json_keys_share_entry(void **state)
{
    (void)state;
    vp_options o;
    vp_options_init(&o);
    vp_ctx *ctx = new_ctx(&o, 1);
    char *u = get(ctx, "rtmock://json/db#user");
    char *p = get(ctx, "rtmock://json/db#password");
    char *whole = get(ctx, "rtmock://json/db");
    assert_int_equal(upstream(), 1);
    assert_int_equal(u[0], 'u');
    assert_int_equal(p[0], 'p');
    assert_string_equal(u + 1, p + 1); /* same fetch */
    assert_non_null(strstr(whole, "\"user\""));
    vp_error err;
    assert_int_equal(get_err(ctx, "rtmock://json/db#nokey", 0, &err), VP_ENOTFOUND);
    assert_int_equal(upstream(), 1);
    free(u);
    free(p);
    free(whole);
    vp_ctx_free(ctx);
}

static void test_reset_per_provider(void **state)
{
    (void)state;
    vp_options o;
    vp_options_init(&o);
    vp_ctx *ctx = new_ctx(&o, 1);
    free(get(ctx, "rtmock://r1"));
    char *e = get(ctx, "echo://hello");
    assert_string_equal(e, "echo:hello");
    free(e);
    vp_cache_stats st;
    assert_int_equal(vp_cache_stats_get(ctx, "echo", &st), 0);
    assert_int_equal(st.entries, 1);
    assert_int_equal(st.bytes, strlen("echo:hello"));
    assert_int_equal(vp_cache_reset(ctx, "rtmock"), 0);
    assert_int_equal(vp_cache_stats_get(ctx, "rtmock", &st), 0);
    assert_int_equal(st.entries, 0);
    assert_int_equal(vp_cache_stats_get(ctx, "echo", &st), 0);
    assert_int_equal(st.entries, 1);
    free(get(ctx, "rtmock://r1"));
    assert_int_equal(upstream(), 2);
    assert_int_equal(vp_cache_reset(ctx, "nope"), VP_ENOTFOUND);
    assert_int_equal(vp_cache_reset(ctx, NULL), 0);
    assert_int_equal(vp_cache_stats_get(ctx, NULL, &st), 0);
    assert_int_equal(st.entries, 0);
    assert_int_equal(st.bytes, 0);
    vp_ctx_free(ctx);
}

static void test_lru_bounds(void **state)
{
    (void)state;
    vp_options o;
    vp_options_init(&o);
    o.cache_max_entries = 3;
    vp_ctx *ctx = new_ctx(&o, 1);
    free(get(ctx, "rtmock://a"));
    free(get(ctx, "rtmock://b"));
    free(get(ctx, "rtmock://c"));
    free(get(ctx, "rtmock://a")); /* a is now the most recent: b is the LRU */
    assert_int_equal(upstream(), 3);
    free(get(ctx, "rtmock://d")); /* evicts b */
    vp_cache_stats st;
    assert_int_equal(vp_cache_stats_get(ctx, "rtmock", &st), 0);
    assert_int_equal(st.entries, 3);
    free(get(ctx, "rtmock://a"));
    free(get(ctx, "rtmock://c"));
    free(get(ctx, "rtmock://d"));
    assert_int_equal(upstream(), 4);
    free(get(ctx, "rtmock://b"));
    assert_int_equal(upstream(), 5);
    vp_ctx_free(ctx);

    /* byte bound: values of ~10 bytes, at most 25 bytes cached */
    vp_options_init(&o);
    o.cache_max_bytes = 25;
    ctx = new_ctx(&o, 1);
    free(get(ctx, "rtmock://xx1")); /* "v1:xx1" style, 6-8 bytes */
    free(get(ctx, "rtmock://xx2"));
    free(get(ctx, "rtmock://xx3"));
    free(get(ctx, "rtmock://xx4"));
    assert_int_equal(vp_cache_stats_get(ctx, "rtmock", &st), 0);
    assert_true(st.bytes <= 25);
    assert_true(st.entries < 4);
    vp_ctx_free(ctx);
}

typedef struct race {
    vp_ctx *ctx;
    pthread_barrier_t *bar;
    const char *uri;
    char value[64];
    int rc;
} race;

static void *race_thread(void *arg)
{
    race *r = arg;
    vp_buf out = VP_BUF_INIT;
    vp_error err;
    pthread_barrier_wait(r->bar);
    r->rc = vp_resolve(r->ctx, r->uri, 0, &out, &err);
    if (r->rc == 0)
        snprintf(r->value, sizeof(r->value), "%s", out.data);
    vp_buf_free(&out);
    return NULL;
}

static void run_race(vp_ctx *ctx, const char *uri, race *rs, size_t n)
{
    pthread_barrier_t bar;
    pthread_barrier_init(&bar, NULL, (unsigned)n);
    pthread_t th[64];
    for (size_t i = 0; i < n; i++) {
        rs[i] = (race){ctx, &bar, uri, {0}, 0};
        assert_int_equal(pthread_create(&th[i], NULL, race_thread, &rs[i]), 0);
    }
    for (size_t i = 0; i < n; i++)
        pthread_join(th[i], NULL);
    pthread_barrier_destroy(&bar);
}

static void test_singleflight(void **state)
{
    (void)state;
    vp_options o;
    vp_options_init(&o);
    vp_ctx *ctx = new_ctx(&o, 0);
    mc_fault f = {.kind = MC_FAULT_LATENCY, .path_prefix = "/secret/", .latency_ms = 200};
    assert_int_equal(mc_fault_add(g_srv, &f), 0);
    race rs[64];
    run_race(ctx, "rtmock://cold", rs, 64);
    assert_int_equal(upstream(), 1);
    for (size_t i = 0; i < 64; i++) {
        assert_int_equal(rs[i].rc, 0);
        assert_string_equal(rs[i].value, rs[0].value);
    }
    /* errors are shared too */
    run_race(ctx, "rtmock://missing/cold", rs, 64);
    assert_int_equal(upstream(), 2);
    for (size_t i = 0; i < 64; i++)
        assert_int_equal(rs[i].rc, VP_ENOTFOUND);
    vp_ctx_free(ctx);
}

static int64_t real_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void test_retries(void **state)
{
    (void)state;
    vp_options o;
    vp_options_init(&o);
    o.retry_base_ms = 10;
    o.retry_max_ms = 20;
    vp_ctx *ctx = new_ctx(&o, 0);
    /* two 503s, then success: 3 attempts */
    mc_fault f = {.kind = MC_FAULT_STATUS, .path_prefix = "/secret/", .count = 2, .status = 503};
    assert_int_equal(mc_fault_add(g_srv, &f), 0);
    free(get(ctx, "rtmock://flaky"));
    vp_cache_stats st;
    assert_int_equal(vp_cache_stats_get(ctx, "rtmock", &st), 0);
    assert_int_equal(st.fetches, 3);
    assert_int_equal(st.retries, 2);
    /* three 503s: the attempts run out */
    f.count = 3;
    assert_int_equal(mc_fault_add(g_srv, &f), 0);
    vp_error err;
    assert_int_equal(get_err(ctx, "rtmock://flaky2", 0, &err), VP_EUNAVAIL);
    mc_fault_clear(g_srv);
    /* non-retryable: one attempt */
    mc_reset_counters(g_srv);
    assert_int_equal(get_err(ctx, "rtmock://missing/x", 0, &err), VP_ENOTFOUND);
    assert_int_equal(upstream(), 1);

    /* 429 with Retry-After: 1 s is honoured */
    f = (mc_fault){.kind = MC_FAULT_STATUS,
                   .path_prefix = "/secret/",
                   .count = 1,
                   .status = 429,
                   .retry_after_s = 1};
    assert_int_equal(mc_fault_add(g_srv, &f), 0);
    int64_t t0 = real_ms();
    free(get(ctx, "rtmock://throttled"));
    int64_t dt = real_ms() - t0;
    assert_true(dt >= 950);
    assert_int_equal(vp_cache_stats_get(ctx, "rtmock", &st), 0);
    assert_int_equal(st.throttles, 1);

    /* Retry-After beyond the deadline: fail at once rather than sleep past it */
    f.retry_after_s = 30;
    assert_int_equal(mc_fault_add(g_srv, &f), 0);
    t0 = real_ms();
    assert_int_equal(get_err(ctx, "rtmock://throttled2", 2000, &err), VP_ERATELIMIT);
    dt = real_ms() - t0;
    assert_true(dt < 2000);
    vp_ctx_free(ctx);
}

static void test_stale_if_error(void **state)
{
    (void)state;
    vp_options o;
    vp_options_init(&o);
    o.cache_ttl_s = 10;
    o.stale_if_error = 1;
    o.max_stale_s = 60;
    o.retry_attempts = 1;
    vp_ctx *ctx = new_ctx(&o, 1);
    char *a = get(ctx, "rtmock://s1");
    atomic_fetch_add(&g_now_ms, 11000);
    mc_fault f = {.kind = MC_FAULT_STATUS, .path_prefix = "/secret/", .status = 503};
    assert_int_equal(mc_fault_add(g_srv, &f), 0);
    char *b = get(ctx, "rtmock://s1"); /* transient: the expired value */
    assert_string_equal(a, b);
    free(b);
    vp_cache_stats st;
    assert_int_equal(vp_cache_stats_get(ctx, "rtmock", &st), 0);
    assert_int_equal(st.stale, 1);
    /* not past the max stale age */
    atomic_fetch_add(&g_now_ms, 61000);
    vp_error err;
    assert_int_equal(get_err(ctx, "rtmock://s1", 0, &err), VP_EUNAVAIL);
    mc_fault_clear(g_srv);
    free(a);

    /* never for auth / permission / not-found failures */
    static const int codes[] = {401, 403, 404};
    static const int want[] = {VP_EAUTH, VP_EPERM, VP_ENOTFOUND};
    for (int i = 0; i < 3; i++) {
        char uri[64];
        snprintf(uri, sizeof(uri), "rtmock://s2-%d", i);
        free(get(ctx, uri));
        atomic_fetch_add(&g_now_ms, 11000);
        f.status = codes[i];
        assert_int_equal(mc_fault_add(g_srv, &f), 0);
        assert_int_equal(get_err(ctx, uri, 0, &err), want[i]);
        mc_fault_clear(g_srv);
    }
    vp_ctx_free(ctx);

    /* off by default */
    vp_options_init(&o);
    o.cache_ttl_s = 10;
    o.retry_attempts = 1;
    ctx = new_ctx(&o, 1);
    free(get(ctx, "rtmock://s3"));
    atomic_fetch_add(&g_now_ms, 11000);
    f.status = 503;
    assert_int_equal(mc_fault_add(g_srv, &f), 0);
    assert_int_equal(get_err(ctx, "rtmock://s3", 0, &err), VP_EUNAVAIL);
    vp_ctx_free(ctx);
}

static void test_negative_cache(void **state)
{
    (void)state;
    vp_options o;
    vp_options_init(&o);
    vp_ctx *ctx = new_ctx(&o, 1);
    vp_error err;
    assert_int_equal(get_err(ctx, "rtmock://missing/n1", 0, &err), VP_ENOTFOUND);
    assert_non_null(strstr(err.message, "not found"));
    assert_int_equal(get_err(ctx, "rtmock://missing/n1", 0, &err), VP_ENOTFOUND);
    assert_non_null(strstr(err.message, "not found"));
    assert_int_equal(upstream(), 1);
    atomic_fetch_add(&g_now_ms, 10001); /* default negative TTL 10 s */
    assert_int_equal(get_err(ctx, "rtmock://missing/n1", 0, &err), VP_ENOTFOUND);
    assert_int_equal(upstream(), 2);
    vp_ctx_free(ctx);

    vp_options_init(&o);
    o.negative_ttl_ms = -1;
    ctx = new_ctx(&o, 1);
    assert_int_equal(get_err(ctx, "rtmock://missing/n1", 0, &err), VP_ENOTFOUND);
    assert_int_equal(get_err(ctx, "rtmock://missing/n1", 0, &err), VP_ENOTFOUND);
    assert_int_equal(upstream(), 2);
    vp_ctx_free(ctx);
}

static void test_render(void **state)
{
    (void)state;
    vp_options o;
    vp_options_init(&o);
    vp_ctx *ctx = new_ctx(&o, 0);
    mc_fault f = {.kind = MC_FAULT_LATENCY, .path_prefix = "/secret/", .latency_ms = 100};
    assert_int_equal(mc_fault_add(g_srv, &f), 0);
    char tmpl[2048] = "";
    for (int i = 0; i < 20; i++)
        snprintf(tmpl + strlen(tmpl), sizeof(tmpl) - strlen(tmpl),
                 "{%% vault 'rtmock://p%02d' %%};", i);
    strcat(tmpl, "{% vault 'rtmock', '', '{\"name\":\"t3\"}' %};{% vault 'echo://e' %}");
    vp_buf out = VP_BUF_INIT;
    vp_error err;
    int64_t t0 = real_ms();
    int rc = vp_render(ctx, tmpl, strlen(tmpl), NULL, VP_RENDER_SEND, &out, &err);
    int64_t dt = real_ms() - t0;
    if (rc != 0)
        fprintf(stderr, "render: %s\n", err.message);
    assert_int_equal(rc, 0);
    assert_int_equal(upstream(), 21);
    for (int i = 0; i < 20; i++) {
        char want[16];
        snprintf(want, sizeof(want), ":p%02d;", i);
        assert_non_null(strstr(out.data, want));
    }
    assert_non_null(strstr(out.data, ":t3;echo:e"));
    /* 21 fetches of 100 ms in parallel: far below the 2.1 s a sequential resolver needs */
    assert_true(dt < 1500);
    /* the second render is served from the cache */
    vp_buf out2 = VP_BUF_INIT;
    assert_int_equal(vp_render(ctx, tmpl, strlen(tmpl), NULL, VP_RENDER_SEND, &out2, &err), 0);
    assert_string_equal(out.data, out2.data);
    assert_int_equal(upstream(), 21);
    vp_buf_free(&out);
    vp_buf_free(&out2);
    /* preview: no fetch */
    assert_int_equal(vp_cache_reset(ctx, NULL), 0);
    assert_int_equal(vp_render(ctx, tmpl, strlen(tmpl), NULL, VP_RENDER_PREVIEW, &out, &err), 0);
    assert_int_equal(upstream(), 21);
    vp_buf_free(&out);
    /* one failing reference fails the render with its status */
    const char *bad = "x{% vault 'rtmock://missing/q' %}";
    assert_int_equal(vp_render(ctx, bad, strlen(bad), NULL, VP_RENDER_SEND, &out, &err),
                     VP_ENOTFOUND);
    vp_ctx_free(ctx);
}

static void test_batch(void **state)
{
    (void)state;
    vp_options o;
    vp_options_init(&o);
    vp_ctx *ctx = new_ctx(&o, 1);
    const char *t = "{% vault 'rtbatch://a' %};{% vault 'rtbatch://b' %};{% vault 'rtbatch://c' %};"
                    "{% vault 'rtbatch://prod@d' %};{% vault 'rtmock://e' %}";
    vp_buf out = VP_BUF_INIT;
    vp_error err;
    vp_cred_spec prod = {"prod", "", NULL, 0};
    vp_field base = {"base", mc_url(g_srv)};
    prod.fields = &base;
    prod.n_fields = 1;
    assert_int_equal(vp_cred_set(ctx, "rtbatch", &prod, &err), 0);
    int rc = vp_render(ctx, t, strlen(t), NULL, VP_RENDER_SEND, &out, &err);
    if (rc != 0)
        fprintf(stderr, "render: %s\n", err.message);
    assert_int_equal(rc, 0);
    /* a, b, c: one batch call; d (another credential) alone: its single fetch */
    assert_int_equal(mc_route_count(g_srv, g_batch_route), 1);
    assert_int_equal(upstream(), 2);
    unsigned n = 0;
    char x[4][16];
    assert_int_equal(sscanf(out.data, "b%u:%15[^;];", &n, x[0]), 2);
    char want[128];
    snprintf(want, sizeof(want), "b%u:a;b%u:b;b%u:c;", n, n, n);
    assert_memory_equal(out.data, want, strlen(want));
    vp_buf_free(&out);
    /* cached now: no call at all */
    assert_int_equal(vp_render(ctx, t, strlen(t), NULL, VP_RENDER_SEND, &out, &err), 0);
    assert_int_equal(mc_route_count(g_srv, g_batch_route), 1);
    assert_int_equal(upstream(), 2);
    vp_buf_free(&out);
    /* one missing item fails only itself (and the render, with its status) */
    const char *t2 = "{% vault 'rtbatch://f' %}{% vault 'rtbatch://missing/g' %}";
    assert_int_equal(vp_render(ctx, t2, strlen(t2), NULL, VP_RENDER_SEND, &out, &err),
                     VP_ENOTFOUND);
    assert_int_equal(mc_route_count(g_srv, g_batch_route), 2);
    char *f = get(ctx, "rtbatch://f"); /* cached by the batch */
    assert_int_equal(f[0], 'b');
    free(f);
    assert_int_equal(mc_route_count(g_srv, g_batch_route), 2);
    /* batch-level 503 then success: retried as a whole */
    mc_fault fl = {.kind = MC_FAULT_STATUS, .path_prefix = "/batch/", .count = 1, .status = 503};
    assert_int_equal(mc_fault_add(g_srv, &fl), 0);
    const char *t3 = "{% vault 'rtbatch://h' %}{% vault 'rtbatch://i' %}";
    assert_int_equal(vp_render(ctx, t3, strlen(t3), NULL, VP_RENDER_SEND, &out, &err), 0);
    assert_int_equal(mc_route_count(g_srv, g_batch_route), 3); /* the 503 is the fault's */
    vp_cache_stats st;
    assert_int_equal(vp_cache_stats_get(ctx, "rtbatch", &st), 0);
    assert_int_equal(st.retries, 1);
    assert_int_equal(st.fetches, 5); /* batches 1, 2, 503 + retry; d alone */
    vp_buf_free(&out);
    vp_ctx_free(ctx);
}

typedef struct stress {
    vp_ctx *ctx;
    unsigned id;
    int failures;
} stress;

static void *stress_thread(void *arg)
{
    stress *s = arg;
    for (unsigned i = 0; i < 400; i++) {
        char uri[64];
        unsigned k = (i * 7 + s->id) % 24;
        if (k % 3 == 0)
            snprintf(uri, sizeof(uri), "rtmock://st%u", k);
        else if (k % 3 == 1)
            snprintf(uri, sizeof(uri), "echo://st%u", k);
        else
            snprintf(uri, sizeof(uri), "rtmock://json/st%u#user", k);
        vp_buf out = VP_BUF_INIT;
        vp_error err;
        if (vp_resolve(s->ctx, uri, 0, &out, &err) != 0 || out.len == 0)
            s->failures++;
        vp_buf_free(&out);
        if (i % 50 == (s->id * 5) % 50)
            (void)vp_cache_reset(s->ctx, (i / 50) % 2 ? "rtmock" : NULL);
        if (i % 97 == 0) {
            vp_cache_stats st;
            (void)vp_cache_stats_get(s->ctx, NULL, &st);
        }
    }
    return NULL;
}

static void test_stress(void **state)
{
    (void)state;
    vp_options o;
    vp_options_init(&o);
    o.cache_max_entries = 10; /* constant eviction */
    o.provider_concurrency = 3;
    vp_ctx *ctx = new_ctx(&o, 0);
    pthread_t th[8];
    stress s[8];
    for (unsigned i = 0; i < 8; i++) {
        s[i] = (stress){ctx, i, 0};
        assert_int_equal(pthread_create(&th[i], NULL, stress_thread, &s[i]), 0);
    }
    for (unsigned i = 0; i < 8; i++) {
        pthread_join(th[i], NULL);
        assert_int_equal(s[i].failures, 0);
    }
    vp_cache_stats st;
    assert_int_equal(vp_cache_stats_get(ctx, NULL, &st), 0);
    assert_true(st.entries <= 10);
    assert_int_equal(st.hits + st.misses >= 8 * 400, 1);
    vp_ctx_free(ctx);
}

/* 100 references in one template: exactly 100 upstream requests, all in parallel (sequential
 * fetches would take 2 s at 20 ms each), then none for the same template within the TTL. */
static void test_render_100(void **state)
{
    (void)state;
    vp_options o;
    vp_options_init(&o);
    vp_ctx *ctx = new_ctx(&o, 0);
    mc_fault f = {.kind = MC_FAULT_LATENCY, .path_prefix = "/secret/", .latency_ms = 20};
    assert_int_equal(mc_fault_add(g_srv, &f), 0);
    char *tmpl = malloc(100 * 40 + 1);
    assert_non_null(tmpl);
    size_t off = 0;
    for (int i = 0; i < 100; i++)
        off += (size_t)sprintf(tmpl + off, "{%% vault 'rtmock://h%03d' %%};", i);
    for (int round = 0; round < 2; round++) {
        vp_buf out = VP_BUF_INIT;
        vp_error err;
        int64_t t0 = real_ms();
        int rc = vp_render(ctx, tmpl, off, NULL, VP_RENDER_SEND, &out, &err);
        int64_t dt = real_ms() - t0;
        if (rc != 0)
            fprintf(stderr, "render: %s\n", err.message);
        assert_int_equal(rc, 0);
        assert_int_equal(upstream(), 100);
        for (int i = 0; i < 100; i++) {
            char want[16];
            snprintf(want, sizeof(want), ":h%03d;", i);
            assert_non_null(strstr(out.data, want));
        }
        if (round == 0)
            assert_true(dt < 1000);
        vp_buf_free(&out);
    }
    free(tmpl);
    vp_ctx_free(ctx);
}

typedef struct renderer {
    vp_ctx *ctx;
    unsigned id;
    int failures;
} renderer;

/* Renders of 12 references drawn from 30 keys, with resets: the calls of 4 threads share a
 * worker pool smaller than what they ask for, and follow each other's flights. */
static void *render_thread(void *arg)
{
    renderer *r = arg;
    for (unsigned it = 0; it < 25; it++) {
        char tmpl[1024];
        size_t off = 0;
        unsigned keys[12];
        for (unsigned k = 0; k < 12; k++) {
            keys[k] = (it * 5 + r->id * 7 + k * 11) % 30;
            off += (size_t)snprintf(tmpl + off, sizeof(tmpl) - off, "{%% vault '%s://pr%02u' %%};",
                                    keys[k] % 4 == 0 ? "echo" : "rtmock", keys[k]);
        }
        vp_buf out = VP_BUF_INIT;
        vp_error err;
        if (vp_render(r->ctx, tmpl, off, NULL, VP_RENDER_SEND, &out, &err) != 0) {
            r->failures++;
            continue;
        }
        for (unsigned k = 0; k < 12; k++) {
            char want[16];
            snprintf(want, sizeof(want), "pr%02u;", keys[k]);
            if (strstr(out.data, want) == NULL)
                r->failures++;
        }
        vp_buf_free(&out);
        if (it % 6 == r->id)
            (void)vp_cache_reset(r->ctx, it % 2 ? "rtmock" : NULL);
    }
    return NULL;
}

static void test_pool_stress(void **state)
{
    (void)state;
    vp_options o;
    vp_options_init(&o);
    o.fetch_concurrency = 5;
    o.provider_concurrency = 3;
    o.cache_max_entries = 16;
    vp_ctx *ctx = new_ctx(&o, 0);
    mc_fault f = {.kind = MC_FAULT_LATENCY, .path_prefix = "/secret/", .latency_ms = 2};
    assert_int_equal(mc_fault_add(g_srv, &f), 0);
    pthread_t th[4];
    renderer r[4];
    for (unsigned i = 0; i < 4; i++) {
        r[i] = (renderer){ctx, i, 0};
        assert_int_equal(pthread_create(&th[i], NULL, render_thread, &r[i]), 0);
    }
    for (unsigned i = 0; i < 4; i++) {
        pthread_join(th[i], NULL);
        assert_int_equal(r[i].failures, 0);
    }
    vp_ctx_free(ctx);
}

/* Render in a child: 0 when the three values came back. */
static int child_render(vp_ctx *ctx, const char *tmpl, const char *want, char *msg, size_t cap)
{
    vp_buf out = VP_BUF_INIT;
    vp_error err;
    int rc = vp_render(ctx, tmpl, strlen(tmpl), NULL, VP_RENDER_SEND, &out, &err);
    snprintf(msg, cap, "%s", rc != 0 ? err.message : "");
    if (rc == 0 && (out.data == NULL || strstr(out.data, want) == NULL))
        rc = -1;
    vp_buf_free(&out);
    return rc;
}

/* fork() after a render, the pool's threads idle and connections open: the child's calls on
 * the inherited context fail at once (no thread to wait for, nothing sent on the parent's
 * connections), a context created in the child renders, and the parent carries on. */
static void test_fork(void **state)
{
    (void)state;
    vp_options o;
    vp_options_init(&o);
    vp_ctx *ctx = new_ctx(&o, 0);
    const char *t1 =
        "{% vault 'rtmock://f1' %};{% vault 'rtmock://f2' %};{% vault 'rtmock://f3' %}";
    char msg[VP_ERROR_MAX];
    assert_int_equal(child_render(ctx, t1, ":f3", msg, sizeof(msg)), 0);
    assert_int_equal(upstream(), 3);

    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        alarm(30); /* a deadlock kills the child: the parent sees SIGALRM */
        vp_buf out = VP_BUF_INIT;
        vp_error err;
        /* even a cached value: the cache's lock may have been held by a parent thread */
        if (vp_resolve(ctx, "rtmock://f1", 0, &out, &err) != VP_EINVAL || out.data != NULL)
            _exit(1);
        if (strstr(err.message, "fork()") == NULL)
            _exit(2);
        if (child_render(ctx, t1, ":f3", msg, sizeof(msg)) == 0 || strstr(msg, "fork()") == NULL)
            _exit(3);
        if (vp_cache_reset(ctx, NULL) != VP_EINVAL)
            _exit(4);
        vp_options co;
        vp_options_init(&co);
        co.plugin_dirs = g_dirs;
        co.enabled_providers = g_enabled;
        co.ignore_env_plugin_path = 1;
        co.no_default_plugin_dir = 1;
#if defined(__SANITIZE_THREAD__)
        co.fetch_concurrency = 1; /* TSan cannot start threads after a multi-threaded fork */
#endif
        vp_ctx *mine = NULL;
        if (vp_ctx_new(&co, &mine, &err) != 0)
            _exit(5);
#if defined(__SANITIZE_THREAD__)
        /* Every provider call runs on a runner thread (docs/design.md, "Provider deadlines"),
         * which TSan cannot start either: the child's own context is as far as it goes. */
        vp_ctx_free(mine);
        _exit(0);
#endif
        const char *t2 = "{% vault 'rtmock://c1' %};{% vault 'rtmock://c2' %};{% vault "
                         "'rtmock://c3' %}";
        if (child_render(mine, t2, ":c3", msg, sizeof(msg)) != 0)
            _exit(6);
        vp_ctx_free(mine);
        _exit(0);
    }
    int st = 0;
    assert_int_equal(waitpid(pid, &st, 0), pid);
    if (!WIFEXITED(st) || WEXITSTATUS(st) != 0)
        fprintf(stderr, "child: %s %d\n", WIFEXITED(st) ? "exit" : "signal",
                WIFEXITED(st) ? WEXITSTATUS(st) : WTERMSIG(st));
    assert_true(WIFEXITED(st));
    assert_int_equal(WEXITSTATUS(st), 0);
#if defined(__SANITIZE_THREAD__)
    const int child = 0; /* the child stops before it fetches (above) */
#else
    const int child = 3;
#endif
    /* only the child's own context reached the server */
    assert_int_equal(upstream(), 3 + child);
    /* the parent's cache and pool still work */
    assert_int_equal(child_render(ctx, t1, ":f3", msg, sizeof(msg)), 0);
    assert_int_equal(upstream(), 3 + child);
    const char *t3 =
        "{% vault 'rtmock://p1' %};{% vault 'rtmock://p2' %};{% vault 'rtmock://p3' %}";
    assert_int_equal(child_render(ctx, t3, ":p3", msg, sizeof(msg)), 0);
    assert_int_equal(upstream(), 6 + child);
    vp_ctx_free(ctx);
}

static void test_options(void **state)
{
    (void)state;
    vp_options o;
    vp_options_init(&o);
    o.cache_ttl_s = 720 * 60 + 1;
    vp_ctx *ctx = NULL;
    vp_error err;
    assert_int_equal(vp_ctx_new(&o, &ctx, &err), VP_EINVAL);
    assert_null(ctx);
    vp_options_init(&o);
    o.retry_attempts = 11;
    assert_int_equal(vp_ctx_new(&o, &ctx, &err), VP_EINVAL);
    vp_options_init(&o);
    o.cache_ttl_s = VP_CACHE_TTL_OFF;
    ctx = new_ctx(&o, 1);
    free(get(ctx, "rtmock://off"));
    free(get(ctx, "rtmock://off"));
    assert_int_equal(upstream(), 2);
    vp_ctx_free(ctx);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_hit_miss_expiry),
        cmocka_unit_test(test_json_keys_share_entry),
        cmocka_unit_test(test_reset_per_provider),
        cmocka_unit_test(test_lru_bounds),
        cmocka_unit_test(test_singleflight),
        cmocka_unit_test(test_retries),
        cmocka_unit_test(test_stale_if_error),
        cmocka_unit_test(test_negative_cache),
        cmocka_unit_test(test_render),
        cmocka_unit_test(test_batch),
        cmocka_unit_test(test_stress),
        cmocka_unit_test(test_render_100),
        cmocka_unit_test(test_pool_stress),
        cmocka_unit_test(test_options),
        cmocka_unit_test(test_fork),
    };
    return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
