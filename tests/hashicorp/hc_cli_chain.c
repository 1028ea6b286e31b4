/*
 * hc_cli_chain - the parts of hc_cli_e2e without stored credentials: the provider's environment
 * chain (~/.vault-token, VAULT_*, Inso's INSOMNIA_HASHICORP_*, HCP_*), the CLI's
 * VAULTPLUG_HASHICORP_* credential, VAULT_SKIP_VERIFY / VAULT_CACERT over HTTPS; and the
 * persistent cache between runs (sealed on disk; cache_identity checks it is kept per identity).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "hc_cli_e2e.h"
#include "hc_cli_run.h"

static int contains(const char *buf, size_t n, const char *needle)
{
    size_t k = strlen(needle);
    for (size_t i = 0; i + k <= n; i++)
        if (memcmp(buf + i, needle, k) == 0)
            return 1;
    return 0;
}

/* Every file under dir: no canary in its bytes (the vault and the cache file are sealed). */
static void no_canary_on_disk(const char *dir)
{
    char cmd[300];
    snprintf(cmd, sizeof(cmd), "find '%s' -type f", dir);
    FILE *p = popen(cmd, "r");
    char path[512];
    size_t files = 0;
    int bad = 0;
    while (p != NULL && fgets(path, sizeof(path), p) != NULL) {
        path[strcspn(path, "\n")] = '\0';
        FILE *f = fopen(path, "rb");
        if (f == NULL)
            continue;
        static char buf[1 << 20];
        size_t n = fread(buf, 1, sizeof(buf) - 1, f);
        fclose(f);
        files++;
        for (size_t i = 0; CANARIES[i]; i++)
            if (contains(buf, n, CANARIES[i])) {
                printf("FAIL %s holds canary #%zu in clear\n", path, i);
                bad++;
            }
    }
    if (p != NULL)
        pclose(p);
    hc_cli_failures += bad;
    if (files < 2)
        printf("FAIL expected the vault and cache files in %s, found %zu files\n", dir, files),
            hc_cli_failures++;
    else if (!bad)
        printf("ok   no canary in clear in the %zu files of VAULTPLUG_HOME\n", files);
}

/* The persistent cache (VAULTPLUG_CACHE_TTL unset): the second run is served without a read. */
void cache_between_runs(const char *vhome)
{
    unsetenv("VAULTPLUG_CACHE_TTL");
    get("cached run 1", "hashicorp://tok@secret/app/db?version=1#password", V1);
    uint64_t r0 = mock_vault_count(g_v, MV_COUNT_READ);
    get("cached run 2", "hashicorp://tok@secret/app/db?version=1#user", "app");
    counted("... served from cache.vpc without a KV read", MV_COUNT_READ, r0, 0);
    no_canary_on_disk(vhome);
    setenv("VAULTPLUG_CACHE_TTL", "0", 1);
}

/* `hc_cli_e2e BIN DIR http cache-identity` (ctest hc_cli_cache_identity): the cache kept between
 * runs must never serve a value fetched with one token/server to another token, server or a
 * replaced credential of the same name, bypassing the 4/5 exit statuses (each entry carries the
 * identity it was fetched as: see core/src/api/cachefile.c). */
void cache_identity(void)
{
    unsetenv("VAULTPLUG_CACHE_TTL");
    setenv("VAULT_ADDR", mc_url(mock_vault_server(g_v)), 1);
    setenv("VAULT_TOKEN", T_GOOD, 1);
    get("cache identity: read with a good token", "hashicorp://secret/app/db#password", V2);
    setenv("VAULT_TOKEN", T_LIMITED, 1);
    get_err("cache identity: another token without the policy: exit 5",
            "hashicorp://secret/app/db#password", 5, NULL);
    setenv("VAULT_TOKEN", T_BOGUS, 1);
    get_err("cache identity: a bogus token: exit 4", "hashicorp://secret/app/db#password", 4, NULL);
    /* A file the provider read is part of the identity too: ~/.vault-token changing hands. */
    unsetenv("VAULT_TOKEN");
    char tokfile[128];
    snprintf(tokfile, sizeof(tokfile), "%s/.vault-token", g_home);
    write_file(tokfile, T_GOOD "\n");
    get("cache identity: read with the good token in ~/.vault-token",
        "hashicorp://secret/app/db#password", V2);
    write_file(tokfile, T_LIMITED "\n");
    get_err("cache identity: ~/.vault-token now holds a token without the policy: exit 5",
            "hashicorp://secret/app/db#password", 5, NULL);
    unlink(tokfile);
    const char *rm[] = {"cred", "rm", "hashicorp", "lim", NULL};
    hc_cli_expect_out("cache identity: cred rm lim", rm, NULL, "");
    get("cache identity: read with the good token as 'tok'", "hashicorp://tok@secret/app/db#user",
        "app");
    const char *rm2[] = {"cred", "rm", "hashicorp", "tok", NULL};
    hc_cli_expect_out("cache identity: cred rm tok", rm2, NULL, "");
    char addr[200];
    snprintf(addr, sizeof(addr), "address=%s", mc_url(mock_vault_server(g_v)));
    const char *add[] = {"cred",  "add",     "hashicorp", "tok", "--type",
                         "token", "--field", addr,        NULL};
    hc_cli_expect_out("cache identity: 'tok' re-added with the limited token", add, T_LIMITED, "");
    get_err("cache identity: the replaced credential: exit 5", "hashicorp://tok@secret/app/db#user",
            5, NULL);
    clear_env();
    setenv("VAULTPLUG_CACHE_TTL", "0", 1);
}

/* References without a credential: the provider's chain and the CLI's VAULTPLUG_HASHICORP_*. */
void env_chain(int tls)
{
    const char *va = mc_url(mock_vault_server(g_v)), *ha = mc_url(mock_hcp_server(g_h));
    setenv("VAULT_ADDR", va, 1);
    char path[128];
    snprintf(path, sizeof(path), "%s/.vault-token", g_home);
    write_file(path, "  " T_GOOD "\n");
    get("empty credential: ~/.vault-token", "hashicorp://secret/app/db#password", V2);
    unlink(path);
    get_err("empty credential, no token anywhere: exit 4", "hashicorp://secret/app/db#password", 4,
            NULL);
    /* Inso's variables without INSOMNIA_HASHICORP_TYPE are ignored, with a warning. */
    setenv("INSOMNIA_HASHICORP_ROLE_ID", "cli-role", 1);
    setenv("INSOMNIA_HASHICORP_SECRET_ID", SID, 1);
    get_err("INSOMNIA_HASHICORP_ROLE_ID without _TYPE: ignored, exit 4",
            "hashicorp://secret/app/db#user", 4, "INSOMNIA_HASHICORP_TYPE");
    setenv("INSOMNIA_HASHICORP_TYPE", "onPrem", 1);
    setenv("INSOMNIA_HASHICORP_AUTHMETHOD", "appRole", 1);
    setenv("INSOMNIA_HASHICORP_SERVERADDRESS", va, 1);
    get("empty credential: INSOMNIA_HASHICORP_TYPE=onPrem, appRole",
        "hashicorp://secret/app/db?version=1#password", V1);
    setenv("INSOMNIA_HASHICORP_SECRET_ID", SID_BAD, 1);
    get_err("INSOMNIA_HASHICORP_* with a wrong secret id: exit 4",
            "hashicorp://secret/app/db#password", 4, NULL);
    clear_env();
    setenv("VAULT_ADDR", va, 1);
    setenv("VAULTPLUG_HASHICORP_TYPE", "appRole", 1);
    setenv("VAULTPLUG_HASHICORP_ROLE_ID", "cli-role", 1);
    setenv("VAULTPLUG_HASHICORP_SECRET_ID", SID, 1);
    get("VAULTPLUG_HASHICORP_TYPE=appRole", "hashicorp://secret/app/db?version=1#password", V1);
    unsetenv("VAULTPLUG_HASHICORP_TYPE");
    unsetenv("VAULTPLUG_HASHICORP_ROLE_ID");
    unsetenv("VAULTPLUG_HASHICORP_SECRET_ID");
    setenv("VAULT_TOKEN", T_GOOD, 1);
    setenv("VAULT_NAMESPACE", "team1", 1);
    get("VAULT_TOKEN + VAULT_NAMESPACE", "hashicorp://secret/nsapp#password", NSVAL);
    unsetenv("VAULT_NAMESPACE");
    if (tls) {
        /* VAULT_SKIP_VERIFY: works without the CA, and says so on stderr. */
        unsetenv("VAULTPLUG_CA_FILE");
        setenv("VAULT_SKIP_VERIFY", "true", 1);
        const char *args[] = {"get", "hashicorp://secret/app/db#password", NULL};
        hc_cli_result r;
        hc_cli_run(args, NULL, &r);
        int leaked = hc_cli_canary_check("VAULT_SKIP_VERIFY", &r, V2);
        if (r.status != 0 || strcmp(r.out.buf, V2) != 0 || strstr(r.err.buf, "erif") == NULL)
            printf("FAIL VAULT_SKIP_VERIFY: exit %d, no value or no warning%s%.400s\n", r.status,
                   leaked ? "" : ": ", leaked ? "" : r.err.buf),
                hc_cli_failures++;
        else
            printf("ok   VAULT_SKIP_VERIFY: value read, warning on stderr\n");
        hc_cli_result_free(&r);
        unsetenv("VAULT_SKIP_VERIFY");
        setenv("VAULT_CACERT", mc_ca_file(mock_vault_server(g_v)), 1);
        get("VAULT_CACERT (no host CA setting)", "hashicorp://secret/app/db#password", V2);
        unsetenv("VAULT_CACERT");
    }
    unsetenv("VAULT_TOKEN");
    unsetenv("VAULT_ADDR");
    if (tls) {
        char ca[128];
        snprintf(ca, sizeof(ca), "%s/ca.pem", g_home);
        setenv("VAULTPLUG_CA_FILE", ca, 1);
    }
    setenv("HCP_AUTH_URL", ha, 1);
    setenv("HCP_API_ADDRESS", ha, 1);
    setenv("HCP_CLIENT_ID", "cli-client", 1);
    setenv("HCP_CLIENT_SECRET", CS, 1);
    setenv("HCP_ORGANIZATION_ID", "o", 1);
    setenv("HCP_PROJECT_ID", "p", 1);
    get("empty credential: HCP_CLIENT_ID/SECRET", "hcp://a/rot#api_key", ROT2);
    setenv("HCP_CLIENT_SECRET", CS_BAD, 1);
    get_err("empty credential: wrong HCP_CLIENT_SECRET: exit 4", "hcp://a/static", 4, NULL);
    unsetenv("HCP_CLIENT_ID");
    unsetenv("HCP_CLIENT_SECRET");
    setenv("INSOMNIA_HASHICORP_TYPE", "cloud", 1);
    setenv("INSOMNIA_HASHICORP_CLIENT_ID", "cli-client", 1);
    setenv("INSOMNIA_HASHICORP_CLIENT_SECRET", CS, 1);
    get("empty credential: INSOMNIA_HASHICORP_TYPE=cloud", "hcp://o/p/a/dyn#secret_access_key",
        DYN);
    get_err("INSOMNIA_HASHICORP_TYPE=cloud and a Vault reference: exit 4",
            "hashicorp://secret/app/db#user", 4, "cloud");
    clear_env();
    setenv("VAULTPLUG_HASHICORP_TYPE", "cloud", 1);
    setenv("VAULTPLUG_HASHICORP_CLIENT_ID", "cli-client", 1);
    setenv("VAULTPLUG_HASHICORP_CLIENT_SECRET", CS, 1);
    char url[200];
    snprintf(url, sizeof(url), "%s", ha);
    setenv("VAULTPLUG_HASHICORP_AUTH_URL", url, 1);
    setenv("VAULTPLUG_HASHICORP_API_URL", url, 1);
    setenv("VAULTPLUG_HASHICORP_ORGANIZATION_ID", "o", 1);
    setenv("VAULTPLUG_HASHICORP_PROJECT_ID", "p", 1);
    get("VAULTPLUG_HASHICORP_TYPE=cloud", "hcp://a/static?version=1", HS1);
    static const char *const vp_vars[] = {"TYPE",    "CLIENT_ID",       "CLIENT_SECRET", "AUTH_URL",
                                          "API_URL", "ORGANIZATION_ID", "PROJECT_ID",    NULL};
    for (size_t i = 0; vp_vars[i]; i++) {
        char name[64];
        snprintf(name, sizeof(name), "VAULTPLUG_HASHICORP_%s", vp_vars[i]);
        unsetenv(name);
    }
    clear_env();
}
