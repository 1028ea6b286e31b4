/*
 * ref - reference URI parser; see ref.h.
 *
 * Messages never quote the input: a reference is not supposed to hold a secret, but a user may
 * paste one by mistake, and error messages end up in logs.
 */
#include "hexval.h"
#include "buf.h"
#include "ref.h"

#include <stdlib.h>
#include <string.h>

#include "errint.h"

/* Characters left as they are in each part of the canonical uri (besides A-Za-z0-9-._~).
 * '@' is always encoded in the path so that "s://a%40b" cannot read back as credential "a". */
#define KEEP_PATH  "/:!$'()*+,;="
#define KEEP_QUERY "/:!$'()*,;@?"
#define KEEP_FRAG  "/:!$'()*+,;=@?"

static int is_unreserved(unsigned char c)
{
    return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' ||
           c == '.' || c == '_' || c == '~';
}

int vp__cred_name_valid(const char *name)
{
    if (name == NULL)
        return 0;
    size_t n = 0;
    for (const char *p = name; *p; p++, n++) {
        unsigned char c = (unsigned char)*p;
        if (!((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
              c == '_' || c == '.' || c == '-'))
            return 0;
    }
    return n >= 1 && n <= VP__CRED_NAME_MAX;
}

int vp__scheme_valid(const char *s)
{
    if (s == NULL || !((*s >= 'a' && *s <= 'z') || (*s >= '0' && *s <= '9')))
        return 0;
    for (const char *p = s; *p; p++)
        if (!((*p >= 'a' && *p <= 'z') || (*p >= '0' && *p <= '9') || *p == '+' || *p == '.' ||
              *p == '-'))
            return 0;
    return 1;
}

/* Percent-decode s[0..n) into a new string. base = offset of s in the input (for messages).
 * Decoded control characters (including NUL) are refused like raw ones. */
static int decode(const char *s, size_t n, size_t base, const char *what, char **out, vp_error *err)
{
    char *d = malloc(n + 1);
    if (d == NULL)
        return vp__err_set(err, NULL, VP_ENOMEM, NULL);
    size_t j = 0;
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)s[i];
        if (c == '%') {
            int hi = i + 2 < n ? vp__hexval((unsigned char)s[i + 1]) : -1;
            int lo = i + 2 < n ? vp__hexval((unsigned char)s[i + 2]) : -1;
            if (hi >= 0 && lo >= 0) {
                c = (unsigned char)(hi << 4 | lo);
                if (c < 0x20 || c == 0x7f) {
                    free(d);
                    return vp__err_set(err, NULL, VP_EINVAL,
                                       "invalid reference: %s contains an encoded control "
                                       "character at offset %zu",
                                       what, base + i);
                }
                d[j++] = (char)c;
                i += 2;
                continue;
            }
            free(d);
            return vp__err_set(err, NULL, VP_EINVAL,
                               "invalid reference: bad percent-escape in %s at offset %zu", what,
                               base + i);
        }
        d[j++] = (char)c;
    }
    d[j] = '\0';
    *out = d;
    return 0;
}

/* ---- canonical form ---------------------------------------------------------------------- */

/* Reference URIs hold no secrets: a plain vp_buf; the first failure sticks. */
typedef struct obuf {
    vp_buf buf;
    int oom;
} obuf;

static void ob_add(obuf *b, const char *s, size_t n)
{
    if (!b->oom && vp__buf_append(&b->buf, s, n) != 0)
        b->oom = 1;
}

static void ob_enc(obuf *b, const char *s, const char *keep)
{
    static const char hexd[] = "0123456789ABCDEF";
    for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
        if (is_unreserved(*p) || strchr(keep, *p) != NULL) {
            ob_add(b, (const char *)p, 1);
        } else {
            char e[3] = {'%', hexd[*p >> 4], hexd[*p & 15]};
            ob_add(b, e, 3);
        }
    }
}

static char *canonical(const vp__ref *r)
{
    obuf b = {VP_BUF_INIT, 0};
    ob_add(&b, r->scheme, strlen(r->scheme));
    ob_add(&b, "://", 3);
    if (r->credential[0] != '\0') {
        ob_add(&b, r->credential, strlen(r->credential));
        ob_add(&b, "@", 1);
    }
    ob_enc(&b, r->path, KEEP_PATH);
    for (size_t i = 0; i < r->n_params; i++) {
        ob_add(&b, i == 0 ? "?" : "&", 1);
        ob_enc(&b, r->params[i].key, KEEP_QUERY);
        ob_add(&b, "=", 1);
        ob_enc(&b, r->params[i].value, KEEP_QUERY);
    }
    if (r->json_key != NULL) {
        ob_add(&b, "#", 1);
        ob_enc(&b, r->json_key, KEEP_FRAG);
    }
    if (b.oom) {
        vp_buf_free(&b.buf);
        return NULL;
    }
    return b.buf.data; /* plain malloc'd: the caller frees it with free() */
}

/* ---- parsing ----------------------------------------------------------------------------- */

void vp__ref_free(vp__ref *r)
{
    if (r == NULL)
        return;
    free(r->uri);
    free(r->scheme);
    free(r->credential);
    free(r->path);
    for (size_t i = 0; i < r->n_params; i++) {
        free((char *)r->params[i].key);
        free((char *)r->params[i].value);
    }
    free(r->params);
    free(r->json_key);
    memset(r, 0, sizeof(*r));
}

/* Stable insertion sort by key (n <= VP__REF_PARAMS_MAX, so quadratic is fine). */
static void sort_params(vp_kv *p, size_t n)
{
    for (size_t i = 1; i < n; i++) {
        vp_kv x = p[i];
        size_t j = i;
        while (j > 0 && strcmp(p[j - 1].key, x.key) > 0) {
            p[j] = p[j - 1];
            j--;
        }
        p[j] = x;
    }
}

static int parse_query(const char *s, size_t n, size_t base, vp__ref *r, vp_error *err)
{
    size_t count = 0;
    for (size_t i = 0; i <= n; i++)
        if (i == n || s[i] == '&')
            count++;
    if (count > VP__REF_PARAMS_MAX)
        return vp__err_set(err, NULL, VP_ELIMIT, "invalid reference: more than %d query parameters",
                           VP__REF_PARAMS_MAX);
    r->params = calloc(count ? count : 1, sizeof(*r->params));
    if (r->params == NULL)
        return vp__err_set(err, NULL, VP_ENOMEM, NULL);
    size_t start = 0;
    for (size_t i = 0; i <= n; i++) {
        if (i < n && s[i] != '&')
            continue;
        const char *seg = s + start;
        size_t seg_len = i - start;
        size_t seg_base = base + start;
        start = i + 1;
        if (seg_len == 0)
            continue; /* "a=1&&b=2" */
        const char *eq = memchr(seg, '=', seg_len);
        size_t klen = eq ? (size_t)(eq - seg) : seg_len;
        if (klen == 0)
            return vp__err_set(err, NULL, VP_EINVAL,
                               "invalid reference: empty parameter name at offset %zu", seg_base);
        char *k = NULL, *v = NULL;
        int rc = decode(seg, klen, seg_base, "a parameter name", &k, err);
        if (rc != 0)
            return rc;
        if (eq)
            rc = decode(eq + 1, seg_len - klen - 1, seg_base + klen + 1, "a parameter value", &v,
                        err);
        else if ((v = strdup("")) == NULL)
            rc = vp__err_set(err, NULL, VP_ENOMEM, NULL);
        if (rc != 0) {
            free(k);
            return rc;
        }
        r->params[r->n_params].key = k;
        r->params[r->n_params].value = v;
        r->params[r->n_params].value_len = strlen(v);
        r->n_params++;
    }
    sort_params(r->params, r->n_params);
    return 0;
}

static int parse(const char *s, size_t len, vp__ref *r, vp_error *err)
{
    if (len > VP__REF_MAX)
        return vp__err_set(err, NULL, VP_ELIMIT, "invalid reference: longer than %d bytes",
                           VP__REF_MAX);
    for (size_t i = 0; i < len; i++) {
        unsigned char c = (unsigned char)s[i];
        if (c < 0x20 || c == 0x7f)
            return vp__err_set(err, NULL, VP_EINVAL,
                               "invalid reference: control character at offset %zu", i);
    }
    /* scheme */
    size_t i = 0;
    while (i < len && s[i] != ':' && s[i] != '/' && s[i] != '?' && s[i] != '#')
        i++;
    if (i + 3 > len || memcmp(s + i, "://", 3) != 0)
        return vp__err_set(err, NULL, VP_EINVAL,
                           "invalid reference: expected scheme://path "
                           "(e.g. aws://my-secret)");
    if (i == 0 || i > 64)
        return vp__err_set(err, NULL, VP_EINVAL, "invalid reference: bad scheme length");
    r->scheme = malloc(i + 1);
    if (r->scheme == NULL)
        return vp__err_set(err, NULL, VP_ENOMEM, NULL);
    for (size_t k = 0; k < i; k++) {
        char c = s[k];
        if (c >= 'A' && c <= 'Z')
            c = (char)(c - 'A' + 'a');
        r->scheme[k] = c;
    }
    r->scheme[i] = '\0';
    if (!vp__scheme_valid(r->scheme))
        return vp__err_set(err, NULL, VP_EINVAL,
                           "invalid reference: scheme must match [a-z0-9][a-z0-9+.-]*");
    size_t p = i + 3;

    /* end of path = first '?' or '#'; fragment = from the first '#' */
    size_t frag = len, query = len;
    for (size_t k = p; k < len; k++) {
        if (s[k] == '#') {
            frag = k;
            break;
        }
        if (s[k] == '?' && query == len)
            query = k;
    }
    size_t path_end = query < frag ? query : frag;

    /* credential: before an '@' that comes before the first '/' */
    size_t slash = p;
    while (slash < path_end && s[slash] != '/')
        slash++;
    const char *at = memchr(s + p, '@', slash - p);
    int rc;
    if (at != NULL) {
        size_t clen = (size_t)(at - (s + p));
        rc = decode(s + p, clen, p, "the credential name", &r->credential, err);
        if (rc != 0)
            return rc;
        if (clen > 0 && !vp__cred_name_valid(r->credential))
            return vp__err_set(err, NULL, VP_EINVAL,
                               "invalid reference: credential name must match "
                               "[A-Za-z0-9_.-]{1,64}");
        p += clen + 1;
    } else if ((r->credential = strdup("")) == NULL) {
        return vp__err_set(err, NULL, VP_ENOMEM, NULL);
    }

    if (path_end == p)
        return vp__err_set(err, NULL, VP_EINVAL, "invalid reference: empty path after %s://",
                           r->scheme);
    rc = decode(s + p, path_end - p, p, "the path", &r->path, err);
    if (rc != 0)
        return rc;
    if (r->path[0] == '\0')
        return vp__err_set(err, NULL, VP_EINVAL, "invalid reference: empty path");

    if (query < frag) {
        rc = parse_query(s + query + 1, frag - query - 1, query + 1, r, err);
        if (rc != 0)
            return rc;
    }
    if (frag < len) {
        if (frag + 1 == len)
            return vp__err_set(err, NULL, VP_EINVAL, "invalid reference: empty JSON key after '#'");
        rc = decode(s + frag + 1, len - frag - 1, frag + 1, "the JSON key", &r->json_key, err);
        if (rc != 0)
            return rc;
    }
    r->uri = canonical(r);
    if (r->uri == NULL)
        return vp__err_set(err, NULL, VP_ENOMEM, NULL);
    /* Escaping can triple the length; the canonical form must obey the limit too, since it is
     * what gets parsed again (cache keys, messages). */
    if (strlen(r->uri) > VP__REF_MAX)
        return vp__err_set(err, NULL, VP_ELIMIT,
                           "invalid reference: longer than %d bytes once normalised", VP__REF_MAX);
    return 0;
}

int vp__ref_parse(const char *s, size_t len, vp__ref *out, vp_error *err)
{
    if (out == NULL)
        return vp__err_set(err, NULL, VP_EINVAL, "invalid reference: no output");
    memset(out, 0, sizeof(*out));
    if (s == NULL)
        return vp__err_set(err, NULL, VP_EINVAL, "invalid reference: NULL");
    int rc = parse(s, len, out, err);
    if (rc != 0)
        vp__ref_free(out);
    return rc;
}

void vp__ref_view(const vp__ref *r, vp_ref *view)
{
    memset(view, 0, sizeof(*view));
    view->hdr = (vp_abi_hdr)VP_ABI_HDR(vp_ref);
    view->uri = r->uri;
    view->scheme = r->scheme;
    view->credential = r->credential;
    view->path = r->path;
    view->params = r->params;
    view->n_params = r->n_params;
    view->json_key = r->json_key;
    view->config = NULL;
}
