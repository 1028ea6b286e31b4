/*
 * vaultplug/error.h - status codes and their names.
 *
 * The codes themselves are defined in vaultplug/status.h (shared with provider plugins).
 */
#ifndef VAULTPLUG_ERROR_H
#define VAULTPLUG_ERROR_H

#include "vaultplug/common.h"

#ifdef __cplusplus
extern "C" {
#endif

/* Default English message for a status ("not found"). Unknown codes: "unknown error". Never
 * NULL; the string is static. */
VP_EXPORT const char *vp_strerror(int status);

/* Symbolic name for a status ("VP_ENOTFOUND"). Unknown codes: "VP_EUNKNOWN". Static. */
VP_EXPORT const char *vp_err_name(int status);

/* Non-zero for the transient classes the resolver retries (rate limit, unavailable, network,
 * timeout). */
VP_EXPORT int vp_status_retryable(int status);

/* Map any int to a status of the list: codes outside it become VP_EINTERNAL. */
VP_EXPORT int vp_status_normalize(int status);

/* Clear an error (NULL-safe). */
VP_EXPORT void vp_error_clear(vp_error *err);

#ifdef __cplusplus
}
#endif
#endif /* VAULTPLUG_ERROR_H */
