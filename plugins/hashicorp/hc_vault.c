/*
 * hc_vault.c - HashiCorp Vault: the token (static, environment or AppRole) and its lifetime,
 * KV mount/version detection, and KV v1/v2 reads.
 *
 * Token lifetime: the lifetime is learned once from login (AppRole) or lookup-self (a given
 * token). Before every request the remaining lifetime is checked against a third of the granted
 * one (at least 1 s, at most 5 min): a renewable token is renewed with renew-self, otherwise an
 * AppRole credential logs in again, so a long-running host never sends an expired token. Vault's
 * 403 does not tell a bad token from a missing policy, so after a 403 the token is checked with
 * lookup-self: rejected -> VP_EAUTH (AppRole: log in again once), accepted -> VP_EPERM.
 */
#include <stdio.h>
#include <string.h>

#include "hc.h"

static int64_t mono(const hc_inst *in)
{
    return in->host->monotonic_ms(in->hc);
}

/* Drop the token in use (mu held). The static token is not ours to wipe. */
static void drop_token(hc_inst *in)
{
    const vp_host *h = in->host;
    if (in->token != NULL && in->token != in->static_tok) {
        h->unmask(in->hc, in->token, in->token_len);
        h->secure_free(in->token);
    }
    in->token = NULL;
    in->token_len = 0;
    in->token_checked = 0;
    in->token_exp_ms = 0;
    in->token_ttl_ms = 0;
    in->token_renewable = 0;
}

void hc_vault_forget_token(hc_inst *in)
{
    pthread_mutex_lock(&in->mu);
    drop_token(in);
    pthread_mutex_unlock(&in->mu);
}

/* addr + "/v1/" + [ns "/"] + rest, rest percent-encoded with slashes kept; NULL if it does not
 * fit in HC_URL_MAX (or on allocation failure). */
static vp_sb *vault_url(const hc_inst *in, const char *ns, const char *rest, const char *query)
{
    const vp_host *h = in->host;
    vp_sb *s = h->sb_new(HC_URL_MAX - 1, 0);
    h->sb_append_str(s, in->addr);
    h->sb_append_str(s, "/v1/");
    if (ns != NULL && ns[0] != '\0' && !in->ns_header) {
        h->sb_append_enc(s, ns, strlen(ns), VP_ENC_KEEP_SLASH);
        h->sb_append_str(s, "/");
    }
    h->sb_append_enc(s, rest, strlen(rest), VP_ENC_KEEP_SLASH);
    if (query != NULL)
        h->sb_append_str(s, query);
    if (h->sb_status(s) != 0) {
        h->sb_free(s);
        return NULL;
    }
    return s;
}

/* One Vault request; the response is the caller's to http_free(). */
static int vault_req(const hc_inst *in, vp_call *call, const char *method, const char *ns,
                     const char *rest, const char *query, const char *token, const void *body,
                     size_t body_len, vp_http_response **resp)
{
    vp_sb *url = vault_url(in, ns, rest, query);
    if (url == NULL)
        return in->host->fail(call, VP_ELIMIT, "vault: URL for '%.128s' is too long", rest);
    hc_req rq = {0};
    rq.method = method;
    rq.url = in->host->sb_data(url, NULL);
    rq.token = token;
    rq.namespace_ = in->ns_header ? ns : NULL;
    rq.vault = 1;
    rq.body = body;
    rq.body_len = body_len;
    rq.body_secret = body != NULL;
    rq.ctype = body != NULL ? "application/json" : NULL;
    int rc = hc_http(in, call, &rq, resp);
    in->host->sb_free(url);
    return rc;
}

static void set_lifetime(hc_inst *in, int64_t ttl_s, int renewable)
{
    in->token_renewable = renewable;
    in->token_ttl_ms = ttl_s * 1000;
    in->token_exp_ms = ttl_s > 0 ? mono(in) + ttl_s * 1000 : 0;
    in->token_checked = 1;
}

/* AppRole login (mu held). */
static int approle_login(hc_inst *in, vp_call *call, const char *ns, hc_err *e)
{
    const vp_host *h = in->host;
    drop_token(in);
    vp_json *o = h->json_new_object();
    if (o == NULL)
        return VP_ENOMEM;
    int bad = h->json_set(o, "role_id", h->json_new_string(in->role_id, strlen(in->role_id)));
    if (in->secret_id != NULL)
        bad |=
            h->json_set(o, "secret_id", h->json_new_string(in->secret_id, strlen(in->secret_id)));
    size_t blen = 0;
    char *body = bad ? NULL : h->json_dump(o, &blen);
    h->json_free(o);
    if (body == NULL)
        return VP_ENOMEM;
    char rest[320];
    snprintf(rest, sizeof(rest), "auth/%s/login", in->approle_mount);
    vp_http_response *r = NULL;
    int rc = vault_req(in, call, "POST", ns, rest, NULL, NULL, body, blen, &r);
    h->secure_free(body);
    if (rc != VP_OK)
        return rc;
    size_t len;
    const char *rb = h->http_body(r, &len);
    long st = h->http_status(r);
    char *tok = NULL;
    int64_t ttl = 0;
    int renewable = 0;
    rc = hc_parse_auth(h, 0, st, rb, len, 1, &tok, &ttl, &renewable, e);
    if (rc != VP_OK) {
        e->retry_after_ms = h->http_retry_after_ms(call, h->http_header(r, "Retry-After"));
        if (st == 400 || st == 401 || st == 403) {
            char m[HC_MSG_MAX];
            snprintf(m, sizeof(m), "%s", e->msg);
            rc = hc_errf(e, VP_EAUTH, "credential '%s': AppRole login at auth/%s rejected (%s)",
                         in->cred_name, in->approle_mount, m);
        }
    } else {
        in->token = tok;
        in->token_len = strlen(tok);
        h->mask(in->hc, in->token, in->token_len);
        set_lifetime(in, ttl, renewable);
        h->log(in->hc, VP_LOG_DEBUG, "vault: AppRole login for credential '%s' (ttl %lld s)",
               in->cred_name, (long long)ttl);
    }
    h->http_free(r);
    return rc;
}

/* lookup-self (mu held): 0 and lifetime set, VP_EAUTH when the token is rejected. */
static int lookup_self(hc_inst *in, vp_call *call, const char *ns, hc_err *e)
{
    const vp_host *h = in->host;
    vp_http_response *r = NULL;
    int rc = vault_req(in, call, "GET", ns, "auth/token/lookup-self", NULL, in->token, NULL, 0, &r);
    if (rc != VP_OK)
        return rc;
    size_t len;
    const char *rb = h->http_body(r, &len); /* echoes the token: never logged */
    long st = h->http_status(r);
    int64_t ttl = 0;
    int renewable = 0;
    rc = hc_parse_auth(h, 1, st, rb, len, 0, NULL, &ttl, &renewable, e);
    if (rc == VP_OK) {
        set_lifetime(in, ttl, renewable);
    } else {
        e->retry_after_ms = h->http_retry_after_ms(call, h->http_header(r, "Retry-After"));
        if (st == 401 || st == 403)
            rc = hc_errf(e, VP_EAUTH,
                         "credential '%s': Vault rejected the token (invalid, expired or revoked)",
                         in->cred_name[0] ? in->cred_name : "(environment)");
    }
    h->http_free(r);
    return rc;
}

/* renew-self (mu held). */
static int renew_self(hc_inst *in, vp_call *call, const char *ns, hc_err *e)
{
    const vp_host *h = in->host;
    vp_http_response *r = NULL;
    int rc = vault_req(in, call, "POST", ns, "auth/token/renew-self", NULL, in->token, "{}", 2, &r);
    if (rc != VP_OK)
        return rc;
    size_t len;
    const char *rb = h->http_body(r, &len);
    int64_t ttl = 0;
    int renewable = 0;
    rc = hc_parse_auth(h, 0, h->http_status(r), rb, len, 0, NULL, &ttl, &renewable, e);
    h->http_free(r);
    if (rc == VP_OK) {
        in->token_renewable = renewable;
        in->token_exp_ms = ttl > 0 ? mono(in) + ttl * 1000 : 0;
        h->log(in->hc, VP_LOG_DEBUG, "vault: renewed token of credential '%s' (ttl %lld s)",
               in->cred_name, (long long)ttl);
    }
    return rc;
}

static int64_t renew_threshold(const hc_inst *in)
{
    int64_t t = in->token_ttl_ms / 3;
    if (t > 300000)
        t = 300000;
    return t < 1000 ? 1000 : t;
}

/* A secure copy of a usable token in *tok (mu taken here). force: the current one was
 * rejected. */
static int get_token(hc_inst *in, vp_call *call, const char *ns, int force, char **tok, hc_err *e)
{
    const vp_host *h = in->host;
    int rc = VP_OK;
    *tok = NULL;
    pthread_mutex_lock(&in->mu);
    if (force)
        drop_token(in);
    if (in->token == NULL) {
        if (in->have_approle) {
            rc = approle_login(in, call, ns, e);
        } else if (in->static_tok != NULL) {
            in->token = in->static_tok;
            in->token_len = strlen(in->static_tok);
        } else {
            rc = hc_errf(e, VP_EAUTH, "%s", in->noauth);
        }
    }
    if (rc == VP_OK && !in->token_checked)
        rc = lookup_self(in, call, ns, e);
    if (rc == VP_OK && in->token_exp_ms != 0) {
        int64_t left = in->token_exp_ms - mono(in);
        if (left <= renew_threshold(in)) {
            int renewed = 0;
            if (in->token_renewable) {
                hc_err e2 = {0};
                int64_t before = renew_threshold(in);
                renewed =
                    renew_self(in, call, ns, &e2) == VP_OK && in->token_exp_ms - mono(in) > before;
            }
            if (!renewed && in->have_approle)
                rc = approle_login(in, call, ns, e);
            else if (!renewed && left <= 0)
                rc = hc_errf(e, VP_EAUTH,
                             "credential '%s': the Vault token has expired and cannot be renewed",
                             in->cred_name[0] ? in->cred_name : "(environment)");
        }
    }
    if (rc == VP_OK) {
        *tok = h->secure_strdup(in->token);
        if (*tok == NULL)
            rc = VP_ENOMEM;
    }
    pthread_mutex_unlock(&in->mu);
    return rc;
}

/* After a 403: is it the token (VP_EAUTH) or the policy (VP_EPERM)? */
static int classify_403(hc_inst *in, vp_call *call, const char *ns, hc_err *e)
{
    pthread_mutex_lock(&in->mu);
    hc_err e2 = {0};
    int rc = in->token != NULL ? lookup_self(in, call, ns, &e2) : VP_EAUTH;
    if (rc == VP_EAUTH) {
        drop_token(in);
        hc_errf(e, VP_EAUTH, "%s", e2.msg[0] ? e2.msg : "vault: token rejected");
    }
    pthread_mutex_unlock(&in->mu);
    return rc == VP_EAUTH ? VP_EAUTH : VP_EPERM;
}

/* Cached KV version of the mount holding path (mu taken here): 0 = unknown. */
static int mount_cached(hc_inst *in, const char *ns, const char *path, char **mount)
{
    int v = 0;
    size_t plen = strlen(path);
    pthread_mutex_lock(&in->mu);
    for (size_t i = 0; i < in->n_mounts && v == 0; i++) {
        const hc_mount *m = &in->mounts[i];
        size_t ml = strlen(m->path);
        if (strcmp(m->ns, ns) != 0)
            continue;
        /* "secret/" holds "secret/x" and is the mount "secret" itself. */
        if ((plen >= ml && strncmp(path, m->path, ml) == 0) ||
            (plen + 1 == ml && strncmp(path, m->path, plen) == 0)) {
            *mount = in->host->strdup(m->path);
            v = *mount ? m->version : 0;
        }
    }
    pthread_mutex_unlock(&in->mu);
    return v;
}

static void mount_remember(hc_inst *in, const char *ns, const char *mount, int version)
{
    const vp_host *h = in->host;
    pthread_mutex_lock(&in->mu);
    if (in->n_mounts < HC_MAX_MOUNTS) {
        hc_mount *m = &in->mounts[in->n_mounts];
        m->ns = h->strdup(ns);
        m->path = h->strdup(mount);
        m->version = version;
        if (m->ns && m->path)
            in->n_mounts++;
        else {
            h->free(m->ns);
            h->free(m->path);
            m->ns = m->path = NULL;
        }
    }
    pthread_mutex_unlock(&in->mu);
}

/* Find the mount and KV version for path (full path, mount first). */
static int detect(hc_inst *in, vp_call *call, const char *ns, const char *path, const char *tok,
                  char **mount, int *version, hc_err *e)
{
    const vp_host *h = in->host;
    *version = mount_cached(in, ns, path, mount);
    if (*version != 0)
        return VP_OK;
    vp_sb *rest = h->sb_new(0, 0);
    h->sb_append_str(rest, "sys/internal/ui/mounts/");
    if (h->sb_append_str(rest, path) != 0) {
        h->sb_free(rest);
        return VP_ENOMEM;
    }
    vp_http_response *r = NULL;
    int rc = vault_req(in, call, "GET", ns, h->sb_data(rest, NULL), NULL, tok, NULL, 0, &r);
    h->sb_free(rest);
    if (rc != VP_OK)
        return rc;
    size_t len;
    const char *rb = h->http_body(r, &len);
    long st = h->http_status(r);
    if (st == 404) {
        /* Vault before the mounts endpoint: the first segment is the mount, KV v1. */
        const char *sl = strchr(path, '/');
        size_t ml = sl ? (size_t)(sl - path) : strlen(path);
        *mount = h->malloc(ml + 2);
        if (*mount == NULL) {
            h->http_free(r);
            return VP_ENOMEM;
        }
        memcpy(*mount, path, ml);
        memcpy(*mount + ml, "/", 2);
        *version = 1;
        rc = VP_OK;
    } else {
        rc = hc_parse_mount(h, st, rb, len, path, mount, version, e);
        if (rc != VP_OK)
            e->retry_after_ms = h->http_retry_after_ms(call, h->http_header(r, "Retry-After"));
    }
    h->http_free(r);
    if (rc == VP_OK) {
        h->log(in->hc, VP_LOG_DEBUG, "vault: mount '%s' is KV v%d", *mount, *version);
        mount_remember(in, ns, *mount, *version);
    } else if (st == 403) {
        rc = VP_EPERM; /* classified by the caller */
    }
    return rc;
}

/* Read once with a given token; rc VP_EPERM with *was403 means "classify". */
static int read_once(hc_inst *in, vp_call *call, const hc_vref *r, const char *ns, const char *tok,
                     hc_kv_result *res, int *was403, hc_err *e)
{
    const vp_host *h = in->host;
    char *mount = NULL;
    int version = r->kv_version;
    const char *sub = r->path;
    int rc = VP_OK;
    *was403 = 0;
    if (r->mount != NULL) {
        mount = h->malloc(strlen(r->mount) + 2);
        if (mount == NULL)
            return VP_ENOMEM;
        sprintf(mount, "%s/", r->mount);
        if (version == 0) {
            vp_sb *full = h->sb_new(0, 0);
            h->sb_append_str(full, mount);
            if (h->sb_append_str(full, r->path) != 0) {
                h->sb_free(full);
                h->free(mount);
                return VP_ENOMEM;
            }
            char *dm = NULL;
            rc = detect(in, call, ns, h->sb_data(full, NULL), tok, &dm, &version, e);
            h->free(dm);
            h->sb_free(full);
        }
    } else {
        rc = detect(in, call, ns, r->path, tok, &mount, &version, e);
        if (r->kv_version != 0)
            version = r->kv_version;
        if (rc == VP_OK) {
            size_t ml = strlen(mount);
            sub = strlen(r->path) >= ml ? r->path + ml : "";
        }
    }
    if (rc != VP_OK) {
        h->free(mount);
        *was403 = rc == VP_EPERM;
        return rc;
    }
    if (sub[0] == '\0') {
        rc = hc_errf(e, VP_EINVAL,
                     "vault: '%s' names a mount, not a secret (add the secret's path)", mount);
        h->free(mount);
        return rc;
    }
    if (version == 1 && r->version > 0) {
        rc = hc_errf(e, VP_EINVAL, "vault: '%s' is a KV version 1 mount, which keeps no versions",
                     mount);
        h->free(mount);
        return rc;
    }
    vp_sb *rest = h->sb_new(0, 0), *what = h->sb_new(0, 0);
    h->sb_printf(rest, "%s%s%s", mount, version == 2 ? "data/" : "", sub);
    h->sb_printf(what, "%s%s", mount, sub);
    char query[40] = "";
    if (version == 2 && r->version > 0)
        snprintf(query, sizeof(query), "?version=%llu", (unsigned long long)r->version);
    h->free(mount);
    if (h->sb_status(rest) != 0 || h->sb_status(what) != 0) {
        h->sb_free(rest);
        h->sb_free(what);
        return VP_ENOMEM;
    }
    vp_http_response *resp = NULL;
    rc = vault_req(in, call, "GET", ns, h->sb_data(rest, NULL), query[0] ? query : NULL, tok, NULL,
                   0, &resp);
    h->sb_free(rest);
    if (rc == VP_OK) {
        size_t len;
        const char *rb = h->http_body(resp, &len);
        long st = h->http_status(resp);
        rc = hc_parse_kv(h, version, st, rb, len, h->sb_data(what, NULL), r->key, res, e);
        if (rc != VP_OK)
            e->retry_after_ms = h->http_retry_after_ms(call, h->http_header(resp, "Retry-After"));
        *was403 = st == 403 || st == 401;
        h->http_free(resp);
    }
    h->sb_free(what);
    return rc;
}

int hc_vault_fetch(hc_inst *in, vp_call *call, const hc_vref *r, const char *uri,
                   vp_secret_out *out)
{
    const vp_host *h = in->host;
    const char *ns = r->ns ? r->ns : (in->ns ? in->ns : "");
    hc_err e = {0};
    int rc = VP_OK;
    hc_kv_result res = {0};
    for (int attempt = 0; attempt < 2; attempt++) {
        char *tok = NULL;
        memset(&e, 0, sizeof(e));
        rc = get_token(in, call, ns, attempt > 0, &tok, &e);
        if (rc != VP_OK) {
            h->secure_free(tok);
            break;
        }
        int was403 = 0;
        rc = read_once(in, call, r, ns, tok, &res, &was403, &e);
        h->secure_free(tok);
        if (rc == VP_OK || !was403)
            break;
        hc_err keep = e;
        rc = classify_403(in, call, ns, &e);
        if (rc == VP_EPERM) {
            e = keep;
            if (strstr(e.msg, "permission denied") == NULL)
                hc_errf(&e, VP_EPERM, "vault: permission denied for %s", uri);
            break;
        }
        if (!in->have_approle)
            break; /* a given token cannot be replaced */
    }
    if (rc != VP_OK) {
        if (e.msg[0] == '\0')
            return rc == VP_ENOMEM ? h->fail(call, rc, "vault: out of memory") : rc;
        return hc_fail(in, call, rc, &e);
    }
    rc = h->secret_set(out, res.value, res.len);
    h->secure_free(res.value);
    if (rc != VP_OK)
        return h->fail(call, rc, "vault: cannot store the value of %s", uri);
    if (res.version[0] != '\0')
        (void)h->secret_set_version(out, res.version);
    if (res.ttl_s > 0)
        h->secret_set_ttl(out, res.ttl_s);
    return VP_OK;
}

int hc_vault_validate(hc_inst *in, vp_call *call)
{
    const char *ns = in->ns ? in->ns : "";
    hc_err e = {0};
    char *tok = NULL;
    int rc = get_token(in, call, ns, 0, &tok, &e);
    in->host->secure_free(tok);
    if (rc == VP_OK) {
        /* A token checked long ago may have been revoked since: look it up now. */
        pthread_mutex_lock(&in->mu);
        rc = in->token ? lookup_self(in, call, ns, &e) : VP_EAUTH;
        pthread_mutex_unlock(&in->mu);
    }
    if (rc == VP_OK)
        return VP_OK;
    if (e.msg[0] == '\0')
        return rc;
    return hc_fail(in, call, rc, &e);
}

/* ---- for hc_list.c ------------------------------------------------------------------------ */

int hc_vault_token(hc_inst *in, vp_call *call, const char *ns, int force, char **tok, hc_err *e)
{
    return get_token(in, call, ns, force, tok, e);
}

int hc_vault_detect(hc_inst *in, vp_call *call, const char *ns, const char *path, const char *tok,
                    char **mount, int *version, hc_err *e)
{
    return detect(in, call, ns, path, tok, mount, version, e);
}

int hc_vault_req(const hc_inst *in, vp_call *call, const char *method, const char *ns,
                 const char *rest, const char *query, const char *token, vp_http_response **resp)
{
    return vault_req(in, call, method, ns, rest, query, token, NULL, 0, resp);
}

int hc_vault_classify_403(hc_inst *in, vp_call *call, const char *ns, hc_err *e)
{
    return classify_403(in, call, ns, e);
}
