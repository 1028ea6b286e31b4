/*
 * util.c - string builder, INI files, timestamps, XML elements and URL pieces for the AWS
 * provider. Nothing here does I/O.
 */
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "aws_int.h"

void awsb_init(awsb *b, const vp_host *h, int secure)
{
    memset(b, 0, sizeof(*b));
    b->h = h;
    b->secure = secure;
}

static int awsb_grow(awsb *b, size_t need)
{
    if (b->err)
        return -1;
    if (need > AWS_TEXT_MAX) {
        b->err = VP_ELIMIT;
        return -1;
    }
    if (need <= b->cap)
        return 0;
    size_t cap = b->cap ? b->cap : 128;
    while (cap < need)
        cap *= 2;
    char *p = b->secure ? b->h->secure_malloc(cap) : b->h->malloc(cap);
    if (p == NULL) {
        b->err = VP_ENOMEM;
        return -1;
    }
    if (b->p != NULL) {
        memcpy(p, b->p, b->len + 1);
        if (b->secure)
            b->h->secure_free(b->p);
        else
            b->h->free(b->p);
    }
    b->p = p;
    b->cap = cap;
    return 0;
}

void awsb_add(awsb *b, const void *s, size_t n)
{
    if (awsb_grow(b, b->len + n + 1) != 0)
        return;
    memcpy(b->p + b->len, s, n);
    b->len += n;
    b->p[b->len] = '\0';
}

void awsb_str(awsb *b, const char *s)
{
    awsb_add(b, s, strlen(s));
}

void awsb_ch(awsb *b, char c)
{
    awsb_add(b, &c, 1);
}

void awsb_fmt(awsb *b, const char *fmt, ...)
{
    char tmp[1024];
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(tmp, sizeof(tmp), fmt, ap);
    va_end(ap);
    if (n < 0 || (size_t)n >= sizeof(tmp)) {
        if (!b->err)
            b->err = VP_ELIMIT;
    } else {
        awsb_add(b, tmp, (size_t)n);
    }
    b->h->memzero(tmp, sizeof(tmp));
}

static int unreserved(unsigned char c)
{
    return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' ||
           c == '.' || c == '_' || c == '~';
}

void awsb_uri(awsb *b, const char *s, size_t n, int keep_slash)
{
    static const char hex[] = "0123456789ABCDEF";
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)s[i];
        if (unreserved(c) || (keep_slash && c == '/')) {
            awsb_ch(b, (char)c);
        } else {
            char e[3] = {'%', hex[c >> 4], hex[c & 15]};
            awsb_add(b, e, 3);
        }
    }
}

void awsb_json(awsb *b, const char *s)
{
    static const char hex[] = "0123456789abcdef";
    awsb_ch(b, '"');
    for (; *s; s++) {
        unsigned char c = (unsigned char)*s;
        if (c == '"' || c == '\\') {
            awsb_ch(b, '\\');
            awsb_ch(b, (char)c);
        } else if (c < 0x20) {
            char e[6] = {'\\', 'u', '0', '0', hex[c >> 4], hex[c & 15]};
            awsb_add(b, e, 6);
        } else {
            awsb_ch(b, (char)c);
        }
    }
    awsb_ch(b, '"');
}

void awsb_free(awsb *b)
{
    if (b->p != NULL) {
        if (b->secure)
            b->h->secure_free(b->p);
        else
            b->h->free(b->p);
    }
    b->p = NULL;
    b->len = b->cap = 0;
}

char *aws_strndup(const vp_host *h, const char *s, size_t n)
{
    char *p = h->malloc(n + 1);
    if (p != NULL) {
        memcpy(p, s, n);
        p[n] = '\0';
    }
    return p;
}

char *aws_sstrndup(const vp_host *h, const char *s, size_t n)
{
    char *p = h->secure_malloc(n + 1);
    if (p != NULL) {
        memcpy(p, s, n);
        p[n] = '\0';
    }
    return p;
}

void aws_sfree(const vp_host *h, char *s)
{
    h->secure_free(s);
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

static int digits(const char *s, int n, int *out)
{
    int v = 0;
    for (int i = 0; i < n; i++) {
        if (s[i] < '0' || s[i] > '9')
            return -1;
        v = v * 10 + (s[i] - '0');
    }
    *out = v;
    return 0;
}

int aws_parse_time(const char *s, int64_t *ms)
{
    int Y, M, D, h, m, sec;
    if (s == NULL || strlen(s) < 19 || digits(s, 4, &Y) || s[4] != '-' || digits(s + 5, 2, &M) ||
        s[7] != '-' || digits(s + 8, 2, &D) || (s[10] != 'T' && s[10] != ' ') ||
        digits(s + 11, 2, &h) || s[13] != ':' || digits(s + 14, 2, &m) || s[16] != ':' ||
        digits(s + 17, 2, &sec))
        return -1;
    if (M < 1 || M > 12 || D < 1 || D > 31 || h > 23 || m > 59 || sec > 60)
        return -1;
    const char *p = s + 19;
    int frac_ms = 0;
    if (*p == '.') {
        p++;
        int nd = 0;
        while (*p >= '0' && *p <= '9') {
            if (nd < 3)
                frac_ms = frac_ms * 10 + (*p - '0');
            nd++;
            p++;
        }
        if (nd == 0)
            return -1;
        for (; nd < 3; nd++)
            frac_ms *= 10;
    }
    int64_t off_s = 0;
    if (strcmp(p, "Z") == 0 || strcmp(p, "UTC") == 0 || strcmp(p, "") == 0) {
        off_s = 0;
    } else if ((p[0] == '+' || p[0] == '-') && strlen(p) == 6 && p[3] == ':') {
        int oh, om;
        if (digits(p + 1, 2, &oh) || digits(p + 4, 2, &om))
            return -1;
        off_s = (int64_t)(oh * 3600 + om * 60) * (p[0] == '+' ? 1 : -1);
    } else {
        return -1;
    }
    int64_t days = days_from_civil(Y, (unsigned)M, (unsigned)D);
    int64_t t = days * 86400 + h * 3600 + m * 60 + sec - off_s;
    *ms = t * 1000 + frac_ms;
    return 0;
}

void aws_amzdate(int64_t unix_ms, char out[17])
{
    time_t t = (time_t)(unix_ms / 1000);
    struct tm tm;
    gmtime_r(&t, &tm);
    if (strftime(out, 17, "%Y%m%dT%H%M%SZ", &tm) != 16)
        memcpy(out, "19700101T000000Z", 17);
}

/* ---- INI --------------------------------------------------------------------------------- */

static const char *skip_ws(const char *p, const char *end)
{
    while (p < end && (*p == ' ' || *p == '\t'))
        p++;
    return p;
}

static const char *trim_end(const char *s, const char *e)
{
    while (e > s && (e[-1] == ' ' || e[-1] == '\t' || e[-1] == '\r'))
        e--;
    return e;
}

/* Calls fn for each top-level `key = value` line of `section`; stops when fn returns non-zero.
 * Returns 1 if the section was seen. */
typedef int (*ini_fn)(void *ud, const char *k, size_t kn, const char *v, size_t vn);

static int ini_walk(const char *text, const char *section, ini_fn fn, void *ud)
{
    if (text == NULL)
        return 0;
    const char *p = text;
    int in = 0, seen = 0;
    size_t sl = strlen(section);
    while (*p) {
        const char *nl = strchr(p, '\n');
        const char *end = nl ? nl : p + strlen(p);
        const char *next = nl ? nl + 1 : end;
        const char *s = skip_ws(p, end);
        const char *e = trim_end(s, end);
        int indented = s != p;
        if (s == e || *s == '#' || *s == ';') {
            /* blank or comment */
        } else if (*s == '[' && !indented) {
            const char *close = memchr(s, ']', (size_t)(e - s));
            in = 0;
            if (close != NULL) {
                const char *ns = skip_ws(s + 1, close);
                const char *ne = trim_end(ns, close);
                /* "[profile   dev]": collapse the blank run after "profile". */
                char name[256];
                size_t nn = 0;
                int space = 0;
                for (const char *q = ns; q < ne && nn + 1 < sizeof(name); q++) {
                    if (*q == ' ' || *q == '\t') {
                        space = 1;
                        continue;
                    }
                    if (space && nn > 0)
                        name[nn++] = ' ';
                    space = 0;
                    if (nn + 1 < sizeof(name))
                        name[nn++] = *q;
                }
                name[nn] = '\0';
                if (nn == sl && memcmp(name, section, sl) == 0) {
                    in = 1;
                    seen = 1;
                }
            }
        } else if (in && !indented) {
            const char *eq = memchr(s, '=', (size_t)(e - s));
            if (eq != NULL) {
                const char *ke = trim_end(s, eq);
                const char *vs = skip_ws(eq + 1, e);
                if (fn != NULL && fn(ud, s, (size_t)(ke - s), vs, (size_t)(e - vs)))
                    return 1;
            }
        }
        p = next;
    }
    return seen;
}

typedef struct ini_find {
    const vp_host *h;
    const char *key;
    char *value;
} ini_find;

static int ini_find_fn(void *ud, const char *k, size_t kn, const char *v, size_t vn)
{
    ini_find *f = ud;
    if (kn != strlen(f->key) || memcmp(k, f->key, kn) != 0)
        return 0;
    aws_sfree(f->h, f->value);
    f->value = aws_sstrndup(f->h, v, vn);
    return 0; /* the last assignment wins, as in configparser */
}

char *aws_ini_get(const vp_host *h, const char *text, const char *section, const char *key)
{
    ini_find f = {h, key, NULL};
    ini_walk(text, section, ini_find_fn, &f);
    return f.value;
}

int aws_ini_has_section(const char *text, const char *section)
{
    return ini_walk(text, section, NULL, NULL);
}

char *aws_ini_get_nested(const vp_host *h, const char *text, const char *section, const char *sub,
                         const char *key)
{
    if (text == NULL)
        return NULL;
    const char *p = text;
    int in = 0, in_sub = 0;
    size_t sl = strlen(section), subl = strlen(sub), kl = strlen(key);
    char *value = NULL;
    while (*p) {
        const char *nl = strchr(p, '\n');
        const char *end = nl ? nl : p + strlen(p);
        const char *next = nl ? nl + 1 : end;
        const char *s = skip_ws(p, end);
        const char *e = trim_end(s, end);
        int indented = s != p;
        if (s == e || *s == '#' || *s == ';') {
            /* blank or comment */
        } else if (!indented) {
            in_sub = 0;
            if (*s == '[') {
                const char *close = memchr(s, ']', (size_t)(e - s));
                const char *ns = close ? skip_ws(s + 1, close) : NULL;
                const char *ne = close ? trim_end(ns, close) : NULL;
                /* "[services  name]": compare word by word. */
                in = 0;
                if (ns != NULL && (size_t)(ne - ns) >= sl) {
                    char name[256];
                    size_t nn = 0;
                    int space = 0;
                    for (const char *q = ns; q < ne && nn + 2 < sizeof(name); q++) {
                        if (*q == ' ' || *q == '\t') {
                            space = 1;
                            continue;
                        }
                        if (space && nn > 0)
                            name[nn++] = ' ';
                        space = 0;
                        name[nn++] = *q;
                    }
                    in = nn == sl && memcmp(name, section, sl) == 0;
                }
            } else if (in) {
                const char *eq = memchr(s, '=', (size_t)(e - s));
                if (eq != NULL) {
                    const char *ke = trim_end(s, eq);
                    in_sub = (size_t)(ke - s) == subl && memcmp(s, sub, subl) == 0 &&
                             skip_ws(eq + 1, e) == e;
                }
            }
        } else if (in && in_sub) {
            const char *eq = memchr(s, '=', (size_t)(e - s));
            if (eq != NULL) {
                const char *ke = trim_end(s, eq);
                if ((size_t)(ke - s) == kl && memcmp(s, key, kl) == 0) {
                    const char *vs = skip_ws(eq + 1, e);
                    aws_sfree(h, value);
                    value = aws_sstrndup(h, vs, (size_t)(e - vs));
                }
            }
        }
        p = next;
    }
    return value;
}

/* ---- XML (STS responses: flat, known elements; no attributes we need) -------------------- */

char *aws_xml_get(const vp_host *h, const char *xml, size_t len, const char *tag)
{
    char open[80], close[80];
    if (snprintf(open, sizeof(open), "<%s>", tag) >= (int)sizeof(open) ||
        snprintf(close, sizeof(close), "</%s>", tag) >= (int)sizeof(close))
        return NULL;
    size_t ol = strlen(open), cl = strlen(close);
    const char *p = NULL;
    for (size_t i = 0; i + ol <= len; i++)
        if (memcmp(xml + i, open, ol) == 0) {
            p = xml + i + ol;
            break;
        }
    if (p == NULL)
        return NULL;
    const char *end = xml + len, *q = NULL;
    for (const char *s = p; s + cl <= end; s++)
        if (memcmp(s, close, cl) == 0) {
            q = s;
            break;
        }
    if (q == NULL)
        return NULL;
    char *out = h->secure_malloc((size_t)(q - p) + 1);
    if (out == NULL)
        return NULL;
    size_t n = 0;
    for (const char *s = p; s < q;) {
        static const struct {
            const char *ent;
            char c;
        } ents[] = {
            {"&amp;", '&'}, {"&lt;", '<'}, {"&gt;", '>'}, {"&quot;", '"'}, {"&apos;", '\''}};
        int done = 0;
        if (*s == '&')
            for (size_t k = 0; k < sizeof(ents) / sizeof(ents[0]); k++) {
                size_t el = strlen(ents[k].ent);
                if ((size_t)(q - s) >= el && memcmp(s, ents[k].ent, el) == 0) {
                    out[n++] = ents[k].c;
                    s += el;
                    done = 1;
                    break;
                }
            }
        if (!done)
            out[n++] = *s++;
    }
    out[n] = '\0';
    /* Trim surrounding whitespace (pretty-printed responses). */
    size_t a = 0;
    while (a < n && (out[a] == ' ' || out[a] == '\n' || out[a] == '\r' || out[a] == '\t'))
        a++;
    while (n > a &&
           (out[n - 1] == ' ' || out[n - 1] == '\n' || out[n - 1] == '\r' || out[n - 1] == '\t'))
        n--;
    memmove(out, out + a, n - a);
    out[n - a] = '\0';
    return out;
}

/* ---- URLs, ARNs, regions ----------------------------------------------------------------- */

int aws_url_host(const char *url, char *out, size_t cap)
{
    int https;
    const char *p;
    if (strncmp(url, "https://", 8) == 0) {
        https = 1;
        p = url + 8;
    } else if (strncmp(url, "http://", 7) == 0) {
        https = 0;
        p = url + 7;
    } else {
        return -1;
    }
    size_t n = strcspn(p, "/?#");
    if (n == 0 || n >= cap || memchr(p, '@', n) != NULL)
        return -1;
    memcpy(out, p, n);
    out[n] = '\0';
    const char *dflt = https ? ":443" : ":80";
    size_t dl = strlen(dflt);
    if (n > dl && strcmp(out + n - dl, dflt) == 0) /* curl sends Host without a default port */
        out[n - dl] = '\0';
    return 0;
}

int aws_arn_region(const char *arn, char *out, size_t cap)
{
    if (strncmp(arn, "arn:", 4) != 0)
        return -1;
    const char *p = arn + 4;
    for (int field = 0; field < 2; field++) { /* partition, service */
        p = strchr(p, ':');
        if (p == NULL)
            return -1;
        p++;
    }
    const char *e = strchr(p, ':');
    if (e == NULL || e == p || (size_t)(e - p) >= cap)
        return -1;
    memcpy(out, p, (size_t)(e - p));
    out[e - p] = '\0';
    return aws_region_valid(out) ? 0 : -1;
}

int aws_region_valid(const char *s)
{
    size_t n = strlen(s);
    if (n < 4 || n > 32)
        return 0;
    for (size_t i = 0; i < n; i++)
        if (!((s[i] >= 'a' && s[i] <= 'z') || (s[i] >= '0' && s[i] <= '9') || s[i] == '-'))
            return 0;
    return s[0] != '-' && s[n - 1] != '-';
}
