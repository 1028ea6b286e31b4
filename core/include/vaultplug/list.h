/*
 * vaultplug/list.h - listing the names of the secrets a provider holds under a prefix.
 *
 * Only providers that declare VP_CAP_LIST can list (`vaultplug providers` shows the capability).
 * A list returns NAMES, never values: each name is what goes after `scheme://[credential@]` in a
 * reference, so it can be fetched as it is. What a prefix means is the store's business:
 *   - flat stores (AWS Secrets Manager, GCP Secret Manager, Azure Key Vault, HCP Vault Secrets)
 *     return every name that starts with the prefix;
 *   - hierarchical stores (HashiCorp Vault KV) list ONE level like `vault kv list`: the entries
 *     directly under the prefix, with a trailing '/' on folders.
 */
#ifndef VAULTPLUG_LIST_H
#define VAULTPLUG_LIST_H

#include "vaultplug/common.h"
#include "vaultplug/context.h"

#ifdef __cplusplus
extern "C" {
#endif

/*
 * List the names under the prefix URI `scheme://[credential@]PREFIX` (the prefix may be empty:
 * `aws://` lists everything the credential may see; it is percent-decoded like a reference's
 * path, and takes no ?params or #key). Paging is the provider's job: the result is complete.
 * `timeout_ms` bounds the whole call, every page included (0 = the context's default).
 *
 * On success *names is a sorted array of *n distinct NUL-terminated names (no duplicates), to be
 * released with vp_list_free; *names is NULL when *n is 0. Nothing is cached.
 * Errors: VP_EINVAL (malformed URI), VP_ENOTFOUND (no provider serves the scheme, unknown
 * credential, or the store says the prefix/mount does not exist), VP_ENOTSUP (the provider does
 * not declare VP_CAP_LIST), VP_EUNAVAIL (provider failed to load), VP_EAUTH, VP_EPERM,
 * VP_ETIMEDOUT and whatever else the provider reports.
 */
VP_EXPORT VP_NODISCARD int vp_list(vp_ctx *ctx, const char *uri, uint32_t timeout_ms, char ***names,
                                   size_t *n, vp_error *err) VP_NONNULL(1, 2, 4, 5);

/* Release a vp_list result. NULL-safe. */
VP_EXPORT void vp_list_free(char **names, size_t n);

#ifdef __cplusplus
}
#endif
#endif /* VAULTPLUG_LIST_H */
