/*
 * vaultplug-mockcloud - run the mock cloud server stand-alone (demos, manual testing).
 *
 *   vaultplug-mockcloud [--port N] [--tls] [--ca-out FILE]
 *
 * Prints the base URL on stdout and serves until SIGINT or SIGTERM.
 */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "mockcloud.h"

static void healthz(void *ud, const mc_request *req, mc_response *resp)
{
    mc_resp_json(resp, 200, "{\"status\":\"ok\"}");
}

static void usage(FILE *f)
{
    fprintf(f, "usage: vaultplug-mockcloud [--port N] [--tls] [--ca-out FILE]\n"
               "  --port N       listen on 127.0.0.1:N (default: an ephemeral port)\n"
               "  --tls          serve HTTPS with a test CA generated at start-up\n"
               "  --ca-out FILE  write that CA's PEM to FILE (with --tls)\n");
}

int main(int argc, char **argv)
{
    mc_options opt;
    memset(&opt, 0, sizeof(opt));
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--port") == 0 && i + 1 < argc) {
            char *end = NULL;
            long p = strtol(argv[++i], &end, 10);
            if (end == argv[i] || *end != '\0' || p < 0 || p > 65535) {
                fprintf(stderr, "vaultplug-mockcloud: invalid port '%s'\n", argv[i]);
                return 2;
            }
            opt.port = (uint16_t)p;
        } else if (strcmp(argv[i], "--tls") == 0) {
            opt.tls = 1;
        } else if (strcmp(argv[i], "--ca-out") == 0 && i + 1 < argc) {
            opt.ca_out = argv[++i];
        } else if (strcmp(argv[i], "--help") == 0 || strcmp(argv[i], "-h") == 0) {
            usage(stdout);
            return 0;
        } else {
            fprintf(stderr, "vaultplug-mockcloud: unknown argument '%s'\n", argv[i]);
            usage(stderr);
            return 2;
        }
    }
    if (opt.ca_out && !opt.tls) {
        fprintf(stderr, "vaultplug-mockcloud: --ca-out needs --tls\n");
        return 2;
    }

    /* Block the signals before the server's threads exist so that they inherit the mask and
     * only sigwait() below receives them. */
    sigset_t set;
    sigemptyset(&set);
    sigaddset(&set, SIGINT);
    sigaddset(&set, SIGTERM);
    pthread_sigmask(SIG_BLOCK, &set, NULL);

    mc_server *srv = mc_start(&opt);
    if (srv == NULL)
        return 1;
    if (mc_route(srv, "GET", "/healthz", healthz, NULL) < 0) {
        mc_stop(srv);
        return 1;
    }
    printf("%s\n", mc_url(srv));
    if (mc_ca_file(srv))
        printf("ca_file: %s\n", opt.ca_out ? opt.ca_out : mc_ca_file(srv));
    fflush(stdout);

    int sig = 0;
    sigwait(&set, &sig);
    fprintf(stderr, "vaultplug-mockcloud: signal %d, stopping (%llu requests served)\n", sig,
            (unsigned long long)mc_count_total(srv));
    mc_stop(srv);
    return 0;
}
