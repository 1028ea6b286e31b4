/*
 * hc_fixture.c - see hc_fixture.h.
 */
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <cmocka.h>

#include "hc_fixture.h"

static pthread_mutex_t g_mu = PTHREAD_MUTEX_INITIALIZER;
static char *g_log;
static size_t g_log_len;
static char *g_msgs;
static size_t g_msgs_len;
static int64_t g_offset_ms;
static char g_home[256];

static void append(char **buf, size_t *len, const char *s)
{
    size_t n = strlen(s);
    char *p = realloc(*buf, *len + n + 2);
    if (p == NULL)
        return;
    memcpy(p + *len, s, n);
    p[*len + n] = '\n';
    p[*len + n + 1] = '\0';
    *buf = p;
    *len += n + 1;
}

static void on_log(void *ud, int level, const char *source, const char *message)
{
    (void)ud;
    char line[4096];
    snprintf(line, sizeof(line), "%d %s: %s", level, source, message);
    pthread_mutex_lock(&g_mu);
    append(&g_log, &g_log_len, line);
    pthread_mutex_unlock(&g_mu);
}

static void note_msg(const char *m)
{
    pthread_mutex_lock(&g_mu);
    append(&g_msgs, &g_msgs_len, m);
    pthread_mutex_unlock(&g_mu);
}

static int64_t clock_mono(void *ud)
{
    (void)ud;
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000 + g_offset_ms;
}

static int64_t clock_wall(void *ud)
{
    (void)ud;
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000 + g_offset_ms;
}

void hcf_advance(int64_t seconds)
{
    g_offset_ms += seconds * 1000;
}

const char *hcf_clean_env(void)
{
    static const char *const vars[] = {"VAULT_ADDR",
                                       "VAULT_TOKEN",
                                       "VAULT_NAMESPACE",
                                       "VAULT_CACERT",
                                       "VAULT_CAPATH",
                                       "VAULT_SKIP_VERIFY",
                                       "INSOMNIA_HASHICORP_TYPE",
                                       "INSOMNIA_HASHICORP_AUTHMETHOD",
                                       "INSOMNIA_HASHICORP_SERVERADDRESS",
                                       "INSOMNIA_HASHICORP_ACCESS_TOKEN",
                                       "INSOMNIA_HASHICORP_ROLE_ID",
                                       "INSOMNIA_HASHICORP_SECRET_ID",
                                       "INSOMNIA_HASHICORP_CLIENT_ID",
                                       "INSOMNIA_HASHICORP_CLIENT_SECRET",
                                       "HCP_CLIENT_ID",
                                       "HCP_CLIENT_SECRET",
                                       "HCP_ORGANIZATION_ID",
                                       "HCP_PROJECT_ID",
                                       "HCP_AUTH_URL",
                                       "HCP_API_ADDRESS",
                                       "HCP_API_HOST",
                                       "HCP_AUTH_TLS",
                                       "HCP_API_TLS",
                                       "HCP_CRED_FILE",
                                       "VAULTPLUG_PLUGIN_PATH",
                                       NULL};
    for (size_t i = 0; vars[i]; i++)
        unsetenv(vars[i]);
    if (g_home[0] == '\0') {
        snprintf(g_home, sizeof(g_home), "/tmp/hc_test_home_XXXXXX");
        assert_non_null(mkdtemp(g_home));
    }
    setenv("HOME", g_home, 1);
    return g_home;
}

static const char *const g_dirs[] = {VP_BUILD_PROVIDER_DIR, NULL};
static const char *const g_enabled[] = {"hashicorp", NULL};

vp_ctx *hcf_ctx(const char *ca_file)
{
    vp_options o;
    vp_options_init(&o);
    o.plugin_dirs = g_dirs;
    o.enabled_providers = g_enabled;
    o.ignore_env_plugin_path = 1;
    o.no_default_plugin_dir = 1;
    o.log_fn = on_log;
    o.log_level = VP_LEVEL_TRACE;
    o.ca_file = ca_file;
    o.monotonic_clock_ms = clock_mono;
    o.wall_clock_ms = clock_wall;
    o.retry_base_ms = 10;
    o.retry_max_ms = 50;
    vp_ctx *ctx = NULL;
    vp_error err;
    int rc = vp_ctx_new(&o, &ctx, &err);
    if (rc != 0)
        fprintf(stderr, "vp_ctx_new: %s\n", err.message);
    assert_int_equal(rc, 0);
    rc = vp_provider_check(ctx, "hashicorp", &err);
    if (rc != 0)
        fprintf(stderr, "provider: %s\n", err.message);
    assert_int_equal(rc, 0);
    assert_int_equal(vp_provider_check(ctx, "hcp", &err), 0);
    return ctx;
}

void hcf_cred(vp_ctx *ctx, const char *name, const char *type, ...)
{
    vp_field f[16];
    size_t n = 0;
    va_list ap;
    va_start(ap, type);
    for (const char *k; (k = va_arg(ap, const char *)) != NULL && n < 16; n++) {
        f[n].key = k;
        f[n].value = va_arg(ap, const char *);
    }
    va_end(ap);
    vp_cred_spec spec = {name, type, f, n};
    vp_error err;
    int rc = vp_cred_set(ctx, "hashicorp", &spec, &err);
    if (rc != 0)
        fprintf(stderr, "vp_cred_set: %s\n", err.message);
    assert_int_equal(rc, 0);
}

char *hcf_get(vp_ctx *ctx, const char *uri, char *ver, size_t vercap)
{
    vp_buf out = VP_BUF_INIT;
    vp_fetch_meta meta;
    vp_error err;
    int rc = vp_fetch(ctx, uri, 10000, &out, &meta, &err);
    if (rc != 0) {
        fprintf(stderr, "vp_fetch %s: %d %s\n", uri, rc, err.message);
        note_msg(err.message);
    }
    assert_int_equal(rc, 0);
    char *s = strndup(out.data, out.len);
    vp_buf_free(&out);
    if (ver != NULL)
        snprintf(ver, vercap, "%s", meta.version);
    return s;
}

int hcf_err(vp_ctx *ctx, const char *uri, vp_error *err)
{
    vp_buf out = VP_BUF_INIT;
    int rc = vp_fetch(ctx, uri, 10000, &out, NULL, err);
    vp_buf_free(&out);
    if (rc != 0) {
        note_msg(err->message);
        assert_true(err->message[0] != '\0');
    }
    return rc;
}

int hcf_resolve(vp_ctx *ctx, const char *uri, char *val, size_t cap, vp_error *err)
{
    vp_buf out = VP_BUF_INIT;
    int rc = vp_resolve(ctx, uri, 10000, &out, err);
    if (rc == 0 && val != NULL)
        snprintf(val, cap, "%.*s", (int)out.len, out.data);
    if (rc != 0)
        note_msg(err->message);
    vp_buf_free(&out);
    return rc;
}

int hcf_render(vp_ctx *ctx, const char *tmpl, char *val, size_t cap, vp_error *err)
{
    vp_buf out = VP_BUF_INIT;
    int rc = vp_render(ctx, tmpl, strlen(tmpl), NULL, VP_RENDER_SEND, &out, err);
    if (rc == 0 && val != NULL)
        snprintf(val, cap, "%.*s", (int)out.len, out.data);
    if (rc != 0)
        note_msg(err->message);
    vp_buf_free(&out);
    return rc;
}

const char *hcf_log(void)
{
    return g_log ? g_log : "";
}

const char *hcf_messages(void)
{
    return g_msgs ? g_msgs : "";
}

void hcf_log_reset(void)
{
    pthread_mutex_lock(&g_mu);
    free(g_log);
    free(g_msgs);
    g_log = g_msgs = NULL;
    g_log_len = g_msgs_len = 0;
    pthread_mutex_unlock(&g_mu);
}

void hcf_assert_no_leak(const char *s)
{
    pthread_mutex_lock(&g_mu);
    int in_log = g_log && strstr(g_log, s) != NULL;
    int in_msg = g_msgs && strstr(g_msgs, s) != NULL;
    pthread_mutex_unlock(&g_mu);
    if (in_log || in_msg)
        fprintf(stderr, "a canary (%zu bytes) leaked into %s\n", strlen(s),
                in_log ? "the log" : "an error message");
    assert_false(in_log);
    assert_false(in_msg);
}
