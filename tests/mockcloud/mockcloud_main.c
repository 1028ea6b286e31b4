/*
 * vaultplug-mockcloud - the mock cloud as a program (demos, manual testing; not installed).
 *
 *   vaultplug-mockcloud [--tls] [--seed FILE] [--only aws,gcp,...] [--env-out FILE] [--trace FILE]
 *
 * Starts every cloud emulation (AWS, GCP, HashiCorp Vault, HCP Vault Secrets, Azure), each on
 * its own ephemeral loopback port, seeds them from FILE (a JSON object whose keys are the mock
 * names, each value the document that mock's *_seed_json() takes), prints the `export NAME=value`
 * lines that point vaultplug at them on stdout (or writes them to --env-out FILE, 0600), then a
 * line "ready", and serves until SIGINT or SIGTERM.
 *
 *   eval "$(vaultplug-mockcloud --seed examples/mockcloud-seed.json --env-out env.sh & ...)"
 */
#include <errno.h>
#include <fcntl.h>
#include <json-c/json.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "mock_aws.h"
#include "mock_azure.h"
#include "mock_gcp.h"
#include "mock_hcp.h"
#include "mock_vault.h"
#include "mockcloud.h"

/* One emulation behind a uniform interface. */
typedef struct mock_def {
    const char *name;
    void *(*start)(int tls, char *err, size_t cap);
    int (*seed)(void *m, const char *json, char *err, size_t cap);
    void (*print_env)(const void *m, FILE *out);
    void (*stop)(void *m);
} mock_def;

#define MOCK_ADAPT(x)                                                     \
    static void *x##_start(int tls, char *err, size_t cap)                \
    {                                                                     \
        return mock_##x##_start(tls, err, cap);                           \
    }                                                                     \
    static int x##_seed(void *m, const char *json, char *err, size_t cap) \
    {                                                                     \
        return mock_##x##_seed_json(m, json, err, cap);                   \
    }                                                                     \
    static void x##_print_env(const void *m, FILE *out)                   \
    {                                                                     \
        mock_##x##_print_env(m, out);                                     \
    }                                                                     \
    static void x##_stop(void *m)                                         \
    {                                                                     \
        mock_##x##_stop(m);                                               \
    }

MOCK_ADAPT(aws)
MOCK_ADAPT(gcp)
MOCK_ADAPT(vault)
MOCK_ADAPT(hcp)
MOCK_ADAPT(azure)

static const mock_def mocks[] = {
    {"aws", aws_start, aws_seed, aws_print_env, aws_stop},
    {"gcp", gcp_start, gcp_seed, gcp_print_env, gcp_stop},
    {"vault", vault_start, vault_seed, vault_print_env, vault_stop},
    {"hcp", hcp_start, hcp_seed, hcp_print_env, hcp_stop},
    {"azure", azure_start, azure_seed, azure_print_env, azure_stop},
};
#define N_MOCKS (sizeof(mocks) / sizeof(mocks[0]))

static void usage(FILE *f)
{
    fprintf(f,
            "usage: vaultplug-mockcloud [--tls] [--seed FILE] [--only NAMES] [--env-out FILE]\n"
            "                           [--trace FILE]\n"
            "  --tls           serve HTTPS with a test CA generated at start-up\n"
            "  --seed FILE     JSON object {\"aws\": {...}, \"gcp\": {...}, \"vault\": {...},\n"
            "                  \"hcp\": {...}, \"azure\": {...}}: the secrets and credentials\n"
            "                  each mock knows (shapes: tests/mockcloud/mock_<name>.h)\n"
            "  --only NAMES    start only these mocks (comma-separated: aws,gcp,vault,hcp,azure)\n"
            "  --env-out FILE  write the export lines to FILE (mode 0600) instead of stdout\n"
            "  --trace FILE    append one line \"METHOD PATH\" per request received to FILE\n"
            "Prints `export NAME=value` lines pointing vaultplug at the mocks, then \"ready\";\n"
            "serves until SIGINT or SIGTERM.\n");
}

static int wanted(const char *only, const char *name)
{
    if (only == NULL)
        return 1;
    size_t n = strlen(name);
    for (const char *p = only; *p;) {
        const char *e = strchr(p, ',');
        size_t len = e ? (size_t)(e - p) : strlen(p);
        if (len == n && strncmp(p, name, n) == 0)
            return 1;
        p += len + (e ? 1 : 0);
    }
    return 0;
}

int main(int argc, char **argv)
{
    int tls = 0;
    const char *seed_file = NULL, *only = NULL, *env_out = NULL, *trace = NULL;
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--tls") == 0) {
            tls = 1;
        } else if (strcmp(argv[i], "--seed") == 0 && i + 1 < argc) {
            seed_file = argv[++i];
        } else if (strcmp(argv[i], "--only") == 0 && i + 1 < argc) {
            only = argv[++i];
        } else if (strcmp(argv[i], "--env-out") == 0 && i + 1 < argc) {
            env_out = argv[++i];
        } else if (strcmp(argv[i], "--trace") == 0 && i + 1 < argc) {
            trace = argv[++i];
        } else if (strcmp(argv[i], "--help") == 0 || strcmp(argv[i], "-h") == 0) {
            usage(stdout);
            return 0;
        } else {
            fprintf(stderr, "vaultplug-mockcloud: unknown argument '%s'\n", argv[i]);
            usage(stderr);
            return 2;
        }
    }
    if (tls && !mc_tls_supported()) {
        fprintf(stderr, "vaultplug-mockcloud: this libmicrohttpd has no TLS support\n");
        return 1;
    }

    json_object *seed = NULL;
    if (seed_file != NULL) {
        seed = json_object_from_file(seed_file);
        if (seed == NULL || !json_object_is_type(seed, json_type_object)) {
            fprintf(stderr, "vaultplug-mockcloud: %s: not a JSON object (%s)\n", seed_file,
                    json_util_get_last_err() ? json_util_get_last_err() : "wrong type");
            json_object_put(seed);
            return 2;
        }
        json_object_object_foreach(seed, key, val)
        {
            (void)val;
            int known = 0;
            for (size_t i = 0; i < N_MOCKS; i++)
                known |= strcmp(key, mocks[i].name) == 0;
            if (!known) {
                fprintf(stderr, "vaultplug-mockcloud: %s: unknown mock '%s'\n", seed_file, key);
                json_object_put(seed);
                return 2;
            }
        }
    }

    if (trace != NULL) {
        FILE *tf = fopen(trace, "a");
        if (tf == NULL) {
            fprintf(stderr, "vaultplug-mockcloud: %s: %s\n", trace, strerror(errno));
            json_object_put(seed);
            return 1;
        }
        mc_trace_to(tf);
    }

    /* Block the signals before any server thread exists so that they inherit the mask and only
     * sigwait() below receives them. */
    sigset_t set;
    sigemptyset(&set);
    sigaddset(&set, SIGINT);
    sigaddset(&set, SIGTERM);
    pthread_sigmask(SIG_BLOCK, &set, NULL);

    void *running[N_MOCKS] = {0};
    int rc = 0;
    char err[512];
    for (size_t i = 0; i < N_MOCKS && rc == 0; i++) {
        if (!wanted(only, mocks[i].name))
            continue;
        err[0] = '\0';
        running[i] = mocks[i].start(tls, err, sizeof(err));
        if (running[i] == NULL) {
            fprintf(stderr, "vaultplug-mockcloud: %s: cannot start: %s\n", mocks[i].name, err);
            rc = 1;
            break;
        }
        json_object *doc = NULL;
        if (seed != NULL && json_object_object_get_ex(seed, mocks[i].name, &doc)) {
            const char *text = json_object_to_json_string_ext(doc, JSON_C_TO_STRING_PLAIN);
            if (mocks[i].seed(running[i], text, err, sizeof(err)) != 0) {
                fprintf(stderr, "vaultplug-mockcloud: %s: bad seed: %s\n", mocks[i].name, err);
                rc = 2;
            }
        }
    }
    json_object_put(seed);

    FILE *out = stdout;
    if (rc == 0 && env_out != NULL) {
        int fd = open(env_out, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
        out = fd >= 0 ? fdopen(fd, "w") : NULL;
        if (out == NULL) {
            fprintf(stderr, "vaultplug-mockcloud: %s: %s\n", env_out, strerror(errno));
            if (fd >= 0)
                close(fd);
            rc = 1;
        }
    }
    if (rc == 0) {
        for (size_t i = 0; i < N_MOCKS; i++)
            if (running[i] != NULL)
                mocks[i].print_env(running[i], out);
        if (out != stdout)
            fclose(out);
        printf("ready\n");
        fflush(stdout);

        int sig = 0;
        sigwait(&set, &sig);
        fprintf(stderr, "vaultplug-mockcloud: signal %d, stopping\n", sig);
    }
    for (size_t i = N_MOCKS; i-- > 0;)
        if (running[i] != NULL)
            mocks[i].stop(running[i]);
    return rc;
}
