/*
 * test_hashicorp_parse - the hashicorp provider's response parsers (hc_parse.c) with the host's
 * real JSON services: status mapping of Vault and grpc-gateway errors, every KV/HCP body shape,
 * malformed and hostile bodies, and messages that never carry a secret value.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "hc.h"
#include "host.h"
#include "secmem.h"

static const vp_host *H;

static int setup(void **state)
{
    (void)state;
    if (vp__secmem_init() != 0)
        return -1;
    H = vp__host_table();
    return 0;
}

static int verr(long status, const char *body, hc_err *e)
{
    memset(e, 0, sizeof(*e));
    return hc_vault_error(H, status, body, body ? strlen(body) : 0, "secret/x", e);
}

static void t_vault_errors(void **state)
{
    (void)state;
    hc_err e;
    assert_int_equal(verr(400, "{\"errors\":[\"bad\"]}", &e), VP_EINVAL);
    assert_int_equal(
        verr(403, "{\"errors\":[\"1 error occurred:\\n\\t* permission denied\\n\\n\"]}", &e),
        VP_EPERM);
    assert_non_null(strstr(e.msg, "1 error occurred: * permission denied"));
    assert_null(strchr(e.msg, '\n'));
    assert_int_equal(verr(404, "{\"errors\":[]}", &e), VP_ENOTFOUND);
    assert_int_equal(verr(405, NULL, &e), VP_ENOTSUP);
    assert_int_equal(verr(412, "{\"errors\":[\"x\"]}", &e), VP_EUNAVAIL);
    assert_int_equal(verr(429, "<html>", &e), VP_ERATELIMIT);
    assert_int_equal(verr(503, "{\"errors\":[\"Vault is sealed\"]}", &e), VP_EUNAVAIL);
    assert_non_null(strstr(e.msg, "sealed"));
    assert_int_equal(verr(472, "", &e), VP_EUNAVAIL);
    assert_int_equal(verr(500, "{}", &e), VP_EUNAVAIL);
    assert_int_equal(verr(501, "{}", &e), VP_ENOTSUP);
    assert_int_equal(verr(302, "{}", &e), VP_EPROTO);
    /* a very long error message is capped */
    char big[4096] = "{\"errors\":[\"";
    memset(big + strlen(big), 'A', 3000);
    strcpy(big + 12 + 3000, "\"]}");
    assert_int_equal(verr(400, big, &e), VP_EINVAL);
    assert_true(strlen(e.msg) < HC_MSG_MAX);
    /* folded spaces at every offset near the end of the buffer (found by fuzz_hashicorp) */
    for (size_t n = 1; n < 8; n++) {
        char pat[2048] = "{\"errors\":[\"";
        size_t k = strlen(pat);
        for (size_t i = 0; i < 1500; i++)
            pat[k++] = (i % (n + 1)) == n ? ' ' : 'B';
        strcpy(pat + k, "\"]}");
        assert_int_equal(verr(400, pat, &e), VP_EINVAL);
        assert_true(strlen(e.msg) < HC_MSG_MAX);
        char small[8];
        for (size_t cap = 1; cap <= sizeof(small); cap++) {
            hc_clean_msg(small, cap, pat + 12, 40);
            assert_true(strlen(small) < cap);
        }
    }
}

static int kv(int ver, long status, const char *body, const char *key, hc_kv_result *r, hc_err *e)
{
    memset(e, 0, sizeof(*e));
    return hc_parse_kv(H, ver, status, body, strlen(body), "secret/x", key, r, e);
}

static void t_kv(void **state)
{
    (void)state;
    hc_kv_result r;
    hc_err e;
    const char *v2 = "{\"data\":{\"data\":{\"pw\":\"s3cr3t-value\",\"n\":5,\"o\":{\"a\":[1]}},"
                     "\"metadata\":{\"version\":7,\"destroyed\":false,\"deletion_time\":\"\"}}}";
    assert_int_equal(kv(2, 200, v2, "pw", &r, &e), 0);
    assert_string_equal(r.value, "s3cr3t-value");
    assert_string_equal(r.version, "7");
    H->secure_free(r.value);
    assert_int_equal(kv(2, 200, v2, "o", &r, &e), 0);
    assert_string_equal(r.value, "{\"a\":[1]}");
    H->secure_free(r.value);
    assert_int_equal(kv(2, 200, v2, NULL, &r, &e), 0);
    assert_string_equal(r.value, "{\"pw\":\"s3cr3t-value\",\"n\":5,\"o\":{\"a\":[1]}}");
    H->secure_free(r.value);
    assert_int_equal(kv(2, 200, v2, "missing", &r, &e), VP_ENOTFOUND);
    assert_null(strstr(e.msg, "s3cr3t"));
    /* v1 with lease */
    assert_int_equal(
        kv(1, 200, "{\"lease_duration\":3600,\"data\":{\"k\":\"v1-value\"}}", "k", &r, &e), 0);
    assert_string_equal(r.value, "v1-value");
    assert_int_equal(r.ttl_s, 3600);
    H->secure_free(r.value);
    /* deleted / destroyed / plain 404 */
    assert_int_equal(kv(2, 404,
                        "{\"data\":{\"data\":null,\"metadata\":{\"version\":2,\"destroyed\":false,"
                        "\"deletion_time\":\"2024-02-01T00:00:00Z\"}}}",
                        NULL, &r, &e),
                     VP_ENOTFOUND);
    assert_non_null(strstr(e.msg, "deleted"));
    assert_int_equal(kv(2, 404,
                        "{\"data\":{\"data\":null,\"metadata\":{\"version\":3,\"destroyed\":true,"
                        "\"deletion_time\":\"\"}}}",
                        NULL, &r, &e),
                     VP_ENOTFOUND);
    assert_non_null(strstr(e.msg, "destroyed"));
    assert_int_equal(kv(2, 404, "{\"errors\":[]}", NULL, &r, &e), VP_ENOTFOUND);
    assert_int_equal(kv(1, 404, "", NULL, &r, &e), VP_ENOTFOUND);
    assert_int_equal(kv(1, 404,
                        "{\"errors\":[],\"warnings\":[\"Invalid path for a versioned K/V "
                        "secrets engine. See the API docs.\"]}",
                        NULL, &r, &e),
                     VP_ENOTFOUND);
    assert_non_null(strstr(e.msg, "KV version 2"));
    /* 200 with data null (deleted but answered 200 by an older server) */
    assert_int_equal(
        kv(2, 200, "{\"data\":{\"data\":null,\"metadata\":{\"version\":1}}}", NULL, &r, &e),
        VP_ENOTFOUND);
    /* malformed */
    assert_int_equal(kv(2, 200, "not json", NULL, &r, &e), VP_EPROTO);
    assert_int_equal(kv(2, 200, "{\"data\":[1,2]}", NULL, &r, &e), VP_EPROTO);
    assert_int_equal(kv(1, 200, "{\"data\":\"str\"}", NULL, &r, &e), VP_EPROTO);
    assert_int_equal(kv(1, 200, "", NULL, &r, &e), VP_EPROTO);
    assert_int_equal(kv(1, 403, "{\"errors\":[\"permission denied\"]}", NULL, &r, &e), VP_EPERM);
}

static void t_mount(void **state)
{
    (void)state;
    char *m = NULL;
    int v = 0;
    hc_err e = {0};
    const char *b2 = "{\"data\":{\"path\":\"secret/\",\"type\":\"kv\",\"options\":{\"version\":"
                     "\"2\"}}}";
    assert_int_equal(hc_parse_mount(H, 200, b2, strlen(b2), "secret/x", &m, &v, &e), 0);
    assert_string_equal(m, "secret/");
    assert_int_equal(v, 2);
    H->free(m);
    const char *b1 = "{\"data\":{\"path\":\"kv\",\"type\":\"kv\",\"options\":null}}";
    assert_int_equal(hc_parse_mount(H, 200, b1, strlen(b1), "kv/x", &m, &v, &e), 0);
    assert_string_equal(m, "kv/");
    assert_int_equal(v, 1);
    H->free(m);
    const char *bp = "{\"data\":{\"path\":\"pki/\",\"type\":\"pki\"}}";
    assert_int_equal(hc_parse_mount(H, 200, bp, strlen(bp), "pki/x", &m, &v, &e), VP_ENOTSUP);
    const char *bn = "{\"data\":{\"type\":\"kv\"}}";
    assert_int_equal(hc_parse_mount(H, 200, bn, strlen(bn), "kv/x", &m, &v, &e), VP_EPROTO);
    assert_int_equal(hc_parse_mount(H, 403, "{}", 2, "kv/x", &m, &v, &e), VP_EPERM);
    assert_null(m);
}

static void t_auth(void **state)
{
    (void)state;
    char *tok = NULL;
    int64_t ttl = 0;
    int ren = 0;
    hc_err e = {0};
    const char *login = "{\"auth\":{\"client_token\":\"hvs.abc\",\"lease_duration\":1200,"
                        "\"renewable\":true}}";
    assert_int_equal(hc_parse_auth(H, 0, 200, login, strlen(login), 1, &tok, &ttl, &ren, &e), 0);
    assert_string_equal(tok, "hvs.abc");
    assert_int_equal(ttl, 1200);
    assert_int_equal(ren, 1);
    H->secure_free(tok);
    const char *look = "{\"data\":{\"id\":\"hvs.abc\",\"ttl\":0,\"renewable\":false}}";
    assert_int_equal(hc_parse_auth(H, 1, 200, look, strlen(look), 0, NULL, &ttl, &ren, &e), 0);
    assert_int_equal(ttl, 0);
    assert_int_equal(ren, 0);
    assert_int_equal(hc_parse_auth(H, 0, 200, "{\"auth\":null}", 13, 1, &tok, &ttl, &ren, &e),
                     VP_EPROTO);
    assert_int_equal(hc_parse_auth(H, 0, 200, "{\"auth\":{}}", 11, 1, &tok, &ttl, &ren, &e),
                     VP_EPROTO);
    assert_null(tok);
    assert_int_equal(hc_parse_auth(H, 0, 400, "{\"errors\":[\"invalid role or secret ID\"]}", 41, 1,
                                   &tok, &ttl, &ren, &e),
                     VP_EINVAL);
}

static void t_hcp(void **state)
{
    (void)state;
    hc_kv_result r;
    hc_err e = {0};
    char *tok = NULL;
    int64_t ex = 0;
    const char *t = "{\"access_token\":\"eyJ.x.y\",\"expires_in\":3600,\"token_type\":\"Bearer\"}";
    assert_int_equal(hc_parse_hcp_token(H, 200, t, strlen(t), &tok, &ex, &e), 0);
    assert_string_equal(tok, "eyJ.x.y");
    assert_int_equal(ex, 3600);
    H->secure_free(tok);
    const char *deny = "{\"error\":\"access_denied\",\"error_description\":\"Unauthorized\"}";
    assert_int_equal(hc_parse_hcp_token(H, 401, deny, strlen(deny), &tok, &ex, &e), VP_EAUTH);
    assert_int_equal(hc_parse_hcp_token(H, 200, "{}", 2, &tok, &ex, &e), VP_EPROTO);

    const char *wrapped = "{\"secret\":{\"name\":\"a\",\"type\":\"kv\",\"static_version\":"
                          "{\"version\":2,\"value\":\"s3cr3t\"}}}";
    assert_int_equal(hc_parse_hcp_secret(H, 200, wrapped, strlen(wrapped), "w", NULL, &r, &e), 0);
    assert_string_equal(r.value, "s3cr3t");
    assert_string_equal(r.version, "2");
    H->secure_free(r.value);
    const char *bare = "{\"type\":\"kv\",\"static_version\":{\"version\":1,\"value\":\"v1\"}}";
    assert_int_equal(hc_parse_hcp_secret(H, 200, bare, strlen(bare), "w", NULL, &r, &e), 0);
    assert_string_equal(r.value, "v1");
    H->secure_free(r.value);
    const char *rot = "{\"secret\":{\"type\":\"rotating\",\"rotating_version\":{\"version\":3,"
                      "\"values\":{\"k\":\"rv\"}}}}";
    assert_int_equal(hc_parse_hcp_secret(H, 200, rot, strlen(rot), "w", "k", &r, &e), 0);
    assert_string_equal(r.value, "rv");
    assert_string_equal(r.version, "3");
    H->secure_free(r.value);
    const char *dyn = "{\"secret\":{\"type\":\"dynamic\",\"dynamic_instance\":{\"values\":"
                      "{\"a\":\"b\"}}}}";
    assert_int_equal(hc_parse_hcp_secret(H, 200, dyn, strlen(dyn), "w", NULL, &r, &e), 0);
    assert_string_equal(r.value, "{\"a\":\"b\"}");
    H->secure_free(r.value);
    const char *old = "{\"secret\":{\"name\":\"a\",\"version\":{\"version\":4,\"type\":\"kv\","
                      "\"value\":\"old\"}}}";
    assert_int_equal(hc_parse_hcp_secret(H, 200, old, strlen(old), "w", NULL, &r, &e), 0);
    assert_string_equal(r.value, "old");
    H->secure_free(r.value);
    assert_int_equal(hc_parse_hcp_secret(H, 200, "{\"secret\":{}}", 13, "w", NULL, &r, &e),
                     VP_EPROTO);
    assert_int_equal(hc_parse_hcp_secret(H, 200, wrapped, strlen(wrapped), "w", "k", &r, &e),
                     VP_EINVAL);
    assert_null(strstr(e.msg, "s3cr3t"));
    struct {
        long st;
        const char *body;
        int want;
    } errs[] = {{404, "{\"code\":5,\"message\":\"secret not found\",\"details\":[]}", VP_ENOTFOUND},
                {403, "{\"code\":7,\"message\":\"denied\"}", VP_EPERM},
                {401, "{\"code\":16,\"message\":\"unauth\"}", VP_EAUTH},
                {429, "{\"code\":8,\"message\":\"max versions\"}", VP_ERATELIMIT},
                {400, "{\"code\":3,\"message\":\"bad\"}", VP_EINVAL},
                {503, "{\"code\":14}", VP_EUNAVAIL},
                {500, "{\"code\":13}", VP_EUNAVAIL},
                {418, "<html>", VP_EPROTO}};
    for (size_t i = 0; i < sizeof(errs) / sizeof(errs[0]); i++)
        assert_int_equal(hc_parse_hcp_secret(H, errs[i].st, errs[i].body, strlen(errs[i].body), "w",
                                             NULL, &r, &e),
                         errs[i].want);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(t_vault_errors), cmocka_unit_test(t_kv),  cmocka_unit_test(t_mount),
        cmocka_unit_test(t_auth),         cmocka_unit_test(t_hcp),
    };
    return cmocka_run_group_tests_name("hashicorp_parse", tests, setup, NULL);
}
