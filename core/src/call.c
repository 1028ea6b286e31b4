/*
 * call - see call.h.
 */
#include "call.h"

#include <string.h>

#include "host.h"

void vp__call_init(vp_call *call, vp_host_ctx *hc, uint32_t timeout_ms)
{
    memset(call, 0, sizeof(*call));
    call->hc = hc;
    call->deadline_ms = timeout_ms ? vp__host_monotonic_ms(hc) + (int64_t)timeout_ms : -1;
    atomic_init(&call->canceled, 0);
}

int64_t vp__call_remaining_ms(const vp_call *call)
{
    if (call == NULL || call->deadline_ms < 0)
        return -1;
    int64_t left = call->deadline_ms - vp__host_monotonic_ms(call->hc);
    return left > 0 ? left : 0;
}

int vp__call_canceled(const vp_call *call)
{
    if (call == NULL)
        return 0;
    return atomic_load(&call->canceled) || vp__call_remaining_ms(call) == 0;
}

void vp__call_cancel(vp_call *call)
{
    atomic_store(&call->canceled, 1);
}

int vp__call_failv(vp_call *call, int status, const char *fmt, va_list ap)
{
    if (status >= 0)
        status = VP_EINTERNAL; /* fail() with a non-error status is a provider bug */
    if (call == NULL)
        return status;
    /* Format and redact the whole text before truncating it: a secret cut in half by a small
     * buffer would no longer be recognised by the redactor. */
    vp__log_vformat(call->hc ? call->hc->log : NULL, call->message, sizeof(call->message), fmt, ap);
    call->status = status;
    return status;
}

int vp__call_fail(vp_call *call, int status, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    int rc = vp__call_failv(call, status, fmt, ap);
    va_end(ap);
    return rc;
}
