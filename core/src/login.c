/* login: interactive sign-in through a provider's login() entry point (vaultplug/login.h).
 * Placeholder until the Azure provider work implements the flow. */
#include <stdlib.h>
#include <string.h>

#include "errint.h"
#include "vaultplug/login.h"

int vp_login(vp_ctx *ctx, const char *provider, const char *name, const vp_field *options,
             size_t n_options, uint32_t timeout_ms, vp_login_result *result, vp_error *err)
{
    (void)ctx, (void)name, (void)options, (void)n_options, (void)timeout_ms;
    if (result != NULL)
        memset(result, 0, sizeof(*result));
    return vp__err_set(err, NULL, VP_ENOTSUP, "sign-in for provider '%s' is not implemented yet",
                       provider);
}

void vp_login_result_free(vp_login_result *result)
{
    if (result == NULL)
        return;
    free(result->provider);
    free(result->name);
    free(result->type);
    free(result->account);
    memset(result, 0, sizeof(*result));
}
