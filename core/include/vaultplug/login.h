/*
 * vaultplug/login.h - interactive sign-in (browser or device code) through a provider's login()
 * entry point (VP_CAP_INTERACTIVE_LOGIN), with the result saved as a named credential.
 *
 * The provider drives the flow; the host supplies the user interface through the context's
 * open_url and notify hooks (vp_options). The credential it produces (type + fields, e.g. an
 * account, an access token, its expiry and a refresh token) is registered in ctx under `name`
 * and, when a vault is attached (vp_ctx_use_vault), sealed into its credential store in one
 * commit. Later refreshes the provider makes through cred_update() are written back the same way.
 */
#ifndef VAULTPLUG_LOGIN_H
#define VAULTPLUG_LOGIN_H

#include "vaultplug/common.h"
#include "vaultplug/context.h"
#include "vaultplug/fetch.h"

#ifdef __cplusplus
extern "C" {
#endif

/* What vp_login() produced: names only, never secret values. Strings are malloc'd; free with
 * vp_login_result_free. */
typedef struct vp_login_result {
    char *provider; /* "azure" */
    char *name;     /* the credential name it was stored under */
    char *type;     /* the credential type the provider produced ("user", ...) */
    char *account;  /* value of the non-secret field "account" or "username" when present */
    int stored;     /* 1 if it was written to the attached vault's credential store */
} vp_login_result;

/*
 * Run provider's interactive sign-in. options are vp_field pairs, like credential fields, and
 * provider-specific (for azure: "tenant", "client_id", "device_code" = "1", "authority");
 * n_options may be 0. name is the credential name to save as ([A-Za-z0-9_.-]{1,64}).
 * timeout_ms bounds the whole flow (0 = 10 minutes): the user has that long to finish in the
 * browser.
 *
 * Returns 0; VP_EINVAL (bad arguments); VP_ENOTFOUND (no such provider); VP_ENOTSUP (provider
 * has no login, or no way to show the user a URL); VP_EUNAVAIL (provider failed to load);
 * VP_EAUTH (the user declined, the state did not match, the code expired); VP_ETIMEDOUT;
 * VP_ECANCELED; or a provider status. On failure nothing is stored and err says why.
 * result may be NULL.
 */
VP_EXPORT VP_NODISCARD int vp_login(vp_ctx *ctx, const char *provider, const char *name,
                                    const vp_field *options, size_t n_options, uint32_t timeout_ms,
                                    vp_login_result *result, vp_error *err) VP_NONNULL(1, 2, 3);

/* Free the strings of a result (the struct itself is the caller's). NULL-safe. */
VP_EXPORT void vp_login_result_free(vp_login_result *result);

#ifdef __cplusplus
}
#endif
#endif /* VAULTPLUG_LOGIN_H */
