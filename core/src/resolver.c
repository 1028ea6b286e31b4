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
 * fork(): the pool's threads do not exist in a child, and the cache's and the resolver's locks
 * may have been held by one of them at the fork. A resolver therefore belongs to the process
 * that created it: in a child, every call on an inherited context fails with VP_EINVAL (the
 * child creates its own context), and vp__resolver_free there releases nothing it would have to
 * lock or join.
 */
#include "resolver.h"

#include <errno.h>
#include <sodium.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "vaultplug/error.h"
#include "vaultplug/fetch.h"
#include "vaultplug/resolve.h"
#include "buf.h"
#include "cache.h"
#include "ctx.h"
#include "errint.h"
#include "jsonh.h"
#include "ref.h"
#include "secmem.h"
#include "secret.h"

#define DEF_TTL_S       1800
#define DEF_MAX_ENTRIES 1000u
#define DEF_MAX_BYTES   ((size_t)64 * 1024 * 1024)
#define DEF_NEG_TTL_MS  10000
/* Caps sized so that a template with 100 references to one provider costs one round trip (issue
 * 5), while a runaway template still cannot open more than this many connections at once. */
#define DEF_CONCURRENCY  128u
#define DEF_PCONCURRENCY 100u
#define MAX_CONCURRENCY  256u
#define DEF_ATTEMPTS     3u
#define MAX_ATTEMPTS     10u
#define DEF_BASE_MS      100u
#define DEF_MAX_MS       5000u
#define DEF_MAX_STALE_S  3600u
#define KEY_SEP          '\x1f' /* cannot appear in a canonical reference (it is encoded) */

struct pool;

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
    flight *flights;
    unsigned active;
    unsigned *pactive;

    /* Worker pool (under `lock`): calls post their miss lists on `work`; workers help drain
     * them. A worker never waits for a pool's owner, so owners and workers cannot deadlock. */
    pthread_cond_t work_cv, idle_cv;
    struct pool *work; /* posted lists, newest first */
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
        pthread_mutex_lock(&r->lock);
        r->stopping = 1;
        pthread_cond_broadcast(&r->work_cv);
        pthread_mutex_unlock(&r->lock);
        for (unsigned i = 0; i < r->n_workers; i++)
            pthread_join(r->workers[i], NULL);
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

/* ---- jobs --------------------------------------------------------------------------------- */

static int64_t mono_now(vp__resolver *R)
{
    return vp__host_monotonic_ms(&R->ctx->core_hc);
}

static void job_clear(job *j)
{
    free(j->key);
    free(j->uri_nofrag);
    vp__ref_free(&j->ref);
    vp__json_free(j->config);
    for (size_t i = 0; i < j->n_params; i++) {
        free((char *)j->params[i].key);
        free((char *)j->params[i].value);
    }
    free(j->params);
    memset(j, 0, sizeof(*j));
}

static void job_fail(job *j, int status, const char *msg)
{
    j->status = status;
    j->done = 1;
    snprintf(j->msg, VP_ERROR_MAX, "%s", msg);
}

static char *make_key(const char *prov, const char *cred, const char *canon, size_t canon_len)
{
    size_t lp = strlen(prov), lc = strlen(cred);
    char *k = malloc(lp + lc + canon_len + 3);
    if (k == NULL)
        return NULL;
    memcpy(k, prov, lp);
    k[lp] = KEY_SEP;
    memcpy(k + lp + 1, cred, lc);
    k[lp + 1 + lc] = KEY_SEP;
    memcpy(k + lp + lc + 2, canon, canon_len);
    k[lp + lc + 2 + canon_len] = '\0';
    return k;
}

/* Find the loaded provider of scheme; on failure the job is done with the error. */
static int job_provider(vp__resolver *R, job *j, const char *scheme)
{
    const vp__provider *p = vp__ctx_find_scheme(R->ctx, scheme);
    if (p == NULL || p->info.state != VP_PROVIDER_LOADED) {
        vp_error e = {0, {0}};
        j->status = vp__ctx_scheme_error(R->ctx, scheme, p, &e);
        memcpy(j->msg, e.message, VP_ERROR_MAX);
        j->done = 1;
        return j->status;
    }
    j->p = p;
    j->pi = (size_t)(p - R->ctx->providers);
    return 0;
}

static int job_from_uri(vp__resolver *R, job *j, const char *uri)
{
    vp_error e = {0, {0}};
    int rc = vp__ref_parse(uri, strnlen(uri, VP__REF_MAX + 1), &j->ref, &e);
    if (rc != 0) {
        j->status = rc;
        memcpy(j->msg, e.message, VP_ERROR_MAX);
        j->done = 1;
        return rc;
    }
    if (job_provider(R, j, j->ref.scheme) != 0)
        return j->status;
    const char *hash = strchr(j->ref.uri, '#');
    size_t clen = hash ? (size_t)(hash - j->ref.uri) : strlen(j->ref.uri);
    j->uri_nofrag = strndup(j->ref.uri, clen);
    j->key = make_key(j->p->name, j->ref.credential, j->ref.uri, clen);
    if (j->uri_nofrag == NULL || j->key == NULL) {
        job_fail(j, VP_ENOMEM, "out of memory");
        return VP_ENOMEM;
    }
    j->cred = j->ref.credential;
    j->disp = j->uri_nofrag;
    j->json_key = j->ref.json_key;
    vp__ref_view(&j->ref, &j->view);
    /* The cached value is the whole secret: the key is applied after the cache. */
    j->view.uri = j->uri_nofrag;
    j->view.json_key = NULL;
    return 0;
}

typedef struct param_acc {
    job *j;
    int rc;
} param_acc;

static int add_param(void *ud, const char *key, size_t index, const vp_json *v)
{
    (void)index;
    param_acc *a = ud;
    job *j = a->j;
    if (j->n_params >= VP__REF_PARAMS_MAX) {
        a->rc = VP_ELIMIT;
        return 1;
    }
    size_t len = 0;
    const char *s = vp__json_string(v, &len);
    char *val;
    if (s != NULL) {
        val = strndup(s, len);
    } else {
        char *dump = vp__json_dump(v, &len);
        val = dump ? strndup(dump, len) : NULL;
        vp__secmem_free(dump);
    }
    char *k = strdup(key);
    if (val == NULL || k == NULL) {
        free(val);
        free(k);
        a->rc = VP_ENOMEM;
        return 1;
    }
    j->params[j->n_params++] = (vp_kv){k, val, len};
    return 0;
}

static int cmp_kv(const void *a, const void *b)
{
    return strcmp(((const vp_kv *)a)->key, ((const vp_kv *)b)->key);
}

/* Three-argument form: config object -> sorted params + config; path NULL. */
static int job_from_tag3(vp__resolver *R, job *j, const vp_template_ref *t)
{
    if (job_provider(R, j, t->scheme) != 0)
        return j->status;
    const char *cfg = t->config ? t->config : "{}";
    if (vp__json_parse(cfg, strlen(cfg), &j->config) != 0 ||
        vp__json_type(j->config) != VP_JSON_OBJECT) {
        job_fail(j, VP_EINVAL, "vault tag: the config is not a JSON object");
        return j->status;
    }
    j->params = calloc(VP__REF_PARAMS_MAX, sizeof(*j->params));
    if (j->params == NULL) {
        job_fail(j, VP_ENOMEM, "out of memory");
        return VP_ENOMEM;
    }
    param_acc acc = {j, 0};
    vp__json_foreach(j->config, add_param, &acc);
    if (acc.rc != 0) {
        job_fail(j, acc.rc, "vault tag: config has too many fields");
        return acc.rc;
    }
    qsort(j->params, j->n_params, sizeof(*j->params), cmp_kv);
    const char *cred = t->credential ? t->credential : "";
    /* The id is canonical: scheme, credential and the config with sorted keys. */
    j->key = make_key(j->p->name, cred, t->id, strlen(t->id));
    if (j->key == NULL) {
        job_fail(j, VP_ENOMEM, "out of memory");
        return VP_ENOMEM;
    }
    j->cred = cred;
    j->disp = t->id;
    j->json_key = NULL;
    j->view = (vp_ref){VP_ABI_HDR(vp_ref), t->id,       j->p->name, cred,     NULL,
                       j->params,          j->n_params, NULL,       j->config};
    return 0;
}

/* Finish j from a raw value (status 0) or a failure. */
static void job_finish(vp__resolver *R, job *j, int status, const char *raw, size_t len,
                       const char *msg)
{
    j->done = 1;
    j->status = status;
    if (status != 0) {
        if (msg != j->msg)
            snprintf(j->msg, VP_ERROR_MAX, "%s", msg && msg[0] ? msg : vp_strerror(status));
        return;
    }
    vp_error e = {0, {0}};
    if (j->json_key != NULL) {
        j->status = vp__fetch_extract_key(R->ctx, j->disp, j->json_key, raw, len, j->out, &e);
    } else {
        j->status = vp__buf_set_secure(j->out, raw, len);
        if (j->status != 0)
            vp__err_set(&e, NULL, j->status, NULL);
    }
    if (j->status != 0)
        memcpy(j->msg, e.message, VP_ERROR_MAX);
}

/* Serve j from the cache if possible (returns non-zero when done). */
static int job_try_cache(vp__resolver *R, job *j, int64_t now)
{
    vp__cache_counters *ct = vp__cache_counters_of(R->cache, j->pi);
    vp_buf raw = {0};
    int st = 0;
    /* Without a JSON key the value is the result: copy it out of the cache once, into j->out. */
    vp_buf *dst = j->json_key == NULL ? j->out : &raw;
    int r = vp__cache_get(R->cache, j->key, now, dst, &st, j->msg, VP_ERROR_MAX);
    if (r == VP__CACHE_MISS)
        return 0;
    atomic_fetch_add_explicit(&ct->hits, 1, memory_order_relaxed);
    if (r == VP__CACHE_HIT && dst == j->out) {
        j->done = 1;
        j->status = 0;
    } else if (r == VP__CACHE_HIT)
        job_finish(R, j, 0, raw.data, raw.len, NULL);
    else
        job_finish(R, j, st, NULL, 0, j->msg);
    vp_buf_free(&raw);
    return 1;
}

/* ---- fetching ----------------------------------------------------------------------------- */

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
        if (deadline >= 0 && mono_now(R) + delay >= deadline)
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
    job_finish(R, j, f->status, f->value, f->len, f->msg);
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
    if (job_try_cache(R, j, mono_now(R))) {
        pthread_mutex_unlock(&R->lock);
        return ENTER_DONE;
    }
    f = calloc(1, sizeof(*f));
    if (f == NULL || (f->key = strdup(j->key)) == NULL) {
        pthread_mutex_unlock(&R->lock);
        free(f);
        job_finish(R, j, VP_ENOMEM, NULL, 0, "out of memory");
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
    int64_t now = mono_now(R);
    vp_buf stale = {0};
    const char *val = NULL;
    size_t len = 0;
    if (rc == 0) {
        int64_t ttl = ttl_ms_for(R, j->pi, so);
        if (ttl > 0)
            (void)vp__cache_put(R->cache, j->key, j->pi, so->value, so->len, now + ttl,
                                R->stale_if_error ? R->max_stale_ms : 0);
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
    job_finish(R, j, rc, val, len, msg);
    vp_buf_free(&stale);
    if (last)
        flight_drop(f);
}

/* Resolve one miss: join the key's flight or lead one. */
static void job_miss(vp__resolver *R, job *j, int64_t deadline)
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

#define BATCH_MAX 100 /* misses in one fetch_batch call */

static int batchable(const job *j)
{
    return j->p != NULL && (j->p->table->caps & VP_CAP_BATCH) && j->p->table->fetch_batch;
}

/* Misses of one provider + credential with VP_CAP_BATCH: the keys nobody else is fetching go
 * to the provider in one fetch_batch call (retried as a whole for a retryable batch status);
 * items that fail with a retryable status get the single-fetch retry path; keys already in
 * flight elsewhere are followed afterwards (never while leading, so two batches cannot wait on
 * each other). */
static void job_miss_batch(vp__resolver *R, job **jobs, size_t n, int64_t deadline)
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
            if (mono_now(R) + delay >= deadline)
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
        job_miss(R, later[i], deadline);
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
            job_miss(pl->R, pl->jobs[a], pl->deadline);
        else
            job_miss_batch(pl->R, pl->jobs + a, b - a, pl->deadline);
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
static void resolve_jobs(vp__resolver *R, job *jobs, size_t n, int64_t deadline)
{
    /* Cache hits first, without allocating anything: the all-hit case is the hot one. */
    size_t nm = 0;
    int64_t now = mono_now(R);
    for (size_t i = 0; i < n; i++)
        if (!jobs[i].done && !job_try_cache(R, &jobs[i], now))
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
            job_miss(R, &jobs[i], deadline); /* no memory for the pool: resolve in place */
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

static int64_t deadline_for(vp__resolver *R, uint32_t timeout_ms)
{
    uint32_t t = timeout_ms ? timeout_ms : R->ctx->default_timeout_ms;
    return mono_now(R) + t;
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
    if (job_from_uri(R, &j, uri) == 0)
        resolve_jobs(R, &j, 1, deadline_for(R, timeout_ms));
    int rc = j.status;
    if (rc != 0) {
        vp_buf_free(out);
        vp__err_set(err, NULL, rc, "%s", msg[0] ? msg : vp_strerror(rc));
    }
    job_clear(&j);
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
            (void)job_from_tag3(R, &jobs[i], &refs[i]);
        else
            (void)job_from_uri(R, &jobs[i], refs[i].uri);
    }
    resolve_jobs(R, jobs, n, deadline_for(R, 0));
    for (size_t i = 0; i < n; i++) {
        results[i].status = jobs[i].status;
        if (jobs[i].status != 0)
            vp_buf_free(&results[i].value);
        job_clear(&jobs[i]);
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
