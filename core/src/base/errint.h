/*
 * errint - filling a vp_error (internal).
 */
#ifndef VP_ERRINT_H
#define VP_ERRINT_H

#include <stdarg.h>

#include "vaultplug/error.h"
#include "log.h"

/* Set err (NULL-safe) to code + formatted message, redacted through log (NULL = no redaction;
 * use only for messages that cannot contain secrets). Returns code. With fmt NULL the message is
 * vp_strerror(code). */
int vp__err_set(vp_error *err, vp__log *log, int code, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
int vp__err_setv(vp_error *err, vp__log *log, int code, const char *fmt, va_list ap)
    __attribute__((format(printf, 4, 0)));

#endif
