/* abisize - see abisize.h. */
#include "abisize.h"

#include <string.h>

#include "errint.h"

int vp__sized_take(void *dst, size_t dst_size, const void *src, size_t src_size, size_t min_size,
                   const char *type, const char *fix, vp_error *err)
{
    memset(dst, 0, dst_size);
    if (src_size < min_size)
        return vp__err_set(err, NULL, VP_EINVAL,
                           "%s.size is %zu, less than the %zu bytes of version 1.0 (%s)", type,
                           src_size, min_size, fix);
    if (src_size > VP__SIZED_MAX)
        return vp__err_set(err, NULL, VP_EINVAL, "%s.size %zu is implausible (%s)", type, src_size,
                           fix);
    if (src_size > dst_size) {
        const unsigned char *extra = (const unsigned char *)src + dst_size;
        for (size_t i = 0; i < src_size - dst_size; i++)
            if (extra[i] != 0)
                return vp__err_set(err, NULL, VP_EINVAL,
                                   "%s sets fields this library version (%zu bytes of %s) does "
                                   "not know: build against this version's headers or leave "
                                   "them zero",
                                   type, dst_size, type);
    }
    memcpy(dst, src, src_size < dst_size ? src_size : dst_size);
    memcpy(dst, &dst_size, sizeof(dst_size)); /* every such struct starts with size_t size */
    return 0;
}
