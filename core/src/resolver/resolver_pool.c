/*
 * resolver_pool - running a call's jobs: cache hits on the calling thread first, then the misses
 * (grouped per provider + credential for VP_CAP_BATCH providers) as a posted list that the
 * calling thread and the context's worker threads drain together. Workers are started on first
 * need, up to fetch_concurrency - 1, and kept until vp__resolver_free: creating threads per call
 * cost more than the fetches on a small machine.
 */
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

#include "resolver_int.h"

static int batchable(const job *j)
{
    return j->p != NULL && (j->p->table->caps & VP_CAP_BATCH) && j->p->table->fetch_batch;
}

typedef struct pool {
    vp__resolver *R;
    job **jobs;    /* grouped: items are contiguous ranges */
    size_t *start; /* item i = jobs[start[i] .. start[i+1]) */
    size_t n_items;
    atomic_size_t next;
    int64_t deadline;
    struct pool *next_posted; /* on R->work; under R->lock */
    unsigned helpers;         /* workers inside pool_drain; under R->lock */
} pool;

static void pool_drain(pool *pl)
{
    size_t i;
    while ((i = atomic_fetch_add(&pl->next, 1)) < pl->n_items) {
        size_t a = pl->start[i], b = pl->start[i + 1];
        if (b - a == 1)
            vp__resolver_miss(pl->R, pl->jobs[a], pl->deadline);
        else
            vp__resolver_miss_batch(pl->R, pl->jobs + a, b - a, pl->deadline);
    }
}

/* A posted list with items left (lock held), or NULL. */
static pool *pool_pick(vp__resolver *R)
{
    for (pool *pl = R->work; pl; pl = pl->next_posted)
        if (atomic_load(&pl->next) < pl->n_items)
            return pl;
    return NULL;
}

static void *pool_thread(void *arg)
{
    vp__resolver *R = arg;
    pthread_mutex_lock(&R->lock);
    while (!R->stopping) {
        pool *pl = pool_pick(R);
        if (pl == NULL) {
            pthread_cond_wait(&R->work_cv, &R->lock);
            continue;
        }
        pl->helpers++;
        pthread_mutex_unlock(&R->lock);
        pool_drain(pl);
        pthread_mutex_lock(&R->lock);
        if (--pl->helpers == 0)
            pthread_cond_broadcast(&R->idle_cv);
    }
    pthread_mutex_unlock(&R->lock);
    return NULL;
}

/* Start workers until the pool has want - 1 (bounded by fetch_concurrency - 1), or pl has no
 * unclaimed item left. pthread_create runs without R->lock: holding it, the creating thread
 * would keep re-taking the lock ahead of the workers it just started (mutexes are not fair),
 * and no fetch could begin before the last thread existed. A failed pthread_create only means
 * fewer helpers: the caller drains the list anyway. */
static void pool_grow(vp__resolver *R, pool *pl, size_t want)
{
    for (;;) {
        pthread_mutex_lock(&R->lock);
        unsigned have = R->n_workers + R->spawning;
        if (R->stopping || have + 1 >= want || have + 1 >= R->conc ||
            atomic_load(&pl->next) >= pl->n_items) {
            pthread_mutex_unlock(&R->lock);
            return;
        }
        R->spawning++; /* reserves a slot of R->workers */
        pthread_mutex_unlock(&R->lock);
        pthread_t t;
        int ok = pthread_create(&t, NULL, pool_thread, R) == 0;
        pthread_mutex_lock(&R->lock);
        R->spawning--;
        if (ok)
            R->workers[R->n_workers++] = t;
        pthread_mutex_unlock(&R->lock);
        if (!ok)
            return;
    }
}

/* Run pl on this thread and up to want - 1 pool workers; returns when every item is done. */
static void pool_run(vp__resolver *R, pool *pl, size_t want)
{
    if (want > 1) {
        pthread_mutex_lock(&R->lock);
        pl->next_posted = R->work;
        R->work = pl;
        size_t idle = want - 1 < R->n_workers ? want - 1 : R->n_workers;
        for (size_t i = 0; i < idle; i++)
            pthread_cond_signal(&R->work_cv);
        pthread_mutex_unlock(&R->lock);
        /* The list is posted first, so each new worker starts on it at once. */
        pool_grow(R, pl, want);
    }
    pool_drain(pl);
    if (want > 1) {
        pthread_mutex_lock(&R->lock);
        for (pool **pp = &R->work; *pp; pp = &(*pp)->next_posted)
            if (*pp == pl) {
                *pp = pl->next_posted;
                break;
            }
        /* Every item is claimed; wait for the workers still finishing theirs. */
        while (pl->helpers > 0)
            pthread_cond_wait(&R->idle_cv, &R->lock);
        pthread_mutex_unlock(&R->lock);
    }
}

static int same_group(const job *a, const job *b)
{
    return a->pi == b->pi && strcmp(a->cred, b->cred) == 0;
}

/* Resolve jobs[0..n): cache hits on this thread, misses on up to R->conc threads; misses of a
 * VP_CAP_BATCH provider are grouped per credential (at most BATCH_MAX per call). */
void vp__resolver_resolve_jobs(vp__resolver *R, job *jobs, size_t n, int64_t deadline)
{
    /* Cache hits first, without allocating anything: the all-hit case is the hot one. */
    size_t nm = 0;
    int64_t now = vp__resolver_now(R);
    for (size_t i = 0; i < n; i++)
        if (!jobs[i].done && !vp__job_try_cache(R, &jobs[i], now))
            nm++;
    if (nm == 0)
        return;
    job **miss = calloc(nm, sizeof(*miss));
    job **grouped = calloc(nm, sizeof(*grouped));
    size_t *start = calloc(nm + 1, sizeof(*start));
    nm = 0;
    for (size_t i = 0; i < n; i++) {
        if (jobs[i].done)
            continue;
        if (miss == NULL || grouped == NULL || start == NULL) {
            vp__resolver_miss(R, &jobs[i], deadline); /* no memory for the pool: resolve in place */
            continue;
        }
        miss[nm++] = &jobs[i];
    }
    if (nm == 0) {
        free(miss);
        free(grouped);
        free(start);
        return;
    }
    size_t ng = 0, n_items = 0;
    for (size_t i = 0; i < nm; i++) {
        if (miss[i] == NULL)
            continue;
        start[n_items++] = ng;
        grouped[ng++] = miss[i];
        size_t in_item = 1;
        if (batchable(miss[i]))
            for (size_t k = i + 1; k < nm && in_item < BATCH_MAX; k++)
                if (miss[k] != NULL && same_group(miss[i], miss[k])) {
                    grouped[ng++] = miss[k];
                    miss[k] = NULL;
                    in_item++;
                }
        miss[i] = NULL;
    }
    start[n_items] = ng;
    pool pl = {R, grouped, start, n_items, 0, deadline, NULL, 0};
    pool_run(R, &pl, n_items < R->conc ? n_items : R->conc);
    free(miss);
    free(grouped);
    free(start);
}

void vp__resolver_pool_stop(vp__resolver *R)
{
    pthread_mutex_lock(&R->lock);
    R->stopping = 1;
    pthread_cond_broadcast(&R->work_cv);
    pthread_mutex_unlock(&R->lock);
    for (unsigned i = 0; i < R->n_workers; i++)
        pthread_join(R->workers[i], NULL);
}
