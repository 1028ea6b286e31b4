/*
 * bench_resolve - resolver and cache figures (issue 5). Figures only: it never fails on time
 * (exit 1 only if the setup fails).
 *
 *   bench_resolve [--quick] RTMOCK_DIR ECHO_DIR
 *
 *   P2  one template with 100 distinct cold references against the mock server at 20 ms latency:
 *       wall time and ratio to one round trip (goal <= 2x). Each series runs on a new context:
 *       its first render pays for what a CLI run pays for (worker threads, connections), the
 *       second (other cold references) reuses them. First against a server in a child process
 *       (as a real service would be), then against one in this process, with the default caps,
 *       with caps of 128, and with parallelism 1 for contrast; then over HTTPS with the system CA
 *       bundle (plus the mock's CA) as the trust store;
 *   P3  64 threads racing one cold secret: upstream requests (goal exactly 1);
 *   P4  cached vp_resolve latency, median per call, 1 and 2 threads (goal <= 1 us);
 *   P7  RSS after caching 10,000 secrets of 1 KiB (goal <= 32 MiB), run first, with the mock
 *       server in a child process (its request log would otherwise dominate).
 */
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <vaultplug/vaultplug.h>

#include "mockcloud.h"

static mc_server *g_srv;
static int g_route;
static const char *g_dirs[3];
static const char *const g_enabled[] = {"rtmock", "echo", NULL};
static double g_one_rt;
static const char *g_ca_file; /* vp_options.ca_file of new contexts (the TLS series) */

static double now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec * 1e3 + (double)ts.tv_nsec / 1e6;
}

/* CPU time of this process (user + system), in ms. */
static double cpu_ms(void)
{
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    return (double)(ru.ru_utime.tv_sec + ru.ru_stime.tv_sec) * 1e3 +
           (double)(ru.ru_utime.tv_usec + ru.ru_stime.tv_usec) / 1e3;
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
    if (strncmp(req->path, "/secret/p7/", 11) == 0) { /* 1 KiB values */
        char v[1024];
        memset(v, 'v', sizeof(v));
        mc_resp_body(resp, v, sizeof(v));
    } else {
        mc_resp_bodyf(resp, "value-of-%s", req->path);
    }
}

static vp_ctx *new_ctx(uint32_t conc, uint32_t pconc)
{
    vp_options o;
    vp_options_init(&o);
    o.plugin_dirs = g_dirs;
    o.enabled_providers = g_enabled;
    o.ignore_env_plugin_path = 1;
    o.no_default_plugin_dir = 1;
    o.fetch_concurrency = conc;
    o.provider_concurrency = pconc;
    o.cache_max_entries = 20000;
    o.ca_file = g_ca_file;
    vp_ctx *ctx = NULL;
    vp_error err;
    if (vp_ctx_new(&o, &ctx, &err) != 0) {
        fprintf(stderr, "vp_ctx_new: %s\n", err.message);
        exit(1);
    }
    return ctx;
}

/* One P2 series on a context created just for it: the first render pays for everything a CLI
 * run pays for (worker threads, connections, provider instances); the round trip is then taken
 * on a warm connection, and the second render of other cold references reuses the threads and
 * connections of the first (the difference between the two is their cost). */
static void p2_series(const char *where, const char *name, uint32_t conc, uint32_t pconc,
                      size_t nrefs, char *tmpl)
{
    vp_ctx *ctx = new_ctx(conc, pconc);
    vp_buf out = VP_BUF_INIT;
    vp_error err;
    static unsigned gen;
    double wall[2], cpu[2];
    for (int r = 0; r < 2; r++) {
        size_t off = 0;
        gen++;
        for (size_t i = 0; i < nrefs; i++)
            off += (size_t)sprintf(tmpl + off, "{%% vault 'rtmock://lat/p2-%u-%zu' %%}\n", gen, i);
        double c0 = cpu_ms(), t0 = now_ms();
        int rc = vp_render(ctx, tmpl, off, NULL, VP_RENDER_SEND, &out, &err);
        wall[r] = now_ms() - t0;
        cpu[r] = cpu_ms() - c0;
        if (rc != 0)
            fprintf(stderr, "P2 render: %s\n", err.message);
        vp_buf_free(&out);
        if (r == 1)
            break;
        /* one round trip (warm connection, cold secret) */
        double rt[5];
        for (int i = 0; i < 5; i++) {
            char uri[64];
            snprintf(uri, sizeof(uri), "rtmock://lat/rt-%u-%d", gen, i);
            t0 = now_ms();
            if (vp_resolve(ctx, uri, 0, &out, &err) != 0)
                fprintf(stderr, "P2 round trip: %s\n", err.message);
            rt[i] = now_ms() - t0;
            vp_buf_free(&out);
        }
        g_one_rt = median(rt, 5);
    }
    printf("P2 %zu cold refs, 20 ms, server %-10s %-13s: fresh context %6.1f ms = %.2fx, "
           "warm %6.1f ms = %.2fx one round trip (%.1f ms; goal <= 2x); process CPU %.1f / "
           "%.1f ms\n",
           nrefs, where, name, wall[0], wall[0] / g_one_rt, wall[1], wall[1] / g_one_rt, g_one_rt,
           cpu[0], cpu[1]);
    vp_ctx_free(ctx);
}

/* where: the mock server's URL is in RT_MOCK_BASE and it delays /secret/lat/ by 20 ms. */
static void p2(const char *where, int quick, int contrast)
{
    static const struct {
        const char *name;
        uint32_t conc, pconc;
    } cfgs[] = {{"default caps", 0, 0}, {"caps 128", 128, 128}, {"parallelism 1", 1, 1}};
    size_t nrefs = quick ? 10 : 100;
    char *tmpl = malloc(nrefs * 64 + 1);
    size_t ncfg = contrast ? 3 : 1;
    for (size_t c = 0; c < ncfg; c++) {
        p2_series(where, cfgs[c].name, cfgs[c].conc, cfgs[c].pconc, nrefs, tmpl);
        if (quick)
            break;
    }
    free(tmpl);
}

/* The same over HTTPS, trusting the system CA bundle plus the mock's CA (a realistic bundle of
 * ~150 certificates: what a CLI run loads), on a server in this process. */
static void p2_tls(int quick)
{
    if (!mc_tls_supported())
        return;
    mc_options mo = {.tls = 1};
    mc_server *srv = mc_start(&mo);
    if (srv == NULL)
        return;
    mc_route(srv, "GET", "/secret/", h_secret, NULL);
    mc_fault f = {.kind = MC_FAULT_LATENCY, .path_prefix = "/secret/lat/", .latency_ms = 20};
    mc_fault_add(srv, &f);
    char bundle[] = "/tmp/bench-resolve-ca-XXXXXX";
    int fd = mkstemp(bundle);
    const char *parts[] = {"/etc/ssl/certs/ca-certificates.crt", mc_ca_file(srv)};
    for (int i = 0; fd >= 0 && i < 2; i++) {
        FILE *in = fopen(parts[i], "rb");
        char buf[8192];
        size_t n;
        while (in != NULL && (n = fread(buf, 1, sizeof(buf), in)) > 0)
            if (write(fd, buf, n) != (ssize_t)n)
                break;
        if (in != NULL)
            fclose(in);
    }
    if (fd >= 0) {
        close(fd);
        char *old = getenv("RT_MOCK_BASE") ? strdup(getenv("RT_MOCK_BASE")) : NULL;
        setenv("RT_MOCK_BASE", mc_url(srv), 1);
        g_ca_file = bundle;
        char *tmpl = malloc((quick ? 10 : 100) * 64 + 1);
        p2_series("TLS+sysCA", "default caps", 0, 0, quick ? 10 : 100, tmpl);
        free(tmpl);
        g_ca_file = NULL;
        if (old != NULL)
            setenv("RT_MOCK_BASE", old, 1);
        free(old);
        unlink(bundle);
    }
    mc_stop(srv);
}

typedef struct racer {
    vp_ctx *ctx;
    pthread_barrier_t *bar;
    int rc;
} racer;

static void *race(void *arg)
{
    racer *r = arg;
    vp_buf out = VP_BUF_INIT;
    vp_error err;
    pthread_barrier_wait(r->bar);
    r->rc = vp_resolve(r->ctx, "rtmock://p3-cold", 0, &out, &err);
    vp_buf_free(&out);
    return NULL;
}

static void p3(void)
{
    vp_ctx *ctx = new_ctx(0, 0);
    mc_fault f = {.kind = MC_FAULT_LATENCY, .path_prefix = "/secret/", .latency_ms = 20};
    mc_fault_add(g_srv, &f);
    mc_reset_counters(g_srv);
    pthread_barrier_t bar;
    pthread_barrier_init(&bar, NULL, 64);
    pthread_t th[64];
    racer r[64];
    for (int i = 0; i < 64; i++) {
        r[i] = (racer){ctx, &bar, 0};
        pthread_create(&th[i], NULL, race, &r[i]);
    }
    int fails = 0;
    for (int i = 0; i < 64; i++) {
        pthread_join(th[i], NULL);
        fails += r[i].rc != 0;
    }
    pthread_barrier_destroy(&bar);
    printf("P3 64 threads, one cold secret: %llu upstream request(s), %d failures (goal 1, 0)\n",
           (unsigned long long)mc_route_count(g_srv, g_route), fails);
    mc_fault_clear(g_srv);
    vp_ctx_free(ctx);
}

typedef struct hitter {
    vp_ctx *ctx;
    int batches, per_batch;
    double *us;
} hitter;

static void *hit_loop(void *arg)
{
    hitter *h = arg;
    vp_buf out = VP_BUF_INIT;
    vp_error err;
    for (int b = 0; b < h->batches; b++) {
        double t0 = now_ms();
        for (int i = 0; i < h->per_batch; i++) {
            if (vp_resolve(h->ctx, "echo://p4/cached", 0, &out, &err) != 0)
                fprintf(stderr, "P4: %s\n", err.message);
            vp_buf_free(&out);
        }
        h->us[b] = (now_ms() - t0) * 1000.0 / h->per_batch;
    }
    return NULL;
}

static void p4(int quick)
{
    vp_ctx *ctx = new_ctx(0, 0);
    vp_buf out = VP_BUF_INIT;
    vp_error err;
    if (vp_resolve(ctx, "echo://p4/cached", 0, &out, &err) != 0)
        fprintf(stderr, "P4 warm-up: %s\n", err.message);
    vp_buf_free(&out);
    int batches = quick ? 3 : 50, per = quick ? 100 : 2000;
    for (int nt = 1; nt <= 2; nt++) {
        hitter h[2];
        pthread_t th[2];
        double *all = calloc((size_t)(batches * nt), sizeof(double));
        for (int t = 0; t < nt; t++) {
            h[t] = (hitter){ctx, batches, per, all + t * batches};
            pthread_create(&th[t], NULL, hit_loop, &h[t]);
        }
        for (int t = 0; t < nt; t++)
            pthread_join(th[t], NULL);
        printf("P4 cached vp_resolve, %d thread(s): median %.3f us per call (goal <= 1 us)\n", nt,
               median(all, (size_t)(batches * nt)));
        free(all);
    }
    vp_ctx_free(ctx);
}

static long rss_kib(void)
{
    FILE *f = fopen("/proc/self/status", "r");
    if (f == NULL)
        return -1;
    char line[256];
    long kib = -1;
    while (fgets(line, sizeof(line), f))
        if (sscanf(line, "VmRSS: %ld kB", &kib) == 1)
            break;
    fclose(f);
    return kib;
}

/* The mock server keeps a request log of a few thousand entries of several KiB each: run it in
 * a child process so that the RSS measured is the library's. */
static pid_t start_child_server(char *url, size_t url_size, int *keep_fd)
{
    int up[2], down[2];
    if (pipe(up) != 0 || pipe(down) != 0)
        return -1;
    pid_t pid = fork();
    if (pid == 0) {
        close(up[0]);
        close(down[1]);
        mc_options mo = {.conn_memory = 32 * 1024}; /* P2 opens 100 connections at once */
        mc_server *srv = mc_start(&mo);
        if (srv == NULL)
            _exit(1);
        mc_route(srv, "GET", "/secret/", h_secret, NULL);
        mc_fault f = {.kind = MC_FAULT_LATENCY, .path_prefix = "/secret/lat/", .latency_ms = 20};
        mc_fault_add(srv, &f);
        dprintf(up[1], "%s\n", mc_url(srv));
        close(up[1]);
        char c;
        while (read(down[0], &c, 1) > 0) /* until the parent closes its end */
            ;
        mc_stop(srv);
        _exit(0);
    }
    close(up[1]);
    close(down[0]);
    ssize_t n = read(up[0], url, url_size - 1);
    close(up[0]);
    url[n > 0 ? n : 0] = '\0';
    url[strcspn(url, "\n")] = '\0';
    *keep_fd = down[1];
    return pid;
}

static void p7(const char *url, int quick)
{
    setenv("RT_MOCK_BASE", url, 1);
    vp_ctx *ctx = new_ctx(0, 0);
    long before = rss_kib();
    int n = quick ? 100 : 10000;
    char uri[64];
    vp_buf out = VP_BUF_INIT;
    vp_error err;
    for (int i = 0; i < n; i++) {
        snprintf(uri, sizeof(uri), "rtmock://p7/%05d", i);
        if (vp_resolve(ctx, uri, 0, &out, &err) != 0) {
            fprintf(stderr, "P7: %s\n", err.message);
            break;
        }
        vp_buf_free(&out);
    }
    vp_cache_stats st;
    (void)vp_cache_stats_get(ctx, NULL, &st);
    long after = rss_kib();
    printf("P7 %d cached secrets (%llu entries, %llu value bytes): RSS %.1f MiB (%.1f MiB before; "
           "goal <= 32 MiB)\n",
           n, (unsigned long long)st.entries, (unsigned long long)st.bytes, after / 1024.0,
           before / 1024.0);
    vp_ctx_free(ctx);
}

int main(int argc, char **argv)
{
    int quick = 0, a = 1;
    if (a < argc && strcmp(argv[a], "--quick") == 0) {
        quick = 1;
        a++;
    }
    if (argc - a != 2) {
        fprintf(stderr, "usage: bench_resolve [--quick] RTMOCK_DIR ECHO_DIR\n");
        return 1;
    }
    g_dirs[0] = argv[a];
    g_dirs[1] = argv[a + 1];
    /* The mock server of P7 and of the first P2 series runs in a child process, as a real
     * service would: in this process its threads' stacks and connection buffers (mmap/munmap,
     * TLB shootdowns) would be charged to the resolver. It is forked while this process has a
     * single thread. */
    char url[128];
    int keep = -1;
    pid_t pid = start_child_server(url, sizeof(url), &keep);
    if (pid < 0 || url[0] == '\0') {
        fprintf(stderr, "cannot start the mock server process\n");
        return 1;
    }
    p7(url, quick); /* first: the RSS figure should not include P2's threads and connections */
    setenv("RT_MOCK_BASE", url, 1);
    p2("process", quick, 0);
    close(keep);
    waitpid(pid, NULL, 0);

    mc_options mo = {.conn_memory = 32 * 1024};
    g_srv = mc_start(&mo);
    if (g_srv == NULL)
        return 1;
    g_route = mc_route(g_srv, "GET", "/secret/", h_secret, NULL);
    setenv("RT_MOCK_BASE", mc_url(g_srv), 1);
    mc_fault f = {.kind = MC_FAULT_LATENCY, .path_prefix = "/secret/lat/", .latency_ms = 20};
    mc_fault_add(g_srv, &f);
    p2("in-process", quick, 1);
    mc_fault_clear(g_srv);
    p2_tls(quick);
    p3();
    p4(quick);
    mc_stop(g_srv);
    return 0;
}
