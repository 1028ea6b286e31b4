/*
 * resolver - see resolver.h and vaultplug/resolve.h.
 *
 * A resolution is a "job": provider, credential, cache key, the provider's view of the
 * reference and a result slot. A call (vp_resolve, or one render's reference set) first serves
 * every job it can from the cache on the calling thread; the misses then run on up to
 * fetch_concurrency threads (the caller plus workers of the context's pool, started on first
 * need and kept until vp_ctx_free: creating threads per call cost more than the fetches on a
 * small machine), each miss either joining the in-flight fetch of its key (singleflight) or
 * leading one. Fetch slots (global and per provider)
 * bound the provider calls in flight across every call of the context; waiters in a singleflight
 * hold no slot, so they cannot starve the leaders.
 *
 * Modules: this file owns the options, the resolver's lifetime and the public entry points;
 * resolver_job.c turns references into jobs and serves them from the cache, resolver_fetch.c
 * resolves misses (singleflight, fetch slots, retries, stale-if-error, negative caching,
 * fetch_batch), resolver_pool.c runs a call's misses on the worker pool (resolver_int.h).
 *
 * fork(): the pool's threads do not exist in a child, and the cache's and the resolver's locks
 * may have been held by one of them at the fork. A resolver therefore belongs to the process
 * that created it: in a child, every call on an inherited context fails with VP_EINVAL (the
 * child creates its own context), and vp__resolver_free there releases nothing it would have to
 * lock or join.
 */
#include "resolver.h"

#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "vaultplug/error.h"
#include "vaultplug/fetch.h"
#include "vaultplug/resolve.h"
#include "cache.h"
#include "ctx.h"
#include "errint.h"
#include "resolver_int.h"

#define DEF_TTL_S       1800
#define DEF_MAX_ENTRIES 1000u
#define DEF_MAX_BYTES   ((size_t)64 * 1024 * 1024)
#define DEF_NEG_TTL_MS  10000
/* Caps sized so that a template with 100 references to one provider costs one round trip (issue
 * 5), while a runaway template still cannot open more than this many connections at once. */
#define DEF_CONCURRENCY  128u
#define DEF_PCONCURRENCY 100u
#define DEF_ATTEMPTS     3u
#define MAX_ATTEMPTS     10u
#define DEF_BASE_MS      100u
#define DEF_MAX_MS       5000u
#define DEF_MAX_STALE_S  3600u

/* ---- options ------------------------------------------------------------------------------ */

int vp__resolver_new(vp_ctx *ctx, const vp_options *o, vp__resolver **out, vp_error *err)
{
    *out = NULL;
    if (o->cache_ttl_s < -1 || o->cache_ttl_s > VP_CACHE_TTL_MAX_S)
        return vp__err_set(err, NULL, VP_EINVAL, "cache_ttl_s %d out of range -1..%d",
                           (int)o->cache_ttl_s, VP_CACHE_TTL_MAX_S);
    if (o->negative_ttl_ms < -1)
        return vp__err_set(err, NULL, VP_EINVAL, "negative_ttl_ms must be -1 or more");
    if (o->retry_attempts > MAX_ATTEMPTS)
        return vp__err_set(err, NULL, VP_EINVAL, "retry_attempts at most %u", MAX_ATTEMPTS);
    if (o->fetch_concurrency > MAX_CONCURRENCY || o->provider_concurrency > MAX_CONCURRENCY)
        return vp__err_set(err, NULL, VP_EINVAL, "fetch concurrency at most %u", MAX_CONCURRENCY);
    vp__resolver *r = calloc(1, sizeof(*r));
    if (r == NULL)
        return vp__err_set(err, NULL, VP_ENOMEM, NULL);
    r->ctx = ctx;
    r->fork_gen = vp__fork_generation();
    r->n_prov = ctx->n_providers;
    size_t np = r->n_prov ? r->n_prov : 1;
    r->prov_ttl_s = calloc(np, sizeof(*r->prov_ttl_s));
    r->pactive = calloc(np, sizeof(*r->pactive));
    size_t max_entries = o->cache_max_entries ? o->cache_max_entries : DEF_MAX_ENTRIES;
    size_t max_bytes = o->cache_max_bytes ? o->cache_max_bytes : DEF_MAX_BYTES;
    if (r->prov_ttl_s == NULL || r->pactive == NULL ||
        vp__cache_new(r->n_prov, max_entries, max_bytes, &r->cache) != 0) {
        vp__resolver_free(r);
        return vp__err_set(err, NULL, VP_ENOMEM, NULL);
    }
    for (size_t i = 0; i < np; i++)
        atomic_init(&r->prov_ttl_s[i], -1);
    atomic_init(&r->ttl_s, o->cache_ttl_s == 0  ? DEF_TTL_S
                           : o->cache_ttl_s < 0 ? 0
                                                : o->cache_ttl_s);
    r->neg_ttl_ms = o->negative_ttl_ms == 0  ? DEF_NEG_TTL_MS
                    : o->negative_ttl_ms < 0 ? 0
                                             : o->negative_ttl_ms;
    r->conc = o->fetch_concurrency ? o->fetch_concurrency : DEF_CONCURRENCY;
    r->pconc = o->provider_concurrency ? o->provider_concurrency : DEF_PCONCURRENCY;
    r->attempts = o->retry_attempts ? o->retry_attempts : DEF_ATTEMPTS;
    r->base_ms = o->retry_base_ms ? o->retry_base_ms : DEF_BASE_MS;
    r->max_ms = o->retry_max_ms ? o->retry_max_ms : DEF_MAX_MS;
    if (r->max_ms < r->base_ms)
        r->max_ms = r->base_ms;
    r->stale_if_error = o->stale_if_error != 0;
    r->max_stale_ms = (int64_t)(o->max_stale_s ? o->max_stale_s : DEF_MAX_STALE_S) * 1000;
    pthread_mutex_init(&r->lock, NULL);
    pthread_cond_init(&r->flight_cv, NULL);
    pthread_cond_init(&r->slot_cv, NULL);
    pthread_cond_init(&r->work_cv, NULL);
    pthread_cond_init(&r->idle_cv, NULL);
    *out = r;
    return 0;
}

#define FORK_MSG                                                                             \
    "this context was created before fork() by the parent process; create a new context in " \
    "the child"

/* Created by an ancestor of this process (before a fork)? */
static int inherited(const vp__resolver *R)
{
    return R->fork_gen != vp__fork_generation();
}

void vp__resolver_free(vp__resolver *r)
{
    if (r == NULL)
        return;
    if (inherited(r)) {
        /* The workers are not in this process and a lock may be held forever: leak the cache
         * (its pages are the parent's copy; they go when the child exits or execs). */
        free(r->prov_ttl_s);
        free(r->pactive);
        free(r);
        return;
    }
    if (r->cache != NULL) {
        vp__resolver_pool_stop(r);
        vp__cache_free(r->cache);
        pthread_mutex_destroy(&r->lock);
        pthread_cond_destroy(&r->flight_cv);
        pthread_cond_destroy(&r->slot_cv);
        pthread_cond_destroy(&r->work_cv);
        pthread_cond_destroy(&r->idle_cv);
    }
    free(r->prov_ttl_s);
    free(r->pactive);
    free(r);
}

int64_t vp__resolver_now(vp__resolver *R)
{
    return vp__host_monotonic_ms(&R->ctx->core_hc);
}

static int64_t deadline_for(vp__resolver *R, uint32_t timeout_ms)
{
    uint32_t t = timeout_ms ? timeout_ms : R->ctx->default_timeout_ms;
    return vp__resolver_now(R) + t;
}

/* ---- public ------------------------------------------------------------------------------- */

int vp_resolve(vp_ctx *ctx, const char *uri, uint32_t timeout_ms, vp_buf *out, vp_error *err)
{
    vp_error_clear(err);
    vp__resolver *R = ctx->resolver;
    if (R == NULL)
        return vp_fetch(ctx, uri, timeout_ms, out, NULL, err);
    if (inherited(R)) {
        vp_buf_free(out);
        return vp__err_set(err, NULL, VP_EINVAL, FORK_MSG);
    }
    char msg[VP_ERROR_MAX] = {0};
    job j;
    memset(&j, 0, sizeof(j));
    j.out = out;
    j.msg = msg;
    if (vp__job_from_uri(R, &j, uri) == 0)
        vp__resolver_resolve_jobs(R, &j, 1, deadline_for(R, timeout_ms));
    int rc = j.status;
    if (rc != 0) {
        vp_buf_free(out);
        vp__err_set(err, NULL, rc, "%s", msg[0] ? msg : vp_strerror(rc));
    }
    vp__job_clear(&j);
    return rc;
}

int vp__resolver_template_batch(vp_ctx *ctx, const vp_template_ref *refs, size_t n,
                                vp_ref_result *results)
{
    vp__resolver *R = ctx->resolver;
    if (inherited(R)) {
        for (size_t i = 0; i < n; i++) {
            results[i].status = VP_EINVAL;
            snprintf(results[i].message, sizeof(results[i].message), "%s", FORK_MSG);
            vp_buf_free(&results[i].value);
        }
        return 0;
    }
    job *jobs = calloc(n ? n : 1, sizeof(*jobs));
    if (jobs == NULL)
        return VP_ENOMEM;
    for (size_t i = 0; i < n; i++) {
        jobs[i].out = &results[i].value;
        jobs[i].msg = results[i].message;
        if (refs[i].form == VP_REF_TAG3)
            (void)vp__job_from_tag3(R, &jobs[i], &refs[i]);
        else
            (void)vp__job_from_uri(R, &jobs[i], refs[i].uri);
    }
    vp__resolver_resolve_jobs(R, jobs, n, deadline_for(R, 0));
    for (size_t i = 0; i < n; i++) {
        results[i].status = jobs[i].status;
        if (jobs[i].status != 0)
            vp_buf_free(&results[i].value);
        vp__job_clear(&jobs[i]);
    }
    free(jobs);
    return 0;
}

static int prov_index(vp_ctx *ctx, const char *name, size_t *pi)
{
    const vp__provider *p = vp__ctx_find_provider(ctx, name);
    if (p == NULL)
        return VP_ENOTFOUND;
    *pi = (size_t)(p - ctx->providers);
    return 0;
}

int vp_cache_reset(vp_ctx *ctx, const char *provider)
{
    size_t pi = VP__CACHE_ALL;
    if (provider != NULL && prov_index(ctx, provider, &pi) != 0)
        return VP_ENOTFOUND;
    if (ctx->resolver != NULL && inherited(ctx->resolver))
        return VP_EINVAL;
    if (ctx->resolver != NULL)
        vp__cache_reset(ctx->resolver->cache, pi);
    return 0;
}

int vp_cache_set_ttl(vp_ctx *ctx, const char *provider, int32_t seconds)
{
    vp__resolver *R = ctx->resolver;
    if (R == NULL || inherited(R))
        return VP_EINVAL;
    if (seconds > VP_CACHE_TTL_MAX_S || seconds < (provider ? -1 : 0))
        return VP_EINVAL;
    if (provider == NULL) {
        atomic_store(&R->ttl_s, seconds);
        return 0;
    }
    size_t pi;
    if (prov_index(ctx, provider, &pi) != 0)
        return VP_ENOTFOUND;
    atomic_store(&R->prov_ttl_s[pi], seconds);
    return 0;
}

static void add_stats(vp__resolver *R, size_t pi, vp_cache_stats *s)
{
    vp__cache_counters *c = vp__cache_counters_of(R->cache, pi);
    s->hits += atomic_load(&c->hits);
    s->misses += atomic_load(&c->misses);
    s->fetches += atomic_load(&c->fetches);
    s->errors += atomic_load(&c->errors);
    s->retries += atomic_load(&c->retries);
    s->throttles += atomic_load(&c->throttles);
    s->stale += atomic_load(&c->stale);
    uint64_t e = 0, b = 0;
    vp__cache_usage(R->cache, pi, &e, &b);
    s->entries += e;
    s->bytes += b;
}

int vp_cache_stats_get(vp_ctx *ctx, const char *provider, vp_cache_stats *out)
{
    memset(out, 0, sizeof(*out));
    vp__resolver *R = ctx->resolver;
    size_t pi = 0;
    if (provider != NULL && prov_index(ctx, provider, &pi) != 0)
        return VP_ENOTFOUND;
    if (R == NULL)
        return 0;
    if (inherited(R))
        return VP_EINVAL;
    if (provider != NULL) {
        add_stats(R, pi, out);
    } else {
        for (size_t i = 0; i < R->n_prov; i++)
            add_stats(R, i, out);
    }
    return 0;
}

vp__cache *vp__resolver_cache(vp__resolver *R)
{
    return R != NULL ? R->cache : NULL;
}
