/*
 * cachefile - the resolver cache's values persisted between processes (a CLI run is short), in
 * a file sealed under a random key kept in the vault (META record "cache-key"): readable only
 * with the vault unlocked, unreadable after `vault reset`, carried across `vault rekey`. The
 * byte layout is in docs/vault-format.md ("Cache file").
 *
 * Entries keep their absolute expiry (wall clock) and the identity they were fetched as
 * (identity.h: captured by the resolver at fetch time and kept with the entry through every run
 * that loads it). A value is loaded only into a context that computes the same identity for the
 * entry's inputs (ctx NULL, for white-box tests: inputs only, no credential); entries of other
 * identities are carried through unchanged (vp__cache_carry); values whose identity is unknown
 * are not saved.
 * prov_names[i] names provider index i of the cache, so a file written by a context with other
 * providers maps entries by name and skips the ones it cannot place.
 */
#ifndef VP_CACHEFILE_H
#define VP_CACHEFILE_H

#include <stddef.h>
#include <stdint.h>

#include "vaultplug/context.h"
#include "vaultplug/vault.h"
#include "cache.h"

#define VP__CACHEFILE_MAGIC  "VPCACHE\0"
#define VP__CACHEFILE_HDR    40
#define VP__CACHEFILE_MAX    (128u * 1024u * 1024u)
#define VP__CACHEFILE_KEYREC "cache-key"

/* Write every fresh value of c to path (mode 0600, temp file + fsync + rename), creating the
 * vault's cache key on first use (one vault commit). now_mono is the cache's clock, now_wall the
 * Unix time, both in ms. *saved (optional) = entries written. 0, VP_EIO, VP_ENOMEM, or a vault
 * status. */
int vp__cachefile_save(vp_ctx *ctx, vp__cache *c, const char *const *prov_names, size_t n_prov,
                       int64_t now_mono, int64_t now_wall, vp_vault *vault, const char *path,
                       size_t *saved, vp_error *err);

/* Put the entries of path still fresh at now_wall into c. A missing file, or a vault without
 * a cache key, loads nothing and returns 0. VP_EPROTO: damaged, tampered with, or sealed for
 * another vault (the caller should delete it). *loaded (optional) = entries put. */
int vp__cachefile_load(vp_ctx *ctx, vp__cache *c, const char *const *prov_names, size_t n_prov,
                       int64_t now_mono, int64_t now_wall, vp_vault *vault, const char *path,
                       size_t *loaded, vp_error *err);

#endif
