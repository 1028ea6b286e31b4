/*
 * The local vault wired into the library: `{{ vault.NAME }}` through vp_vault_as_source and
 * vp_ctx_vault_source, stored credentials used by fetches after vp_ctx_use_vault, and the host's
 * cred_update() writing a rotated field back to the credential store (vtrot.c provider), all
 * through real vault files, real provider modules and a real context; plus the same under
 * threads (run it under TSan too).
 */
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <setjmp.h>
#include <stdarg.h>
#include <cmocka.h>

#include "vaultplug/credstore.h"
#include "vaultplug/vaultplug.h"
#include "secmem.h"
#include "vt_util.h"

static const char db_secret[] = "pg-CANARY-db-71c3-secret";
static const char api_secret[] = "AK-CANARY-api-5e0d";
static const char echo_token[] = "tok-CANARY-echo-9a41";

/* ---- log capture (must never see a secret) ---- */

static pthread_mutex_t log_mu = PTHREAD_MUTEX_INITIALIZER;
static char log_text[64 * 1024];
static size_t log_len;

static void log_cb(void *ud, int level, const char *source, const char *msg)
{
    (void)ud, (void)level;
    pthread_mutex_lock(&log_mu);
    int w = snprintf(log_text + log_len, sizeof(log_text) - log_len, "%s: %s\n", source, msg);
    if (w > 0 && (size_t)w < sizeof(log_text) - log_len)
        log_len += (size_t)w;
    pthread_mutex_unlock(&log_mu);
}

static int log_has(const char *s)
{
    pthread_mutex_lock(&log_mu);
    int r = vt_contains(log_text, log_len, s, strlen(s));
    pthread_mutex_unlock(&log_mu);
    return r;
}

/* ---- fixture: a vault with two secrets ---- */

typedef vt_fixture fixture;

static int setup(void **state)
{
    fixture *f = vt_fixture_new();
    vp_error err;
    if (f == NULL)
        return -1;
    if (vp_vault_set(f->v, "db", db_secret, strlen(db_secret), &err) != 0 ||
        vp_vault_set(f->v, "api.key", api_secret, strlen(api_secret), &err) != 0)
        return -1;
    pthread_mutex_lock(&log_mu);
    log_len = 0;
    log_text[0] = '\0';
    pthread_mutex_unlock(&log_mu);
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    vt_fixture_free(*state);
    return 0;
}

static vp_ctx *new_ctx(void)
{
    static const char *const dirs[] = {VT_PROVIDER_DIR, VT_MODS_DIR, NULL};
    static const char *const enabled[] = {"echo", "vtrot", NULL};
    vp_options o;
    vp_ctx *ctx = NULL;
    vp_error err;
    vp_options_init(&o);
    o.plugin_dirs = dirs;
    o.ignore_env_plugin_path = 1;
    o.no_default_plugin_dir = 1;
    o.enabled_providers = enabled;
    o.log_fn = log_cb;
    o.log_level = VP_LEVEL_DEBUG;
    assert_int_equal(vp_ctx_new(&o, &ctx, &err), 0);
    assert_int_equal(vp_provider_check(ctx, "echo", &err), 0);
    assert_int_equal(vp_provider_check(ctx, "vtrot", &err), 0);
    return ctx;
}

static int render(const vp_vault_source *vs, vp_ctx *ctx, const char *tmpl, vp_render_mode mode,
                  uint32_t flags, vp_buf *out, vp_error *err)
{
    vp_template *t = NULL;
    vp_render_params p;
    int rc = vp_template_parse(tmpl, strlen(tmpl), NULL, &t, err);
    if (rc != 0)
        return rc;
    memset(&p, 0, sizeof p);
    p.size = sizeof p;
    p.mode = mode;
    p.flags = flags;
    p.vault = vs;
    p.ctx = ctx;
    rc = vp_template_render(t, &p, out, err);
    vp_template_free(t);
    return rc;
}

static int fetch(vp_ctx *ctx, const char *uri, vp_buf *out, vp_error *err)
{
    return vp_fetch(ctx, uri, 5000, out, NULL, err);
}

static const char *field(const vp_cred_entry *e, const char *key)
{
    for (size_t i = 0; i < e->n_fields; i++)
        if (strcmp(e->fields[i].key, key) == 0)
            return e->fields[i].value;
    return NULL;
}

/* The stored value of field key of credential provider.name, read through a FRESH handle. */
static char *stored_field(const fixture *f, const char *provider, const char *name, const char *key)
{
    vp_vault *v2 = NULL;
    vp_cred_entry *e = NULL;
    vp_error err;
    char *r = NULL;
    assert_int_equal(vp_vault_open(f->d.path, f->key, &v2, &err), 0);
    if (vp_credstore_get(v2, provider, name, &e, &err) == 0) {
        const char *s = field(e, key);
        r = s ? strdup(s) : NULL;
        vp_cred_entries_free(e, 1);
    }
    vp_vault_close(v2);
    return r;
}

/* ---- 1. vp_vault_as_source ---- */

static void test_vault_source_render(void **state)
{
    fixture *f = *state;
    vp_vault_source vs;
    vp_buf out = VP_BUF_INIT;
    vp_error err;
    const char *tmpl = "db={{ vault.db }} k={{ vault['api.key'] }} d={{ vault.nope | "
                       "default('none') }}";

    assert_int_equal(vp_vault_as_source(NULL, &vs), VP_EINVAL);
    assert_int_equal(vp_vault_as_source(f->v, NULL), VP_EINVAL);
    assert_int_equal(vp_vault_as_source(f->v, &vs), 0);

    /* SEND: the real values, read from the real file through the handle. */
    assert_int_equal(render(&vs, NULL, tmpl, VP_RENDER_SEND, 0, &out, &err), 0);
    char want[256];
    snprintf(want, sizeof want, "db=%s k=%s d=none", db_secret, api_secret);
    assert_string_equal(out.data, want);
    assert_true(vp__secmem_owns(out.data));

    /* PREVIEW: masked. */
    assert_int_equal(render(&vs, NULL, tmpl, VP_RENDER_PREVIEW, 0, &out, &err), 0);
    assert_string_equal(out.data, "db=" VP_TMPL_MASK " k=" VP_TMPL_MASK " d=none");
    assert_null(strstr(out.data, db_secret));

    /* An unknown name is undefined: strict render fails naming it, never a value. */
    assert_int_not_equal(
        render(&vs, NULL, "{{ vault.db }}{{ vault.missing_one }}", VP_RENDER_SEND, 0, &out, &err),
        0);
    assert_null(out.data);
    assert_null(strstr(err.message, db_secret));
    assert_int_equal(render(&vs, NULL, "[{{ vault.missing_one }}]", VP_RENDER_SEND,
                            VP_TMPL_UNDEFINED_EMPTY, &out, &err),
                     0);
    assert_string_equal(out.data, "[]");

    /* The lookup itself: secure copy, VP_ENOTFOUND naming the name. */
    vp_buf v = VP_BUF_INIT;
    assert_int_equal(vs.lookup(vs.ud, "db", &v, &err), 0);
    assert_int_equal(v.len, strlen(db_secret));
    assert_memory_equal(v.data, db_secret, v.len);
    assert_true(vp__secmem_owns(v.data));
    assert_int_equal(vs.lookup(vs.ud, "missing_one", &v, &err), VP_ENOTFOUND);
    assert_non_null(strstr(err.message, "missing_one"));
    assert_int_equal(vs.lookup(vs.ud, "bad name!", &v, &err), VP_ENOTFOUND);
    assert_non_null(strstr(err.message, "bad name!"));

    /* A secret set through the handle is visible at once; a deleted one is gone. */
    assert_int_equal(vp_vault_set(f->v, "later", "L8R-value", 9, &err), 0);
    assert_int_equal(render(&vs, NULL, "{{ vault.later }}", VP_RENDER_SEND, 0, &out, &err), 0);
    assert_string_equal(out.data, "L8R-value");
    assert_int_equal(vp_vault_delete(f->v, "later", &err), 0);
    assert_int_equal(vs.lookup(vs.ud, "later", &v, &err), VP_ENOTFOUND);
    vp_buf_free(&v);
    vp_buf_free(&out);
}

/* ---- 2. context <-> store ---- */

static void test_ctx_uses_stored_credentials(void **state)
{
    fixture *f = *state;
    vp_field ef[] = {{"token", echo_token}, {"prefix", "stored:"}};
    vp_cred_spec echo_c = {"mycred", "token", ef, 2};
    vp_field nf[] = {{"x", "y"}};
    vp_cred_spec nosuch = {"n1", "", nf, 1};
    vp_field bf[] = {{"client_id", "cid"}};
    vp_cred_spec vt_bad = {"bad", "oauth", bf, 1}; /* lacks required refresh_token */
    vp_buf out = VP_BUF_INIT;
    vp_vault_source vs;
    size_t loaded = 99, skipped = 99;
    vp_error err;

    assert_int_equal(vp_credstore_put(f->v, "echo", &echo_c, &err), 0);
    assert_int_equal(vp_credstore_put(f->v, "nosuch", &nosuch, &err), 0);
    assert_int_equal(vp_credstore_put(f->v, "vtrot", &vt_bad, &err), 0);

    vp_ctx *ctx = new_ctx();
    assert_int_equal(vp_ctx_vault_source(NULL, &vs), VP_EINVAL);
    assert_null(vs.lookup);
    assert_int_equal(vp_ctx_vault_source(ctx, &vs), 0);
    /* Nothing attached yet. */
    assert_int_equal(fetch(ctx, "echo://mycred@path", &out, &err), VP_ENOTFOUND);
    assert_int_equal(vs.lookup(vs.ud, "db", &out, &err), VP_ENOTFOUND);
    assert_int_equal(vp_ctx_use_vault(NULL, f->v, NULL, NULL, &err), VP_EINVAL);

    assert_int_equal(vp_ctx_use_vault(ctx, f->v, &loaded, &skipped, &err), 0);
    assert_int_equal(loaded, 1);
    assert_int_equal(skipped, 2);
    assert_true(log_has("stored credential bad of provider vtrot was not loaded"));

    assert_int_equal(fetch(ctx, "echo://mycred@path", &out, &err), 0);
    assert_string_equal(out.data, "stored:path");
    /* The stored token is secret: registered with the redactor like any vp_cred_set value. */
    assert_int_equal(fetch(ctx, "echo://nobody@path", &out, &err), VP_ENOTFOUND);

    /* {{ vault.NAME }} through the context, SEND and PREVIEW. */
    assert_int_equal(render(&vs, ctx, "a={{ vault.db }};b={{ vault['api.key'] }}", VP_RENDER_SEND,
                            0, &out, &err),
                     0);
    char want[256];
    snprintf(want, sizeof want, "a=%s;b=%s", db_secret, api_secret);
    assert_string_equal(out.data, want);
    assert_int_equal(render(&vs, ctx, "a={{ vault.db }}", VP_RENDER_PREVIEW, 0, &out, &err), 0);
    assert_string_equal(out.data, "a=" VP_TMPL_MASK);
    /* vp_render with the context alone reads the attached vault and fetches through the
     * stored credential. */
    const char *t2 = "a={{ vault.db }};{% vault 'echo://mycred@x' %}";
    assert_int_equal(vp_render(ctx, t2, strlen(t2), NULL, VP_RENDER_SEND, &out, &err), 0);
    snprintf(want, sizeof want, "a=%s;stored:x", db_secret);
    assert_string_equal(out.data, want);

    /* A credential set by the host survives detaching; the stored ones do not. */
    vp_field mf[] = {{"token", "tok-manual-1234"}, {"prefix", "manual:"}};
    vp_cred_spec manual = {"manual", "token", mf, 2};
    assert_int_equal(vp_cred_set(ctx, "echo", &manual, &err), 0);
    assert_int_equal(vp_ctx_use_vault(ctx, NULL, &loaded, &skipped, &err), 0);
    assert_int_equal(loaded, 0);
    assert_int_equal(fetch(ctx, "echo://mycred@path", &out, &err), VP_ENOTFOUND);
    assert_int_equal(fetch(ctx, "echo://manual@p", &out, &err), 0);
    assert_string_equal(out.data, "manual:p");
    assert_int_equal(vs.lookup(vs.ud, "db", &out, &err), VP_ENOTFOUND);
    assert_int_equal(
        render(&vs, ctx, "[{{ vault.db }}]", VP_RENDER_SEND, VP_TMPL_UNDEFINED_EMPTY, &out, &err),
        0);
    assert_string_equal(out.data, "[]");

    /* Re-attaching picks up changes made to the store meanwhile. */
    vp_field ef2[] = {{"token", echo_token}, {"prefix", "v2:"}};
    vp_cred_spec echo_c2 = {"mycred", "token", ef2, 2};
    assert_int_equal(vp_credstore_put(f->v, "echo", &echo_c2, &err), 0);
    assert_int_equal(vp_ctx_use_vault(ctx, f->v, &loaded, NULL, &err), 0);
    assert_int_equal(loaded, 1);
    assert_int_equal(fetch(ctx, "echo://mycred@path", &out, &err), 0);
    assert_string_equal(out.data, "v2:path");

    vp_ctx_free(ctx);
    vp_buf_free(&out);
    assert_false(log_has(echo_token));
    assert_false(log_has(db_secret));
}

static void test_cred_update_persists(void **state)
{
    fixture *f = *state;
    vp_field vf[] = {{"refresh_token", "rt-CANARY-0001"}, {"client_id", "cid-42"}};
    vp_cred_spec acct = {"acct", "oauth", vf, 2};
    vp_buf out = VP_BUF_INIT;
    vp_error err;
    char *s;

    assert_int_equal(vp_credstore_put(f->v, "vtrot", &acct, &err), 0);
    vp_ctx *ctx = new_ctx();
    assert_int_equal(vp_ctx_use_vault(ctx, f->v, NULL, NULL, &err), 0);

    assert_int_equal(fetch(ctx, "vtrot://acct@token", &out, &err), 0);
    assert_string_equal(out.data, "rt-CANARY-0001");
    assert_int_equal(fetch(ctx, "vtrot://acct@rotate/rt-CANARY-0002", &out, &err), 0);
    assert_string_equal(out.data, "ok");
    assert_int_equal(fetch(ctx, "vtrot://acct@token", &out, &err), 0);
    assert_string_equal(out.data, "rt-CANARY-0002");

    /* Persisted: a fresh handle on the file sees the rotated value; other fields are kept. */
    s = stored_field(f, "vtrot", "acct", "refresh_token");
    assert_string_equal(s, "rt-CANARY-0002");
    free(s);
    s = stored_field(f, "vtrot", "acct", "client_id");
    assert_string_equal(s, "cid-42");
    free(s);

    /* A much longer value (the in-context block must be replaced), then a shorter one (it is
     * overwritten in place), then a new field. */
    char longv[400], uri[512];
    memset(longv, 'L', sizeof longv - 1);
    longv[sizeof longv - 1] = '\0';
    memcpy(longv, "rt-CANARY-long-", 15);
    snprintf(uri, sizeof uri, "vtrot://acct@rotate/%s", longv);
    assert_int_equal(fetch(ctx, uri, &out, &err), 0);
    s = stored_field(f, "vtrot", "acct", "refresh_token");
    assert_string_equal(s, longv);
    free(s);
    assert_int_equal(fetch(ctx, "vtrot://acct@rotate/rt-CANARY-3", &out, &err), 0);
    s = stored_field(f, "vtrot", "acct", "refresh_token");
    assert_string_equal(s, "rt-CANARY-3");
    free(s);
    assert_int_equal(fetch(ctx, "vtrot://acct@field/id_token/idt-CANARY-77", &out, &err), 0);
    s = stored_field(f, "vtrot", "acct", "id_token");
    assert_string_equal(s, "idt-CANARY-77");
    free(s);
    s = stored_field(f, "vtrot", "acct", "refresh_token");
    assert_string_equal(s, "rt-CANARY-3");
    free(s);

    /* Bad field names are refused and change nothing. */
    assert_int_equal(fetch(ctx, "vtrot://acct@field/Bad-Key/x", &out, &err), VP_EINVAL);
    s = stored_field(f, "vtrot", "acct", "Bad-Key");
    assert_null(s);

    /* The attached handle itself follows (it made the commit). */
    vp_cred_entry *e = NULL;
    assert_int_equal(vp_credstore_get(f->v, "vtrot", "acct", &e, &err), 0);
    assert_string_equal(field(e, "refresh_token"), "rt-CANARY-3");
    vp_cred_entries_free(e, 1);

    /* A new context on the reopened vault starts from the rotated value. */
    vp_ctx_free(ctx);
    vp_vault *v2 = NULL;
    assert_int_equal(vp_vault_open(f->d.path, f->key, &v2, &err), 0);
    ctx = new_ctx();
    assert_int_equal(vp_ctx_use_vault(ctx, v2, NULL, NULL, &err), 0);
    assert_int_equal(fetch(ctx, "vtrot://acct@token", &out, &err), 0);
    assert_string_equal(out.data, "rt-CANARY-3");
    vp_ctx_free(ctx);
    vp_vault_close(v2);

    /* Nothing rotated is in clear in the file, and no token reached the log. */
    size_t len = 0;
    unsigned char *img = vt_read(f->d.path, &len);
    assert_false(vt_contains(img, len, "rt-CANARY", 9));
    assert_false(vt_contains(img, len, "idt-CANARY", 10));
    free(img);
    assert_false(log_has("rt-CANARY"));
    assert_false(log_has("idt-CANARY"));
    vp_buf_free(&out);
}

static void test_cred_update_in_configure(void **state)
{
    fixture *f = *state;
    char longv[300];
    memset(longv, 'C', sizeof longv - 1);
    longv[sizeof longv - 1] = '\0';
    memcpy(longv, "rt-CANARY-cfg-", 14);
    vp_field vf[] = {{"refresh_token", "rt-short"}, {"configure_rotate", longv}};
    vp_cred_spec acct = {"cfg", "oauth", vf, 2};
    vp_buf out = VP_BUF_INIT;
    vp_error err;

    assert_int_equal(vp_credstore_put(f->v, "vtrot", &acct, &err), 0);
    vp_ctx *ctx = new_ctx();
    assert_int_equal(vp_ctx_use_vault(ctx, f->v, NULL, NULL, &err), 0);
    /* configure() rotates, then re-reads its view (which must still be valid), then fetches. */
    assert_int_equal(fetch(ctx, "vtrot://cfg@token", &out, &err), 0);
    assert_string_equal(out.data, longv);
    char *s = stored_field(f, "vtrot", "cfg", "refresh_token");
    assert_string_equal(s, longv);
    free(s);
    /* validate() goes through configure() of the cached instance: no second rotation needed. */
    assert_int_equal(vp_validate(ctx, "vtrot", "cfg", 5000, &err), 0);
    vp_ctx_free(ctx);
    vp_buf_free(&out);
}

static void test_cred_update_enotsup(void **state)
{
    fixture *f = *state;
    vp_field vf[] = {{"refresh_token", "rt-CANARY-host"}};
    vp_cred_spec acct = {"acct", "oauth", vf, 1};
    vp_buf out = VP_BUF_INIT;
    vp_error err;

    vp_ctx *ctx = new_ctx();
    /* Set by the host, no vault at all. */
    assert_int_equal(vp_cred_set(ctx, "vtrot", &acct, &err), 0);
    assert_int_equal(fetch(ctx, "vtrot://acct@rotate/rt-x1", &out, &err), VP_ENOTSUP);
    assert_non_null(strstr(err.message, "does not come from the credential store"));
    /* The default chain. */
    assert_int_equal(fetch(ctx, "vtrot://rotate/rt-x2", &out, &err), VP_ENOTSUP);

    /* Stored, but loaded with vp_credstore_load instead of attached: not written back. */
    vp_field sf[] = {{"refresh_token", "rt-CANARY-st0"}};
    vp_cred_spec st = {"st", "oauth", sf, 1};
    size_t loaded = 0;
    assert_int_equal(vp_credstore_put(f->v, "vtrot", &st, &err), 0);
    assert_int_equal(vp_credstore_load(f->v, ctx, &loaded, NULL, &err), 0);
    assert_int_equal(fetch(ctx, "vtrot://st@rotate/rt-x3", &out, &err), VP_ENOTSUP);

    /* Attached, then the host replaces the credential in the context: no longer the store's. */
    assert_int_equal(vp_ctx_use_vault(ctx, f->v, NULL, NULL, &err), 0);
    assert_int_equal(fetch(ctx, "vtrot://st@rotate/rt-CANARY-st1", &out, &err), 0);
    vp_field hf[] = {{"refresh_token", "rt-CANARY-hostset"}};
    vp_cred_spec hs = {"st", "oauth", hf, 1};
    assert_int_equal(vp_cred_set(ctx, "vtrot", &hs, &err), 0);
    assert_int_equal(fetch(ctx, "vtrot://st@rotate/rt-x4", &out, &err), VP_ENOTSUP);
    char *s = stored_field(f, "vtrot", "st", "refresh_token");
    assert_string_equal(s, "rt-CANARY-st1");
    free(s);

    /* Detached: the stored credential is gone from the context. */
    assert_int_equal(vp_ctx_use_vault(ctx, f->v, NULL, NULL, &err), 0);
    assert_int_equal(vp_ctx_use_vault(ctx, NULL, NULL, NULL, &err), 0);
    assert_int_equal(fetch(ctx, "vtrot://st@token", &out, &err), VP_ENOTFOUND);
    vp_ctx_free(ctx);
    vp_buf_free(&out);
}

static void test_cred_update_store_removed(void **state)
{
    fixture *f = *state;
    vp_field vf[] = {{"refresh_token", "rt-CANARY-a"}};
    vp_cred_spec acct = {"gone", "oauth", vf, 1};
    vp_buf out = VP_BUF_INIT;
    vp_error err;

    assert_int_equal(vp_credstore_put(f->v, "vtrot", &acct, &err), 0);
    vp_ctx *ctx = new_ctx();
    assert_int_equal(vp_ctx_use_vault(ctx, f->v, NULL, NULL, &err), 0);
    /* Another process signs out meanwhile. */
    vp_vault *v2 = NULL;
    size_t removed = 0;
    assert_int_equal(vp_vault_open(f->d.path, f->key, &v2, &err), 0);
    assert_int_equal(vp_credstore_clear(v2, &removed, &err), 0);
    assert_int_equal(removed, 1);
    vp_vault_close(v2);
    /* The rotation is reported as not saved, but this session keeps the new value. */
    assert_int_equal(fetch(ctx, "vtrot://gone@rotate/rt-CANARY-b", &out, &err), VP_ENOTFOUND);
    assert_non_null(strstr(err.message, "could not be saved"));
    assert_null(strstr(err.message, "rt-CANARY"));
    assert_int_equal(fetch(ctx, "vtrot://gone@token", &out, &err), 0);
    assert_string_equal(out.data, "rt-CANARY-b");
    assert_null(stored_field(f, "vtrot", "gone", "refresh_token"));
    vp_ctx_free(ctx);
    vp_buf_free(&out);
}

/* ---- 3. threads ---- */

typedef struct tharg {
    vp_ctx *ctx;
    vp_vault_source vs;
    int kind;    /* 0 render, 1 echo fetch, 2 rotate, 3 re-attach */
    int lenient; /* churn phase: detached moments are allowed */
    vp_vault *v;
    atomic_int *bad;
    atomic_int *stop;
} tharg;

static void *worker(void *p)
{
    tharg *a = p;
    vp_buf out = VP_BUF_INIT;
    vp_error err;
    char want[128];
    snprintf(want, sizeof want, "<%s>", db_secret);
    for (int i = 0; i < (a->kind == 2 ? 15 : a->kind == 3 ? 10 : 150); i++) {
        int rc;
        switch (a->kind) {
        case 0:
            rc = render(&a->vs, a->ctx, "<{{ vault.db | default('') }}>", VP_RENDER_SEND, 0, &out,
                        &err);
            if (rc != 0 ||
                (strcmp(out.data, want) != 0 && !(a->lenient && !strcmp(out.data, "<>"))))
                atomic_fetch_add(a->bad, 1);
            break;
        case 1:
            rc = fetch(a->ctx, "echo://mycred@x", &out, &err);
            if (rc == 0 ? strcmp(out.data, "stored:x") != 0 : !(a->lenient && rc == VP_ENOTFOUND))
                atomic_fetch_add(a->bad, 1);
            break;
        case 2: {
            char uri[64];
            snprintf(uri, sizeof uri, "vtrot://acct@rotate/rt-T-%03d", i);
            rc = fetch(a->ctx, uri, &out, &err);
            if (rc != 0 && !(a->lenient && (rc == VP_ENOTFOUND || rc == VP_ENOTSUP)))
                atomic_fetch_add(a->bad, 1);
            break;
        }
        default:
            if (vp_ctx_use_vault(a->ctx, NULL, NULL, NULL, &err) != 0 ||
                vp_ctx_use_vault(a->ctx, a->v, NULL, NULL, &err) != 0)
                atomic_fetch_add(a->bad, 1);
            break;
        }
    }
    vp_buf_free(&out);
    return NULL;
}

static void run_threads(vp_ctx *ctx, vp_vault *v, int with_churn, atomic_int *bad)
{
    enum { N = 5 };
    pthread_t th[N];
    tharg a[N];
    atomic_int stop = 0;
    int kinds[N] = {0, 0, 1, 2, with_churn ? 3 : 1};
    for (int i = 0; i < N; i++) {
        a[i] = (tharg){ctx, {0}, kinds[i], with_churn, v, bad, &stop};
        assert_int_equal(vp_ctx_vault_source(ctx, &a[i].vs), 0);
        assert_int_equal(pthread_create(&th[i], NULL, worker, &a[i]), 0);
    }
    for (int i = 0; i < N; i++)
        pthread_join(th[i], NULL);
}

static void test_threads(void **state)
{
    fixture *f = *state;
    vp_field ef[] = {{"token", echo_token}, {"prefix", "stored:"}};
    vp_cred_spec echo_c = {"mycred", "token", ef, 2};
    vp_field vf[] = {{"refresh_token", "rt-T-start"}};
    vp_cred_spec acct = {"acct", "oauth", vf, 1};
    vp_buf out = VP_BUF_INIT;
    atomic_int bad = 0;
    vp_error err;

    assert_int_equal(vp_credstore_put(f->v, "echo", &echo_c, &err), 0);
    assert_int_equal(vp_credstore_put(f->v, "vtrot", &acct, &err), 0);
    vp_ctx *ctx = new_ctx();
    assert_int_equal(vp_ctx_use_vault(ctx, f->v, NULL, NULL, &err), 0);

    /* Stable: every render, fetch and rotation must succeed. */
    run_threads(ctx, f->v, 0, &bad);
    assert_int_equal(atomic_load(&bad), 0);
    char *s = stored_field(f, "vtrot", "acct", "refresh_token");
    assert_string_equal(s, "rt-T-014");
    free(s);
    assert_int_equal(fetch(ctx, "vtrot://acct@token", &out, &err), 0);
    assert_string_equal(out.data, "rt-T-014");

    /* Churn: one thread detaches and re-attaches the vault while the others work. */
    run_threads(ctx, f->v, 1, &bad);
    assert_int_equal(atomic_load(&bad), 0);
    assert_int_equal(vp_ctx_use_vault(ctx, f->v, NULL, NULL, &err), 0);
    assert_int_equal(fetch(ctx, "echo://mycred@x", &out, &err), 0);
    assert_string_equal(out.data, "stored:x");
    vp_ctx_free(ctx);
    vp_buf_free(&out);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_vault_source_render, setup, teardown),
        cmocka_unit_test_setup_teardown(test_ctx_uses_stored_credentials, setup, teardown),
        cmocka_unit_test_setup_teardown(test_cred_update_persists, setup, teardown),
        cmocka_unit_test_setup_teardown(test_cred_update_in_configure, setup, teardown),
        cmocka_unit_test_setup_teardown(test_cred_update_enotsup, setup, teardown),
        cmocka_unit_test_setup_teardown(test_cred_update_store_removed, setup, teardown),
        cmocka_unit_test_setup_teardown(test_threads, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
