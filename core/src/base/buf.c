/*
 * buf - growable byte buffers (vp_buf, see vaultplug/common.h and buf.h).
 *
 * Two allocators: secure buffers (flags & VP__BUF_SECURE) live in the secure arena and grow
 * through vp__secmem_realloc, which wipes the old block; plain buffers use malloc, and are
 * still wiped on growth, reset and free, because a buffer that was plain by mistake must not
 * leave a secret in freed heap memory (and wiping is cheap next to what fills a buffer).
 * Invariant: when data != NULL, data[len] == '\0' and len < cap.
 */
#include "buf.h"

#include <limits.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#include "secmem.h"

#define MIN_CAP 64u

static int is_secure(const vp_buf *b)
{
    return (b->flags & VP__BUF_SECURE) != 0;
}

/* Move the contents into a fresh block of at least ncap bytes of the chosen allocator; the old
 * storage is wiped and released. Nothing changes on failure. */
static int move_to(vp_buf *b, size_t ncap, int secure)
{
    char *nd;
    if (secure && is_secure(b) && b->data != NULL) {
        nd = vp__secmem_realloc(b->data, ncap); /* wipes the old block */
        if (nd == NULL)
            return VP_ENOMEM;
    } else {
        nd = secure ? vp__secmem_alloc(ncap) : malloc(ncap);
        if (nd == NULL)
            return VP_ENOMEM;
        if (b->data != NULL) {
            size_t len = b->len;
            memcpy(nd, b->data, len + 1);
            vp_buf_free(b); /* wipes; keeps flags */
            b->len = len;
        } else {
            nd[0] = '\0';
        }
    }
    if (secure) {
        b->flags |= VP__BUF_SECURE;
        ncap = vp__secmem_usable(nd); /* use the slack of the size class */
    }
    b->data = nd;
    b->cap = ncap;
    return 0;
}

int vp__buf_reserve(vp_buf *b, size_t extra, int secure)
{
    if (b == NULL)
        return VP_EINVAL;
    secure = secure || is_secure(b);
    if (extra > VP__BUF_MAX || b->len > VP__BUF_MAX - extra)
        return VP_ELIMIT;
    size_t need = b->len + extra + 1;
    if (b->data != NULL && need <= b->cap && (!secure || is_secure(b)))
        return 0;
    size_t ncap = b->cap > need ? b->cap : (b->cap < MIN_CAP ? MIN_CAP : b->cap);
    while (ncap < need)
        ncap = ncap > (VP__BUF_MAX + 1) / 2 ? VP__BUF_MAX + 1 : ncap * 2;
    if (ncap > VP__BUF_MAX + 1)
        ncap = VP__BUF_MAX + 1;
    return move_to(b, ncap, secure);
}

int vp__buf_reserve_exact(vp_buf *b, size_t extra, int secure)
{
    if (b == NULL)
        return VP_EINVAL;
    secure = secure || is_secure(b);
    if (extra > VP__BUF_MAX || b->len > VP__BUF_MAX - extra)
        return VP_ELIMIT;
    size_t need = b->len + extra + 1;
    if (b->data != NULL && need <= b->cap && (!secure || is_secure(b)))
        return 0;
    if (need < MIN_CAP)
        need = MIN_CAP;
    return move_to(b, need > b->cap ? need : b->cap, secure);
}

int vp__buf_append(vp_buf *b, const void *data, size_t n)
{
    if (b == NULL || (data == NULL && n > 0))
        return VP_EINVAL;
    /* Appending a part of the buffer to itself: the source moves if the storage grows. */
    size_t self_off = SIZE_MAX;
    if (b->data != NULL && (const char *)data >= b->data && (const char *)data < b->data + b->cap)
        self_off = (size_t)((const char *)data - b->data);
    int rc = vp__buf_reserve(b, n, 0);
    if (rc != 0)
        return rc;
    if (self_off != SIZE_MAX)
        data = b->data + self_off;
    if (n > 0)
        memmove(b->data + b->len, data, n);
    b->len += n;
    b->data[b->len] = '\0';
    return 0;
}

int vp__buf_append_str(vp_buf *b, const char *s)
{
    if (s == NULL)
        return VP_EINVAL;
    return vp__buf_append(b, s, strlen(s));
}

int vp__buf_printf(vp_buf *b, const char *fmt, ...)
{
    if (b == NULL || fmt == NULL)
        return VP_EINVAL;
    va_list ap, ap2;
    va_start(ap, fmt);
    va_copy(ap2, ap);
    /* Format straight into the free space (no temporary copy of possibly secret output); only
     * if it does not fit, grow to the exact size and format again. */
    size_t room = b->data != NULL ? b->cap - b->len : 0;
    int n = vsnprintf(room ? b->data + b->len : NULL, room, fmt, ap);
    va_end(ap);
    int rc = 0;
    if (n < 0) {
        rc = VP_EINVAL;
    } else if ((size_t)n >= room) {
        rc = vp__buf_reserve(b, (size_t)n, 0);
        if (rc == 0 && vsnprintf(b->data + b->len, b->cap - b->len, fmt, ap2) != n)
            rc = VP_EINVAL; /* arguments changed under us: impossible for sane callers */
    }
    va_end(ap2);
    if (rc != 0) {
        /* Drop whatever a partial or failed attempt wrote past len. */
        if (b->data != NULL) {
            sodium_memzero(b->data + b->len, b->cap - b->len);
        }
        return rc;
    }
    b->len += (size_t)n;
    b->data[b->len] = '\0';
    return 0;
}

int vp__buf_set_secure(vp_buf *b, const void *data, size_t n)
{
    if (b == NULL || (data == NULL && n > 0))
        return VP_EINVAL;
    if (n > VP__BUF_MAX)
        return VP_ELIMIT;
    /* Already secure with room: copy in place (memmove: data may point into b) and wipe the
     * rest of the capacity (as freeing would: len may have been shortened by hand), so callers
     * that refill one buffer per render or lookup allocate nothing. */
    if (b->data != NULL && is_secure(b) && n < b->cap) {
        if (n > 0)
            memmove(b->data, data, n);
        sodium_memzero(b->data + n, b->cap - n);
        b->len = n;
        return 0;
    }
    /* Copy into new storage before releasing the old one: data may point into b. */
    size_t cap = n + 1 < MIN_CAP ? MIN_CAP : n + 1;
    char *nd = vp__secmem_alloc(cap);
    if (nd == NULL)
        return VP_ENOMEM;
    if (n > 0)
        memcpy(nd, data, n);
    nd[n] = '\0';
    vp_buf_free(b);
    b->data = nd;
    b->len = n;
    b->cap = vp__secmem_usable(nd);
    b->flags |= VP__BUF_SECURE;
    return 0;
}

void vp__buf_reset(vp_buf *b)
{
    if (b == NULL || b->data == NULL)
        return;
    /* The whole capacity, not just len: callers may have shortened len by hand. */
    sodium_memzero(b->data, b->cap);
    b->len = 0;
}

void vp_buf_free(vp_buf *buf)
{
    if (buf == NULL)
        return;
    if (buf->data != NULL) {
        if (is_secure(buf)) {
            vp__secmem_free(buf->data); /* wipes the block */
        } else {
            sodium_memzero(buf->data, buf->cap);
            free(buf->data);
        }
    }
    buf->data = NULL;
    buf->len = 0;
    buf->cap = 0;
    /* flags stay: a secure buffer reused after free stays secure. */
}

const char *vp_version(void)
{
    return VP_VERSION_STRING;
}
