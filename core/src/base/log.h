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
void vp__log_vwrite(vp__log *log, int level, const char *source, const char *fmt, va_list ap)
    __attribute__((format(printf, 4, 0)));

void vp__log_mask(vp__log *log, const void *value, size_t len);
void vp__log_unmask(vp__log *log, const void *value, size_t len);

/* Copy in[0..len) to out (capacity cap, always NUL-terminated) with every masked value replaced
 * by VP__REDACTED. Redaction runs on the whole input before truncation, so a cut never leaves a
 * partial secret; a truncated result ends with VP__TRUNCATED (cut on a UTF-8 boundary and never
 * inside a VP__REDACTED). Returns the length written. log may be NULL (plain copy). in and out
 * must not overlap. If the redactor lost a mask (out of memory), everything is redacted. */
size_t vp__log_redact(vp__log *log, const char *in, size_t len, char *out, size_t cap);

/* printf-format into out (capacity cap) and redact, as vp__log_redact. The full text is formatted
 * (up to VP__LOG_FMT_MAX bytes, in secure memory when it exceeds a stack buffer) and redacted
 * before it is truncated to cap; the temporaries are wiped. If even VP__LOG_FMT_MAX is exceeded,
 * a tail of the cut text that begins a masked value is redacted too. Use this instead of
 * vsnprintf + vp__log_redact: formatting into a small buffer first can cut a secret in half, and
 * the redactor cannot recognise half a secret. Returns the length written. */
size_t vp__log_vformat(vp__log *log, char *out, size_t cap, const char *fmt, va_list ap)
    __attribute__((format(printf, 4, 0)));

#define VP__TRUNCATED   "\xe2\x80\xa6"     /* U+2026 HORIZONTAL ELLIPSIS */
#define VP__LOG_MSG_MAX 4096               /* a log line handed to the callback, with the NUL */
#define VP__LOG_FMT_MAX ((size_t)64 << 10) /* formatted text the redactor sees */

#endif
