/*
 * le - little-endian integers in the library's binary formats (the vault file, the cache file,
 * stored credential records; docs/vault-format.md), and a bounded reader for parsing them.
 *
 * The put/get helpers read and write exactly 2, 4 or 8 bytes at p; the caller has checked the
 * room. The reader (vp__le_rd) checks it instead: every take first checks the bytes left, and
 * the first one that does not fit marks the reader failed for good (ok = 0) and returns NULL or
 * zero, as every later take does. A parser takes what it needs and checks `ok` once.
 */
#ifndef VP_LE_H
#define VP_LE_H

#include <stddef.h>
#include <stdint.h>

static inline void vp__le_put16(unsigned char *p, uint16_t v)
{
    p[0] = (unsigned char)v;
    p[1] = (unsigned char)(v >> 8);
}

static inline void vp__le_put32(unsigned char *p, uint32_t v)
{
    for (int i = 0; i < 4; i++)
        p[i] = (unsigned char)(v >> (8 * i));
}

static inline void vp__le_put64(unsigned char *p, uint64_t v)
{
    for (int i = 0; i < 8; i++)
        p[i] = (unsigned char)(v >> (8 * i));
}

static inline uint16_t vp__le_get16(const unsigned char *p)
{
    return (uint16_t)(p[0] | p[1] << 8);
}

static inline uint32_t vp__le_get32(const unsigned char *p)
{
    return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

static inline uint64_t vp__le_get64(const unsigned char *p)
{
    return (uint64_t)vp__le_get32(p) | (uint64_t)vp__le_get32(p + 4) << 32;
}

/* Two's complement, as the formats store signed times. */
static inline void vp__le_put_i64(unsigned char *p, int64_t v)
{
    vp__le_put64(p, (uint64_t)v);
}

static inline int64_t vp__le_get_i64(const unsigned char *p)
{
    return (int64_t)vp__le_get64(p);
}

typedef struct vp__le_rd {
    const unsigned char *p;
    size_t len; /* bytes at p */
    size_t off; /* bytes taken */
    int ok;     /* 0 once a take did not fit */
} vp__le_rd;

static inline vp__le_rd vp__le_rd_init(const void *p, size_t len)
{
    vp__le_rd r = {(const unsigned char *)p, len, 0, 1};
    return r;
}

static inline size_t vp__le_rd_left(const vp__le_rd *r)
{
    return r->ok ? r->len - r->off : 0;
}

/* The next n bytes, or NULL (and the reader failed) if fewer are left. */
static inline const unsigned char *vp__le_take(vp__le_rd *r, size_t n)
{
    if (!r->ok || r->len - r->off < n) {
        r->ok = 0;
        return NULL;
    }
    const unsigned char *at = r->p + r->off;
    r->off += n;
    return at;
}

static inline uint8_t vp__le_take8(vp__le_rd *r)
{
    const unsigned char *at = vp__le_take(r, 1);
    return at ? at[0] : 0;
}

static inline uint16_t vp__le_take16(vp__le_rd *r)
{
    const unsigned char *at = vp__le_take(r, 2);
    return at ? vp__le_get16(at) : 0;
}

static inline uint32_t vp__le_take32(vp__le_rd *r)
{
    const unsigned char *at = vp__le_take(r, 4);
    return at ? vp__le_get32(at) : 0;
}

static inline int64_t vp__le_take_i64(vp__le_rd *r)
{
    const unsigned char *at = vp__le_take(r, 8);
    return at ? vp__le_get_i64(at) : 0;
}

#endif
