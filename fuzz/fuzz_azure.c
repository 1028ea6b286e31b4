/*
 * fuzz_azure - the Azure provider's parsers of untrusted input (plugins/azure/az_parse.c) through
 * the real host table: WWW-Authenticate challenges, secret identifiers, Key Vault error and
 * secret bodies, token endpoint bodies, id tokens and redirect query strings. The first byte
 * picks the parser; the rest is its input.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "azure_int.h"
#include "host.h"
#include "secmem.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static const vp_host *H;

static void check_str(const char *s, size_t cap)
{
    if (strnlen(s, cap) >= cap)
        __builtin_trap(); /* every output buffer stays NUL-terminated */
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (H == NULL) {
        if (vp__secmem_init() != 0)
            abort();
        H = vp__host_table();
    }
    if (size < 1 || size > 65536)
        return 0;
    unsigned sel = data[0] % 8;
    const char *in = (const char *)data + 1;
    size_t n = size - 1;
    char *s = malloc(n + 1); /* C-string view for the parsers that take one */
    if (s == NULL)
        return 0;
    memcpy(s, in, n);
    s[n] = '\0';
    switch (sel) {
    case 0: {
        az_challenge c;
        if (az_parse_challenge(H, s, &c) == 0) {
            if (c.tenant[0] == '\0' || c.scope[0] == '\0' || c.resource_host[0] == '\0')
                __builtin_trap();
            check_str(c.scope, sizeof(c.scope));
            (void)az_challenge_domain_ok(&c, "myvault.vault.azure.net");
            (void)az_challenge_domain_ok(&c, "a");
        }
        break;
    }
    case 1:
    case 2: {
        az_secret_id id;
        char why[200];
        if (az_parse_secret_uri(s, sel == 2, &id, why, sizeof(why)) == 0) {
            if (!az_vault_host_ok(id.host) || id.name[0] == '\0')
                __builtin_trap();
            check_str(id.version, sizeof(id.version));
        }
        break;
    }
    case 3: {
        az_kv_error e;
        az_parse_kv_error(H, in, n, &e);
        check_str(e.message, sizeof(e.message));
        break;
    }
    case 4: {
        vp_json *root = NULL;
        const char *v = NULL;
        size_t vl = 0;
        char ver[AZ_VERSION_MAX + 1];
        int64_t exp = 0;
        if (az_parse_secret_bundle(H, in, n, &root, &v, &vl, ver, sizeof(ver), &exp) == 0) {
            if (v == NULL || root == NULL)
                __builtin_trap();
            check_str(ver, sizeof(ver));
        }
        H->json_free(root);
        break;
    }
    case 5: {
        az_token_resp r;
        if (az_parse_token_resp(H, in, n, 1700000000000LL, &r) == 0) {
            if (!r.has_error && (r.access_token == NULL || strlen(r.access_token) != r.access_len))
                __builtin_trap();
            check_str(r.error_desc, sizeof(r.error_desc));
        }
        az_token_resp_clear(H, &r);
        break;
    }
    case 6: {
        char acc[256], tid[AZ_TENANT_MAX];
        az_id_token_claims(H, s, acc, sizeof(acc), tid, sizeof(tid));
        check_str(acc, sizeof(acc));
        break;
    }
    default: {
        char *out = NULL;
        size_t ol = 0;
        if (H->url_query_get(s, strlen(s), "code", &out, &ol) == 0 && strlen(out) > ol)
            __builtin_trap();
        H->secure_free(out);
        out = NULL;
        (void)H->url_query_get(s, strlen(s), "state", &out, NULL);
        H->secure_free(out);
        break;
    }
    }
    free(s);
    return 0;
}
