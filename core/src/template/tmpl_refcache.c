/*
 * tmpl_refcache - a small process-wide memo of parsed URI-form vault references: literal
 * `{% vault 'scheme://...' %}` arguments are canonicalised at parse time, and an API client
 * parses the same templates on every send, so the same URIs come back again and again. A hit
 * replaces the URI parser (ref.c) with a few string copies.
 *
 * Holds reference text only (URIs name secrets, never contain them; the template's own arena
 * holds the same strings). Direct-mapped, bounded (REFCACHE_SLOTS entries of at most
 * REFCACHE_MAX_SRC bytes of source), one mutex; the entries live until the process ends.
 */
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "tmpl_int.h"

#define REFCACHE_SLOTS   64u
#define REFCACHE_MAX_SRC 512u

/* One block: src, uri, scheme, credential and json_key, each NUL-terminated, back to back. */
typedef struct rc_entry {
    uint64_t hash;
    size_t srclen;
    char *blk;
    uint32_t uri, scheme, cred, key; /* offsets into blk; key 0 = no json_key */
} rc_entry;

static pthread_mutex_t rc_mu = PTHREAD_MUTEX_INITIALIZER;
static rc_entry rc_slots[REFCACHE_SLOTS];

static uint64_t rc_hash(const char *s, size_t n)
{
    uint64_t h = 1469598103934665603ull;
    for (size_t i = 0; i < n; i++) {
        h ^= (unsigned char)s[i];
        h *= 1099511628211ull;
    }
    return h;
}

int vp__refcache_get(const char *src, size_t len, vp__arena *ar, vp_template_ref *ref)
{
    if (len > REFCACHE_MAX_SRC)
        return 0;
    uint64_t h = rc_hash(src, len);
    int hit = 0;
    pthread_mutex_lock(&rc_mu);
    const rc_entry *e = &rc_slots[h % REFCACHE_SLOTS];
    if (e->blk != NULL && e->hash == h && e->srclen == len && memcmp(e->blk, src, len) == 0) {
        ref->id = ref->uri = vp__arena_strndup(ar, e->blk + e->uri, strlen(e->blk + e->uri));
        ref->scheme = vp__arena_strndup(ar, e->blk + e->scheme, strlen(e->blk + e->scheme));
        ref->credential = vp__arena_strndup(ar, e->blk + e->cred, strlen(e->blk + e->cred));
        ref->json_key =
            e->key ? vp__arena_strndup(ar, e->blk + e->key, strlen(e->blk + e->key)) : NULL;
        hit = ref->id != NULL && ref->scheme != NULL && ref->credential != NULL &&
              (e->key == 0 || ref->json_key != NULL);
    }
    pthread_mutex_unlock(&rc_mu);
    return hit;
}

void vp__refcache_put(const char *src, size_t len, const char *uri, const char *scheme,
                      const char *cred, const char *json_key)
{
    if (len > REFCACHE_MAX_SRC)
        return;
    size_t lu = strlen(uri), ls = strlen(scheme), lc = strlen(cred);
    size_t lk = json_key ? strlen(json_key) : 0;
    size_t total = len + 1 + lu + 1 + ls + 1 + lc + 1 + (json_key ? lk + 1 : 0);
    if (total > UINT32_MAX)
        return;
    char *blk = malloc(total);
    if (blk == NULL)
        return; /* a memo: nothing lost */
    rc_entry ne;
    memset(&ne, 0, sizeof(ne));
    ne.hash = rc_hash(src, len);
    ne.srclen = len;
    ne.blk = blk;
    size_t o = 0;
    memcpy(blk, src, len);
    blk[len] = '\0';
    o = len + 1;
    ne.uri = (uint32_t)o;
    memcpy(blk + o, uri, lu + 1);
    o += lu + 1;
    ne.scheme = (uint32_t)o;
    memcpy(blk + o, scheme, ls + 1);
    o += ls + 1;
    ne.cred = (uint32_t)o;
    memcpy(blk + o, cred, lc + 1);
    o += lc + 1;
    if (json_key != NULL) {
        ne.key = (uint32_t)o;
        memcpy(blk + o, json_key, lk + 1);
    }
    pthread_mutex_lock(&rc_mu);
    rc_entry *e = &rc_slots[ne.hash % REFCACHE_SLOTS];
    char *old = e->blk;
    *e = ne;
    pthread_mutex_unlock(&rc_mu);
    free(old);
}
