/*
 * log - levelled logging through the host's callback, with a redactor in front of it.
 *
 * A vp__log belongs to one context. The redactor holds every value registered with
 * vp__log_mask (reference-counted: mask twice, unmask twice) in secure memory and replaces each
 * occurrence in a message by "[REDACTED]" before the message reaches the callback or an error
 * message. Thread-safe.
 */
#ifndef VP_LOG_H
#define VP_LOG_H

#include <stdarg.h>
#include <stddef.h>

#include "vaultplug/context.h"

typedef struct vp__log vp__log;

#define VP__REDACTED "[REDACTED]"
#define VP__MASK_MIN 4 /* shorter values are not masked (they would redact ordinary text) */

int vp__log_new(vp_log_fn fn, void *ud, int level, vp__log **out);
void vp__log_free(vp__log *log);
int vp__log_enabled(const vp__log *log, int level);
void vp__log_write(vp__log *log, int level, const char *source, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
void vp__log_vwrite(vp__log *log, int level, const char *source, const char *fmt, va_list ap);

void vp__log_mask(vp__log *log, const void *value, size_t len);
void vp__log_unmask(vp__log *log, const void *value, size_t len);

/* Copy in[0..len) to out (capacity cap, always NUL-terminated, truncated if needed) with every
 * masked value replaced by VP__REDACTED. Returns the length written. log may be NULL (plain
 * copy). Safe to call with in == out? No: in and out must not overlap. */
size_t vp__log_redact(vp__log *log, const char *in, size_t len, char *out, size_t cap);

#endif
