/*
 * host - the vp_host table handed to providers, and the per-provider host context behind it.
 */
#ifndef VP_HOST_H
#define VP_HOST_H

#include "vaultplug/context.h"
#include "vaultplug/provider.h"
#include "hostctx.h"
#include "http.h"
#include "inputs.h"
#include "log.h"

/* The one static host table (all functions thread-safe). */
const vp_host *vp__host_table(void);

/* The path host->read_file opens for path: a leading "~/" is the user's HOME. 0, VP_ENOTFOUND
 * (HOME unset) or VP_ELIMIT (does not fit in cap). */
int vp__host_expand_path(const char *path, char *out, size_t cap);

#endif
