/*
 * creds - vp_cred_set / vp_cred_unset (vaultplug/fetch.h): the credential registry of the plugin
 * layer (plugin/fetch.c) plus the one thing it cannot do from below: empty the provider's cache,
 * so that values fetched as the old identity are never served as the new one.
 */
#include "vaultplug/fetch.h"
#include "vaultplug/resolve.h"
#include "ctx.h"

int vp_cred_set(vp_ctx *ctx, const char *provider, const vp_cred_spec *cred, vp_error *err)
{
    int replaced = 0;
    int rc = vp__cred_put(ctx, provider, cred, &replaced, err);
    if (rc == 0 && replaced)
        (void)vp_cache_reset(ctx, provider);
    return rc;
}

int vp_cred_unset(vp_ctx *ctx, const char *provider, const char *name, vp_error *err)
{
    int rc = vp__cred_remove(ctx, provider, name, err);
    if (rc == 0)
        (void)vp_cache_reset(ctx, provider);
    return rc;
}
