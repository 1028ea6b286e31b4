/*
 * resolver_int - what the resolver's modules share: the vp__resolver object, the job (one
 * resolution and its result slot) and the functions each module offers the others.
 * resolver.c owns options, lifetime and the public entry points (vp_resolve, the render batch,
 * vp_cache_*); resolver_job.c builds jobs and serves them from the cache; resolver_fetch.c
 * resolves a miss (singleflight, fetch slots, retries, stale-if-error, negative caching,
 * fetch_batch); resolver_pool.c spreads a call's misses over the worker pool.
 */
#ifndef VP_RESOLVER_INT_H
#define VP_RESOLVER_INT_H

#include <pthread.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>

#include "vaultplug/resolve.h"
#include "cache.h"
#include "ctx.h"
#include "jsonh.h"
#include "ref.h"
#include "resolver.h"

#define MAX_CONCURRENCY 256u
#define BATCH_MAX       100 /* misses in one fetch_batch call */

struct flight;
struct pool;

struct vp__resolver {
    vp_ctx *ctx;
    vp__cache *cache;
    size_t n_prov;
    atomic_int ttl_s;       /* global; 0 = off */
    atomic_int *prov_ttl_s; /* -1 = the global value */
    int64_t neg_ttl_ms;     /* 0 = off */
    unsigned conc, pconc, attempts;
    uint32_t base_ms, max_ms;
    int stale_if_error;
    int64_t max_stale_ms;

    pthread_mutex_t lock; /* flights and slots */
    pthread_cond_t flight_cv, slot_cv;
    struct flight *flights; /* keys being fetched (resolver_fetch.c) */
    unsigned active;
    unsigned *pactive;

    /* Worker pool (under `lock`): calls post their miss lists on `work`; workers help drain
     * them. A worker never waits for a pool's owner, so owners and workers cannot deadlock. */
    pthread_cond_t work_cv, idle_cv;
    struct pool *work; /* posted lists, newest first (resolver_pool.c) */
    pthread_t workers[MAX_CONCURRENCY];
    unsigned n_workers;
    unsigned spawning; /* pthread_create calls in progress (slots of workers reserved) */
    unsigned fork_gen; /* vp__fork_generation() at creation */
    int stopping;
};

typedef struct job {
    const vp__provider *p;
    size_t pi;
    char *key;
    const char *cred;
    const char *disp; /* canonical reference for messages (no secret) */
    const char *json_key;
    vp__ref ref;      /* URI form */
    char *uri_nofrag; /* URI form */
    vp_json *config;  /* TAG3 */
    vp_kv *params;    /* TAG3: owned */
    size_t n_params;
    vp_ref view;
    /* result */
    int status;
    vp_buf *out;
    char *msg; /* VP_ERROR_MAX bytes */
    int done;
} job;

/* ---- resolver.c ---- */

/* The context's monotonic clock, in ms. */
int64_t vp__resolver_now(vp__resolver *R);

/* ---- resolver_job.c ---- */

/* Fill j from a reference URI / a three-argument vault tag. On failure j is done with the
 * error (status returned). */
int vp__job_from_uri(vp__resolver *R, job *j, const char *uri);
int vp__job_from_tag3(vp__resolver *R, job *j, const vp_template_ref *t);
/* Release what j owns and zero it (the result slots are the caller's). */
void vp__job_clear(job *j);
/* Finish j from a raw value (status 0) or a failure. */
void vp__job_finish(vp__resolver *R, job *j, int status, const char *raw, size_t len,
                    const char *msg);
/* Serve j from the cache if possible (returns non-zero when done). */
int vp__job_try_cache(vp__resolver *R, job *j, int64_t now);

/* ---- resolver_fetch.c ---- */

/* Resolve one miss: join the key's flight or lead one. */
void vp__resolver_miss(vp__resolver *R, job *j, int64_t deadline);
/* Resolve n (<= BATCH_MAX) misses of one VP_CAP_BATCH provider + credential. */
void vp__resolver_miss_batch(vp__resolver *R, job **jobs, size_t n, int64_t deadline);

/* ---- resolver_pool.c ---- */

/* Resolve jobs[0..n): cache hits on this thread, misses on up to R->conc threads; misses of a
 * VP_CAP_BATCH provider are grouped per credential (at most BATCH_MAX per call). */
void vp__resolver_resolve_jobs(vp__resolver *R, job *jobs, size_t n, int64_t deadline);
/* Stop and join the pool's workers (vp__resolver_free; no call may be running). */
void vp__resolver_pool_stop(vp__resolver *R);

#endif
