/*
 * tkprov - a small in-memory provider for testing the testkit itself. It implements the whole
 * ABI (fetch, fetch_batch, list, login, validate) for a store WITHOUT authentication, so its
 * config declares "auth": false. Built several times from this one file, each time as
 * tkprov.so in its own directory:
 *
 *   (no define)          correct: passes the testkit (tkprov.json)
 *   TK_BROKEN_BATCH      fetch_batch fills only the first item
 *   TK_BROKEN_LIST       list ignores the prefix
 *   TK_BROKEN_LOGIN      login succeeds without saying what credential it produced
 *   TK_BROKEN_CANCEL     a fetch of slow/... ignores its call's deadline and cancellation
 *
 * Each broken build must make the testkit fail (sdk/testkit/CMakeLists.txt).
 */
#include <stdio.h>
#include <string.h>
#include <time.h>

#include <vaultplug/provider.h>

typedef struct tk_mod {
    const vp_host *h;
    vp_host_ctx *hc;
} tk_mod;

static const struct {
    const char *name, *value;
} store[] = {
    {"app/db", "tkprov-value-db-5e1c"},
    {"app/api", "tkprov-value-api-77d0"},
    {"app/nested/key", "tkprov-value-nested-a41f"},
    {"other/x", "tkprov-value-other-09b3"},
};

static const vp_cred_field tk_token_fields[] = {
    {"token", VP_FIELD_SECRET | VP_FIELD_REQUIRED, "token that login() produced"},
    {NULL, 0, NULL},
};
static const vp_cred_type tk_cred_types[] = {
    {"token", "a token obtained with login", tk_token_fields},
    {NULL, NULL, NULL},
};

static int tk_init(const vp_host *host, vp_host_ctx *hc, void **mod)
{
    tk_mod *m = host->calloc(1, sizeof(*m));
    if (m == NULL)
        return VP_ENOMEM;
    m->h = host;
    m->hc = hc;
    *mod = m;
    return 0;
}

static void tk_teardown(void *mod)
{
    if (mod != NULL)
        ((tk_mod *)mod)->h->free(mod);
}

/* The instance is the module: the store has no credentials to remember. */
static int tk_configure(void *mod, const vp_cred *cred, vp_call *call, void **inst)
{
    (void)cred;
    (void)call;
    *inst = mod;
    return 0;
}

static void tk_destroy(void *inst)
{
    (void)inst;
}

static void sleep_ms(long ms)
{
    struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};
    nanosleep(&ts, NULL);
}

static int fetch_one(const tk_mod *m, const vp_ref *ref, vp_call *call, vp_secret_out *out,
                     int batch)
{
    const vp_host *h = m->h;
    const char *path = ref->path ? ref->path : "";
    if (strncmp(path, "slow/", 5) == 0) {
        /* The store takes 5 s to answer. A correct provider gives up when its call does. */
        for (int i = 0; i < 500; i++) {
#ifndef TK_BROKEN_CANCEL
            if (h->call_canceled(call))
                return h->fail(call, VP_ETIMEDOUT, "tkprov: %s: deadline passed", ref->uri);
#endif
            sleep_ms(10);
        }
    }
    if (strncmp(path, "denied/", 7) == 0)
        return batch ? h->secret_fail(out, VP_EPERM, "tkprov: %s: access denied", ref->uri)
                     : h->fail(call, VP_EPERM, "tkprov: %s: access denied", ref->uri);
    for (size_t i = 0; i < sizeof(store) / sizeof(store[0]); i++)
        if (strcmp(store[i].name, path) == 0)
            return h->secret_set(out, store[i].value, strlen(store[i].value));
    return batch ? h->secret_fail(out, VP_ENOTFOUND, "tkprov: %s: no such secret", ref->uri)
                 : h->fail(call, VP_ENOTFOUND, "tkprov: %s: no such secret", ref->uri);
}

static int tk_fetch(void *inst, const vp_ref *ref, vp_call *call, vp_secret_out *out)
{
    return fetch_one(inst, ref, call, out, 0);
}

static int tk_fetch_batch(void *inst, vp_call *call, size_t n, const vp_ref *const *refs,
                          vp_secret_out *const *outs)
{
#ifdef TK_BROKEN_BATCH
    if (n > 1)
        n = 1;
#endif
    for (size_t i = 0; i < n; i++)
        fetch_one(inst, refs[i], call, outs[i], 1);
    return 0;
}

static int tk_list(void *inst, const char *prefix, vp_call *call, vp_list_out *out)
{
    const tk_mod *m = inst;
    if (strncmp(prefix, "denied/", 7) == 0)
        return m->h->fail(call, VP_EPERM, "tkprov: listing %s is denied", prefix);
    if (strcmp(prefix, "dup/") == 0) {
        /* What a store paging under concurrent writes may hand out: repeats, no order, an
         * empty name. The host sorts and de-duplicates. */
        static const char *const dup[] = {"dup/b", "dup/a", "dup/b", "", "dup/c", "dup/a"};
        for (size_t i = 0; i < sizeof(dup) / sizeof(dup[0]); i++)
            if (m->h->list_add(out, dup[i]) != 0)
                return m->h->fail(call, VP_ENOMEM, "tkprov: list: out of memory");
        return 0;
    }
    for (size_t i = 0; i < sizeof(store) / sizeof(store[0]); i++) {
#ifndef TK_BROKEN_LIST
        if (strncmp(store[i].name, prefix, strlen(prefix)) != 0)
            continue;
#endif
        int rc = m->h->list_add(out, store[i].name);
        if (rc != 0)
            return m->h->fail(call, rc, "tkprov: list: out of memory");
    }
    return 0;
}

static int tk_login(void *mod, const vp_kv *options, size_t n_options, vp_call *call,
                    vp_cred_out *out)
{
    const tk_mod *m = mod;
    (void)options;
    (void)n_options;
    m->h->notify(call, "tkprov: signed in (no browser needed)");
#ifndef TK_BROKEN_LOGIN
    int rc = m->h->cred_out_type(out, "token");
    if (rc == 0)
        rc = m->h->cred_out_field(out, "token", "tkprov-login-token-3c9e", 23, VP_FIELD_SECRET);
    if (rc != 0)
        return m->h->fail(call, rc, "tkprov: login: cannot store the credential");
#else
    (void)out;
#endif
    return 0;
}

static int tk_validate(void *inst, vp_call *call)
{
    (void)inst;
    (void)call;
    return 0;
}

static const char *const tk_schemes[] = {"tkprov", NULL};

static const vp_provider tk_provider = {
    .hdr = VP_ABI_HDR(vp_provider),
    .name = "tkprov",
    .version = "1.0.0",
    .description = "In-memory store without authentication (testkit self-test)",
    .schemes = tk_schemes,
    .caps = VP_CAP_THREADSAFE | VP_CAP_BATCH | VP_CAP_LIST | VP_CAP_INTERACTIVE_LOGIN,
    .cred_types = tk_cred_types,
    .init = tk_init,
    .configure = tk_configure,
    .fetch = tk_fetch,
    .fetch_batch = tk_fetch_batch,
    .list = tk_list,
    .login = tk_login,
    .validate = tk_validate,
    .destroy = tk_destroy,
    .teardown = tk_teardown,
};

VP_PROVIDER_ENTRY(tk_provider)
