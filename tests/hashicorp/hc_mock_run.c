/*
 * hc_mock_run - start the Vault mock (and, over HTTP, the HCP mock), seeded with a fixed data
 * set, and run a program against them:
 *
 *   hc_mock_run testkit TESTKIT PLUGIN TLS(0|1) CONFIG_OUT
 *       writes a testkit config to CONFIG_OUT and runs
 *       `TESTKIT --plugin PLUGIN --config CONFIG_OUT`. Over HTTPS the Vault CA reaches the
 *       provider through VAULT_CACERT in the config's env (the testkit has no CA option, so HCP
 *       is only exercised over HTTP).
 *   hc_mock_run exec TLS(0|1) CMD [ARG...]
 *       exports VAULT_ADDR, VAULT_TOKEN, VAULT_CACERT (HTTPS), HCP_AUTH_URL, HCP_API_ADDRESS,
 *       HCP_CLIENT_ID, HCP_CLIENT_SECRET, HCP_ORGANIZATION_ID, HCP_PROJECT_ID and a fresh
 *       VAULTPLUG_HOME, then runs CMD (e.g. the vaultplug CLI).
 *
 * Exits with the program's status (2 on setup errors).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "mock_hcp.h"
#include "mock_vault.h"

static const char VSEED[] =
    "{\"secrets\":["
    "{\"mount\":\"secret\",\"path\":\"app/db\",\"versions\":["
    "{\"data\":{\"password\":\"kit-v1-canary-4e1d\",\"user\":\"app\"}},"
    "{\"data\":{\"password\":\"kit-v2-canary-5f2e\",\"user\":\"app\"}}]},"
    "{\"mount\":\"kv\",\"path\":\"legacy\",\"data\":{\"key\":\"kit-legacy-canary-6a3f\"}},"
    "{\"mount\":\"kv\",\"path\":\"plain\",\"data\":{\"x\":\"v1-cli-ok\"}}],"
    "\"tokens\":[{\"token\":\"hvs.kit-good-canary-7b40\"},"
    "{\"token\":\"hvs.kit-limited-canary-8c51\",\"paths\":[\"kv/\"]}],"
    "\"approles\":[{\"role_id\":\"kit-role\",\"secret_id\":\"kit-sid-canary-9d62\","
    "\"token_ttl\":300}]}";

static const char HSEED[] =
    "{\"clients\":[{\"client_id\":\"kit-client\",\"client_secret\":\"kit-cs-canary-ae73\"}],"
    "\"secrets\":[{\"organization\":\"o\",\"project\":\"p\",\"app\":\"a\",\"name\":\"s\","
    "\"type\":\"kv\",\"versions\":[\"kit-hcp-canary-bf84\"]},"
    "{\"organization\":\"o\",\"project\":\"p\",\"app\":\"a\",\"name\":\"r\","
    "\"type\":\"rotating\",\"versions\":[{\"k\":\"kit-rot-canary-c095\"}]},"
    "{\"organization\":\"o\",\"project\":\"p\",\"app\":\"a\",\"name\":\"plain\","
    "\"type\":\"kv\",\"versions\":[\"hcp-cli-ok\"]}]}";

static int run(char **argv)
{
    fflush(stdout);
    pid_t pid = fork();
    if (pid < 0) {
        perror("fork");
        return 2;
    }
    if (pid == 0) {
        execv(argv[0], argv);
        perror("execv");
        _exit(127);
    }
    int st = 0;
    while (waitpid(pid, &st, 0) < 0) {
    }
    return WIFEXITED(st) ? WEXITSTATUS(st) : 2;
}

static int exec_mode(int argc, char **argv)
{
    int tls = atoi(argv[2]);
    if (tls && !mc_tls_supported()) {
        printf("no TLS support in libmicrohttpd: skipped\n");
        return 0;
    }
    char err[256], home[] = "/tmp/hc_mock_home_XXXXXX";
    mock_vault *v = mock_vault_start(tls, err, sizeof(err));
    mock_hcp *h = mock_hcp_start(0, err, sizeof(err));
    if (v == NULL || h == NULL || mock_vault_seed_json(v, VSEED, err, sizeof(err)) != 0 ||
        mock_hcp_seed_json(h, HSEED, err, sizeof(err)) != 0 || mkdtemp(home) == NULL) {
        fprintf(stderr, "%s\n", err);
        return 2;
    }
    setenv("VAULTPLUG_HOME", home, 1);
    setenv("VAULT_ADDR", mc_url(mock_vault_server(v)), 1);
    setenv("VAULT_TOKEN", "hvs.kit-good-canary-7b40", 1);
    if (tls)
        setenv("VAULT_CACERT", mc_ca_file(mock_vault_server(v)), 1);
    setenv("HCP_AUTH_URL", mc_url(mock_hcp_server(h)), 1);
    setenv("HCP_API_ADDRESS", mc_url(mock_hcp_server(h)), 1);
    setenv("HCP_CLIENT_ID", "kit-client", 1);
    setenv("HCP_CLIENT_SECRET", "kit-cs-canary-ae73", 1);
    setenv("HCP_ORGANIZATION_ID", "o", 1);
    setenv("HCP_PROJECT_ID", "p", 1);
    (void)argc;
    int rc = run(argv + 3);
    mock_hcp_stop(h);
    mock_vault_stop(v);
    char cmd[128];
    snprintf(cmd, sizeof(cmd), "rm -rf %s", home);
    if (system(cmd) != 0)
        fprintf(stderr, "cannot remove %s\n", home);
    return rc;
}

int main(int argc, char **argv)
{
    if (argc >= 4 && strcmp(argv[1], "exec") == 0)
        return exec_mode(argc, argv);
    if (argc != 6 || strcmp(argv[1], "testkit") != 0) {
        fprintf(stderr,
                "usage: %s testkit TESTKIT PLUGIN TLS CONFIG_OUT\n"
                "       %s exec TLS CMD [ARG...]\n",
                argv[0], argv[0]);
        return 2;
    }
    argv++;
    int tls = atoi(argv[3]);
    if (tls && !mc_tls_supported()) {
        printf("no TLS support in libmicrohttpd: skipped\n");
        return 0;
    }
    char err[256];
    mock_vault *v = mock_vault_start(tls, err, sizeof(err));
    if (v == NULL || mock_vault_seed_json(v, VSEED, err, sizeof(err)) != 0) {
        fprintf(stderr, "%s\n", err);
        return 2;
    }
    mock_hcp *h = tls ? NULL : mock_hcp_start(0, err, sizeof(err));
    if (!tls && (h == NULL || mock_hcp_seed_json(h, HSEED, err, sizeof(err)) != 0)) {
        fprintf(stderr, "%s\n", err);
        return 2;
    }
    const char *va = mc_url(mock_vault_server(v));
    /* The testkit's deadline check: this path answers only after 3 s. */
    mc_fault slow = {
        .kind = MC_FAULT_LATENCY, .path_prefix = "/v1/secret/data/slow/", .latency_ms = 3000};
    if (mc_fault_add(mock_vault_server(v), &slow) != 0) {
        fprintf(stderr, "cannot add the latency fault\n");
        return 2;
    }
    FILE *f = fopen(argv[4], "w");
    if (f == NULL) {
        perror(argv[4]);
        return 2;
    }
    fprintf(f, "{\n\"env\": {\"VAULT_ADDR\": \"%s\"", va);
    if (tls)
        fprintf(f, ", \"VAULT_CACERT\": \"%s\"", mc_ca_file(mock_vault_server(v)));
    fprintf(f, ", \"VAULT_TOKEN\": \"hvs.kit-good-canary-7b40\"},\n");
    fprintf(f,
            "\"credentials\": [\n"
            " {\"name\": \"good\", \"type\": \"token\", \"fields\": {\"token\": "
            "\"hvs.kit-good-canary-7b40\"}},\n"
            " {\"name\": \"limited\", \"type\": \"token\", \"fields\": {\"token\": "
            "\"hvs.kit-limited-canary-8c51\"}},\n"
            " {\"name\": \"bogus\", \"type\": \"token\", \"fields\": {\"token\": "
            "\"hvs.kit-bogus-canary-d1a6\"}},\n"
            " {\"name\": \"role\", \"type\": \"appRole\", \"fields\": {\"role_id\": \"kit-role\", "
            "\"secret_id\": \"kit-sid-canary-9d62\"}}");
    if (h != NULL)
        fprintf(f,
                ",\n {\"name\": \"sp\", \"type\": \"cloud\", \"fields\": {\"client_id\": "
                "\"kit-client\", \"client_secret\": \"kit-cs-canary-ae73\", \"auth_url\": \"%s\", "
                "\"api_url\": \"%s\"}}",
                mc_url(mock_hcp_server(h)), mc_url(mock_hcp_server(h)));
    fprintf(f, "],\n\"found\": [\n"
               " {\"ref\": \"hashicorp://good@secret/app/db#password\", \"value\": "
               "\"kit-v2-canary-5f2e\"},\n"
               " {\"ref\": \"hashicorp://good@secret/app/db?version=1#password\", \"value\": "
               "\"kit-v1-canary-4e1d\", \"version\": \"1\"},\n"
               " {\"ref\": \"hashicorp://good@kv/legacy#key\", \"value\": "
               "\"kit-legacy-canary-6a3f\"},\n"
               " {\"ref\": \"hashicorp://role@secret/app/db#user\", \"value\": \"app\"},\n"
               " {\"ref\": \"hashicorp://secret/app/db?version=2#password\", \"value\": "
               "\"kit-v2-canary-5f2e\", \"version\": \"2\"}");
    if (h != NULL)
        fprintf(f, ",\n {\"ref\": \"hcp://sp@o/p/a/s\", \"value\": \"kit-hcp-canary-bf84\", "
                   "\"version\": \"1\"},\n"
                   " {\"ref\": \"hcp://sp@o/p/a/r#k\", \"value\": \"kit-rot-canary-c095\"}");
    fprintf(f,
            "],\n\"not_found\": \"hashicorp://good@secret/app/nothing\",\n"
            "\"auth_error\": \"hashicorp://bogus@secret/app/db\",\n"
            "\"perm_error\": \"hashicorp://limited@secret/app/db\",\n"
            "\"validate_good\": \"good\", \"validate_bad\": \"bogus\",\n"
            "\"list\": [\n"
            " {\"prefix\": \"hashicorp://good@secret/app/\", \"names\": [\"secret/app/db\"]},\n"
            " {\"prefix\": \"hashicorp://good@secret/\", \"names\": [\"secret/app/\"]},\n"
            " {\"prefix\": \"hashicorp://good@kv/\", \"names\": [\"kv/legacy\", \"kv/plain\"]},\n"
            " {\"prefix\": \"hashicorp://good@secret/none/\", \"names\": []},\n"
            " {\"prefix\": \"hashicorp://limited@secret/app/\", \"error\": \"VP_EPERM\"},\n"
            " {\"prefix\": \"hashicorp://bogus@secret/app/\", \"error\": \"VP_EAUTH\"}");
    if (h != NULL) /* HCP Vault Secrets: the app's three secrets take two pages */
        fprintf(f, ",\n {\"prefix\": \"hcp://sp@o/p/a/\", \"names\": [\"o/p/a/plain\", "
                   "\"o/p/a/r\", \"o/p/a/s\"]},\n"
                   " {\"prefix\": \"hcp://sp@o/p/a/p\", \"names\": [\"o/p/a/plain\"]},\n"
                   " {\"prefix\": \"hcp://sp@o/p/none/\", \"names\": []}");
    fprintf(f, "],\n"
               "\"slow\": \"hashicorp://good@secret/slow/answer\",\n"
               "\"canaries\": [\"hvs.kit-good-canary-7b40\", \"hvs.kit-limited-canary-8c51\", "
               "\"hvs.kit-bogus-canary-d1a6\", \"kit-sid-canary-9d62\", \"kit-cs-canary-ae73\", "
               "\"kit-v1-canary-4e1d\", \"kit-v2-canary-5f2e\", \"kit-legacy-canary-6a3f\", "
               "\"kit-hcp-canary-bf84\", \"kit-rot-canary-c095\"],\n"
               "\"threads\": 8, \"iterations\": 50, \"timeout_ms\": 20000\n}\n");
    fclose(f);

    char *kit[] = {argv[1], "--plugin", argv[2], "--config", argv[4], NULL};
    int rc = run(kit);
    if (rc == 0 && h != NULL && mock_hcp_count(h, MH_COUNT_LIST) < 3) {
        fprintf(stderr, "FAIL HCP list answered %llu pages: no list crossed a page\n",
                (unsigned long long)mock_hcp_count(h, MH_COUNT_LIST));
        rc = 1;
    }
    mock_hcp_stop(h);
    mock_vault_stop(v);
    return rc;
}
