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
 */
#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#include "vaultplug/credstore.h"

#include "buf.h"
#include "ctx.h"
#include "errint.h"
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

static void put_u32(unsigned char *p, uint32_t v)
{
    for (int i = 0; i < 4; i++)
        p[i] = (unsigned char)(v >> (8 * i));
}

static uint32_t get_u32(const unsigned char *p)
{
    return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
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
        put_u32(b + off, (uint32_t)vlen);
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
    size_t off, tlen, n;

    memset(e, 0, sizeof *e);
    if (dot == NULL || len < 6 || memcmp(b, MAGIC, 4) != 0)
        return VP_EPROTO;
    tlen = b[4];
    if (6 + tlen > len)
        return VP_EPROTO;
    n = b[5 + tlen];
    e->provider = strndup(recname, (size_t)(dot - recname));
    e->name = strdup(dot + 1);
    e->type = strndup((const char *)b + 5, tlen);
    e->fields = calloc(n ? n : 1, sizeof *e->fields);
    if (!e->provider || !e->name || !e->type || !e->fields)
        goto nomem;
    off = 6 + tlen;
    for (size_t i = 0; i < n; i++) {
        size_t klen, vlen;
        if (off + 1 > len)
            goto bad;
        klen = b[off++];
        if (off + klen + 4 > len)
            goto bad;
        e->fields[i].key = strndup((const char *)b + off, klen);
        off += klen;
        vlen = get_u32(b + off);
        off += 4;
        if (vlen > len - off)
            goto bad;
        if (e->fields[i].key == NULL)
            goto nomem;
        e->n_fields = i + 1;
        if (mask && !field_public(p, e->type, e->fields[i].key))
            e->fields[i].value = vp__secmem_strdup(VP_CRED_MASK);
        else
            e->fields[i].value = vp__secmem_strndup((const char *)b + off, vlen);
        if (e->fields[i].value == NULL)
            goto nomem;
        off += vlen;
    }
    if (off != len)
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
        vp_cred_spec spec = {es[i].name, es[i].type, es[i].fields, es[i].n_fields};
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
