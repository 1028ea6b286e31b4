/*
 * hc_cli_e2e - the hashicorp provider end to end through the real `vaultplug` binary, with a
 * private VAULTPLUG_HOME and vault, against the Vault and HCP mocks:
 *   credentials of each type stored with `cred add` (token, appRole with the secret id from
 *   stdin, HCP `cloud` with the client secret from stdin; refused ones store nothing) and
 *   `cred validate`; KV v1/v2 with and without an explicit KV version (mount detection counted
 *   at the mock), versions, `#key` and whole-object output; namespaces by header and by path
 *   prefix; HCP static, rotating and dynamic secrets; the documented exit statuses (3 not found,
 *   4 auth, 5 permission, 6 sealed/unavailable, 7 rate limited) and transparent retries;
 *   `render` with both three-argument config shapes and the URI forms, and `--mask`.
 * Every run is checked for canaries: no token, secret id, client secret or secret value on
 * stderr (also at -vvv), and values on stdout only where the command asked for them.
 *
 *   hc_cli_e2e VAULTPLUG_BINARY PROVIDER_DIR http|https
 */
#include <json-c/json.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "hc_cli_e2e.h"
#include "hc_cli_run.h"
#include "mock_hcp.h"
#include "mock_vault.h"

const char *const CANARIES[] = {T_GOOD, T_LIMITED, T_BOGUS, SID,       SID_BAD, CS,    CS_BAD, V1,
                                V2,     HIST,      DELETED, DESTROYED, LEGACY,  NSVAL, DEEP,   HS1,
                                HS2,    ROT1,      ROT2,    DYN,       QVAL,    NULL};

static const char VSEED[] =
    "{\"namespaces\":[\"team1\"],"
    "\"mounts\":[{\"namespace\":\"team1\",\"path\":\"secret\",\"version\":2},"
    "{\"path\":\"apps/kv2\",\"version\":2}],"
    "\"secrets\":["
    "{\"mount\":\"secret\",\"path\":\"app/db\",\"versions\":["
    "{\"data\":{\"password\":\"" V1 "\",\"user\":\"app\"}},"
    "{\"data\":{\"password\":\"" V2 "\",\"user\":\"app\"}}]},"
    "{\"mount\":\"secret\",\"path\":\"app/hist\",\"versions\":["
    "{\"data\":{\"p\":\"" DELETED "\"},\"deleted\":true},"
    "{\"data\":{\"p\":\"" DESTROYED "\"},\"destroyed\":true},"
    "{\"data\":{\"p\":\"" HIST "\"}}]},"
    "{\"mount\":\"kv\",\"path\":\"legacy\",\"data\":{\"key\":\"" LEGACY "\",\"n\":5}},"
    "{\"mount\":\"apps/kv2\",\"path\":\"deep/one\",\"versions\":[{\"data\":{\"v\":\"" DEEP "\"}}]},"
    "{\"namespace\":\"team1\",\"mount\":\"secret\",\"path\":\"nsapp\",\"versions\":["
    "{\"data\":{\"password\":\"" NSVAL "\"}}]}],"
    "\"tokens\":[{\"token\":\"" T_GOOD "\"},"
    "{\"token\":\"" T_LIMITED "\",\"paths\":[\"kv/\"]}],"
    "\"approles\":[{\"role_id\":\"cli-role\",\"secret_id\":\"" SID "\",\"token_ttl\":300}]}";

static const char HSEED[] =
    "{\"clients\":[{\"client_id\":\"cli-client\",\"client_secret\":\"" CS "\","
    "\"projects\":[\"p\"]}],"
    "\"secrets\":["
    "{\"organization\":\"o\",\"project\":\"p\",\"app\":\"a\",\"name\":\"static\","
    "\"type\":\"kv\",\"versions\":[\"" HS1 "\",\"" HS2 "\"]},"
    "{\"organization\":\"o\",\"project\":\"p\",\"app\":\"a\",\"name\":\"rot\","
    "\"type\":\"rotating\",\"versions\":[{\"api_key\":\"" ROT1 "\"},{\"api_key\":\"" ROT2 "\"}]},"
    "{\"organization\":\"o\",\"project\":\"p\",\"app\":\"a\",\"name\":\"dyn\","
    "\"type\":\"dynamic\",\"values\":{\"access_key_id\":\"AKIAEXAMPLE\","
    "\"secret_access_key\":\"" DYN "\"}},"
    "{\"organization\":\"o\",\"project\":\"q\",\"app\":\"a\",\"name\":\"other\","
    "\"type\":\"kv\",\"versions\":[\"" QVAL "\"]}]}";

/* Every HCP_*, VAULT_* and INSOMNIA_HASHICORP_* variable the provider reads: the stored
 * credentials must be what the runs use. */
static const char *const CHAIN_VARS[] = {"VAULT_ADDR",
                                         "VAULT_TOKEN",
                                         "VAULT_NAMESPACE",
                                         "VAULT_CACERT",
                                         "VAULT_CAPATH",
                                         "VAULT_SKIP_VERIFY",
                                         "HCP_CLIENT_ID",
                                         "HCP_CLIENT_SECRET",
                                         "HCP_AUTH_URL",
                                         "HCP_API_ADDRESS",
                                         "HCP_API_HOST",
                                         "HCP_ORGANIZATION_ID",
                                         "HCP_PROJECT_ID",
                                         "HCP_CRED_FILE",
                                         "VAULTPLUG_PLUGIN_PATH",

                                         "VAULTPLUG_HASHICORP_TYPE",
                                         NULL};

mock_vault *g_v;
mock_hcp *g_h;
char g_home[64];
static char g_tmpl[128], g_bad_tmpl[128];
static int g_cache_identity;

void write_file(const char *path, const char *text)
{
    FILE *f = fopen(path, "w");
    if (f == NULL || fputs(text, f) < 0 || fclose(f) != 0) {
        printf("FAIL cannot write %s\n", path);
        exit(2);
    }
}

static int append_file(FILE *dst, const char *path)
{
    FILE *f = fopen(path, "r");
    if (f == NULL)
        return -1;
    char buf[4096];
    size_t n;
    while ((n = fread(buf, 1, sizeof(buf), f)) > 0)
        fwrite(buf, 1, n, dst);
    fclose(f);
    return 0;
}

void clear_env(void)
{
    for (size_t i = 0; CHAIN_VARS[i]; i++)
        unsetenv(CHAIN_VARS[i]);
    extern char **environ;
    /* INSOMNIA_HASHICORP_* aliases: collect first, unsetenv changes environ. */
    char names[32][128];
    size_t n = 0;
    for (char **e = environ; *e && n < 32; e++)
        if (strncmp(*e, "INSOMNIA_HASHICORP_", 19) == 0) {
            snprintf(names[n], sizeof(names[n]), "%.*s", (int)strcspn(*e, "="), *e);
            n++;
        }
    for (size_t i = 0; i < n; i++)
        unsetenv(names[i]);
}

static void vault_init(void)
{
    unsetenv("VAULTPLUG_VAULT_KEY");
    const char *args[] = {"vault", "init", NULL};
    hc_cli_result r;
    hc_cli_run(args, NULL, &r);
    r.out.buf[strcspn(r.out.buf, "\r\n")] = '\0';
    if (r.status != 0 || r.out.buf[0] == '\0') {
        printf("FAIL vaultplug vault init: exit %d: %.400s\n", r.status, r.err.buf);
        exit(1);
    }
    setenv("VAULTPLUG_VAULT_KEY", r.out.buf, 1);
    printf("ok   vaultplug vault init\n");
    hc_cli_result_free(&r);
}

static void add_credentials(void)
{
    const char *va = mc_url(mock_vault_server(g_v)), *ha = mc_url(mock_hcp_server(g_h));
    char addr[200], auth[200], api[200];
    snprintf(addr, sizeof(addr), "address=%s", va);
    snprintf(auth, sizeof(auth), "auth_url=%s", ha);
    snprintf(api, sizeof(api), "api_url=%s", ha);

    const char *tok[] = {"cred",  "add",     "hashicorp", "tok", "--type",
                         "token", "--field", addr,        NULL};
    hc_cli_expect_out("cred add token (token from stdin)", tok, T_GOOD, "");
    const char *lim[] = {"cred",  "add",     "hashicorp", "lim", "--type",
                         "token", "--field", addr,        NULL};
    hc_cli_expect_out("cred add token with a kv/-only policy", lim, T_LIMITED, "");
    const char *role[] = {"cred",    "add",       "hashicorp", "role",
                          "--type",  "appRole",   "--field",   "role_id=cli-role",
                          "--field", "secret_id", "--field",   addr,
                          NULL};
    hc_cli_expect_out("cred add appRole (secret_id from stdin)", role, SID, "");
    const char *nsh[] = {"cred", "add",     "hashicorp",       "nsh", "--type", "token", "--field",
                         addr,   "--field", "namespace=team1", NULL};
    hc_cli_expect_out("cred add token, namespace by header", nsh, T_GOOD, "");
    const char *nsp[] = {"cred",      "add",
                         "hashicorp", "nsp",
                         "--type",    "token",
                         "--field",   addr,
                         "--field",   "namespace=team1",
                         "--field",   "send_namespace_via_header=false",
                         NULL};
    hc_cli_expect_out("cred add token, namespace as path prefix", nsp, T_GOOD, "");
    const char *hcp[] = {"cred",      "add",
                         "hashicorp", "hcp",
                         "--type",    "cloud",
                         "--field",   "client_id=cli-client",
                         "--field",   auth,
                         "--field",   api,
                         "--field",   "organization_id=o",
                         "--field",   "project_id=p",
                         NULL};
    hc_cli_expect_out("cred add cloud (client_secret from stdin)", hcp, CS, "");

    /* Refused at validation: exit 4, nothing stored, no secret echoed. */
    const char *bogus[] = {"cred",  "add",     "hashicorp", "bogus", "--type",
                           "token", "--field", addr,        NULL};
    hc_cli_expect_err("cred add of a bogus token is refused", bogus, T_BOGUS, 4, NULL);
    const char *badrole[] = {"cred",    "add",       "hashicorp", "badrole",
                             "--type",  "appRole",   "--field",   "role_id=cli-role",
                             "--field", "secret_id", "--field",   addr,
                             NULL};
    hc_cli_expect_err("cred add appRole with a wrong secret_id is refused", badrole, SID_BAD, 4,
                      "AppRole login");
    const char *badhcp[] = {"cred",    "add",   "hashicorp", "badhcp",
                            "--type",  "cloud", "--field",   "client_id=cli-client",
                            "--field", auth,    "--field",   api,
                            NULL};
    hc_cli_expect_err("cred add cloud with a wrong client_secret is refused", badhcp, CS_BAD, 4,
                      NULL);
    /* A secret field on the command line is refused, and not echoed back. */
    char inline_tok[100];
    snprintf(inline_tok, sizeof(inline_tok), "token=%s", T_BOGUS);
    const char *argv_secret[] = {"cred",    "add", "hashicorp", "argv",     "--type", "token",
                                 "--field", addr,  "--field",   inline_tok, NULL};
    hc_cli_expect_err("cred add with a secret field in argv is refused", argv_secret, NULL, 2,
                      NULL);
    /* Stored unchecked, for the auth-error paths below. */
    const char *bogus2[] = {"cred",  "add",     "hashicorp", "bogus",         "--type",
                            "token", "--field", addr,        "--no-validate", NULL};
    hc_cli_expect_out("cred add --no-validate (bogus token)", bogus2, T_BOGUS, "");
    const char *badhcp2[] = {"cred",          "add",
                             "hashicorp",     "badhcp",
                             "--type",        "cloud",
                             "--field",       "client_id=cli-client",
                             "--field",       auth,
                             "--field",       api,
                             "--field",       "organization_id=o",
                             "--field",       "project_id=p",
                             "--no-validate", NULL};
    hc_cli_expect_out("cred add --no-validate (bad client secret)", badhcp2, CS_BAD, "");

    const char *v_tok[] = {"cred", "validate", "hashicorp", "tok", NULL};
    hc_cli_expect_out("cred validate token", v_tok, NULL, "");
    const char *v_role[] = {"cred", "validate", "hashicorp", "role", NULL};
    hc_cli_expect_out("cred validate appRole", v_role, NULL, "");
    const char *v_hcp[] = {"cred", "validate", "hashicorp", "hcp", NULL};
    hc_cli_expect_out("cred validate cloud", v_hcp, NULL, "");
    const char *v_bogus[] = {"cred", "validate", "hashicorp", "bogus", NULL};
    hc_cli_expect_err("cred validate bogus token", v_bogus, NULL, 4, NULL);
    const char *v_badhcp[] = {"cred", "validate", "hashicorp", "badhcp", NULL};
    hc_cli_expect_err("cred validate cloud with a wrong secret", v_badhcp, NULL, 4, NULL);

    /* The listing masks secret fields; the refused credentials were not stored. */
    const char *list[] = {"cred", "list", "--json", NULL};
    hc_cli_result r;
    hc_cli_run(list, NULL, &r);
    int leaked = hc_cli_canary_check("cred list --json", &r, NULL);
    json_object *j = json_tokener_parse(r.out.buf);
    const char *s = r.out.buf;
    if (r.status != 0 || j == NULL || !strstr(s, "\"tok\"") || !strstr(s, "\"role\"") ||
        !strstr(s, "\"hcp\"") || strstr(s, "\"badrole\"") != NULL)
        printf("FAIL cred list --json: exit %d, %s\n", r.status, leaked ? "(leaked)" : s),
            hc_cli_failures++;
    else
        printf("ok   cred list --json: stored credentials listed, refused ones absent\n");
    json_object_put(j);
    hc_cli_result_free(&r);
}

/* `get REF` prints a JSON object with exactly these string members (NULL-terminated pairs). */
static void expect_object(const char *what, const char *ref, const char *const *kv, int n_int)
{
    const char *args[] = {"get", ref, NULL};
    hc_cli_result r;
    hc_cli_run(args, NULL, &r);
    int ok = r.status == 0;
    json_object *j = ok ? json_tokener_parse(r.out.buf) : NULL;
    ok = j != NULL && json_object_is_type(j, json_type_object);
    size_t members = 0;
    char allowed[1024] = "";
    for (size_t i = 0; ok && kv[i]; i += 2, members++) {
        json_object *m = NULL;
        ok = json_object_object_get_ex(j, kv[i], &m) && json_object_is_type(m, json_type_string) &&
             strcmp(json_object_get_string(m), kv[i + 1]) == 0;
        strncat(allowed, kv[i + 1], sizeof(allowed) - strlen(allowed) - 1);
    }
    if (ok && n_int >= 0) {
        json_object *m = NULL;
        ok = json_object_object_get_ex(j, "n", &m) && json_object_get_int(m) == n_int;
        members++;
    }
    ok = ok && (size_t)json_object_object_length(j) == members;
    int leaked = hc_cli_canary_check(what, &r, allowed);
    if (!ok)
        printf("FAIL %s: exit %d, not the expected object (%zu bytes)%s%.400s\n", what, r.status,
               r.out.len, leaked ? "" : "; stderr: ", leaked ? "" : r.err.buf),
            hc_cli_failures++;
    else
        printf("ok   %s\n", what);
    json_object_put(j);
    hc_cli_result_free(&r);
}

void get(const char *what, const char *ref, const char *want)
{
    const char *args[] = {"get", ref, NULL};
    hc_cli_expect_out(what, args, NULL, want);
}

void get_err(const char *what, const char *ref, int status, const char *err_has)
{
    const char *args[] = {"get", ref, NULL};
    hc_cli_expect_err(what, args, NULL, status, err_has);
}

void counted(const char *what, mock_vault_counter c, uint64_t before, int want_more)
{
    uint64_t now = mock_vault_count(g_v, c);
    if ((now > before) != want_more)
        printf("FAIL %s: mock counter %llu -> %llu\n", what, (unsigned long long)before,
               (unsigned long long)now),
            hc_cli_failures++;
    else
        printf("ok   %s\n", what);
}

static void vault_kv(void)
{
    uint64_t m0 = mock_vault_count(g_v, MV_COUNT_MOUNTS);
    get("KV v2, detected: token", "hashicorp://tok@secret/app/db#password", V2);
    counted("... the mount was detected through sys/internal/ui/mounts", MV_COUNT_MOUNTS, m0, 1);
    get("KV v2, detected: appRole", "hashicorp://role@secret/app/db#password", V2);
    get("KV v2, version=1", "hashicorp://tok@secret/app/db?version=1#password", V1);
    get("KV v2, version=2", "hashicorp://role@secret/app/db?version=2#password", V2);
    get("KV v2, multi-segment mount detected", "hashicorp://tok@apps/kv2/deep/one#v", DEEP);
    m0 = mock_vault_count(g_v, MV_COUNT_MOUNTS);
    get("KV v2, explicit mount + kv=v2", "hashicorp://tok@app/db?mount=secret&kv=v2#password", V2);
    get("KV v2, explicit, version=1",
        "hashicorp://role@app/db?mount=secret&kv=v2&version=1#password", V1);
    get("KV v1, explicit mount + kv=v1", "hashicorp://tok@legacy?mount=kv&kv=v1#key", LEGACY);
    counted("... explicit KV version and mount: no detection request", MV_COUNT_MOUNTS, m0, 0);
    get("KV v1, detected", "hashicorp://tok@kv/legacy#key", LEGACY);
    get("KV v1, non-string member serialised", "hashicorp://tok@kv/legacy#n", "5");
    get("KV v2, latest after deleted/destroyed versions", "hashicorp://tok@secret/app/hist#p",
        HIST);

    static const char *const legacy[] = {"key", LEGACY, NULL};
    expect_object("KV v1 whole object (no #key)", "hashicorp://tok@kv/legacy", legacy, 5);
    static const char *const db1[] = {"password", V1, "user", "app", NULL};
    expect_object("KV v2 whole object, version=1", "hashicorp://role@secret/app/db?version=1", db1,
                  -1);

    uint64_t h0 = mock_vault_count(g_v, MV_COUNT_NS_HEADER);
    get("namespace by X-Vault-Namespace", "hashicorp://nsh@secret/nsapp#password", NSVAL);
    counted("... the request carried X-Vault-Namespace", MV_COUNT_NS_HEADER, h0, 1);
    uint64_t p0 = mock_vault_count(g_v, MV_COUNT_NS_PATH);
    h0 = mock_vault_count(g_v, MV_COUNT_NS_HEADER);
    get("namespace as path prefix", "hashicorp://nsp@secret/nsapp#password", NSVAL);
    counted("... the path started with the namespace", MV_COUNT_NS_PATH, p0, 1);
    counted("... and no X-Vault-Namespace was sent", MV_COUNT_NS_HEADER, h0, 0);
    get("namespace=team1 in the reference", "hashicorp://tok@secret/nsapp?namespace=team1#password",
        NSVAL);
    mock_vault_set_require_request_header(g_v, 1);
    get("Vault Agent with require_request_header", "hashicorp://tok@secret/app/db#user", "app");
    mock_vault_set_require_request_header(g_v, 0);
    mock_vault_set_legacy_mounts(g_v, 1);
    get("Vault without sys/internal/ui/mounts: KV v1, first segment",
        "hashicorp://tok@kv/legacy#key", LEGACY);
    mock_vault_set_legacy_mounts(g_v, 0);
    get_err("root namespace does not see team1's secret", "hashicorp://tok@secret/nsapp", 3,
            "not found");
}

static void vault_errors(void)
{
    get_err("missing path: exit 3", "hashicorp://tok@secret/app/nothing", 3, "not found");
    get_err("missing KV v1 path: exit 3", "hashicorp://tok@kv/nothing#key", 3, "not found");
    get_err("soft-deleted version: exit 3", "hashicorp://tok@secret/app/hist?version=1#p", 3,
            "deleted");
    get_err("destroyed version: exit 3", "hashicorp://tok@secret/app/hist?version=2#p", 3,
            "destroyed");
    get_err("version that never existed: exit 3", "hashicorp://tok@secret/app/db?version=9", 3,
            NULL);
    get_err("missing #key: exit 3", "hashicorp://tok@secret/app/db#nokey", 3, "nokey");
    get_err("version on a KV v1 mount: exit 2", "hashicorp://tok@kv/legacy?version=2#key", 2, NULL);
    get_err("policy denies the path: exit 5", "hashicorp://lim@secret/app/db#password", 5,
            "permission denied");
    get("... the same token reads what its policy allows", "hashicorp://lim@kv/legacy#key", LEGACY);
    get_err("bogus token: exit 4", "hashicorp://bogus@secret/app/db#password", 4, NULL);
    get_err("unknown credential name: exit 3", "hashicorp://nobody@secret/app/db#password", 3,
            NULL);

    mock_vault_set_sealed(g_v, 1);
    get_err("sealed Vault (503): exit 6", "hashicorp://tok@secret/app/db#password", 6, NULL);
    mock_vault_set_sealed(g_v, 0);
    mock_vault_fail_next(g_v, "secret/", 429, 1000, 1);
    get_err("429 after the retries: exit 7", "hashicorp://tok@secret/app/db#password", 7, NULL);
    mock_vault_fail_next(g_v, "secret/", 503, 1000, 1);
    get_err("503 after the retries: exit 6", "hashicorp://tok@secret/app/db#password", 6, NULL);
    mock_vault_fail_next(g_v, NULL, 0, 0, 0);

    mock_vault_fail_next(g_v, "secret/", 429, 1, 1);
    get("429 once + Retry-After: retried", "hashicorp://tok@secret/app/db#password", V2);
    mock_vault_fail_next(g_v, "secret/", 412, 1, 0);
    get("412 once (eventual consistency): retried", "hashicorp://tok@secret/app/db#password", V2);
    mock_vault_fail_next(g_v, "secret/", 503, 1, 0);
    get("503 once (standby): retried", "hashicorp://role@secret/app/db#password", V2);
    mock_vault_fail_next(g_v, NULL, 0, 0, 0);
}

static void hcp(void)
{
    uint64_t t0 = mock_hcp_count(g_h, MH_COUNT_TOKEN);
    get("HCP static, latest", "hcp://hcp@o/p/a/static", HS2);
    if (mock_hcp_count(g_h, MH_COUNT_TOKEN) <= t0)
        printf("FAIL HCP: no client-credentials token was issued\n"), hc_cli_failures++;
    get("HCP static, version=1", "hcp://hcp@o/p/a/static?version=1", HS1);
    get("HCP static, short form (org/project from the credential)", "hcp://hcp@a/static", HS2);
    get("HCP rotating #key", "hcp://hcp@o/p/a/rot#api_key", ROT2);
    get("HCP rotating, version=1 #key", "hcp://hcp@o/p/a/rot?version=1#api_key", ROT1);
    get("HCP dynamic #key", "hcp://hcp@o/p/a/dyn#secret_access_key", DYN);
    static const char *const rot[] = {"api_key", ROT2, NULL};
    expect_object("HCP rotating whole object", "hcp://hcp@o/p/a/rot", rot, -1);
    static const char *const dyn[] = {"access_key_id", "AKIAEXAMPLE", "secret_access_key", DYN,
                                      NULL};
    expect_object("HCP dynamic whole object", "hcp://hcp@o/p/a/dyn", dyn, -1);
    mock_hcp_set_wrap_versions(g_h, 1);
    get("HCP version, wrapped body shape", "hcp://hcp@o/p/a/static?version=1", HS1);
    mock_hcp_set_wrap_versions(g_h, 0);

    get_err("HCP missing secret: exit 3", "hcp://hcp@o/p/a/nothing", 3, NULL);
    get_err("HCP project not allowed: exit 5", "hcp://hcp@o/q/a/other", 5, NULL);
    get_err("HCP wrong client secret: exit 4", "hcp://badhcp@o/p/a/static", 4, NULL);
    mock_hcp_fail_next(g_h, 8, 1000, 1);
    get_err("HCP rate limited after the retries: exit 7", "hcp://hcp@o/p/a/static", 7, NULL);
    mock_hcp_fail_next(g_h, 14, 1000, 1);
    get_err("HCP unavailable after the retries: exit 6", "hcp://hcp@o/p/a/static", 6, NULL);
    mock_hcp_fail_next(g_h, 8, 1, 1);
    get("HCP rate limited once: retried", "hcp://hcp@o/p/a/static", HS2);
    mock_hcp_fail_next(g_h, 0, 0, 0);
}

static const char TEMPLATE[] =
    "a={% vault 'hashicorp', 'tok', '{\"kvVersion\":\"v2\",\"secretEnginePath\":\"secret\","
    "\"secretName\":\"app/db\",\"secretKey\":\"password\",\"version\":1}' %}\n"
    "b={% vault 'hashicorp', 'role', '{\"secretName\":\"secret/app/db\",\"secretKey\":"
    "\"password\"}' %}\n"
    "c={% vault 'hashicorp', 'tok', '{\"kvVersion\":\"v1\",\"secretEnginePath\":\"kv\","
    "\"secretName\":\"legacy\",\"secretKey\":\"key\"}' %}\n"
    "d={% vault 'hashicorp', 'tok', '{\"secretEnginePath\":\"secret\",\"secretName\":\"nsapp\","
    "\"secretKey\":\"password\",\"namespace\":\"team1\"}' %}\n"
    "e={% vault 'hashicorp', 'tok', '{\"secretName\":\"apps/kv2/deep/one\",\"secretKey\":\"v\"}'"
    " %}\n"
    "f={% vault \"hashicorp://tok@secret/app/db?version=2#password\" %}\n"
    "g={% vault \"hashicorp://nsp@secret/nsapp#password\" %}\n"
    "h={% vault 'hashicorp', 'hcp', '{\"organizationId\":\"o\",\"projectId\":\"p\","
    "\"appName\":\"a\",\"secretName\":\"static\",\"version\":1}' %}\n"
    "i={% vault 'hashicorp', 'hcp', '{\"organizationId\":\"o\",\"projectId\":\"p\","
    "\"appName\":\"a\",\"secretName\":\"rot\",\"secretKey\":\"api_key\"}' %}\n"
    "j={% vault \"hcp://hcp@o/p/a/dyn#secret_access_key\" %}\n"
    "k={% vault \"hcp://hcp@a/static\" %}\n";

static const char RENDERED[] = "a=" V1 "\nb=" V2 "\nc=" LEGACY "\nd=" NSVAL "\ne=" DEEP "\nf=" V2
                               "\ng=" NSVAL "\nh=" HS1 "\ni=" ROT2 "\nj=" DYN "\nk=" HS2 "\n";

static void render(void)
{
    const char *args[] = {"render", g_tmpl, NULL};
    hc_cli_expect_out("render: three-argument tag (Vault and HCP shapes) and URI forms", args, NULL,
                      RENDERED);
    const char *masked[] = {"render", g_tmpl, "--mask", NULL};
    hc_cli_result r;
    hc_cli_run(masked, NULL, &r);
    /* allowed_out NULL: no value may reach stdout when masked. */
    int leaked = hc_cli_canary_check("render --mask", &r, NULL);
    if (r.status != 0 || strncmp(r.out.buf, "a=", 2) != 0 || strstr(r.out.buf, "\nk=") == NULL)
        printf("FAIL render --mask: exit %d%s%.400s\n", r.status, leaked ? "" : ": ",
               leaked ? "" : r.err.buf),
            hc_cli_failures++;
    else if (!leaked)
        printf("ok   render --mask: resolved, no value on stdout\n");
    hc_cli_result_free(&r);
    const char *bad[] = {"render", g_bad_tmpl, NULL};
    hc_cli_expect_err("render with one missing reference: exit 3, no partial output", bad, NULL, 3,
                      NULL);
}

/* -vvv: the library's TRACE log on stderr, through the redactor. */
static void traced(void)
{
    static const char *const refs[][2] = {
        {"hashicorp://tok@secret/app/db#password", V2},
        {"hashicorp://role@secret/app/db?version=1#password", V1},
        {"hashicorp://nsp@secret/nsapp#password", NSVAL},
        {"hcp://hcp@o/p/a/rot#api_key", ROT2},
        {"hcp://hcp@o/p/a/dyn#secret_access_key", DYN},
    };
    for (size_t i = 0; i < sizeof(refs) / sizeof(refs[0]); i++) {
        char what[200];
        snprintf(what, sizeof(what), "-vvv get %s: value on stdout only", refs[i][0]);
        const char *args[] = {"-vvv", "get", refs[i][0], NULL};
        hc_cli_expect_out(what, args, NULL, refs[i][1]);
    }
    const char *bogus[] = {"-vvv", "get", "hashicorp://bogus@secret/app/db#password", NULL};
    hc_cli_expect_err("-vvv get with a bogus token", bogus, NULL, 4, NULL);
    const char *badhcp[] = {"-vvv", "get", "hcp://badhcp@o/p/a/static", NULL};
    hc_cli_expect_err("-vvv get with a wrong client secret", badhcp, NULL, 4, NULL);
    const char *v_role[] = {"-vvv", "cred", "validate", "hashicorp", "role", NULL};
    hc_cli_expect_out("-vvv cred validate appRole", v_role, NULL, "");
}

int main(int argc, char **argv)
{
    if (argc == 5 && strcmp(argv[4], "cache-identity") == 0) {
        argc = 4;
        g_cache_identity = 1;
    }
    if (argc != 4) {
        fprintf(stderr, "usage: hc_cli_e2e VAULTPLUG PROVIDER_DIR http|https\n");
        return 2;
    }
    setvbuf(stdout, NULL, _IOLBF, 0);
    hc_cli_bin = argv[1];
    hc_cli_plugin_dir = argv[2];
    hc_cli_canaries = CANARIES;
    int tls = strcmp(argv[3], "https") == 0;
    if (tls && !mc_tls_supported()) {
        printf("no TLS support in libmicrohttpd: skipped\n");
        return 0;
    }
    char err[256] = "";
    g_v = mock_vault_start(tls, err, sizeof(err));
    g_h = g_v ? mock_hcp_start(tls, err, sizeof(err)) : NULL;
    if (g_h == NULL || mock_vault_seed_json(g_v, VSEED, err, sizeof(err)) != 0 ||
        mock_hcp_seed_json(g_h, HSEED, err, sizeof(err)) != 0) {
        printf("FAIL mock setup: %s\n", err);
        return 2;
    }
    snprintf(g_home, sizeof(g_home), "/tmp/vp-hc-cli-XXXXXX");
    if (mkdtemp(g_home) == NULL)
        return 2;
    char vhome[128], ca[128];
    snprintf(vhome, sizeof(vhome), "%s/vaultplug", g_home);
    mkdir(vhome, 0700);
    snprintf(g_tmpl, sizeof(g_tmpl), "%s/t.tmpl", g_home);
    write_file(g_tmpl, TEMPLATE);
    snprintf(g_bad_tmpl, sizeof(g_bad_tmpl), "%s/bad.tmpl", g_home);
    write_file(g_bad_tmpl, "x={% vault \"hashicorp://tok@secret/app/db#password\" %}\n"
                           "y={% vault \"hashicorp://tok@secret/app/nothing#password\" %}\n");

    clear_env();
    unsetenv("VAULTPLUG_CA_FILE");
    setenv("HOME", g_home, 1); /* no ~/.vault-token, no HCP credential file */
    setenv("VAULTPLUG_HOME", vhome, 1);
    setenv("VAULTPLUG_CACHE_TTL", "0", 1); /* every run reaches the mock */
    setenv("NO_COLOR", "1", 1);
    if (tls) {
        /* One bundle with both mocks' CAs: the host's CA setting serves both providers' URLs. */
        snprintf(ca, sizeof(ca), "%s/ca.pem", g_home);
        FILE *f = fopen(ca, "w");
        if (f == NULL || append_file(f, mc_ca_file(mock_vault_server(g_v))) != 0 ||
            append_file(f, mc_ca_file(mock_hcp_server(g_h))) != 0 || fclose(f) != 0) {
            printf("FAIL cannot write the CA bundle\n");
            return 2;
        }
        setenv("VAULTPLUG_CA_FILE", ca, 1);
    }

    vault_init();
    add_credentials();
    if (g_cache_identity) {
        cache_identity();
        goto done;
    }
    vault_kv();
    vault_errors();
    hcp();
    render();
    traced();
    env_chain(tls);
    cache_between_runs(vhome);
    if (tls) {
        /* Without the CA the TLS handshake fails: the test really runs over HTTPS. */
        unsetenv("VAULTPLUG_CA_FILE");
        get_err("HTTPS without the mock's CA: exit 6", "hashicorp://tok@secret/app/db#password", 6,
                NULL);
        char field[200];
        snprintf(field, sizeof(field), "ca_cert=%s", mc_ca_file(mock_vault_server(g_v)));
        char addr[200];
        snprintf(addr, sizeof(addr), "address=%s", mc_url(mock_vault_server(g_v)));
        const char *add[] = {"cred",    "add", "hashicorp", "tokca", "--type", "token",
                             "--field", addr,  "--field",   field,   NULL};
        hc_cli_expect_out("cred add token with ca_cert", add, T_GOOD, "");
        get("HTTPS with the credential's ca_cert only", "hashicorp://tokca@secret/app/db#password",
            V2);
        setenv("VAULTPLUG_CA_FILE", ca, 1);
    }

done:;
    char cmd[128];
    snprintf(cmd, sizeof(cmd), "rm -rf '%s'", g_home);
    if (system(cmd) != 0)
        fprintf(stderr, "could not remove %s\n", g_home);
    mock_hcp_stop(g_h);
    mock_vault_stop(g_v);
    printf("%d failed\n", hc_cli_failures);
    return hc_cli_failures ? 1 : 0;
}
