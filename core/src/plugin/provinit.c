/*
 * provinit - lazy provider initialisation and the run-time state of each provider
 * (docs/design.md, "Provider deadlines").
 *
 * A LOADED provider is initialised when a call first needs it: the first thread runs init()
 * on a runner (guard.c) and waits at most the context's default timeout; other threads that
 * need the provider meanwhile wait on init_cv for the same time. A provider whose init fails
 * or does not finish, or one of whose calls had to be given up on, is FAILED for the rest of
 * the context with a reason; its references get VP_EUNAVAIL with that reason.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "vaultplug/error.h"
#include "ctx.h"
#include "errint.h"
#include "guard.h"
#include "hostctx.h"

static int64_t real_now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* "30 s", "0.5 s" */
static void fmt_secs(char *buf, size_t cap, int64_t ms)
{
    if (ms % 1000 == 0)
        snprintf(buf, cap, "%lld s", (long long)(ms / 1000));
    else
        snprintf(buf, cap, "%.3g s", (double)ms / 1000.0);
}

int vp__provcalls_init(vp_ctx *ctx)
{
    pthread_mutex_init(&ctx->init_lock, NULL);
    pthread_condattr_t ca;
    pthread_condattr_init(&ca);
    pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
    pthread_cond_init(&ctx->init_cv, &ca);
    pthread_condattr_destroy(&ca);
    return vp__runners_new(&ctx->runners);
}

int vp__provcalls_fini(vp_ctx *ctx)
{
    if (vp__runners_free(ctx->runners) != 0)
        return 1; /* the stuck calls keep using the context: leave it all in place */
    ctx->runners = NULL;
    pthread_cond_destroy(&ctx->init_cv);
    pthread_mutex_destroy(&ctx->init_lock);
    return 0;
}

int64_t vp__provider_wait_ms(const vp__provider *p, int64_t deadline_ms)
{
    if (deadline_ms < 0)
        return -1;
    int64_t left = deadline_ms - vp__host_monotonic_ms((vp_host_ctx *)&p->hc);
    return (left > 0 ? left : 0) + VP__GUARD_GRACE_MS;
}

/* Caller holds init_lock. */
static void set_failed_locked(vp__provider *p, int status, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static void set_failed_locked(vp__provider *p, int status, const char *fmt, ...)
{
    if (p->run == VP__RUN_FAILED)
        return; /* the first reason stays */
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(p->run_reason, sizeof(p->run_reason), fmt, ap);
    va_end(ap);
    p->run = VP__RUN_FAILED;
    p->run_status = status;
}

typedef struct init_job {
    vp__guarded g;
    vp_ctx *ctx;
    vp__provider *p;
    int rc;
    void *mod;
} init_job;

static void init_run(vp__guarded *g)
{
    init_job *j = (init_job *)g;
    j->rc = vp__loader_init(j->p, &j->mod);
}

/* init() returned after its caller gave up: the provider is already FAILED; keep the module
 * context so that vp_ctx_free can tear it down. */
static void init_orphan(vp__guarded *g)
{
    init_job *j = (init_job *)g;
    pthread_mutex_lock(&j->ctx->init_lock);
    if (j->rc == 0) {
        j->p->mod = j->mod;
        j->p->inited = 1;
    }
    pthread_mutex_unlock(&j->ctx->init_lock);
    free(j);
}

static int unavailable(vp_ctx *ctx, const vp__provider *p, vp_error *err)
{
    /* Under init_lock; the reason is not a secret (the host wrote it). */
    return vp__err_set(err, ctx->log, VP_EUNAVAIL, "provider '%s' is unavailable: %s", p->name,
                       p->run_reason);
}

int vp__provider_ready(vp_ctx *ctx, const vp__provider *p, vp_error *err)
{
    if (ctx->isolate)
        return vp__iso_ready(ctx, p, err);
    return vp__provider_ready_local(ctx, p, err);
}

int vp__provider_ready_local(vp_ctx *ctx, const vp__provider *cp, vp_error *err)
{
    vp__provider *p = (vp__provider *)cp; /* run-time state only, under init_lock */
    pthread_mutex_lock(&ctx->init_lock);
    for (;;) {
        if (p->run == VP__RUN_READY) {
            pthread_mutex_unlock(&ctx->init_lock);
            return 0;
        }
        if (p->run == VP__RUN_FAILED) {
            int rc = unavailable(ctx, p, err);
            pthread_mutex_unlock(&ctx->init_lock);
            return rc;
        }
        if (p->run == VP__RUN_INIT) {
            int64_t now = real_now_ms();
            if (now >= p->init_until_ms) {
                /* Its runner still has it: the thread that started it reports the timeout. */
                pthread_mutex_unlock(&ctx->init_lock);
                char t[32];
                fmt_secs(t, sizeof(t), ctx->default_timeout_ms);
                return vp__err_set(err, ctx->log, VP_ETIMEDOUT, "%s: init did not finish within %s",
                                   p->name, t);
            }
            struct timespec until = {(time_t)(p->init_until_ms / 1000),
                                     (long)(p->init_until_ms % 1000) * 1000000L};
            pthread_cond_timedwait(&ctx->init_cv, &ctx->init_lock, &until);
            continue;
        }
        break; /* IDLE: this thread initialises it */
    }
    int64_t wait = ctx->default_timeout_ms;
    p->run = VP__RUN_INIT;
    p->init_until_ms = real_now_ms() + wait;
    pthread_mutex_unlock(&ctx->init_lock);

    init_job *j = calloc(1, sizeof(*j));
    int rc = VP_ENOMEM;
    if (j != NULL) {
        j->g.run = init_run;
        j->g.orphan = init_orphan;
        j->ctx = ctx;
        j->p = p;
        rc = vp__guard_call(ctx->runners, &j->g, wait);
    }
    char t[32];
    fmt_secs(t, sizeof(t), wait);
    pthread_mutex_lock(&ctx->init_lock);
    if (rc == VP_ETIMEDOUT) {
        set_failed_locked(p, VP_ETIMEDOUT, "init did not finish within %s", t);
        /* j is the runner's now */
    } else if (rc != 0 || j->rc == VP_ENOMEM) {
        p->run = VP__RUN_IDLE; /* no runner, or no memory: the next call tries again */
        if (rc == 0)
            rc = VP_ENOMEM;
        free(j);
    } else if (j->rc != 0) {
        set_failed_locked(p, j->rc, "init failed: %s", vp_strerror(j->rc));
        free(j);
    } else {
        p->mod = j->mod;
        p->inited = 1;
        p->run = VP__RUN_READY;
        free(j);
    }
    pthread_cond_broadcast(&ctx->init_cv);
    if (rc == VP_ETIMEDOUT) {
        pthread_mutex_unlock(&ctx->init_lock);
        vp__log_write(ctx->log, VP_LEVEL_WARN, "core",
                      "provider %s: init did not finish within %s; it is unavailable for the "
                      "rest of this context",
                      p->name, t);
        return vp__err_set(err, ctx->log, VP_ETIMEDOUT, "%s: init did not finish within %s",
                           p->name, t);
    }
    if (rc != 0) {
        pthread_mutex_unlock(&ctx->init_lock);
        return vp__err_set(err, NULL, rc, "%s: init: %s", p->name, vp_strerror(rc));
    }
    rc = p->run == VP__RUN_READY ? 0 : unavailable(ctx, p, err);
    pthread_mutex_unlock(&ctx->init_lock);
    return rc;
}

int vp__provider_gave_up(vp_ctx *ctx, const vp__provider *cp, const char *what, vp_error *err)
{
    vp__provider *p = (vp__provider *)cp;
    pthread_mutex_lock(&ctx->init_lock);
    set_failed_locked(p, VP_ETIMEDOUT,
                      "a %s ignored its deadline and was abandoned; unavailable for the rest of "
                      "this context",
                      what);
    pthread_cond_broadcast(&ctx->init_cv);
    pthread_mutex_unlock(&ctx->init_lock);
    vp__log_write(ctx->log, VP_LEVEL_WARN, "core",
                  "provider %s: a %s ignored its deadline; it is unavailable for the rest of "
                  "this context",
                  p->name, what);
    return vp__err_set(err, ctx->log, VP_ETIMEDOUT,
                       "%s: %s did not finish by its deadline and ignored cancellation; the "
                       "provider is unavailable for the rest of this context",
                       p->name, what);
}

const vp_provider_info *vp_providers_get(const vp_ctx *cctx, size_t i)
{
    vp_ctx *ctx = (vp_ctx *)cctx;
    if (i >= ctx->n_providers)
        return NULL;
    vp__provider *p = &ctx->providers[i];
    pthread_mutex_lock(&ctx->init_lock);
    p->pub = p->info;
    if (p->info.state == VP_PROVIDER_LOADED && p->run == VP__RUN_FAILED) {
        p->pub.state = VP_PROVIDER_FAILED;
        p->pub.status = p->run_status;
        p->pub.reason = p->run_reason;
    }
    pthread_mutex_unlock(&ctx->init_lock);
    return &p->pub;
}
