/*
 * credtypes - vp_provider_cred_types (vaultplug/credtypes.h): hands the provider's own table
 * out, which is immutable and lives as long as the module stays loaded (until vp_ctx_free).
 */
#include <stddef.h>

#include "vaultplug/credtypes.h"
#include "ctx.h"

int vp_provider_cred_types(const vp_ctx *ctx, const char *provider, const vp_cred_type **out)
{
    if (out != NULL)
        *out = NULL;
    if (ctx == NULL || provider == NULL || out == NULL)
        return VP_EINVAL;
    const vp__provider *p = vp__ctx_find_provider(ctx, provider);
    if (p == NULL)
        return VP_ENOTFOUND;
    if (p->info.state != VP_PROVIDER_LOADED || p->table == NULL)
        return VP_EUNAVAIL;
    *out = p->table->cred_types;
    return 0;
}
