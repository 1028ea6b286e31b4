/*
 * abisize - size-versioned structs of the public API (vp_options, vp_render_params).
 *
 * A caller compiled against header version X passes sizeof() of X's struct in `size`. This
 * library copies what the caller gave into a zero-filled struct of its own layout, so that:
 *   - an older caller (smaller size, at least the 1.0 size) gets the defaults (zero) for every
 *     field it does not know;
 *   - a newer caller (larger size) is accepted when every field this library does not know is
 *     zero (nothing it asked for is silently ignored); sizes above VP__SIZED_MAX are refused as
 *     corrupt.
 */
#ifndef VP_ABISIZE_H
#define VP_ABISIZE_H

#include <stddef.h>
#include <string.h>

#define VP__SIZED_MAX (64 * 1024)

typedef enum vp__sized_rc {
    VP__SIZED_OK = 0,
    VP__SIZED_SMALL,   /* below the 1.0 size */
    VP__SIZED_LARGE,   /* above VP__SIZED_MAX */
    VP__SIZED_UNKNOWN, /* a field this library does not know is set */
} vp__sized_rc;

/* Copy the caller's struct src (src_size bytes as the caller says) into dst (dst_size bytes,
 * this library's layout), zero-filling the rest. `size` of dst is set to dst_size. */
static inline vp__sized_rc vp__sized_copy(void *dst, size_t dst_size, const void *src,
                                          size_t src_size, size_t min_size)
{
    memset(dst, 0, dst_size);
    if (src_size < min_size)
        return VP__SIZED_SMALL;
    if (src_size > VP__SIZED_MAX)
        return VP__SIZED_LARGE;
    if (src_size > dst_size) {
        const unsigned char *extra = (const unsigned char *)src + dst_size;
        for (size_t i = 0; i < src_size - dst_size; i++)
            if (extra[i] != 0)
                return VP__SIZED_UNKNOWN;
    }
    memcpy(dst, src, src_size < dst_size ? src_size : dst_size);
    memcpy(dst, &dst_size, sizeof(dst_size)); /* every such struct starts with size_t size */
    return VP__SIZED_OK;
}

#endif
