/*
 * fetch - vp_cred_set/unset, provider instances, vp_fetch and vp_validate (vaultplug/fetch.h):
 * one secret straight from its provider, no cache, no retries.
 *
 * Instances are created lazily per (provider, credential name), cached, and reference-counted
 * so that replacing a credential while another thread fetches with the old instance is safe:
 * the old instance is unlinked at once and destroyed by whoever drops the last reference.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <sodium.h>

#include "vaultplug/error.h"
#include "vaultplug/fetch.h"
#include "vaultplug/resolve.h"
#include "buf.h"
#include "call.h"
#include "ctx.h"
#include "errint.h"
#include "guard.h"
#include "jsonh.h"
#include "ref.h"
#include "secmem.h"
#include "secret.h"

#define CRED_FIELDS_MAX 64
#define CRED_VALUE_MAX  (64u * 1024)
#define CRED_KEY_MAX    128

/* Credentials carry a reference count under ctx->lock: one for the list while linked, one
 * per instance configured from it. */
typedef struct cred_box {
    vp__cred c;
    unsigned refs;
    int linked;
} cred_box;

static cred_box *box_of(vp__cred *c)
{
    return (cred_box *)c; /* c is the first member */
}

static void cred_free(vp_ctx *ctx, vp__cred *c)
{
    if (c == NULL)
        return;
    for (size_t i = 0; i < c->n_fields; i++) {
        if (c->masked && c->masked[i])
            vp__log_unmask(ctx->log, c->fields[i].value, c->fields[i].value_len);
        free((char *)c->fields[i].key);
        vp__secmem_free((char *)c->fields[i].value);
    }
    free(c->fields);
    free(c->masked);
    free(c->name);
    free(c->type);
    free(box_of(c));
}

/* Drop one reference (caller holds ctx->lock); returns c if the caller must free it. */
static vp__cred *cred_unref_locked(vp__cred *c)
{
    if (c == NULL)
        return NULL;
    cred_box *b = box_of(c);
    if (--b->refs == 0)
        return c;
    return NULL;
}

static void inst_destroy(vp_ctx *ctx, vp__inst *in)
{
    if (in->inst != NULL)
        in->prov->table->destroy(in->inst);
    pthread_mutex_lock(&ctx->lock);
    vp__cred *dead = cred_unref_locked(in->cred);
    pthread_mutex_unlock(&ctx->lock);
    cred_free(ctx, dead);
    pthread_mutex_destroy(&in->call_lock);
    free(in->cred_name);
    free(in);
}

static void inst_release(vp_ctx *ctx, vp__inst *in)
{
    pthread_mutex_lock(&ctx->lock);
    int kill = --in->refs == 0 && !in->linked;
    pthread_mutex_unlock(&ctx->lock);
    if (kill)
        inst_destroy(ctx, in);
}

/* Unlink the instance of (prov, name) if any (caller holds ctx->lock). Returns it if nobody
 * uses it any more, for the caller to destroy after unlocking. */
static vp__inst *inst_unlink_locked(vp_ctx *ctx, const vp__provider *prov, const char *name)
{
    for (vp__inst **pp = &ctx->insts; *pp; pp = &(*pp)->next) {
        vp__inst *in = *pp;
        if (in->prov == prov && strcmp(in->cred_name, name) == 0) {
            *pp = in->next;
            in->next = NULL;
            in->linked = 0;
            return in->refs == 0 ? in : NULL;
        }
    }
    return NULL;
}

static vp__cred *cred_find_locked(vp_ctx *ctx, const vp__provider *prov, const char *name)
{
    for (vp__cred *c = ctx->creds; c; c = c->next)
        if (c->prov == prov && strcmp(c->name, name) == 0)
            return c;
    return NULL;
}

static vp__cred *cred_unlink_locked(vp_ctx *ctx, const vp__provider *prov, const char *name)
{
    for (vp__cred **pp = &ctx->creds; *pp; pp = &(*pp)->next) {
        vp__cred *c = *pp;
        if (c->prov == prov && strcmp(c->name, name) == 0) {
            *pp = c->next;
            c->next = NULL;
            box_of(c)->linked = 0;
            return cred_unref_locked(c);
        }
    }
    return NULL;
}

/* ---- credential description from the provider -------------------------------------------- */

static const vp_cred_type *find_type(const vp__provider *p, const char *type)
{
    if (p->info.state != VP_PROVIDER_LOADED || p->table->cred_types == NULL)
        return NULL;
    for (const vp_cred_type *t = p->table->cred_types; t->name; t++)
        if (strcmp(t->name, type) == 0)
            return t;
    return NULL;
}

static const vp_cred_field *find_field(const vp_cred_type *t, const char *key)
{
    if (t == NULL || t->fields == NULL)
        return NULL;
    /* Field names are case-insensitive (Insomnia's camelCase names, upper-case variables). */
    for (const vp_cred_field *f = t->fields; f->name; f++)
        if (strcasecmp(f->name, key) == 0)
            return f;
    return NULL;
}

static int check_spec(vp_ctx *ctx, const vp__provider *p, const vp_cred_spec *cred,
                      const vp_cred_type **type_out, vp_error *err)
{
    *type_out = NULL;
    /* "" is the credential used by references that name none (e.g. built from
     * VAULTPLUG_<PROVIDER>_<FIELD> variables); it replaces the provider's bare default chain. */
    if (cred->name == NULL || (cred->name[0] != '\0' && !vp__cred_name_valid(cred->name)))
        return vp__err_set(err, NULL, VP_EINVAL,
                           "invalid credential name (must match [A-Za-z0-9_.-]{1,64})");
    if (cred->n_fields > CRED_FIELDS_MAX || (cred->n_fields > 0 && cred->fields == NULL))
        return vp__err_set(err, NULL, VP_EINVAL, "credential: bad field list (at most %d fields)",
                           CRED_FIELDS_MAX);
    for (size_t i = 0; i < cred->n_fields; i++) {
        const vp_field *f = &cred->fields[i];
        if (f->key == NULL || f->key[0] == '\0' || strlen(f->key) > CRED_KEY_MAX ||
            f->value == NULL)
            return vp__err_set(err, NULL, VP_EINVAL, "credential: field %zu has no key or value",
                               i);
        if (strlen(f->value) > CRED_VALUE_MAX)
            return vp__err_set(err, NULL, VP_ELIMIT, "credential: field '%s' is too long", f->key);
        for (size_t j = 0; j < i; j++)
            if (strcmp(cred->fields[j].key, f->key) == 0)
                return vp__err_set(err, NULL, VP_EINVAL, "credential: field '%s' given twice",
                                   f->key);
    }
    const char *type = cred->type ? cred->type : "";
    if (type[0] == '\0' || p->info.state != VP_PROVIDER_LOADED || p->table->cred_types == NULL)
        return 0;
    const vp_cred_type *t = find_type(p, type);
    if (t == NULL)
        return vp__err_set(err, ctx->log, VP_EINVAL, "provider %s has no credential type '%.64s'",
                           p->name, type);
    for (const vp_cred_field *f = t->fields; f && f->name; f++) {
        if (!(f->flags & VP_FIELD_REQUIRED))
            continue;
        size_t i;
        for (i = 0; i < cred->n_fields; i++)
            if (strcmp(cred->fields[i].key, f->name) == 0)
                break;
        if (i == cred->n_fields)
            return vp__err_set(err, NULL, VP_EINVAL,
                               "credential type '%s' of provider %s requires field '%s'", t->name,
                               p->name, f->name);
    }
    *type_out = t;
    return 0;
}

int vp__cred_put(vp_ctx *ctx, const char *provider, const vp_cred_spec *cred, int *replaced,
                 vp_error *err)
{
    vp_error_clear(err);
    *replaced = 0;
    const vp__provider *p = vp__ctx_find_provider(ctx, provider);
    if (p == NULL)
        return vp__err_set(err, NULL, VP_EINVAL, "unknown provider '%.64s'", provider);
    const vp_cred_type *type = NULL;
    int rc = check_spec(ctx, p, cred, &type, err);
    if (rc != 0)
        return rc;

    cred_box *b = calloc(1, sizeof(*b));
    if (b == NULL)
        return vp__err_set(err, NULL, VP_ENOMEM, NULL);
    vp__cred *c = &b->c;
    c->prov = p;
    c->name = strdup(cred->name);
    c->type = strdup(cred->type ? cred->type : "");
    c->fields = calloc(cred->n_fields ? cred->n_fields : 1, sizeof(*c->fields));
    c->masked = calloc(cred->n_fields ? cred->n_fields : 1, 1);
    if (c->name == NULL || c->type == NULL || c->fields == NULL || c->masked == NULL)
        goto oom;
    for (size_t i = 0; i < cred->n_fields; i++) {
        const vp_field *f = &cred->fields[i];
        size_t len = strlen(f->value);
        char *k = strdup(f->key);
        char *v = vp__secmem_strdup(f->value);
        c->fields[c->n_fields] = (vp_kv){k, v, len};
        c->n_fields++;
        if (k == NULL || v == NULL)
            goto oom;
        /* Fields the provider flags secret are masked; so are fields it does not describe at
         * all (we cannot tell, so we err on the side of hiding). */
        const vp_cred_field *fd = find_field(type, f->key);
        if (fd == NULL || (fd->flags & VP_FIELD_SECRET)) {
            vp__log_mask(ctx->log, v, len);
            c->masked[i] = 1;
        }
    }
    b->refs = 1;
    b->linked = 1;

    pthread_mutex_lock(&ctx->lock);
    vp__cred *old = cred_unlink_locked(ctx, p, c->name);
    vp__inst *dead = inst_unlink_locked(ctx, p, c->name);
    c->next = ctx->creds;
    ctx->creds = c;
    pthread_mutex_unlock(&ctx->lock);
    if (dead)
        inst_destroy(ctx, dead);
    *replaced = old != NULL;
    cred_free(ctx, old);
    return 0;
oom:
    cred_free(ctx, c);
    return vp__err_set(err, NULL, VP_ENOMEM, NULL);
}

int vp__cred_remove(vp_ctx *ctx, const char *provider, const char *name, vp_error *err)
{
    vp_error_clear(err);
    const vp__provider *p = vp__ctx_find_provider(ctx, provider);
    if (p == NULL)
        return vp__err_set(err, NULL, VP_EINVAL, "unknown provider '%.64s'", provider);
    pthread_mutex_lock(&ctx->lock);
    int found = cred_find_locked(ctx, p, name) != NULL;
    vp__cred *old = found ? cred_unlink_locked(ctx, p, name) : NULL;
    vp__inst *dead = found ? inst_unlink_locked(ctx, p, name) : NULL;
    pthread_mutex_unlock(&ctx->lock);
    if (!found)
        return vp__err_set(err, NULL, VP_ENOTFOUND, "no credential named %.64s for provider %s",
                           name, p->name);
    if (dead)
        inst_destroy(ctx, dead);
    cred_free(ctx, old);
    return 0;
}

void vp__cred_digest(vp_ctx *ctx, const vp__provider *p, const char *name,
                     crypto_generichash_state *st)
{
    static const unsigned char none = 0, some = 1;
    pthread_mutex_lock(&ctx->lock);
    const vp__cred *c = cred_find_locked(ctx, p, name);
    crypto_generichash_update(st, c ? &some : &none, 1);
    if (c != NULL) {
        crypto_generichash_update(st, (const unsigned char *)c->type, strlen(c->type) + 1);
        /* Fields in key order, so the same credential always digests the same. */
        const char *prev = NULL;
        for (size_t done = 0; done < c->n_fields; done++) {
            const vp_kv *next = NULL;
            for (size_t i = 0; i < c->n_fields; i++) {
                const vp_kv *f = &c->fields[i];
                if ((prev == NULL || strcmp(f->key, prev) > 0) &&
                    (next == NULL || strcmp(f->key, next->key) < 0))
                    next = f;
            }
            if (next == NULL)
                break;
            crypto_generichash_update(st, (const unsigned char *)next->key, strlen(next->key) + 1);
            crypto_generichash_update(st, (const unsigned char *)next->value, next->value_len);
            crypto_generichash_update(st, &none, 1);
            prev = next->key;
        }
    }
    pthread_mutex_unlock(&ctx->lock);
}

int vp__cred_ref(vp_ctx *ctx, const vp__provider *p, const char *name, const vp__cred **c,
                 void **ref)
{
    pthread_mutex_lock(&ctx->lock);
    vp__cred *f = cred_find_locked(ctx, p, name);
    if (f != NULL)
        box_of(f)->refs++;
    pthread_mutex_unlock(&ctx->lock);
    *c = f;
    *ref = f;
    return f == NULL && name[0] != '\0' ? VP_ENOTFOUND : 0;
}

void vp__cred_unref(vp_ctx *ctx, void *ref)
{
    if (ref == NULL)
        return;
    pthread_mutex_lock(&ctx->lock);
    vp__cred *dead = cred_unref_locked(ref);
    pthread_mutex_unlock(&ctx->lock);
    cred_free(ctx, dead);
}

void vp__fetch_release_all(vp_ctx *ctx)
{
    /* No other thread uses the context any more (vp_ctx_free's contract). */
    while (ctx->insts) {
        vp__inst *in = ctx->insts;
        ctx->insts = in->next;
        in->linked = 0;
        if (in->refs == 0)
            inst_destroy(ctx, in);
    }
    while (ctx->creds) {
        vp__cred *c = ctx->creds;
        ctx->creds = c->next;
        box_of(c)->linked = 0;
        if (cred_unref_locked(c))
            cred_free(ctx, c);
    }
}

/* ---- instances --------------------------------------------------------------------------- */

static vp__inst *inst_find_locked(vp_ctx *ctx, const vp__provider *p, const char *name)
{
    for (vp__inst *in = ctx->insts; in; in = in->next)
        if (in->prov == p && strcmp(in->cred_name, name) == 0)
            return in;
    return NULL;
}

/* A provider that passed on secret_set's VP_ELIMIT without a message of its own: the message
 * names the limit (kept in so by secret_set). */
static void note_limit(vp_call *call, int rc, const vp_secret_out *so)
{
    if (rc == VP_ELIMIT && call->message[0] == '\0' && so->message[0] != '\0' && !so->failed)
        snprintf(call->message, sizeof(call->message), "%s", so->message);
}

int vp__provider_error(vp_ctx *ctx, const vp__provider *p, const vp_call *call, int rc,
                       vp_error *err)
{
    const char *msg = call->message[0] ? call->message : vp_strerror(rc);
    /* Messages name their provider once, whether or not the provider already did. */
    size_t n = strlen(p->name);
    if (strncmp(msg, p->name, n) == 0 && msg[n] == ':' && msg[n + 1] == ' ') /* not "name://" */
        return vp__err_set(err, ctx->log, rc, "%s", msg);
    return vp__err_set(err, ctx->log, rc, "%s: %s", p->name, msg);
}

/* ---- guarded provider calls (guard.h) ----------------------------------------------------- */

/* A copy of a reference view that the job owns, so that a call its caller gave up on never
 * reads the caller's memory. */
typedef struct refcopy {
    vp_ref v;
    char *uri, *scheme, *credential, *path, *json_key;
    vp_kv *params;
    vp_json *config;
} refcopy;

static void refcopy_free(refcopy *r)
{
    free(r->uri);
    free(r->scheme);
    free(r->credential);
    free(r->path);
    free(r->json_key);
    for (size_t i = 0; r->params && i < r->v.n_params; i++) {
        free((char *)r->params[i].key);
        free((char *)r->params[i].value);
    }
    free(r->params);
    vp__json_free(r->config);
    memset(r, 0, sizeof(*r));
}

static char *dup_or_null(const char *s, int *bad)
{
    if (s == NULL)
        return NULL;
    char *d = strdup(s);
    if (d == NULL)
        *bad = 1;
    return d;
}

static int refcopy_set(refcopy *r, const vp_ref *src)
{
    memset(r, 0, sizeof(*r));
    int bad = 0;
    r->v = *src;
    r->v.uri = r->uri = dup_or_null(src->uri, &bad);
    r->v.scheme = r->scheme = dup_or_null(src->scheme, &bad);
    r->v.credential = r->credential = dup_or_null(src->credential, &bad);
    r->v.path = r->path = dup_or_null(src->path, &bad);
    r->v.json_key = r->json_key = dup_or_null(src->json_key, &bad);
    r->v.params = NULL;
    r->v.config = NULL;
    if (src->n_params > 0) {
        r->params = calloc(src->n_params, sizeof(*r->params));
        if (r->params == NULL) {
            r->v.n_params = 0;
            bad = 1;
        }
        for (size_t i = 0; r->params && i < src->n_params; i++) {
            char *k = dup_or_null(src->params[i].key, &bad);
            char *v = malloc(src->params[i].value_len + 1);
            if (v != NULL) {
                memcpy(v, src->params[i].value, src->params[i].value_len);
                v[src->params[i].value_len] = '\0';
            } else {
                bad = 1;
            }
            r->params[i] = (vp_kv){k, v, src->params[i].value_len};
        }
        r->v.params = r->params;
    }
    if (src->config != NULL) {
        size_t len = 0;
        char *text = vp__json_dump(src->config, &len);
        if (text == NULL || vp__json_parse(text, len, &r->config) != 0)
            bad = 1;
        vp__secmem_free(text);
        r->v.config = r->config;
    }
    if (bad) {
        refcopy_free(r);
        return VP_ENOMEM;
    }
    return 0;
}

enum { PC_CONFIGURE, PC_FETCH, PC_BATCH, PC_VALIDATE, PC_LIST };

/* One provider call, owned by its caller until the caller gives up, then by the runner. */
typedef struct pcall {
    vp__guarded g;
    int kind;
    vp_ctx *ctx;
    const vp__provider *p;
    vp__inst *in; /* a reference (PC_CONFIGURE: the instance being created, owned) */
    vp_call call;
    int rc;
    vp_cred cred;     /* PC_CONFIGURE */
    refcopy view;     /* PC_FETCH */
    vp_secret_out so; /* PC_FETCH */
    size_t n;         /* PC_BATCH */
    refcopy *views;
    const vp_ref **viewp;
    vp_secret_out *outs;
    vp_secret_out **outp;
    char *prefix;   /* PC_LIST */
    vp_list_out lo; /* PC_LIST */
} pcall;

static void pcall_run(vp__guarded *g)
{
    pcall *c = (pcall *)g;
    const vp_provider *t = c->p->table;
    vp__inst *in = c->in;
    /* The host services' allocations on this (runner) thread count against the context. */
    vp__fault *fs = vp__fault_enter(c->p->hc.fault);
    if (c->kind == PC_CONFIGURE) {
        c->rc = t->configure(c->p->mod, &c->cred, &c->call, &in->inst);
        vp__fault_leave(fs);
        return;
    }
    if (in->serialize)
        pthread_mutex_lock(&in->call_lock);
    if (c->kind == PC_FETCH)
        c->rc = t->fetch(in->inst, &c->view.v, &c->call, &c->so);
    else if (c->kind == PC_BATCH)
        c->rc = t->fetch_batch(in->inst, &c->call, c->n, c->viewp, c->outp);
    else if (c->kind == PC_LIST)
        c->rc = t->list(in->inst, c->prefix, &c->call, &c->lo);
    else
        c->rc = t->validate(in->inst, &c->call);
    if (in->serialize)
        pthread_mutex_unlock(&in->call_lock);
    vp__fault_leave(fs);
}

static void inst_destroy(vp_ctx *ctx, vp__inst *in);
static void inst_release(vp_ctx *ctx, vp__inst *in);

static void pcall_free(pcall *c)
{
    vp__secret_out_clear(&c->so);
    refcopy_free(&c->view);
    for (size_t i = 0; c->outs && i < c->n; i++)
        vp__secret_out_clear(&c->outs[i]);
    for (size_t i = 0; c->views && i < c->n; i++)
        refcopy_free(&c->views[i]);
    free(c->outs);
    free(c->outp);
    free(c->views);
    free(c->viewp);
    free(c->prefix);
    vp__list_out_clear(&c->lo);
    free(c);
}

/* The call returned after its caller gave up: release what the caller would have. */
static void pcall_orphan(vp__guarded *g)
{
    pcall *c = (pcall *)g;
    if (c->kind == PC_CONFIGURE) {
        if (c->rc != 0)
            c->in->inst = NULL;
        inst_destroy(c->ctx, c->in);
    } else {
        inst_release(c->ctx, c->in);
    }
    pcall_free(c);
}

static pcall *pcall_new(vp_ctx *ctx, const vp__provider *p, int kind, vp__inst *in,
                        int64_t deadline_ms)
{
    pcall *c = calloc(1, sizeof(*c));
    if (c == NULL)
        return NULL;
    c->g.run = pcall_run;
    c->g.orphan = pcall_orphan;
    c->kind = kind;
    c->ctx = ctx;
    c->p = p;
    c->in = in;
    vp_host_ctx *hc = (vp_host_ctx *)&p->hc;
    vp__call_init(&c->call, hc, 0);
    c->call.deadline_ms = deadline_ms;
    c->call.cred_slot = in->cred;
    vp__secret_out_init(&c->so, hc);
    vp__list_out_init(&c->lo);
    return c;
}

static const char *pcall_what(int kind)
{
    return kind == PC_CONFIGURE ? "configure"
           : kind == PC_FETCH   ? "fetch"
           : kind == PC_BATCH   ? "fetch_batch"
           : kind == PC_LIST    ? "list"
                                : "validate";
}

/* Run c and wait until its deadline (plus grace). Returns 0 when the provider returned
 * (status in c->rc; c is still the caller's), else the status with err set: VP_ETIMEDOUT
 * when the caller gave up (c and the instance reference are the runner's now; the provider
 * is marked unavailable), VP_ENOMEM when no runner could start (c is still the caller's). */
static int pcall_go(pcall *c, vp_error *err)
{
    int64_t wait = c->ctx->in_helper ? -1 : vp__provider_wait_ms(c->p, c->call.deadline_ms);
    int rc = vp__guard_call(c->ctx->runners, &c->g, wait);
    if (rc == VP_ETIMEDOUT)
        return vp__provider_gave_up(c->ctx, c->p, pcall_what(c->kind), err);
    if (rc != 0)
        return vp__err_set(err, NULL, rc, "%s: cannot start a thread for the provider call",
                           c->p->name);
    c->rc = vp_status_normalize(c->rc);
    return 0;
}

/* Get a referenced instance for (p, cred_name), creating it with configure() if needed. */
static int inst_get(vp_ctx *ctx, const vp__provider *p, const char *cred_name, vp_call *call,
                    vp__inst **out, vp_error *err)
{
    *out = NULL;
    pthread_mutex_lock(&ctx->lock);
    vp__inst *in = inst_find_locked(ctx, p, cred_name);
    if (in != NULL) {
        in->refs++;
        pthread_mutex_unlock(&ctx->lock);
        *out = in;
        return 0;
    }
    pthread_mutex_unlock(&ctx->lock);

    pthread_mutex_lock(&ctx->create_lock);
    pthread_mutex_lock(&ctx->lock);
    in = inst_find_locked(ctx, p, cred_name);
    if (in != NULL) { /* another thread created it while we waited */
        in->refs++;
        pthread_mutex_unlock(&ctx->lock);
        pthread_mutex_unlock(&ctx->create_lock);
        *out = in;
        return 0;
    }
    vp__cred *c = cred_find_locked(ctx, p, cred_name);
    if (c == NULL && cred_name[0] != '\0') {
        pthread_mutex_unlock(&ctx->lock);
        pthread_mutex_unlock(&ctx->create_lock);
        return vp__err_set(err, NULL, VP_ENOTFOUND, "no credential named %s for provider %s",
                           cred_name, p->name);
    }
    if (c != NULL)
        box_of(c)->refs++; /* the new instance's reference */
    pthread_mutex_unlock(&ctx->lock);

    int rc = VP_ENOMEM;
    in = calloc(1, sizeof(*in));
    if (in != NULL && (in->cred_name = strdup(cred_name)) != NULL) {
        in->prov = p;
        in->cred = c;
        in->serialize = !(p->table->caps & VP_CAP_THREADSAFE);
        pthread_mutex_init(&in->call_lock, NULL);
        pcall *pc = pcall_new(ctx, p, PC_CONFIGURE, in, call->deadline_ms);
        if (pc != NULL) {
            /* The credential's strings are the instance's (in->cred), which the job owns
             * until configure() returns. */
            pc->cred = (vp_cred){VP_ABI_HDR(vp_cred), in->cred_name, c ? c->type : "",
                                 c ? c->fields : NULL, c ? c->n_fields : 0};
            rc = pcall_go(pc, err);
            if (rc == VP_ETIMEDOUT) {
                /* The runner owns the new instance (and its credential reference) now. */
                pthread_mutex_unlock(&ctx->create_lock);
                return rc;
            }
            if (rc == 0 && (rc = pc->rc) != 0)
                vp__provider_error(ctx, p, &pc->call, rc, err);
            call->retry_after_ms = pc->call.retry_after_ms;
            pcall_free(pc);
        } else {
            vp__err_set(err, NULL, VP_ENOMEM, NULL);
        }
        if (rc != 0) {
            in->inst = NULL;
            pthread_mutex_destroy(&in->call_lock);
        }
    } else {
        vp__err_set(err, NULL, VP_ENOMEM, NULL);
    }
    if (rc != 0) {
        if (in != NULL)
            free(in->cred_name);
        free(in);
        pthread_mutex_lock(&ctx->lock);
        vp__cred *dead = cred_unref_locked(c);
        pthread_mutex_unlock(&ctx->lock);
        cred_free(ctx, dead);
        pthread_mutex_unlock(&ctx->create_lock);
        return rc;
    }

    pthread_mutex_lock(&ctx->lock);
    in->refs = 1;
    /* Cache it unless the credential changed while configure() ran (then it serves this one
     * call and is destroyed after it). */
    vp__cred *now = cred_find_locked(ctx, p, cred_name);
    if (now == c) {
        in->linked = 1;
        in->next = ctx->insts;
        ctx->insts = in;
    }
    pthread_mutex_unlock(&ctx->lock);
    pthread_mutex_unlock(&ctx->create_lock);
    *out = in;
    return 0;
}

/* One guarded list() call: the job owns the prefix and the output, so a call given up on
 * never touches the caller's memory. On 0, lo (initialised by the caller) holds the names as
 * the provider gave them (unsorted). */
int vp__list_raw(vp_ctx *ctx, const vp__provider *p, const char *cred_name, const char *prefix,
                 int64_t deadline_ms, vp_list_out *lo, vp_error *err)
{
    if (ctx->isolate)
        return vp__iso_list(ctx, p, cred_name, prefix, deadline_ms, lo, err);
    int rc = vp__provider_ready(ctx, p, err);
    if (rc != 0)
        return rc;
    vp_host_ctx *hc = (vp_host_ctx *)&p->hc;
    vp_call call;
    vp__call_init(&call, hc, 0);
    call.deadline_ms = deadline_ms;
    vp__inst *in = NULL;
    rc = inst_get(ctx, p, cred_name, &call, &in, err);
    if (rc != 0)
        return rc;
    pcall *c = pcall_new(ctx, p, PC_LIST, in, deadline_ms);
    if (c == NULL || (c->prefix = strdup(prefix)) == NULL) {
        if (c != NULL)
            pcall_free(c);
        inst_release(ctx, in);
        return vp__err_set(err, NULL, VP_ENOMEM, NULL);
    }
    rc = pcall_go(c, err);
    if (rc == VP_ETIMEDOUT)
        return rc; /* c and the instance reference are the runner's */
    if (rc == 0 && (rc = c->rc) != 0) {
        vp__provider_error(ctx, p, &c->call, rc, err);
    } else if (rc == 0) {
        vp__list_out_clear(lo);
        *lo = c->lo; /* the names move to the caller */
        vp__list_out_init(&c->lo);
    }
    pcall_free(c);
    inst_release(ctx, in);
    return rc;
}

/* ---- fetch and validate ------------------------------------------------------------------ */

static int extract_key_in(vp_ctx *ctx, const vp__ref *ref, const vp_secret_out *so, vp_buf *out,
                          vp_error *err)
{
    vp_json *root = NULL;
    int rc = vp__json_parse(so->value, so->len, &root);
    if (rc == VP_ENOMEM)
        return vp__err_set(err, NULL, VP_ENOMEM, NULL);
    if (rc != 0 || vp__json_type(root) != VP_JSON_OBJECT) {
        vp__json_free(root);
        return vp__err_set(err, ctx->log, VP_EPROTO,
                           "secret %s is not a JSON object, cannot extract key '%s'", ref->uri,
                           ref->json_key);
    }
    const vp_json *m = vp__json_get(root, ref->json_key);
    if (m == NULL) {
        vp__json_free(root);
        return vp__err_set(err, ctx->log, VP_ENOTFOUND, "secret %s has no key '%s'", ref->uri,
                           ref->json_key);
    }
    size_t len = 0;
    const char *s = vp__json_string(m, &len);
    if (s != NULL) {
        rc = vp__buf_set_secure(out, s, len);
    } else {
        char *dump = vp__json_dump(m, &len);
        rc = dump ? vp__buf_set_secure(out, dump, len) : VP_ENOMEM;
        vp__secmem_free(dump);
    }
    vp__json_free(root);
    return rc == 0 ? 0 : vp__err_set(err, NULL, rc, NULL);
}

/* The JSON services' allocations for a context's value count against its fault counter. */
static int extract_key(vp_ctx *ctx, const vp__ref *ref, const vp_secret_out *so, vp_buf *out,
                       vp_error *err)
{
    vp__fault *fs = vp__fault_enter(ctx ? &ctx->fault : NULL);
    int rc = extract_key_in(ctx, ref, so, out, err);
    vp__fault_leave(fs);
    return rc;
}

/* One guarded fetch with a referenced instance (released here, or by the runner when the
 * call was given up on). On 0, *so (initialised by the caller) holds the value. */
static int fetch_one(vp_ctx *ctx, const vp__provider *p, vp__inst *in, const vp_ref *view,
                     int64_t deadline_ms, vp_secret_out *so, uint32_t *retry_after_ms,
                     vp_error *err)
{
    pcall *c = pcall_new(ctx, p, PC_FETCH, in, deadline_ms);
    int rc = c ? refcopy_set(&c->view, view) : VP_ENOMEM;
    if (rc != 0) {
        if (c != NULL)
            pcall_free(c);
        inst_release(ctx, in);
        return vp__err_set(err, NULL, rc, NULL);
    }
    rc = pcall_go(c, err);
    if (rc == VP_ETIMEDOUT)
        return rc; /* c and the instance reference are the runner's */
    if (rc != 0) {
        pcall_free(c);
        inst_release(ctx, in);
        return rc;
    }
    rc = c->rc;
    if (rc != 0) {
        note_limit(&c->call, rc, &c->so);
        vp__provider_error(ctx, p, &c->call, rc, err);
    } else if (c->so.value == NULL) {
        rc = vp__err_set(err, ctx->log, VP_EINTERNAL, "%s: provider returned no value", p->name);
    } else {
        /* Move the value and its metadata to the caller's object. */
        vp_host_ctx *hc = so->hc;
        vp__secret_out_clear(so);
        *so = c->so;
        so->hc = hc;
        vp__secret_out_init(&c->so, c->so.hc);
    }
    if (retry_after_ms != NULL)
        *retry_after_ms = c->call.retry_after_ms;
    pcall_free(c);
    inst_release(ctx, in);
    return rc;
}

int vp_fetch(vp_ctx *ctx, const char *uri, uint32_t timeout_ms, vp_buf *out, vp_fetch_meta *meta,
             vp_error *err)
{
    vp_error_clear(err);
    if (meta != NULL) {
        memset(meta, 0, sizeof(*meta));
        meta->ttl_s = UINT32_MAX;
    }
    vp__ref ref;
    int rc = vp__ref_parse(uri, strnlen(uri, VP__REF_MAX + 1), &ref, err);
    if (rc != 0)
        return rc;
    const vp__provider *p = vp__ctx_find_scheme(ctx, ref.scheme);
    if (p == NULL || p->info.state != VP_PROVIDER_LOADED) {
        rc = vp__ctx_scheme_error(ctx, ref.scheme, p, err);
        vp__ref_free(&ref);
        return rc;
    }
    /* The provider's host context is immutable after loading; the cast only satisfies the
     * call API, which never writes through it. */
    vp_host_ctx *hc = (vp_host_ctx *)&p->hc;
    vp_call call;
    vp__call_init(&call, hc, timeout_ms ? timeout_ms : ctx->default_timeout_ms);
    vp_ref view;
    vp__ref_view(&ref, &view);
    vp_secret_out so;
    vp__secret_out_init(&so, hc);
    if (ctx->isolate) {
        rc = vp__iso_fetch(ctx, p, ref.credential, &view, call.deadline_ms, &so, NULL, err);
        if (rc == 0 && so.value == NULL)
            rc =
                vp__err_set(err, ctx->log, VP_EINTERNAL, "%s: provider returned no value", p->name);
    } else {
        vp__inst *in = NULL;
        rc = vp__provider_ready(ctx, p, err);
        if (rc == 0)
            rc = inst_get(ctx, p, ref.credential, &call, &in, err);
        if (rc == 0)
            rc = fetch_one(ctx, p, in, &view, call.deadline_ms, &so, NULL, err);
    }
    if (rc == 0) {
        if (ref.json_key != NULL) {
            rc = extract_key(ctx, &ref, &so, out, err);
        } else {
            rc = vp__buf_set_secure(out, so.value, so.len);
            if (rc != 0)
                vp__err_set(err, NULL, rc, NULL);
        }
    }
    if (rc == 0 && meta != NULL) {
        meta->ttl_s = so.ttl_s;
        meta->expiry_unix_ms = so.expiry_unix_ms;
        memcpy(meta->version, so.version, sizeof(meta->version));
    }
    vp__secret_out_clear(&so);
    vp__ref_free(&ref);
    return rc;
}

/* Raw fetch for the resolver: one provider call for a parsed reference view (no #key
 * extraction, no cache, no retries). `so` must be initialised for p's host context; on 0 it holds
 * the value and metadata. *retry_after_ms gets the provider's Retry-After hint (0 = none). */
int vp__fetch_raw(vp_ctx *ctx, const vp__provider *p, const char *cred_name, const vp_ref *view,
                  int64_t deadline_ms, vp_secret_out *so, uint32_t *retry_after_ms, vp_error *err)
{
    *retry_after_ms = 0;
    if (ctx->isolate) {
        int rc = vp__iso_fetch(ctx, p, cred_name, view, deadline_ms, so, retry_after_ms, err);
        if (rc == 0 && so->value == NULL)
            rc =
                vp__err_set(err, ctx->log, VP_EINTERNAL, "%s: provider returned no value", p->name);
        return rc;
    }
    int rc = vp__provider_ready(ctx, p, err);
    if (rc != 0)
        return rc;
    vp_host_ctx *hc = (vp_host_ctx *)&p->hc;
    vp_call call;
    vp__call_init(&call, hc, 0);
    call.deadline_ms = deadline_ms;
    vp__inst *in = NULL;
    rc = inst_get(ctx, p, cred_name, &call, &in, err);
    if (rc != 0) {
        *retry_after_ms = call.retry_after_ms;
        return rc;
    }
    return fetch_one(ctx, p, in, view, deadline_ms, so, retry_after_ms, err);
}

/* Batch variant (VP_CAP_BATCH): one fetch_batch call for n views of one credential. Returns the
 * batch status; when 0, each outs[i] has a value, or status != 0 and a message (an item the
 * provider left untouched becomes VP_EINTERNAL). */
int vp__fetch_raw_batch(vp_ctx *ctx, const vp__provider *p, const char *cred_name, size_t n,
                        const vp_ref *const *views, int64_t deadline_ms, vp_secret_out *const *outs,
                        uint32_t *retry_after_ms, vp_error *err)
{
    *retry_after_ms = 0;
    if (ctx->isolate) { /* one request per item: the helper serves one reference at a time */
        for (size_t i = 0; i < n; i++) {
            vp_error e = {0, {0}};
            int st = vp__iso_fetch(ctx, p, cred_name, views[i], deadline_ms, outs[i], NULL, &e);
            if (st == 0 && outs[i]->value == NULL) {
                st = VP_EINTERNAL;
                snprintf(e.message, sizeof(e.message), "%s: provider returned no value", p->name);
            }
            if (st != 0) {
                outs[i]->status = st;
                snprintf(outs[i]->message, sizeof(outs[i]->message), "%s", e.message);
            }
        }
        return 0;
    }
    int rc = vp__provider_ready(ctx, p, err);
    if (rc != 0)
        return rc;
    vp_host_ctx *hc = (vp_host_ctx *)&p->hc;
    vp_call call;
    vp__call_init(&call, hc, 0);
    call.deadline_ms = deadline_ms;
    vp__inst *in = NULL;
    rc = inst_get(ctx, p, cred_name, &call, &in, err);
    if (rc != 0)
        return rc;
    pcall *c = pcall_new(ctx, p, PC_BATCH, in, deadline_ms);
    rc = VP_ENOMEM;
    if (c != NULL) {
        c->n = n;
        c->views = calloc(n ? n : 1, sizeof(*c->views));
        c->viewp = calloc(n ? n : 1, sizeof(*c->viewp));
        c->outs = calloc(n ? n : 1, sizeof(*c->outs));
        c->outp = calloc(n ? n : 1, sizeof(*c->outp));
        rc = c->views && c->viewp && c->outs && c->outp ? 0 : VP_ENOMEM;
        for (size_t i = 0; rc == 0 && i < n; i++) {
            vp__secret_out_init(&c->outs[i], hc);
            c->outp[i] = &c->outs[i];
            rc = refcopy_set(&c->views[i], views[i]);
            c->viewp[i] = &c->views[i].v;
        }
        if (rc != 0)
            c->n = 0; /* nothing to clear beyond what was set */
    }
    if (rc != 0) {
        if (c != NULL) {
            for (size_t i = 0; c->views && i < n; i++)
                refcopy_free(&c->views[i]);
            pcall_free(c);
        }
        inst_release(ctx, in);
        return vp__err_set(err, NULL, rc, NULL);
    }
    rc = pcall_go(c, err);
    if (rc == VP_ETIMEDOUT)
        return rc; /* c and the instance reference are the runner's */
    if (rc != 0) {
        pcall_free(c);
        inst_release(ctx, in);
        return rc;
    }
    rc = c->rc;
    if (rc != 0) {
        vp__provider_error(ctx, p, &c->call, rc, err);
    } else {
        for (size_t i = 0; i < n; i++) {
            vp_secret_out *o = &c->outs[i];
            if (o->failed) {
                o->status = vp_status_normalize(o->status ? o->status : VP_EINTERNAL);
                vp__secmem_free(o->value);
                o->value = NULL;
                o->len = 0;
            } else if (o->value == NULL && o->message[0] != '\0') {
                /* secret_set refused the value (too large) and the provider went on. */
                o->status = VP_ELIMIT;
                char note[VP_ERROR_MAX];
                snprintf(note, sizeof(note), "%s", o->message);
                snprintf(o->message, sizeof(o->message), "%s: %.*s", p->name,
                         (int)(sizeof(note) - strlen(p->name) - 3), note);
            } else if (o->value == NULL) {
                o->status = VP_EINTERNAL;
                snprintf(o->message, sizeof(o->message), "%s: provider returned no value", p->name);
            }
            /* Move the item to the caller's object. */
            vp_host_ctx *ohc = outs[i]->hc;
            vp__secret_out_clear(outs[i]);
            *outs[i] = *o;
            outs[i]->hc = ohc;
            vp__secret_out_init(o, hc);
        }
    }
    *retry_after_ms = c->call.retry_after_ms;
    pcall_free(c);
    inst_release(ctx, in);
    return rc;
}

int vp__fetch_extract_key(vp_ctx *ctx, const char *uri, const char *json_key, const char *value,
                          size_t len, vp_buf *out, vp_error *err)
{
    vp__ref r;
    memset(&r, 0, sizeof(r));
    r.uri = (char *)uri; /* only read for messages */
    r.json_key = (char *)json_key;
    vp_secret_out so;
    memset(&so, 0, sizeof(so));
    so.value = (char *)value;
    so.len = len;
    return extract_key(ctx, &r, &so, out, err);
}

int vp_validate(vp_ctx *ctx, const char *provider, const char *cred_name, uint32_t timeout_ms,
                vp_error *err)
{
    vp_error_clear(err);
    const vp__provider *p = vp__ctx_find_provider(ctx, provider);
    if (p == NULL)
        return vp__err_set(err, NULL, VP_ENOTFOUND, "unknown provider '%.64s'", provider);
    if (p->info.state == VP_PROVIDER_FAILED)
        return vp__err_set(err, ctx->log, VP_EUNAVAIL, "provider '%s' is unavailable: %s", p->name,
                           p->reason);
    if (p->info.state != VP_PROVIDER_LOADED)
        return vp__err_set(err, NULL, VP_EUNAVAIL, "provider '%s' is not enabled", p->name);
    if (cred_name[0] != '\0' && !vp__cred_name_valid(cred_name))
        return vp__err_set(err, NULL, VP_EINVAL, "invalid credential name");
    vp_host_ctx *hc = (vp_host_ctx *)&p->hc;
    vp_call call;
    vp__call_init(&call, hc, timeout_ms ? timeout_ms : ctx->default_timeout_ms);
    if (ctx->isolate)
        return vp__iso_validate(ctx, p, cred_name, call.deadline_ms, err);
    int rc = vp__provider_ready(ctx, p, err);
    if (rc != 0)
        return rc;
    vp__inst *in = NULL;
    rc = inst_get(ctx, p, cred_name, &call, &in, err);
    if (rc != 0)
        return rc;
    pcall *c = pcall_new(ctx, p, PC_VALIDATE, in, call.deadline_ms);
    if (c == NULL) {
        inst_release(ctx, in);
        return vp__err_set(err, NULL, VP_ENOMEM, NULL);
    }
    rc = pcall_go(c, err);
    if (rc == VP_ETIMEDOUT)
        return rc; /* c and the instance reference are the runner's */
    if (rc == 0 && (rc = c->rc) != 0)
        vp__provider_error(ctx, p, &c->call, rc, err);
    pcall_free(c);
    inst_release(ctx, in);
    return rc;
}
