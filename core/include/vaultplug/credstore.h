/*
 * vaultplug/credstore.h - named provider credentials kept in the vault ("Credentials" in
 * guide.md and "Stored credentials" in vault-format.md, installed in share/doc/libvaultplug-dev).
 *
 * A stored credential is (provider, name, type, fields), sealed in the vault file's `credential`
 * section with the same protection as secrets. Each call is one locked commit of the vault (see
 * vaultplug/vault.h). A credential that is absent or has type "" means "use the provider's
 * default chain" and is valid. Messages never contain field values.
 */
#ifndef VAULTPLUG_CREDSTORE_H
#define VAULTPLUG_CREDSTORE_H

#include "vaultplug/common.h"
#include "vaultplug/context.h"
#include "vaultplug/fetch.h"
#include "vaultplug/vault.h"

#ifdef __cplusplus
extern "C" {
#endif

#define VP_CRED_FIELDS_MAX    32
#define VP_CRED_FIELD_VAL_MAX (64u * 1024u)
/* What vp_credstore_list() shows instead of a secret field's value. */
#define VP_CRED_MASK "********"

/* A stored credential as handed out: a vp_cred_spec (fetch.h) plus its provider. Strings are
 * malloc'd; field values are in secure memory for vp_credstore_get and masked copies for
 * vp_credstore_list. Free with vp_cred_entries_free. */
typedef struct vp_cred_entry {
    char *provider;
    char *name;
    char *type;
    vp_field *fields;
    size_t n_fields;
} vp_cred_entry;

/* The entry as a vp_cred_spec, for vp_cred_set, vp_credstore_put or vp_credstore_add (with
 * entry->provider). A view: it points into the entry, which must outlive it. Since 1.1. */
static inline vp_cred_spec vp_cred_entry_spec(const vp_cred_entry *entry)
{
    vp_cred_spec spec = {entry->name, entry->type, entry->fields, entry->n_fields};
    return spec;
}

/* Store (create or replace) cred for provider, without validating it. provider must match
 * [a-z0-9_]{1,63}, cred->name [A-Za-z0-9_.-]{1,64}, field keys [a-z0-9_]{1,64}. */
VP_EXPORT VP_NODISCARD int vp_credstore_put(vp_vault *vault, const char *provider,
                                            const vp_cred_spec *cred, vp_error *err);

/* Validate cred through ctx (vp_cred_set + the provider's validate()), then store it. With ctx
 * NULL this is vp_credstore_put. On a failed validation nothing is stored, the provider's status
 * (VP_EAUTH, VP_EPERM, ...) is returned, and the credential is removed from ctx again. */
VP_EXPORT VP_NODISCARD int vp_credstore_add(vp_vault *vault, vp_ctx *ctx, const char *provider,
                                            const vp_cred_spec *cred, uint32_t timeout_ms,
                                            vp_error *err);

/* One credential with its real field values (secure memory). VP_ENOTFOUND if none. */
VP_EXPORT VP_NODISCARD int vp_credstore_get(vp_vault *vault, const char *provider, const char *name,
                                            vp_cred_entry **out, vp_error *err);

/* Every stored credential, sorted by provider then name, with secret field values replaced by
 * VP_CRED_MASK. Which fields are secret comes from the providers loaded in ctx
 * (VP_FIELD_SECRET); with ctx NULL, or for an unknown provider/type/field, every value is
 * masked. *out is NULL when there are none. */
VP_EXPORT VP_NODISCARD int vp_credstore_list(vp_vault *vault, vp_ctx *ctx, vp_cred_entry **out,
                                             size_t *count, vp_error *err);

/* Remove one credential. VP_ENOTFOUND if none (nothing is written). */
VP_EXPORT VP_NODISCARD int vp_credstore_remove(vp_vault *vault, const char *provider,
                                               const char *name, vp_error *err);

/* "Sign out": remove every stored credential in one commit; secrets and the vault key stay. */
VP_EXPORT VP_NODISCARD int vp_credstore_clear(vp_vault *vault, size_t *removed, vp_error *err);

/* Hand every stored credential to ctx with vp_cred_set. Credentials of providers ctx does not
 * know are skipped (counted in *skipped). */
VP_EXPORT VP_NODISCARD int vp_credstore_load(vp_vault *vault, vp_ctx *ctx, size_t *loaded,
                                             size_t *skipped, vp_error *err);

/*
 * Attach an opened vault to ctx (vault NULL: detach). While attached:
 *   - every credential of its store is registered in ctx (as with vp_cred_set), so
 *     `echo://mycred@path` uses the stored credential `mycred`; credentials of providers ctx does
 *     not know, or that their provider refuses (unknown type, missing required field), are
 *     skipped and counted in *skipped (a warning names each refused one);
 *   - when a provider calls the host's cred_update() (e.g. a rotated refresh token) on one of
 *     those credentials, the field is changed in ctx AND written back to the store in one
 *     locked commit; for any other credential cred_update() stays VP_ENOTSUP;
 *   - vp_ctx_vault_source() reads the vault's secrets for `{{ vault.NAME }}`.
 * Attaching again (the same or another vault) first detaches: the credentials that came from the
 * previous store are removed from ctx (credentials set with vp_cred_set stay), which also makes
 * re-attaching the way to pick up changes made to the store. The caller keeps ownership of the
 * handle and must keep it open until it is detached or ctx is freed.
 *
 * Threads: a vp_vault is not thread-safe; the context serialises its own uses of the attached
 * handle with a mutex, so ctx may be used from any number of threads. The caller must not use
 * the handle itself while other threads use ctx (detach, use it, attach again).
 *
 * On failure nothing is attached and no stored credential is left in ctx. Returns 0, VP_EINVAL,
 * VP_ENOMEM, or VP_EPROTO (a stored credential record is malformed).
 */
VP_EXPORT VP_NODISCARD int vp_ctx_use_vault(vp_ctx *ctx, vp_vault *vault, size_t *loaded,
                                            size_t *skipped, vp_error *err);

/* A template-engine source (vaultplug/template.h) for `{{ vault.NAME }}` that reads the vault
 * attached to ctx at lookup time (under the context's vault mutex). With no vault attached every
 * name is VP_ENOTFOUND (undefined). Valid until vp_ctx_free. 0, or VP_EINVAL. */
VP_EXPORT VP_NODISCARD int vp_ctx_vault_source(vp_ctx *ctx, vp_vault_source *out);

/* Free what vp_credstore_get (n = 1) or vp_credstore_list returned; wipes field values. */
VP_EXPORT void vp_cred_entries_free(vp_cred_entry *entries, size_t n);

#ifdef __cplusplus
}
#endif
#endif /* VAULTPLUG_CREDSTORE_H */
