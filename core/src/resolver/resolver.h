/*
 * resolver - the context's cache + fetch scheduler behind vp_resolve and rendering
 * (docs/design.md, "Life of a reference"): cache lookups, singleflight of concurrent misses, a
 * bounded set of fetches (per context and per provider) run by the calling thread and the
 * context's worker threads (started on first need, kept until vp_ctx_free), retries with capped
 * exponential backoff and full jitter, stale-if-error and negative caching, and fetch_batch
 * grouping for VP_CAP_BATCH providers.
 *
 * fork(): a resolver belongs to the process that created its context. In a child, vp_resolve,
 * renders and the vp_cache_* calls on an inherited context fail with VP_EINVAL at once; the child
 * creates its own context.
 */
#ifndef VP_RESOLVER_H
#define VP_RESOLVER_H

#include "vaultplug/context.h"
#include "vaultplug/template.h"

typedef struct vp__resolver vp__resolver;

/* Create ctx's resolver from opts (ctx->providers must be loaded). 0, VP_EINVAL (bad option,
 * message in err), VP_ENOMEM. */
int vp__resolver_new(vp_ctx *ctx, const vp_options *opts, vp__resolver **out, vp_error *err);
/* NULL-safe; wipes the cache. No call may be running. */
void vp__resolver_free(vp__resolver *r);

/* The default resolver of vp_render / vp_template_render with a context: resolves every ref
 * (URI and three-argument forms) through the cache, misses in parallel. Always returns 0; the
 * per-item results carry the statuses. */
int vp__resolver_template_batch(vp_ctx *ctx, const vp_template_ref *refs, size_t n,
                                vp_ref_result *results);

/* The context's cache (cachefile.c persists it). */
struct vp__cache *vp__resolver_cache(vp__resolver *r);

#endif
