/*
 * mock_aws_sigv4.c - server-side SigV4 verification for the AWS mock, written independently of
 * the provider's signer (libcrypto here, the host table there), so one cannot hide the other's
 * bug: rebuild the canonical request from the received request with exactly the SignedHeaders,
 * recompute, compare in constant time, check the clock skew and the credential scope.
 */
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/sha.h>

#include "mock_aws.h"

/* Messages and echoed identifiers are cut to their buffers on purpose. */
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC diagnostic ignored "-Wformat-truncation"
#endif

#define SIG_BUF 16384

typedef struct sbuf {
    char b[SIG_BUF];
    size_t n;
    int over;
} sbuf;

static void sb_add(sbuf *s, const char *p, size_t n)
{
    if (s->n + n + 1 > sizeof(s->b)) {
        s->over = 1;
        return;
    }
    memcpy(s->b + s->n, p, n);
    s->n += n;
    s->b[s->n] = '\0';
}

static void sb_str(sbuf *s, const char *p)
{
    sb_add(s, p, strlen(p));
}

static void sb_enc(sbuf *s, const unsigned char *p, size_t n, int keep_slash)
{
    for (size_t i = 0; i < n; i++) {
        unsigned char c = p[i];
        if (isalnum(c) || c == '-' || c == '_' || c == '.' || c == '~' ||
            (keep_slash && c == '/')) {
            sb_add(s, (const char *)&c, 1);
        } else {
            char e[4];
            snprintf(e, sizeof(e), "%%%02X", c);
            sb_add(s, e, 3);
        }
    }
}

static void hexs(const unsigned char *d, size_t n, char *out)
{
    for (size_t i = 0; i < n; i++)
        snprintf(out + 2 * i, 3, "%02x", d[i]);
}

static void sha256_hex(const void *p, size_t n, char out[65])
{
    unsigned char d[32];
    SHA256(p, n, d);
    hexs(d, 32, out);
}

static void hmac(const void *k, size_t kl, const char *m, unsigned char out[32])
{
    unsigned int ol = 32;
    HMAC(EVP_sha256(), k, (int)kl, (const unsigned char *)m, strlen(m), out, &ol);
}

int mock_aws_sig_akid(const mc_request *req, char *akid, size_t cap)
{
    const char *a = mc_req_header(req, "Authorization");
    if (a == NULL)
        return -1;
    const char *c = strstr(a, "Credential=");
    if (c == NULL)
        return -1;
    c += 11;
    size_t n = strcspn(c, "/, ");
    if (n == 0 || n >= cap)
        return -1;
    memcpy(akid, c, n);
    akid[n] = '\0';
    return 0;
}

typedef struct hdr_collect {
    const char *name;
    sbuf *out;
    int count;
} hdr_collect;

static int collect(void *ud, const char *name, const char *value)
{
    hdr_collect *hc = ud;
    if (strcasecmp(name, hc->name) != 0)
        return 0;
    if (hc->count++)
        sb_add(hc->out, ",", 1);
    const char *v = value;
    while (*v == ' ' || *v == '\t')
        v++;
    int sp = 0;
    for (; *v; v++) {
        if (*v == ' ' || *v == '\t') {
            sp = 1;
            continue;
        }
        if (sp)
            sb_add(hc->out, " ", 1);
        sp = 0;
        sb_add(hc->out, v, 1);
    }
    return 0;
}

static int hexval(int c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    c = tolower(c);
    return c >= 'a' && c <= 'f' ? c - 'a' + 10 : -1;
}

typedef struct qp {
    char k[512], v[1024];
} qp;

static int qp_cmp(const void *a, const void *b)
{
    const qp *x = a, *y = b;
    int c = strcmp(x->k, y->k);
    return c ? c : strcmp(x->v, y->v);
}

static void enc_decoded(char *dst, size_t cap, const char *s, size_t n)
{
    sbuf *t = calloc(1, sizeof(*t));
    unsigned char raw[1024];
    size_t rn = 0;
    for (size_t i = 0; i < n && rn < sizeof(raw); i++) {
        if (s[i] == '%' && i + 2 < n + 0 && hexval(s[i + 1]) >= 0 && hexval(s[i + 2]) >= 0) {
            raw[rn++] = (unsigned char)(hexval(s[i + 1]) * 16 + hexval(s[i + 2]));
            i += 2;
        } else {
            raw[rn++] = (unsigned char)s[i];
        }
    }
    sb_enc(t, raw, rn, 0);
    snprintf(dst, cap, "%s", t->b);
    free(t);
}

static void canon_query(sbuf *s, const char *q)
{
    qp *ps = calloc(64, sizeof(*ps));
    size_t np = 0;
    for (const char *p = q; p && *p && np < 64;) {
        size_t len = strcspn(p, "&");
        if (len) {
            const char *eq = memchr(p, '=', len);
            size_t kl = eq ? (size_t)(eq - p) : len;
            enc_decoded(ps[np].k, sizeof(ps[np].k), p, kl);
            if (eq)
                enc_decoded(ps[np].v, sizeof(ps[np].v), eq + 1, len - kl - 1);
            np++;
        }
        p += len;
        if (*p == '&')
            p++;
    }
    qsort(ps, np, sizeof(*ps), qp_cmp);
    for (size_t i = 0; i < np; i++) {
        if (i)
            sb_add(s, "&", 1);
        sb_str(s, ps[i].k);
        sb_add(s, "=", 1);
        sb_str(s, ps[i].v);
    }
    free(ps);
}

/* "20150830T123600Z" -> time_t. */
static int parse_amzdate(const char *s, time_t *out)
{
    struct tm tm;
    memset(&tm, 0, sizeof(tm));
    if (s == NULL || strlen(s) != 16 ||
        sscanf(s, "%4d%2d%2dT%2d%2d%2dZ", &tm.tm_year, &tm.tm_mon, &tm.tm_mday, &tm.tm_hour,
               &tm.tm_min, &tm.tm_sec) != 6)
        return -1;
    /* timegm() is not POSIX: days from the civil date (Howard Hinnant's algorithm). */
    long y = tm.tm_year - (tm.tm_mon <= 2);
    long era = (y >= 0 ? y : y - 399) / 400;
    long yoe = y - era * 400;
    long doy = (153 * (tm.tm_mon + (tm.tm_mon > 2 ? -3 : 9)) + 2) / 5 + tm.tm_mday - 1;
    long doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    long days = era * 146097 + doe - 719468;
    *out = (time_t)(days * 86400 + tm.tm_hour * 3600 + tm.tm_min * 60 + tm.tm_sec);
    return 0;
}

mock_aws_sig mock_aws_sig_verify(const mc_request *req, const char *secret, const char *region,
                                 const char *service, char *msg, size_t msgcap)
{
    msg[0] = '\0';
    const char *a = mc_req_header(req, "Authorization");
    if (a == NULL) {
        snprintf(msg, msgcap, "Missing Authentication Token");
        return MOCK_SIG_MISSING;
    }
    char akid[128], date[16], reg[64], svc[64], term[32], signed_h[1024], sig[128];
    if (strncmp(a, "AWS4-HMAC-SHA256 ", 17) != 0 ||
        sscanf(a + 17,
               "Credential=%127[^/]/%15[^/]/%63[^/]/%63[^/]/%31[^,], SignedHeaders=%1023[^,], "
               "Signature=%127s",
               akid, date, reg, svc, term, signed_h, sig) != 7 ||
        strcmp(term, "aws4_request") != 0 || strlen(sig) != 64) {
        snprintf(msg, msgcap,
                 "Authorization header requires 'Credential', 'SignedHeaders' and "
                 "'Signature' parameters.");
        return MOCK_SIG_INCOMPLETE;
    }
    const char *amz = mc_req_header(req, "X-Amz-Date");
    time_t t;
    if (amz == NULL || parse_amzdate(amz, &t) != 0) {
        snprintf(msg, msgcap,
                 "Authorization header requires existence of either a 'X-Amz-Date' "
                 "or a 'Date' header.");
        return MOCK_SIG_INCOMPLETE;
    }
    /* host and x-amz-date must be signed. */
    char list[1100];
    snprintf(list, sizeof(list), ";%s;", signed_h);
    if (strstr(list, ";host;") == NULL || strstr(list, ";x-amz-date;") == NULL) {
        snprintf(msg, msgcap, "Signed headers must include host and x-amz-date.");
        return MOCK_SIG_INCOMPLETE;
    }
    if (strcmp(reg, region) != 0) {
        snprintf(msg, msgcap, "Credential should be scoped to a valid region, not '%s'.", reg);
        return MOCK_SIG_BAD_SCOPE;
    }
    if (strcmp(svc, service) != 0) {
        snprintf(msg, msgcap, "Credential should be scoped to correct service: '%s'.", service);
        return MOCK_SIG_BAD_SCOPE;
    }
    if (strncmp(date, amz, 8) != 0) {
        snprintf(msg, msgcap,
                 "Date in Credential scope does not match YYYYMMDD from ISO-8601 "
                 "version of date from HTTP: '%s' != '%.8s'.",
                 date, amz);
        return MOCK_SIG_BAD_SCOPE;
    }
    time_t now = time(NULL);
    if (t < now - 300 || t > now + 300) {
        char nowbuf[20];
        struct tm tm;
        gmtime_r(&now, &tm);
        strftime(nowbuf, sizeof(nowbuf), "%Y%m%dT%H%M%SZ", &tm);
        snprintf(msg, msgcap, "Signature expired: %s is now earlier than %s (%s - 5 min.)", amz,
                 nowbuf, nowbuf);
        return MOCK_SIG_STALE;
    }

    sbuf *c = calloc(1, sizeof(*c));
    sb_str(c, req->method);
    sb_add(c, "\n", 1);
    /* Canonical path of the (decoded) path: SM and STS always use "/". */
    sb_enc(c, (const unsigned char *)(req->path[0] ? req->path : "/"),
           strlen(req->path[0] ? req->path : "/"), 1);
    sb_add(c, "\n", 1);
    canon_query(c, req->query);
    sb_add(c, "\n", 1);
    char names[1100];
    snprintf(names, sizeof(names), "%s", signed_h);
    char *save = NULL;
    for (char *n = strtok_r(names, ";", &save); n; n = strtok_r(NULL, ";", &save)) {
        sb_str(c, n);
        sb_add(c, ":", 1);
        hdr_collect hc = {n, c, 0};
        mc_req_header_foreach(req, collect, &hc);
        sb_add(c, "\n", 1);
    }
    sb_add(c, "\n", 1);
    sb_str(c, signed_h);
    sb_add(c, "\n", 1);
    char bh[65];
    sha256_hex(req->body ? req->body : "", req->body_len, bh);
    sb_str(c, bh);

    char ch[65];
    sha256_hex(c->b, c->n, ch);
    char sts[512];
    snprintf(sts, sizeof(sts), "AWS4-HMAC-SHA256\n%s\n%s/%s/%s/aws4_request\n%s", amz, date, reg,
             svc, ch);
    char kk[256];
    snprintf(kk, sizeof(kk), "AWS4%s", secret);
    unsigned char k1[32], k2[32], out[32];
    hmac(kk, strlen(kk), date, k1);
    hmac(k1, 32, reg, k2);
    hmac(k2, 32, svc, k1);
    hmac(k1, 32, "aws4_request", k2);
    hmac(k2, 32, sts, out);
    OPENSSL_cleanse(kk, sizeof(kk));
    char want[65];
    hexs(out, 32, want);
    int over = c->over;
    if (over || CRYPTO_memcmp(want, sig, 64) != 0) {
        /* As AWS does: the canonical request and string to sign it expected follow (they hold
         * the session token header, so clients must not show them). */
        snprintf(msg, msgcap,
                 "The request signature we calculated does not match the signature you provided. "
                 "Check your AWS Secret Access Key and signing method. Consult the service "
                 "documentation for details.\n\nThe Canonical String for this request should "
                 "have been\n'%s'\n\nThe String-to-Sign should have been\n'%s'\n",
                 c->b, sts);
        free(c);
        return MOCK_SIG_MISMATCH;
    }
    free(c);
    return MOCK_SIG_OK;
}
