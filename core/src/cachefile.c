/*
 * cachefile - see cachefile.h. One XChaCha20-Poly1305 seal over the whole entry list, the
 * 40-byte header as associated data; a random nonce per write. Every entry carries the identity
 * it was fetched as (see identity()); a loading context whose identity differs skips it.
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
#include "inputs.h"
#include "resolver.h"
#include "errint.h"
#include "secmem.h"
#include "vault_int.h"

#define KEYBYTES crypto_aead_xchacha20poly1305_ietf_KEYBYTES
#define NONCE    crypto_aead_xchacha20poly1305_ietf_NPUBBYTES
#define TAG      crypto_aead_xchacha20poly1305_ietf_ABYTES

static void put_u32(unsigned char *p, uint32_t v)
{
    for (int i = 0; i < 4; i++)
        p[i] = (unsigned char)(v >> (8 * i));
}

static uint32_t get_u32(const unsigned char *p)
{
    return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

static void put_i64(unsigned char *p, int64_t v)
{
    uint64_t u = (uint64_t)v;
    for (int i = 0; i < 8; i++)
        p[i] = (unsigned char)(u >> (8 * i));
}

static int64_t get_i64(const unsigned char *p)
{
    uint64_t u = 0;
    for (int i = 7; i >= 0; i--)
        u = u << 8 | p[i];
    return (int64_t)u;
}

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

#define KEY_SEP '\x1f' /* separates provider, credential and reference in a cache key */
#define FP_LEN  32

/* Hash a file's contents (absent or unreadable: a marker) into st. */
static void digest_file(crypto_generichash_state *st, const char *path)
{
    char full[4096];
    unsigned char buf[4096], mark = 0;
    FILE *f = vp__host_expand_path(path, full, sizeof(full)) == 0 ? fopen(full, "rb") : NULL;
    if (f == NULL) {
        crypto_generichash_update(st, &mark, 1);
        return;
    }
    mark = 1;
    crypto_generichash_update(st, &mark, 1);
    size_t n, total = 0;
    while ((n = fread(buf, 1, sizeof(buf), f)) > 0 && total < (size_t)16 << 20) {
        crypto_generichash_update(st, buf, n);
        total += n;
    }
    fclose(f);
    sodium_memzero(buf, sizeof(buf)); /* a credentials file may have been read */
}

/*
 * The identity a value of provider prov, under cache key `key`, belongs to: the credential as set
 * in ctx (type and fields) and the current values of every environment variable and file the
 * provider read (inputs[], "e:NAME" / "f:PATH"). A keyed BLAKE2b under the cache file's key, so
 * the file reveals nothing about credential values. ctx NULL (white-box tests): inputs only.
 */
static void identity(vp_ctx *ctx, size_t prov, const char *key, size_t key_len,
                     const unsigned char *fkey, char *const *inputs, size_t n_inputs,
                     unsigned char out[FP_LEN])
{
    crypto_generichash_state st;
    crypto_generichash_init(&st, fkey, KEYBYTES, FP_LEN);
    if (ctx != NULL && prov < ctx->n_providers) {
        const char *end = key + key_len;
        const char *c1 = memchr(key, KEY_SEP, key_len);
        const char *c2 = c1 ? memchr(c1 + 1, KEY_SEP, (size_t)(end - c1 - 1)) : NULL;
        char cred[128] = "";
        if (c2 != NULL && (size_t)(c2 - c1 - 1) < sizeof(cred))
            memcpy(cred, c1 + 1, (size_t)(c2 - c1 - 1));
        vp__cred_digest(ctx, &ctx->providers[prov], cred, &st);
    }
    for (size_t i = 0; i < n_inputs; i++) {
        const char *in = inputs[i];
        crypto_generichash_update(&st, (const unsigned char *)in, strlen(in) + 1);
        if (in[0] == 'e') {
            const char *v = getenv(in + 2);
            unsigned char mark = v != NULL;
            crypto_generichash_update(&st, &mark, 1);
            if (v != NULL)
                crypto_generichash_update(&st, (const unsigned char *)v, strlen(v) + 1);
        } else {
            digest_file(&st, in + 2);
        }
    }
    crypto_generichash_final(&st, out, FP_LEN);
    sodium_memzero(&st, sizeof(st));
}

typedef struct collect {
    vp_buf *pt;
    const char *const *names;
    size_t n_prov;
    int64_t now_mono, now_wall;
    uint32_t count;
    int rc;
    vp_ctx *ctx;
    const unsigned char *fkey;
    char ***inputs; /* per provider: what it read, or NULL = unknown (not saved) */
    size_t *n_inputs;
} collect;

static void visit(void *ud, const char *key, size_t prov, const char *value, size_t len,
                  int64_t expires)
{
    collect *c = ud;
    size_t nl = prov < c->n_prov && c->names[prov] ? strlen(c->names[prov]) : 0;
    size_t kl = strlen(key);
    if (c->rc != 0 || nl == 0 || nl > 255 || kl > UINT32_MAX || len > UINT32_MAX)
        return;
    if (c->ctx != NULL && c->inputs[prov] == NULL)
        return; /* what the provider read is not known: its identity cannot be checked */
    char *const *in = c->ctx != NULL ? c->inputs[prov] : NULL;
    size_t n_in = c->ctx != NULL ? c->n_inputs[prov] : 0;
    size_t in_bytes = 2;
    for (size_t i = 0; i < n_in; i++)
        in_bytes += 2 + strlen(in[i]);
    unsigned char hdr[8], fp[FP_LEN];
    int rc = vp__buf_reserve(c->pt, 1 + nl + 4 + kl + 4 + len + 8 + FP_LEN + in_bytes, 1);
    put_u32(hdr, (uint32_t)kl);
    unsigned char n8 = (unsigned char)nl;
    if (rc == 0)
        rc = vp__buf_append(c->pt, &n8, 1);
    if (rc == 0)
        rc = vp__buf_append(c->pt, c->names[prov], nl);
    if (rc == 0)
        rc = vp__buf_append(c->pt, hdr, 4);
    if (rc == 0)
        rc = vp__buf_append(c->pt, key, kl);
    put_u32(hdr, (uint32_t)len);
    if (rc == 0)
        rc = vp__buf_append(c->pt, hdr, 4);
    if (rc == 0 && len > 0)
        rc = vp__buf_append(c->pt, value, len);
    put_i64(hdr, c->now_wall + (expires - c->now_mono));
    if (rc == 0)
        rc = vp__buf_append(c->pt, hdr, 8);
    identity(c->ctx, prov, key, kl, c->fkey, in, n_in, fp);
    if (rc == 0)
        rc = vp__buf_append(c->pt, fp, FP_LEN);
    hdr[0] = (unsigned char)(n_in & 0xff);
    hdr[1] = (unsigned char)(n_in >> 8);
    if (rc == 0)
        rc = vp__buf_append(c->pt, hdr, 2);
    for (size_t i = 0; rc == 0 && i < n_in; i++) {
        size_t l = strlen(in[i]);
        hdr[0] = (unsigned char)(l & 0xff);
        hdr[1] = (unsigned char)(l >> 8);
        rc = vp__buf_append(c->pt, hdr, 2);
        if (rc == 0)
            rc = vp__buf_append(c->pt, in[i], l);
    }
    if (rc == 0)
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
    collect col = {
        &pt,  prov_names, n_prov, now_mono, now_wall, 0, 0, ctx, (const unsigned char *)key.data,
        NULL, NULL};
    if (ctx != NULL) {
        col.inputs = calloc(n_prov ? n_prov : 1, sizeof(*col.inputs));
        col.n_inputs = calloc(n_prov ? n_prov : 1, sizeof(*col.n_inputs));
        if (col.inputs == NULL || col.n_inputs == NULL)
            col.rc = VP_ENOMEM;
        for (size_t i = 0; col.rc == 0 && i < n_prov && i < ctx->n_providers; i++)
            if (vp__inputs_list(ctx->providers[i].hc.inputs, &col.inputs[i], &col.n_inputs[i]) != 0)
                col.inputs[i] = NULL;
    }
    if (col.rc == 0 && vp__buf_reserve(&pt, 64, 1) != 0)
        col.rc = VP_ENOMEM;
    if (col.rc == 0)
        vp__cache_foreach_fresh(c, now_mono, visit, &col);
    rc = col.rc;
    for (size_t i = 0; col.inputs != NULL && i < n_prov; i++)
        vp__inputs_list_free(col.inputs[i], col.n_inputs[i]);
    free(col.inputs);
    free(col.n_inputs);
    unsigned char *img = NULL;
    size_t img_len = VP__CACHEFILE_HDR + pt.len + TAG;
    if (rc == 0 && img_len > VP__CACHEFILE_MAX)
        rc = vp__err_set(err, NULL, VP_ELIMIT, "the cache is too large to save");
    if (rc == 0 && (img = malloc(img_len)) == NULL)
        rc = VP_ENOMEM;
    if (rc == 0) {
        memset(img, 0, VP__CACHEFILE_HDR);
        memcpy(img, VP__CACHEFILE_MAGIC, 8);
        img[8] = 2; /* version, u16 LE (2: entries carry their identity) */
        put_u32(img + 12, col.count);
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

int vp__cachefile_load(vp_ctx *ctx, vp__cache *c, const char *const *prov_names, size_t n_prov,
                       int64_t now_mono, int64_t now_wall, vp_vault *vault, const char *path,
                       size_t *loaded, vp_error *err)
{
    if (loaded != NULL)
        *loaded = 0;
    if (c == NULL || vault == NULL || path == NULL)
        return vp__err_set(err, NULL, VP_EINVAL, NULL);
    unsigned char *img = NULL;
    size_t len = 0;
    int rc = read_file(path, &img, &len, err);
    if (rc == VP_ENOTFOUND)
        return 0;
    if (rc != 0)
        return rc;
    vp_buf key = VP_BUF_INIT;
    rc = cache_key(vault, 0, &key, err);
    if (rc == VP_ENOTFOUND) {
        free(img);
        vp_error_clear(err);
        return 0; /* a vault that never saved a cache (or was reset): nothing is ours */
    }
    unsigned char *pt = NULL;
    size_t ptlen = 0;
    if (rc == 0 && len >= VP__CACHEFILE_HDR && memcmp(img, VP__CACHEFILE_MAGIC, 8) == 0 &&
        img[8] == 1 && img[9] == 0) {
        /* Version 1 entries carry no identity: never serve them, start afresh. */
        free(img);
        vp_buf_free(&key);
        return 0;
    }
    if (rc == 0 && (len < VP__CACHEFILE_HDR + TAG || memcmp(img, VP__CACHEFILE_MAGIC, 8) != 0 ||
                    img[8] != 2 || img[9] != 0))
        rc = vp__err_set(err, NULL, VP_EPROTO, "the cache file is damaged or of another version");
    if (rc == 0) {
        ptlen = len - VP__CACHEFILE_HDR - TAG;
        pt = vp__secmem_alloc(ptlen ? ptlen : 1);
        if (pt == NULL)
            rc = vp__err_set(err, NULL, VP_ENOMEM, NULL);
    }
    unsigned long long plen = 0;
    if (rc == 0 && crypto_aead_xchacha20poly1305_ietf_decrypt(
                       pt, &plen, NULL, img + VP__CACHEFILE_HDR, len - VP__CACHEFILE_HDR, img,
                       VP__CACHEFILE_HDR, img + 16, (const unsigned char *)key.data) != 0)
        rc = vp__err_set(err, NULL, VP_EPROTO,
                         "the cache file is damaged, was tampered with, or belongs to another "
                         "vault");
    uint32_t count = rc == 0 ? get_u32(img + 12) : 0;
    size_t off = 0, put = 0;
    for (uint32_t i = 0; rc == 0 && i < count; i++) {
        /* Sealed by us, but parsed defensively: every length is checked against the rest. */
        if (ptlen - off < 1 || ptlen - off - 1 < pt[off] + 4u) {
            rc = VP_EPROTO;
            break;
        }
        size_t nl = pt[off++];
        const char *name = (const char *)pt + off;
        off += nl;
        size_t kl = get_u32(pt + off);
        off += 4;
        if (ptlen - off < kl || ptlen - off - kl < 4) {
            rc = VP_EPROTO;
            break;
        }
        const char *k = (const char *)pt + off;
        off += kl;
        size_t vl = get_u32(pt + off);
        off += 4;
        if (ptlen - off < vl || ptlen - off - vl < 8) {
            rc = VP_EPROTO;
            break;
        }
        const char *v = (const char *)pt + off;
        off += vl;
        int64_t expires_wall = get_i64(pt + off);
        off += 8;
        if (ptlen - off < FP_LEN + 2) {
            rc = VP_EPROTO;
            break;
        }
        const unsigned char *fp = pt + off;
        off += FP_LEN;
        size_t n_in = (size_t)pt[off] | (size_t)pt[off + 1] << 8;
        off += 2;
        char *inputs[VP__INPUTS_MAX];
        size_t got = 0;
        for (; rc == 0 && got < n_in; got++) {
            size_t l = ptlen - off >= 2 ? ((size_t)pt[off] | (size_t)pt[off + 1] << 8) : SIZE_MAX;
            if (got >= VP__INPUTS_MAX || l == SIZE_MAX || l < 3 || ptlen - off - 2 < l) {
                rc = VP_EPROTO;
                break;
            }
            off += 2;
            if ((inputs[got] = malloc(l + 1)) == NULL) {
                rc = vp__err_set(err, NULL, VP_ENOMEM, NULL);
                break;
            }
            memcpy(inputs[got], pt + off, l);
            inputs[got][l] = '\0';
            off += l;
        }
        size_t p = 0;
        for (; rc == 0 && p < n_prov; p++)
            if (prov_names[p] && strlen(prov_names[p]) == nl &&
                memcmp(prov_names[p], name, nl) == 0)
                break;
        int same = 0;
        if (rc == 0 && p < n_prov) {
            unsigned char now_fp[FP_LEN];
            identity(ctx, p, k, kl, (const unsigned char *)key.data, inputs, got, now_fp);
            same = sodium_memcmp(now_fp, fp, FP_LEN) == 0;
        }
        for (size_t j = 0; j < got; j++)
            free(inputs[j]);
        if (rc != 0)
            break;
        int64_t left = expires_wall - now_wall;
        if (left <= 0 || !same)
            continue; /* expired, or fetched as another identity */
        if (left > (int64_t)VP_CACHE_TTL_MAX_S * 1000)
            left = (int64_t)VP_CACHE_TTL_MAX_S * 1000; /* a clock set back must not extend it */
        if (p == n_prov)
            continue;
        char *kcopy = malloc(kl + 1);
        if (kcopy == NULL) {
            rc = vp__err_set(err, NULL, VP_ENOMEM, NULL);
            break;
        }
        memcpy(kcopy, k, kl);
        kcopy[kl] = '\0';
        if (strlen(kcopy) == kl && vp__cache_put(c, kcopy, p, v, vl, now_mono + left, 0) == 0)
            put++;
        free(kcopy);
    }
    if (rc == VP_EPROTO && err != NULL && err->code != VP_EPROTO)
        vp__err_set(err, NULL, VP_EPROTO, "the cache file's contents are malformed");
    if (rc == 0 && loaded != NULL)
        *loaded = put;
    if (pt != NULL) {
        sodium_memzero(pt, ptlen ? ptlen : 1);
        vp__secmem_free(pt);
    }
    free(img);
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
