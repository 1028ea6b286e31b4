/*
 * util.c - INI files, timestamps, XML elements and URL pieces for the AWS provider (string
 * building, encoding, URL and time parsing come from the host, SDK 1.1). Nothing here does I/O.
 */
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "aws_int.h"

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

int aws_parse_time(const vp_host *h, const char *s, int64_t *ms)
{
    /* RFC 3339, plus what AWS tools also write: no zone or a "UTC" suffix (SSO cache). */
    if (s == NULL || h->time_parse(s, strlen(s), VP_TIME_RFC3339 | VP_TIME_LENIENT, ms) != VP_OK)
        return -1;
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

int aws_url_host(const vp_host *h, const char *url, char *out, size_t cap)
{
    vp_url *u = NULL;
    if (url == NULL || h->url_parse(NULL, url, VP_URL_HTTP_ONLY, &u) != VP_OK)
        return -1;
    const char *host = h->url_get(u, VP_URL_HOST), *port = h->url_get(u, VP_URL_PORT);
    int https = strcmp(h->url_get(u, VP_URL_SCHEME), "https") == 0;
    /* curl sends Host without a default port; SigV4 signs exactly what is sent. */
    int dflt = port == NULL || h->url_port(u) == (https ? 443 : 80);
    int n = snprintf(out, cap, "%s%s%s", host, dflt ? "" : ":", dflt ? "" : port);
    int rc = h->url_get(u, VP_URL_USER) != NULL || n < 0 || (size_t)n >= cap ? -1 : 0;
    h->url_free(u);
    return rc;
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
