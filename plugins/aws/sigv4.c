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
static void canonical_path(awsb *b, const char *path)
{
    if (path == NULL || path[0] == '\0') {
        awsb_ch(b, '/');
        return;
    }
    size_t n = strlen(path);
    const char **seg = b->h->calloc(n + 1, sizeof(*seg));
    size_t *sl = b->h->calloc(n + 1, sizeof(*sl));
    if (seg == NULL || sl == NULL) {
        b->h->free(seg);
        b->h->free(sl);
        b->err = VP_ENOMEM;
        return;
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
        awsb_ch(b, '/');
        awsb_uri(b, seg[i], sl[i], 0);
    }
    if (ns == 0 || path[n - 1] == '/')
        awsb_ch(b, '/');
    b->h->free(seg);
    b->h->free(sl);
}

static int hexv(int c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    if (c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    return -1;
}

/* Percent-decode s[0..n) and re-encode it with the SigV4 rules (so raw and already encoded
 * query strings give the same canonical form). */
static void requery(awsb *b, const char *s, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)s[i];
        if (c == '%' && i + 2 < n + 0 && hexv(s[i + 1]) >= 0 && hexv(s[i + 2]) >= 0) {
            c = (unsigned char)(hexv(s[i + 1]) * 16 + hexv(s[i + 2]));
            i += 2;
        }
        char ch = (char)c;
        awsb_uri(b, &ch, 1, 0);
    }
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

static void canonical_query(awsb *b, const char *q)
{
    if (q == NULL || q[0] == '\0')
        return;
    const vp_host *h = b->h;
    size_t cnt = 1;
    for (const char *p = q; *p; p++)
        cnt += *p == '&';
    qparam *ps = h->calloc(cnt, sizeof(*ps));
    if (ps == NULL) {
        b->err = VP_ENOMEM;
        return;
    }
    size_t np = 0;
    for (const char *p = q; *p;) {
        const char *e = strchr(p, '&');
        size_t len = e ? (size_t)(e - p) : strlen(p);
        if (len > 0) {
            const char *eq = memchr(p, '=', len);
            size_t kl = eq ? (size_t)(eq - p) : len;
            awsb kb, vb;
            awsb_init(&kb, h, 0);
            awsb_init(&vb, h, 0);
            requery(&kb, p, kl);
            if (eq)
                requery(&vb, eq + 1, len - kl - 1);
            awsb_str(&kb, "");
            awsb_str(&vb, "");
            if (kb.err || vb.err) {
                b->err = kb.err ? kb.err : vb.err;
                awsb_free(&kb);
                awsb_free(&vb);
                break;
            }
            ps[np].k = kb.p;
            ps[np++].v = vb.p;
        }
        p += len + (e ? 1 : 0);
        if (!e)
            break;
    }
    qsort(ps, np, sizeof(*ps), qcmp);
    for (size_t i = 0; i < np; i++) {
        if (i)
            awsb_ch(b, '&');
        awsb_str(b, ps[i].k);
        awsb_ch(b, '=');
        awsb_str(b, ps[i].v);
    }
    for (size_t i = 0; i < np; i++) {
        h->free(ps[i].k);
        h->free(ps[i].v);
    }
    h->free(ps);
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
static void norm_value(awsb *b, const char *v)
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
            awsb_ch(b, ' ');
        space = 0;
        awsb_ch(b, *v);
    }
}

/* Appends the canonical header block to b and the signed header list to sh. */
static void canonical_headers(awsb *b, awsb *sh, const aws_hdr *hs, size_t n)
{
    const vp_host *h = b->h;
    chdr *c = h->calloc(n ? n : 1, sizeof(*c));
    if (c == NULL) {
        b->err = VP_ENOMEM;
        return;
    }
    size_t k = 0;
    for (size_t i = 0; i < n; i++) {
        size_t len = strlen(hs[i].name);
        c[k].name = aws_strndup(h, hs[i].name, len);
        if (c[k].name == NULL) {
            b->err = VP_ENOMEM;
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
            awsb_ch(b, ',');
        } else {
            if (i > 0) {
                awsb_ch(b, '\n');
                awsb_ch(sh, ';');
            }
            awsb_str(b, c[i].name);
            awsb_ch(b, ':');
            awsb_str(sh, c[i].name);
        }
        norm_value(b, c[i].value);
    }
    if (k > 0)
        awsb_ch(b, '\n');
    for (size_t i = 0; i < k; i++)
        h->free(c[i].name);
    h->free(c);
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

    awsb creq, sh;
    /* Secure: the canonical request holds the session token header. */
    awsb_init(&creq, h, 1);
    awsb_init(&sh, h, 0);
    awsb_str(&creq, r->method);
    awsb_ch(&creq, '\n');
    canonical_path(&creq, r->path);
    awsb_ch(&creq, '\n');
    canonical_query(&creq, r->query);
    awsb_ch(&creq, '\n');
    canonical_headers(&creq, &sh, r->headers, r->n_headers);
    awsb_ch(&creq, '\n');
    awsb_str(&sh, "");
    awsb_str(&creq, sh.p ? sh.p : "");
    awsb_ch(&creq, '\n');
    unsigned char dig[32];
    char hex[65];
    h->sha256(r->body ? r->body : "", r->body_len, dig);
    h->hex_encode(dig, 32, hex);
    awsb_str(&creq, hex);
    if (creq.err || sh.err) {
        int rc = creq.err ? creq.err : sh.err;
        awsb_free(&creq);
        awsb_free(&sh);
        return rc;
    }

    awsb sts;
    awsb_init(&sts, h, 0);
    h->sha256(creq.p, creq.len, dig);
    h->hex_encode(dig, 32, hex);
    awsb_fmt(&sts, AWS_SIGV4_ALG "\n%s\n%s/%s/%s/aws4_request\n%s", r->amzdate, datestamp,
             r->region, r->service, hex);

    /* Signing key: the secret only ever lives in this stack buffer, wiped below. */
    size_t sl = strlen(r->secret);
    unsigned char *ksecret = h->secure_malloc(sl + 4);
    unsigned char k1[32], k2[32];
    if (ksecret == NULL) {
        awsb_free(&creq);
        awsb_free(&sh);
        awsb_free(&sts);
        return VP_ENOMEM;
    }
    memcpy(ksecret, "AWS4", 4);
    memcpy(ksecret + 4, r->secret, sl);
    h->hmac_sha256(ksecret, sl + 4, datestamp, 8, k1);
    h->secure_free(ksecret);
    h->hmac_sha256(k1, 32, r->region, strlen(r->region), k2);
    h->hmac_sha256(k2, 32, r->service, strlen(r->service), k1);
    h->hmac_sha256(k1, 32, "aws4_request", 12, k2);
    if (sts.p != NULL)
        h->hmac_sha256(k2, 32, sts.p, sts.len, dig);
    h->memzero(k1, sizeof(k1));
    h->memzero(k2, sizeof(k2));
    h->hex_encode(dig, 32, hex);

    awsb az;
    awsb_init(&az, h, 0);
    awsb_fmt(&az,
             AWS_SIGV4_ALG " Credential=%s/%s/%s/%s/aws4_request, SignedHeaders=%s, "
                           "Signature=%s",
             r->akid, datestamp, r->region, r->service, sh.p ? sh.p : "", hex);
    h->memzero(dig, sizeof(dig));
    awsb_free(&sh);
    if (sts.err || az.err) {
        int rc = sts.err ? sts.err : az.err;
        awsb_free(&creq);
        awsb_free(&sts);
        awsb_free(&az);
        return rc;
    }
    out->creq = creq.p;
    out->sts = sts.p;
    out->authz = az.p;
    return VP_OK;
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
