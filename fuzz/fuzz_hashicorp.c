/*
 * fuzz_hashicorp - the hashicorp provider's response parsers on arbitrary input. Byte 0 picks
 * the parser and byte 1 the HTTP status; the rest is the body. Invariants: a success yields a
 * NUL-terminated value of the reported length, a failure a NUL-terminated message within
 * bounds, and nothing leaks (ASan/LSan).
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "hc.h"
#include "host.h"
#include "secmem.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static const vp_host *H;

static const long STATUSES[] = {200, 204, 400, 401, 403, 404, 405, 412,
                                429, 472, 500, 501, 502, 503, 302, 418};

static void check_msg(const hc_err *e)
{
    if (memchr(e->msg, '\0', sizeof(e->msg)) == NULL)
        __builtin_trap();
}

static void check_value(const hc_kv_result *r)
{
    if (r->value == NULL || r->value[r->len] != '\0')
        __builtin_trap();
    if (memchr(r->version, '\0', sizeof(r->version)) == NULL)
        __builtin_trap();
    H->secure_free(r->value);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (H == NULL) {
        if (vp__secmem_init() != 0)
            abort();
        H = vp__host_table();
    }
    if (size < 2)
        return 0;
    unsigned sel = data[0] % 9;
    long status = STATUSES[data[1] % (sizeof(STATUSES) / sizeof(STATUSES[0]))];
    const char *body = (const char *)data + 2;
    size_t len = size - 2;
    const char *key = (data[0] & 0x80) ? "password" : NULL;
    hc_err e;
    memset(&e, 0, sizeof(e));
    hc_kv_result r;
    char *s = NULL;
    int64_t n = 0;
    int b = 0, v = 0;
    int rc;
    switch (sel) {
    case 0:
    case 1:
        rc = hc_parse_kv(H, (int)sel + 1, status, body, len, "secret/x", key, &r, &e);
        if (rc == 0)
            check_value(&r);
        break;
    case 2:
        rc = hc_parse_mount(H, status, body, len, "secret/x", &s, &v, &e);
        if (rc == 0 && (s == NULL || s[strlen(s) - 1] != '/' || (v != 1 && v != 2)))
            __builtin_trap();
        H->free(s);
        break;
    case 3:
    case 4:
        rc = hc_parse_auth(H, (int)sel - 3, status, body, len, sel == 3, &s, &n, &b, &e);
        if (rc == 0 && sel == 3 && s == NULL)
            __builtin_trap();
        H->secure_free(s);
        break;
    case 5:
        rc = hc_parse_hcp_token(H, status, body, len, &s, &n, &e);
        if (rc == 0 && (s == NULL || n < 0))
            __builtin_trap();
        H->secure_free(s);
        break;
    case 6:
        rc = hc_parse_hcp_secret(H, status, body, len, "o/p/a/s", key, &r, &e);
        if (rc == 0)
            check_value(&r);
        break;
    case 7:
        rc = hc_vault_error(H, status, body, len, "secret/x", &e);
        if (rc >= 0)
            __builtin_trap();
        break;
    default:
        rc = hc_hcp_error(H, status, body, len, "o/p/a/s", &e);
        if (rc >= 0)
            __builtin_trap();
        break;
    }
    check_msg(&e);
    return 0;
}
