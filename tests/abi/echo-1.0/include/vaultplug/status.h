/*
 * vaultplug/status.h - the closed list of status codes shared by the host library and every
 * provider plugin.
 *
 * The list is an X-macro so that the enum, vp_strerror() and vp_err_name() are generated from
 * one table and can never drift apart. Codes are part of the ABI: a code keeps its value
 * forever, new codes are only appended (with a new minor), and a host that receives a code it
 * does not know treats it as VP_EINTERNAL.
 *
 * Every function that returns `int` in the vaultplug APIs returns 0 (VP_OK) on success or one
 * of the negative codes below.
 */
#ifndef VAULTPLUG_STATUS_H
#define VAULTPLUG_STATUS_H

/*
 * X(NAME, value, retryable, "default message")
 *
 * retryable = 1 marks the transient classes the core resolver retries with backoff
 * (rate limit, unavailable, network, timeout). Providers never retry on their own.
 */
#define VP_STATUS_LIST(X)                                                              \
    X(OK, 0, 0, "success")                                                             \
    X(EINVAL, -1, 0, "invalid argument")                                               \
    X(ENOMEM, -2, 0, "out of memory")                                                  \
    X(ENOTFOUND, -3, 0, "not found")                                                   \
    X(EAUTH, -4, 0, "authentication failed (missing, expired or invalid credentials)") \
    X(EPERM, -5, 0, "permission denied")                                               \
    X(ENETWORK, -6, 1, "network error")                                                \
    X(ETIMEDOUT, -7, 1, "timed out")                                                   \
    X(ERATELIMIT, -8, 1, "rate limited")                                               \
    X(EUNAVAIL, -9, 1, "service unavailable")                                          \
    X(EPROTO, -10, 0, "unexpected or corrupted data")                                  \
    X(ENOTSUP, -11, 0, "not supported")                                                \
    X(EABI, -12, 0, "plugin ABI mismatch")                                             \
    X(ECANCELED, -13, 0, "canceled")                                                   \
    X(EINTERNAL, -14, 0, "internal error")                                             \
    X(EEXIST, -15, 0, "already exists")                                                \
    X(EIO, -16, 0, "input/output error")                                               \
    X(ELIMIT, -17, 0, "limit exceeded")

typedef enum vp_status {
#define VP__STATUS_ENUM(name, value, retryable, msg) VP_##name = value,
    VP_STATUS_LIST(VP__STATUS_ENUM)
#undef VP__STATUS_ENUM
        VP__STATUS_MIN = -17 /* lowest code in the list; keep in step with the table */
} vp_status;

#endif /* VAULTPLUG_STATUS_H */
