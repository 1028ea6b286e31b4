/*
 * bench_isolate - what hard provider deadlines and isolated providers cost per fetch (issue
 * 18, item 6; docs/design.md, "Provider deadlines" and "Isolated providers"). Figures only: it
 * never fails on time (exit 1 only if the setup fails).
 *
 *   bench_isolate [--quick] RTMOCK_DIR ECHO_DIR
 *
 * Medians per vp_fetch on one thread, in process (every provider call is handed to a runner
 * thread while the caller waits, guard.c) and with isolate_providers (a request to the
 * provider's helper process over a socket and its reply, isolate.c):
 *   - echo://x: no I/O, so the figure is the call overhead;
 *   - rtmock://...: one round trip to the mock cloud over loopback HTTP.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <vaultplug/vaultplug.h>

#include "mockcloud.h"

static double now_us(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec * 1e6 + (double)ts.tv_nsec / 1e3;
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

static double median(double *v, size_t n)
{
    qsort(v, n, sizeof(*v), cmp_double);
    return v[n / 2];
}

static void h_secret(void *ud, const mc_request *req, mc_response *resp)
{
    (void)ud;
    resp->status = 200;
    mc_resp_bodyf(resp, "value-of-%s", req->path);
}

static double fetch_median(vp_ctx *ctx, const char *uri, size_t n)
{
    double *t = calloc(n, sizeof(*t));
    if (t == NULL)
        exit(1);
    vp_buf out = VP_BUF_INIT;
    vp_error err;
    for (size_t i = 0; i < n + 10; i++) {
        double s = now_us();
        if (vp_fetch(ctx, uri, 0, &out, NULL, &err) != 0) {
            fprintf(stderr, "vp_fetch %s: %s\n", uri, err.message);
            exit(1);
        }
        if (i >= 10) /* warm-up: instance, connection, runner */
            t[i - 10] = now_us() - s;
    }
    vp_buf_free(&out);
    double m = median(t, n);
    free(t);
    return m;
}

int main(int argc, char **argv)
{
    int quick = argc > 1 && strcmp(argv[1], "--quick") == 0;
    if (argc < 3 + quick) {
        fprintf(stderr, "usage: bench_isolate [--quick] RTMOCK_DIR ECHO_DIR\n");
        return 1;
    }
    size_t n = quick ? 200 : 5000;
    const char *dirs[] = {argv[1 + quick], argv[2 + quick], NULL};
    const char *const enabled[] = {"rtmock", "echo", NULL};

    mc_options mo = {.conn_memory = 32 * 1024};
    mc_server *srv = mc_start(&mo);
    if (srv == NULL)
        return 1;
    mc_route(srv, "GET", "/secret/", h_secret, NULL);
    setenv("RT_MOCK_BASE", mc_url(srv), 1);

    for (int iso = 0; iso < 2; iso++) {
        vp_options o;
        vp_options_init(&o);
        o.plugin_dirs = dirs;
        o.enabled_providers = enabled;
        o.ignore_env_plugin_path = 1;
        o.no_default_plugin_dir = 1;
        o.isolate_providers = iso ? 1 : -1;
        vp_ctx *ctx = NULL;
        vp_error err;
        if (vp_ctx_new(&o, &ctx, &err) != 0) {
            fprintf(stderr, "vp_ctx_new: %s\n", err.message);
            return 1;
        }
        const char *how = iso ? "isolated  " : "in process";
        printf("%s  echo://x                   %8.1f us per fetch\n", how,
               fetch_median(ctx, "echo://x", n));
        printf("%s  rtmock:// (loopback HTTP)  %8.1f us per fetch\n", how,
               fetch_median(ctx, "rtmock://bench/a", n / 5));
        vp_ctx_free(ctx);
    }
    mc_stop(srv);
    return 0;
}
