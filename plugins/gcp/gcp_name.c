/*
 * gcp_name - the secretName forms Insomnia and the URI syntax accept, and the request URL.
 *
 * Every component is checked against a strict character set before it goes into a URL, so
 * nothing needs percent-encoding and no reference can smuggle a path segment, query or host.
 */
#include <stdio.h>
#include <string.h>

#include "gcp.h"

static int in_set(char c, const char *extra)
{
    if ((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9'))
        return 1;
    return c != '\0' && strchr(extra, c) != NULL;
}

static int upper(char c)
{
    return c >= 'A' && c <= 'Z';
}

/* Project ids are lower-case (6-30 chars), numbers are digits, and legacy domain-scoped ids
 * look like "example.com:my-project"; be lenient in length, strict in characters. */
int gcp_name_check(char what, const char *s)
{
    size_t n = strlen(s), max;
    const char *extra;
    int allow_upper = 0;
    switch (what) {
    case 'p':
        max = 100, extra = "-.:";
        break;
    case 'l':
        max = 63, extra = "-";
        break;
    case 's':
        max = 255, extra = "-_", allow_upper = 1;
        break;
    case 'v':
        max = 63, extra = "-_", allow_upper = 1;
        break;
    default:
        return -1;
    }
    /* Only projects may hold '.', and never first: no component can become a relative path
     * segment ("." or "..") that a URL normaliser would resolve. */
    if (n == 0 || n > max || s[0] == '.')
        return -1;
    for (size_t i = 0; i < n; i++)
        if (!in_set(s[i], extra) && !(allow_upper && upper(s[i])))
            return -1;
    return 0;
}

/* Copy segment [s, s+n) into dst (capacity cap) after checking it as `what`. */
static int take(char what, const char *s, size_t n, char *dst, size_t cap, char *why, size_t wcap)
{
    static const char *const names[] = {"project", "location", "secret id", "version"};
    const char *name = what == 'p'   ? names[0]
                       : what == 'l' ? names[1]
                       : what == 's' ? names[2]
                                     : names[3];
    if (n == 0 || n >= cap) {
        snprintf(why, wcap, "the %s is empty or too long", name);
        return -1;
    }
    memcpy(dst, s, n);
    dst[n] = '\0';
    if (gcp_name_check(what, dst) != 0) {
        snprintf(why, wcap, "%s",
                 what == 's'   ? "the secret id may only hold letters, digits, '-' and '_' "
                                 "(at most 255)"
                 : what == 'v' ? "the version must be a number, 'latest' or an alias (letters, "
                                 "digits, '-', '_')"
                 : what == 'l' ? "the location must be a region such as us-east1"
                               : "the project must be a project id or number");
        dst[0] = '\0';
        return -1;
    }
    return 0;
}

int gcp_name_parse(const char *s, gcp_name *n, char *why, size_t why_cap)
{
    memset(n, 0, sizeof(*n));
    const char *seg[8];
    size_t len[8], k = 0;
    const char *p = s;
    /* Split on '/': at most 8 segments (projects/P/locations/L/secrets/S/versions/V). */
    for (;;) {
        const char *slash = strchr(p, '/');
        size_t l = slash ? (size_t)(slash - p) : strlen(p);
        if (k == 8) {
            snprintf(why, why_cap, "too many '/'-separated parts in the secret name");
            return -1;
        }
        seg[k] = p, len[k++] = l;
        if (slash == NULL)
            break;
        p = slash + 1;
    }
#define SEG_IS(i, lit) (len[i] == sizeof(lit) - 1 && memcmp(seg[i], lit, len[i]) == 0)
    if (k == 1)
        return take('s', seg[0], len[0], n->secret, sizeof(n->secret), why, why_cap);
    if (k == 2 && !SEG_IS(0, "projects")) {
        if (take('p', seg[0], len[0], n->project, sizeof(n->project), why, why_cap) != 0)
            return -1;
        return take('s', seg[1], len[1], n->secret, sizeof(n->secret), why, why_cap);
    }
    if (k >= 4 && SEG_IS(0, "projects")) {
        size_t i = 2;
        if (take('p', seg[1], len[1], n->project, sizeof(n->project), why, why_cap) != 0)
            return -1;
        if (k >= 6 && SEG_IS(2, "locations")) {
            if (take('l', seg[3], len[3], n->location, sizeof(n->location), why, why_cap) != 0)
                return -1;
            i = 4;
        }
        if (SEG_IS(i, "secrets") && (k == i + 2 || (k == i + 4 && SEG_IS(i + 2, "versions")))) {
            if (take('s', seg[i + 1], len[i + 1], n->secret, sizeof(n->secret), why, why_cap))
                return -1;
            if (k == i + 4 &&
                take('v', seg[i + 3], len[i + 3], n->version, sizeof(n->version), why, why_cap))
                return -1;
            return 0;
        }
    }
#undef SEG_IS
    snprintf(why, why_cap,
             "expected SECRET, PROJECT/SECRET, projects/P/secrets/S[/versions/V] or "
             "projects/P/locations/L/secrets/S[/versions/V]");
    return -1;
}

int gcp_access_url(const char *endpoint, const gcp_name *n, char *out, size_t cap)
{
    char base[GCP_URL_MAX];
    int w;
    if (endpoint != NULL)
        w = snprintf(base, sizeof(base), "%s", endpoint);
    else if (n->location[0] != '\0')
        w = snprintf(base, sizeof(base), "https://secretmanager.%s.rep.googleapis.com",
                     n->location);
    else
        w = snprintf(base, sizeof(base), "%s", GCP_DEFAULT_ENDPOINT);
    if (w < 0 || (size_t)w >= sizeof(base))
        return -1;
    if (n->location[0] != '\0')
        w = snprintf(out, cap, "%s/v1/projects/%s/locations/%s/secrets/%s/versions/%s:access", base,
                     n->project, n->location, n->secret, n->version);
    else
        w = snprintf(out, cap, "%s/v1/projects/%s/secrets/%s/versions/%s:access", base, n->project,
                     n->secret, n->version);
    return w < 0 || (size_t)w >= cap ? -1 : 0;
}
