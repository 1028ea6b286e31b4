/*
 * mock_vault.c - HashiCorp Vault emulation (see mock_vault.h). State is kept as json-c trees
 * under one mutex; every handler answers with Vault's envelope or {"errors":[...]} body.
 */
#include <ctype.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <json-c/json.h>
#include <openssl/rand.h>

#include "mock_vault.h"

struct mock_vault {
    mc_server *srv;
    pthread_mutex_t mu;
    json_object *namespaces, *mounts, *secrets, *tokens, *approles;
    int64_t offset_s;
    int sealed;
    int require_hdr;
    int legacy_mounts;
    int fail_status;
    unsigned fail_count, fail_retry_after;
    char fail_prefix[256];
    uint64_t counts[MV_COUNT__N];
    char root[64];
};

static int64_t now_s(const mock_vault *m)
{
    return (int64_t)time(NULL) + m->offset_s;
}

static const char *jstr(json_object *o, const char *key)
{
    json_object *v;
    if (!json_object_object_get_ex(o, key, &v) || !json_object_is_type(v, json_type_string))
        return NULL;
    return json_object_get_string(v);
}

static int64_t jint(json_object *o, const char *key, int64_t def)
{
    json_object *v;
    if (!json_object_object_get_ex(o, key, &v) || v == NULL)
        return def;
    return json_object_get_int64(v);
}

static int jbool(json_object *o, const char *key, int def)
{
    json_object *v;
    if (!json_object_object_get_ex(o, key, &v) || v == NULL)
        return def;
    return json_object_get_boolean(v);
}

static void rand_hex(char *out, size_t nbytes)
{
    unsigned char b[32];
    static const char hx[] = "0123456789abcdef";
    if (nbytes > sizeof(b))
        nbytes = sizeof(b);
    if (RAND_bytes(b, (int)nbytes) != 1)
        memset(b, 7, nbytes);
    for (size_t i = 0; i < nbytes; i++) {
        out[2 * i] = hx[b[i] >> 4];
        out[2 * i + 1] = hx[b[i] & 15];
    }
    out[2 * nbytes] = '\0';
}

static void errors(mc_response *resp, int status, const char *msg)
{
    json_object *o = json_object_new_object();
    json_object *a = json_object_new_array();
    if (msg != NULL)
        json_object_array_add(a, json_object_new_string(msg));
    json_object_object_add(o, "errors", a);
    mc_resp_json(resp, status, "%s", json_object_to_json_string_ext(o, JSON_C_TO_STRING_PLAIN));
    json_object_put(o);
}

/* Vault's logical response envelope; takes ownership of data/auth. */
static void envelope(mc_response *resp, int status, json_object *data, json_object *auth,
                     int64_t lease)
{
    char rid[40];
    rand_hex(rid, 16);
    json_object *o = json_object_new_object();
    json_object_object_add(o, "request_id", json_object_new_string(rid));
    json_object_object_add(o, "lease_id", json_object_new_string(""));
    json_object_object_add(o, "renewable", json_object_new_boolean(0));
    json_object_object_add(o, "lease_duration", json_object_new_int64(lease));
    json_object_object_add(o, "data", data);
    json_object_object_add(o, "wrap_info", NULL);
    json_object_object_add(o, "warnings", NULL);
    json_object_object_add(o, "auth", auth);
    json_object_object_add(o, "mount_type", json_object_new_string(auth ? "" : "kv"));
    mc_resp_json(resp, status, "%s", json_object_to_json_string_ext(o, JSON_C_TO_STRING_PLAIN));
    json_object_put(o);
}

static int ns_exists(const mock_vault *m, const char *ns)
{
    if (ns[0] == '\0')
        return 1;
    size_t n = json_object_array_length(m->namespaces);
    for (size_t i = 0; i < n; i++)
        if (strcmp(json_object_get_string(json_object_array_get_idx(m->namespaces, i)), ns) == 0)
            return 1;
    return 0;
}

/* Longest mount of ns that holds path ("mount/..." or the mount itself). */
static json_object *find_mount(const mock_vault *m, const char *ns, const char *path, size_t *ml)
{
    json_object *best = NULL;
    size_t bl = 0, n = json_object_array_length(m->mounts);
    for (size_t i = 0; i < n; i++) {
        json_object *mt = json_object_array_get_idx(m->mounts, i);
        const char *mns = jstr(mt, "namespace"), *mp = jstr(mt, "path");
        if (strcmp(mns ? mns : "", ns) != 0 || mp == NULL)
            continue;
        size_t l = strlen(mp);
        if (strncmp(path, mp, l) == 0 && (path[l] == '/' || path[l] == '\0') && l > bl) {
            best = mt;
            bl = l;
        }
    }
    *ml = bl;
    return best;
}

static json_object *find_token(const mock_vault *m, const mc_request *req)
{
    const char *t = mc_req_header(req, "X-Vault-Token");
    const char *a = mc_req_header(req, "Authorization");
    if ((t == NULL || t[0] == '\0') && a != NULL && strncmp(a, "Bearer ", 7) == 0)
        t = a + 7;
    if (t == NULL || t[0] == '\0')
        return NULL;
    size_t n = json_object_array_length(m->tokens);
    for (size_t i = 0; i < n; i++) {
        json_object *tk = json_object_array_get_idx(m->tokens, i);
        const char *v = jstr(tk, "token");
        if (v == NULL || strcmp(v, t) != 0)
            continue;
        if (jbool(tk, "revoked", 0))
            return NULL;
        int64_t exp = jint(tk, "expire_at", 0);
        if (exp != 0 && now_s(m) >= exp)
            return NULL;
        return tk;
    }
    return NULL;
}

static int allowed(json_object *tk, const char *path)
{
    json_object *paths;
    if (!json_object_object_get_ex(tk, "paths", &paths) || paths == NULL)
        return 1;
    size_t n = json_object_array_length(paths);
    for (size_t i = 0; i < n; i++) {
        const char *p = json_object_get_string(json_object_array_get_idx(paths, i));
        if (strcmp(p, "*") == 0 || strncmp(path, p, strlen(p)) == 0)
            return 1;
    }
    return 0;
}

/* Token object (copied from tokens) for auth blocks. */
static json_object *auth_block(const mock_vault *m, json_object *tk, const char *meta_role)
{
    json_object *a = json_object_new_object();
    json_object_object_add(a, "client_token", json_object_new_string(jstr(tk, "token")));
    char acc[40];
    rand_hex(acc, 12);
    json_object_object_add(a, "accessor", json_object_new_string(acc));
    json_object *pol = json_object_new_array();
    json_object_array_add(pol, json_object_new_string("default"));
    json_object_object_add(a, "policies", json_object_get(pol));
    json_object_object_add(a, "token_policies", pol);
    json_object *md = json_object_new_object();
    if (meta_role)
        json_object_object_add(md, "role_name", json_object_new_string(meta_role));
    json_object_object_add(a, "metadata", md);
    int64_t exp = jint(tk, "expire_at", 0);
    json_object_object_add(a, "lease_duration", json_object_new_int64(exp ? exp - now_s(m) : 0));
    json_object_object_add(a, "renewable", json_object_new_boolean(jbool(tk, "renewable", 0)));
    json_object_object_add(a, "entity_id", json_object_new_string(""));
    json_object_object_add(a, "token_type", json_object_new_string("service"));
    json_object_object_add(a, "orphan", json_object_new_boolean(1));
    json_object_object_add(a, "num_uses", json_object_new_int(0));
    return a;
}

/* New token entry: ttl 0 = never expires; max_ttl 0 = no cap. */
static json_object *add_token(mock_vault *m, const char *value, int64_t ttl, int64_t max_ttl,
                              int renewable, json_object *paths, int issued)
{
    json_object *tk = json_object_new_object();
    json_object_object_add(tk, "token", json_object_new_string(value));
    int64_t now = now_s(m);
    json_object_object_add(tk, "ttl", json_object_new_int64(ttl));
    json_object_object_add(tk, "expire_at", json_object_new_int64(ttl > 0 ? now + ttl : 0));
    json_object_object_add(tk, "max_at", json_object_new_int64(max_ttl > 0 ? now + max_ttl : 0));
    json_object_object_add(tk, "creation_time", json_object_new_int64(now));
    json_object_object_add(tk, "renewable", json_object_new_boolean(renewable));
    json_object_object_add(tk, "issued", json_object_new_boolean(issued));
    if (paths != NULL)
        json_object_object_add(tk, "paths", json_object_get(paths));
    json_object_array_add(m->tokens, tk);
    return tk;
}

static void deny(mock_vault *m, mc_response *resp, int multi)
{
    m->counts[MV_COUNT_DENIED]++;
    errors(resp, 403, multi ? "1 error occurred:\n\t* permission denied\n\n" : "permission denied");
}

static void h_lookup(mock_vault *m, json_object *tk, mc_response *resp)
{
    m->counts[MV_COUNT_LOOKUP]++;
    int64_t now = now_s(m), exp = jint(tk, "expire_at", 0);
    json_object *d = json_object_new_object();
    char acc[40];
    rand_hex(acc, 12);
    json_object_object_add(d, "accessor", json_object_new_string(acc));
    json_object_object_add(d, "creation_time", json_object_new_int64(jint(tk, "creation_time", 0)));
    json_object_object_add(d, "creation_ttl", json_object_new_int64(jint(tk, "ttl", 0)));
    json_object_object_add(d, "display_name", json_object_new_string("token"));
    json_object_object_add(d, "entity_id", json_object_new_string(""));
    json_object_object_add(d, "expire_time", NULL);
    json_object_object_add(d, "explicit_max_ttl", json_object_new_int(0));
    json_object_object_add(d, "id", json_object_new_string(jstr(tk, "token")));
    json_object_object_add(d, "meta", NULL);
    json_object_object_add(d, "num_uses", json_object_new_int(0));
    json_object_object_add(d, "orphan", json_object_new_boolean(1));
    json_object_object_add(d, "path", json_object_new_string("auth/token/create"));
    json_object *pol = json_object_new_array();
    json_object_array_add(pol, json_object_new_string("default"));
    json_object_object_add(d, "policies", pol);
    json_object_object_add(d, "renewable", json_object_new_boolean(jbool(tk, "renewable", 0)));
    json_object_object_add(d, "ttl", json_object_new_int64(exp ? exp - now : 0));
    json_object_object_add(d, "type", json_object_new_string("service"));
    envelope(resp, 200, d, NULL, 0);
}

static void h_renew(mock_vault *m, json_object *tk, mc_response *resp)
{
    if (!jbool(tk, "renewable", 0)) {
        errors(resp, 400, "lease is not renewable");
        return;
    }
    int64_t now = now_s(m), ttl = jint(tk, "ttl", 0), max_at = jint(tk, "max_at", 0);
    int64_t exp = ttl > 0 ? now + ttl : 0;
    if (max_at != 0 && (exp == 0 || exp > max_at))
        exp = max_at;
    json_object_object_add(tk, "expire_at", json_object_new_int64(exp));
    m->counts[MV_COUNT_RENEW]++;
    envelope(resp, 200, NULL, auth_block(m, tk, NULL), 0);
}

static void h_login(mock_vault *m, const char *mount, const mc_request *req, mc_response *resp)
{
    json_object *body = json_tokener_parse(req->body ? req->body : "");
    const char *rid = body ? jstr(body, "role_id") : NULL;
    const char *sid = body ? jstr(body, "secret_id") : NULL;
    size_t n = json_object_array_length(m->approles);
    json_object *role = NULL;
    int mount_known = 0;
    for (size_t i = 0; i < n; i++) {
        json_object *r = json_object_array_get_idx(m->approles, i);
        const char *rm = jstr(r, "mount");
        if (strcmp(rm ? rm : "approle", mount) != 0)
            continue;
        mount_known = 1;
        const char *want_rid = jstr(r, "role_id"), *want_sid = jstr(r, "secret_id");
        if (rid == NULL || want_rid == NULL || strcmp(rid, want_rid) != 0)
            continue;
        if (want_sid != NULL && (sid == NULL || strcmp(sid, want_sid) != 0))
            continue;
        role = r;
    }
    if (!mount_known) {
        json_object_put(body);
        errors(resp, 404, "no handler for route. route entry not found.");
        return;
    }
    if (role == NULL) {
        json_object_put(body);
        m->counts[MV_COUNT_LOGIN_FAIL]++;
        errors(resp, 400, rid == NULL ? "missing role_id" : "invalid role or secret ID");
        return;
    }
    char tok[80] = "hvs.";
    rand_hex(tok + 4, 24);
    json_object *paths = NULL;
    json_object_object_get_ex(role, "paths", &paths);
    json_object *tk =
        add_token(m, tok, jint(role, "token_ttl", 1200), jint(role, "token_max_ttl", 0),
                  jbool(role, "renewable", 1), paths, 1);
    m->counts[MV_COUNT_LOGIN]++;
    json_object_put(body);
    envelope(resp, 200, NULL, auth_block(m, tk, "mock-role"), 0);
}

static void h_mounts(mock_vault *m, const char *ns, const char *path, mc_response *resp)
{
    m->counts[MV_COUNT_MOUNTS]++;
    size_t ml;
    json_object *mt = find_mount(m, ns, path, &ml);
    if (mt == NULL) {
        /* Vault answers 403, not 404, so the endpoint cannot enumerate mounts. */
        deny(m, resp, 0);
        return;
    }
    json_object *d = json_object_new_object();
    char p[300];
    snprintf(p, sizeof(p), "%s/", jstr(mt, "path"));
    const char *type = jstr(mt, "type");
    json_object_object_add(d, "path", json_object_new_string(p));
    json_object_object_add(d, "type", json_object_new_string(type ? type : "kv"));
    json_object_object_add(d, "description", json_object_new_string(""));
    int64_t v = jint(mt, "version", 1);
    if (v == 2) {
        json_object *o = json_object_new_object();
        json_object_object_add(o, "version", json_object_new_string("2"));
        json_object_object_add(d, "options", o);
    } else {
        json_object_object_add(d, "options", NULL);
    }
    envelope(resp, 200, d, NULL, 0);
}

static json_object *find_secret(const mock_vault *m, const char *ns, const char *mount,
                                const char *path)
{
    size_t n = json_object_array_length(m->secrets);
    for (size_t i = 0; i < n; i++) {
        json_object *s = json_object_array_get_idx(m->secrets, i);
        const char *sns = jstr(s, "namespace"), *sm = jstr(s, "mount"), *sp = jstr(s, "path");
        if (strcmp(sns ? sns : "", ns) == 0 && sm && sp && strcmp(sm, mount) == 0 &&
            strcmp(sp, path) == 0)
            return s;
    }
    return NULL;
}

/* LIST (or GET ?list=true) of one folder: KV v2 under metadata/, KV v1 directly. The keys
 * directly under it, sub-folders once with a trailing '/', sorted by path as seeded; 404 with
 * an empty errors array when there are none (what Vault answers). */
static void h_list(mock_vault *m, const char *ns, json_object *mt, const char *sub,
                   mc_response *resp)
{
    const char *mount = jstr(mt, "path");
    char folder[1024];
    if (jint(mt, "version", 1) == 2) {
        if (strncmp(sub, "metadata", 8) != 0 || (sub[8] != '/' && sub[8] != '\0')) {
            errors(resp, 405, "unsupported operation");
            return;
        }
        sub += sub[8] == '/' ? 9 : 8;
    }
    snprintf(folder, sizeof(folder), "%s%s", sub, sub[0] && sub[strlen(sub) - 1] != '/' ? "/" : "");
    size_t fl = strlen(folder);
    json_object *keys = json_object_new_array();
    size_t n = json_object_array_length(m->secrets);
    for (size_t i = 0; i < n; i++) {
        json_object *s = json_object_array_get_idx(m->secrets, i);
        const char *sns = jstr(s, "namespace"), *sm = jstr(s, "mount"), *sp = jstr(s, "path");
        if (strcmp(sns ? sns : "", ns) != 0 || sm == NULL || sp == NULL || strcmp(sm, mount) != 0 ||
            strncmp(sp, folder, fl) != 0 || sp[fl] == '\0')
            continue;
        const char *r = sp + fl, *sl = strchr(r, '/');
        char key[512];
        snprintf(key, sizeof(key), "%.*s", (int)(sl ? (size_t)(sl - r) + 1 : strlen(r)), r);
        size_t k, nk = json_object_array_length(keys);
        for (k = 0; k < nk; k++)
            if (strcmp(json_object_get_string(json_object_array_get_idx(keys, k)), key) == 0)
                break;
        if (k == nk)
            json_object_array_add(keys, json_object_new_string(key));
    }
    m->counts[MV_COUNT_LIST]++;
    if (json_object_array_length(keys) == 0) {
        json_object_put(keys);
        errors(resp, 404, NULL);
        return;
    }
    json_object *d = json_object_new_object();
    json_object_object_add(d, "keys", keys);
    envelope(resp, 200, d, NULL, 0);
}

static void h_kv(mock_vault *m, const char *ns, const char *rest, json_object *tk,
                 const mc_request *req, mc_response *resp)
{
    size_t ml;
    json_object *mt = find_mount(m, ns, rest, &ml);
    if (mt == NULL) {
        char msg[400];
        snprintf(msg, sizeof(msg), "no handler for route \"%.300s\". route entry not found.", rest);
        errors(resp, 404, msg);
        return;
    }
    if (tk == NULL) {
        deny(m, resp, 0);
        return;
    }
    if (!allowed(tk, rest)) {
        deny(m, resp, 1);
        return;
    }
    const char *mount = jstr(mt, "path");
    const char *sub = rest[ml] == '/' ? rest + ml + 1 : "";
    const char *lq = mc_req_query(req, "list");
    if (strcmp(req->method, "LIST") == 0 ||
        (strcmp(req->method, "GET") == 0 && lq != NULL && strcmp(lq, "true") == 0)) {
        h_list(m, ns, mt, sub, resp);
        return;
    }
    if (strcmp(req->method, "GET") != 0) {
        errors(resp, 405, "unsupported operation");
        return;
    }
    if (jint(mt, "version", 1) != 2) {
        json_object *s = find_secret(m, ns, mount, sub);
        json_object *data;
        if (s == NULL || !json_object_object_get_ex(s, "data", &data)) {
            errors(resp, 404, NULL);
            return;
        }
        m->counts[MV_COUNT_READ]++;
        envelope(resp, 200, json_object_get(data), NULL, jint(s, "ttl", 2764800));
        return;
    }
    if (strncmp(sub, "data/", 5) != 0) {
        json_object *o = json_object_new_object();
        json_object_object_add(o, "errors", json_object_new_array());
        json_object *w = json_object_new_array();
        json_object_array_add(
            w, json_object_new_string("Invalid path for a versioned K/V secrets engine. See the "
                                      "API docs for the appropriate API endpoints to use. If "
                                      "using the Vault CLI, use 'vault kv get' for this "
                                      "operation."));
        json_object_object_add(o, "warnings", w);
        mc_resp_json(resp, 404, "%s", json_object_to_json_string_ext(o, JSON_C_TO_STRING_PLAIN));
        json_object_put(o);
        return;
    }
    json_object *s = find_secret(m, ns, mount, sub + 5), *vers = NULL;
    if (s == NULL || !json_object_object_get_ex(s, "versions", &vers) ||
        json_object_array_length(vers) == 0) {
        errors(resp, 404, NULL);
        return;
    }
    size_t nv = json_object_array_length(vers);
    const char *q = mc_req_query(req, "version");
    size_t want = q && atoi(q) > 0 ? (size_t)atoi(q) : nv;
    if (want > nv) {
        errors(resp, 404, NULL);
        return;
    }
    json_object *ver = json_object_array_get_idx(vers, want - 1), *vdata = NULL;
    int deleted = jbool(ver, "deleted", 0), destroyed = jbool(ver, "destroyed", 0);
    json_object_object_get_ex(ver, "data", &vdata);
    json_object *md = json_object_new_object();
    json_object_object_add(md, "created_time",
                           json_object_new_string("2024-01-01T00:00:00.000000000Z"));
    json_object_object_add(md, "custom_metadata", NULL);
    json_object_object_add(md, "deletion_time",
                           json_object_new_string(deleted ? "2024-02-01T00:00:00.000000000Z" : ""));
    json_object_object_add(md, "destroyed", json_object_new_boolean(destroyed));
    json_object_object_add(md, "version", json_object_new_int64((int64_t)want));
    json_object *d = json_object_new_object();
    int gone = deleted || destroyed;
    json_object_object_add(d, "data", gone ? NULL : json_object_get(vdata));
    json_object_object_add(d, "metadata", md);
    if (!gone)
        m->counts[MV_COUNT_READ]++;
    envelope(resp, gone ? 404 : 200, d, NULL, 0);
}

static void trim_slashes(char *s)
{
    size_t k = strspn(s, "/");
    memmove(s, s + k, strlen(s + k) + 1);
    size_t n = strlen(s);
    while (n > 0 && s[n - 1] == '/')
        s[--n] = '\0';
}

static void handler(void *ud, const mc_request *req, mc_response *resp)
{
    mock_vault *m = ud;
    pthread_mutex_lock(&m->mu);
    char ns[512] = "", rest[2048];
    const char *hdr = mc_req_header(req, "X-Vault-Namespace");
    snprintf(rest, sizeof(rest), "%s", req->path + 4); /* after "/v1/" */
    if (hdr != NULL && hdr[0] != '\0') {
        snprintf(ns, sizeof(ns), "%s", hdr);
        trim_slashes(ns);
        m->counts[MV_COUNT_NS_HEADER]++;
    }
    if (m->sealed) {
        errors(resp, 503, "Vault is sealed");
        goto out;
    }
    if (m->require_hdr) {
        const char *xr = mc_req_header(req, "X-Vault-Request");
        if (xr == NULL || strcmp(xr, "true") != 0) {
            errors(resp, 412, "missing 'X-Vault-Request' header");
            goto out;
        }
    }
    if (!ns_exists(m, ns)) {
        errors(resp, 404, "namespace not found");
        goto out;
    }
    /* A namespace may continue as a path prefix: /v1/ns1/ns2/secret/... */
    for (;;) {
        char *sl = strchr(rest, '/');
        if (sl == NULL)
            break;
        char cand[600];
        snprintf(cand, sizeof(cand), "%s%s%.*s", ns, ns[0] ? "/" : "", (int)(sl - rest), rest);
        if (strcmp(cand, "sys") == 0 || strcmp(cand, "auth") == 0 || !ns_exists(m, cand) ||
            strlen(cand) >= sizeof(ns))
            break;
        memcpy(ns, cand, strlen(cand) + 1);
        memmove(rest, sl + 1, strlen(sl + 1) + 1);
        m->counts[MV_COUNT_NS_PATH]++;
    }
    if (m->fail_count > 0 &&
        (m->fail_prefix[0] == '\0' || strncmp(rest, m->fail_prefix, strlen(m->fail_prefix)) == 0)) {
        m->fail_count--;
        if (m->fail_retry_after) {
            char ra[16];
            snprintf(ra, sizeof(ra), "%u", m->fail_retry_after);
            mc_resp_header(resp, "Retry-After", ra);
        }
        const char *msg = m->fail_status == 429   ? "request path \"x\": rate limit quota exceeded"
                          : m->fail_status == 412 ? "required index state not present"
                          : m->fail_status == 503 ? "Vault is sealed"
                                                  : "internal error";
        errors(resp, m->fail_status, msg);
        goto out;
    }
    json_object *tk = find_token(m, req);
    if (strcmp(rest, "auth/token/lookup-self") == 0) {
        if (tk == NULL)
            deny(m, resp, 0);
        else
            h_lookup(m, tk, resp);
    } else if (strcmp(rest, "auth/token/renew-self") == 0) {
        if (tk == NULL)
            deny(m, resp, 0);
        else
            h_renew(m, tk, resp);
    } else if (strncmp(rest, "auth/", 5) == 0 && strlen(rest) > 11 &&
               strcmp(rest + strlen(rest) - 6, "/login") == 0) {
        char mount[256];
        snprintf(mount, sizeof(mount), "%.*s", (int)(strlen(rest) - 11), rest + 5);
        if (strcmp(req->method, "POST") != 0 && strcmp(req->method, "PUT") != 0)
            errors(resp, 405, "unsupported operation");
        else
            h_login(m, mount, req, resp);
    } else if (strncmp(rest, "sys/internal/ui/mounts/", 23) == 0) {
        if (m->legacy_mounts) {
            m->counts[MV_COUNT_MOUNTS]++;
            errors(resp, 404, NULL);
        } else if (tk == NULL)
            deny(m, resp, 0);
        else
            h_mounts(m, ns, rest + 23, resp);
    } else {
        h_kv(m, ns, rest, tk, req, resp);
    }
out:
    pthread_mutex_unlock(&m->mu);
}

static int seed_add(json_object *dst, json_object *src, const char *key)
{
    json_object *a;
    if (!json_object_object_get_ex(src, key, &a) || a == NULL)
        return 0;
    if (!json_object_is_type(a, json_type_array))
        return -1;
    for (size_t i = 0; i < json_object_array_length(a); i++)
        json_object_array_add(dst, json_object_get(json_object_array_get_idx(a, i)));
    return 0;
}

int mock_vault_seed_json(mock_vault *m, const char *json, char *err, size_t errcap)
{
    json_object *o = json_tokener_parse(json);
    if (o == NULL || !json_object_is_type(o, json_type_object)) {
        snprintf(err, errcap, "mock_vault: seed is not a JSON object");
        json_object_put(o);
        return -1;
    }
    pthread_mutex_lock(&m->mu);
    int rc = seed_add(m->namespaces, o, "namespaces") | seed_add(m->mounts, o, "mounts") |
             seed_add(m->secrets, o, "secrets") | seed_add(m->approles, o, "approles");
    json_object *toks;
    if (rc == 0 && json_object_object_get_ex(o, "tokens", &toks) && toks != NULL) {
        for (size_t i = 0; i < json_object_array_length(toks); i++) {
            json_object *t = json_object_array_get_idx(toks, i), *paths = NULL;
            const char *v = jstr(t, "token");
            if (v == NULL) {
                rc = -1;
                break;
            }
            json_object_object_get_ex(t, "paths", &paths);
            add_token(m, v, jint(t, "ttl", 0), jint(t, "max_ttl", 0), jbool(t, "renewable", 0),
                      paths, 0);
        }
    }
    pthread_mutex_unlock(&m->mu);
    json_object_put(o);
    if (rc != 0)
        snprintf(err, errcap,
                 "mock_vault: malformed seed (arrays expected, tokens need \"token\")");
    return rc ? -1 : 0;
}

mock_vault *mock_vault_start(int tls, char *err, size_t errcap)
{
    mock_vault *m = calloc(1, sizeof(*m));
    if (m == NULL) {
        snprintf(err, errcap, "mock_vault: out of memory");
        return NULL;
    }
    pthread_mutex_init(&m->mu, NULL);
    m->namespaces = json_object_new_array();
    m->mounts = json_tokener_parse("[{\"path\":\"secret\",\"version\":2},"
                                   "{\"path\":\"kv\",\"version\":1}]");
    m->secrets = json_object_new_array();
    m->tokens = json_object_new_array();
    m->approles = json_object_new_array();
    m->require_hdr = 1;
    memcpy(m->root, "hvs.mockroot", 12);
    rand_hex(m->root + 12, 12);
    add_token(m, m->root, 0, 0, 0, NULL, 0);
    static const char *const logh[] = {"X-Vault-Token", "X-Vault-Namespace", "X-Vault-Request",
                                       NULL};
    mc_options opt = {0};
    opt.tls = tls;
    opt.log_headers = logh;
    m->srv = mc_start(&opt);
    if (m->srv == NULL || mc_route(m->srv, NULL, "/v1/", handler, m) < 0) {
        snprintf(err, errcap, "mock_vault: cannot start the server%s",
                 tls && !mc_tls_supported() ? " (no TLS support)" : "");
        mock_vault_stop(m);
        return NULL;
    }
    return m;
}

void mock_vault_stop(mock_vault *m)
{
    if (m == NULL)
        return;
    mc_stop(m->srv);
    json_object_put(m->namespaces);
    json_object_put(m->mounts);
    json_object_put(m->secrets);
    json_object_put(m->tokens);
    json_object_put(m->approles);
    pthread_mutex_destroy(&m->mu);
    free(m);
}

void mock_vault_print_env(const mock_vault *m, FILE *out)
{
    fprintf(out, "export VAULT_ADDR=%s\n", mc_url(m->srv));
    fprintf(out, "export VAULT_TOKEN=%s\n", m->root);
    if (mc_ca_file(m->srv) != NULL)
        fprintf(out, "export VAULT_CACERT=%s\n", mc_ca_file(m->srv));
}

mc_server *mock_vault_server(const mock_vault *m)
{
    return m->srv;
}

const char *mock_vault_root_token(const mock_vault *m)
{
    return m->root;
}

void mock_vault_set_sealed(mock_vault *m, int sealed)
{
    pthread_mutex_lock(&m->mu);
    m->sealed = sealed;
    pthread_mutex_unlock(&m->mu);
}

void mock_vault_fail_next(mock_vault *m, const char *path_prefix, int status, unsigned count,
                          unsigned retry_after_s)
{
    pthread_mutex_lock(&m->mu);
    m->fail_status = status;
    m->fail_count = count;
    m->fail_retry_after = retry_after_s;
    snprintf(m->fail_prefix, sizeof(m->fail_prefix), "%s", path_prefix ? path_prefix : "");
    pthread_mutex_unlock(&m->mu);
}

void mock_vault_advance(mock_vault *m, int64_t seconds)
{
    pthread_mutex_lock(&m->mu);
    m->offset_s += seconds;
    pthread_mutex_unlock(&m->mu);
}

void mock_vault_revoke_issued(mock_vault *m)
{
    pthread_mutex_lock(&m->mu);
    for (size_t i = 0; i < json_object_array_length(m->tokens); i++) {
        json_object *t = json_object_array_get_idx(m->tokens, i);
        if (jbool(t, "issued", 0))
            json_object_object_add(t, "revoked", json_object_new_boolean(1));
    }
    pthread_mutex_unlock(&m->mu);
}

void mock_vault_set_require_request_header(mock_vault *m, int on)
{
    pthread_mutex_lock(&m->mu);
    m->require_hdr = on;
    pthread_mutex_unlock(&m->mu);
}

uint64_t mock_vault_count(const mock_vault *m, mock_vault_counter c)
{
    mock_vault *mm = (mock_vault *)m;
    pthread_mutex_lock(&mm->mu);
    uint64_t v = c < MV_COUNT__N ? mm->counts[c] : 0;
    pthread_mutex_unlock(&mm->mu);
    return v;
}

void mock_vault_set_legacy_mounts(mock_vault *m, int on)
{
    pthread_mutex_lock(&m->mu);
    m->legacy_mounts = on;
    pthread_mutex_unlock(&m->mu);
}
