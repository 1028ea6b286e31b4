/*
 * gcp_testkit_run - run the SDK conformance testkit against gcp.so and mock_gcp.
 *
 *   gcp_testkit_run TESTKIT PLUGIN [http|tls]
 *
 * Starts the mock (HTTP or HTTPS), seeds it, writes a testkit config (credentials of every
 * explicit type, the default chain through GOOGLE_APPLICATION_CREDENTIALS, endpoints in `env`),
 * runs `TESTKIT --plugin PLUGIN --config FILE` and exits with its status.
 */
#define _DEFAULT_SOURCE
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "mock_gcp.h"

extern char **environ;

#define CANARY_TOKEN "ya29.testkit-ci-canary-1f2e"
#define CANARY_BAD   "ya29.testkit-bad-canary-3c4d"
#define CANARY_CS    "testkit-csecret-canary-5a6b"
#define CANARY_RT    "1//testkit-refresh-canary-7c8d"
#define V1           "tk-value-one-canary-9e0f"
#define V3           "tk-value-three-canary-1a2b"
#define PW           "tk-json-pw-canary-3c4d"

static const char *seed =
    "{\"projects\":[{\"id\":\"kit-project\",\"number\":\"555000111\"}],"
    "\"secrets\":[{\"project\":\"kit-project\",\"secret\":\"db-pass\",\"versions\":["
    "{\"data\":\"" V1 "\"},{\"data\":\"v2\"},{\"data\":\"" V3 "\"}],\"aliases\":{\"prod\":1}},"
    "{\"project\":\"kit-project\",\"secret\":\"json\",\"versions\":[{\"data\":"
    "\"{\\\"user\\\":\\\"alice\\\",\\\"password\\\":\\\"" PW "\\\"}\"}]},"
    "{\"project\":\"kit-project\",\"secret\":\"private\",\"versions\":[{\"data\":\"p\"}],"
    "\"deny\":[\"ci@example.com\"]}],"
    "\"access_tokens\":[{\"token\":\"" CANARY_TOKEN "\",\"principal\":\"ci@example.com\"}],"
    "\"authorized_users\":[{\"client_id\":\"kit-client\",\"client_secret\":\"" CANARY_CS
    "\",\"refresh_token\":\"" CANARY_RT "\",\"principal\":\"alice@example.com\"}],"
    "\"service_accounts\":[{\"email\":\"kit@kit-project.iam.gserviceaccount.com\","
    "\"project_id\":\"kit-project\"}]}";

int main(int argc, char **argv)
{
    if (argc != 4) {
        fprintf(stderr, "usage: gcp_testkit_run TESTKIT PLUGIN http|tls\n");
        return 2;
    }
    int tls = strcmp(argv[3], "tls") == 0;
    char err[256];
    mock_gcp *m = mock_gcp_start(tls, err, sizeof(err));
    if (m == NULL) {
        fprintf(stderr, "mock_gcp_start: %s\n", err);
        return 2;
    }
    if (mock_gcp_seed_json(m, seed, err, sizeof(err)) != 0) {
        fprintf(stderr, "seed: %s\n", err);
        mock_gcp_stop(m);
        return 2;
    }
    /* A slice of the generated private key is a canary too. */
    char key[8192] = "", piece[48] = "";
    FILE *kf = fopen(mock_gcp_sa_key_file(m, 0), "r");
    size_t n = kf ? fread(key, 1, sizeof(key) - 1, kf) : 0;
    if (kf)
        fclose(kf);
    key[n] = '\0';
    const char *p = strstr(key, "-----\\n");
    if (p != NULL) {
        p += 7;
        while (strlen(p) >= 40 && memchr(p, '\\', 40) != NULL)
            p++;
        if (strlen(p) >= 40)
            memcpy(piece, p, 40);
    }

    /* The testkit's deadline check: this secret answers only after 3 s. */
    mc_fault slow = {.kind = MC_FAULT_LATENCY,
                     .path_prefix = "/v1/projects/kit-project/secrets/slow/",
                     .latency_ms = 3000};
    if (mc_fault_add(mock_gcp_server(m), &slow) != 0) {
        mock_gcp_stop(m);
        return 2;
    }
    char cfg[600];
    snprintf(cfg, sizeof(cfg), "%s/testkit.json", mock_gcp_dir(m));
    FILE *f = fopen(cfg, "w");
    if (f == NULL) {
        mock_gcp_stop(m);
        return 2;
    }
    const char *ca = mock_gcp_ca_file(m);
    fprintf(f,
            "{\"env\":{\"VAULTPLUG_GCP_ENDPOINT\":\"%s\",\"VAULTPLUG_GCP_TOKEN_URI\":\"%s\","
            "\"GOOGLE_APPLICATION_CREDENTIALS\":\"%s\",\"GCE_METADATA_HOST\":\"127.0.0.1:1\","
            "\"GCE_METADATA_IP\":\"127.0.0.1:1\"%s%s%s},\n",
            mock_gcp_url(m), mock_gcp_token_uri(m), mock_gcp_sa_key_file(m, 0),
            ca ? ",\"VAULTPLUG_GCP_CA_FILE\":\"" : "", ca ? ca : "", ca ? "\"" : "");
    fprintf(
        f,
        "\"credentials\":["
        "{\"name\":\"sa\",\"type\":\"service_account\",\"fields\":"
        "{\"serviceAccountKeyFilePath\":\"%s\"}},"
        "{\"name\":\"user\",\"type\":\"authorized_user\",\"fields\":{\"client_id\":"
        "\"kit-client\",\"client_secret\":\"" CANARY_CS "\",\"refresh_token\":\"" CANARY_RT
        "\",\"project\":\"kit-project\"}},"
        "{\"name\":\"ci\",\"type\":\"access_token\",\"fields\":{\"access_token\":\"" CANARY_TOKEN
        "\"}},"
        "{\"name\":\"revoked\",\"type\":\"access_token\",\"fields\":{\"access_token\":\"" CANARY_BAD
        "\"}}],\n",
        mock_gcp_sa_key_file(m, 0));
    fprintf(f,
            "\"found\":["
            "{\"ref\":\"gcp://sa@kit-project/db-pass\",\"value\":\"" V3 "\",\"version\":\"3\"},"
            "{\"ref\":\"gcp://user@db-pass?version=prod\",\"value\":\"" V1 "\",\"version\":\"1\"},"
            "{\"ref\":\"gcp://ci@projects/555000111/secrets/db-pass/versions/1\",\"value\":\"" V1
            "\"},"
            "{\"ref\":\"gcp://db-pass\",\"value\":\"" V3 "\"},"
            "{\"ref\":\"gcp://kit-project/json#password\",\"value\":\"" PW "\"}],\n"
            "\"not_found\":\"gcp://sa@kit-project/nope\",\n"
            "\"auth_error\":\"gcp://revoked@kit-project/db-pass\",\n"
            "\"perm_error\":\"gcp://ci@kit-project/private\",\n"
            "\"validate_good\":\"sa\",\"validate_bad\":\"revoked\",\n"
            /* The mock pages two secrets at a time and its name: filter matches anywhere in
             * the name ("p" matches db-pass too): the provider keeps true prefixes only. */
            "\"list\":["
            "{\"prefix\":\"gcp://sa@kit-project/\",\"names\":[\"kit-project/db-pass\","
            "\"kit-project/json\",\"kit-project/private\"]},"
            "{\"prefix\":\"gcp://user@\",\"names\":[\"db-pass\",\"json\",\"private\"]},"
            "{\"prefix\":\"gcp://sa@kit-project/p\",\"names\":[\"kit-project/private\"]},"
            "{\"prefix\":\"gcp://sa@555000111/j\",\"names\":[\"555000111/json\"]},"
            "{\"prefix\":\"gcp://sa@kit-project/zzz\",\"names\":[]},"
            "{\"prefix\":\"gcp://sa@other-project/\",\"error\":\"VP_EPERM\"},"
            "{\"prefix\":\"gcp://revoked@kit-project/\",\"error\":\"VP_EAUTH\"}],\n"
            "\"slow\":\"gcp://sa@kit-project/slow\",\n"
            "\"canaries\":[\"" CANARY_TOKEN "\",\"" CANARY_BAD "\",\"" CANARY_CS "\",\"" CANARY_RT
            "\",\"" V1 "\",\"" V3 "\",\"" PW "\",\"ya29.mock-\",\"PRIVATE KEY\"%s%s%s],\n"
            "\"threads\":8,\"iterations\":50,\"timeout_ms\":20000}\n",
            piece[0] ? ",\"" : "", piece, piece[0] ? "\"" : "");
    fclose(f);

    char *args[] = {argv[1], "--plugin", argv[2], "--config", cfg, NULL};
    pid_t pid;
    int st = 1;
    fflush(stdout);
    if (posix_spawn(&pid, argv[1], NULL, NULL, args, environ) != 0) {
        fprintf(stderr, "cannot run %s\n", argv[1]);
    } else if (waitpid(pid, &st, 0) == pid) {
        st = WIFEXITED(st) ? WEXITSTATUS(st) : 1;
    }
    unlink(cfg);
    /* The lists crossed pages: 6 lists answered, the whole project took two pages. */
    if (st == 0 && mock_gcp_list_calls(m) <= 6) {
        fprintf(stderr, "FAIL secrets.list answered %u pages: no list crossed a page\n",
                mock_gcp_list_calls(m));
        st = 1;
    }
    mock_gcp_stop(m);
    return st;
}
