/*
 * hc_list.c - list() of the hashicorp provider: one level of a Vault KV mount, like
 * `vault kv list` (KV v2: LIST <mount>/metadata/<path>/, KV v1: LIST <mount>/<path>/, sent as
 * GET ?list=true). The names handed back are full paths, MOUNT/PATH/KEY, so each one is a
 * reference (`hashicorp://secret/orders/signing`); folders keep Vault's trailing '/'.
 * A folder with nothing in it is an empty list (Vault answers 404), an unknown mount is
 * VP_ENOTFOUND. Vault does not page LIST: one response holds every key of the level.
 * HCP Vault Secrets (the hcp scheme) cannot be listed yet.
 */
#include <string.h>

#include "hc.h"

static int add_keys(hc_inst *in, vp_call *call, const char *base, const char *body, size_t len,
                    vp_list_out *out, hc_err *e)
{
    const vp_host *h = in->host;
    vp_json *j = NULL;
    if (h->json_parse(body, len, &j) != VP_OK)
        return hc_errf(e, VP_EPROTO, "vault: list of '%s' is not JSON", base);
    const vp_json *keys = h->json_path(j, "data.keys");
    if (h->json_type(keys) != VP_JSON_ARRAY) {
        h->json_free(j);
        return hc_errf(e, VP_EPROTO, "vault: list of '%s' has no data.keys array", base);
    }
    int rc = VP_OK;
    hc_str name = {0};
    for (size_t i = 0; i < h->json_len(keys) && rc == VP_OK; i++) {
        const char *k = h->json_string(h->json_at(keys, i), NULL);
        if (k == NULL || k[0] == '\0')
            continue;
        name.n = 0;
        hc_str_cat(h, &name, base);
        hc_str_cat(h, &name, k);
        if (name.oom)
            rc = VP_ENOMEM;
        else
            rc = h->list_add(out, name.p);
    }
    hc_str_free(h, &name);
    h->json_free(j);
    if (rc != VP_OK)
        return hc_errf(e, rc, "vault: list of '%s': %s", base,
                       rc == VP_ELIMIT ? "too many names" : "out of memory");
    (void)call;
    return VP_OK;
}

/* One attempt with a token: *was403 asks the caller to classify a refusal. */
static int list_once(hc_inst *in, vp_call *call, const char *ns, const char *folder,
                     const char *tok, vp_list_out *out, int *was403, hc_err *e)
{
    const vp_host *h = in->host;
    char *mount = NULL;
    int version = 0;
    *was403 = 0;
    int rc = hc_vault_detect(in, call, ns, folder, tok, &mount, &version, e);
    if (rc != VP_OK) {
        *was403 = rc == VP_EPERM;
        if (rc == VP_EPERM && e->msg[0] == '\0')
            hc_errf(e, VP_EPERM, "vault: permission denied for '%s'", folder);
        return rc;
    }
    size_t ml = strlen(mount);
    const char *sub = strlen(folder) >= ml ? folder + ml : "";
    hc_str rest = {0};
    hc_str_cat(h, &rest, mount);
    if (version == 2)
        hc_str_cat(h, &rest, "metadata/");
    hc_str_cat(h, &rest, sub);
    h->free(mount);
    if (rest.oom) {
        hc_str_free(h, &rest);
        return VP_ENOMEM;
    }
    vp_http_response *resp = NULL;
    rc = hc_vault_req(in, call, "GET", ns, rest.p, "?list=true", tok, &resp);
    hc_str_free(h, &rest);
    if (rc != VP_OK)
        return rc;
    size_t len;
    const char *body = h->http_body(resp, &len);
    long st = h->http_status(resp);
    if (st == 200) {
        rc = add_keys(in, call, folder, body, len, out, e);
    } else if (st == 404) {
        rc = VP_OK; /* Vault's answer for a folder with no keys: nothing under it */
    } else {
        rc = hc_vault_error(h, st, body, len, folder, e);
        e->retry_after_ms = hc_retry_after_ms(h, resp);
        *was403 = st == 403 || st == 401;
    }
    h->http_free(resp);
    return rc;
}

int hc_list(void *inst, const char *prefix, vp_call *call, vp_list_out *out)
{
    hc_inst *in = inst;
    const vp_host *h = in->host;
    if (in->auth == HC_AUTH_CLOUD)
        return h->fail(call, VP_ENOTSUP,
                       "hashicorp: credential '%s' is an HCP Vault Secrets credential; listing "
                       "HCP Vault Secrets is not supported (list a Vault KV mount instead)",
                       in->cred_name);
    while (*prefix == '/')
        prefix++;
    if (prefix[0] == '\0')
        return h->fail(call, VP_EINVAL,
                       "hashicorp: give the KV mount to list, e.g. hashicorp://secret/ (Vault "
                       "lists one level under a mount)");
    /* A folder always ends in '/': "secret/orders" lists what "vault kv list secret/orders"
     * does. */
    hc_str folder = {0};
    hc_str_cat(h, &folder, prefix);
    if (folder.n > 0 && folder.p[folder.n - 1] != '/')
        hc_str_cat(h, &folder, "/");
    if (folder.oom) {
        hc_str_free(h, &folder);
        return h->fail(call, VP_ENOMEM, "hashicorp: out of memory");
    }
    const char *ns = in->ns ? in->ns : "";
    hc_err e = {0};
    int rc = VP_OK;
    for (int attempt = 0; attempt < 2; attempt++) {
        char *tok = NULL;
        memset(&e, 0, sizeof(e));
        rc = hc_vault_token(in, call, ns, attempt > 0, &tok, &e);
        if (rc != VP_OK) {
            h->secure_free(tok);
            break;
        }
        int was403 = 0;
        rc = list_once(in, call, ns, folder.p, tok, out, &was403, &e);
        h->secure_free(tok);
        if (rc == VP_OK || !was403)
            break;
        hc_err keep = e;
        rc = hc_vault_classify_403(in, call, ns, &e);
        if (rc == VP_EPERM) {
            e = keep;
            break;
        }
        if (!in->have_approle)
            break;
    }
    hc_str_free(h, &folder);
    if (rc != VP_OK) {
        if (e.msg[0] == '\0')
            return rc == VP_ENOMEM ? h->fail(call, rc, "vault: out of memory") : rc;
        return hc_fail(in, call, rc, &e);
    }
    return VP_OK;
}
