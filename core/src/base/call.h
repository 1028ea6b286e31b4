/*
 * call - the per-operation object handed to providers as vp_call (see provider.h): deadline,
 * cancellation, error message, Retry-After.
 */
#ifndef VP_CALL_H
#define VP_CALL_H

#include <stdarg.h>
#include <stdatomic.h>
#include <stdint.h>

#include "vaultplug/common.h"
#include "vaultplug/provider.h"

struct vp_call {
    vp_host_ctx *hc;
    int64_t deadline_ms; /* on hc's monotonic clock; -1 = no deadline */
    atomic_int canceled;
    int status;              /* last status given to fail() */
    uint32_t retry_after_ms; /* 0 = none */
    void *cred_slot;         /* context-owned credential the instance uses (cred_update) */
    char message[VP_ERROR_MAX];
};

/* timeout_ms 0 = no deadline. */
void vp__call_init(vp_call *call, vp_host_ctx *hc, uint32_t timeout_ms);
int64_t vp__call_remaining_ms(const vp_call *call);
int vp__call_canceled(const vp_call *call);
void vp__call_cancel(vp_call *call);
/* Record status + message (redacted through hc's log) and return status. */
int vp__call_failv(vp_call *call, int status, const char *fmt, va_list ap)
    __attribute__((format(printf, 3, 0)));
int vp__call_fail(vp_call *call, int status, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

#endif
