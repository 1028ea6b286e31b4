/*
 * resolver_fetch - resolving a miss: the singleflight (one fetch per key in flight; followers
 * wait for the leader's result and hold no fetch slot, so they cannot starve the leaders), the
 * fetch slots that bound provider calls in flight per context and per provider, retries of
 * retryable statuses with capped exponential backoff and full jitter, storing the result
 * (positive TTL, stale-if-error fallback, negative caching) and fetch_batch calls for VP_CAP_BATCH
 * providers.
 */
#include <errno.h>
#include <sodium.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "vaultplug/error.h"
#include "vaultplug/fetch.h"
#include "cache.h"
#include "ctx.h"
#include "resolver_int.h"
#include "secmem.h"
#include "identity.h"
#include "secret.h"

typedef struct flight {
    struct flight *next;
    char *key;
    unsigned refs;
    int done;
    int status;
    char *value; /* secure arena */
    size_t len;
    char msg[VP_ERROR_MAX];
} flight;

static void slot_acquire(vp__resolver *R, size_t pi)
{
    pthread_mutex_lock(&R->lock);
    while (R->active >= R->conc || R->pactive[pi] >= R->pconc)
        pthread_cond_wait(&R->slot_cv, &R->lock);
    R->active++;
    R->pactive[pi]++;
    pthread_mutex_unlock(&R->lock);
}

static void slot_release(vp__resolver *R, size_t pi)
{
    pthread_mutex_lock(&R->lock);
    R->active--;
    R->pactive[pi]--;
    pthread_cond_broadcast(&R->slot_cv);
    pthread_mutex_unlock(&R->lock);
}

static void sleep_ms(int64_t ms)
{
    struct timespec ts = {(time_t)(ms / 1000), (long)(ms % 1000) * 1000000L};
    while (nanosleep(&ts, &ts) != 0 && errno == EINTR)
        ;
}

/* Provider call with retries for retryable statuses: capped exponential backoff with full
 * jitter, at least the provider's Retry-After, never sleeping past the deadline. */
static int fetch_retry(vp__resolver *R, job *j, int64_t deadline, vp_secret_out *so, vp_error *err)
{
    vp__cache_counters *ct = vp__cache_counters_of(R->cache, j->pi);
    for (unsigned a = 1;; a++) {
        vp__secret_out_init(so, (vp_host_ctx *)&j->p->hc);
        uint32_t ra = 0;
        vp_error_clear(err);
        slot_acquire(R, j->pi);
        int rc = vp__fetch_raw(R->ctx, j->p, j->cred, &j->view, deadline, so, &ra, err);
        slot_release(R, j->pi);
        atomic_fetch_add(&ct->fetches, 1);
        if (rc == VP_ERATELIMIT)
            atomic_fetch_add(&ct->throttles, 1);
        if (rc == 0 || !vp_status_retryable(rc) || a >= R->attempts)
            return rc;
        uint64_t cap = (uint64_t)R->base_ms << (a - 1 < 20 ? a - 1 : 20);
        if (cap > R->max_ms)
            cap = R->max_ms;
        int64_t delay = (int64_t)randombytes_uniform((uint32_t)cap + 1);
        if (ra > delay)
            delay = ra;
        if (deadline >= 0 && vp__resolver_now(R) + delay >= deadline)
            return rc; /* the retry could not finish in time: report this failure */
        vp__secret_out_clear(so);
        if (delay > 0)
            sleep_ms(delay);
        atomic_fetch_add(&ct->retries, 1);
    }
}

static int64_t ttl_ms_for(vp__resolver *R, size_t pi, const vp_secret_out *so)
{
    int t = atomic_load(&R->prov_ttl_s[pi]);
    if (t < 0)
        t = atomic_load(&R->ttl_s);
    int64_t ms = (int64_t)t * 1000;
    if (ms <= 0 || so == NULL)
        return ms;
    if (so->ttl_s != UINT32_MAX && (int64_t)so->ttl_s * 1000 < ms)
        ms = (int64_t)so->ttl_s * 1000;
    if (so->expiry_unix_ms != 0) {
        int64_t left = so->expiry_unix_ms - vp__host_now_unix_ms(&R->ctx->core_hc);
        if (left < ms)
            ms = left;
    }
    return ms;
}

/* Failures worth remembering: those that say something about the reference or the service,
 * not about this caller (its deadline, our memory). */
static int negative_cacheable(int st)
{
    return st != VP_ECANCELED && st != VP_ETIMEDOUT && st != VP_ENOMEM && st != VP_EINTERNAL;
}

static void flight_drop(flight *f)
{
    vp__secmem_free(f->value);
    free(f->key);
    free(f);
}

/* Follow f (lock held, released on return): wait for its result and finish j with it. */
static void flight_follow(vp__resolver *R, job *j, flight *f)
{
    f->refs++;
    while (!f->done)
        pthread_cond_wait(&R->flight_cv, &R->lock);
    pthread_mutex_unlock(&R->lock);
    /* f is done and immutable now; our reference keeps it alive. */
    atomic_fetch_add(&vp__cache_counters_of(R->cache, j->pi)->hits, 1);
    vp__job_finish(R, j, f->status, f->value, f->len, f->msg);
    pthread_mutex_lock(&R->lock);
    int last = --f->refs == 0;
    pthread_mutex_unlock(&R->lock);
    if (last)
        flight_drop(f);
}

#define ENTER_DONE 0 /* j finished (cache hit, or followed a flight) */
#define ENTER_LEAD 1 /* *fo is a new flight j must complete */
#define ENTER_BUSY 2 /* another flight has the key (only when !wait) */

/* Join the key's flight (waiting when `wait`), or serve j from the cache, or start a flight. */
static int flight_enter(vp__resolver *R, job *j, int wait, flight **fo)
{
    *fo = NULL;
    pthread_mutex_lock(&R->lock);
    flight *f = R->flights;
    while (f && strcmp(f->key, j->key) != 0)
        f = f->next;
    if (f != NULL) {
        if (!wait) {
            pthread_mutex_unlock(&R->lock);
            return ENTER_BUSY;
        }
        flight_follow(R, j, f);
        return ENTER_DONE;
    }
    /* A flight that finished after our lookup has filled the cache: look again, under the lock,
     * so that one cold key is fetched exactly once. */
    if (vp__job_try_cache(R, j, vp__resolver_now(R))) {
        pthread_mutex_unlock(&R->lock);
        return ENTER_DONE;
    }
    f = calloc(1, sizeof(*f));
    if (f == NULL || (f->key = strdup(j->key)) == NULL) {
        pthread_mutex_unlock(&R->lock);
        free(f);
        vp__job_finish(R, j, VP_ENOMEM, NULL, 0, "out of memory");
        return ENTER_DONE;
    }
    f->refs = 1;
    f->next = R->flights;
    R->flights = f;
    pthread_mutex_unlock(&R->lock);
    atomic_fetch_add(&vp__cache_counters_of(R->cache, j->pi)->misses, 1);
    *fo = f;
    return ENTER_LEAD;
}

/* The leader's fetch ended with rc (so holds the value when 0, msg the failure): cache it,
 * fall back to a stale value or remember the failure, publish to the followers, finish j. */
static void flight_complete(vp__resolver *R, job *j, flight *f, int rc, vp_secret_out *so,
                            const char *msg)
{
    vp__cache_counters *ct = vp__cache_counters_of(R->cache, j->pi);
    int64_t now = vp__resolver_now(R);
    vp_buf stale = {0};
    const char *val = NULL;
    size_t len = 0;
    if (rc == 0) {
        int64_t ttl = ttl_ms_for(R, j->pi, so);
        if (ttl > 0) {
            /* The identity is taken now, right after the fetch that read the inputs. */
            unsigned char *ident = NULL;
            size_t ident_len = 0;
            if (vp__ident_capture(R->ctx, j->pi, j->key, strlen(j->key), &ident, &ident_len) != 0)
                ident = NULL; /* unknown: kept in memory, never persisted */
            (void)vp__cache_put(R->cache, j->key, j->pi, so->value, so->len, now + ttl,
                                R->stale_if_error ? R->max_stale_ms : 0, ident, ident_len);
        }
        val = so->value;
        len = so->len;
    } else if (R->stale_if_error && vp_status_retryable(rc) &&
               vp__cache_get_stale(R->cache, j->key, now, R->max_stale_ms, &stale) == 0) {
        atomic_fetch_add(&ct->stale, 1);
        rc = 0;
        val = stale.data;
        len = stale.len;
    } else {
        atomic_fetch_add(&ct->errors, 1);
        if (R->neg_ttl_ms > 0 && negative_cacheable(rc) && ttl_ms_for(R, j->pi, NULL) > 0)
            vp__cache_put_neg(R->cache, j->key, j->pi, rc, msg, now + R->neg_ttl_ms);
    }
    /* Publish to the flight's followers. */
    char *copy = NULL;
    if (rc == 0 && (copy = vp__secmem_alloc(len + 1)) != NULL && len > 0)
        memcpy(copy, val, len);
    pthread_mutex_lock(&R->lock);
    f->status = rc == 0 && copy == NULL ? VP_ENOMEM : rc;
    f->value = copy;
    f->len = len;
    snprintf(f->msg, sizeof(f->msg), "%s", msg ? msg : "");
    f->done = 1;
    for (flight **pp = &R->flights; *pp; pp = &(*pp)->next)
        if (*pp == f) {
            *pp = f->next;
            break;
        }
    int last = --f->refs == 0;
    pthread_cond_broadcast(&R->flight_cv);
    pthread_mutex_unlock(&R->lock);
    vp__job_finish(R, j, rc, val, len, msg);
    vp_buf_free(&stale);
    if (last)
        flight_drop(f);
}

/* Resolve one miss: join the key's flight or lead one. */
void vp__resolver_miss(vp__resolver *R, job *j, int64_t deadline)
{
    flight *f;
    if (flight_enter(R, j, 1, &f) != ENTER_LEAD)
        return;
    vp_secret_out so;
    vp_error e = {0, {0}};
    int rc = fetch_retry(R, j, deadline, &so, &e);
    flight_complete(R, j, f, rc, &so, e.message);
    vp__secret_out_clear(&so);
}

/* Misses of one provider + credential with VP_CAP_BATCH: the keys nobody else is fetching go
 * to the provider in one fetch_batch call (retried as a whole for a retryable batch status);
 * items that fail with a retryable status get the single-fetch retry path; keys already in
 * flight elsewhere are followed afterwards (never while leading, so two batches cannot wait on
 * each other). */
void vp__resolver_miss_batch(vp__resolver *R, job **jobs, size_t n, int64_t deadline)
{
    job *lead[BATCH_MAX], *later[BATCH_MAX];
    flight *fl[BATCH_MAX];
    size_t nl = 0, nlater = 0;
    for (size_t i = 0; i < n && i < BATCH_MAX; i++) {
        flight *f;
        int r = flight_enter(R, jobs[i], 0, &f);
        if (r == ENTER_LEAD) {
            lead[nl] = jobs[i];
            fl[nl++] = f;
        } else if (r == ENTER_BUSY) {
            later[nlater++] = jobs[i];
        }
    }
    if (nl == 1) {
        vp_secret_out so;
        vp_error e = {0, {0}};
        int rc = fetch_retry(R, lead[0], deadline, &so, &e);
        flight_complete(R, lead[0], fl[0], rc, &so, e.message);
        vp__secret_out_clear(&so);
    } else if (nl > 1) {
        vp_secret_out *so = calloc(nl, sizeof(*so));
        vp_secret_out **outs = calloc(nl, sizeof(*outs));
        const vp_ref **views = calloc(nl, sizeof(*views));
        vp_error e = {0, {0}};
        int rc = VP_ENOMEM;
        vp__cache_counters *ct = vp__cache_counters_of(R->cache, lead[0]->pi);
        for (unsigned a = 1; so && outs && views; a++) {
            for (size_t i = 0; i < nl; i++) {
                vp__secret_out_init(&so[i], (vp_host_ctx *)&lead[i]->p->hc);
                outs[i] = &so[i];
                views[i] = &lead[i]->view;
            }
            uint32_t ra = 0;
            vp_error_clear(&e);
            slot_acquire(R, lead[0]->pi);
            rc = vp__fetch_raw_batch(R->ctx, lead[0]->p, lead[0]->cred, nl, views, deadline, outs,
                                     &ra, &e);
            slot_release(R, lead[0]->pi);
            atomic_fetch_add(&ct->fetches, 1);
            if (rc == VP_ERATELIMIT)
                atomic_fetch_add(&ct->throttles, 1);
            if (rc == 0 || !vp_status_retryable(rc) || a >= R->attempts)
                break;
            uint64_t cap = (uint64_t)R->base_ms << (a - 1 < 20 ? a - 1 : 20);
            int64_t delay =
                (int64_t)randombytes_uniform((uint32_t)(cap > R->max_ms ? R->max_ms : cap) + 1);
            if (ra > delay)
                delay = ra;
            if (vp__resolver_now(R) + delay >= deadline)
                break;
            for (size_t i = 0; i < nl; i++)
                vp__secret_out_clear(&so[i]);
            if (delay > 0)
                sleep_ms(delay);
            atomic_fetch_add(&ct->retries, 1);
        }
        for (size_t i = 0; i < nl; i++) {
            if (so == NULL || outs == NULL || views == NULL) {
                flight_complete(R, lead[i], fl[i], VP_ENOMEM, NULL, "out of memory");
                continue;
            }
            if (rc != 0) {
                flight_complete(R, lead[i], fl[i], rc, &so[i], e.message);
            } else if (so[i].status != 0 && vp_status_retryable(so[i].status)) {
                vp_secret_out one;
                vp_error e1 = {0, {0}};
                int rc1 = fetch_retry(R, lead[i], deadline, &one, &e1);
                flight_complete(R, lead[i], fl[i], rc1, &one, e1.message);
                vp__secret_out_clear(&one);
            } else {
                flight_complete(R, lead[i], fl[i], so[i].status, &so[i], so[i].message);
            }
            vp__secret_out_clear(&so[i]);
        }
        free(so);
        free(outs);
        free(views);
    }
    for (size_t i = 0; i < nlater; i++)
        vp__resolver_miss(R, later[i], deadline);
}
