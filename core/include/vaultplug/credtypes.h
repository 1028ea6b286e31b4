/*
 * vaultplug/credtypes.h - the credential types a loaded provider accepts, for hosts that build
 * prompts, masking and help from them (which fields are secret, which are required).
 */
#ifndef VAULTPLUG_CREDTYPES_H
#define VAULTPLUG_CREDTYPES_H

#include "vaultplug/common.h"
#include "vaultplug/context.h"
#include "vaultplug/provider.h"

#ifdef __cplusplus
extern "C" {
#endif

/*
 * The credential types of a LOADED provider (by name): its vp_cred_type array, terminated by an
 * entry with name == NULL (see vaultplug/provider.h: VP_FIELD_SECRET, VP_FIELD_REQUIRED). Valid
 * until vp_ctx_free. Returns 0 (*out may be NULL: the provider declares no types besides the
 * default chain), VP_EINVAL, VP_ENOTFOUND (no such provider) or VP_EUNAVAIL (it failed to load
 * or is disabled).
 */
VP_EXPORT VP_NODISCARD int vp_provider_cred_types(const vp_ctx *ctx, const char *provider,
                                                  const vp_cred_type **out);

#ifdef __cplusplus
}
#endif
#endif /* VAULTPLUG_CREDTYPES_H */
