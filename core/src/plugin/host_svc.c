/*
 * host_svc - the ABI 1.1 host services for providers (see provider.h for each contract):
 * the bounded string builder (on vp_buf), percent-encoding and decoding, URL parsing (libcurl's
 * CURLU), query-string lookup and RFC 3339 / IMF-fixdate parsing. The loopback redirect
 * listener is in host_loopback.c. Everything here is thread-safe (no shared state).
 *
 * Encoding and decoding are done here rather than by curl_easy_escape/curl_easy_unescape
 * because their input is often secret (form bodies with refresh tokens, authorization codes)
 * and curl's results live in its plain heap, unwiped; the output is byte-for-byte curl's
 * (test_host_svc compares all 256 byte values).
 */
#include "host_svc.h"

#include <limits.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <curl/curl.h>
#include <sodium.h>

#include "buf.h"
#include "call.h"
#include "hexval.h"
#include "host.h"
#include "fault.h"
#include "secmem.h"

/* ---- string builder ---------------------------------------------------------------------- */

struct vp_sb {
    vp_buf buf;
    size_t max;
    int secure;
    int status; /* sticky: first failure */
};

vp_sb *vp__sb_new(size_t max_len, uint32_t flags)
{
    if (max_len > VP_SB_HARD_MAX || (flags & ~VP_SB_SECURE) != 0)
        return NULL;
    if (vp__fault_alloc_should_fail())
        return NULL;
    vp_sb *sb = calloc(1, sizeof(*sb));
    if (sb == NULL)
        return NULL;
    sb->max = max_len ? max_len : VP_SB_DEFAULT_MAX;
    sb->secure = (flags & VP_SB_SECURE) != 0;
    /* Allocate now so sb_data never returns NULL and a secure builder is secure from byte 0. */
    if (vp__fault_alloc_should_fail() || vp__buf_reserve(&sb->buf, 0, sb->secure) != 0) {
        free(sb);
        return NULL;
    }
    return sb;
}

/* Make room for n more bytes within the cap; records a failure. */
static int sb_room(vp_sb *sb, size_t n)
{
    if (sb == NULL)
        return VP_EINVAL;
    if (sb->status != 0)
        return sb->status;
    if (n > sb->max || sb->buf.len > sb->max - n)
        return sb->status = VP_ELIMIT;
    if (sb->buf.len + n + 1 > sb->buf.cap && vp__fault_alloc_should_fail())
        return sb->status = VP_ENOMEM;
    int rc = vp__buf_reserve(&sb->buf, n, sb->secure);
    if (rc != 0)
        sb->status = rc;
    return rc;
}

int vp__sb_append(vp_sb *sb, const void *data, size_t n)
{
    if (sb != NULL && sb->status == 0 && data == NULL && n > 0)
        sb->status = VP_EINVAL;
    /* Appending a part of the builder's own text (sb_data): it moves if the storage grows. */
    size_t self_off = SIZE_MAX;
    if (sb != NULL && sb->buf.data != NULL && (const char *)data >= sb->buf.data &&
        (const char *)data < sb->buf.data + sb->buf.cap)
        self_off = (size_t)((const char *)data - sb->buf.data);
    int rc = sb_room(sb, n);
    if (rc != 0)
        return rc;
    if (self_off != SIZE_MAX)
        data = sb->buf.data + self_off;
    if (n > 0)
        memmove(sb->buf.data + sb->buf.len, data, n);
    sb->buf.len += n;
    sb->buf.data[sb->buf.len] = '\0';
    return 0;
}

int vp__sb_append_str(vp_sb *sb, const char *s)
{
    if (s == NULL) {
        if (sb != NULL && sb->status == 0)
            sb->status = VP_EINVAL;
        return sb ? sb->status : VP_EINVAL;
    }
    return vp__sb_append(sb, s, strlen(s));
}

int vp__sb_printf(vp_sb *sb, const char *fmt, ...)
{
    if (sb == NULL)
        return VP_EINVAL;
    if (sb->status != 0)
        return sb->status;
    if (fmt == NULL)
        return sb->status = VP_EINVAL;
    va_list ap, ap2;
    va_start(ap, fmt);
    va_copy(ap2, ap);
    /* Measure first (no output anywhere), then format straight into the builder. */
    int n = vsnprintf(NULL, 0, fmt, ap);
    va_end(ap);
    int rc;
    if (n < 0) {
        rc = sb->status = VP_EINVAL;
    } else if ((rc = sb_room(sb, (size_t)n)) == 0) {
        if (vsnprintf(sb->buf.data + sb->buf.len, (size_t)n + 1, fmt, ap2) != n) {
            sodium_memzero(sb->buf.data + sb->buf.len, (size_t)n + 1);
            sb->buf.data[sb->buf.len] = '\0';
            rc = sb->status = VP_EINVAL;
        } else {
            sb->buf.len += (size_t)n;
        }
    }
    va_end(ap2);
    return rc;
}

static int unreserved(unsigned char c)
{
    return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' ||
           c == '.' || c == '_' || c == '~';
}

int vp__sb_append_enc(vp_sb *sb, const char *s, size_t n, uint32_t flags)
{
    static const char hex[] = "0123456789ABCDEF";
    if (sb != NULL && sb->status == 0 && ((s == NULL && n > 0) || (flags & ~VP_ENC_KEEP_SLASH)))
        sb->status = VP_EINVAL;
    /* Reserve the worst case up to the cap once, so the loop does not reallocate per byte. */
    size_t out = 0;
    for (size_t i = 0; i < n && s != NULL; i++) {
        unsigned char c = (unsigned char)s[i];
        out += unreserved(c) || (c == '/' && (flags & VP_ENC_KEEP_SLASH)) ? 1 : 3;
    }
    size_t self_off = SIZE_MAX; /* s inside the builder's own text moves if storage grows */
    if (sb != NULL && sb->buf.data != NULL && s >= sb->buf.data && s < sb->buf.data + sb->buf.cap)
        self_off = (size_t)(s - sb->buf.data);
    int rc = sb_room(sb, out);
    if (rc != 0)
        return rc;
    if (self_off != SIZE_MAX)
        s = sb->buf.data + self_off;
    char *p = sb->buf.data + sb->buf.len;
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)s[i];
        if (unreserved(c) || (c == '/' && (flags & VP_ENC_KEEP_SLASH))) {
            *p++ = (char)c;
        } else {
            *p++ = '%';
            *p++ = hex[c >> 4];
            *p++ = hex[c & 15];
        }
    }
    *p = '\0';
    sb->buf.len += out;
    return 0;
}

int vp__sb_append_param(vp_sb *sb, const char *key, const char *value)
{
    if (key == NULL || value == NULL) {
        if (sb != NULL && sb->status == 0)
            sb->status = VP_EINVAL;
        return sb ? sb->status : VP_EINVAL;
    }
    if (sb != NULL && sb->buf.len > 0 && sb->buf.data[sb->buf.len - 1] != '?')
        vp__sb_append(sb, "&", 1);
    vp__sb_append_enc(sb, key, strlen(key), 0);
    vp__sb_append(sb, "=", 1);
    return vp__sb_append_enc(sb, value, strlen(value), 0);
}

const char *vp__sb_data(const vp_sb *sb, size_t *len)
{
    if (len != NULL)
        *len = sb ? sb->buf.len : 0;
    return sb ? sb->buf.data : NULL;
}

int vp__sb_status(const vp_sb *sb)
{
    return sb ? sb->status : VP_EINVAL;
}

void vp__sb_reset(vp_sb *sb)
{
    if (sb == NULL)
        return;
    vp__buf_reset(&sb->buf);
    sb->status = 0;
}

void vp__sb_free(vp_sb *sb)
{
    if (sb == NULL)
        return;
    vp_buf_free(&sb->buf);
    free(sb);
}

/* ---- percent-decoding -------------------------------------------------------------------- */

static int decode_into(const char *s, size_t n, uint32_t flags, char *out, size_t *out_len)
{
    size_t o = 0;
    for (size_t i = 0; i < n; i++) {
        char c = s[i];
        if (c == '%') {
            if (n - i < 3 || vp__hexval(s[i + 1]) < 0 || vp__hexval(s[i + 2]) < 0)
                return VP_EPROTO;
            c = (char)(vp__hexval(s[i + 1]) * 16 + vp__hexval(s[i + 2]));
            i += 2;
        } else if (c == '+' && (flags & VP_ENC_FORM)) {
            c = ' ';
        }
        out[o++] = c;
    }
    out[o] = '\0';
    *out_len = o;
    return 0;
}

int vp__url_decode(const char *s, size_t n, uint32_t flags, char **out, size_t *out_len)
{
    if (out == NULL)
        return VP_EINVAL;
    *out = NULL;
    if ((s == NULL && n > 0) || (flags & ~VP_ENC_FORM) || n >= VP_SB_HARD_MAX)
        return VP_EINVAL;
    if (vp__fault_alloc_should_fail())
        return VP_ENOMEM;
    char *d = vp__secmem_alloc(n + 1);
    if (d == NULL)
        return VP_ENOMEM;
    size_t len = 0;
    int rc = decode_into(s ? s : "", n, flags, d, &len);
    if (rc != 0) {
        vp__secmem_free(d);
        return rc;
    }
    *out = d;
    if (out_len != NULL)
        *out_len = len;
    return 0;
}

int vp__url_query_get(const char *q, size_t qlen, const char *key, char **value, size_t *value_len)
{
    if (value == NULL)
        return VP_EINVAL;
    *value = NULL;
    if ((q == NULL && qlen > 0) || key == NULL)
        return VP_EINVAL;
    size_t klen = strlen(key), i = 0;
    while (q != NULL && i < qlen) {
        size_t end = i;
        while (end < qlen && q[end] != '&')
            end++;
        size_t pl = end - i;
        if (pl >= klen && memcmp(q + i, key, klen) == 0 && (pl == klen || q[i + klen] == '=')) {
            size_t vs = pl == klen ? end : i + klen + 1;
            return vp__url_decode(q + vs, end - vs, VP_ENC_FORM, value, value_len);
        }
        i = end + 1;
    }
    return VP_ENOTFOUND;
}

/* ---- URL parsing (CURLU) ------------------------------------------------------------------ */

struct vp_url {
    char *part[8];
    int port;
};

static const CURLUPart curl_part[8] = {CURLUPART_SCHEME, CURLUPART_USER,    CURLUPART_PASSWORD,
                                       CURLUPART_HOST,   CURLUPART_PORT,    CURLUPART_PATH,
                                       CURLUPART_QUERY,  CURLUPART_FRAGMENT};

static char *dup_curl(char *s)
{
    char *d = s ? strdup(s) : NULL;
    curl_free(s);
    return d;
}

void vp__url_free(vp_url *u)
{
    if (u == NULL)
        return;
    for (size_t i = 0; i < 8; i++) {
        if (u->part[i] != NULL) {
            sodium_memzero(u->part[i], strlen(u->part[i])); /* userinfo may be a password */
            free(u->part[i]);
        }
    }
    free(u);
}

static int url_fail(vp_call *call, int status, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static int url_fail(vp_call *call, int status, const char *fmt, ...)
{
    if (call == NULL)
        return status;
    va_list ap;
    va_start(ap, fmt);
    int rc = vp__call_failv(call, status, fmt, ap);
    va_end(ap);
    return rc;
}

int vp__url_parse(vp_call *call, const char *url, uint32_t flags, vp_url **out)
{
    if (out == NULL)
        return VP_EINVAL;
    *out = NULL;
    if (url == NULL || (flags & ~VP_URL_HTTP_ONLY))
        return url_fail(call, VP_EINVAL, "URL missing or bad flags");
    if (vp__fault_alloc_should_fail())
        return VP_ENOMEM;
    CURLU *h = curl_url();
    if (h == NULL)
        return VP_ENOMEM;
    /* Message names the URL only up to the userinfo (no password in messages). */
    const char *at = strchr(url, '@'), *ss = strstr(url, "://");
    int shown = (int)strcspn(url, " \t\r\n?#");
    if (ss != NULL && at != NULL && at > ss)
        shown = (int)(ss - url) + 3;
    if (shown > 128)
        shown = 128;
    CURLUcode uc = curl_url_set(h, CURLUPART_URL, url, CURLU_NON_SUPPORT_SCHEME);
    if (uc != CURLUE_OK) {
        curl_url_cleanup(h);
        if (uc == CURLUE_OUT_OF_MEMORY)
            return VP_ENOMEM;
        return url_fail(
            call, VP_EINVAL, "bad URL '%.*s%s': %s (expected scheme://host[:port][/path][?query])",
            shown, url, (size_t)shown < strlen(url) ? "..." : "", curl_url_strerror(uc));
    }
    vp_url *u = calloc(1, sizeof(*u));
    int rc = u ? 0 : VP_ENOMEM;
    for (size_t i = 0; rc == 0 && i < 8; i++) {
        char *v = NULL;
        uc = curl_url_get(h, curl_part[i], &v, 0);
        if (uc == CURLUE_OUT_OF_MEMORY) {
            rc = VP_ENOMEM;
        } else if (uc == CURLUE_OK && v != NULL) {
            u->part[i] = dup_curl(v);
            if (u->part[i] == NULL)
                rc = VP_ENOMEM;
        }
    }
    if (rc == 0) {
        char *v = NULL;
        if (curl_url_get(h, CURLUPART_PORT, &v, CURLU_DEFAULT_PORT) == CURLUE_OK && v != NULL)
            u->port = atoi(v);
        curl_free(v);
        if (u->part[VP_URL_PATH] == NULL && (u->part[VP_URL_PATH] = strdup("/")) == NULL)
            rc = VP_ENOMEM;
    }
    curl_url_cleanup(h);
    if (rc == 0 && (flags & VP_URL_HTTP_ONLY) && strcmp(u->part[VP_URL_SCHEME], "http") != 0 &&
        strcmp(u->part[VP_URL_SCHEME], "https") != 0)
        rc = url_fail(call, VP_EINVAL, "bad URL '%.*s': the scheme must be http or https", shown,
                      url);
    if (rc == 0 && (u->part[VP_URL_HOST] == NULL || u->part[VP_URL_HOST][0] == '\0'))
        rc = url_fail(call, VP_EINVAL, "bad URL '%.*s': no host name", shown, url);
    if (rc != 0) {
        vp__url_free(u);
        return rc;
    }
    *out = u;
    return 0;
}

const char *vp__url_get(const vp_url *u, vp_url_part part)
{
    if (u == NULL || (int)part < 0 || (int)part > 7)
        return NULL;
    return u->part[part];
}

int vp__url_port(const vp_url *u)
{
    return u ? u->port : 0;
}

/* ---- time -------------------------------------------------------------------------------- */

/* Days since 1970-01-01 of a proleptic Gregorian date (Howard Hinnant's algorithm). */
static int64_t days_from_civil(int64_t y, unsigned m, unsigned d)
{
    y -= m <= 2;
    const int64_t era = (y >= 0 ? y : y - 399) / 400;
    const unsigned yoe = (unsigned)(y - era * 400);
    const unsigned doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
    const unsigned doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    return era * 146097 + (int64_t)doe - 719468;
}

static int num(const char *s, size_t avail, int n, int *out)
{
    if ((size_t)n > avail)
        return -1;
    int v = 0;
    for (int i = 0; i < n; i++) {
        if (s[i] < '0' || s[i] > '9')
            return -1;
        v = v * 10 + (s[i] - '0');
    }
    *out = v;
    return 0;
}

static int days_in_month(int y, int m)
{
    static const int dm[12] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
    int leap = (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
    return m == 2 && leap ? 29 : dm[m - 1];
}

static int to_ms(int Y, int M, int D, int h, int mi, int sec, int64_t off_s, int frac_ms,
                 int64_t *ms)
{
    if (M < 1 || M > 12 || D < 1 || D > days_in_month(Y, M) || h > 23 || mi > 59 || sec > 60)
        return VP_EINVAL;
    int64_t t =
        days_from_civil(Y, (unsigned)M, (unsigned)D) * 86400 + h * 3600 + mi * 60 + sec - off_s;
    *ms = t * 1000 + frac_ms;
    return 0;
}

static int parse_rfc3339(const char *s, size_t n, int lenient, int64_t *ms)
{
    int Y, M, D, h, mi, sec;
    if (num(s, n, 4, &Y) || n < 19 || s[4] != '-' || num(s + 5, 2, 2, &M) || s[7] != '-' ||
        num(s + 8, 2, 2, &D) || (s[10] != 'T' && s[10] != 't' && s[10] != ' ') ||
        num(s + 11, 2, 2, &h) || s[13] != ':' || num(s + 14, 2, 2, &mi) || s[16] != ':' ||
        num(s + 17, 2, 2, &sec))
        return VP_EINVAL;
    size_t i = 19;
    int frac_ms = 0;
    if (i < n && s[i] == '.') {
        int nd = 0;
        for (i++; i < n && s[i] >= '0' && s[i] <= '9'; i++, nd++)
            if (nd < 3)
                frac_ms = frac_ms * 10 + (s[i] - '0');
        if (nd == 0)
            return VP_EINVAL;
        for (; nd < 3; nd++)
            frac_ms *= 10;
    }
    const char *z = s + i;
    size_t zl = n - i;
    int64_t off_s = 0;
    if (zl == 1 && (z[0] == 'Z' || z[0] == 'z')) {
        off_s = 0;
    } else if (zl == 6 && (z[0] == '+' || z[0] == '-') && z[3] == ':') {
        int oh, om;
        if (num(z + 1, 2, 2, &oh) || num(z + 4, 2, 2, &om) || oh > 23 || om > 59)
            return VP_EINVAL;
        off_s = (int64_t)(oh * 3600 + om * 60) * (z[0] == '+' ? 1 : -1);
    } else if (lenient && (zl == 0 || (zl == 3 && memcmp(z, "UTC", 3) == 0))) {
        off_s = 0;
    } else {
        return VP_EINVAL;
    }
    return to_ms(Y, M, D, h, mi, sec, off_s, frac_ms, ms);
}

static int parse_http_date(const char *s, size_t n, int64_t *ms)
{
    static const char days[] = "SunMonTueWedThuFriSat";
    static const char months[] = "JanFebMarAprMayJunJulAugSepOctNovDec";
    /* "Sun, 06 Nov 1994 08:49:37 GMT": exactly 29 bytes. */
    if (n != 29 || s[3] != ',' || s[4] != ' ' || s[7] != ' ' || s[11] != ' ' || s[16] != ' ' ||
        s[19] != ':' || s[22] != ':' || s[25] != ' ' || memcmp(s + 26, "GMT", 3) != 0)
        return VP_EINVAL;
    int wd = -1, M = 0, D, Y, h, mi, sec;
    for (int i = 0; i < 7; i++)
        if (memcmp(s, days + 3 * i, 3) == 0)
            wd = i;
    for (int i = 0; i < 12; i++)
        if (memcmp(s + 8, months + 3 * i, 3) == 0)
            M = i + 1;
    if (wd < 0 || M == 0 || num(s + 5, 2, 2, &D) || num(s + 12, 4, 4, &Y) ||
        num(s + 17, 2, 2, &h) || num(s + 20, 2, 2, &mi) || num(s + 23, 2, 2, &sec))
        return VP_EINVAL;
    int64_t t;
    int rc = to_ms(Y, M, D, h, mi, sec, 0, 0, &t);
    if (rc != 0)
        return rc;
    /* The weekday must be the date's (1970-01-01 was a Thursday). */
    int64_t days_since = days_from_civil(Y, (unsigned)M, (unsigned)D);
    if ((int)(((days_since % 7) + 11) % 7) != wd)
        return VP_EINVAL;
    *ms = t;
    return 0;
}

int vp__time_parse(const char *s, size_t n, uint32_t formats, int64_t *unix_ms)
{
    if (s == NULL || unix_ms == NULL ||
        (formats & ~(VP_TIME_RFC3339 | VP_TIME_HTTP | VP_TIME_LENIENT)) != 0)
        return VP_EINVAL;
    if ((formats & VP_TIME_RFC3339) &&
        parse_rfc3339(s, n, (formats & VP_TIME_LENIENT) != 0, unix_ms) == 0)
        return 0;
    if ((formats & VP_TIME_HTTP) && parse_http_date(s, n, unix_ms) == 0)
        return 0;
    return VP_EINVAL;
}

uint32_t vp__http_retry_after_ms(vp_call *call, const char *value)
{
    const int64_t cap_ms = 3600 * 1000;
    if (value == NULL)
        return 0;
    size_t n = strlen(value), i = 0;
    int64_t secs = 0, ms = 0;
    for (; i < n && value[i] >= '0' && value[i] <= '9'; i++)
        if (secs <= cap_ms / 1000) /* stop growing past the cap: no overflow */
            secs = secs * 10 + (value[i] - '0');
    if (i > 0 && i == n) { /* delta-seconds */
        ms = secs > cap_ms / 1000 ? cap_ms : secs * 1000;
    } else if (vp__time_parse(value, n, VP_TIME_HTTP, &ms) == 0) {
        ms -= vp__host_now_unix_ms(call ? call->hc : NULL);
        ms = ms < 0 ? 0 : (ms > cap_ms ? cap_ms : ms);
    } else {
        return 0;
    }
    return (uint32_t)ms;
}
