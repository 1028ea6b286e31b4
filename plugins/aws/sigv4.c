/*
 * sigv4.c - AWS Signature Version 4 (PROTOCOLS.md 1.6) with the host's sha256, hmac_sha256 and
 * hex only. The canonical request and string to sign are returned too, so the official test
 * suite can compare every intermediate byte for byte.
 */
#include <stdlib.h>
#include <string.h>

#include "aws_int.h"

/* Canonical URI: dot segments removed, repeated '/' collapsed, every byte but unreserved and
 * '/' percent-encoded (the path as sent is encoded once more: non-S3 "double encoding"). */
static int canonical_path(const vp_host *h, vp_sb *b, const char *path)
{
    if (path == NULL || path[0] == '\0')
        return h->sb_append(b, "/", 1);
    size_t n = strlen(path);
    const char **seg = h->calloc(n + 1, sizeof(*seg));
    size_t *sl = h->calloc(n + 1, sizeof(*sl));
    if (seg == NULL || sl == NULL) {
        h->free(seg);
        h->free(sl);
        return VP_ENOMEM;
    }
    size_t ns = 0;
    for (const char *p = path; *p;) {
        while (*p == '/')
            p++;
        if (*p == '\0')
            break;
        const char *e = strchr(p, '/');
        size_t len = e ? (size_t)(e - p) : strlen(p);
        if (len == 1 && p[0] == '.') {
            /* drop */
        } else if (len == 2 && p[0] == '.' && p[1] == '.') {
            if (ns > 0)
                ns--;
        } else {
            seg[ns] = p;
            sl[ns++] = len;
        }
        p += len;
    }
    for (size_t i = 0; i < ns; i++) {
        h->sb_append(b, "/", 1);
        h->sb_append_enc(b, seg[i], sl[i], 0);
    }
    if (ns == 0 || path[n - 1] == '/')
        h->sb_append(b, "/", 1);
    h->free(seg);
    h->free(sl);
    return h->sb_status(b);
}

/* Percent-decode s[0..n) and re-encode it with the SigV4 rules (so raw and already encoded
 * query strings give the same canonical form); text that is not validly encoded is encoded
 * as it is. Returns a new plain string or NULL. */
static char *requery(const vp_host *h, const char *s, size_t n)
{
    char *dec = NULL;
    size_t dl = 0;
    vp_sb *b = h->sb_new(AWS_TEXT_MAX, 0);
    if (h->url_decode(s, n, 0, &dec, &dl) == VP_OK)
        h->sb_append_enc(b, dec, dl, 0);
    else
        h->sb_append_enc(b, s, n, 0);
    h->secure_free(dec);
    char *out = h->sb_status(b) == VP_OK ? h->strdup(h->sb_data(b, NULL)) : NULL;
    h->sb_free(b);
    return out;
}

typedef struct qparam {
    char *k, *v;
} qparam;

static int qcmp(const void *a, const void *b)
{
    const qparam *x = a, *y = b;
    int c = strcmp(x->k, y->k);
    return c ? c : strcmp(x->v, y->v);
}

static int canonical_query(const vp_host *h, vp_sb *b, const char *q)
{
    if (q == NULL || q[0] == '\0')
        return VP_OK;
    size_t cnt = 1;
    for (const char *p = q; *p; p++)
        cnt += *p == '&';
    qparam *ps = h->calloc(cnt, sizeof(*ps));
    if (ps == NULL)
        return VP_ENOMEM;
    size_t np = 0;
    int rc = VP_OK;
    for (const char *p = q; *p;) {
        const char *e = strchr(p, '&');
        size_t len = e ? (size_t)(e - p) : strlen(p);
        if (len > 0) {
            const char *eq = memchr(p, '=', len);
            size_t kl = eq ? (size_t)(eq - p) : len;
            char *k = requery(h, p, kl);
            char *v = requery(h, eq ? eq + 1 : "", eq ? len - kl - 1 : 0);
            if (k == NULL || v == NULL) {
                h->free(k);
                h->free(v);
                rc = VP_ENOMEM;
                break;
            }
            ps[np].k = k;
            ps[np++].v = v;
        }
        p += len + (e ? 1 : 0);
        if (!e)
            break;
    }
    qsort(ps, np, sizeof(*ps), qcmp);
    for (size_t i = 0; i < np && rc == VP_OK; i++)
        h->sb_printf(b, "%s%s=%s", i ? "&" : "", ps[i].k, ps[i].v);
    for (size_t i = 0; i < np; i++) {
        h->free(ps[i].k);
        h->free(ps[i].v);
    }
    h->free(ps);
    return rc != VP_OK ? rc : h->sb_status(b);
}

typedef struct chdr {
    char *name; /* lower case */
    const char *value;
    size_t idx;
} chdr;

static int hcmp(const void *a, const void *b)
{
    const chdr *x = a, *y = b;
    int c = strcmp(x->name, y->name);
    if (c)
        return c;
    return x->idx < y->idx ? -1 : x->idx > y->idx;
}

/* Header value trimmed, inner whitespace runs collapsed to one space. */
static void norm_value(const vp_host *h, vp_sb *b, const char *v)
{
    while (*v == ' ' || *v == '\t')
        v++;
    int space = 0;
    for (; *v; v++) {
        if (*v == ' ' || *v == '\t' || *v == '\r' || *v == '\n') {
            space = 1;
            continue;
        }
        if (space)
            h->sb_append(b, " ", 1);
        space = 0;
        h->sb_append(b, v, 1);
    }
}

/* Appends the canonical header block to b and the signed header list to sh. */
static int canonical_headers(const vp_host *h, vp_sb *b, vp_sb *sh, const aws_hdr *hs, size_t n)
{
    chdr *c = h->calloc(n ? n : 1, sizeof(*c));
    if (c == NULL)
        return VP_ENOMEM;
    size_t k = 0;
    int rc = VP_OK;
    for (size_t i = 0; i < n; i++) {
        size_t len = strlen(hs[i].name);
        c[k].name = aws_strndup(h, hs[i].name, len);
        if (c[k].name == NULL) {
            rc = VP_ENOMEM;
            break;
        }
        for (size_t j = 0; j < len; j++)
            if (c[k].name[j] >= 'A' && c[k].name[j] <= 'Z')
                c[k].name[j] = (char)(c[k].name[j] - 'A' + 'a');
        c[k].value = hs[i].value ? hs[i].value : "";
        c[k].idx = i;
        k++;
    }
    qsort(c, k, sizeof(*c), hcmp);
    for (size_t i = 0; i < k; i++) {
        if (i > 0 && strcmp(c[i].name, c[i - 1].name) == 0) {
            h->sb_append(b, ",", 1);
        } else {
            h->sb_printf(b, "%s%s:", i > 0 ? "\n" : "", c[i].name);
            h->sb_printf(sh, "%s%s", i > 0 ? ";" : "", c[i].name);
        }
        norm_value(h, b, c[i].value);
    }
    if (k > 0)
        h->sb_append(b, "\n", 1);
    for (size_t i = 0; i < k; i++)
        h->free(c[i].name);
    h->free(c);
    if (rc == VP_OK)
        rc = h->sb_status(sh);
    return rc != VP_OK ? rc : h->sb_status(b);
}

int aws_sigv4_sign(const vp_host *h, const aws_sigv4_req *r, aws_sigv4_res *out)
{
    memset(out, 0, sizeof(*out));
    if (r->amzdate == NULL || strlen(r->amzdate) != 16 || r->akid == NULL || r->secret == NULL ||
        r->region == NULL || r->service == NULL || r->method == NULL)
        return VP_EINVAL;
    char datestamp[9];
    memcpy(datestamp, r->amzdate, 8);
    datestamp[8] = '\0';

    /* Secure: the canonical request holds the session token header. */
    vp_sb *creq = h->sb_new(AWS_TEXT_MAX, VP_SB_SECURE), *sh = h->sb_new(AWS_TEXT_MAX, 0);
    if (creq == NULL || sh == NULL) {
        h->sb_free(creq);
        h->sb_free(sh);
        return VP_ENOMEM;
    }
    h->sb_printf(creq, "%s\n", r->method);
    int rc = canonical_path(h, creq, r->path);
    h->sb_append(creq, "\n", 1);
    if (rc == VP_OK)
        rc = canonical_query(h, creq, r->query);
    h->sb_append(creq, "\n", 1);
    if (rc == VP_OK)
        rc = canonical_headers(h, creq, sh, r->headers, r->n_headers);
    unsigned char dig[32];
    char hex[65];
    h->sha256(r->body ? r->body : "", r->body_len, dig);
    h->hex_encode(dig, 32, hex);
    h->sb_printf(creq, "\n%s\n%s", h->sb_data(sh, NULL), hex);
    if (rc == VP_OK)
        rc = h->sb_status(creq);
    if (rc != VP_OK) {
        h->sb_free(creq);
        h->sb_free(sh);
        return rc;
    }

    vp_sb *sts = h->sb_new(AWS_TEXT_MAX, 0), *az = h->sb_new(AWS_TEXT_MAX, 0);
    if (sts == NULL || az == NULL) {
        h->sb_free(creq);
        h->sb_free(sh);
        h->sb_free(sts);
        h->sb_free(az);
        return VP_ENOMEM;
    }
    size_t cl = 0;
    const char *ctext = h->sb_data(creq, &cl);
    h->sha256(ctext, cl, dig);
    h->hex_encode(dig, 32, hex);
    h->sb_printf(sts, AWS_SIGV4_ALG "\n%s\n%s/%s/%s/aws4_request\n%s", r->amzdate, datestamp,
                 r->region, r->service, hex);

    /* Signing key: the secret only ever lives in this secure buffer, wiped below. */
    size_t sl = strlen(r->secret);
    unsigned char *ksecret = h->secure_malloc(sl + 4);
    unsigned char k1[32], k2[32];
    if (ksecret == NULL || h->sb_status(sts) != VP_OK) {
        h->secure_free(ksecret);
        h->sb_free(creq);
        h->sb_free(sh);
        h->sb_free(sts);
        h->sb_free(az);
        return VP_ENOMEM;
    }
    memcpy(ksecret, "AWS4", 4);
    memcpy(ksecret + 4, r->secret, sl);
    h->hmac_sha256(ksecret, sl + 4, datestamp, 8, k1);
    h->secure_free(ksecret);
    h->hmac_sha256(k1, 32, r->region, strlen(r->region), k2);
    h->hmac_sha256(k2, 32, r->service, strlen(r->service), k1);
    h->hmac_sha256(k1, 32, "aws4_request", 12, k2);
    size_t stl = 0;
    const char *stext = h->sb_data(sts, &stl);
    h->hmac_sha256(k2, 32, stext, stl, dig);
    h->memzero(k1, sizeof(k1));
    h->memzero(k2, sizeof(k2));
    h->hex_encode(dig, 32, hex);
    h->sb_printf(az,
                 AWS_SIGV4_ALG " Credential=%s/%s/%s/%s/aws4_request, SignedHeaders=%s, "
                               "Signature=%s",
                 r->akid, datestamp, r->region, r->service, h->sb_data(sh, NULL), hex);
    h->memzero(dig, sizeof(dig));
    h->sb_free(sh);
    rc = h->sb_status(az);
    if (rc == VP_OK) {
        out->creq = h->secure_strdup(ctext);
        out->sts = h->strdup(stext);
        out->authz = h->strdup(h->sb_data(az, NULL));
        if (out->creq == NULL || out->sts == NULL || out->authz == NULL) {
            aws_sigv4_res_free(h, out);
            rc = VP_ENOMEM;
        }
    }
    h->sb_free(creq);
    h->sb_free(sts);
    h->sb_free(az);
    return rc;
}

void aws_sigv4_res_free(const vp_host *h, aws_sigv4_res *res)
{
    if (res == NULL)
        return;
    h->secure_free(res->creq);
    h->free(res->sts);
    h->free(res->authz);
    memset(res, 0, sizeof(*res));
}
