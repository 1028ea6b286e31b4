/*
 * error - status names, messages and per-call error detail.
 *
 * Everything here is generated from VP_STATUS_LIST (vaultplug/status.h): the table below is the
 * only place codes are listed, so names, messages and the retryable set cannot drift from the
 * enum.
 */
#include <stdarg.h>
#include <stddef.h>
#include <string.h>

#include "errint.h"
#include "log.h"

typedef struct status_info {
    int code;
    int retryable;
    const char *name;
    const char *msg;
} status_info;

static const status_info status_table[] = {
#define VP__STATUS_ROW(name, value, retry, msg) {value, retry, "VP_" #name, msg},
    VP_STATUS_LIST(VP__STATUS_ROW)
#undef VP__STATUS_ROW
};

#define NSTATUS (sizeof(status_table) / sizeof(status_table[0]))

/* Codes are 0, -1, -2, ... in list order today, so -code indexes the table; the fallback scan
 * keeps this correct if the list ever gains a gap. */
static const status_info *lookup(int status)
{
    if (status <= 0 && status > -(int)NSTATUS && status_table[-status].code == status)
        return &status_table[-status];
    for (size_t i = 0; i < NSTATUS; i++) {
        if (status_table[i].code == status)
            return &status_table[i];
    }
    return NULL;
}

const char *vp_strerror(int status)
{
    const status_info *s = lookup(status);
    return s != NULL ? s->msg : "unknown error";
}

const char *vp_err_name(int status)
{
    const status_info *s = lookup(status);
    return s != NULL ? s->name : "VP_EUNKNOWN";
}

int vp_status_retryable(int status)
{
    const status_info *s = lookup(status);
    return s != NULL && s->retryable;
}

int vp_status_normalize(int status)
{
    return lookup(status) != NULL ? status : VP_EINTERNAL;
}

void vp_error_clear(vp_error *err)
{
    if (err == NULL)
        return;
    err->code = VP_OK;
    memset(err->message, 0, sizeof(err->message));
}

int vp__err_setv(vp_error *err, vp__log *log, int code, const char *fmt, va_list ap)
{
    if (err == NULL)
        return code;
    err->code = code;
    if (fmt == NULL) {
        /* Static text: no secret can be in it. */
        const char *m = vp_strerror(code);
        size_t n = strlen(m);
        if (n >= sizeof(err->message))
            n = sizeof(err->message) - 1;
        memcpy(err->message, m, n);
        err->message[n] = '\0';
        return code;
    }
    /* Formats the whole text, redacts it, then truncates; temporaries are wiped. */
    vp__log_vformat(log, err->message, sizeof(err->message), fmt, ap);
    return code;
}

int vp__err_set(vp_error *err, vp__log *log, int code, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    int rc = vp__err_setv(err, log, code, fmt, ap);
    va_end(ap);
    return rc;
}
