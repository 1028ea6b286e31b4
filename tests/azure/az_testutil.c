/* az_testutil - see az_testutil.h. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <cmocka.h>
#include <curl/curl.h>

#include "az_testutil.h"

static const char *const azt_seed =
    "{\"secrets\":["
    "{\"name\":\"db-password\",\"value\":\"" AZT_SECRET_V1 "\",\"version\":\"" AZT_VERSION_V1 "\"},"
    "{\"name\":\"db-password\",\"value\":\"" AZT_SECRET_VALUE "\"},"
    "{\"name\":\"json-secret\",\"value\":\"{\\\"user\\\":\\\"app\\\",\\\"password\\\":"
    "\\\"" AZT_SECRET_VALUE "\\\"}\"},"
    "{\"name\":\"old-secret\",\"value\":\"disabled-canary-3b7f\",\"enabled\":false},"
    "{\"name\":\"payroll\",\"value\":\"rbac-canary-8c2e\",\"forbidden\":true}],"
    "\"apps\":[{\"client_id\":\"" AZT_CLIENT_ID "\",\"client_secret\":\"" AZT_CLIENT_SECRET "\"},"
    "{\"client_id\":\"" AZT_FED_CLIENT_ID "\",\"federated_token\":\"" AZT_FED_TOKEN "\"}],"
    "\"managed_identity\":{},"
    "\"identity_header\":\"" AZT_ID_HEADER "\","
    "\"user\":\"alice@contoso.example\"}";

static const char *const azt_env_names[] = {
    "AZURE_AUTHORITY_HOST",
    "VAULTPLUG_AZURE_VAULT_URL",
    "VAULTPLUG_AZURE_CA_FILE",
    "VAULTPLUG_AZURE_ALLOW_HTTP",
    "AZURE_POD_IDENTITY_AUTHORITY_HOST",
    "AZURE_TENANT_ID",
    "AZURE_CLIENT_ID",
    "AZURE_CLIENT_SECRET",
    "AZURE_FEDERATED_TOKEN_FILE",
    "IDENTITY_ENDPOINT",
    "IDENTITY_HEADER",
    NULL,
};

void azt_env_clear(void)
{
    for (const char *const *n = azt_env_names; *n; n++)
        unsetenv(*n);
}

void azt_setup(azt *t)
{
    char err[256];
    memset(t, 0, sizeof(*t));
    pthread_mutex_init(&t->mu, NULL);
    azt_env_clear();
    t->m = mock_azure_start(1, err, sizeof(err));
    assert_non_null(t->m);
    assert_int_equal(mock_azure_seed_json(t->m, azt_seed, err, sizeof(err)), 0);
    setenv("AZURE_AUTHORITY_HOST", mock_azure_url(t->m), 1);
    setenv("VAULTPLUG_AZURE_VAULT_URL", mock_azure_url(t->m), 1);
    setenv("AZURE_POD_IDENTITY_AUTHORITY_HOST", mock_azure_url(t->m), 1);
    snprintf(t->tmpdir, sizeof(t->tmpdir), "/tmp/vp-aztest-XXXXXX");
    assert_non_null(mkdtemp(t->tmpdir));
}

static void on_log(void *ud, int level, const char *source, const char *message)
{
    azt *t = ud;
    size_t n = strlen(source) + strlen(message) + 4;
    pthread_mutex_lock(&t->mu);
    if (t->log_len + n + 1 > t->log_cap) {
        size_t cap = (t->log_cap + n + 1) * 2;
        char *nl = realloc(t->log, cap);
        if (nl != NULL) {
            t->log = nl;
            t->log_cap = cap;
        }
    }
    if (t->log_len + n + 1 <= t->log_cap)
        t->log_len += (size_t)snprintf(t->log + t->log_len, n + 1, "%s: %s\n", source, message);
    pthread_mutex_unlock(&t->mu);
}

static int64_t wall(void *ud)
{
    azt *t = ud;
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    pthread_mutex_lock(&t->mu);
    int64_t off = t->clock_offset_ms;
    pthread_mutex_unlock(&t->mu);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000 + off;
}

static size_t sink(char *p, size_t sz, size_t n, void *ud)
{
    azt *t = ud;
    size_t have = strlen(t->browser_page), k = sz * n;
    if (have + k >= sizeof(t->browser_page))
        k = sizeof(t->browser_page) - have - 1;
    memcpy(t->browser_page + have, p, k);
    t->browser_page[have + k] = '\0';
    return sz * n;
}

/* The "browser": follows the authorize URL through the mock's 302 to the loopback listener. */
static void *browser_main(void *ud)
{
    azt *t = ud;
    CURL *c = curl_easy_init();
    if (c == NULL)
        return NULL;
    curl_easy_setopt(c, CURLOPT_URL, t->browser_url);
    curl_easy_setopt(c, CURLOPT_FOLLOWLOCATION, 1L);
    curl_easy_setopt(c, CURLOPT_CAINFO, mock_azure_ca_file(t->m));
    curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, sink);
    curl_easy_setopt(c, CURLOPT_WRITEDATA, t);
    curl_easy_setopt(c, CURLOPT_TIMEOUT, 30L);
    curl_easy_setopt(c, CURLOPT_NOPROXY, "*");
    if (curl_easy_perform(c) == CURLE_OK)
        curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &t->browser_status);
    curl_easy_cleanup(c);
    return NULL;
}

static void start_browser(azt *t, const char *url)
{
    snprintf(t->browser_url, sizeof(t->browser_url), "%s", url);
    t->browser_page[0] = '\0';
    t->browser_status = 0;
    if (pthread_create(&t->browser, NULL, browser_main, t) == 0)
        t->browser_started = 1;
}

static int open_url(void *ud, const char *url)
{
    azt *t = ud;
    if (t->browser_mode != AZT_BROWSER_OPEN_URL)
        return VP_ENOTSUP;
    start_browser(t, url);
    return 0;
}

static void notify(void *ud, const char *message)
{
    azt *t = ud;
    pthread_mutex_lock(&t->mu);
    size_t n = strlen(t->notices);
    snprintf(t->notices + n, sizeof(t->notices) - n, "%s\n", message);
    pthread_mutex_unlock(&t->mu);
    const char *u = strstr(message, "https://");
    if (t->browser_mode == AZT_BROWSER_FROM_NOTICE && u != NULL && !t->browser_started &&
        strstr(u, "/oauth2/v2.0/authorize") != NULL) {
        char url[4096];
        snprintf(url, sizeof(url), "%.*s", (int)strcspn(u, " \n"), u);
        start_browser(t, url);
    }
}

void azt_ctx(azt *t)
{
    static const char *const dirs[] = {VP_BUILD_PROVIDER_DIR, NULL};
    static const char *const enabled[] = {"azure", NULL};
    vp_options o;
    vp_options_init(&o);
    o.plugin_dirs = dirs;
    o.enabled_providers = enabled;
    o.ignore_env_plugin_path = 1;
    o.no_default_plugin_dir = 1;
    o.log_fn = on_log;
    o.log_ud = t;
    o.log_level = VP_LEVEL_TRACE;
    o.ca_file = mock_azure_ca_file(t->m);
    o.wall_clock_ms = wall;
    o.clock_ud = t;
    if (!t->no_ui) {
        o.open_url = open_url;
        o.notify = notify;
        o.ui_ud = t;
    }
    o.cache_ttl_s = VP_CACHE_TTL_OFF;
    o.retry_attempts = 1;
    vp_error err;
    int rc = vp_ctx_new(&o, &t->ctx, &err);
    if (rc != 0)
        fprintf(stderr, "vp_ctx_new: %s\n", err.message);
    assert_int_equal(rc, 0);
}

void azt_ctx_free(azt *t)
{
    vp_ctx_free(t->ctx);
    t->ctx = NULL;
}

void azt_browser_join(azt *t)
{
    if (t->browser_started) {
        pthread_join(t->browser, NULL);
        t->browser_started = 0;
    }
}

void azt_err(azt *t, const vp_error *err)
{
    size_t n = strlen(t->errors);
    snprintf(t->errors + n, sizeof(t->errors) - n, "%s\n", err->message);
}

int azt_fetch(azt *t, const char *uri, char *out, size_t cap, vp_error *err)
{
    vp_buf b = VP_BUF_INIT;
    int rc = vp_fetch(t->ctx, uri, 20000, &b, NULL, err);
    if (rc == 0 && out != NULL)
        snprintf(out, cap, "%s", b.data);
    if (rc != 0)
        azt_err(t, err);
    vp_buf_free(&b);
    return rc;
}

static void no(const char *hay, const char *needle, const char *where)
{
    if (hay != NULL && strstr(hay, needle) != NULL) {
        fprintf(stderr, "LEAK: '%s' found in %s\n", needle, where);
        fail();
    }
}

void azt_assert_no_leak(azt *t)
{
    static const char *const canaries[] = {
        "mock-at-",       "mock-rt-",        "mock-code-",      "mock-dc-",
        AZT_SECRET_VALUE, AZT_SECRET_V1,     AZT_CLIENT_SECRET, AZT_FED_TOKEN,
        AZT_ID_HEADER,    "disabled-canary", "rbac-canary",     NULL,
    };
    for (const char *const *c = canaries; *c; c++) {
        no(t->log, *c, "the log");
        no(t->notices, *c, "a notice");
        no(t->errors, *c, "an error message");
    }
}

void azt_teardown(azt *t)
{
    azt_browser_join(t);
    azt_ctx_free(t);
    azt_assert_no_leak(t);
    mock_azure_stop(t->m);
    char cmd[300];
    snprintf(cmd, sizeof(cmd), "rm -rf '%s'", t->tmpdir);
    if (system(cmd) != 0)
        fprintf(stderr, "could not remove %s\n", t->tmpdir);
    free(t->log);
    pthread_mutex_destroy(&t->mu);
    azt_env_clear();
}
