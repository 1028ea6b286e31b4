/*
 * credstore_int - the wiring between a context and the local vault / credential store
 * (credstore.c), and the read-modify-write record primitive it needs from vault.c.
 *
 * A context may have one opened vault attached (vp_ctx_use_vault). ctx->vault_lock, a recursive
 * mutex, serialises every use the context makes of that handle (a vp_vault is not thread-safe):
 * `{{ vault.NAME }}` lookups, the credentials loaded at attach time, and cred_update() write-backs.
 * Lock order: ctx->create_lock, then ctx->vault_lock, then ctx->lock.
 */
#ifndef VP_CREDSTORE_INT_H
#define VP_CREDSTORE_INT_H

#include <stddef.h>
#include <stdint.h>

#include "vaultplug/error.h"
#include "vaultplug/provider.h"
#include "vault_int.h"

struct vp_ctx;
struct vp_vault;

/* Memory cred_update() replaced in a context credential while a provider may still hold a
 * borrowed view of it (docs/plugins.md: a vp_cred is borrowed for the whole call, and a provider
 * may call cred_update from configure and keep reading its view). Freed with the context. */
typedef struct vp__retired {
    struct vp__retired *next;
    void *p;
    int secure; /* vp__secmem_free, else free */
} vp__retired;

/* context.c: set up (vp_ctx_new, before anything can fail) and release (vp_ctx_free, after the
 * credentials are gone) the vault wiring of ctx. */
void vp__ctx_vault_init(struct vp_ctx *ctx);
void vp__ctx_vault_fini(struct vp_ctx *ctx);

/* host.c: the host table's cred_update(). Updates field `key` of the credential the call's
 * instance was configured with (call->cred_slot) in the context and, in the same step, in the
 * credential store it was loaded from (one locked vault commit). VP_ENOTSUP when the credential
 * did not come from the attached vault's store (vp_cred_set, default chain, no vault attached). */
int vp__credstore_cred_update(vp_call *call, const char *key, const char *value, size_t len);

/* vault/vault_int.h: vp__vault_rec_update, the read-modify-write record primitive. */

/* login.c: register a credential produced by a provider's login() in ctx under cred->name and,
 * when a vault is attached, seal it in its credential store and flag it as coming from the store,
 * all under vault_lock, so that later cred_update() calls persist. If the store cannot be written
 * the context registration is undone. *stored = 1 when it was written to the store. */
struct vp_cred_spec;
int vp__credstore_login_save(struct vp_ctx *ctx, const char *provider,
                             const struct vp_cred_spec *cred, int *stored, vp_error *err);

#endif
