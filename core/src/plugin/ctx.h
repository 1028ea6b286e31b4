/*
 * ctx - struct vp_ctx, shared by the modules that make up a context (context.c, fetch.c and
 * later resolver/cache/vault/credstore).
 *
 * Locking: `providers` is immutable after vp_ctx_new. `lock` protects the credential and
 * instance lists; `create_lock` serialises provider instance creation (configure()) so a
 * provider never sees two configure() calls at once. Order: create_lock before lock.
 */
#ifndef VP_CTX_H
#define VP_CTX_H

#include <pthread.h>

#include <sodium.h>
#include <stdint.h>

#include "vaultplug/context.h"
#include "vaultplug/fetch.h"
#include "fault.h"
#include "host.h"
#include "http.h"
#include "loader.h"
#include "log.h"

/* A credential given with vp_cred_set. Every value lives in secure memory. */
typedef struct vp__cred {
    struct vp__cred *next;
    const vp__provider *prov;
    char *name; /* "" allowed: replaces the default chain's empty credential */
    char *type;
    vp_kv *fields;   /* keys plain, values secure */
    uint8_t *masked; /* per field: registered with the redactor */
    size_t n_fields;
    int from_store; /* loaded from the attached vault's credential store (credstore.c; under
                       lock): cred_update() writes back to it */
} vp__cred;

/* A configured provider instance for (provider, credential name). Reference-counted: a fetch
 * holds a reference while it uses inst; dropping the last reference of an unlinked instance
 * destroys it. */
typedef struct vp__inst {
    struct vp__inst *next;
    const vp__provider *prov;
    char *cred_name;
    void *inst;
    unsigned refs; /* under ctx->lock */
    int linked;    /* still in ctx->insts */
    int serialize; /* provider lacks VP_CAP_THREADSAFE: calls take call_lock */
    pthread_mutex_t call_lock;
    vp__cred *cred; /* the credential it was configured with (owned by the instance) */
} vp__inst;

struct vp_ctx {
    vp__log *log;
    vp__http *http;
    vp_host_ctx core_hc; /* source "core"; template for providers' host contexts */
    vp__fault fault;     /* vp_options.fail_alloc_after, current around provider calls */
    vp__provider *providers;
    size_t n_providers;
    uint32_t default_timeout_ms;

    pthread_mutex_t lock;
    pthread_mutex_t create_lock;
    vp__cred *creds;
    vp__inst *insts;

    /* Local vault attached with vp_ctx_use_vault (credstore.c, see credstore_int.h):
     * vault_lock (recursive) guards every use of the handle and `retired`. */
    pthread_mutex_t vault_lock;
    struct vp_vault *vault;
    struct vp__retired *retired;

    struct vp__resolver *resolver; /* cache + resolver (resolver.c) */

    /* Provider calls (provinit.c, guard.c): every call into a provider runs on a runner so
     * that its caller can stop waiting at the deadline. init_lock guards each provider's
     * run-time state (vp__provider.run...) and is never held while a provider runs;
     * init_cv wakes the threads waiting for another thread's init(). */
    pthread_mutex_t init_lock;
    pthread_cond_t init_cv; /* CLOCK_MONOTONIC */
    struct vp__runners *runners;

    /* isolate_providers (isolate.c): providers run in helper processes, one per provider
     * (iso[i] for providers[i]); NULL when isolation is off. */
    int isolate;
    struct vp__iso *iso;
    char *iso_ca_file, *iso_ca_path; /* HTTP options for the helpers ("" = none) */
    char *iso_proxy;                 /* secure memory: a proxy URL may hold a password */
    /* This context is the one inside vaultplug-provider-host: the host kills the process
     * when a call misses its deadline, so calls are never abandoned here. */
    int in_helper;

    /* The host table's cred_update() writes a credential back to where it came from, which
     * only the api layer knows (the attached vault's credential store): set by vp_ctx_new to
     * vp__credstore_cred_update (api/credstore.c). NULL: VP_ENOTSUP. */
    int (*cred_update)(vp_call *call, const char *key, const char *value, size_t len);
};

/* provinit.c: set up and release the provider-call state of a new context. vp__provcalls_fini
 * returns non-zero when provider calls that were given up on are still running: the caller
 * must then keep the context and everything it points to allocated (docs/design.md,
 * "Provider deadlines"). */
int vp__provcalls_init(vp_ctx *ctx);
int vp__provcalls_fini(vp_ctx *ctx);
/* Make p (LOADED) ready for calls: initialise it on first use (once, whichever thread comes
 * first; the others wait), within the context's default timeout. Returns 0; VP_EUNAVAIL when
 * its init failed or it was given up on earlier (with its reason); VP_ETIMEDOUT when init did
 * not finish in time. */
int vp__provider_ready(vp_ctx *ctx, const vp__provider *p, vp_error *err);
/* Mark p unavailable for the rest of the context: a call of kind `what` ("fetch", ...) did
 * not return by its deadline (plus grace) and was abandoned. Sets err to VP_ETIMEDOUT with a
 * message that says so and returns VP_ETIMEDOUT. */
int vp__provider_gave_up(vp_ctx *ctx, const vp__provider *p, const char *what, vp_error *err);
/* Milliseconds a caller waits for a provider call with this deadline (on p's clock): until
 * the deadline plus VP__GUARD_GRACE_MS; -1 when there is none. */
int64_t vp__provider_wait_ms(const vp__provider *p, int64_t deadline_ms);

/* In-process init only (login, which always runs in this process). */
int vp__provider_ready_local(vp_ctx *ctx, const vp__provider *p, vp_error *err);

/* isolate.c: the helper processes of isolate_providers. vp__iso_init after the providers are
 * loaded; vp__iso_free stops every helper. The calls start p's helper if it is not running
 * (and restart it after a crash); they fail with VP_EUNAVAIL naming the signal when the helper
 * dies, VP_ETIMEDOUT when it misses the deadline (it is killed). */
int vp__iso_init(vp_ctx *ctx, const char *ca_file, const char *ca_path, const char *proxy);
void vp__iso_free(vp_ctx *ctx);
const char *vp__iso_helper_path(void);
int vp__iso_ready(vp_ctx *ctx, const vp__provider *p, vp_error *err);
struct vp_secret_out;
int vp__iso_fetch(vp_ctx *ctx, const vp__provider *p, const char *cred_name, const vp_ref *view,
                  int64_t deadline_ms, struct vp_secret_out *so, uint32_t *retry_after_ms,
                  vp_error *err);
int vp__iso_validate(vp_ctx *ctx, const vp__provider *p, const char *cred_name, int64_t deadline_ms,
                     vp_error *err);
struct vp_list_out;
int vp__iso_list(vp_ctx *ctx, const vp__provider *p, const char *cred_name, const char *prefix,
                 int64_t deadline_ms, struct vp_list_out *lo, vp_error *err);
/* fetch.c, for isolate.c: a reference on p's credential `name` (*c NULL and 0 when none is
 * set and name is ""; VP_ENOTFOUND when a named one is not set). Release with vp__cred_unref. */
int vp__cred_ref(vp_ctx *ctx, const vp__provider *p, const char *name, const vp__cred **c,
                 void **ref);
void vp__cred_unref(vp_ctx *ctx, void *ref);

/* Provider for a scheme: LOADED ones first; else a FAILED one that claims it (by its name or
 * its declared schemes). NULL if none. */
const vp__provider *vp__ctx_find_scheme(const vp_ctx *ctx, const char *scheme);
const vp__provider *vp__ctx_find_provider(const vp_ctx *ctx, const char *name);
/* Fill err for a scheme nobody serves (VP_ENOTFOUND, listing the known schemes) or a failed
 * provider (VP_EUNAVAIL with its load reason). Returns the status. */
int vp__ctx_scheme_error(const vp_ctx *ctx, const char *scheme, const vp__provider *p,
                         vp_error *err);

/* fetch.c: vp_cred_set and vp_cred_unset without the cache (api/creds.c empties the
 * provider's cache after a credential was replaced or removed). *replaced = 1 when a
 * credential of that name existed. */
int vp__cred_put(vp_ctx *ctx, const char *provider, const vp_cred_spec *cred, int *replaced,
                 vp_error *err);
int vp__cred_remove(vp_ctx *ctx, const char *provider, const char *name, vp_error *err);

/* fetch.c: destroy every instance and forget every credential (vp_ctx_free). */
void vp__fetch_release_all(vp_ctx *ctx);

/* fetch.c, for the resolver: one provider fetch of a parsed reference view (raw value, no
 * #key extraction, no retries) before `deadline_ms` (on p's monotonic clock, -1 = none); and
 * the #key extraction applied to a cached raw value. */
struct vp_secret_out;
/* Feed the credential `name` of provider p as set in ctx (type, then fields in key order; a
 * marker when none is set) into st: the credential half of a cached value's identity. */
void vp__cred_digest(vp_ctx *ctx, const vp__provider *p, const char *name,
                     crypto_generichash_state *st);
/* Status rc of provider p's call, with the provider's message (or vp_strerror) prefixed by the
 * provider's name exactly once, into err. Returns rc. */
int vp__provider_error(vp_ctx *ctx, const vp__provider *p, const vp_call *call, int rc,
                       vp_error *err);
int vp__fetch_raw(vp_ctx *ctx, const vp__provider *p, const char *cred_name, const vp_ref *view,
                  int64_t deadline_ms, struct vp_secret_out *so, uint32_t *retry_after_ms,
                  vp_error *err);
int vp__fetch_raw_batch(vp_ctx *ctx, const vp__provider *p, const char *cred_name, size_t n,
                        const vp_ref *const *views, int64_t deadline_ms,
                        struct vp_secret_out *const *outs, uint32_t *retry_after_ms, vp_error *err);
/* fetch.c, for list.c and the helper: one list() call of p with credential cred_name before
 * deadline_ms (on p's monotonic clock), on a runner thread like a fetch, or in p's helper when
 * the context is isolated. On 0, lo (initialised) holds the names, unsorted. */
struct vp_list_out;
int vp__list_raw(vp_ctx *ctx, const vp__provider *p, const char *cred_name, const char *prefix,
                 int64_t deadline_ms, struct vp_list_out *lo, vp_error *err);
int vp__fetch_extract_key(vp_ctx *ctx, const char *uri, const char *json_key, const char *value,
                          size_t len, vp_buf *out, vp_error *err);

#endif
