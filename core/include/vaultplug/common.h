/*
 * vaultplug/common.h - conventions shared by every public vaultplug header.
 *
 * Style: `vp_` prefix, opaque handles created with `_new` and released with `_free` (free(NULL)
 * is a no-op), `int` status returns (0 = VP_OK, negative VP_E* from vaultplug/status.h), and an
 * optional `vp_error *` out-parameter that receives a human-readable message. Messages never
 * contain secret values: they pass the library's redactor.
 */
#ifndef VAULTPLUG_COMMON_H
#define VAULTPLUG_COMMON_H

#include <stddef.h>
#include <stdint.h>

#include "vaultplug/status.h"

#ifdef __cplusplus
extern "C" {
#endif

#if defined(__GNUC__) || defined(__clang__)
#define VP_EXPORT          __attribute__((visibility("default")))
#define VP_NODISCARD       __attribute__((warn_unused_result))
#define VP_NONNULL(...)    __attribute__((nonnull(__VA_ARGS__)))
#define VP_PRINTF(fmt, va) __attribute__((format(printf, fmt, va)))
#else
#define VP_EXPORT
#define VP_NODISCARD
#define VP_NONNULL(...)
#define VP_PRINTF(fmt, va)
#endif

/* Library version (the C API/ABI of libvaultplug; the plugin ABI is VP_ABI_MAJOR/MINOR). */
#define VP_VERSION_MAJOR  1
#define VP_VERSION_MINOR  0
#define VP_VERSION_PATCH  0
#define VP_VERSION_STRING "1.0.0"

/* Maximum length of an error message, including the terminating NUL. */
#define VP_ERROR_MAX 512

/*
 * Per-call error detail. Pass a pointer to one as the last argument of API functions that take
 * it (or NULL if you only want the status). On failure `code` is the returned status and
 * `message` says what went wrong and, where possible, how to fix it. On success it is cleared.
 */
typedef struct vp_error {
    int code;
    char message[VP_ERROR_MAX];
} vp_error;

/*
 * A growable byte buffer. Buffers that receive secrets are allocated in the library's secure
 * arena; vp_buf_free() wipes and releases any buffer. `data` is always NUL-terminated when
 * non-NULL (the NUL is not counted in `len`). Initialise with VP_BUF_INIT or zeroes.
 */
typedef struct vp_buf {
    char *data;
    size_t len;
    size_t cap;
    unsigned flags; /* internal: which allocator owns data */
} vp_buf;

#define VP_BUF_INIT   \
    {                 \
        NULL, 0, 0, 0 \
    }

/* Wipe and release the buffer's storage; the buffer is left empty and reusable. NULL-safe. */
VP_EXPORT void vp_buf_free(vp_buf *buf);

/* Library version string, e.g. "1.0.0". */
VP_EXPORT const char *vp_version(void);

#ifdef __cplusplus
}
#endif
#endif /* VAULTPLUG_COMMON_H */
