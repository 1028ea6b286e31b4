/*
 * az_list.c - list() of the azure provider: Key Vault "list secrets"
 * (GET https://VAULT/secrets?api-version=7.4&maxresults=25), following `nextLink` until it is
 * null. The prefix is VAULT[/NAME-PREFIX] (VAULT a Key Vault host, or a bare vault name for
 * NAME.vault.azure.net); Key Vault has no server-side name filter, so the prefix is applied
 * here. Names come back as VAULT-HOST/NAME, each a reference as it is. The list carries no
 * values. A nextLink that leaves the vault the first request went to is refused: the token is
 * for that vault only.
 */
#include <stdio.h>
#include <string.h>

#include "azure_int.h"

#define AZ_LIST_PAGES 10000

/* Names of one page into out; *next gets a plain copy of nextLink or NULL. */
static int add_page(az_inst *in, vp_call *call, const az_secret_id *id, const char *prefix,
                    vp_http_response *resp, vp_list_out *out, char **next)
{
    const vp_host *h = in->host;
    *next = NULL;
    size_t len = 0;
    const char *body = h->http_body(resp, &len);
    vp_json *j = NULL;
    if (h->json_parse(body, len, &j) != VP_OK || h->json_type(j) != VP_JSON_OBJECT) {
        h->json_free(j);
        return h->fail(call, VP_EPROTO, "vault %s: unexpected response to list secrets", id->host);
    }
    const vp_json *arr = h->json_get(j, "value");
    size_t plen = strlen(prefix);
    int rc = VP_OK;
    char name[AZ_HOST_MAX + AZ_NAME_MAX + 2];
    for (size_t i = 0; rc == VP_OK && i < h->json_len(arr); i++) {
        const char *sid = h->json_string(h->json_get(h->json_at(arr, i), "id"), NULL);
        const char *s = sid ? strstr(sid, "/secrets/") : NULL;
        if (s == NULL)
            continue;
        s += 9;
        if (strncmp(s, prefix, plen) != 0 || s[0] == '\0' || strchr(s, '/') != NULL ||
            strlen(s) > AZ_NAME_MAX)
            continue;
        snprintf(name, sizeof(name), "%s/%s", id->host, s);
        rc = h->list_add(out, name);
    }
    const char *nl = h->json_string(h->json_get(j, "nextLink"), NULL);
    if (rc == VP_OK && nl != NULL && nl[0] != '\0' && (*next = h->strdup(nl)) == NULL)
        rc = VP_ENOMEM;
    h->json_free(j);
    if (rc != VP_OK)
        return h->fail(call, rc, "vault %s: list secrets: %s", id->host,
                       rc == VP_ELIMIT ? "too many names (narrow the prefix)" : "out of memory");
    return VP_OK;
}

/* The 403/404 of a list speak of listing; other statuses read as for a fetch. */
static int list_error(az_inst *in, vp_call *call, const az_secret_id *id, vp_http_response *resp)
{
    const vp_host *h = in->host;
    if (h->http_status(resp) == 403)
        return h->fail(call, VP_EPERM,
                       "listing the secrets of vault %s was denied: the identity needs "
                       "permission to list secrets (e.g. the Key Vault Secrets User role, or "
                       "the 'list' secret permission of an access policy)",
                       id->host);
    return az_map_kv_error(in, call, id, resp);
}

int az_list(void *inst, const char *prefix, vp_call *call, vp_list_out *out)
{
    az_inst *in = inst;
    const vp_host *h = in->host;
    az_secret_id id;
    memset(&id, 0, sizeof(id));
    size_t vl = strcspn(prefix, "/");
    const char *np = prefix[vl] == '/' ? prefix + vl + 1 : "";
    if (vl == 0)
        return h->fail(call, VP_EINVAL,
                       "azure: name the vault to list, e.g. azure://myvault.vault.azure.net/ "
                       "(or azure://myvault/)");
    if (snprintf(id.host, sizeof(id.host), "%.*s%s", (int)vl, prefix,
                 memchr(prefix, '.', vl) ? "" : ".vault.azure.net") >= (int)sizeof(id.host) ||
        !az_vault_host_ok(id.host))
        return h->fail(call, VP_EINVAL,
                       "azure: '%.*s' is not a Key Vault host (NAME.vault.azure.net, "
                       ".vault.azure.cn, .vault.usgovcloudapi.net, ...) or vault name",
                       (int)(vl < 100 ? vl : 100), prefix);
    for (const char *c = np; *c; c++)
        if (!((*c >= 'a' && *c <= 'z') || (*c >= 'A' && *c <= 'Z') || (*c >= '0' && *c <= '9') ||
              *c == '-'))
            return h->fail(call, VP_EINVAL,
                           "azure: Key Vault secret names hold only letters, digits and '-'; "
                           "'%.128s' cannot prefix one",
                           np);
    vp_sb *base = h->sb_new(0, 0);
    if (in->env.vault_url != NULL)
        h->sb_append_str(base, in->env.vault_url);
    else
        h->sb_printf(base, "https://%s", id.host);
    h->sb_append_str(base, "/");
    size_t base_len = 0;
    const char *base_s = h->sb_data(base, &base_len);
    if (h->sb_status(base) != VP_OK) {
        h->sb_free(base);
        return h->fail(call, VP_ENOMEM, "azure: out of memory");
    }
    if (strncmp(base_s, "https://", 8) != 0 && !in->env.allow_http) {
        int rc = h->fail(call, VP_EINVAL,
                         "azure: refusing to send a token over plain http (%.128s); "
                         "VAULTPLUG_AZURE_ALLOW_HTTP=1 is for tests only",
                         base_s);
        h->sb_free(base);
        return rc;
    }
    vp_sb *first = h->sb_new(0, 0);
    h->sb_printf(first, "%ssecrets?api-version=" AZ_DEFAULT_API_VERSION "&maxresults=25", base_s);
    char *cur = h->sb_status(first) == VP_OK ? h->strdup(h->sb_data(first, NULL)) : NULL,
         *next = NULL;
    h->sb_free(first);
    int rc = cur ? VP_OK : VP_ENOMEM, page;
    for (page = 0; rc == VP_OK && page < AZ_LIST_PAGES; page++) {
        vp_http_response *resp = NULL;
        rc = az_vault_get(in, call, &id, cur, &resp);
        if (rc != VP_OK)
            break;
        if (h->http_status(resp) != 200)
            rc = list_error(in, call, &id, resp);
        else
            rc = add_page(in, call, &id, np, resp, out, &next);
        h->http_free(resp);
        h->free(cur);
        cur = next;
        next = NULL;
        if (rc != VP_OK || cur == NULL)
            break;
        if (strncmp(cur, base_s, base_len) != 0) {
            rc = h->fail(call, VP_EPROTO,
                         "vault %s: the next page of the list is on another server; refusing "
                         "to send it a token",
                         id.host);
            break;
        }
    }
    if (rc == VP_OK && cur != NULL)
        rc = h->fail(call, VP_ELIMIT, "vault %s: more than %d pages of secrets", id.host,
                     AZ_LIST_PAGES);
    h->free(cur);
    h->sb_free(base);
    return rc;
}
