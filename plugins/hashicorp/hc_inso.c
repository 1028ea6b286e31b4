/*
 * hc_inso.c - the empty credential from Inso's variables (Insomnia's CLI): INSOMNIA_HASHICORP_TYPE
 * selects one credential (onPrem: a Vault server with a token or AppRole; cloud: an HCP service
 * principal) and the variables it needs. Inso ignores its other variables without TYPE, and so
 * does this provider (with a warning). docs/providers/hashicorp.md has the table.
 */
#include <stdio.h>
#include <string.h>

#include "hc.h"

#define INSO_P "INSOMNIA_HASHICORP_"
static const char *const INSO_VARS[] = {
    INSO_P "AUTHMETHOD", INSO_P "SERVERADDRESS", INSO_P "ACCESS_TOKEN",  INSO_P "ROLE_ID",
    INSO_P "SECRET_ID",  INSO_P "CLIENT_ID",     INSO_P "CLIENT_SECRET", NULL,
};

/* A required Inso variable (secure copy). */
static int inso_need(hc_inst *in, vp_call *call, const char *why, const char *name, char **out)
{
    const char *const names[] = {name, NULL};
    *out = hc_env_any(in, names);
    if (*out == NULL)
        return in->host->fail(call, VP_EINVAL, "hashicorp: %s but %s is not set (or empty)", why,
                              name);
    return VP_OK;
}

/* INSOMNIA_HASHICORP_TYPE=onPrem: a Vault server with a token or an AppRole login. */
static int conf_inso_onprem(hc_inst *in, vp_call *call)
{
    const vp_host *h = in->host;
    char *method = NULL, *addr = NULL, *v = NULL;
    int rc =
        inso_need(in, call, "INSOMNIA_HASHICORP_TYPE is 'onPrem'", INSO_P "AUTHMETHOD", &method);
    int token = rc == VP_OK && strcmp(method, "token") == 0;
    if (rc == VP_OK && !token && strcmp(method, "appRole") != 0 && strcmp(method, "approle") != 0)
        rc = h->fail(call, VP_EINVAL,
                     "hashicorp: INSOMNIA_HASHICORP_AUTHMETHOD '%.32s' is not one of appRole, "
                     "token",
                     method);
    if (rc == VP_OK)
        rc = inso_need(in, call, "INSOMNIA_HASHICORP_TYPE is 'onPrem'", INSO_P "SERVERADDRESS",
                       &addr);
    if (rc == VP_OK) {
        /* The server address takes the place of VAULT_ADDR; the other VAULT_* connection
         * variables (namespace, CA, skip-verify) still apply. */
        vp_kv f = {"address", addr, strlen(addr)};
        vp_cred c = {VP_ABI_HDR(vp_cred), in->cred_name, "token", &f, 1};
        rc = hc_conf_vault_conn(in, &c, call);
    }
    if (rc == VP_OK && token) {
        rc = inso_need(in, call, "INSOMNIA_HASHICORP_AUTHMETHOD is 'token'", INSO_P "ACCESS_TOKEN",
                       &v);
        if (rc == VP_OK)
            rc = hc_keep_secret(in, v, &in->static_tok);
    } else if (rc == VP_OK) {
        rc = inso_need(in, call, "INSOMNIA_HASHICORP_AUTHMETHOD is 'appRole'", INSO_P "ROLE_ID",
                       &in->role_id);
        if (rc == VP_OK)
            rc = inso_need(in, call, "INSOMNIA_HASHICORP_AUTHMETHOD is 'appRole'",
                           INSO_P "SECRET_ID", &v);
        if (rc == VP_OK)
            rc = hc_keep_secret(in, v, &in->secret_id);
        in->have_approle = rc == VP_OK;
        if (rc == VP_OK) {
            in->approle_mount = h->strdup("approle");
            rc = in->approle_mount ? VP_OK : VP_ENOMEM;
        }
    }
    if (rc == VP_OK)
        snprintf(in->hcp_noauth, sizeof(in->hcp_noauth),
                 "hcp: INSOMNIA_HASHICORP_TYPE is 'onPrem' (a Vault server); HCP Vault Secrets "
                 "needs INSOMNIA_HASHICORP_TYPE 'cloud' or a credential of type 'cloud'");
    h->secure_free(method);
    h->secure_free(addr);
    h->secure_free(v);
    return rc;
}

/* INSOMNIA_HASHICORP_TYPE=cloud: an HCP service principal. */
static int conf_inso_cloud(hc_inst *in, vp_call *call)
{
    const vp_host *h = in->host;
    char *cid = NULL, *csec = NULL;
    int rc = hc_conf_vault_conn(in, NULL, call);
    if (rc == VP_OK)
        rc = inso_need(in, call, "INSOMNIA_HASHICORP_TYPE is 'cloud'", INSO_P "CLIENT_ID", &cid);
    if (rc == VP_OK)
        rc = inso_need(in, call, "INSOMNIA_HASHICORP_TYPE is 'cloud'", INSO_P "CLIENT_SECRET",
                       &csec);
    if (rc == VP_OK) {
        in->client_id = h->strdup(cid);
        rc = in->client_id ? hc_keep_secret(in, csec, &in->client_secret) : VP_ENOMEM;
    }
    if (rc == VP_OK)
        snprintf(in->noauth, sizeof(in->noauth),
                 "vault: INSOMNIA_HASHICORP_TYPE is 'cloud' (HCP Vault Secrets); a Vault server "
                 "needs INSOMNIA_HASHICORP_TYPE 'onPrem'");
    h->secure_free(cid);
    h->secure_free(csec);
    return rc;
}

int hc_conf_inso(hc_inst *in, const char *type, vp_call *call)
{
    int rc = hc_conf_hcp(in, NULL);
    if (rc != VP_OK)
        return rc;
    if (strcmp(type, "onPrem") == 0)
        return conf_inso_onprem(in, call);
    if (strcmp(type, "cloud") == 0)
        return conf_inso_cloud(in, call);
    return in->host->fail(call, VP_EINVAL,
                          "hashicorp: INSOMNIA_HASHICORP_TYPE '%.32s' is not one of onPrem, cloud",
                          type);
}

void hc_inso_warn_untyped(hc_inst *in)
{
    for (size_t i = 0; INSO_VARS[i]; i++) {
        const char *const one[] = {INSO_VARS[i], NULL};
        char *v = hc_env_any(in, one);
        if (v == NULL)
            continue;
        in->host->secure_free(v);
        in->host->log(in->hc, VP_LOG_WARN,
                      "%s is set but INSOMNIA_HASHICORP_TYPE is not: Inso's variables are ignored "
                      "(set INSOMNIA_HASHICORP_TYPE to onPrem or cloud); using the standard chain",
                      INSO_VARS[i]);
        return;
    }
}
