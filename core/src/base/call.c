/*
 * call - see call.h.
 */
#include "call.h"

#include <stdio.h>
#include <string.h>

#include "hostctx.h"

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

/* A failure message is text for a person, often from a provider (and through it from a
 * server): escape what would drive a terminal (C0 controls, DEL, UTF-8-encoded C1 controls) as
 * \n, \r, \t, \xNN or \uNNNN, so a message shows as one line, as written. In place; cut at
 * cap like the message itself (an escape is never cut in half). */
static void escape_controls(char *s, size_t cap)
{
    char in[VP_ERROR_MAX];
    size_t n = strlen(s), o = 0;
    if (n >= sizeof(in) || cap == 0)
        return;
    memcpy(in, s, n + 1);
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)in[i];
        char esc[8];
        size_t el = 0;
        if (c == '\n' || c == '\r' || c == '\t') {
            esc[0] = '\\';
            esc[1] = c == '\n' ? 'n' : c == '\r' ? 'r' : 't';
            el = 2;
        } else if (c < 0x20 || c == 0x7F) {
            el = (size_t)snprintf(esc, sizeof(esc), "\\x%02x", c);
        } else if (c == 0xC2 && i + 1 < n && (unsigned char)in[i + 1] >= 0x80 &&
                   (unsigned char)in[i + 1] <= 0x9F) {
            el = (size_t)snprintf(esc, sizeof(esc), "\\u%04x", (unsigned char)in[i + 1]);
            i++;
        } else {
            esc[0] = (char)c;
            el = 1;
        }
        if (o + el >= cap)
            break;
        memcpy(s + o, esc, el);
        o += el;
    }
    s[o] = '\0';
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
    escape_controls(call->message, sizeof(call->message));
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
