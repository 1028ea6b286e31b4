/* azure_testkit_run - start the Azure mock (HTTPS), write a testkit config pointing the provider
 * at it, run `vaultplug-testkit --plugin azure.so --config FILE` and return its exit status.
 *
 *   azure_testkit_run TESTKIT AZURE_SO
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "mock_azure.h"

#define VAL    "kit-value-canary-2f8a1c"
#define VAL1   "kit-old-value-canary-6d0e"
#define VER1   "fedcba9876543210fedcba9876543210"
#define CID    "12121212-3434-4565-8787-909090909090"
#define SECRET "kit-client-secret-canary-4b1e"
#define BADSEC "kit-wrong-secret-canary-93aa"

int main(int argc, char **argv)
{
    if (argc != 3) {
        fprintf(stderr, "usage: azure_testkit_run TESTKIT AZURE_SO\n");
        return 2;
    }
    char err[256];
    mock_azure *m = mock_azure_start(1, err, sizeof(err));
    if (m == NULL) {
        fprintf(stderr, "mock: %s\n", err);
        return 2;
    }
    const char *seed = "{\"secrets\":[{\"name\":\"db-password\",\"value\":\"" VAL1
                       "\",\"version\":\"" VER1 "\"},{\"name\":\"db-password\",\"value\":\"" VAL
                       "\"},{\"name\":\"json-secret\",\"value\":\"{\\\"password\\\":\\\"" VAL
                       "\\\"}\"},{\"name\":\"payroll\",\"value\":\"" VAL
                       "\",\"forbidden\":true}],\"apps\":[{\"client_id\":\"" CID
                       "\",\"client_secret\":\"" SECRET "\"}]}";
    if (mock_azure_seed_json(m, seed, err, sizeof(err)) != 0) {
        fprintf(stderr, "seed: %s\n", err);
        mock_azure_stop(m);
        return 2;
    }
    /* The testkit's deadline check: this secret answers only after 3 s. */
    mc_fault slow = {
        .kind = MC_FAULT_LATENCY, .path_prefix = "/secrets/slow-answer", .latency_ms = 3000};
    if (mc_fault_add(mock_azure_server(m), &slow) != 0) {
        mock_azure_stop(m);
        return 2;
    }
    char path[] = "/tmp/vp-azure-testkit-XXXXXX";
    int fd = mkstemp(path);
    FILE *f = fd >= 0 ? fdopen(fd, "w") : NULL;
    if (f == NULL) {
        mock_azure_stop(m);
        return 2;
    }
    const char *u = mock_azure_url(m), *t = mock_azure_tenant(m);
    fprintf(
        f,
        "{\"env\":{\"AZURE_AUTHORITY_HOST\":\"%s\",\"VAULTPLUG_AZURE_VAULT_URL\":\"%s\","
        "\"VAULTPLUG_AZURE_CA_FILE\":\"%s\",\"AZURE_POD_IDENTITY_AUTHORITY_HOST\":\"%s\"},\n"
        "\"credentials\":[{\"name\":\"good\",\"type\":\"client_secret\",\"fields\":"
        "{\"tenant\":\"%s\",\"client_id\":\"" CID "\",\"client_secret\":\"" SECRET "\"}},\n"
        "{\"name\":\"bad\",\"type\":\"client_secret\",\"fields\":{\"tenant\":\"%s\","
        "\"client_id\":\"" CID "\",\"client_secret\":\"" BADSEC "\"}}],\n"
        "\"found\":[{\"ref\":\"azure://good@myvault.vault.azure.net/db-password\","
        "\"value\":\"" VAL "\"},\n"
        "{\"ref\":\"azure://good@myvault.vault.azure.net/db-password/" VER1 "\",\"value\":\"" VAL1
        "\",\"version\":\"" VER1 "\"},\n"
        "{\"ref\":\"azure://good@myvault.vault.azure.net/json-secret#password\",\"value\":\"" VAL
        "\"}],\n"
        "\"not_found\":\"azure://good@myvault.vault.azure.net/nope\",\n"
        "\"auth_error\":\"azure://bad@myvault.vault.azure.net/db-password\",\n"
        "\"perm_error\":\"azure://good@myvault.vault.azure.net/payroll\",\n"
        "\"iterations\":50,\n"
        "\"slow\":\"azure://good@myvault.vault.azure.net/slow-answer\",\n"
        /* Two names per page in the mock: the whole vault crosses a page. */
        "\"list\":[{\"prefix\":\"azure://good@myvault.vault.azure.net/\",\"names\":["
        "\"myvault.vault.azure.net/db-password\",\"myvault.vault.azure.net/json-secret\","
        "\"myvault.vault.azure.net/payroll\"]},\n"
        "{\"prefix\":\"azure://good@myvault/db\",\"names\":[\"myvault.vault.azure.net/"
        "db-password\"]},\n"
        "{\"prefix\":\"azure://good@myvault.vault.azure.net/zzz\",\"names\":[]},\n"
        "{\"prefix\":\"azure://bad@myvault.vault.azure.net/\",\"error\":\"VP_EAUTH\"}],\n"
        /* The device code flow: the mock completes it, the testkit has no browser. */
        "\"login\":{\"name\":\"signed-in\",\"options\":{\"tenant\":\"%s\","
        "\"device_code\":\"1\"}},\n"
        "\"canaries\":[\"" SECRET "\",\"" BADSEC "\",\"" VAL "\",\"" VAL1 "\",\"mock-at-\"]}\n",
        u, u, mock_azure_ca_file(m), u, t, t, t);
    fclose(f);
    fflush(stdout);
    pid_t pid = fork();
    if (pid == 0) {
        execl(argv[1], argv[1], "--plugin", argv[2], "--config", path, (char *)NULL);
        _exit(127);
    }
    int st = 0, rc = 2;
    if (pid > 0 && waitpid(pid, &st, 0) == pid && WIFEXITED(st))
        rc = WEXITSTATUS(st);
    unlink(path);
    if (rc == 0 && mock_azure_count(m, "kv:list") <= 3) {
        fprintf(stderr, "FAIL list secrets answered %u pages: no list crossed a page\n",
                mock_azure_count(m, "kv:list"));
        rc = 1;
    }
    mock_azure_stop(m);
    return rc;
}
