/*
 * cache - see cache.h. A chained hash table (grown by doubling) plus a doubly linked LRU list,
 * both under one mutex: operations are O(1) and short (a copy of one value at most), so a
 * single lock is cheaper than anything finer at the sizes we keep (thousands of entries).
 */
#include "cache.h"

#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "vaultplug/error.h"
#include "buf.h"
#include "secmem.h"

#define NEG_MSG_MAX 256 /* a remembered failure's message (never a secret: provider-redacted) */

typedef struct entry {
    struct entry *hnext;       /* hash chain */
    struct entry *prev, *next; /* LRU: head = most recently used */
    uint64_t hash;
    char *key; /* plain memory: references name secrets, they are not secrets */
    size_t prov;
    char *value; /* secure arena; NULL for a negative entry */
    size_t len;
    unsigned char *ident; /* what the value was fetched as (identity.h), owned; NULL: unknown */
    size_t ident_len;
    int status;         /* negative entries */
    char *msg;          /* negative entries */
    int64_t expires;    /* fresh until */
    int64_t keep_until; /* may stay (for stale-if-error) until */
} entry;

/* A persisted entry of another identity, carried through this process untouched (see
 * vp__cache_carry). Never served. */
typedef struct carried {
    struct carried *next;
    size_t prov; /* index, or n_prov: a provider this cache does not have */
    int64_t expires_wall;
    unsigned char *blob; /* secure arena: it holds a value */
    size_t len;
} carried;

struct vp__cache {
    pthread_mutex_t lock;
    entry **buckets;
    size_t n_buckets; /* power of two */
    size_t n_entries, bytes, max_entries, max_bytes;
    entry *head, *tail;
    size_t n_prov;
    uint64_t *prov_entries, *prov_bytes;
    vp__cache_counters *counters;
    carried *carry; /* newest first */
    size_t n_carry, carry_bytes;
};

static uint64_t hash_str(const char *s)
{
    uint64_t h = 1469598103934665603ull; /* FNV-1a; keys are not attacker-chosen in bulk */
    for (; *s; s++) {
        h ^= (unsigned char)*s;
        h *= 1099511628211ull;
    }
    return h;
}

int vp__cache_new(size_t n_prov, size_t max_entries, size_t max_bytes, vp__cache **out)
{
    *out = NULL;
    vp__cache *c = calloc(1, sizeof(*c));
    if (c == NULL)
        return VP_ENOMEM;
    c->n_buckets = 256;
    c->buckets = calloc(c->n_buckets, sizeof(*c->buckets));
    size_t np = n_prov ? n_prov : 1;
    c->prov_entries = calloc(np, sizeof(uint64_t));
    c->prov_bytes = calloc(np, sizeof(uint64_t));
    c->counters = calloc(np, sizeof(*c->counters));
    if (c->buckets == NULL || c->prov_entries == NULL || c->prov_bytes == NULL ||
        c->counters == NULL) {
        free(c->buckets);
        free(c->prov_entries);
        free(c->prov_bytes);
        free(c->counters);
        free(c);
        return VP_ENOMEM;
    }
    c->n_prov = n_prov;
    c->max_entries = max_entries;
    c->max_bytes = max_bytes;
    pthread_mutex_init(&c->lock, NULL);
    *out = c;
    return 0;
}

static void lru_unlink(vp__cache *c, entry *e)
{
    if (e->prev)
        e->prev->next = e->next;
    else
        c->head = e->next;
    if (e->next)
        e->next->prev = e->prev;
    else
        c->tail = e->prev;
    e->prev = e->next = NULL;
}

static void lru_push_front(vp__cache *c, entry *e)
{
    e->prev = NULL;
    e->next = c->head;
    if (c->head)
        c->head->prev = e;
    c->head = e;
    if (c->tail == NULL)
        c->tail = e;
}

static entry **find_slot(vp__cache *c, const char *key, uint64_t h)
{
    entry **pp = &c->buckets[h & (c->n_buckets - 1)];
    for (; *pp; pp = &(*pp)->hnext)
        if ((*pp)->hash == h && strcmp((*pp)->key, key) == 0)
            return pp;
    return pp;
}

/* Unlink e from table and LRU, wipe and free it (lock held). */
static void drop(vp__cache *c, entry **slot)
{
    entry *e = *slot;
    *slot = e->hnext;
    lru_unlink(c, e);
    c->n_entries--;
    c->bytes -= e->len;
    c->prov_entries[e->prov]--;
    c->prov_bytes[e->prov] -= e->len;
    vp__secmem_free(e->value);
    vp__secmem_free(e->ident);
    free(e->msg);
    free(e->key);
    free(e);
}

static void drop_entry(vp__cache *c, entry *e)
{
    entry **slot = find_slot(c, e->key, e->hash);
    drop(c, slot);
}

static void grow(vp__cache *c)
{
    size_t nb = c->n_buckets * 2;
    entry **b = calloc(nb, sizeof(*b));
    if (b == NULL)
        return; /* longer chains, still correct */
    for (size_t i = 0; i < c->n_buckets; i++) {
        entry *e = c->buckets[i];
        while (e) {
            entry *n = e->hnext;
            e->hnext = b[e->hash & (nb - 1)];
            b[e->hash & (nb - 1)] = e;
            e = n;
        }
    }
    free(c->buckets);
    c->buckets = b;
    c->n_buckets = nb;
}

int vp__cache_get(vp__cache *c, const char *key, int64_t now, vp_buf *out, int *status, char *msg,
                  size_t msg_size)
{
    uint64_t h = hash_str(key);
    pthread_mutex_lock(&c->lock);
    entry **slot = find_slot(c, key, h);
    entry *e = *slot;
    int r = VP__CACHE_MISS;
    if (e != NULL && now >= e->expires) {
        if (now >= e->keep_until)
            drop(c, slot);
    } else if (e != NULL) {
        /* A hot secret stays at the head: no write to the shared list for it. */
        if (e != c->head) {
            lru_unlink(c, e);
            lru_push_front(c, e);
        }
        if (e->value != NULL) {
            r = vp__buf_set_secure(out, e->value, e->len) == 0 ? VP__CACHE_HIT : VP__CACHE_MISS;
        } else {
            *status = e->status;
            if (msg_size > 0) {
                strncpy(msg, e->msg ? e->msg : "", msg_size - 1);
                msg[msg_size - 1] = '\0';
            }
            r = VP__CACHE_NEG;
        }
    }
    pthread_mutex_unlock(&c->lock);
    return r;
}

int vp__cache_get_stale(vp__cache *c, const char *key, int64_t now, int64_t max_stale_ms,
                        vp_buf *out)
{
    uint64_t h = hash_str(key);
    int rc = VP_ENOTFOUND;
    pthread_mutex_lock(&c->lock);
    entry *e = *find_slot(c, key, h);
    if (e != NULL && e->value != NULL && now - e->expires <= max_stale_ms)
        rc = vp__buf_set_secure(out, e->value, e->len);
    pthread_mutex_unlock(&c->lock);
    return rc;
}

/* Insert e (not in the table) after removing any entry with its key, then evict (lock held). */
static void insert(vp__cache *c, entry *e)
{
    entry **slot = find_slot(c, e->key, e->hash);
    if (*slot)
        drop(c, slot);
    slot = &c->buckets[e->hash & (c->n_buckets - 1)];
    e->hnext = *slot;
    *slot = e;
    lru_push_front(c, e);
    c->n_entries++;
    c->bytes += e->len;
    c->prov_entries[e->prov]++;
    c->prov_bytes[e->prov] += e->len;
    while (c->tail != NULL && c->tail != e &&
           (c->n_entries > c->max_entries || c->bytes > c->max_bytes))
        drop_entry(c, c->tail);
    if (c->n_entries > c->n_buckets)
        grow(c);
}

static entry *new_entry(const char *key, size_t prov)
{
    entry *e = calloc(1, sizeof(*e));
    if (e == NULL)
        return NULL;
    e->key = strdup(key);
    if (e->key == NULL) {
        free(e);
        return NULL;
    }
    e->hash = hash_str(key);
    e->prov = prov;
    return e;
}

int vp__cache_put(vp__cache *c, const char *key, size_t prov, const char *value, size_t len,
                  int64_t expires, int64_t keep_ms, unsigned char *ident, size_t ident_len)
{
    if (prov >= c->n_prov || c->max_entries == 0 || len > c->max_bytes) {
        vp__secmem_free(ident);
        return 0;
    }
    entry *e = new_entry(key, prov);
    /* No NUL: values are copied out by length, and a 1 KiB secret then fits the 1 KiB class. */
    char *v = e ? vp__secmem_alloc(len) : NULL;
    if (v == NULL) {
        if (e)
            free(e->key);
        free(e);
        vp__secmem_free(ident);
        return VP_ENOMEM;
    }
    memcpy(v, value, len);
    e->value = v;
    e->len = len;
    e->ident = ident;
    e->ident_len = ident_len;
    e->expires = expires;
    e->keep_until = expires + (keep_ms > 0 ? keep_ms : 0);
    pthread_mutex_lock(&c->lock);
    insert(c, e);
    pthread_mutex_unlock(&c->lock);
    return 0;
}

void vp__cache_put_neg(vp__cache *c, const char *key, size_t prov, int status, const char *msg,
                       int64_t expires)
{
    if (prov >= c->n_prov || c->max_entries == 0)
        return;
    entry *e = new_entry(key, prov);
    if (e == NULL)
        return;
    e->status = status;
    e->msg = strndup(msg ? msg : "", NEG_MSG_MAX);
    e->expires = expires;
    e->keep_until = expires;
    pthread_mutex_lock(&c->lock);
    insert(c, e);
    pthread_mutex_unlock(&c->lock);
}

void vp__cache_reset(vp__cache *c, size_t prov)
{
    pthread_mutex_lock(&c->lock);
    for (carried **pp = &c->carry; *pp;) {
        carried *k = *pp;
        if (prov == VP__CACHE_ALL || k->prov == prov) {
            *pp = k->next;
            c->n_carry--;
            c->carry_bytes -= k->len;
            vp__secmem_free(k->blob);
            free(k);
        } else {
            pp = &k->next;
        }
    }
    entry *e = c->head;
    while (e) {
        entry *n = e->next;
        if (prov == VP__CACHE_ALL || e->prov == prov)
            drop_entry(c, e);
        e = n;
    }
    pthread_mutex_unlock(&c->lock);
}

void vp__cache_usage(vp__cache *c, size_t prov, uint64_t *entries, uint64_t *bytes)
{
    pthread_mutex_lock(&c->lock);
    if (prov == VP__CACHE_ALL) {
        *entries = c->n_entries;
        *bytes = c->bytes;
    } else {
        *entries = prov < c->n_prov ? c->prov_entries[prov] : 0;
        *bytes = prov < c->n_prov ? c->prov_bytes[prov] : 0;
    }
    pthread_mutex_unlock(&c->lock);
}

vp__cache_counters *vp__cache_counters_of(vp__cache *c, size_t prov)
{
    return &c->counters[prov < c->n_prov ? prov : 0];
}

void vp__cache_free(vp__cache *c)
{
    if (c == NULL)
        return;
    vp__cache_reset(c, VP__CACHE_ALL);
    pthread_mutex_destroy(&c->lock);
    free(c->buckets);
    free(c->prov_entries);
    free(c->prov_bytes);
    free(c->counters);
    free(c);
}

void vp__cache_foreach_fresh(vp__cache *c, int64_t now, vp__cache_visit_fn fn, void *ud)
{
    pthread_mutex_lock(&c->lock);
    for (entry *e = c->tail; e; e = e->prev)
        if (e->value != NULL && e->expires > now)
            fn(ud, e->key, e->prov, e->value, e->len, e->expires, e->ident, e->ident_len);
    pthread_mutex_unlock(&c->lock);
}

int vp__cache_carry(vp__cache *c, size_t prov, const void *blob, size_t len, int64_t expires_wall)
{
    if (prov > c->n_prov)
        prov = c->n_prov;
    carried *k = calloc(1, sizeof(*k));
    unsigned char *b = k ? vp__secmem_alloc(len ? len : 1) : NULL;
    if (b == NULL) {
        free(k);
        return VP_ENOMEM;
    }
    memcpy(b, blob, len);
    k->prov = prov;
    k->expires_wall = expires_wall;
    k->blob = b;
    k->len = len;
    pthread_mutex_lock(&c->lock);
    int full = c->n_carry >= c->max_entries || len > c->max_bytes - c->carry_bytes ||
               c->carry_bytes > c->max_bytes;
    if (!full) {
        k->next = c->carry;
        c->carry = k;
        c->n_carry++;
        c->carry_bytes += len;
    }
    pthread_mutex_unlock(&c->lock);
    if (full) {
        vp__secmem_free(b);
        free(k);
        return VP_ELIMIT;
    }
    return 0;
}

void vp__cache_foreach_carried(vp__cache *c, int64_t now_wall, vp__cache_carry_fn fn, void *ud)
{
    pthread_mutex_lock(&c->lock);
    for (carried *k = c->carry; k; k = k->next)
        if (k->expires_wall > now_wall)
            fn(ud, k->blob, k->len);
    pthread_mutex_unlock(&c->lock);
}
