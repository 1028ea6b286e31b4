/*
 * cache - the resolver's TTL cache: key -> raw secret value (secure arena) or a remembered
 * failure, LRU-bounded by entry count and bytes, with per-provider counters. Thread-safe (one
 * mutex). Times are milliseconds on the context's monotonic clock, passed in by the caller.
 */
#ifndef VP_CACHE_H
#define VP_CACHE_H

#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>

#include "vaultplug/common.h"

typedef struct vp__cache vp__cache;

/* Cumulative counters of one provider (see vp_cache_stats). */
typedef struct vp__cache_counters {
    atomic_uint_fast64_t hits, misses, fetches, errors, retries, throttles, stale;
} vp__cache_counters;

#define VP__CACHE_MISS 0
#define VP__CACHE_HIT  1 /* value copied out */
#define VP__CACHE_NEG  2 /* remembered failure: status and message copied out */

#define VP__CACHE_ALL ((size_t)-1)

/* n_prov providers (indices 0..n_prov-1). 0 or VP_ENOMEM. */
int vp__cache_new(size_t n_prov, size_t max_entries, size_t max_bytes, vp__cache **out);
/* Wipes every value. NULL-safe. */
void vp__cache_free(vp__cache *c);

/* Look key up at time now. HIT: the value is copied into out (secure buffer). NEG: *status and
 * msg[0..msg_size) get the failure. Expired entries are a MISS (and are kept for
 * vp__cache_get_stale until they are older than keep_stale_ms past expiry). */
int vp__cache_get(vp__cache *c, const char *key, int64_t now, vp_buf *out, int *status, char *msg,
                  size_t msg_size);
/* Expired value of key no more than max_stale_ms past its expiry: 0 (copied into out) or
 * VP_ENOTFOUND. */
int vp__cache_get_stale(vp__cache *c, const char *key, int64_t now, int64_t max_stale_ms,
                        vp_buf *out);
/* Store a value for key (replacing any entry), fresh until expires. keep_ms: how long past
 * expiry the entry may stay for stale-if-error (0 = drop at expiry). ident: the identity the
 * value was fetched as (identity.h; NULL = unknown, never persisted); the cache takes ownership
 * in every case. Evicts the least recently used entries to stay within the bounds; a value
 * larger than the byte bound is not stored. 0 or VP_ENOMEM (nothing stored). */
int vp__cache_put(vp__cache *c, const char *key, size_t prov, const char *value, size_t len,
                  int64_t expires, int64_t keep_ms, unsigned char *ident, size_t ident_len);
/* Remember a failure for key until expires (replaces any entry). */
void vp__cache_put_neg(vp__cache *c, const char *key, size_t prov, int status, const char *msg,
                       int64_t expires);
/* Drop and wipe the entries of provider prov, or all with VP__CACHE_ALL. */
void vp__cache_reset(vp__cache *c, size_t prov);
/* Current entries and value bytes of prov (or all). */
void vp__cache_usage(vp__cache *c, size_t prov, uint64_t *entries, uint64_t *bytes);
/* Counters of prov (0 <= prov < n_prov). */
vp__cache_counters *vp__cache_counters_of(vp__cache *c, size_t prov);

/* Persistence (cachefile.c): call fn for every VALUE entry (remembered failures are skipped)
 * still fresh at now, least recently used first, so re-inserting them in that order restores
 * the LRU order. fn runs under the cache's lock and must not call into c; value points into
 * secure memory and must not be kept. */
typedef void (*vp__cache_visit_fn)(void *ud, const char *key, size_t prov, const char *value,
                                   size_t len, int64_t expires, const unsigned char *ident,
                                   size_t ident_len);
void vp__cache_foreach_fresh(vp__cache *c, int64_t now, vp__cache_visit_fn fn, void *ud);

/* Entries of the cache file that belong to another identity (another credential, endpoint or
 * token than this process has) are carried through unchanged, so switching between identities
 * does not throw the other one's entries away: blob is the entry as the file stores it (copied
 * into secure memory), prov its provider index (n_prov or more: a provider this cache does not
 * have). They are never served, are dropped by vp__cache_reset of their provider (or of all;
 * carried entries of unknown providers only by VP__CACHE_ALL), and count against the entry
 * and byte bounds separately. 0, VP_ENOMEM, or VP_ELIMIT (bounds reached: not kept). */
int vp__cache_carry(vp__cache *c, size_t prov, const void *blob, size_t len, int64_t expires_wall);
/* Call fn for every carried entry still fresh at now_wall (Unix ms), under the cache's lock. */
typedef void (*vp__cache_carry_fn)(void *ud, const unsigned char *blob, size_t len);
void vp__cache_foreach_carried(vp__cache *c, int64_t now_wall, vp__cache_carry_fn fn, void *ud);

#endif
