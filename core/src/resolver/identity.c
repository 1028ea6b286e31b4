/* identity - see identity.h. */
#include "identity.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#include "ctx.h"
#include "host.h"
#include "inputs.h"
#include "le.h"
#include "secmem.h"

#define KEY_SEP         '\x1f' /* separates provider, credential and reference in a cache key */
#define FILE_DIGEST_MAX ((size_t)16 << 20) /* bytes of one input file that count */

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
    while ((n = fread(buf, 1, sizeof(buf), f)) > 0 && total < FILE_DIGEST_MAX) {
        crypto_generichash_update(st, buf, n);
        total += n;
    }
    fclose(f);
    sodium_memzero(buf, sizeof(buf)); /* a credentials file may have been read */
}

/* The digest of the credential named in key and of the current values of names[0..n). */
static void digest(vp_ctx *ctx, size_t prov, const char *key, size_t key_len, char *const *names,
                   size_t n, unsigned char out[VP__IDENT_DIGEST])
{
    crypto_generichash_state st;
    crypto_generichash_init(&st, NULL, 0, VP__IDENT_DIGEST);
    if (ctx != NULL && prov < ctx->n_providers) {
        const char *end = key + key_len;
        const char *c1 = memchr(key, KEY_SEP, key_len);
        const char *c2 = c1 ? memchr(c1 + 1, KEY_SEP, (size_t)(end - c1 - 1)) : NULL;
        char cred[128] = "";
        if (c2 != NULL && (size_t)(c2 - c1 - 1) < sizeof(cred))
            memcpy(cred, c1 + 1, (size_t)(c2 - c1 - 1));
        vp__cred_digest(ctx, &ctx->providers[prov], cred, &st);
    }
    for (size_t i = 0; i < n; i++) {
        const char *in = names[i];
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
    crypto_generichash_final(&st, out, VP__IDENT_DIGEST);
    sodium_memzero(&st, sizeof(st));
}

/* Build the blob for names[0..n): digest, then the names part. */
static int build(vp_ctx *ctx, size_t prov, const char *key, size_t key_len, char *const *names,
                 size_t n, unsigned char **out, size_t *out_len)
{
    size_t len = VP__IDENT_DIGEST + 2;
    for (size_t i = 0; i < n; i++) {
        size_t l = strlen(names[i]);
        if (l > UINT16_MAX)
            return -1;
        len += 2 + l;
    }
    if (n > UINT16_MAX)
        return -1;
    unsigned char *b = vp__secmem_alloc(len);
    if (b == NULL)
        return -1;
    digest(ctx, prov, key, key_len, names, n, b);
    size_t off = VP__IDENT_DIGEST;
    vp__le_put16(b + off, (uint16_t)n);
    off += 2;
    for (size_t i = 0; i < n; i++) {
        size_t l = strlen(names[i]);
        vp__le_put16(b + off, (uint16_t)l);
        off += 2;
        memcpy(b + off, names[i], l);
        off += l;
    }
    *out = b;
    *out_len = len;
    return 0;
}

int vp__ident_capture(vp_ctx *ctx, size_t prov, const char *key, size_t key_len,
                      unsigned char **out, size_t *out_len)
{
    *out = NULL;
    *out_len = 0;
    char **names = NULL;
    size_t n = 0;
    /* An isolated provider reads its environment and files in its helper process, which
     * reports them with each fetch reply (isolate.c adds them to the same record). */
    if (ctx != NULL) {
        if (prov >= ctx->n_providers ||
            vp__inputs_list(ctx->providers[prov].hc.inputs, &names, &n) != 0)
            return -1; /* what the provider read is not known */
    }
    int rc = build(ctx, prov, key, key_len, names, n, out, out_len);
    vp__inputs_list_free(names, n);
    return rc;
}

int vp__ident_recompute(vp_ctx *ctx, size_t prov, const char *key, size_t key_len,
                        const unsigned char *in, size_t in_len, unsigned char **out,
                        size_t *out_len)
{
    *out = NULL;
    *out_len = 0;
    if (in_len < 2)
        return -1;
    size_t n = vp__le_get16(in), off = 2;
    if (n > VP__INPUTS_MAX)
        return -1;
    char **names = calloc(n ? n : 1, sizeof(*names));
    if (names == NULL)
        return -1;
    int rc = 0;
    size_t got = 0;
    for (; got < n; got++) {
        size_t l = in_len - off >= 2 ? vp__le_get16(in + off) : SIZE_MAX;
        /* "e:X" or "f:X" at least, no NUL inside: a name is a C string when recomputed. */
        if (l == SIZE_MAX || l < 3 || in_len - off - 2 < l ||
            memchr(in + off + 2, '\0', l) != NULL || (in[off + 2] != 'e' && in[off + 2] != 'f') ||
            in[off + 3] != ':') {
            rc = -1;
            break;
        }
        off += 2;
        if ((names[got] = malloc(l + 1)) == NULL) {
            rc = -1;
            break;
        }
        memcpy(names[got], in + off, l);
        names[got][l] = '\0';
        off += l;
    }
    if (rc == 0 && off != in_len)
        rc = -1;
    if (rc == 0)
        rc = build(ctx, prov, key, key_len, names, n, out, out_len);
    vp__inputs_list_free(names, got);
    return rc;
}

void vp__ident_seal(const unsigned char *ident, const unsigned char *fkey,
                    unsigned char fp[VP__IDENT_DIGEST])
{
    crypto_generichash(fp, VP__IDENT_DIGEST, ident, VP__IDENT_DIGEST, fkey, 32);
}

void vp__ident_free(unsigned char *ident)
{
    vp__secmem_free(ident); /* wipes */
}
