/*
 * bench_load - how long creating a context takes: scanning the provider directory, checking,
 * dlopen()ing and init()ing every provider found.
 *
 *   bench_load [-n N] [DIR]
 *
 * DIR defaults to the build tree's provider directory. Two series of N runs (default 50):
 *   cold  each vp_ctx_new in a fresh fork()ed process that has never loaded a provider (what a
 *         CLI invocation pays: one-time library init, dlopen and relocation, init());
 *   warm  vp_ctx_new + vp_ctx_free repeated in one process (modules stay resident after the
 *         first load, so this is scan + checks + init() only).
 * Prints the median and p95 in milliseconds and the number of providers. Figures only: it never
 * fails because of time (exit 1 only if a context cannot be created).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <vaultplug/vaultplug.h>

#define BENCH_MAX_RUNS 10000

static double now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec * 1e3 + (double)ts.tv_nsec / 1e6;
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

/* Nearest-rank percentile of sorted v[0..n). */
static double percentile(const double *v, size_t n, double p)
{
    size_t rank = (size_t)(p / 100.0 * (double)n + 0.999999);
    if (rank < 1)
        rank = 1;
    if (rank > n)
        rank = n;
    return v[rank - 1];
}

static void quiet_log(void *ud, int level, const char *source, const char *message)
{
    (void)ud;
    (void)level;
    (void)source;
    (void)message;
}

/* One timed vp_ctx_new; *n_prov / *n_loaded are filled when not NULL. -1 on failure. */
static double time_one(const vp_options *opts, size_t *n_prov, size_t *n_loaded)
{
    vp_ctx *ctx = NULL;
    vp_error err;
    double t0 = now_ms();
    int rc = vp_ctx_new(opts, &ctx, &err);
    double t1 = now_ms();
    if (rc != 0) {
        fprintf(stderr, "bench_load: vp_ctx_new: %s: %s\n", vp_err_name(rc), err.message);
        return -1;
    }
    if (n_prov != NULL) {
        *n_prov = vp_providers_count(ctx);
        *n_loaded = 0;
        for (size_t i = 0; i < *n_prov; i++) {
            const vp_provider_info *p = vp_providers_get(ctx, i);
            if (p && p->state == VP_PROVIDER_LOADED)
                (*n_loaded)++;
        }
    }
    vp_ctx_free(ctx);
    return t1 - t0;
}

/* Run time_one in a fresh child process; the parent never loads a provider itself. */
static double time_cold(const vp_options *opts)
{
    int fd[2];
    if (pipe(fd) != 0)
        return -1;
    fflush(NULL);
    pid_t pid = fork();
    if (pid < 0) {
        close(fd[0]);
        close(fd[1]);
        return -1;
    }
    if (pid == 0) {
        close(fd[0]);
        double t = time_one(opts, NULL, NULL);
        ssize_t w = write(fd[1], &t, sizeof(t));
        _exit(w == (ssize_t)sizeof(t) ? 0 : 1);
    }
    close(fd[1]);
    double t = -1;
    ssize_t r = read(fd[0], &t, sizeof(t));
    close(fd[0]);
    int status = 0;
    waitpid(pid, &status, 0);
    return r == (ssize_t)sizeof(t) && WIFEXITED(status) && WEXITSTATUS(status) == 0 ? t : -1;
}

static void report(const char *what, double *t, size_t n, const char *note)
{
    qsort(t, n, sizeof(*t), cmp_double);
    printf("  %-5s median %8.3f ms   p95 %8.3f ms%s\n", what, percentile(t, n, 50),
           percentile(t, n, 95), note);
}

int main(int argc, char **argv)
{
    const char *dir = VP_BUILD_PROVIDER_DIR;
    long runs = 50;
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "-n") == 0 && i + 1 < argc) {
            runs = strtol(argv[++i], NULL, 10);
        } else if (strcmp(argv[i], "-h") == 0 || strcmp(argv[i], "--help") == 0) {
            printf("usage: bench_load [-n N] [DIR]\n");
            return 0;
        } else if (argv[i][0] == '-') {
            fprintf(stderr, "bench_load: unknown option '%s'\n", argv[i]);
            return 2;
        } else {
            dir = argv[i];
        }
    }
    if (runs < 1 || runs > BENCH_MAX_RUNS) {
        fprintf(stderr, "bench_load: -n must be 1..%d\n", BENCH_MAX_RUNS);
        return 2;
    }

    const char *dirs[] = {dir, NULL};
    vp_options opts;
    vp_options_init(&opts);
    opts.plugin_dirs = dirs;
    opts.ignore_env_plugin_path = 1;
    opts.no_default_plugin_dir = 1;
    opts.log_fn = quiet_log;

    double *cold = calloc((size_t)runs, sizeof(*cold));
    double *warm = calloc((size_t)runs, sizeof(*warm));
    int rc = 1;
    if (cold == NULL || warm == NULL)
        goto out;
    /* Cold series first: the parent must not have mapped any module yet. */
    for (long r = 0; r < runs; r++)
        if ((cold[r] = time_cold(&opts)) < 0)
            goto out;
    size_t n_prov = 0, n_loaded = 0;
    for (long r = 0; r < runs; r++)
        if ((warm[r] = time_one(&opts, r == 0 ? &n_prov : NULL, &n_loaded)) < 0)
            goto out;

    printf("bench_load: %s\n", dir);
    printf("providers: %zu found, %zu loaded\n", n_prov, n_loaded);
    printf("vp_ctx_new (scan + load + init of all providers), %ld runs each:\n", runs);
    report("cold", cold, (size_t)runs, "   (goal for the four cloud providers: <= 20 ms)");
    report("warm", warm, (size_t)runs, "   (modules already resident)");
    rc = 0;
out:
    free(cold);
    free(warm);
    return rc;
}
