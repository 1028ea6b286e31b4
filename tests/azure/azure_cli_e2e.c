/*
 * azure_cli_e2e - the real `vaultplug` binary against the Azure mock (run in this process), with
 * a private VAULTPLUG_HOME and vault: `vaultplug login azure` in the browser flow (no xdg-open
 * on PATH: the test reads the printed address and is the browser) and with --device-code; then
 * `vaultplug get` and `vaultplug render` with the three-argument tag over "hours" of expiring and
 * invalidated access tokens (silent refresh, refresh-token rotation persisted across processes);
 * revocation, declined consent, state mismatch and declined/expired device codes from the CLI's
 * side; and the canary: no token, code, secret value or vault key on stderr or in any argv.
 *
 *   azure_cli_e2e VAULTPLUG_BINARY PROVIDER_DIR
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <curl/curl.h>

#include "az_cli_proc.h"
#include "az_testutil.h"

#define USER    "alice@contoso.example"
#define SEC_URI "https://" AZT_VAULT "/secrets/db-password"

static const char *g_bin, *g_dir;
static char g_home[128], g_vhome[300], g_key[256];
static mock_azure *g_m;
static int g_failures;

static void fail(const char *what, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void fail(const char *what, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    fprintf(stderr, "FAIL %s: ", what);
    vfprintf(stderr, fmt, ap);
    fputc('\n', stderr);
    va_end(ap);
    g_failures++;
}

static int expect(int cond, const char *what, const char *detail)
{
    if (!cond)
        fail(what, "%s", detail);
    return cond;
}

static void no_canary(const char *what, const char *text, const char *where, int values_ok)
{
    const char *const canaries[] = {
        "mock-at-",        "mock-rt-",       "mock-code-",  "mock-dc-", "code=",
        AZT_CLIENT_SECRET, AZT_SECRET_VALUE, AZT_SECRET_V1, g_key,      NULL};
    for (size_t i = 0; canaries[i]; i++) {
        if (canaries[i][0] == '\0' || (values_ok && (i == 6 || i == 7)))
            continue;
        if (strstr(text, canaries[i]) != NULL)
            fail(what, "%s shows a secret (canary #%zu)", where, i);
    }
}

/* Captured stderr for a failure message, unless it shows a secret (the test output must not). */
static const char *safe(const char *text)
{
    static const char *const c[] = {"mock-at-",       "mock-rt-",    "mock-code-",      "mock-dc-",
                                    AZT_SECRET_VALUE, AZT_SECRET_V1, AZT_CLIENT_SECRET, NULL};
    for (size_t i = 0; c[i]; i++)
        if (strstr(text, c[i]) != NULL)
            return "(withheld: it shows a secret)";
    return g_key[0] && strstr(text, g_key) ? "(withheld: it shows the vault key)" : text;
}

static void scan(const char *what, const azp_proc *p, int values_ok)
{
    no_canary(what, ERR(p), "stderr", 0);
    no_canary(what, OUT(p), "stdout", values_ok);
}

/* AZURE_CLI_E2E_VERBOSE=1: show each run's stderr (never stdout: it holds test values). */
static void verbose(const char *what, const azp_proc *p)
{
    if (getenv("AZURE_CLI_E2E_VERBOSE") != NULL)
        fprintf(stderr, "--- %s: exit %d, stderr:\n%s", what, p->rc, safe(ERR(p)));
}

/* Run to completion; checks the canaries on both outputs. */
static int run(const char *what, const char *const *args, azp_proc *p, int values_ok)
{
    if (azp_spawn(p, g_bin, g_dir, args) != 0) {
        fail(what, "cannot start %s", g_bin);
        return -1;
    }
    azp_finish(p);
    scan(what, p, values_ok);
    verbose(what, p);
    return p->rc;
}

/* The command lines `ps` shows of the running CLI and of its children: no secret in any. */
static void check_argv(const char *what, pid_t pid)
{
    char text[16384];
    expect(azp_argvs(pid, text, sizeof(text)), what, "the running vaultplug is not in /proc");
    no_canary(what, text, "a process's argv", 0);
}

/* `vaultplug login azure --name NAME` in the browser flow, the test being the browser. Returns
 * the exit status; pg gets the page the browser ended on. */
static int browser_login(const char *what, const char *name, azp_proc *p, azp_page *pg)
{
    const char *args[] = {"login", "azure", "--name", name, NULL};
    memset(pg, 0, sizeof(*pg));
    if (azp_spawn(p, g_bin, g_dir, args) != 0) {
        fail(what, "cannot start %s", g_bin);
        return -1;
    }
    char url[4096] = "";
    if (azp_wait_stderr(p, "/oauth2/v2.0/authorize?") == 0) {
        azp_pump(p, 200); /* the rest of the line */
        azp_authorize_url(ERR(p), url, sizeof(url));
    }
    if (expect(url[0] != '\0', what, "no authorize address on stderr")) {
        check_argv(what, p->pid);
        azp_browse(url, mock_azure_ca_file(g_m), pg);
    }
    azp_finish(p);
    scan(what, p, 0);
    verbose(what, p);
    return p->rc;
}

/* ---- the vault, read directly -------------------------------------------------------- */

/* The stored field of azure credential name ("" if none); -1 if there is no such credential. */
static int stored(const char *name, const char *key, char *out, size_t cap)
{
    char path[400];
    vp_vault *v = NULL;
    vp_cred_entry *e = NULL;
    vp_error err;
    out[0] = '\0';
    snprintf(path, sizeof(path), "%s/vault.vpv", g_vhome);
    if (vp_vault_open(path, g_key, &v, &err) != 0)
        return -1;
    int rc = vp_credstore_get(v, "azure", name, &e, &err) == 0 ? 0 : -1;
    for (size_t i = 0; rc == 0 && i < e->n_fields; i++)
        if (strcmp(e->fields[i].key, key) == 0)
            snprintf(out, cap, "%s", e->fields[i].value);
    if (rc == 0)
        vp_cred_entries_free(e, 1);
    vp_vault_close(v);
    return rc;
}

static unsigned count(const char *what)
{
    return mock_azure_count(g_m, what);
}

/* ---- the scenarios -------------------------------------------------------------------- */

static char g_tmpl[400];

static void get_and_render(const char *what, int expect_refreshes)
{
    char w[200];
    azp_proc p;
    unsigned r0 = count("token:refresh_token");
    snprintf(w, sizeof(w), "%s: vaultplug get azure://work@" AZT_VAULT "/db-password", what);
    const char *get[] = {"get", "azure://work@" AZT_VAULT "/db-password", NULL};
    if (run(w, get, &p, 1) != 0 || strcmp(OUT(&p), AZT_SECRET_VALUE) != 0)
        fail(w, "exit %d, stdout %zu bytes, stderr: %s", p.rc, strlen(OUT(&p)), safe(ERR(&p)));
    else
        printf("ok   %s\n", w);
    snprintf(w, sizeof(w),
             "%s: vaultplug render {%% vault 'azure', 'work', "
             "'{\"secretIdentifier\":...}' %%}",
             what);
    const char *render[] = {"render", g_tmpl, NULL};
    if (run(w, render, &p, 1) != 0 || strcmp(OUT(&p), AZT_SECRET_VALUE "|" AZT_SECRET_V1 "\n") != 0)
        fail(w, "exit %d, stdout %zu bytes, stderr: %s", p.rc, strlen(OUT(&p)), safe(ERR(&p)));
    else
        printf("ok   %s\n", w);
    if (expect_refreshes >= 0) {
        unsigned got = count("token:refresh_token") - r0;
        if (got != (unsigned)expect_refreshes)
            fail(what, "%u refresh-token grants, expected %d", got, expect_refreshes);
    }
}

static void test_browser_login(void)
{
    const char *what = "browser login (no xdg-open on PATH)";
    azp_proc p;
    azp_page pg;
    unsigned a0 = count("authorize"), c0 = count("token:authorization_code");
    int rc = browser_login(what, "work", &p, &pg);
    int ok = expect(rc == 0, what, "vaultplug login failed");
    ok &= expect(pg.status == 200 && strstr(pg.text, "Signed in") != NULL, what,
                 "the browser did not get the success page");
    ok &= expect(strstr(ERR(&p), "signed in to azure as " USER) != NULL, what,
                 "no 'signed in to azure as " USER "' on stderr");
    ok &= expect(count("authorize") == a0 + 1 && count("token:authorization_code") == c0 + 1, what,
                 "expected one authorize and one code redemption at the mock");
    /* The printed address is the real authorize request: PKCE S256, loopback redirect, scopes. */
    char url[4096];
    azp_authorize_url(ERR(&p), url, sizeof(url));
    ok &= expect(strstr(url, "/organizations/oauth2/v2.0/authorize?") != NULL &&
                     strstr(url, "code_challenge_method=S256") != NULL &&
                     strstr(url, "redirect_uri=http%3A%2F%2Flocalhost%3A") != NULL &&
                     strstr(url, "state=") != NULL &&
                     strstr(url, "scope=https%3A%2F%2Fvault.azure.net%2Fuser_impersonation"
                                 "%20openid%20profile%20offline_access") != NULL,
                 what, "the printed authorize address lacks PKCE/redirect/state/scope");
    if (!ok)
        fprintf(stderr, "  exit %d, stderr: %s\n  page (%ld): %.300s\n", rc, safe(ERR(&p)),
                pg.status, pg.text);
    else
        printf("ok   %s\n", what);

    what = "cred list shows the login, secret fields masked";
    const char *list[] = {"cred", "list", NULL};
    rc = run(what, list, &p, 0);
    const char *line = strstr(OUT(&p), "azure");
    ok = expect(rc == 0 && line != NULL, what, "no azure credential listed");
    if (ok) {
        char l[2048];
        snprintf(l, sizeof(l), "%.*s", (int)strcspn(line, "\n"), line);
        ok = expect(strstr(l, " work ") != NULL && strstr(l, " user ") != NULL &&
                        strstr(l, "account=" USER) != NULL &&
                        strstr(l, "refresh_token=********") != NULL &&
                        strstr(l, "access_token=********") != NULL,
                    what, "the line lacks name/type/account or unmasked secret fields");
        if (!ok)
            fprintf(stderr, "  line: %s\n", strstr(l, "mock-") ? "(shows a token)" : l);
    }
    if (ok)
        printf("ok   %s\n", what);

    char rt[128];
    if (expect(stored("work", "refresh_token", rt, sizeof(rt)) == 0 &&
                   mock_azure_refresh_token_valid(g_m, rt),
               "login stored a live refresh token", "missing or not valid at the mock"))
        printf("ok   login stored a live refresh token in the vault\n");
}

static int rt_rotated(const char *what, char *prev, size_t cap)
{
    char rt[128];
    int ok = expect(stored("work", "refresh_token", rt, sizeof(rt)) == 0 && rt[0] != '\0', what,
                    "no stored refresh token");
    ok = ok && expect(strcmp(rt, prev) != 0, what, "the rotated refresh token was not persisted");
    ok = ok && expect(mock_azure_refresh_token_valid(g_m, rt), what,
                      "the stored refresh token is not the live one");
    ok = ok && expect(!mock_azure_refresh_token_valid(g_m, prev), what,
                      "the previous refresh token still works (no rotation)");
    snprintf(prev, cap, "%s", rt);
    return ok;
}

/* "An hour later": the stored access token's expires_on is in the past (written into the vault
 * as the test holds its key) and the mock no longer accepts that token either. */
static void age_credential(const char *name)
{
    char path[400], exp[32];
    vp_vault *v = NULL;
    vp_cred_entry *e = NULL;
    vp_error err;
    snprintf(path, sizeof(path), "%s/vault.vpv", g_vhome);
    snprintf(exp, sizeof(exp), "%lld", (long long)time(NULL) - 3600);
    int ok = vp_vault_open(path, g_key, &v, &err) == 0 &&
             vp_credstore_get(v, "azure", name, &e, &err) == 0;
    if (ok) {
        vp_field f[VP_CRED_FIELDS_MAX];
        size_t n = 0, aged = 0;
        for (size_t i = 0; i < e->n_fields && n < VP_CRED_FIELDS_MAX; i++) {
            f[n] = e->fields[i];
            if (strcmp(f[n].key, "expires_on") == 0) {
                f[n].value = exp;
                aged++;
            }
            n++;
        }
        vp_cred_spec spec = {name, e->type, f, n};
        ok = aged == 1 && vp_credstore_put(v, "azure", &spec, &err) == 0;
        vp_cred_entries_free(e, 1);
    }
    vp_vault_close(v);
    expect(ok, "age the stored credential", "no expires_on field, or the vault refused");
    mock_azure_invalidate_access_tokens(g_m);
}

/* One process after the stored token expired: it refreshes first (never sends the stale token),
 * rotates, and persists; the next process uses the persisted access token without a refresh. */
static void hour(int n, const char *const *first, const char *first_out, const char *const *second,
                 const char *second_out, char *rt, size_t rtcap)
{
    char w[160];
    azp_proc p;
    age_credential("work");
    unsigned r0 = count("token:refresh_token"), b0 = count("kv:bearer"), k0 = count("kv:200");
    snprintf(w, sizeof(w), "hour %d: vaultplug %s (stored token expired)", n, first[0]);
    int ok = expect(run(w, first, &p, 1) == 0 && strcmp(OUT(&p), first_out) == 0, w, "failed");
    if (!ok)
        fprintf(stderr, "  exit %d, stdout %zu bytes, stderr: %s\n", p.rc, strlen(OUT(&p)),
                safe(ERR(&p)));
    ok &= expect(count("token:refresh_token") - r0 == 1, w, "expected exactly one refresh grant");
    ok &= expect(count("kv:bearer") - b0 == count("kv:200") - k0, w,
                 "the expired access token was sent instead of being refreshed first");
    ok &= rt_rotated(w, rt, rtcap);
    if (ok)
        printf("ok   %s: silent refresh, rotation persisted\n", w);
    r0 = count("token:refresh_token");
    snprintf(w, sizeof(w), "hour %d: vaultplug %s (next process)", n, second[0]);
    ok = expect(run(w, second, &p, 1) == 0 && strcmp(OUT(&p), second_out) == 0, w, "failed");
    if (!ok)
        fprintf(stderr, "  exit %d, stdout %zu bytes, stderr: %s\n", p.rc, strlen(OUT(&p)),
                safe(ERR(&p)));
    ok &= expect(count("token:refresh_token") == r0, w,
                 "refreshed again: the new access token was not persisted");
    if (ok)
        printf("ok   %s: used the persisted access token\n", w);
}

static void test_hours(void)
{
    char rt[128];
    stored("work", "refresh_token", rt, sizeof(rt));
    get_and_render("fresh login (stored access token)", 0);

    /* The vault refuses the still-unexpired access token (revoked, CAE): 401 -> refresh. */
    mock_azure_invalidate_access_tokens(g_m);
    get_and_render("access token refused (401)", 1);
    if (rt_rotated("401 -> refresh -> rotation persisted", rt, sizeof(rt)))
        printf("ok   401 -> silent refresh, rotated refresh token persisted\n");

    const char *get[] = {"get", "azure://work@" AZT_VAULT "/db-password", NULL};
    const char *render[] = {"render", g_tmpl, NULL};
    const char *rendered = AZT_SECRET_VALUE "|" AZT_SECRET_V1 "\n";
    for (int h = 1; h <= 6; h++) {
        if (h % 2)
            hour(h, get, AZT_SECRET_VALUE, render, rendered, rt, sizeof(rt));
        else
            hour(h, render, rendered, get, AZT_SECRET_VALUE, rt, sizeof(rt));
    }
}

static void expect_auth_failure(const char *what, const char *const *args, const char *needle)
{
    azp_proc p;
    int rc = run(what, args, &p, 0);
    if (rc != 4 || OUT(&p)[0] != '\0' || strstr(ERR(&p), needle) == NULL)
        fail(what, "exit %d (want 4), stdout %zu bytes, stderr (want '%s'): %s", rc,
             strlen(OUT(&p)), needle, safe(ERR(&p)));
    else
        printf("ok   %s\n", what);
}

static void test_revoked(void)
{
    mock_azure_revoke_refresh_tokens(g_m);
    mock_azure_invalidate_access_tokens(g_m);
    const char *get[] = {"get", "azure://work@" AZT_VAULT "/db-password", NULL};
    expect_auth_failure("revoked refresh token: get exits 4", get,
                        "sign in again: vaultplug login azure");
    const char *render[] = {"render", g_tmpl, NULL};
    expect_auth_failure("revoked refresh token: render exits 4", render,
                        "sign in again: vaultplug login azure");
}

/* --device-code: the printed message is read, the user "enters the code" at the mock while the
 * CLI polls (authorization_pending until then). */
static void test_device_code(void)
{
    const char *what = "login --device-code --tenant contoso.onmicrosoft.com";
    mock_azure_set_device_script(g_m, "pending", 1);
    unsigned d0 = count("token:device_code");
    const char *args[] = {
        "login", "azure", "--device-code", "--tenant", "contoso.onmicrosoft.com", "--name",
        "work",  NULL};
    azp_proc p;
    if (azp_spawn(&p, g_bin, g_dir, args) != 0) {
        fail(what, "cannot start");
        return;
    }
    int ok = expect(azp_wait_stderr(&p, "enter the code YZMYLD4K") == 0 &&
                        strstr(ERR(&p), "https://microsoft.com/devicelogin") != NULL,
                    what, "no device code message on stderr");
    int64_t end = azp_now_ms() + AZP_WAIT_MS;
    while (ok && count("token:device_code") < d0 + 1 && azp_now_ms() < end)
        azp_pump(&p, 100);
    ok = ok && expect(count("token:device_code") >= d0 + 1, what, "the CLI never polled");
    int st;
    ok = ok && expect(waitpid(p.pid, &st, WNOHANG) == 0, what,
                      "the CLI stopped while the code was still pending");
    if (ok)
        check_argv(what, p.pid);
    /* The user completes the sign-in: the next poll succeeds. */
    mock_azure_set_device_script(g_m, "pending,ok", 1);
    int rc = azp_finish(&p);
    scan(what, &p, 0);
    ok &= expect(rc == 0 && strstr(ERR(&p), "signed in to azure as " USER) != NULL, what,
                 "login did not succeed");
    int tenant_seen = 0;
    mc_server *s = mock_azure_server(g_m);
    for (size_t i = 0; i < mc_log_count(s); i++) {
        mc_log_entry e;
        if (mc_log_get(s, i, &e) == 0 &&
            strcmp(e.path, "/contoso.onmicrosoft.com/oauth2/v2.0/devicecode") == 0)
            tenant_seen++;
    }
    ok &= expect(tenant_seen == 1, what, "the device code was not requested for --tenant");
    if (!ok)
        fprintf(stderr, "  exit %d, stderr: %s\n", rc, safe(ERR(&p)));
    else
        printf("ok   %s\n", what);
    mock_azure_set_device_script(g_m, "ok", 1);
}

static void test_device_code_refused(const char *step, const char *needle)
{
    char what[128];
    snprintf(what, sizeof(what), "login --device-code, %s: exits 4", step);
    mock_azure_set_device_script(g_m, step, 1);
    const char *args[] = {"login", "azure", "--device-code", "--name", "dc-refused", NULL};
    expect_auth_failure(what, args, needle);
    char v[8];
    expect(stored("dc-refused", "refresh_token", v, sizeof(v)) != 0, what,
           "a credential was stored anyway");
    mock_azure_set_device_script(g_m, "ok", 1);
}

static void test_browser_refused(mock_azure_consent mode, const char *label, const char *needle,
                                 const char *page_needle)
{
    char what[128];
    snprintf(what, sizeof(what), "browser login, %s: exits 4", label);
    mock_azure_set_consent(g_m, mode);
    unsigned c0 = count("token:authorization_code");
    azp_proc p;
    azp_page pg;
    int rc = browser_login(what, "refused", &p, &pg);
    int ok = expect(rc == 4 && strstr(ERR(&p), needle) != NULL, what, "wrong exit or message");
    ok &= expect(strstr(pg.text, page_needle) != NULL, what, "the browser was not told");
    ok &= expect(count("token:authorization_code") == c0, what, "a code was redeemed");
    char v[8];
    ok &= expect(stored("refused", "refresh_token", v, sizeof(v)) != 0, what,
                 "a credential was stored anyway");
    if (!ok)
        fprintf(stderr, "  exit %d (want 4, '%s'), stderr: %s\n  page: %.300s\n", rc, needle,
                safe(ERR(&p)), pg.text);
    else
        printf("ok   %s\n", what);
    mock_azure_set_consent(g_m, MOCK_AZ_CONSENT_OK);
}

/* ---- set-up --------------------------------------------------------------------------- */

static const char seed[] =
    "{\"secrets\":["
    "{\"name\":\"db-password\",\"value\":\"" AZT_SECRET_V1 "\",\"version\":\"" AZT_VERSION_V1 "\"},"
    "{\"name\":\"db-password\",\"value\":\"" AZT_SECRET_VALUE "\"}],"
    "\"apps\":[{\"client_id\":\"" AZT_CLIENT_ID "\",\"client_secret\":\"" AZT_CLIENT_SECRET "\"}],"
    "\"user\":\"" USER "\"}";

static int write_file(const char *path, const char *text)
{
    FILE *f = fopen(path, "w");
    if (f == NULL)
        return -1;
    fputs(text, f);
    return fclose(f);
}

/* With a desktop opener on PATH the CLI hands it the address as one argv word (what `ps`
 * shows): a stand-in xdg-open records its arguments; the test then is the browser. */
static void test_xdg_open(void)
{
    const char *what = "browser login through xdg-open";
    char dir[300], script[400], text[1400];
    snprintf(dir, sizeof(dir), "%s/xdg", g_home);
    mkdir(dir, 0700);
    snprintf(script, sizeof(script), "%s/xdg-open", dir);
    snprintf(text, sizeof(text),
             "#!/bin/sh\nprintf '%%s' \"$#\" > '%s/argc'\nprintf '%%s' \"$1\" > '%s/argv1'\n"
             ": > '%s/done'\n",
             dir, dir, dir);
    if (write_file(script, text) != 0 || chmod(script, 0700) != 0) {
        fail(what, "cannot write %s", script);
        return;
    }
    char *path = strdup(getenv("PATH"));
    setenv("PATH", dir, 1);
    const char *args[] = {"login", "azure", "--name", "work", NULL};
    azp_proc p;
    int started = azp_spawn(&p, g_bin, g_dir, args) == 0;
    setenv("PATH", path, 1);
    free(path);
    if (!started) {
        fail(what, "cannot start");
        return;
    }
    char f[400], argc_s[16] = "", url[4096] = "", printed[4096];
    snprintf(f, sizeof(f), "%s/done", dir);
    int64_t end = azp_now_ms() + AZP_WAIT_MS;
    while (access(f, F_OK) != 0 && azp_now_ms() < end && azp_pump(&p, 100) == 0)
        ;
    FILE *in;
    snprintf(f, sizeof(f), "%s/argc", dir);
    if ((in = fopen(f, "r")) != NULL) {
        if (fgets(argc_s, sizeof(argc_s), in) == NULL)
            argc_s[0] = '\0';
        fclose(in);
    }
    snprintf(f, sizeof(f), "%s/argv1", dir);
    if ((in = fopen(f, "r")) != NULL) {
        if (fgets(url, sizeof(url), in) == NULL)
            url[0] = '\0';
        fclose(in);
    }
    azp_pump(&p, 200);
    azp_authorize_url(ERR(&p), printed, sizeof(printed));
    int ok = expect(strcmp(argc_s, "1") == 0 && url[0] != '\0', what,
                    "xdg-open was not run with exactly one argument");
    ok &= expect(strcmp(url, printed) == 0, what, "xdg-open got another address than printed");
    no_canary(what, url, "xdg-open's argv", 0);
    azp_page pg;
    memset(&pg, 0, sizeof(pg));
    if (ok)
        azp_browse(url, mock_azure_ca_file(g_m), &pg);
    int rc = azp_finish(&p);
    scan(what, &p, 0);
    ok &= expect(rc == 0 && strstr(pg.text, "Signed in") != NULL, what, "login failed");
    if (!ok)
        fprintf(stderr, "  exit %d, argc '%s', stderr: %s\n", rc, argc_s, safe(ERR(&p)));
    else
        printf("ok   %s\n", what);
}

static int environment(void)
{
    char p[400];
    static const char *const clear[] = {"AZURE_TENANT_ID",
                                        "AZURE_CLIENT_ID",
                                        "AZURE_CLIENT_SECRET",
                                        "AZURE_FEDERATED_TOKEN_FILE",
                                        "IDENTITY_ENDPOINT",
                                        "IDENTITY_HEADER",
                                        "VAULTPLUG_AZURE_ALLOW_HTTP",
                                        "VAULTPLUG_VAULT",
                                        "VAULTPLUG_PLUGIN_PATH",
                                        "VAULTPLUG_VAULT_KEY",
                                        "VAULTPLUG_CONFIG",
                                        "WAYLAND_DISPLAY",
                                        "XDG_RUNTIME_DIR",
                                        NULL};
    for (size_t i = 0; clear[i]; i++)
        unsetenv(clear[i]);
    setenv("HOME", g_home, 1);
    snprintf(p, sizeof(p), "%s/config", g_home);
    setenv("XDG_CONFIG_HOME", p, 1);
    snprintf(p, sizeof(p), "%s/data", g_home);
    setenv("XDG_DATA_HOME", p, 1);
    snprintf(p, sizeof(p), "%s/cache", g_home);
    setenv("XDG_CACHE_HOME", p, 1);
    snprintf(g_vhome, sizeof(g_vhome), "%s/vaultplug", g_home);
    setenv("VAULTPLUG_HOME", g_vhome, 1);
    /* every run must reach the provider: no cached secret between processes */
    setenv("VAULTPLUG_CACHE_TTL", "0", 1);
    /* A desktop session, but no xdg-open on PATH: the CLI can only print the address. */
    snprintf(p, sizeof(p), "%s/bin", g_home);
    mkdir(p, 0700);
    setenv("PATH", p, 1);
    setenv("DISPLAY", ":0", 1);
    setenv("AZURE_AUTHORITY_HOST", mock_azure_url(g_m), 1);
    setenv("VAULTPLUG_AZURE_VAULT_URL", mock_azure_url(g_m), 1);
    setenv("AZURE_POD_IDENTITY_AUTHORITY_HOST", mock_azure_url(g_m), 1);
    setenv("VAULTPLUG_AZURE_CA_FILE", mock_azure_ca_file(g_m), 1);
    snprintf(g_tmpl, sizeof(g_tmpl), "%s/t.tmpl", g_home);
    return write_file(g_tmpl, "{% vault 'azure', 'work', '{\"secretIdentifier\":\"" SEC_URI
                              "\"}' %}|{% vault 'azure', 'work', '{\"secretIdentifier\":\"" SEC_URI
                              "/" AZT_VERSION_V1 "\"}' %}\n");
}

static int vault_init(void)
{
    azp_proc p;
    const char *args[] = {"vault", "init", NULL};
    if (azp_spawn(&p, g_bin, g_dir, args) != 0 || azp_finish(&p) != 0) {
        fprintf(stderr, "FAIL vault init: exit %d: %s\n", p.rc, safe(ERR(&p)));
        return -1;
    }
    snprintf(g_key, sizeof(g_key), "%.*s", (int)strcspn(OUT(&p), "\r\n"), OUT(&p));
    if (strlen(g_key) < 16 || strstr(ERR(&p), g_key) != NULL) {
        fprintf(stderr, "FAIL vault init: no key on stdout, or the key on stderr\n");
        return -1;
    }
    setenv("VAULTPLUG_VAULT_KEY", g_key, 1);
    printf("ok   vault init\n");
    return 0;
}

int main(int argc, char **argv)
{
    if (argc != 3) {
        fprintf(stderr, "usage: azure_cli_e2e VAULTPLUG PROVIDER_DIR\n");
        return 2;
    }
    g_bin = argv[1];
    g_dir = argv[2];
    setvbuf(stdout, NULL, _IOLBF, 0);
    curl_global_init(CURL_GLOBAL_DEFAULT);
    char err[256];
    g_m = mock_azure_start(1, err, sizeof(err));
    if (g_m == NULL || mock_azure_seed_json(g_m, seed, err, sizeof(err)) != 0) {
        fprintf(stderr, "FAIL mock: %s\n", err);
        return 2;
    }
    snprintf(g_home, sizeof(g_home), "/tmp/vp-azcli-XXXXXX");
    if (mkdtemp(g_home) == NULL || environment() != 0 || vault_init() != 0)
        return 2;

    test_browser_login();
    test_hours();
    test_revoked();
    /* signing in again (device code this time) replaces the revoked credential */
    test_device_code();
    get_and_render("after device-code sign-in", 0);
    test_device_code_refused("declined", "declined");
    test_device_code_refused("expired", "expired");
    test_browser_refused(MOCK_AZ_CONSENT_DENY, "consent declined", "access_denied: AADSTS65004",
                         "access_denied");
    test_browser_refused(MOCK_AZ_CONSENT_BAD_STATE, "state mismatch", "state did not match",
                         "Sign-in failed");
    /* and the flows still work afterwards */
    azp_proc p;
    azp_page pg;
    if (browser_login("browser login after the failures", "work", &p, &pg) == 0 &&
        strstr(pg.text, "Signed in") != NULL)
        printf("ok   browser login after the failures\n");
    else
        fail("browser login after the failures", "exit %d: %s", p.rc, safe(ERR(&p)));
    get_and_render("after the second browser sign-in", 0);
    test_xdg_open();
    get_and_render("after the xdg-open sign-in", 0);

    char cmd[300];
    snprintf(cmd, sizeof(cmd), "/bin/rm -rf '%s'", g_home);
    if (system(cmd) != 0)
        fprintf(stderr, "could not remove %s\n", g_home);
    mock_azure_stop(g_m);
    curl_global_cleanup();
    printf("%d failed\n", g_failures);
    return g_failures ? 1 : 0;
}
