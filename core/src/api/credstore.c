/*
 * credstore - named provider credentials sealed in the vault's `credential` section.
 *
 * Record name: "<provider>.<name>" (provider names have no '.', so the split is unambiguous, and
 * both parts fit the vault's name rule). Record value, built and parsed only in secure memory
 * (field values are secrets, so they never pass through JSON or ordinary heap):
 *
 *   "VPC1" | u8 type_len | type | u8 n_fields | n_fields x ( u8 key_len | key | u32 val_len | val )
 *
 * (integers little-endian). Masking for listings uses the provider's declared cred_types
 * (VP_FIELD_SECRET) when a context is given, and masks everything it cannot classify.
 *
 * The second half wires an opened vault into a context (vp_ctx_use_vault): stored credentials
 * are registered in the context and flagged as coming from the store, `{{ vault.NAME }}` reads
 * through the context, and the host's cred_update() writes a changed field back to the store.
 * See credstore_int.h for the locking.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#include "vaultplug/credstore.h"

#include "buf.h"
#include "call.h"
#include "credstore_int.h"
#include "ctx.h"
#include "errint.h"
#include "le.h"
#include "loader.h"
#include "secmem.h"
#include "vault_int.h"

#define PROVIDER_MAX  63
#define CRED_NAME_MAX 64
#define FIELD_KEY_MAX 64
#define TYPE_MAX      64
#define MAGIC         "VPC1"

static int charset_ok(const char *s, size_t max, int upper_dot_dash)
{
    size_t n = strnlen(s, max + 1);
    if (n == 0 || n > max)
        return 0;
    for (size_t i = 0; i < n; i++) {
        char c = s[i];
        int ok = (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_';
        if (upper_dot_dash)
            ok = ok || (c >= 'A' && c <= 'Z') || c == '.' || c == '-';
        if (!ok)
            return 0;
    }
    return 1;
}

static int check_ids(const char *provider, const char *name, vp_error *err)
{
    if (provider == NULL || !charset_ok(provider, PROVIDER_MAX, 0))
        return vp__err_set(err, NULL, VP_EINVAL, "invalid provider name: use a-z 0-9 _");
    if (name == NULL || !charset_ok(name, CRED_NAME_MAX, 1))
        return vp__err_set(err, NULL, VP_EINVAL,
                           "invalid credential name: use 1 to %d characters from A-Z a-z 0-9 _ . -",
                           CRED_NAME_MAX);
    return 0;
}

static void rec_name(char out[VP_VAULT_NAME_MAX + 1], const char *provider, const char *name)
{
    size_t p = strlen(provider), n = strlen(name);
    memcpy(out, provider, p);
    out[p] = '.';
    memcpy(out + p + 1, name, n + 1);
}

/* Serialise cred into a secure block. */
static int encode(const vp_cred_spec *cred, unsigned char **out, size_t *outlen, vp_error *err)
{
    const char *type = cred->type ? cred->type : "";
    size_t tlen = strlen(type), len = 4 + 1 + tlen + 1, off;
    unsigned char *b;

    if (tlen > TYPE_MAX || (tlen > 0 && !charset_ok(type, TYPE_MAX, 1)))
        return vp__err_set(err, NULL, VP_EINVAL, "invalid credential type");
    if (cred->n_fields > VP_CRED_FIELDS_MAX || (cred->n_fields > 0 && cred->fields == NULL))
        return vp__err_set(err, NULL, VP_EINVAL, "a credential has at most %d fields",
                           VP_CRED_FIELDS_MAX);
    for (size_t i = 0; i < cred->n_fields; i++) {
        const vp_field *f = &cred->fields[i];
        size_t vlen;
        if (f->key == NULL || !charset_ok(f->key, FIELD_KEY_MAX, 0))
            return vp__err_set(err, NULL, VP_EINVAL, "invalid field name: use a-z 0-9 _");
        for (size_t j = 0; j < i; j++)
            if (strcmp(cred->fields[j].key, f->key) == 0)
                return vp__err_set(err, NULL, VP_EINVAL, "field %s given twice", f->key);
        vlen = f->value ? strnlen(f->value, VP_CRED_FIELD_VAL_MAX + 1) : 0;
        if (vlen > VP_CRED_FIELD_VAL_MAX)
            return vp__err_set(err, NULL, VP_ELIMIT, "field %s is over %u bytes", f->key,
                               VP_CRED_FIELD_VAL_MAX);
        len += 1 + strlen(f->key) + 4 + vlen;
    }
    b = vp__secmem_alloc(len);
    if (b == NULL)
        return vp__err_set(err, NULL, VP_ENOMEM, NULL);
    memcpy(b, MAGIC, 4);
    b[4] = (unsigned char)tlen;
    memcpy(b + 5, type, tlen);
    b[5 + tlen] = (unsigned char)cred->n_fields;
    off = 6 + tlen;
    for (size_t i = 0; i < cred->n_fields; i++) {
        const vp_field *f = &cred->fields[i];
        size_t klen = strlen(f->key), vlen = f->value ? strlen(f->value) : 0;
        b[off++] = (unsigned char)klen;
        memcpy(b + off, f->key, klen);
        off += klen;
        vp__le_put32(b + off, (uint32_t)vlen);
        off += 4;
        if (vlen > 0)
            memcpy(b + off, f->value, vlen);
        off += vlen;
    }
    *out = b;
    *outlen = len;
    return 0;
}

static void entry_clear(vp_cred_entry *e)
{
    free(e->provider);
    free(e->name);
    free(e->type);
    for (size_t i = 0; i < e->n_fields; i++) {
        free((char *)e->fields[i].key);
        vp__secmem_free((char *)e->fields[i].value);
    }
    free(e->fields);
    memset(e, 0, sizeof *e);
}

void vp_cred_entries_free(vp_cred_entry *entries, size_t n)
{
    if (entries == NULL)
        return;
    for (size_t i = 0; i < n; i++)
        entry_clear(&entries[i]);
    free(entries);
}

/* Is field `key` of credential type `type` of provider p known to be non-secret? */
static int field_public(const vp__provider *p, const char *type, const char *key)
{
    if (p == NULL || p->info.state != VP_PROVIDER_LOADED || p->table == NULL ||
        p->table->cred_types == NULL)
        return 0;
    for (const vp_cred_type *t = p->table->cred_types; t->name; t++) {
        if (strcmp(t->name, type) != 0 || t->fields == NULL)
            continue;
        for (const vp_cred_field *f = t->fields; f->name; f++)
            if (strcmp(f->name, key) == 0)
                return (f->flags & VP_FIELD_SECRET) == 0;
    }
    return 0;
}

/* Parse a stored record into e (provider/name from the record name). mask: replace values of
 * fields not known to be public (p may be NULL) by VP_CRED_MASK. */
static int decode(const char *recname, const unsigned char *b, size_t len, int mask,
                  const vp__provider *p, vp_cred_entry *e)
{
    const char *dot = strchr(recname, '.');
    vp__le_rd r = vp__le_rd_init(b, len);
    const unsigned char *magic = vp__le_take(&r, 4);
    size_t tlen = vp__le_take8(&r);
    const unsigned char *type = vp__le_take(&r, tlen);
    size_t n = vp__le_take8(&r);

    memset(e, 0, sizeof *e);
    if (dot == NULL || !r.ok || memcmp(magic, MAGIC, 4) != 0)
        return VP_EPROTO;
    e->provider = strndup(recname, (size_t)(dot - recname));
    e->name = strdup(dot + 1);
    e->type = strndup((const char *)type, tlen);
    e->fields = calloc(n ? n : 1, sizeof *e->fields);
    if (!e->provider || !e->name || !e->type || !e->fields)
        goto nomem;
    for (size_t i = 0; i < n; i++) {
        size_t klen = vp__le_take8(&r);
        const char *key = (const char *)vp__le_take(&r, klen);
        size_t vlen = vp__le_take32(&r);
        const char *value = (const char *)vp__le_take(&r, vlen);
        if (!r.ok)
            goto bad;
        if ((e->fields[i].key = strndup(key, klen)) == NULL)
            goto nomem;
        e->n_fields = i + 1;
        if (mask && !field_public(p, e->type, e->fields[i].key))
            e->fields[i].value = vp__secmem_strdup(VP_CRED_MASK);
        else
            e->fields[i].value = vp__secmem_strndup(value, vlen);
        if (e->fields[i].value == NULL)
            goto nomem;
    }
    if (r.off != len)
        goto bad;
    return 0;
bad:
    entry_clear(e);
    return VP_EPROTO;
nomem:
    entry_clear(e);
    return VP_ENOMEM;
}

int vp_credstore_put(vp_vault *vault, const char *provider, const vp_cred_spec *cred, vp_error *err)
{
    char rn[VP_VAULT_NAME_MAX + 1];
    unsigned char *b = NULL;
    size_t len = 0;
    int rc;

    if (vault == NULL || cred == NULL)
        return vp__err_set(err, NULL, VP_EINVAL, NULL);
    rc = check_ids(provider, cred->name, err);
    if (rc != 0)
        return rc;
    rc = vp__secmem_init();
    if (rc != 0)
        return vp__err_set(err, NULL, rc, NULL);
    rc = encode(cred, &b, &len, err);
    if (rc != 0)
        return rc;
    rec_name(rn, provider, cred->name);
    rc = vp__vault_rec_set(vault, VP__VAULT_CREDENTIAL, rn, b, len, err);
    vp__secmem_free(b);
    return rc;
}

int vp_credstore_add(vp_vault *vault, vp_ctx *ctx, const char *provider, const vp_cred_spec *cred,
                     uint32_t timeout_ms, vp_error *err)
{
    int rc;

    if (ctx == NULL)
        return vp_credstore_put(vault, provider, cred, err);
    if (vault == NULL || cred == NULL)
        return vp__err_set(err, NULL, VP_EINVAL, NULL);
    rc = check_ids(provider, cred->name, err);
    if (rc != 0)
        return rc;
    rc = vp_cred_set(ctx, provider, cred, err);
    if (rc != 0)
        return rc;
    rc = vp_validate(ctx, provider, cred->name, timeout_ms, err);
    if (rc == 0)
        rc = vp_credstore_put(vault, provider, cred, err);
    if (rc != 0) {
        vp_error keep;
        if (err != NULL)
            keep = *err;
        (void)vp_cred_unset(ctx, provider, cred->name, NULL);
        if (err != NULL)
            *err = keep;
    }
    return rc;
}

int vp_credstore_get(vp_vault *vault, const char *provider, const char *name, vp_cred_entry **out,
                     vp_error *err)
{
    char rn[VP_VAULT_NAME_MAX + 1];
    vp_buf b = VP_BUF_INIT;
    vp_cred_entry *e;
    int rc;

    if (out != NULL)
        *out = NULL;
    if (vault == NULL || out == NULL)
        return vp__err_set(err, NULL, VP_EINVAL, NULL);
    rc = check_ids(provider, name, err);
    if (rc != 0)
        return rc;
    rec_name(rn, provider, name);
    rc = vp__vault_rec_get(vault, VP__VAULT_CREDENTIAL, rn, &b, err);
    if (rc == VP_ENOTFOUND)
        return vp__err_set(err, NULL, rc, "no stored credential %s for provider %s", name,
                           provider);
    if (rc != 0)
        return rc;
    e = calloc(1, sizeof *e);
    rc = e == NULL ? VP_ENOMEM : decode(rn, (const unsigned char *)b.data, b.len, 0, NULL, e);
    vp_buf_free(&b);
    if (rc != 0) {
        free(e);
        return vp__err_set(err, NULL, rc,
                           rc == VP_EPROTO ? "stored credential is malformed" : NULL);
    }
    *out = e;
    vp_error_clear(err);
    return 0;
}

static int cmp_entry(const void *a, const void *b)
{
    const vp_cred_entry *x = a, *y = b;
    int c = strcmp(x->provider, y->provider);
    return c != 0 ? c : strcmp(x->name, y->name);
}

/* Decode every credential record (masked or not). */
static int load_all(vp_vault *vault, vp_ctx *ctx, int mask, vp_cred_entry **out, size_t *count,
                    vp_error *err)
{
    char **names = NULL;
    size_t n = 0, got = 0;
    vp_cred_entry *es = NULL;
    int rc;

    *out = NULL;
    *count = 0;
    rc = vp__vault_rec_list(vault, VP__VAULT_CREDENTIAL, &names, &n, err);
    if (rc != 0 || n == 0)
        return rc;
    es = calloc(n, sizeof *es);
    if (es == NULL) {
        vp_vault_names_free(names, n);
        return vp__err_set(err, NULL, VP_ENOMEM, NULL);
    }
    for (size_t i = 0; i < n && rc == 0; i++) {
        vp_buf b = VP_BUF_INIT;
        const vp__provider *p = NULL;
        rc = vp__vault_rec_get(vault, VP__VAULT_CREDENTIAL, names[i], &b, err);
        if (rc != 0)
            break;
        if (mask && ctx != NULL) {
            const char *dot = strchr(names[i], '.');
            char prov[PROVIDER_MAX + 1];
            size_t pl = dot ? (size_t)(dot - names[i]) : 0;
            if (pl > 0 && pl <= PROVIDER_MAX) {
                memcpy(prov, names[i], pl);
                prov[pl] = 0;
                p = vp__ctx_find_provider(ctx, prov);
            }
        }
        rc = decode(names[i], (const unsigned char *)b.data, b.len, mask, p, &es[got]);
        vp_buf_free(&b);
        if (rc == 0)
            got++;
        else
            vp__err_set(err, NULL, rc, rc == VP_EPROTO ? "a stored credential is malformed" : NULL);
    }
    vp_vault_names_free(names, n);
    if (rc != 0) {
        vp_cred_entries_free(es, got);
        return rc;
    }
    qsort(es, got, sizeof *es, cmp_entry);
    *out = es;
    *count = got;
    return 0;
}

int vp_credstore_list(vp_vault *vault, vp_ctx *ctx, vp_cred_entry **out, size_t *count,
                      vp_error *err)
{
    int rc;
    if (out != NULL)
        *out = NULL;
    if (count != NULL)
        *count = 0;
    if (vault == NULL || out == NULL || count == NULL)
        return vp__err_set(err, NULL, VP_EINVAL, NULL);
    rc = load_all(vault, ctx, 1, out, count, err);
    if (rc == 0)
        vp_error_clear(err);
    return rc;
}

int vp_credstore_remove(vp_vault *vault, const char *provider, const char *name, vp_error *err)
{
    char rn[VP_VAULT_NAME_MAX + 1];
    int rc;

    if (vault == NULL)
        return vp__err_set(err, NULL, VP_EINVAL, NULL);
    rc = check_ids(provider, name, err);
    if (rc != 0)
        return rc;
    rec_name(rn, provider, name);
    rc = vp__vault_rec_delete(vault, VP__VAULT_CREDENTIAL, rn, err);
    if (rc == VP_ENOTFOUND)
        vp__err_set(err, NULL, rc, "no stored credential %s for provider %s", name, provider);
    return rc;
}

int vp_credstore_clear(vp_vault *vault, size_t *removed, vp_error *err)
{
    if (removed != NULL)
        *removed = 0;
    if (vault == NULL)
        return vp__err_set(err, NULL, VP_EINVAL, NULL);
    return vp__vault_rec_clear(vault, VP__VAULT_CREDENTIAL, removed, err);
}

int vp_credstore_load(vp_vault *vault, vp_ctx *ctx, size_t *loaded, size_t *skipped, vp_error *err)
{
    vp_cred_entry *es = NULL;
    size_t n = 0, ok = 0, skip = 0;
    int rc;

    if (loaded != NULL)
        *loaded = 0;
    if (skipped != NULL)
        *skipped = 0;
    if (vault == NULL || ctx == NULL)
        return vp__err_set(err, NULL, VP_EINVAL, NULL);
    rc = load_all(vault, NULL, 0, &es, &n, err);
    if (rc != 0)
        return rc;
    for (size_t i = 0; i < n && rc == 0; i++) {
        vp_cred_spec spec = vp_cred_entry_spec(&es[i]);
        if (vp__ctx_find_provider(ctx, es[i].provider) == NULL) {
            skip++;
            continue;
        }
        rc = vp_cred_set(ctx, es[i].provider, &spec, err);
        if (rc == 0)
            ok++;
    }
    vp_cred_entries_free(es, n);
    if (loaded != NULL)
        *loaded = ok;
    if (skipped != NULL)
        *skipped = skip;
    if (rc == 0)
        vp_error_clear(err);
    return rc;
}

/* ---- context wiring ------------------------------------------------------------------------ */

void vp__ctx_vault_init(vp_ctx *ctx)
{
    pthread_mutexattr_t ma;

    /* Recursive: a provider's configure() may call cred_update() while the same thread already
     * holds the lock (e.g. vp_credstore_add -> vp_validate -> configure). */
    pthread_mutexattr_init(&ma);
    pthread_mutexattr_settype(&ma, PTHREAD_MUTEX_RECURSIVE);
    pthread_mutex_init(&ctx->vault_lock, &ma);
    ctx->cred_update = vp__credstore_cred_update; /* the host table's cred_update() */
    pthread_mutexattr_destroy(&ma);
    ctx->vault = NULL;
    ctx->retired = NULL;
}

void vp__ctx_vault_fini(vp_ctx *ctx)
{
    /* No other thread uses the context any more (vp_ctx_free's contract); the handle is the
     * caller's and stays open. */
    while (ctx->retired != NULL) {
        vp__retired *r = ctx->retired;
        ctx->retired = r->next;
        if (r->secure)
            vp__secmem_free(r->p);
        else
            free(r->p);
        free(r);
    }
    ctx->vault = NULL;
    pthread_mutex_destroy(&ctx->vault_lock);
}

/* Does the context credential c hold exactly spec? (ctx->lock held) */
static int cred_matches(const vp__cred *c, const vp_cred_spec *spec)
{
    if (strcmp(c->type, spec->type ? spec->type : "") != 0 || c->n_fields != spec->n_fields)
        return 0;
    for (size_t i = 0; i < spec->n_fields; i++) {
        size_t len = strlen(spec->fields[i].value);
        if (strcmp(c->fields[i].key, spec->fields[i].key) != 0 || c->fields[i].value_len != len ||
            sodium_memcmp(c->fields[i].value, spec->fields[i].value, len) != 0)
            return 0;
    }
    return 1;
}

/* Flag the credential vp_cred_set just registered as coming from the store. If another thread
 * replaced it in between (it no longer matches), it is not ours and stays unflagged. */
static void flag_from_store(vp_ctx *ctx, const vp__provider *p, const vp_cred_spec *spec)
{
    pthread_mutex_lock(&ctx->lock);
    for (vp__cred *c = ctx->creds; c != NULL; c = c->next)
        if (c->prov == p && strcmp(c->name, spec->name) == 0) {
            if (cred_matches(c, spec))
                c->from_store = 1;
            break;
        }
    pthread_mutex_unlock(&ctx->lock);
}

/* Forget every credential that came from the attached store and detach the vault (vault_lock
 * held). One at a time, without allocating, so it cannot fail. */
static void detach_locked(vp_ctx *ctx)
{
    for (;;) {
        char name[CRED_NAME_MAX + 1];
        const char *prov = NULL;
        pthread_mutex_lock(&ctx->lock);
        for (vp__cred *c = ctx->creds; c != NULL; c = c->next)
            if (c->from_store) {
                /* Cleared first: an instance still using it must not write to the store any
                 * more (it is unlinked below, and cred_update() requires a linked credential). */
                c->from_store = 0;
                prov = c->prov->name;
                snprintf(name, sizeof name, "%s", c->name);
                break;
            }
        pthread_mutex_unlock(&ctx->lock);
        if (prov == NULL)
            break;
        (void)vp_cred_unset(ctx, prov, name, NULL);
    }
    ctx->vault = NULL;
}

int vp_ctx_use_vault(vp_ctx *ctx, vp_vault *vault, size_t *loaded, size_t *skipped, vp_error *err)
{
    vp_cred_entry *es = NULL;
    size_t n = 0, ok = 0, skip = 0;
    int rc = 0;

    if (loaded != NULL)
        *loaded = 0;
    if (skipped != NULL)
        *skipped = 0;
    if (ctx == NULL)
        return vp__err_set(err, NULL, VP_EINVAL, NULL);
    pthread_mutex_lock(&ctx->vault_lock);
    detach_locked(ctx);
    if (vault == NULL)
        goto out;
    rc = load_all(vault, NULL, 0, &es, &n, err);
    for (size_t i = 0; i < n && rc == 0; i++) {
        vp_cred_spec spec = vp_cred_entry_spec(&es[i]);
        const vp__provider *p = vp__ctx_find_provider(ctx, es[i].provider);
        vp_error e;
        if (p == NULL) {
            skip++;
            continue;
        }
        rc = vp_cred_set(ctx, es[i].provider, &spec, &e);
        if (rc == VP_EINVAL || rc == VP_ELIMIT) {
            /* The provider (or this library) refuses it, e.g. a type a newer provider version
             * dropped: the other credentials still work. The message names no value. */
            vp__log_write(ctx->log, VP_LEVEL_WARN, "core",
                          "stored credential %s of provider %s was not loaded: %s", es[i].name,
                          es[i].provider, e.message);
            skip++;
            rc = 0;
            continue;
        }
        if (rc != 0) {
            vp__err_set(err, NULL, rc, "loading stored credential %s of provider %s: %s",
                        es[i].name, es[i].provider, e.message);
            break;
        }
        flag_from_store(ctx, p, &spec);
        ok++;
    }
    vp_cred_entries_free(es, n);
    if (rc != 0) {
        detach_locked(ctx); /* leave nothing half-loaded */
        ok = skip = 0;
        goto out;
    }
    ctx->vault = vault;
out:
    pthread_mutex_unlock(&ctx->vault_lock);
    if (loaded != NULL)
        *loaded = ok;
    if (skipped != NULL)
        *skipped = skip;
    if (rc == 0)
        vp_error_clear(err);
    return rc;
}

static int ctx_source_lookup(void *ud, const char *name, vp_buf *out, vp_error *err)
{
    vp_ctx *ctx = ud;
    vp_vault_source vs;
    int rc;

    if (ctx == NULL || name == NULL || out == NULL)
        return vp__err_set(err, NULL, VP_EINVAL, NULL);
    pthread_mutex_lock(&ctx->vault_lock);
    if (ctx->vault == NULL)
        rc = vp__err_set(err, NULL, VP_ENOTFOUND, "no secret named %.*s: no local vault is open",
                         VP_VAULT_NAME_MAX, name);
    else if ((rc = vp_vault_as_source(ctx->vault, &vs)) == 0)
        rc = vs.lookup(vs.ud, name, out, err);
    pthread_mutex_unlock(&ctx->vault_lock);
    return rc;
}

int vp_ctx_vault_source(vp_ctx *ctx, vp_vault_source *out)
{
    if (out != NULL)
        memset(out, 0, sizeof *out);
    if (ctx == NULL || out == NULL)
        return VP_EINVAL;
    out->ud = ctx;
    out->lookup = ctx_source_lookup;
    return 0;
}

/* ---- cred_update --------------------------------------------------------------------------- */

/* Is c still registered in ctx and loaded from the store? (ctx->lock held) */
static int from_store_locked(vp_ctx *ctx, const vp__cred *c)
{
    for (const vp__cred *x = ctx->creds; x != NULL; x = x->next)
        if (x == c)
            return c->from_store;
    return 0;
}

static void retire(vp_ctx *ctx, vp__retired *node, void *p, int secure)
{
    node->p = p;
    node->secure = secure;
    node->next = ctx->retired;
    ctx->retired = node;
}

/* Set field key of the context credential c to *nv (secure, NUL-terminated, len bytes; taken
 * over, *nv = NULL, when it is stored). VP_ENOTSUP if c is no longer registered in ctx or does
 * not come from the store. Caller holds vault_lock.
 *
 * A provider may hold a borrowed view of c (the vp_cred of configure() points at c->fields and
 * a provider may call cred_update() from configure()), so nothing it can see is freed here: a
 * value that fits its block is overwritten in place; a replaced value block or field array is
 * parked on ctx->retired until the context is freed (rotations are rare, so this stays small). */
static int ctx_field_update(vp_ctx *ctx, vp__cred *c, const char *key, char **nv, size_t len)
{
    vp__retired *r1 = calloc(1, sizeof *r1), *r2 = calloc(1, sizeof *r2);
    char *kdup = strdup(key);
    vp_kv *nf = NULL;
    uint8_t *nm = NULL;
    int rc = 0, secret;
    size_t i, n;

    if (r1 == NULL || r2 == NULL || kdup == NULL) {
        rc = VP_ENOMEM;
        goto out;
    }
    pthread_mutex_lock(&ctx->lock);
    if (!from_store_locked(ctx, c)) {
        rc = VP_ENOTSUP;
        goto unlock;
    }
    /* Unknown fields are treated as secret, as vp_cred_set does. */
    secret = !field_public(c->prov, c->type, key);
    n = c->n_fields;
    for (i = 0; i < n; i++)
        if (strcmp(c->fields[i].key, key) == 0)
            break;
    if (i < n) {
        vp_kv *f = &c->fields[i];
        char *old = (char *)f->value;
        size_t oldlen = f->value_len;
        /* Mask the new value before the old one stops being masked, and unmask the old one
         * while its bytes are still intact (the redactor matches by content). */
        if (secret)
            vp__log_mask(ctx->log, *nv, len);
        if (c->masked[i])
            vp__log_unmask(ctx->log, old, oldlen);
        c->masked[i] = (uint8_t)secret;
        if (vp__secmem_usable(old) > len) {
            memcpy(old, *nv, len);
            if (oldlen > len)
                sodium_memzero(old + len, oldlen - len);
            old[len] = '\0';
            f->value_len = len;
        } else {
            f->value = *nv;
            f->value_len = len;
            *nv = NULL;
            retire(ctx, r1, old, 1);
            r1 = NULL;
        }
        goto unlock;
    }
    if (n >= VP_CRED_FIELDS_MAX) {
        rc = VP_ELIMIT;
        goto unlock;
    }
    nf = malloc((n + 1) * sizeof *nf);
    nm = malloc(n + 1);
    if (nf == NULL || nm == NULL) {
        rc = VP_ENOMEM;
        goto unlock;
    }
    if (n > 0) {
        memcpy(nf, c->fields, n * sizeof *nf);
        memcpy(nm, c->masked, n);
    }
    nf[n] = (vp_kv){kdup, *nv, len};
    nm[n] = (uint8_t)secret;
    if (secret)
        vp__log_mask(ctx->log, *nv, len);
    retire(ctx, r1, c->fields, 0);
    retire(ctx, r2, c->masked, 0);
    c->fields = nf;
    c->masked = nm;
    c->n_fields = n + 1;
    r1 = r2 = NULL;
    kdup = NULL;
    nf = NULL;
    nm = NULL;
    *nv = NULL;
unlock:
    pthread_mutex_unlock(&ctx->lock);
out:
    free(r1);
    free(r2);
    free(kdup);
    free(nf);
    free(nm);
    return rc;
}

typedef struct upd_arg {
    const char *recname;
    const char *key;
    const char *value; /* secure, NUL-terminated */
} upd_arg;

/* Rewrite a stored credential record with field key set to value (vp__vault_update_fn). */
static int store_update_fn(void *arg, const unsigned char *old, size_t oldlen, unsigned char **out,
                           size_t *outlen, vp_error *err)
{
    upd_arg *a = arg;
    vp_cred_entry e;
    vp_field *fl;
    size_t n;
    int rc = decode(a->recname, old, oldlen, 0, NULL, &e);

    if (rc != 0)
        return vp__err_set(err, NULL, rc,
                           rc == VP_EPROTO ? "stored credential is malformed" : NULL);
    fl = calloc(e.n_fields + 1, sizeof *fl);
    if (fl == NULL) {
        entry_clear(&e);
        return vp__err_set(err, NULL, VP_ENOMEM, NULL);
    }
    for (n = 0; n < e.n_fields; n++)
        fl[n] = (vp_field){e.fields[n].key, e.fields[n].value};
    size_t i;
    for (i = 0; i < n; i++)
        if (strcmp(fl[i].key, a->key) == 0)
            break;
    fl[i] = (vp_field){a->key, a->value};
    vp_cred_spec spec = {e.name, e.type, fl, i == n ? n + 1 : n};
    rc = encode(&spec, out, outlen, err);
    free(fl);
    entry_clear(&e);
    return rc;
}

int vp__credstore_cred_update(vp_call *call, const char *key, const char *value, size_t len)
{
    char rn[VP_VAULT_NAME_MAX + 1];
    vp_ctx *ctx;
    vp__cred *c;
    char *nv;
    vp_error e;
    int src, crc, ok;

    if (call == NULL)
        return VP_EINVAL;
    if (key == NULL || (value == NULL && len > 0))
        return vp__call_fail(call, VP_EINVAL, "cred_update: invalid argument");
    if (!charset_ok(key, FIELD_KEY_MAX, 0))
        return vp__call_fail(call, VP_EINVAL, "cred_update: invalid field name: use a-z 0-9 _");
    if (len > VP_CRED_FIELD_VAL_MAX)
        return vp__call_fail(call, VP_ELIMIT, "cred_update: field %s is over %u bytes", key,
                             VP_CRED_FIELD_VAL_MAX);
    /* Credential fields are C strings everywhere (vp_cred_spec, the record format). */
    if (len > 0 && memchr(value, 0, len) != NULL)
        return vp__call_fail(call, VP_EINVAL, "cred_update: field %s: value contains a NUL byte",
                             key);
    ctx = call->hc != NULL ? call->hc->ctx : NULL;
    c = call->cred_slot;
    if (ctx == NULL || c == NULL)
        return vp__call_fail(call, VP_ENOTSUP,
                             "this credential does not come from the credential store");
    nv = vp__secmem_strndup(len > 0 ? value : "", len);
    if (nv == NULL)
        return vp__call_fail(call, VP_ENOMEM, "cred_update: out of memory");

    pthread_mutex_lock(&ctx->vault_lock);
    pthread_mutex_lock(&ctx->lock);
    ok = ctx->vault != NULL && from_store_locked(ctx, c) &&
         check_ids(c->prov->name, c->name, NULL) == 0;
    pthread_mutex_unlock(&ctx->lock);
    if (!ok) {
        pthread_mutex_unlock(&ctx->vault_lock);
        vp__secmem_free(nv);
        return vp__call_fail(call, VP_ENOTSUP,
                             "this credential does not come from the credential store");
    }
    /* Provider and credential names are immutable while c lives (the instance holds it). */
    rec_name(rn, c->prov->name, c->name);
    upd_arg a = {rn, key, nv};
    src = vp__vault_rec_update(ctx->vault, VP__VAULT_CREDENTIAL, rn, store_update_fn, &a, &e);
    /* The in-context copy changes even when the store could not be written: the provider has
     * already rotated (the old value is usually dead at the issuer), and this session must keep
     * working; the failure is reported so the provider can log it. */
    crc = ctx_field_update(ctx, c, key, &nv, len);
    pthread_mutex_unlock(&ctx->vault_lock);
    vp__secmem_free(nv);

    if (crc == VP_ENOTSUP)
        return vp__call_fail(call, VP_ENOTSUP,
                             "this credential does not come from the credential store");
    if (crc != 0)
        return vp__call_fail(call, crc, "cred_update: cannot update field %s: %s", key,
                             vp_strerror(crc));
    if (src != 0)
        return vp__call_fail(call, src,
                             "credential %s was updated for this session but could not be saved "
                             "in the credential store: %s",
                             c->name, e.message[0] ? e.message : vp_strerror(src));
    return 0;
}

/* ---- sign-in (login.c) ---------------------------------------------------------------------- */

int vp__credstore_login_save(vp_ctx *ctx, const char *provider, const vp_cred_spec *cred,
                             int *stored, vp_error *err)
{
    const vp__provider *p = vp__ctx_find_provider(ctx, provider);
    int rc;

    *stored = 0;
    if (p == NULL)
        return vp__err_set(err, NULL, VP_ENOTFOUND, "unknown provider '%.64s'", provider);
    /* One vault_lock section: no cred_update() can slip between the commit and the flag. The
     * context check (vp_cred_set) runs first so a refused credential never reaches the store. */
    pthread_mutex_lock(&ctx->vault_lock);
    rc = vp_cred_set(ctx, provider, cred, err);
    if (rc != 0 || ctx->vault == NULL)
        goto out;
    rc = vp_credstore_put(ctx->vault, provider, cred, err);
    if (rc != 0) {
        vp_error keep;
        if (err != NULL)
            keep = *err;
        (void)vp_cred_unset(ctx, provider, cred->name, NULL);
        if (err != NULL)
            *err = keep;
        goto out;
    }
    flag_from_store(ctx, p, cred);
    *stored = 1;
out:
    pthread_mutex_unlock(&ctx->vault_lock);
    return rc;
}
