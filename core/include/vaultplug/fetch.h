/*
 * vaultplug/fetch.h - fetching one secret straight from its provider.
 *
 * These are the low-level entry points: no cache, no retries. The resolver (vp_resolve, and
 * rendering) builds on them. They are what the SDK testkit and `vaultplug get` use.
 */
#ifndef VAULTPLUG_FETCH_H
#define VAULTPLUG_FETCH_H

#include "vaultplug/common.h"
#include "vaultplug/context.h"

#ifdef __cplusplus
extern "C" {
#endif

/*
 * Credentials: one concept, (name, type, fields), and one shape for applications,
 * vp_cred_spec, whose fields are vp_field key/value pairs of C strings. The other shapes are
 * the same credential seen from elsewhere:
 *   vp_cred_entry (credstore.h)  a vp_cred_spec as the credential store hands it out: plus
 *                                the provider it belongs to, and owned memory.
 *                                vp_cred_entry_spec() views it as a vp_cred_spec.
 *   vp_cred, vp_kv (provider.h)  the provider's view, which the library builds from a
 *                                vp_cred_spec: an ABI header, and each value's length.
 * Login options (vp_login) are vp_field pairs too. Applications never build a vp_cred or a
 * vp_kv. See docs/design.md, "Credentials".
 */

/* One credential field (or login option). Values of secret fields are copied into secure
 * memory by the library. */
typedef struct vp_field {
    const char *key;
    const char *value;
} vp_field;

/* A named credential for one provider (see the provider's credential types). */
typedef struct vp_cred_spec {
    const char *name; /* "prod"; must match [A-Za-z0-9_.-]{1,64}. vp_cred_set also takes "":
                         the credential of references that name none (default chain) */
    const char *type; /* provider credential type, "" = default chain */
    const vp_field *fields;
    size_t n_fields;
} vp_cred_spec;

/*
 * Make a credential known to the context (in memory; the credential store persists them).
 * Replaces a credential of the same provider and name and drops the provider instance built
 * from the old one, and the provider's cached values (fetched as the old identity). The
 * provider's configure() runs on first use, not here.
 * Returns 0, VP_EINVAL (bad name, unknown provider), VP_ENOMEM.
 */
VP_EXPORT VP_NODISCARD int vp_cred_set(vp_ctx *ctx, const char *provider, const vp_cred_spec *cred,
                                       vp_error *err) VP_NONNULL(1, 2, 3);

/* Forget a credential set with vp_cred_set (its instance and the provider's cached values).
 * VP_ENOTFOUND if unknown. */
VP_EXPORT int vp_cred_unset(vp_ctx *ctx, const char *provider, const char *name, vp_error *err)
    VP_NONNULL(1, 2, 3);

/* Metadata the provider reported with a value (filled by vp_fetch when meta != NULL). */
typedef struct vp_fetch_meta {
    uint32_t ttl_s;         /* provider's TTL hint; UINT32_MAX = none */
    int64_t expiry_unix_ms; /* 0 = none */
    char version[128];      /* "" = none */
} vp_fetch_meta;

/*
 * Fetch the secret named by a reference URI `scheme://[credential@]path[?params][#json-key]`
 * from its provider, bypassing any cache. With a #json-key the value must be a JSON object and
 * the member's value is returned (strings raw, other JSON values serialised).
 * `timeout_ms` bounds the whole call (0 = the context's default).
 * On success `out` holds the value in secure memory (wipe with vp_buf_free).
 * Errors: VP_EINVAL (malformed URI), VP_ENOTFOUND (no such secret, provider scheme or
 * credential), VP_EUNAVAIL (provider failed to load, or service unavailable), and whatever the
 * provider reports.
 */
VP_EXPORT VP_NODISCARD int vp_fetch(vp_ctx *ctx, const char *uri, uint32_t timeout_ms, vp_buf *out,
                                    vp_fetch_meta *meta, vp_error *err) VP_NONNULL(1, 2, 4);

/*
 * Check a credential with the provider's validate() (reads no secret). `cred_name` "" = the
 * default chain. Returns 0 or the provider's status (VP_EAUTH, VP_EPERM, VP_ENETWORK, ...).
 */
VP_EXPORT VP_NODISCARD int vp_validate(vp_ctx *ctx, const char *provider, const char *cred_name,
                                       uint32_t timeout_ms, vp_error *err) VP_NONNULL(1, 2, 3);

#ifdef __cplusplus
}
#endif
#endif /* VAULTPLUG_FETCH_H */
