/*
 * registry - the context's providers as the loader left them: lookup by name and by scheme,
 * and the error for a scheme nobody serves. The array and each provider's `info` are read-only
 * after vp_ctx_new, so no lock; the run-time state is provinit.c's.
 */
#include <stdio.h>
#include <string.h>

#include "vaultplug/context.h"
#include "ctx.h"
#include "errint.h"
#include "loader.h"

size_t vp_providers_count(const vp_ctx *ctx)
{
    return ctx->n_providers;
}

/* vp_providers_get is in provinit.c: it adds the run-time state. */

const vp__provider *vp__ctx_find_provider(const vp_ctx *ctx, const char *name)
{
    for (size_t i = 0; i < ctx->n_providers; i++)
        if (strcmp(ctx->providers[i].name, name) == 0)
            return &ctx->providers[i];
    return NULL;
}

const vp__provider *vp__ctx_find_scheme(const vp_ctx *ctx, const char *scheme)
{
    for (size_t i = 0; i < ctx->n_providers; i++)
        if (vp__provider_has_scheme(&ctx->providers[i], scheme))
            return &ctx->providers[i];
    /* A failed provider of that name first (its reason is the one that matters), then one
     * that declared the scheme as an alias. */
    for (size_t i = 0; i < ctx->n_providers; i++)
        if (ctx->providers[i].info.state == VP_PROVIDER_FAILED &&
            strcmp(ctx->providers[i].name, scheme) == 0)
            return &ctx->providers[i];
    for (size_t i = 0; i < ctx->n_providers; i++) {
        const vp__provider *p = &ctx->providers[i];
        if (p->info.state != VP_PROVIDER_FAILED)
            continue;
        if (p->schemes_ok && p->table != NULL)
            for (size_t s = 0; p->table->schemes[s]; s++)
                if (strcmp(p->table->schemes[s], scheme) == 0)
                    return p;
    }
    return NULL;
}

int vp__ctx_scheme_error(const vp_ctx *ctx, const char *scheme, const vp__provider *p,
                         vp_error *err)
{
    if (p != NULL && p->info.state == VP_PROVIDER_FAILED)
        return vp__err_set(err, ctx->log, VP_EUNAVAIL, "provider '%s' is unavailable: %s", p->name,
                           p->reason ? p->reason : "failed to load");
    char known[256] = "";
    size_t used = 0;
    for (size_t i = 0; i < ctx->n_providers; i++) {
        const vp__provider *q = &ctx->providers[i];
        if (q->info.state != VP_PROVIDER_LOADED)
            continue;
        for (size_t s = 0; q->table->schemes[s]; s++) {
            int w = snprintf(known + used, sizeof(known) - used, "%s%s", used ? ", " : "",
                             q->table->schemes[s]);
            if (w < 0 || (size_t)w >= sizeof(known) - used) {
                used = sizeof(known) - 1;
                break;
            }
            used += (size_t)w;
        }
    }
    const vp__provider *dis = vp__ctx_find_provider(ctx, scheme);
    return vp__err_set(err, ctx->log, VP_ENOTFOUND, "no provider for scheme '%.64s' (known: %s)%s",
                       scheme, used ? known : "none",
                       dis && dis->info.state == VP_PROVIDER_DISABLED
                           ? (dis->reason && dis->reason[0]
                                  ? "; a provider of that name is installed but not enabled by "
                                    "the administrator's configuration"
                                  : "; a provider of that name is installed but not enabled")
                           : "");
}

int vp_provider_check(vp_ctx *ctx, const char *scheme, vp_error *err)
{
    vp_error_clear(err);
    const vp__provider *p = vp__ctx_find_scheme(ctx, scheme);
    if (p != NULL && p->info.state == VP_PROVIDER_LOADED)
        return vp__provider_ready(ctx, p, err); /* initialises it if needed */
    return vp__ctx_scheme_error(ctx, scheme, p, err);
}
