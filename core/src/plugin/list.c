/*
 * list - vp_list (vaultplug/list.h): the names under a prefix, from a provider's list() entry
 * point (VP_CAP_LIST). Names only, never values; no cache. The provider follows the store's
 * paging; the result is sorted and de-duplicated here so every provider prints the same way.
 */
#include <stdlib.h>
#include <string.h>

#include "vaultplug/error.h"
#include "vaultplug/list.h"
#include "call.h"
#include "ctx.h"
#include "errint.h"
#include "fault.h"
#include "ref.h"
#include "secret.h"

#define LIST_URI_MAX 4096

static int hexval(char c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    if (c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    return -1;
}

/* Percent-decode s into a new string; NULL on a malformed escape, an encoded NUL or ENOMEM
 * (*bad tells which). */
static char *pct_decode(const char *s, int *bad)
{
    size_t n = strlen(s);
    char *o = malloc(n + 1), *w = o;
    *bad = 0;
    if (o == NULL)
        return NULL;
    for (size_t i = 0; i < n; i++) {
        if (s[i] != '%') {
            *w++ = s[i];
            continue;
        }
        int hi = hexval(s[i + 1]), lo = hi >= 0 ? hexval(s[i + 2]) : -1;
        if (hi < 0 || lo < 0 || (hi == 0 && lo == 0)) {
            free(o);
            *bad = 1;
            return NULL;
        }
        *w++ = (char)(hi * 16 + lo);
        i += 2;
    }
    *w = '\0';
    return o;
}

static int cmp_names(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

void vp_list_free(char **names, size_t n)
{
    if (names == NULL)
        return;
    for (size_t i = 0; i < n; i++)
        free(names[i]);
    free(names);
}

static int usage_error(vp_error *err, const char *uri, const char *what)
{
    return vp__err_set(err, NULL, VP_EINVAL,
                       "cannot list '%.200s': %s (expected SCHEME://[CREDENTIAL@]PREFIX, e.g. "
                       "aws://prod@app/)",
                       uri, what);
}

int vp_list(vp_ctx *ctx, const char *uri, uint32_t timeout_ms, char ***names, size_t *n,
            vp_error *err)
{
    vp_error_clear(err);
    *names = NULL;
    *n = 0;
    if (strnlen(uri, LIST_URI_MAX + 1) > LIST_URI_MAX)
        return usage_error(err, "", "the URI is longer than 4096 bytes");
    const char *sep = strstr(uri, "://");
    if (sep == NULL || sep == uri || (size_t)(sep - uri) > 64)
        return usage_error(err, uri, "no scheme");
    char scheme[65];
    memcpy(scheme, uri, (size_t)(sep - uri));
    scheme[sep - uri] = '\0';
    const char *rest = sep + 3;
    if (strpbrk(rest, "?#") != NULL)
        return usage_error(err, uri, "a list prefix takes no ?parameters or #key");
    char cred[65] = "";
    size_t cn = strcspn(rest, "@/");
    if (rest[cn] == '@') {
        if (cn == 0 || cn > 64)
            return usage_error(err, uri, "bad credential name");
        memcpy(cred, rest, cn);
        cred[cn] = '\0';
        if (!vp__cred_name_valid(cred))
            return usage_error(err, uri, "bad credential name (must match [A-Za-z0-9_.-]{1,64})");
        rest += cn + 1;
    }
    int bad = 0;
    char *prefix = pct_decode(rest, &bad);
    if (prefix == NULL)
        return bad ? usage_error(err, uri, "malformed %-escape in the prefix")
                   : vp__err_set(err, NULL, VP_ENOMEM, NULL);

    const vp__provider *p = vp__ctx_find_scheme(ctx, scheme);
    if (p == NULL || p->info.state != VP_PROVIDER_LOADED) {
        free(prefix);
        return vp__ctx_scheme_error(ctx, scheme, p, err);
    }
    if (!(p->table->caps & VP_CAP_LIST) || p->table->list == NULL) {
        free(prefix);
        return vp__err_set(err, NULL, VP_ENOTSUP,
                           "provider %s cannot list secrets (it does not declare the list "
                           "capability; see `vaultplug providers`); fetch secrets by name instead",
                           p->name);
    }

    /* On a runner thread with the call's deadline, like a fetch, or in the provider's helper
     * process when providers are isolated (isolate_providers). */
    vp_host_ctx *hc = (vp_host_ctx *)&p->hc;
    vp_call call;
    vp__call_init(&call, hc, timeout_ms ? timeout_ms : ctx->default_timeout_ms);
    vp_list_out lo;
    vp__list_out_init(&lo);
    int rc = vp__list_raw(ctx, p, cred, prefix, call.deadline_ms, &lo, err);
    free(prefix);
    if (rc != 0) {
        vp__list_out_clear(&lo);
        return rc;
    }

    /* Sorted, without duplicates or empty names (a store paging under concurrent writes may
     * repeat an entry at a page boundary). */
    if (lo.n > 1)
        qsort(lo.names, lo.n, sizeof(*lo.names), cmp_names);
    size_t w = 0;
    for (size_t i = 0; i < lo.n; i++) {
        if (lo.names[i][0] == '\0' || (w > 0 && strcmp(lo.names[w - 1], lo.names[i]) == 0)) {
            free(lo.names[i]);
            continue;
        }
        lo.names[w++] = lo.names[i];
    }
    if (w == 0) {
        free(lo.names);
    } else {
        *names = lo.names;
        *n = w;
    }
    return 0;
}
