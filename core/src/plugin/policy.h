/*
 * policy - the administrator's configuration as the library applies it to every host.
 *
 * The file is /etc/vaultplug/config.json, or the one VAULTPLUG_SYSTEM_CONFIG names (for
 * containers and tests; not in setuid/setgid processes). The library reads three members:
 *   enabled_providers        ceiling: only these providers can load, whatever the host enables
 *   allow_host_override      a host may ignore the ceiling (vp_options.ignore_admin_policy)
 *   allow_provider_override  VAULTPLUG_PLUGIN_PATH may replace the built-in providers
 *   isolate_providers        run providers in helper processes (a host may turn it off
 *                            only under allow_host_override)
 * Every other member belongs to the vaultplug command and is ignored here.
 */
#ifndef VP_POLICY_H
#define VP_POLICY_H

#include "vaultplug/common.h"

#ifndef VP_SYSTEM_CONFIG
#define VP_SYSTEM_CONFIG "/etc/vaultplug/config.json"
#endif

typedef struct vp__policy {
    char *path;     /* the file that was read; NULL: there is none */
    char **enabled; /* NULL-terminated ceiling; NULL: the file has no enabled_providers */
    int allow_host_override;
    int allow_provider_override;
    int isolate_providers;
} vp__policy;

/* Read the administrator's file into *pol (zeroed first). An absent file is no policy (0). An
 * unreadable or malformed one is an error naming the file: VP_EIO / VP_EINVAL (a policy that
 * cannot be read is not silently dropped), or VP_ENOMEM. */
int vp__policy_load(vp__policy *pol, vp_error *err);
void vp__policy_free(vp__policy *pol);

#endif
