/*
 * guard - run provider calls on reusable runner threads so that the caller can stop waiting at
 * the deadline (see guard.h).
 */
#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <time.h>

#include "vaultplug/status.h"
#include "guard.h"

typedef struct runner {
    struct runner *next; /* in the idle list */
    struct vp__runners *pool;
    pthread_t tid;
    pthread_cond_t go;   /* a job was posted, or quit */
    pthread_cond_t done; /* the job returned (CLOCK_MONOTONIC) */
    vp__guarded *job;
    int quit;
} runner;

struct vp__runners {
    pthread_mutex_t mu;
    runner *idle;
    size_t abandoned; /* calls given up on that have not returned yet */
};

static void runner_free(runner *r)
{
    pthread_cond_destroy(&r->go);
    pthread_cond_destroy(&r->done);
    free(r);
}

static void *runner_main(void *arg)
{
    runner *r = arg;
    vp__runners *pool = r->pool;
    pthread_mutex_lock(&pool->mu);
    for (;;) {
        while (r->job == NULL && !r->quit)
            pthread_cond_wait(&r->go, &pool->mu);
        if (r->job == NULL)
            break; /* quit */
        vp__guarded *g = r->job;
        pthread_mutex_unlock(&pool->mu);
        g->run(g);
        pthread_mutex_lock(&pool->mu);
        if (g->abandoned) {
            /* The caller left (and detached us): clean up after the late call and go. */
            pthread_mutex_unlock(&pool->mu);
            g->orphan(g);
            pthread_mutex_lock(&pool->mu);
            pool->abandoned--;
            pthread_mutex_unlock(&pool->mu);
            runner_free(r);
            return NULL;
        }
        g->done = 1;
        r->job = NULL;
        r->next = pool->idle;
        pool->idle = r;
        pthread_cond_broadcast(&r->done);
    }
    pthread_mutex_unlock(&pool->mu);
    return NULL;
}

int vp__runners_new(vp__runners **out)
{
    vp__runners *r = calloc(1, sizeof(*r));
    if (r == NULL)
        return VP_ENOMEM;
    pthread_mutex_init(&r->mu, NULL);
    *out = r;
    return 0;
}

size_t vp__runners_abandoned(vp__runners *r)
{
    if (r == NULL)
        return 0;
    pthread_mutex_lock(&r->mu);
    size_t n = r->abandoned;
    pthread_mutex_unlock(&r->mu);
    return n;
}

size_t vp__runners_free(vp__runners *r)
{
    if (r == NULL)
        return 0;
    pthread_mutex_lock(&r->mu);
    runner *list = r->idle;
    r->idle = NULL;
    for (runner *x = list; x; x = x->next) {
        x->quit = 1;
        pthread_cond_signal(&x->go);
    }
    size_t abandoned = r->abandoned;
    pthread_mutex_unlock(&r->mu);
    while (list) {
        runner *x = list;
        list = x->next;
        pthread_join(x->tid, NULL);
        runner_free(x);
    }
    if (abandoned == 0) {
        pthread_mutex_destroy(&r->mu);
        free(r);
    }
    return abandoned;
}

static runner *runner_start(vp__runners *pool)
{
    runner *r = calloc(1, sizeof(*r));
    if (r == NULL)
        return NULL;
    r->pool = pool;
    pthread_condattr_t ca;
    pthread_condattr_init(&ca);
    pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
    pthread_cond_init(&r->done, &ca);
    pthread_condattr_destroy(&ca);
    pthread_cond_init(&r->go, NULL);
    if (pthread_create(&r->tid, NULL, runner_main, r) != 0) {
        runner_free(r);
        return NULL;
    }
    return r;
}

int vp__guard_call(vp__runners *pool, vp__guarded *g, int64_t wait_ms)
{
    g->done = 0;
    g->abandoned = 0;
    pthread_mutex_lock(&pool->mu);
    runner *r = pool->idle;
    if (r != NULL) {
        pool->idle = r->next;
    } else {
        /* Started without the lock held would be nicer, but the new thread blocks on mu at
         * once and thread creation is rare (runners are kept). */
        if ((r = runner_start(pool)) == NULL) {
            pthread_mutex_unlock(&pool->mu);
            return VP_ENOMEM;
        }
    }
    r->next = NULL;
    r->job = g;
    pthread_cond_signal(&r->go);

    struct timespec until;
    if (wait_ms >= 0) {
        clock_gettime(CLOCK_MONOTONIC, &until);
        until.tv_sec += (time_t)(wait_ms / 1000);
        until.tv_nsec += (long)(wait_ms % 1000) * 1000000L;
        if (until.tv_nsec >= 1000000000L) {
            until.tv_sec++;
            until.tv_nsec -= 1000000000L;
        }
    }
    while (!g->done) {
        int w = wait_ms >= 0 ? pthread_cond_timedwait(&r->done, &pool->mu, &until)
                             : pthread_cond_wait(&r->done, &pool->mu);
        if (w == ETIMEDOUT && !g->done) {
            g->abandoned = 1;
            pool->abandoned++;
            pthread_detach(r->tid);
            pthread_mutex_unlock(&pool->mu);
            return VP_ETIMEDOUT;
        }
    }
    pthread_mutex_unlock(&pool->mu);
    return 0;
}
