/*
 * vaultplug/resolve.h - resolving references through the context's cache (the cache rules:
 * "cache" in guide.md, installed in share/doc/libvaultplug-dev).
 *
 * vp_resolve() and rendering with a context go through the resolver: a TTL cache keyed by
 * provider + credential + canonical reference (the #json-key is applied after the cache, so one
 * entry serves every key of a secret), singleflight for concurrent misses, a bounded pool of
 * fetches (per context and per provider), retries with capped exponential backoff and full
 * jitter for transient failures (honouring Retry-After, never past the deadline), optional
 * stale-if-error and a short negative cache. Misses of a provider with VP_CAP_BATCH are grouped
 * per credential into one fetch_batch call. Settings are in vp_options (cache_*, retry_*...).
 */
#ifndef VAULTPLUG_RESOLVE_H
#define VAULTPLUG_RESOLVE_H

#include "vaultplug/common.h"
#include "vaultplug/context.h"

#ifdef __cplusplus
extern "C" {
#endif

#define VP_CACHE_TTL_OFF   (-1)
#define VP_CACHE_TTL_MAX_S (720 * 60)

/*
 * Value of the reference URI `scheme://[credential@]path[?params][#json-key]`, from the cache or
 * fetched (with retries). `timeout_ms` bounds the whole call, retries included (0 = the
 * context's default). On success `out` holds the value in secure memory (vp_buf_free).
 * Errors: as vp_fetch.
 */
VP_EXPORT VP_NODISCARD int vp_resolve(vp_ctx *ctx, const char *uri, uint32_t timeout_ms,
                                      vp_buf *out, vp_error *err) VP_NONNULL(1, 2, 4);

/* Drop (and wipe) the cached values and remembered failures of one provider (by name), or of
 * all providers when provider is NULL. Returns 0 or VP_ENOTFOUND (unknown provider). */
VP_EXPORT int vp_cache_reset(vp_ctx *ctx, const char *provider) VP_NONNULL(1);

/* Cache TTL in seconds for one provider (NULL = the global default): 0 disables caching, at
 * most VP_CACHE_TTL_MAX_S; -1 for a provider returns it to the global default. Applies to
 * values fetched from now on. A provider's own TTL/expiry wins when shorter. 0, VP_EINVAL,
 * VP_ENOTFOUND. */
VP_EXPORT int vp_cache_set_ttl(vp_ctx *ctx, const char *provider, int32_t seconds) VP_NONNULL(1);

/* Counters of one provider (cumulative since vp_ctx_new; entries/bytes are current). */
typedef struct vp_cache_stats {
    uint64_t hits;      /* served from the cache (values and remembered failures) or by joining
                           another caller's fetch of the same secret (singleflight) */
    uint64_t misses;    /* lookups that started a fetch */
    uint64_t fetches;   /* provider calls made (attempts, retries included) */
    uint64_t errors;    /* resolutions that ended in an error */
    uint64_t retries;   /* attempts after the first */
    uint64_t throttles; /* attempts that got VP_ERATELIMIT */
    uint64_t stale;     /* expired values served because of stale-if-error */
    uint64_t entries;   /* cached entries now */
    uint64_t bytes;     /* bytes of cached values now */
} vp_cache_stats;

/* Fill *out for provider (by name), or the sum over all providers when NULL. 0 or
 * VP_ENOTFOUND. */
VP_EXPORT int vp_cache_stats_get(vp_ctx *ctx, const char *provider, vp_cache_stats *out)
    VP_NONNULL(1, 3);

#ifdef __cplusplus
}
#endif
#endif /* VAULTPLUG_RESOLVE_H */
