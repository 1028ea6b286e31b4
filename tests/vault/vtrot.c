/*
 * vtrot - a tiny provider for the vault <-> context tests: it holds a "refresh token" and rotates
 * it through host->cred_update(), the way an OAuth provider does after a token exchange.
 *
 *   vtrot://[cred@]token            -> the instance's current refresh token
 *   vtrot://[cred@]rotate/NEW       -> the instance switches to NEW and calls
 *                                      cred_update("refresh_token", NEW); value "ok"
 *   vtrot://[cred@]field/KEY/VALUE  -> cred_update(KEY, VALUE) only; value "ok"
 *
 * Credential type "oauth": refresh_token (secret, required), client_id (public),
 * configure_rotate (public, optional): when present, configure() itself rotates the token to
 * that value (a long one, so the host must reallocate) and then keeps reading its borrowed
 * vp_cred view, which must stay valid for the whole call (ASan checks it).
 */
#include <pthread.h>
#include <string.h>

#include "vaultplug/provider.h"

static const vp_cred_field oauth_fields[] = {
    {"refresh_token", VP_FIELD_SECRET | VP_FIELD_REQUIRED, "refresh token"},
    {"client_id", 0, "client id"},
    {"configure_rotate", 0, "rotate to this value in configure()"},
    {NULL, 0, NULL},
};
static const vp_cred_type cred_types[] = {
    {"oauth", "OAuth refresh token", oauth_fields},
    {NULL, NULL, NULL},
};
static const char *const schemes[] = {"vtrot", NULL};

typedef struct mod {
    const vp_host *host;
    vp_host_ctx *hc;
} mod;

typedef struct inst {
    const vp_host *host;
    vp_host_ctx *hc;
    pthread_mutex_t lock; /* guards token: fetches run concurrently (VP_CAP_THREADSAFE) */
    char *token;          /* secure */
} inst;

static int vr_init(const vp_host *host, vp_host_ctx *hc, void **out)
{
    mod *m = host->calloc(1, sizeof(*m));
    if (m == NULL)
        return VP_ENOMEM;
    m->host = host;
    m->hc = hc;
    *out = m;
    return VP_OK;
}

static void vr_teardown(void *m)
{
    if (m != NULL)
        ((mod *)m)->host->free(m);
}

static const vp_kv *field(const vp_cred *c, const char *key)
{
    for (size_t i = 0; i < c->n_fields; i++)
        if (strcmp(c->fields[i].key, key) == 0)
            return &c->fields[i];
    return NULL;
}

static void vr_destroy(void *p)
{
    inst *in = p;
    if (in == NULL)
        return;
    in->host->secure_free(in->token);
    pthread_mutex_destroy(&in->lock);
    in->host->free(in);
}

static int vr_configure(void *mp, const vp_cred *cred, vp_call *call, void **out)
{
    mod *m = mp;
    const vp_host *H = m->host;
    inst *in = H->calloc(1, sizeof(*in));
    if (in == NULL)
        return VP_ENOMEM;
    in->host = H;
    in->hc = m->hc;
    pthread_mutex_init(&in->lock, NULL);
    const vp_kv *rt = field(cred, "refresh_token");
    const vp_kv *cr = field(cred, "configure_rotate");
    if (cr != NULL) {
        int rc = H->cred_update(call, "refresh_token", cr->value, cr->value_len);
        if (rc != VP_OK) {
            vr_destroy(in);
            return rc;
        }
        /* Read the whole borrowed view again after the update. */
        size_t sum = 0;
        for (size_t i = 0; i < cred->n_fields; i++)
            sum += strlen(cred->fields[i].key) + strlen(cred->fields[i].value);
        (void)sum;
        rt = field(cred, "refresh_token");
    }
    in->token = H->secure_strdup(rt != NULL ? rt->value : "");
    if (in->token == NULL) {
        vr_destroy(in);
        return VP_ENOMEM;
    }
    *out = in;
    return VP_OK;
}

static int vr_fetch(void *p, const vp_ref *ref, vp_call *call, vp_secret_out *out)
{
    inst *in = p;
    const vp_host *H = in->host;
    const char *path = ref->path != NULL ? ref->path : "";
    int rc;

    if (strcmp(path, "token") == 0) {
        pthread_mutex_lock(&in->lock);
        rc = H->secret_set(out, in->token, strlen(in->token));
        pthread_mutex_unlock(&in->lock);
        return rc;
    }
    if (strncmp(path, "rotate/", 7) == 0) {
        const char *nv = path + 7;
        char *copy = H->secure_strdup(nv);
        if (copy == NULL)
            return VP_ENOMEM;
        pthread_mutex_lock(&in->lock);
        char *old = in->token;
        in->token = copy;
        rc = H->cred_update(call, "refresh_token", nv, strlen(nv));
        pthread_mutex_unlock(&in->lock);
        H->secure_free(old);
        return rc != VP_OK ? rc : H->secret_set(out, "ok", 2);
    }
    if (strncmp(path, "field/", 6) == 0) {
        const char *k = path + 6, *slash = strchr(k, '/');
        char key[80];
        if (slash == NULL || (size_t)(slash - k) >= sizeof(key))
            return H->fail(call, VP_EINVAL, "bad field path");
        memcpy(key, k, (size_t)(slash - k));
        key[slash - k] = '\0';
        rc = H->cred_update(call, key, slash + 1, strlen(slash + 1));
        return rc != VP_OK ? rc : H->secret_set(out, "ok", 2);
    }
    return H->fail(call, VP_ENOTFOUND, "no such path");
}

static int vr_validate(void *p, vp_call *call)
{
    (void)p, (void)call;
    return VP_OK;
}

static const vp_provider table = {
    .hdr = VP_ABI_HDR(vp_provider),
    .name = "vtrot",
    .version = "0.0.1",
    .description = "vault test provider that rotates its refresh token",
    .schemes = schemes,
    .caps = VP_CAP_THREADSAFE,
    .cred_types = cred_types,
    .init = vr_init,
    .configure = vr_configure,
    .fetch = vr_fetch,
    .validate = vr_validate,
    .destroy = vr_destroy,
    .teardown = vr_teardown,
};

VP_PROVIDER_ENTRY(table)
