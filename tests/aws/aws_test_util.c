/*
 * Helpers of the AWS provider tests (see aws_test_util.h).
 */
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

#include "aws_test_util.h"
#include "host.h"

const char *const aws_test_canaries[] = {
    CANARY_STATIC_SK,
    CANARY_TEMP_SK,
    CANARY_TEMP_TOKEN,
    CANARY_EXP_SK,
    CANARY_EXP_TOKEN,
    CANARY_NB_SK,
    CANARY_SSO_TOKEN,
    CANARY_ECS_TOKEN,
    CANARY_PASSWORD,
    CANARY_PLAIN,
    CANARY_INSO_SK,
    CANARY_INSO_WRONG,
    NULL,
};

const char aws_test_seed[] =
    "{\"keys\":["
    "{\"access_key_id\":\"" KEY_STATIC "\",\"secret_access_key\":\"" CANARY_STATIC_SK "\","
    "\"arn\":\"arn:aws:iam::123456789012:user/static\",\"deny\":[\"denied/secret\"]},"
    "{\"access_key_id\":\"" KEY_TEMP "\",\"secret_access_key\":\"" CANARY_TEMP_SK "\","
    "\"session_token\":\"" CANARY_TEMP_TOKEN "\"},"
    "{\"access_key_id\":\"" KEY_EXPIRED "\",\"secret_access_key\":\"" CANARY_EXP_SK "\","
    "\"session_token\":\"" CANARY_EXP_TOKEN "\",\"expired\":1},"
    "{\"access_key_id\":\"" KEY_NOBATCH "\",\"secret_access_key\":\"" CANARY_NB_SK "\","
    "\"no_batch\":1,\"no_list\":1},"
    "{\"access_key_id\":\"" KEY_INSO "\",\"secret_access_key\":\"" CANARY_INSO_SK "\"}],"
    "\"secrets\":["
    "{\"name\":\"db/"
    "main\",\"string\":\"{\\\"username\\\":\\\"admin\\\",\\\"password\\\":\\\"" CANARY_PASSWORD
    "\\\",\\\"port\\\":5432}\"},"
    "{\"name\":\"api/key\",\"string\":\"" CANARY_PLAIN "\"},"
    "{\"name\":\"bin/blob\",\"binary\":\"AAECAwT/\"},"
    "{\"name\":\"versioned\",\"versions\":["
    "{\"id\":\"11111111-1111-4111-8111-111111111111\",\"stages\":[\"AWSPREVIOUS\"],"
    "\"string\":\"old-value\"},"
    "{\"id\":\"22222222-2222-4222-8222-222222222222\",\"stages\":[\"AWSCURRENT\"],"
    "\"string\":\"new-value\"},"
    "{\"id\":\"33333333-3333-4333-8333-333333333333\",\"stages\":[\"AWSPENDING\"],"
    "\"string\":\"pending-value\"}]},"
    "{\"name\":\"denied/secret\",\"string\":\"x1\"},"
    "{\"name\":\"kms/broken\",\"string\":\"x2\",\"error\":\"DecryptionFailure\"},"
    "{\"name\":\"deleted/one\",\"string\":\"x3\",\"error\":\"InvalidRequestException\"},"
    "{\"name\":\"err/internal\",\"string\":\"x4\",\"error\":\"InternalServiceError\"},"
    "{\"name\":\"err/html\",\"string\":\"x5\",\"error\":\"html502\"},"
    "{\"name\":\"err/invalid\",\"string\":\"x6\",\"error\":\"InvalidParameterException\"},"
    "{\"name\":\"shared\",\"arn\":\"arn:aws:secretsmanager:us-east-1:999999999999:secret:"
    "shared-XyZ123\",\"string\":\"cross-account-value\"}],"
    "\"roles\":[\"arn:aws:iam::123456789012:role/reader\"],"
    "\"sso\":[{\"token\":\"" CANARY_SSO_TOKEN "\",\"account_id\":\"123456789012\","
    "\"role_name\":\"ReadSecrets\"}],"
    "\"imds_role\":\"ec2-role\",\"ecs_token\":\"" CANARY_ECS_TOKEN "\"}";

static const char *const env_vars[] = {
    "AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN", "AWS_SECURITY_TOKEN",
    "AWS_CREDENTIAL_EXPIRATION", "AWS_PROFILE", "AWS_DEFAULT_PROFILE", "AWS_REGION",
    "AWS_DEFAULT_REGION", "AWS_SHARED_CREDENTIALS_FILE", "AWS_CONFIG_FILE", "AWS_ENDPOINT_URL",
    "AWS_ENDPOINT_URL_SECRETS_MANAGER", "AWS_ENDPOINT_URL_STS", "AWS_ENDPOINT_URL_SSO",
    "AWS_IGNORE_CONFIGURED_ENDPOINT_URLS", "AWS_CA_BUNDLE",
    "AWS_CONTAINER_CREDENTIALS_RELATIVE_URI", "AWS_CONTAINER_CREDENTIALS_FULL_URI",
    "AWS_CONTAINER_AUTHORIZATION_TOKEN", "AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE",
    "AWS_EC2_METADATA_DISABLED", "AWS_EC2_METADATA_SERVICE_ENDPOINT",
    "AWS_EC2_METADATA_SERVICE_ENDPOINT_MODE", "AWS_EC2_METADATA_V1_DISABLED",
    "AWS_METADATA_SERVICE_TIMEOUT", "AWS_SSO_CACHE_DIR", "INSOMNIA_AWS_TYPE",
    "INSOMNIA_AWS_ACCESSKEYID", "INSOMNIA_AWS_SECRETACCESSKEY", "INSOMNIA_AWS_SESSIONTOKEN",
    "INSOMNIA_AWS_SECTION", "INSOMNIA_AWS_FILEPATH", "INSOMNIA_AWS_CONFIGFILEPATH",
    "INSOMNIA_AWS_ENABLECACHE", "INSOMNIA_AWS_REGION",
    /* never read; set by a test to prove that */
    "INSOMNIA_AWS_ACCESS_KEY_ID", "INSOMNIA_AWS_SECRET_ACCESS_KEY", "INSOMNIA_AWS_PROFILE",
    "INSOMNIA_AWS_CREDENTIALS_FILE", NULL};

void aws_test_env(const mock_aws *m, const char *home)
{
    for (size_t i = 0; env_vars[i]; i++)
        unsetenv(env_vars[i]);
    setenv("HOME", home, 1);
    setenv("AWS_ENDPOINT_URL", mock_aws_url(m), 1);
    setenv("AWS_REGION", "us-east-1", 1);
    setenv("AWS_SHARED_CREDENTIALS_FILE", "/nonexistent/aws-credentials", 1);
    setenv("AWS_CONFIG_FILE", "/nonexistent/aws-config", 1);
    setenv("AWS_EC2_METADATA_DISABLED", "true", 1);
    if (mock_aws_ca_file(m) != NULL)
        setenv("AWS_CA_BUNDLE", mock_aws_ca_file(m), 1);
}

/* ---- capture ------------------------------------------------------------------------------ */

static pthread_mutex_t g_cap_lock = PTHREAD_MUTEX_INITIALIZER;
static char *g_cap;
static size_t g_cap_len, g_cap_cap, g_lines;

void aws_test_record(const char *msg)
{
    pthread_mutex_lock(&g_cap_lock);
    size_t n = strlen(msg);
    if (g_cap_len + n + 2 > g_cap_cap) {
        size_t c = g_cap_cap ? g_cap_cap : 65536;
        while (g_cap_len + n + 2 > c)
            c *= 2;
        char *p = realloc(g_cap, c);
        if (p == NULL) {
            pthread_mutex_unlock(&g_cap_lock);
            return;
        }
        g_cap = p;
        g_cap_cap = c;
    }
    memcpy(g_cap + g_cap_len, msg, n);
    g_cap_len += n;
    g_cap[g_cap_len++] = '\n';
    g_cap[g_cap_len] = '\0';
    pthread_mutex_unlock(&g_cap_lock);
}

static void log_cb(void *ud, int level, const char *source, const char *message)
{
    (void)ud;
    (void)level;
    (void)source;
    pthread_mutex_lock(&g_cap_lock);
    g_lines++;
    pthread_mutex_unlock(&g_cap_lock);
    aws_test_record(message);
}

size_t aws_test_log_lines(void)
{
    pthread_mutex_lock(&g_cap_lock);
    size_t n = g_lines;
    pthread_mutex_unlock(&g_cap_lock);
    return n;
}

int aws_test_leaked(char *which, size_t cap)
{
    int leaked = 0;
    pthread_mutex_lock(&g_cap_lock);
    for (size_t i = 0; g_cap && aws_test_canaries[i]; i++)
        if (strstr(g_cap, aws_test_canaries[i]) != NULL) {
            snprintf(which, cap, "%s", aws_test_canaries[i]);
            leaked = 1;
        }
    pthread_mutex_unlock(&g_cap_lock);
    return leaked;
}

static const char *const g_dirs[] = {VP_BUILD_PROVIDER_DIR, NULL};
static const char *const g_enabled[] = {"aws", NULL};

vp_ctx *aws_test_ctx(const mock_aws *m, vp_clock_fn wall_clock)
{
    vp_options o;
    vp_options_init(&o);
    o.plugin_dirs = g_dirs;
    o.enabled_providers = g_enabled;
    o.ignore_env_plugin_path = 1;
    o.no_default_plugin_dir = 1;
    o.log_fn = log_cb;
    o.log_level = VP_LEVEL_TRACE;
    o.ca_file = mock_aws_ca_file(m);
    o.wall_clock_ms = wall_clock;
    o.retry_base_ms = 1;
    o.retry_max_ms = 20;
    vp_ctx *ctx = NULL;
    vp_error err;
    int rc = vp_ctx_new(&o, &ctx, &err);
    if (rc != 0)
        fprintf(stderr, "vp_ctx_new: %s\n", err.message);
    assert_int_equal(rc, 0);
    rc = vp_provider_check(ctx, "aws", &err);
    if (rc != 0)
        fprintf(stderr, "aws provider: %s\n", err.message);
    assert_int_equal(rc, 0);
    return ctx;
}

void aws_test_cred(vp_ctx *ctx, const char *name, const char *type, ...)
{
    vp_field f[16];
    size_t n = 0;
    va_list ap;
    va_start(ap, type);
    for (;;) {
        const char *k = va_arg(ap, const char *);
        if (k == NULL || n == 16)
            break;
        f[n].key = k;
        f[n++].value = va_arg(ap, const char *);
    }
    va_end(ap);
    vp_cred_spec spec = {name, type, f, n};
    vp_error err;
    int rc = vp_cred_set(ctx, "aws", &spec, &err);
    if (rc != 0)
        fprintf(stderr, "vp_cred_set %s: %s\n", name, err.message);
    assert_int_equal(rc, 0);
}

int aws_test_fetch(vp_ctx *ctx, const char *uri, char **value, size_t *len, char *msg,
                   size_t msgcap)
{
    vp_buf out = VP_BUF_INIT;
    vp_error err;
    vp_fetch_meta meta;
    int rc = vp_fetch(ctx, uri, 10000, &out, &meta, &err);
    if (value != NULL)
        *value = NULL;
    if (rc == 0) {
        if (value != NULL) {
            *value = malloc(out.len + 1);
            memcpy(*value, out.data, out.len);
            (*value)[out.len] = '\0';
        }
        if (len != NULL)
            *len = out.len;
        if (msg != NULL)
            snprintf(msg, msgcap, "%s", meta.version);
    } else {
        aws_test_record(err.message);
        if (msg != NULL)
            snprintf(msg, msgcap, "%s", err.message);
    }
    vp_buf_free(&out);
    return rc;
}

/* ---- HOME with shared files ---------------------------------------------------------------- */

void aws_test_write_file(const char *path, const char *text)
{
    FILE *f = fopen(path, "w");
    assert_non_null(f);
    fputs(text, f);
    fclose(f);
}

static const char config_text[] =
    "[default]\nregion = us-east-1\n"
    "[profile dev]\nregion = us-east-1\n"
    "[profile reader]\nrole_arn = arn:aws:iam::123456789012:role/reader\nsource_profile = dev\n"
    "[profile badrole]\nrole_arn = arn:aws:iam::123456789012:role/nope\nsource_profile = dev\n"
    "[profile loop]\nrole_arn = arn:aws:iam::123456789012:role/reader\nsource_profile = loop\n"
    "[profile my-sso]\nsso_session = my-sso\nsso_account_id = 123456789012\n"
    "sso_role_name = ReadSecrets\nregion = us-east-1\n"
    "[sso-session my-sso]\nsso_start_url = https://example.awsapps.com/start\n"
    "sso_region = us-east-1\n"
    "[profile legacy-sso]\nsso_start_url = https://legacy.awsapps.com/start\n"
    "sso_region = us-east-1\nsso_account_id = 123456789012\nsso_role_name = ReadSecrets\n"
    "[profile bad-sso]\nsso_session = bad name!\nsso_account_id = 1\nsso_role_name = x\n"
    "[profile old-sso]\nsso_session = old-sso\nsso_account_id = 123456789012\n"
    "sso_role_name = ReadSecrets\n"
    "[sso-session old-sso]\nsso_start_url = https://old.awsapps.com/start\nsso_region = us-east-1\n"
    "[profile other-role]\nsso_session = my-sso\nsso_account_id = 123456789012\n"
    "sso_role_name = Admin\n";

static void sso_cache(const char *dir, const char *key, const char *token, const char *expires)
{
    const vp_host *h = vp__host_table();
    unsigned char d[20];
    char hex[41], path[600], body[512];
    h->sha1(key, strlen(key), d);
    h->hex_encode(d, 20, hex);
    snprintf(path, sizeof(path), "%s/%s.json", dir, hex);
    snprintf(body, sizeof(body),
             "{\"startUrl\":\"https://example.awsapps.com/start\",\"region\":\"us-east-1\","
             "\"accessToken\":\"%s\",\"expiresAt\":\"%s\"}",
             token, expires);
    aws_test_write_file(path, body);
}

int aws_test_home(char *home, size_t cap)
{
    snprintf(home, cap, "/tmp/vp-aws-test-XXXXXX");
    if (mkdtemp(home) == NULL)
        return -1;
    char p[400];
    snprintf(p, sizeof(p), "%s/.aws", home);
    mkdir(p, 0700);
    snprintf(p, sizeof(p), "%s/.aws/credentials", home);
    aws_test_write_file(p, "[dev]\naws_access_key_id = " KEY_STATIC "\n"
                           "aws_secret_access_key = " CANARY_STATIC_SK "\n"
                           "[expired]\naws_access_key_id = " KEY_EXPIRED "\n"
                           "aws_secret_access_key = " CANARY_EXP_SK "\n"
                           "aws_session_token = " CANARY_EXP_TOKEN "\n");
    snprintf(p, sizeof(p), "%s/.aws/config", home);
    aws_test_write_file(p, config_text);
    snprintf(p, sizeof(p), "%s/.aws/sso", home);
    mkdir(p, 0700);
    snprintf(p, sizeof(p), "%s/.aws/sso/cache", home);
    mkdir(p, 0700);
    sso_cache(p, "my-sso", CANARY_SSO_TOKEN, "2099-01-01T00:00:00Z");
    sso_cache(p, "https://legacy.awsapps.com/start", CANARY_SSO_TOKEN, "2099-01-01T00:00:00+00:00");
    sso_cache(p, "old-sso", CANARY_SSO_TOKEN, "2020-01-01T00:00:00UTC");
    /* A client-registration file in the same directory must be ignored. */
    snprintf(p, sizeof(p), "%s/.aws/sso/cache/botocore-client-id-us-east-1.json", home);
    aws_test_write_file(
        p, "{\"clientId\":\"x\",\"clientSecret\":\"y\",\"expiresAt\":\"2099-01-01T00:00:00Z\"}");
    return 0;
}

void aws_test_rm_home(const char *home)
{
    char cmd[400];
    snprintf(cmd, sizeof(cmd), "rm -rf '%s'", home);
    if (system(cmd) != 0)
        fprintf(stderr, "could not remove %s\n", home);
}

size_t aws_test_log_count(const char *s)
{
    size_t n = 0;
    pthread_mutex_lock(&g_cap_lock);
    for (const char *p = g_cap; p != NULL && (p = strstr(p, s)) != NULL; p += strlen(s))
        n++;
    pthread_mutex_unlock(&g_cap_lock);
    return n;
}
