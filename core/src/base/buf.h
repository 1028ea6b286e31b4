/*
 * buf - helpers for vp_buf (public type in vaultplug/common.h).
 * A buffer is "secure" once created with VP__BUF_SECURE: its storage then lives in the secure
 * arena and every reallocation wipes the old block.
 */
#ifndef VP_BUF_H
#define VP_BUF_H

#include "vaultplug/common.h"

#define VP__BUF_SECURE 1u

/* Hard maximum of a buffer's length (the NUL comes on top). */
#define VP__BUF_MAX ((size_t)1 << 30)

/* Make sure cap >= len + extra + 1; secure decides the allocator on first allocation, and a
 * plain buffer asked to be secure moves into the arena (the old storage is wiped): once secure,
 * always secure, also after vp__buf_reset and vp_buf_free.
 * 0, VP_EINVAL (b NULL), VP_ELIMIT (len + extra would exceed VP__BUF_MAX) or VP_ENOMEM. The
 * buffer is untouched on failure. Growth is geometric (x2). The functions below return the
 * same codes; vp__buf_printf also VP_EINVAL for an encoding error from vsnprintf. */
int vp__buf_reserve(vp_buf *b, size_t extra, int secure);
/* As vp__buf_reserve, but a buffer that must grow gets exactly len + extra + 1 bytes (plus its
 * allocator's slack) instead of doubling: for a final size known in advance. */
int vp__buf_reserve_exact(vp_buf *b, size_t extra, int secure);
int vp__buf_append(vp_buf *b, const void *data, size_t n);
int vp__buf_append_str(vp_buf *b, const char *s);
int vp__buf_printf(vp_buf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* Replace the contents with a copy of data in secure memory. */
int vp__buf_set_secure(vp_buf *b, const void *data, size_t n);
/* Truncate to zero length, wiping the old contents, keeping the storage. */
void vp__buf_reset(vp_buf *b);

#endif
