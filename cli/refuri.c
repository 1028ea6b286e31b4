/*
 * refuri.c - the URI form of a three-argument tag, for `vaultplug refs`: a reference that
 * `vaultplug get` accepts and that fetches the same value as the tag.
 *
 * A three-argument tag ({% vault 'aws', 'cred', '{"SecretId": ...}' %}) hands its config
 * object to the provider, which reads its members itself; the URI grammar of each bundled
 * provider (docs/providers/PROVIDER.md) has a spelling for the same request. The tables below map
 * one to the other, member by member, exactly as the providers read them (plugins/<p>: the config
 * branch of their reference parsing). A member without a URI spelling, a value the URI form
 * cannot carry, or a provider not listed here gives no URI (NULL): `refs` then shows the tag's
 * identity, and says so.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <json-c/json.h>

#include "cli.h"

typedef struct sbuf {
    char *s;
    size_t len, cap;
    int bad;
} sbuf;

static void sb_add(sbuf *b, const char *s, size_t n)
{
    if (b->bad)
        return;
    if (b->len + n + 1 > b->cap) {
        size_t cap = (b->len + n + 1) * 2;
        char *ns = realloc(b->s, cap);
        if (ns == NULL) {
            b->bad = 1;
            return;
        }
        b->s = ns;
        b->cap = cap;
    }
    memcpy(b->s + b->len, s, n);
    b->len += n;
    b->s[b->len] = '\0';
}

static void sb_str(sbuf *b, const char *s)
{
    sb_add(b, s, strlen(s));
}

/* Percent-encode s: unreserved characters stay, and `keep` (e.g. "/:" in a path). */
static void sb_enc(sbuf *b, const char *s, const char *keep)
{
    for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
        if ((*p >= 'A' && *p <= 'Z') || (*p >= 'a' && *p <= 'z') || (*p >= '0' && *p <= '9') ||
            strchr("-._~", *p) != NULL || (keep != NULL && strchr(keep, *p) != NULL)) {
            sb_add(b, (const char *)p, 1);
        } else {
            char h[4];
            snprintf(h, sizeof(h), "%%%02X", *p);
            sb_add(b, h, 3);
        }
    }
}

/* The config members, as the provider sees them: strings as they are, numbers and booleans in
 * their JSON spelling. */
typedef struct cfg {
    json_object *o;
} cfg;

static const char *get(const cfg *c, const char *key)
{
    json_object *v = NULL;
    if (!json_object_object_get_ex(c->o, key, &v) || v == NULL)
        return NULL;
    return json_object_get_string(v);
}

/* A member that is set and not empty (the providers treat "" as absent for these). */
static const char *get_ne(const cfg *c, const char *key)
{
    const char *v = get(c, key);
    return v != NULL && v[0] != '\0' ? v : NULL;
}

/* Non-zero if every member of the config is one of `known` (NULL-terminated). */
static int only(const cfg *c, const char *const *known)
{
    json_object_object_foreach(c->o, key, val)
    {
        (void)val;
        const char *const *k = known;
        while (*k != NULL && strcmp(*k, key) != 0)
            k++;
        if (*k == NULL)
            return 0;
    }
    return 1;
}

/* "?a=1&b=2": the parameters that are set, in the order given. */
static void params(sbuf *b, const char *const *names, const char *const *values, size_t n)
{
    int first = 1;
    for (size_t i = 0; i < n; i++) {
        if (values[i] == NULL)
            continue;
        sb_str(b, first ? "?" : "&");
        sb_str(b, names[i]);
        sb_str(b, "=");
        sb_enc(b, values[i], NULL);
        first = 0;
    }
}

static void fragment(sbuf *b, const char *key)
{
    if (key == NULL)
        return;
    sb_str(b, "#");
    sb_enc(b, key, NULL);
}

static void head(sbuf *b, const char *scheme, const char *cred)
{
    sb_str(b, scheme);
    sb_str(b, "://");
    if (cred != NULL && cred[0] != '\0') {
        sb_str(b, cred);
        sb_str(b, "@");
    }
}

/* plugins/aws/sm.c parse_ref: SecretId, VersionId, VersionStage, SecretType, SecretKey. */
static int aws_uri(const cfg *c, const char *cred, sbuf *b)
{
    static const char *const known[] = {"SecretId",   "VersionId", "VersionStage",
                                        "SecretType", "SecretKey", NULL};
    const char *id = get_ne(c, "SecretId"), *type = get(c, "SecretType");
    if (!only(c, known) || id == NULL)
        return -1;
    int kv = type != NULL && strcmp(type, "kv") == 0;
    if (type != NULL && !kv && type[0] != '\0' && strcmp(type, "plaintext") != 0)
        return -1; /* the provider refuses it; let the render say why */
    head(b, "aws", cred);
    sb_enc(b, id, "/:+");
    const char *names[] = {"version_id", "version_stage"};
    const char *values[] = {get_ne(c, "VersionId"), get_ne(c, "VersionStage")};
    params(b, names, values, 2);
    /* SecretKey selects a member only with SecretType kv (empty: the whole string). */
    fragment(b, kv ? get_ne(c, "SecretKey") : NULL);
    return 0;
}

/* plugins/gcp/gcp.c resolve_ref: secretName, version, location. */
static int gcp_uri(const cfg *c, const char *cred, sbuf *b)
{
    static const char *const known[] = {"secretName", "version", "location", NULL};
    const char *name = get_ne(c, "secretName");
    if (!only(c, known) || name == NULL)
        return -1;
    head(b, "gcp", cred);
    sb_enc(b, name, "/");
    const char *names[] = {"location", "version"};
    const char *values[] = {get_ne(c, "location"), get_ne(c, "version")};
    params(b, names, values, 2);
    return 0;
}

/* plugins/hashicorp/hashicorp.c: HCP Vault Secrets (fetch_hcp) when the config names an app,
 * organization or project, else Vault (fetch_vault). */
static int hashicorp_uri(const cfg *c, const char *cred, sbuf *b)
{
    const char *version = get_ne(c, "version"), *key = get_ne(c, "secretKey");
    const char *name = get_ne(c, "secretName");
    if (get(c, "appName") || get(c, "organizationId") || get(c, "projectId")) {
        static const char *const known[] = {"organizationId", "projectId", "appName", "secretName",
                                            "version",        "secretKey", NULL};
        const char *org = get_ne(c, "organizationId"), *proj = get_ne(c, "projectId");
        const char *app = get_ne(c, "appName");
        /* hcp:// spells both the organization and the project, or neither; no segment may
         * hold a '/'. */
        if (!only(c, known) || app == NULL || name == NULL || (org == NULL) != (proj == NULL) ||
            strchr(app, '/') || strchr(name, '/') || (org && strchr(org, '/')) ||
            (proj && strchr(proj, '/')))
            return -1;
        head(b, "hcp", cred);
        if (org != NULL) {
            sb_enc(b, org, NULL);
            sb_str(b, "/");
            sb_enc(b, proj, NULL);
            sb_str(b, "/");
        }
        sb_enc(b, app, NULL);
        sb_str(b, "/");
        sb_enc(b, name, NULL);
        const char *names[] = {"version"};
        params(b, names, &version, 1);
        fragment(b, key);
        return 0;
    }
    static const char *const known[] = {"kvVersion", "secretEnginePath", "secretName", "secretKey",
                                        "version",   "namespace",        NULL};
    if (!only(c, known) || name == NULL)
        return -1;
    const char *kv = get_ne(c, "kvVersion"), *mount = get_ne(c, "secretEnginePath");
    const char *ns = get_ne(c, "namespace");
    head(b, "hashicorp", cred);
    sb_enc(b, name, "/");
    const char *names[] = {"kv", "mount", "namespace", "version"};
    const char *values[] = {kv, mount, ns, version};
    params(b, names, values, 4);
    fragment(b, key);
    return 0;
}

/* plugins/azure/azure.c parse_ref: secretIdentifier (https://HOST/secrets/NAME[/VERSION]), or
 * vault + name; version; api-version. */
static int azure_uri(const cfg *c, const char *cred, sbuf *b)
{
    static const char *const known[] = {"secretIdentifier", "vault",   "vaultUrl",    "name",
                                        "secretName",       "version", "api-version", "api_version",
                                        "apiVersion",       NULL};
    if (!only(c, known))
        return -1;
    const char *sid = get_ne(c, "secretIdentifier");
    const char *api = get_ne(c, "api-version");
    if (api == NULL)
        api = get_ne(c, "api_version");
    if (api == NULL)
        api = get_ne(c, "apiVersion");
    /* The provider reads the last of vault/vaultUrl and of name/secretName it meets; with
     * both spellings present the result depends on member order: leave those alone. */
    if ((get(c, "vault") && get(c, "vaultUrl")) || (get(c, "name") && get(c, "secretName")))
        return -1;
    const char *vault = get(c, "vault") ? get(c, "vault") : get(c, "vaultUrl");
    const char *name = get(c, "name") ? get(c, "name") : get(c, "secretName");
    head(b, "azure", cred);
    if (sid != NULL) {
        if (strncmp(sid, "https://", 8) != 0)
            return -1;
        const char *host = sid + 8, *slash = strchr(host, '/');
        if (slash == NULL || strncmp(slash, "/secrets/", 9) != 0 || strpbrk(sid, "?#%") != NULL)
            return -1;
        sb_add(b, host, (size_t)(slash - host));
        sb_str(b, "/");
        sb_enc(b, slash + 9, "/");
    } else if (vault != NULL && vault[0] && name != NULL) {
        const char *v = strncmp(vault, "https://", 8) == 0 ? vault + 8 : vault;
        size_t vl = strcspn(v, "/");
        if (vl == 0 || strpbrk(name, "/?#%") != NULL)
            return -1;
        sb_add(b, v, vl);
        if (memchr(v, '.', vl) == NULL)
            sb_str(b, ".vault.azure.net");
        sb_str(b, "/");
        sb_enc(b, name, NULL);
    } else {
        return -1;
    }
    const char *names[] = {"api-version", "version"};
    const char *values[] = {api, get_ne(c, "version")};
    params(b, names, values, 2);
    return 0;
}

char *cli_tag3_uri(const vp_template_ref *r)
{
    static const struct {
        const char *scheme;
        int (*fn)(const cfg *, const char *, sbuf *);
    } map[] = {
        {"aws", aws_uri},       {"gcp", gcp_uri},     {"hashicorp", hashicorp_uri},
        {"hcp", hashicorp_uri}, {"azure", azure_uri},
    };
    if (r == NULL || r->form != VP_REF_TAG3 || r->config == NULL || r->scheme == NULL)
        return NULL;
    cfg c = {json_tokener_parse(r->config)};
    if (c.o == NULL || !json_object_is_type(c.o, json_type_object)) {
        json_object_put(c.o);
        return NULL;
    }
    sbuf b = {NULL, 0, 0, 0};
    int rc = -1;
    for (size_t i = 0; i < sizeof(map) / sizeof(map[0]); i++)
        if (strcmp(map[i].scheme, r->scheme) == 0) {
            rc = map[i].fn(&c, r->credential, &b);
            break;
        }
    json_object_put(c.o);
    if (rc != 0 || b.bad) {
        free(b.s);
        return NULL;
    }
    return b.s;
}
