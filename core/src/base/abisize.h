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

#include "vaultplug/error.h"

#define VP__SIZED_MAX (64 * 1024)

/* Copy the caller's struct src (src_size bytes as the caller says; at least min_size, the 1.0
 * size) into dst (dst_size bytes, this library's layout), zero-filling the rest; `size` of dst
 * is set to dst_size. 0, or VP_EINVAL with a message naming `type` and how to fix it (`fix`,
 * e.g. "initialise it with vp_options_init"): too small, implausibly large, or a field this
 * library does not know is set. */
int vp__sized_take(void *dst, size_t dst_size, const void *src, size_t src_size, size_t min_size,
                   const char *type, const char *fix, vp_error *err);

#endif
