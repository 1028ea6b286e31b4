/*
 * hc_list.c - list() of the hashicorp provider: one level of a Vault KV mount, like
 * `vault kv list` (KV v2: LIST <mount>/metadata/<path>/, KV v1: LIST <mount>/<path>/, sent as
 * GET ?list=true). The names handed back are full paths, MOUNT/PATH/KEY, so each one is a
 * reference (`hashicorp://secret/orders/signing`); folders keep Vault's trailing '/'.
 * A folder with nothing in it is an empty list (Vault answers 404), an unknown mount is
 * VP_ENOTFOUND. Vault does not page LIST: one response holds every key of the level.
 *
 * With an HCP credential (type cloud, or the environment's HCP_CLIENT_ID without a Vault token)
 * the prefix is [ORG/PROJECT/]APP/NAME-PREFIX of HCP Vault Secrets instead: the app's secrets
 * (GET .../apps/APP/secrets, pagination.next_page_token), names in the form of the prefix.
 */
#include <stdio.h>
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
    vp_sb *name = h->sb_new(0, 0);
    for (size_t i = 0; i < h->json_len(keys) && rc == VP_OK; i++) {
        const char *k = h->json_string(h->json_at(keys, i), NULL);
        if (k == NULL || k[0] == '\0')
            continue;
        h->sb_reset(name);
        h->sb_append_str(name, base);
        h->sb_append_str(name, k);
        if ((h->sb_status(name) != VP_OK))
            rc = VP_ENOMEM;
        else
            rc = h->list_add(out, h->sb_data(name, NULL));
    }
    h->sb_free(name);
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
    vp_sb *rest = h->sb_new(0, 0);
    h->sb_append_str(rest, mount);
    if (version == 2)
        h->sb_append_str(rest, "metadata/");
    h->sb_append_str(rest, sub);
    h->free(mount);
    if ((h->sb_status(rest) != VP_OK)) {
        h->sb_free(rest);
        return VP_ENOMEM;
    }
    vp_http_response *resp = NULL;
    rc = hc_vault_req(in, call, "GET", ns, h->sb_data(rest, NULL), "?list=true", tok, &resp);
    h->sb_free(rest);
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
        e->retry_after_ms = h->http_retry_after_ms(call, h->http_header(resp, "Retry-After"));
        *was403 = st == 403 || st == 401;
    }
    h->http_free(resp);
    return rc;
}

/* ---- HCP Vault Secrets ------------------------------------------------------------------- */

#define HC_HCP_LIST_PAGES 10000

typedef struct hcp_list {
    char org[128], project[128], app[128];
    const char *name_prefix;
    int qualified; /* names as ORG/PROJECT/APP/NAME, else APP/NAME */
    char what[400];
} hcp_list;

static int hcp_page(hc_inst *in, vp_call *call, const hcp_list *l, const char *token,
                    vp_list_out *out, char **next, hc_err *e)
{
    const vp_host *h = in->host;
    *next = NULL;
    vp_sb *url = h->sb_new(0, 0);
    h->sb_append_str(url, in->api_url);
    h->sb_append_str(url, "/secrets/" HC_HVS_API_VER "/organizations/");
    h->sb_append_enc(url, l->org, strlen(l->org), 0);
    h->sb_append_str(url, "/projects/");
    h->sb_append_enc(url, l->project, strlen(l->project), 0);
    h->sb_append_str(url, "/apps/");
    h->sb_append_enc(url, l->app, strlen(l->app), 0);
    h->sb_append_str(url, "/secrets?pagination.page_size=100");
    if (token != NULL) {
        h->sb_append_str(url, "&pagination.next_page_token=");
        h->sb_append_enc(url, token, strlen(token), 0);
    }
    size_t url_len = 0;
    h->sb_data(url, &url_len);
    if (h->sb_status(url) != VP_OK || url_len >= HC_URL_MAX) {
        h->sb_free(url);
        return hc_errf(e, VP_ELIMIT, "hcp: the list URL for %s is too long", l->what);
    }
    int rc = VP_OK;
    for (int attempt = 0; attempt < 2; attempt++) {
        char *tok = NULL;
        rc = hc_hcp_token(in, call, attempt > 0, &tok, e);
        if (rc != VP_OK) {
            h->secure_free(tok);
            break;
        }
        hc_req rq = {0};
        rq.method = "GET";
        rq.url = h->sb_data(url, NULL);
        rq.token = tok;
        rq.bearer = 1;
        vp_http_response *resp = NULL;
        rc = hc_http(in, call, &rq, &resp);
        h->secure_free(tok);
        if (rc != VP_OK)
            break;
        size_t len;
        const char *body = h->http_body(resp, &len);
        long st = h->http_status(resp);
        if (st != 200) {
            rc = hc_hcp_error(h, st, body, len, l->what, e);
            e->retry_after_ms = h->http_retry_after_ms(call, h->http_header(resp, "Retry-After"));
            h->http_free(resp);
            if (rc == VP_EAUTH)
                continue; /* a token revoked or expired early: a new one, once */
            break;
        }
        vp_json *j = NULL;
        if (h->json_parse(body, len, &j) != VP_OK || h->json_type(j) != VP_JSON_OBJECT) {
            h->json_free(j);
            h->http_free(resp);
            rc = hc_errf(e, VP_EPROTO, "hcp: the list of %s is not JSON", l->what);
            break;
        }
        const vp_json *arr = h->json_get(j, "secrets");
        size_t plen = strlen(l->name_prefix);
        vp_sb *name = h->sb_new(0, 0);
        for (size_t i = 0; rc == VP_OK && i < h->json_len(arr); i++) {
            const char *nm = h->json_string(h->json_get(h->json_at(arr, i), "name"), NULL);
            if (nm == NULL || nm[0] == '\0' || strncmp(nm, l->name_prefix, plen) != 0)
                continue;
            h->sb_reset(name);
            if (l->qualified) {
                h->sb_append_str(name, l->org);
                h->sb_append_str(name, "/");
                h->sb_append_str(name, l->project);
                h->sb_append_str(name, "/");
            }
            h->sb_append_str(name, l->app);
            h->sb_append_str(name, "/");
            h->sb_append_str(name, nm);
            rc = (h->sb_status(name) != VP_OK) ? VP_ENOMEM
                                               : h->list_add(out, h->sb_data(name, NULL));
        }
        h->sb_free(name);
        const char *nt = h->json_string(h->json_path(j, "pagination.next_page_token"), NULL);
        if (rc == VP_OK && nt != NULL && nt[0] != '\0' && (*next = h->strdup(nt)) == NULL)
            rc = VP_ENOMEM;
        h->json_free(j);
        h->http_free(resp);
        if (rc != VP_OK)
            hc_errf(e, rc, "hcp: list of %s: %s", l->what,
                    rc == VP_ELIMIT ? "too many names" : "out of memory");
        break;
    }
    h->sb_free(url);
    return rc;
}

static int hcp_list_all(hc_inst *in, const char *prefix, vp_call *call, vp_list_out *out)
{
    const vp_host *h = in->host;
    hcp_list l;
    memset(&l, 0, sizeof(l));
    char buf[512];
    if (strlen(prefix) >= sizeof(buf))
        return h->fail(call, VP_ELIMIT, "hcp: the list prefix is too long");
    strcpy(buf, prefix);
    char *seg[4];
    int n = 0;
    for (char *p = buf; p != NULL && n < 4;) {
        seg[n++] = p;
        p = strchr(p, '/');
        if (p != NULL)
            *p++ = '\0';
    }
    /* APP/NAME-PREFIX, or ORG/PROJECT/APP/NAME-PREFIX (a trailing '/' gives an empty prefix). */
    if (n == 4 && strchr(seg[3], '/') == NULL) {
        l.qualified = 1;
        snprintf(l.org, sizeof(l.org), "%s", seg[0]);
        snprintf(l.project, sizeof(l.project), "%s", seg[1]);
        snprintf(l.app, sizeof(l.app), "%s", seg[2]);
        l.name_prefix = prefix + (seg[3] - buf);
    } else if (n == 2) {
        snprintf(l.app, sizeof(l.app), "%s", seg[0]);
        l.name_prefix = prefix + (seg[1] - buf);
        if (in->org == NULL || in->project == NULL)
            return h->fail(call, VP_EINVAL,
                           "hcp: no HCP organization/project to list in: give them in the "
                           "prefix (ORGANIZATION/PROJECT/APP/), the credential (organization_id, "
                           "project_id) or HCP_ORGANIZATION_ID / HCP_PROJECT_ID");
        snprintf(l.org, sizeof(l.org), "%s", in->org);
        snprintf(l.project, sizeof(l.project), "%s", in->project);
    } else {
        return h->fail(call, VP_EINVAL,
                       "hcp: list an app of HCP Vault Secrets: APP/ or "
                       "ORGANIZATION/PROJECT/APP/ (a name prefix may follow the last '/')");
    }
    if (l.org[0] == '\0' || l.project[0] == '\0' || l.app[0] == '\0')
        return h->fail(call, VP_EINVAL, "hcp: empty organization, project or app in '%.200s'",
                       prefix);
    snprintf(l.what, sizeof(l.what), "app %s/%s/%s", l.org, l.project, l.app);
    hc_err e = {0};
    char *next = NULL;
    int rc = VP_OK, page;
    for (page = 0; page < HC_HCP_LIST_PAGES; page++) {
        char *token = next;
        next = NULL;
        memset(&e, 0, sizeof(e));
        rc = hcp_page(in, call, &l, token, out, &next, &e);
        h->free(token);
        if (rc != VP_OK || next == NULL)
            break;
    }
    h->free(next);
    if (rc == VP_OK && page == HC_HCP_LIST_PAGES)
        return h->fail(call, VP_ELIMIT, "hcp: %s: more than %d pages", l.what, HC_HCP_LIST_PAGES);
    if (rc != VP_OK) {
        if (e.msg[0] == '\0')
            return rc == VP_ENOMEM ? h->fail(call, rc, "hcp: out of memory") : rc;
        return hc_fail(in, call, rc, &e);
    }
    return VP_OK;
}

int hc_list(void *inst, const char *prefix, vp_call *call, vp_list_out *out)
{
    hc_inst *in = inst;
    const vp_host *h = in->host;
    /* The credential decides the store, as for validate: list() is not told the scheme. */
    if (in->auth == HC_AUTH_CLOUD || (in->auth == HC_AUTH_ENV && in->static_tok == NULL &&
                                      !in->have_approle && in->client_id != NULL))
        return hcp_list_all(in, prefix, call, out);
    while (*prefix == '/')
        prefix++;
    if (prefix[0] == '\0')
        return h->fail(call, VP_EINVAL,
                       "hashicorp: give the KV mount to list, e.g. hashicorp://secret/ (Vault "
                       "lists one level under a mount)");
    /* A folder always ends in '/': "secret/orders" lists what "vault kv list secret/orders"
     * does. */
    vp_sb *folder = h->sb_new(0, 0);
    h->sb_append_str(folder, prefix);
    size_t fl = 0;
    const char *fd = h->sb_data(folder, &fl);
    if (fl > 0 && fd[fl - 1] != '/')
        h->sb_append_str(folder, "/");
    if ((h->sb_status(folder) != VP_OK)) {
        h->sb_free(folder);
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
        rc = list_once(in, call, ns, h->sb_data(folder, NULL), tok, out, &was403, &e);
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
    h->sb_free(folder);
    if (rc != VP_OK) {
        if (e.msg[0] == '\0')
            return rc == VP_ENOMEM ? h->fail(call, rc, "vault: out of memory") : rc;
        return hc_fail(in, call, rc, &e);
    }
    return VP_OK;
}
