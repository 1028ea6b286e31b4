/*
 * cachefile - see cachefile.h. One XChaCha20-Poly1305 seal over the whole entry list, the
 * 40-byte header as associated data; a random nonce per write. Every entry carries the identity
 * it was fetched as (identity.h), captured by the resolver when it fetched the value and carried
 * through every later run that loaded it; a loading context whose identity differs skips it.
 */
#include "cachefile.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <sodium.h>

#include "vaultplug/error.h"
#include "vaultplug/cachefile.h"
#include "vaultplug/resolve.h"
#include "buf.h"
#include "ctx.h"
#include "host.h"
#include "identity.h"
#include "le.h"
#include "resolver.h"
#include "errint.h"
#include "secmem.h"
#include "vault_int.h"

#define KEYBYTES crypto_aead_xchacha20poly1305_ietf_KEYBYTES
#define NONCE    crypto_aead_xchacha20poly1305_ietf_NPUBBYTES
#define TAG      crypto_aead_xchacha20poly1305_ietf_ABYTES

/* 3: every entry's identity is the one captured when it was fetched (identity.h). */
#define FILE_VERSION 3

/* The vault's cache key (secure memory, KEYBYTES), created when asked. VP_ENOTFOUND if the
 * vault has none and create is 0. Creation is get-or-create under the vault's lock: processes
 * rendering for the first time at once all end up with the key committed first, so none seals
 * the cache file under a key the others then see as tampering. */
static int cache_key(vp_vault *vault, int create, vp_buf *key, vp_error *err)
{
    int rc = vp__vault_rec_get(vault, VP__VAULT_META, VP__CACHEFILE_KEYREC, key, err);
    if (rc == VP_ENOTFOUND && create) {
        unsigned char *fresh = vp__secmem_alloc(KEYBYTES);
        if (fresh == NULL)
            return vp__err_set(err, NULL, VP_ENOMEM, NULL);
        randombytes_buf(fresh, KEYBYTES);
        rc = vp__vault_rec_get_or_add(vault, VP__VAULT_META, VP__CACHEFILE_KEYREC, fresh, KEYBYTES,
                                      key, err);
        vp__secmem_free(fresh);
    }
    if (rc == 0 && key->len != KEYBYTES)
        return vp__err_set(err, NULL, VP_EPROTO, "the vault's cache key record is malformed");
    return rc;
}

/* One entry of the plaintext, as visit() writes it. */
typedef struct ent {
    const char *name, *key, *value;
    size_t nl, kl, vl;
    int64_t expires_wall;
    const unsigned char *fp;    /* VP__IDENT_DIGEST bytes */
    const unsigned char *names; /* the identity's input names (identity.h) */
    size_t names_len;
    size_t size; /* bytes of the whole entry */
} ent;

/* Parse the entry at p (avail bytes left). Sealed by us, but parsed defensively: every length
 * is checked against the rest. 0 or VP_EPROTO. */
static int ent_parse(const unsigned char *p, size_t avail, ent *e)
{
    vp__le_rd r = vp__le_rd_init(p, avail);
    e->nl = vp__le_take8(&r);
    e->name = (const char *)vp__le_take(&r, e->nl);
    e->kl = vp__le_take32(&r);
    e->key = (const char *)vp__le_take(&r, e->kl);
    e->vl = vp__le_take32(&r);
    e->value = (const char *)vp__le_take(&r, e->vl);
    e->expires_wall = vp__le_take_i64(&r);
    e->fp = vp__le_take(&r, VP__IDENT_DIGEST);
    /* u16 count, then u16 length + bytes each; walked here only to find where the entry ends
     * (vp__ident_recompute validates the names). */
    size_t start = r.off;
    for (size_t j = 0, n = vp__le_take16(&r); r.ok && j < n; j++)
        (void)vp__le_take(&r, vp__le_take16(&r));
    if (!r.ok)
        return VP_EPROTO;
    e->names = p + start;
    e->names_len = r.off - start;
    e->size = r.off;
    return 0;
}

typedef struct collect {
    vp_buf *pt;
    const char *const *names;
    size_t n_prov;
    int64_t now_mono, now_wall;
    uint32_t count;
    int rc;
    const unsigned char *fkey;
    unsigned char (*seen)[16]; /* short hashes of (key, fingerprint) written, to skip doubles */
    size_t n_seen, cap_seen, n_sorted;
} collect;

static void seen_hash(const char *key, size_t kl, const unsigned char *fp, unsigned char out[16])
{
    crypto_generichash_state st;
    crypto_generichash_init(&st, NULL, 0, 16);
    crypto_generichash_update(&st, (const unsigned char *)key, kl);
    crypto_generichash_update(&st, fp, VP__IDENT_DIGEST);
    crypto_generichash_final(&st, out, 16);
}

static int seen_cmp(const void *a, const void *b)
{
    return memcmp(a, b, 16);
}

/* Whether h was written already; if not, remember it. -1 on out of memory. */
static int seen_check(collect *c, const unsigned char h[16])
{
    if (c->n_sorted > 0 && bsearch(h, c->seen, c->n_sorted, 16, seen_cmp) != NULL)
        return 1;
    for (size_t i = c->n_sorted; i < c->n_seen; i++)
        if (memcmp(c->seen[i], h, 16) == 0)
            return 1;
    if (c->n_seen == c->cap_seen) {
        size_t cap = c->cap_seen ? 2 * c->cap_seen : 64;
        void *n = realloc(c->seen, cap * 16);
        if (n == NULL)
            return -1;
        c->seen = n;
        c->cap_seen = cap;
    }
    memcpy(c->seen[c->n_seen++], h, 16);
    return 0;
}

/* Entry layout (docs/vault-format.md): u8 provider-name length, name, u32 key length, key, u32
 * value length, value, i64 expiry (Unix ms), the keyed identity fingerprint, then the identity's
 * input names (u16 count, u16 length + bytes each). */
static void visit(void *ud, const char *key, size_t prov, const char *value, size_t len,
                  int64_t expires, const unsigned char *ident, size_t ident_len)
{
    collect *c = ud;
    size_t nl = prov < c->n_prov && c->names[prov] ? strlen(c->names[prov]) : 0;
    size_t kl = strlen(key);
    if (c->rc != 0 || nl == 0 || nl > 255 || kl > UINT32_MAX || len > UINT32_MAX)
        return;
    if (ident == NULL || ident_len < VP__IDENT_DIGEST + 2)
        return; /* not known what the value was fetched as: it cannot be checked, so not kept */
    const unsigned char *in = ident + VP__IDENT_DIGEST;
    size_t in_len = ident_len - VP__IDENT_DIGEST;
    unsigned char hdr[8], fp[VP__IDENT_DIGEST];
    int rc = vp__buf_reserve(c->pt, 1 + nl + 4 + kl + 4 + len + 8 + sizeof(fp) + in_len, 1);
    vp__le_put32(hdr, (uint32_t)kl);
    unsigned char n8 = (unsigned char)nl;
    if (rc == 0)
        rc = vp__buf_append(c->pt, &n8, 1);
    if (rc == 0)
        rc = vp__buf_append(c->pt, c->names[prov], nl);
    if (rc == 0)
        rc = vp__buf_append(c->pt, hdr, 4);
    if (rc == 0)
        rc = vp__buf_append(c->pt, key, kl);
    vp__le_put32(hdr, (uint32_t)len);
    if (rc == 0)
        rc = vp__buf_append(c->pt, hdr, 4);
    if (rc == 0 && len > 0)
        rc = vp__buf_append(c->pt, value, len);
    vp__le_put_i64(hdr, c->now_wall + (expires - c->now_mono));
    if (rc == 0)
        rc = vp__buf_append(c->pt, hdr, 8);
    vp__ident_seal(ident, c->fkey, fp);
    if (rc == 0)
        rc = vp__buf_append(c->pt, fp, sizeof(fp));
    if (rc == 0)
        rc = vp__buf_append(c->pt, in, in_len);
    unsigned char h[16];
    seen_hash(key, kl, fp, h);
    if (rc == 0 && seen_check(c, h) < 0)
        rc = VP_ENOMEM;
    if (rc == 0)
        c->count++;
    c->rc = rc;
}

/* A carried entry of another identity (vp__cache_carry): written back as it was read, unless an
 * entry of the same key and identity was written already. */
static void visit_carried(void *ud, const unsigned char *blob, size_t len)
{
    collect *c = ud;
    ent e;
    if (c->rc != 0 || ent_parse(blob, len, &e) != 0 || e.size != len)
        return;
    unsigned char h[16];
    seen_hash(e.key, e.kl, e.fp, h);
    int seen = seen_check(c, h);
    int rc = seen < 0 ? VP_ENOMEM : 0;
    if (seen == 0 && (rc = vp__buf_append(c->pt, blob, len)) == 0)
        c->count++;
    c->rc = rc;
}

static int write_atomic(const char *path, const unsigned char *data, size_t len, vp_error *err)
{
    size_t pl = strlen(path);
    char *tmp = malloc(pl + 8), *dir = strdup(path);
    if (tmp == NULL || dir == NULL) {
        free(tmp);
        free(dir);
        return vp__err_set(err, NULL, VP_ENOMEM, NULL);
    }
    memcpy(tmp, path, pl);
    memcpy(tmp + pl, ".XXXXXX", 8);
    int rc = 0, fd = mkstemp(tmp); /* mode 0600 */
    if (fd < 0) {
        rc = vp__err_set(err, NULL, VP_EIO, "cannot write the cache file: %s", strerror(errno));
    } else {
        size_t off = 0;
        while (off < len) {
            ssize_t w = write(fd, data + off, len - off);
            if (w < 0 && errno == EINTR)
                continue;
            if (w <= 0)
                break;
            off += (size_t)w;
        }
        int ok = off == len && fsync(fd) == 0;
        ok = close(fd) == 0 && ok;
        if (!ok || rename(tmp, path) != 0) {
            rc = vp__err_set(err, NULL, VP_EIO, "cannot write the cache file: %s", strerror(errno));
            unlink(tmp);
        } else {
            char *slash = strrchr(dir, '/');
            if (slash != NULL) {
                *(slash == dir ? slash + 1 : slash) = '\0';
                int dfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
                if (dfd >= 0) {
                    (void)fsync(dfd);
                    close(dfd);
                }
            }
        }
    }
    free(tmp);
    free(dir);
    return rc;
}

int vp__cachefile_save(vp_ctx *ctx, vp__cache *c, const char *const *prov_names, size_t n_prov,
                       int64_t now_mono, int64_t now_wall, vp_vault *vault, const char *path,
                       size_t *saved, vp_error *err)
{
    if (saved != NULL)
        *saved = 0;
    if (c == NULL || vault == NULL || path == NULL)
        return vp__err_set(err, NULL, VP_EINVAL, NULL);
    vp_buf key = VP_BUF_INIT, pt = VP_BUF_INIT;
    int rc = cache_key(vault, 1, &key, err);
    if (rc != 0)
        return rc;
    collect col = {0};
    col.pt = &pt;
    col.names = prov_names;
    col.n_prov = n_prov;
    col.now_mono = now_mono;
    col.now_wall = now_wall;
    col.fkey = (const unsigned char *)key.data;
    (void)ctx; /* every entry carries its own identity */
    if (vp__buf_reserve(&pt, 64, 1) != 0)
        col.rc = VP_ENOMEM;
    if (col.rc == 0)
        vp__cache_foreach_fresh(c, now_mono, visit, &col);
    if (col.rc == 0 && col.n_seen > 1)
        qsort(col.seen, col.n_seen, 16, seen_cmp);
    col.n_sorted = col.n_seen;
    if (col.rc == 0)
        vp__cache_foreach_carried(c, now_wall, visit_carried, &col);
    free(col.seen);
    rc = col.rc;
    unsigned char *img = NULL;
    size_t img_len = VP__CACHEFILE_HDR + pt.len + TAG;
    if (rc == 0 && img_len > VP__CACHEFILE_MAX)
        rc = vp__err_set(err, NULL, VP_ELIMIT, "the cache is too large to save");
    if (rc == 0 && (img = malloc(img_len)) == NULL)
        rc = VP_ENOMEM;
    if (rc == 0) {
        memset(img, 0, VP__CACHEFILE_HDR);
        memcpy(img, VP__CACHEFILE_MAGIC, 8);
        img[8] = FILE_VERSION; /* u16 LE */
        vp__le_put32(img + 12, col.count);
        randombytes_buf(img + 16, NONCE);
        unsigned long long clen = 0;
        crypto_aead_xchacha20poly1305_ietf_encrypt(
            img + VP__CACHEFILE_HDR, &clen, (const unsigned char *)(pt.data ? pt.data : ""), pt.len,
            img, VP__CACHEFILE_HDR, NULL, img + 16, (const unsigned char *)key.data);
        rc = write_atomic(path, img, img_len, err);
    } else if (rc == VP_ENOMEM) {
        vp__err_set(err, NULL, VP_ENOMEM, NULL);
    }
    if (rc == 0 && saved != NULL)
        *saved = col.count;
    free(img);
    vp_buf_free(&pt);
    vp_buf_free(&key);
    return rc;
}

static int read_file(const char *path, unsigned char **out, size_t *len, vp_error *err)
{
    *out = NULL;
    *len = 0;
    int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
    if (fd < 0)
        return errno == ENOENT ? VP_ENOTFOUND
                               : vp__err_set(err, NULL, VP_EIO, "cannot read the cache file: %s",
                                             strerror(errno));
    struct stat sb;
    if (fstat(fd, &sb) != 0 || !S_ISREG(sb.st_mode) || sb.st_size < 0 ||
        (uint64_t)sb.st_size > VP__CACHEFILE_MAX) {
        close(fd);
        return vp__err_set(err, NULL, VP_EPROTO,
                           "the cache file is not a regular file of a "
                           "sane size");
    }
    size_t n = (size_t)sb.st_size, off = 0;
    unsigned char *buf = malloc(n ? n : 1);
    while (buf != NULL && off < n) {
        ssize_t r = read(fd, buf + off, n - off);
        if (r < 0 && errno == EINTR)
            continue;
        if (r <= 0)
            break;
        off += (size_t)r;
    }
    close(fd);
    if (buf == NULL || off != n) {
        free(buf);
        return vp__err_set(err, NULL, buf ? VP_EIO : VP_ENOMEM, "cannot read the cache file");
    }
    *out = buf;
    *len = n;
    return 0;
}

/* The cache file at path, checked and decrypted with the vault's cache key (into key): the
 * plaintext (secure memory, *pt of *ptlen bytes) and its entry count. 0 with *pt NULL when
 * nothing in it can be ours: no file, a vault that never saved a cache (or was reset), or an
 * older version. */
static int open_file(vp_vault *vault, const char *path, vp_buf *key, unsigned char **pt,
                     size_t *ptlen, uint32_t *count, vp_error *err)
{
    *pt = NULL;
    *ptlen = 0;
    *count = 0;
    unsigned char *img = NULL;
    size_t len = 0;
    int rc = read_file(path, &img, &len, err);
    if (rc != 0)
        return rc == VP_ENOTFOUND ? 0 : rc;
    rc = cache_key(vault, 0, key, err);
    if (rc == VP_ENOTFOUND) {
        vp_error_clear(err);
        rc = 0;
        goto out;
    }
    if (rc != 0)
        goto out;
    int ours = len >= VP__CACHEFILE_HDR && memcmp(img, VP__CACHEFILE_MAGIC, 8) == 0 && img[9] == 0;
    if (ours && img[8] < FILE_VERSION)
        goto out; /* Version 1 entries carry no identity; version 2 could hold entries saved with
                   * the inputs of a run that only hit the cache (not the ones they were fetched
                   * with): never serve either, start afresh. */
    if (!ours || len < VP__CACHEFILE_HDR + TAG || img[8] != FILE_VERSION) {
        rc = vp__err_set(err, NULL, VP_EPROTO, "the cache file is damaged or of another version");
        goto out;
    }
    size_t n = len - VP__CACHEFILE_HDR - TAG;
    unsigned char *p = vp__secmem_alloc(n ? n : 1);
    if (p == NULL) {
        rc = vp__err_set(err, NULL, VP_ENOMEM, NULL);
        goto out;
    }
    unsigned long long plen = 0;
    if (crypto_aead_xchacha20poly1305_ietf_decrypt(
            p, &plen, NULL, img + VP__CACHEFILE_HDR, len - VP__CACHEFILE_HDR, img,
            VP__CACHEFILE_HDR, img + 16, (const unsigned char *)key->data) != 0) {
        vp__secmem_free(p);
        rc = vp__err_set(err, NULL, VP_EPROTO,
                         "the cache file is damaged, was tampered with, or belongs to another "
                         "vault");
        goto out;
    }
    *pt = p;
    *ptlen = n;
    *count = vp__le_get32(img + 12);
out:
    free(img);
    return rc;
}

typedef struct loader {
    vp_ctx *ctx;
    vp__cache *c;
    const char *const *prov_names;
    size_t n_prov;
    int64_t now_mono, now_wall;
    const vp_buf *key; /* the vault's cache key */
} loader;

/* One parsed entry (raw: its bytes): into the cache if it is fresh and of this run's identity,
 * carried to the next save if it is another identity's, dropped if expired. 0 (*put = 1 when
 * it went into the cache), VP_EPROTO (err not set) or VP_ENOMEM (err set). */
static int load_entry(const loader *l, const ent *e, const unsigned char *raw, int *put,
                      vp_error *err)
{
    *put = 0;
    size_t p = 0;
    for (; p < l->n_prov; p++)
        if (l->prov_names[p] && strlen(l->prov_names[p]) == e->nl &&
            memcmp(l->prov_names[p], e->name, e->nl) == 0)
            break;
    int64_t left = e->expires_wall - l->now_wall;
    if (left <= 0)
        return 0; /* expired */
    /* The identity as this run's surroundings give it, for the inputs the value was fetched
     * with: it must be the one the value was saved with. */
    unsigned char *ident = NULL, now_fp[VP__IDENT_DIGEST];
    size_t ident_len = 0;
    if (p < l->n_prov && vp__ident_recompute(l->ctx, p, e->key, e->kl, e->names, e->names_len,
                                             &ident, &ident_len) != 0)
        return VP_EPROTO;
    if (ident != NULL)
        vp__ident_seal(ident, (const unsigned char *)l->key->data, now_fp);
    if (ident == NULL || sodium_memcmp(now_fp, e->fp, sizeof(now_fp)) != 0) {
        /* Another identity's (or another provider set's) entry: never served here, but
         * carried to the next save so that switching identities keeps both. */
        vp__ident_free(ident);
        (void)vp__cache_carry(l->c, p, raw, e->size, e->expires_wall);
        return 0;
    }
    if (left > (int64_t)VP_CACHE_TTL_MAX_S * 1000)
        left = (int64_t)VP_CACHE_TTL_MAX_S * 1000; /* a clock set back must not extend it */
    char *kcopy = malloc(e->kl + 1);
    if (kcopy == NULL) {
        vp__ident_free(ident);
        return vp__err_set(err, NULL, VP_ENOMEM, NULL);
    }
    memcpy(kcopy, e->key, e->kl);
    kcopy[e->kl] = '\0';
    /* The entry keeps its identity, so a later save (even of a run that only hit the
     * cache) writes it with the inputs it was fetched with. */
    if (strlen(kcopy) != e->kl)
        vp__ident_free(ident);
    else if (vp__cache_put(l->c, kcopy, p, e->value, e->vl, l->now_mono + left, 0, ident,
                           ident_len) == 0)
        *put = 1;
    free(kcopy);
    return 0;
}

int vp__cachefile_load(vp_ctx *ctx, vp__cache *c, const char *const *prov_names, size_t n_prov,
                       int64_t now_mono, int64_t now_wall, vp_vault *vault, const char *path,
                       size_t *loaded, vp_error *err)
{
    if (loaded != NULL)
        *loaded = 0;
    if (c == NULL || vault == NULL || path == NULL)
        return vp__err_set(err, NULL, VP_EINVAL, NULL);
    vp_buf key = VP_BUF_INIT;
    unsigned char *pt = NULL;
    size_t ptlen = 0, off = 0, put = 0;
    uint32_t count = 0;
    int rc = open_file(vault, path, &key, &pt, &ptlen, &count, err);
    loader l = {ctx, c, prov_names, n_prov, now_mono, now_wall, &key};
    for (uint32_t i = 0; rc == 0 && i < count; i++) {
        ent e;
        int one = 0;
        if ((rc = ent_parse(pt + off, ptlen - off, &e)) != 0)
            break;
        rc = load_entry(&l, &e, pt + off, &one, err);
        off += e.size;
        put += (size_t)one;
    }
    if (rc == VP_EPROTO && err != NULL && err->code != VP_EPROTO)
        vp__err_set(err, NULL, VP_EPROTO, "the cache file's contents are malformed");
    if (rc == 0 && loaded != NULL)
        *loaded = put;
    if (pt != NULL) {
        sodium_memzero(pt, ptlen ? ptlen : 1);
        vp__secmem_free(pt);
    }
    vp_buf_free(&key);
    return rc;
}

/* ---- public API over the context's cache --------------------------------------------------- */

typedef int (*file_op)(vp_ctx *, vp__cache *, const char *const *, size_t, int64_t, int64_t,
                       vp_vault *, const char *, size_t *, vp_error *);

static int with_ctx(vp_ctx *ctx, vp_vault *vault, const char *path, size_t *count, file_op op,
                    vp_error *err)
{
    vp_error_clear(err);
    vp__cache *c = ctx ? vp__resolver_cache(ctx->resolver) : NULL;
    if (c == NULL || vault == NULL || path == NULL)
        return vp__err_set(err, NULL, VP_EINVAL, NULL);
    const char **names = calloc(ctx->n_providers ? ctx->n_providers : 1, sizeof(*names));
    if (names == NULL)
        return vp__err_set(err, NULL, VP_ENOMEM, NULL);
    for (size_t i = 0; i < ctx->n_providers; i++)
        names[i] = ctx->providers[i].name;
    int rc = op(ctx, c, names, ctx->n_providers, vp__host_monotonic_ms(&ctx->core_hc),
                vp__host_now_unix_ms(&ctx->core_hc), vault, path, count, err);
    free(names);
    return rc;
}

int vp_cache_save(vp_ctx *ctx, vp_vault *vault, const char *path, size_t *saved, vp_error *err)
{
    return with_ctx(ctx, vault, path, saved, vp__cachefile_save, err);
}

int vp_cache_load(vp_ctx *ctx, vp_vault *vault, const char *path, size_t *loaded, vp_error *err)
{
    return with_ctx(ctx, vault, path, loaded, vp__cachefile_load, err);
}
