/*
 * gt_util - see gt_util.h.
 */
#define _DEFAULT_SOURCE /* mkdtemp, setenv */
#include "gt_util.h"

#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

mock_gcp *gt_mock;
int gt_tls;
char gt_dir[256];
const char *gt_proxy;
static char g_sa_pem_piece[64]; /* a slice of the private key's base64 */

static pthread_mutex_t g_log_lock = PTHREAD_MUTEX_INITIALIZER;
static char **g_lines;
static size_t g_n_lines, g_cap_lines;

static void log_fn(void *ud, int level, const char *source, const char *message)
{
    (void)ud;
    (void)level;
    (void)source;
    pthread_mutex_lock(&g_log_lock);
    if (g_n_lines == g_cap_lines) {
        size_t nc = g_cap_lines ? 2 * g_cap_lines : 256;
        char **nl = realloc(g_lines, nc * sizeof(*nl));
        if (nl == NULL) {
            pthread_mutex_unlock(&g_log_lock);
            return;
        }
        g_lines = nl;
        g_cap_lines = nc;
    }
    g_lines[g_n_lines++] = strdup(message);
    pthread_mutex_unlock(&g_log_lock);
}

void gt_log_reset(void)
{
    pthread_mutex_lock(&g_log_lock);
    for (size_t i = 0; i < g_n_lines; i++)
        free(g_lines[i]);
    g_n_lines = 0;
    pthread_mutex_unlock(&g_log_lock);
}

size_t gt_log_count(const char *s)
{
    size_t n = 0;
    pthread_mutex_lock(&g_log_lock);
    for (size_t i = 0; i < g_n_lines; i++)
        n += g_lines[i] != NULL && strstr(g_lines[i], s) != NULL;
    pthread_mutex_unlock(&g_log_lock);
    return n;
}

static const char *const canaries[] = {
    GT_STATIC_TOKEN, GT_BAD_TOKEN, GT_CLIENT_SECRET, GT_REFRESH_TOKEN, GT_V1,         GT_V2,
    GT_V3,           GT_JSON_PW,   "ya29.mock-",     g_sa_pem_piece,   "PRIVATE KEY", NULL};

static const char *find_canary(const char *s)
{
    for (size_t i = 0; s != NULL && canaries[i] != NULL; i++)
        if (canaries[i][0] != '\0' && strstr(s, canaries[i]) != NULL)
            return canaries[i];
    return NULL;
}

void gt_assert_clean(const char *msg)
{
    const char *c = find_canary(msg);
    if (c != NULL)
        fail_msg("a secret (canary #%zu chars) leaked into an error message", strlen(c));
    pthread_mutex_lock(&g_log_lock);
    size_t bad = 0;
    for (size_t i = 0; i < g_n_lines; i++)
        bad += find_canary(g_lines[i]) != NULL;
    size_t total = g_n_lines;
    pthread_mutex_unlock(&g_log_lock);
    if (bad != 0)
        fail_msg("%zu of %zu log lines contain a secret", bad, total);
}

static const char *const g_env_names[] = {"VAULTPLUG_GCP_ENDPOINT",
                                          "VAULTPLUG_GCP_TOKEN_URI",
                                          "VAULTPLUG_GCP_CA_FILE",
                                          "VAULTPLUG_GCP_ACCESS_TOKEN",
                                          "VAULTPLUG_GCP_SERVICEACCOUNTKEYFILEPATH",
                                          "INSOMNIA_GCP_SERVICEACCOUNTKEYFILEPATH",
                                          "GOOGLE_APPLICATION_CREDENTIALS",
                                          "GOOGLE_CLOUD_PROJECT",
                                          "GCLOUD_PROJECT",
                                          "GOOGLE_CLOUD_QUOTA_PROJECT",
                                          "CLOUDSDK_CONFIG",
                                          "GCE_METADATA_HOST",
                                          "GCE_METADATA_ROOT",
                                          "GCE_METADATA_IP",
                                          "GCE_METADATA_TIMEOUT",
                                          "NO_GCE_CHECK",
                                          NULL};

void gt_clear_env(void)
{
    for (size_t i = 0; g_env_names[i] != NULL; i++)
        unsetenv(g_env_names[i]);
    /* The mock is the service; no real metadata server may be probed, no real gcloud file
     * read. */
    setenv("VAULTPLUG_GCP_ENDPOINT", mock_gcp_url(gt_mock), 1);
    setenv("VAULTPLUG_GCP_TOKEN_URI", mock_gcp_token_uri(gt_mock), 1);
    setenv("GCE_METADATA_IP", "127.0.0.1:1", 1);
    setenv("GCE_METADATA_HOST", "127.0.0.1:1", 1);
    char home[300];
    snprintf(home, sizeof(home), "%s/home-empty", gt_dir);
    setenv("HOME", home, 1);
}

const char *gt_sa_file(size_t n)
{
    return mock_gcp_sa_key_file(gt_mock, n);
}

static const char *g_seed =
    "{\"projects\":[{\"id\":\"my-project\",\"number\":\"123456789\"},"
    "{\"id\":\"other-project\",\"number\":\"987654321\",\"denied\":true}],"
    "\"secrets\":["
    "{\"project\":\"my-project\",\"secret\":\"db-pass\",\"versions\":[{\"data\":\"" GT_V1
    "\"},{\"data\":\"" GT_V2 "\"},{\"data\":\"" GT_V3 "\"}],\"aliases\":{\"prod\":2}},"
    "{\"project\":\"my-project\",\"secret\":\"disabled\",\"versions\":[{\"data\":\"old\"},"
    "{\"data\":\"x\",\"state\":\"DISABLED\"}]},"
    "{\"project\":\"my-project\",\"secret\":\"destroyed\",\"versions\":[{\"data\":\"x\","
    "\"state\":\"DESTROYED\"}]},"
    "{\"project\":\"my-project\",\"secret\":\"json\",\"versions\":[{\"data\":"
    "\"{\\\"user\\\":\\\"alice\\\",\\\"password\\\":\\\"" GT_JSON_PW "\\\"}\"}]},"
    "{\"project\":\"my-project\",\"secret\":\"regional\",\"location\":\"us-east1\","
    "\"versions\":[{\"data\":\"regional-value\"}]},"
    "{\"project\":\"my-project\",\"secret\":\"private\",\"versions\":[{\"data\":\"private\"}],"
    "\"deny\":[\"ci@example.com\",\"alice@example.com\"]},"
    "{\"project\":\"my-project\",\"secret\":\"badcrc\",\"versions\":[{\"data\":\"crc-value\"}],"
    "\"bad_crc\":true},"
    "{\"project\":\"my-project\",\"secret\":\"binary\",\"versions\":[{\"data_b64\":\"AAEC/w==\"}]},"
    "{\"project\":\"my-project\",\"secret\":\"empty\",\"versions\":[{\"data\":\"\"}]}],"
    "\"access_tokens\":[{\"token\":\"" GT_STATIC_TOKEN "\",\"principal\":\"ci@example.com\"}],"
    "\"authorized_users\":[{\"client_id\":\"cid-123.apps.example\",\"client_secret\":"
    "\"" GT_CLIENT_SECRET "\",\"refresh_token\":\"" GT_REFRESH_TOKEN
    "\",\"principal\":\"alice@example.com\","
    "\"quota_project_id\":\"my-project\",\"file\":\"@DIR@/adc_user.json\"}],"
    "\"service_accounts\":[{\"email\":\"" GT_SA_EMAIL "\",\"project_id\":\"my-project\"},"
    "{\"email\":\"doomed@my-project.iam.gserviceaccount.com\",\"project_id\":\"my-project\"}],"
    "\"metadata\":{\"principal\":\"gce@my-project.iam.gserviceaccount.com\","
    "\"project_id\":\"my-project\"}}";

int gt_setup(void **state)
{
    (void)state;
    snprintf(gt_dir, sizeof(gt_dir), "/tmp/gt_gcp.XXXXXX");
    if (mkdtemp(gt_dir) == NULL)
        return -1;
    char err[256];
    gt_mock = mock_gcp_start(gt_tls, err, sizeof(err));
    if (gt_mock == NULL) {
        fprintf(stderr, "mock_gcp_start: %s\n", err);
        return -1;
    }
    char *seed = malloc(strlen(g_seed) + 512);
    if (seed == NULL)
        return -1;
    const char *at = strstr(g_seed, "@DIR@");
    snprintf(seed, strlen(g_seed) + 512, "%.*s%s%s", (int)(at - g_seed), g_seed, gt_dir, at + 5);
    int rc = mock_gcp_seed_json(gt_mock, seed, err, sizeof(err));
    free(seed);
    if (rc != 0) {
        fprintf(stderr, "seed: %s\n", err);
        return -1;
    }
    /* A 40-byte slice from the middle of the key's base64: any leak of the key shows it. */
    FILE *f = fopen(gt_sa_file(0), "r");
    char buf[8192];
    size_t n = f ? fread(buf, 1, sizeof(buf) - 1, f) : 0;
    if (f)
        fclose(f);
    buf[n] = '\0';
    const char *p = strstr(buf, "-----\\n");
    if (p == NULL)
        return -1;
    p += 7;
    while (strlen(p) >= 40 && memchr(p, '\\', 40) != NULL)
        p++;
    if (strlen(p) < 40)
        return -1;
    memcpy(g_sa_pem_piece, p, 40);
    g_sa_pem_piece[40] = '\0';
    return 0;
}

int gt_teardown(void **state)
{
    (void)state;
    mock_gcp_stop(gt_mock);
    char path[400];
    snprintf(path, sizeof(path), "%s/adc_user.json", gt_dir);
    unlink(path);
    rmdir(gt_dir);
    gt_log_reset();
    free(g_lines);
    return 0;
}

static const char *const g_dirs[] = {VP_BUILD_PROVIDER_DIR, NULL};
static const char *const g_enabled[] = {"gcp", NULL};

vp_ctx *gt_ctx(vp_clock_fn wall, vp_clock_fn mono)
{
    vp_options o;
    vp_options_init(&o);
    o.plugin_dirs = g_dirs;
    o.enabled_providers = g_enabled;
    o.ignore_env_plugin_path = 1;
    o.no_default_plugin_dir = 1;
    o.ca_file = mock_gcp_ca_file(gt_mock);
    o.proxy = gt_proxy;
    o.log_fn = log_fn;
    o.log_level = VP_LEVEL_TRACE;
    o.wall_clock_ms = wall;
    o.monotonic_clock_ms = mono;
    o.retry_base_ms = 10;
    o.negative_ttl_ms = -1;
    vp_ctx *ctx = NULL;
    vp_error err;
    int rc = vp_ctx_new(&o, &ctx, &err);
    if (rc != 0)
        fail_msg("vp_ctx_new: %s", err.message);
    rc = vp_provider_check(ctx, "gcp", &err);
    if (rc != 0)
        fail_msg("gcp provider not loaded: %s", err.message);
    return ctx;
}

void gt_cred(vp_ctx *ctx, const char *name, const char *type, ...)
{
    vp_field f[16];
    static _Thread_local char buf[16][8400];
    size_t n = 0;
    va_list ap;
    va_start(ap, type);
    for (const char *kv; (kv = va_arg(ap, const char *)) != NULL && n < 16; n++) {
        snprintf(buf[n], sizeof(buf[n]), "%s", kv);
        char *eq = strchr(buf[n], '=');
        assert_non_null(eq);
        *eq = '\0';
        f[n].key = buf[n];
        f[n].value = eq + 1;
    }
    va_end(ap);
    vp_cred_spec spec = {name, type, f, n};
    vp_error err;
    int rc = vp_cred_set(ctx, "gcp", &spec, &err);
    if (rc != 0)
        fail_msg("vp_cred_set %s: %s", name, err.message);
}

char *gt_get(vp_ctx *ctx, const char *uri, vp_fetch_meta *meta, size_t *len)
{
    vp_buf out = VP_BUF_INIT;
    vp_error err;
    int rc = vp_fetch(ctx, uri, 10000, &out, meta, &err);
    if (rc != 0)
        fail_msg("vp_fetch %s: %s (%s)", uri, vp_err_name(rc), err.message);
    char *s = malloc(out.len + 1);
    assert_non_null(s);
    memcpy(s, out.data, out.len);
    s[out.len] = '\0';
    if (len != NULL)
        *len = out.len;
    vp_buf_free(&out);
    return s;
}

int gt_fail(vp_ctx *ctx, const char *uri, vp_error *err)
{
    vp_buf out = VP_BUF_INIT;
    int rc = vp_fetch(ctx, uri, 10000, &out, NULL, err);
    if (rc == 0) {
        vp_buf_free(&out);
        fail_msg("vp_fetch %s: unexpected success", uri);
    }
    assert_null(out.data);
    assert_true(err->message[0] != '\0');
    gt_assert_clean(err->message);
    return rc;
}
