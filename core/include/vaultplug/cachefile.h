/*
 * vaultplug/cachefile.h - keep the context's cached external secrets between processes, in a
 * file sealed under a key kept in the vault (vault-format.md, "Cache file", installed in
 * share/doc/libvaultplug-dev).
 */
#ifndef VAULTPLUG_CACHEFILE_H
#define VAULTPLUG_CACHEFILE_H

#include "vaultplug/common.h"
#include "vaultplug/context.h"
#include "vaultplug/vault.h"

#ifdef __cplusplus
extern "C" {
#endif

/* Write the values cached in ctx that are still fresh to path (0600, atomic), sealed for vault
 * (its cache key is created on first use: one vault commit). *saved optional. */
VP_EXPORT VP_NODISCARD int vp_cache_save(vp_ctx *ctx, vp_vault *vault, const char *path,
                                         size_t *saved, vp_error *err);
/* Put the still-fresh entries of path into ctx's cache. A missing file loads nothing (0).
 * VP_EPROTO: damaged, tampered or another vault's file (delete it). *loaded optional. */
VP_EXPORT VP_NODISCARD int vp_cache_load(vp_ctx *ctx, vp_vault *vault, const char *path,
                                         size_t *loaded, vp_error *err);

#ifdef __cplusplus
}
#endif
#endif
