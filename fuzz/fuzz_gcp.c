/*
 * fuzz_gcp - the gcp provider's parsers on arbitrary input, through the real host table:
 * versions.access responses (base64 payload, CRC32C check, version from `name`), Secret
 * Manager and OAuth error bodies under every status class, token responses, and the
 * secretName forms (every accepted name must build a URL without path tricks).
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "call.h"
#include "gcp.h"
#include "host.h"
#include "secmem.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static const vp_host *H;

static void names(const uint8_t *data, size_t size)
{
    char s[1024];
    if (size >= sizeof(s))
        size = sizeof(s) - 1;
    memcpy(s, data, size);
    s[size] = '\0';
    gcp_name n;
    char why[200];
    if (gcp_name_parse(s, &n, why, sizeof(why)) != 0)
        return;
    if ((n.project[0] && gcp_name_check('p', n.project) != 0) ||
        gcp_name_check('s', n.secret) != 0 ||
        (n.location[0] && gcp_name_check('l', n.location) != 0) ||
        (n.version[0] && gcp_name_check('v', n.version) != 0))
        __builtin_trap(); /* the parser accepted a component the checker refuses */
    if (!n.project[0])
        memcpy(n.project, "p", 2);
    if (!n.version[0])
        memcpy(n.version, "latest", 7);
    char url[GCP_URL_MAX];
    if (gcp_access_url(NULL, &n, url, sizeof(url)) == 0 &&
        (strstr(url, "/./") || strstr(url, "/../") || strchr(url, '?') || strchr(url, '#') ||
         strchr(url, '%') || strchr(url, ' ')))
        __builtin_trap();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (H == NULL) {
        if (vp__secmem_init() != 0)
            abort();
        H = vp__host_table();
    }
    static const long statuses[] = {200, 400, 401, 403, 404, 429, 500, 503, 302, 418};
    const char *body = (const char *)data;
    vp_call call;
    vp__call_init(&call, NULL, 0);

    char *val = NULL, version[64];
    size_t vlen = 0;
    if (gcp_parse_access(H, &call, body, size, "secret s", &val, &vlen, version, sizeof(version)) ==
        0) {
        if (val == NULL || val[vlen] != '\0' || strlen(version) >= sizeof(version))
            __builtin_trap();
        H->secure_free(val);
    } else if (val != NULL) {
        __builtin_trap(); /* a failed parse never hands out a value */
    }

    char *tok = NULL;
    size_t tlen = 0;
    int64_t exp = 0;
    if (gcp_parse_token(H, &call, body, size, "cred", &tok, &tlen, &exp) == 0) {
        if (tok == NULL || tlen == 0 || tok[tlen] != '\0' || exp < 0)
            __builtin_trap();
        H->secure_free(tok);
    } else if (tok != NULL) {
        __builtin_trap();
    }

    long st = statuses[size % (sizeof(statuses) / sizeof(statuses[0]))];
    int rc = gcp_map_error(H, &call, st, size % 2 ? "7" : "Wed, 21 Oct 2015 07:28:00 GMT", body,
                           size, "secret s");
    if (rc >= 0 || call.message[0] == '\0')
        __builtin_trap(); /* every error maps to a status with a message */
    rc = gcp_map_token_error(H, &call, st, "3", body, size, "cred");
    if (rc >= 0)
        __builtin_trap();
    names(data, size);
    return 0;
}
