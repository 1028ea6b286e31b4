/*
 * test_abi_layout - locks the memory layout of plugin ABI 1.0, and what 1.1 appended
 * (sdk/include/vaultplug/provider.h).
 *
 * A provider compiled against one SDK is loaded by hosts built from later sources: every struct
 * that crosses the boundary must keep each field at the same offset forever (a minor release
 * only appends). The expected offsets below are LITERAL NUMBERS on purpose: moving, removing,
 * retyping or inserting a field breaks the build here, and the fix is a new ABI major, never an
 * edit of these numbers. Appending a field in a new minor adds lines (and a new size) below.
 *
 * The numbers are for LP64 targets (x86_64, aarch64): 8-byte pointers, size_t and function
 * pointers, natural alignment. Other targets compile only the runtime checks.
 *
 * Also locked: the numeric status codes (status.h is shared with every provider binary), the
 * capability and flag bits, and the enum values that cross the boundary.
 */
#include <stddef.h>
#include <stdio.h>
#include <string.h>

#include "vaultplug/provider.h"
#include "vaultplug/error.h"

#define VP_ABI_OFF(T, field, off) \
    _Static_assert(offsetof(T, field) == (off), #T "." #field " moved: ABI 1.0 break")
#define VP_ABI_SIZE(T, size) \
    _Static_assert(sizeof(T) == (size), "sizeof(" #T ") changed: ABI 1.0 break")

/* The version this file locks; a new minor adds its own block rather than editing this one. */
_Static_assert(VP_ABI_MAJOR == 1, "this file locks ABI major 1");
_Static_assert(VP_ABI_MINOR >= 1, "this file locks minor 1 too (vp_host 1.1 fields)");

#if defined(__x86_64__) || defined(__aarch64__)
_Static_assert(sizeof(void *) == 8 && sizeof(size_t) == 8, "LP64 expected");

/* vp_abi_hdr */
VP_ABI_OFF(vp_abi_hdr, abi_major, 0);
VP_ABI_OFF(vp_abi_hdr, abi_minor, 2);
VP_ABI_OFF(vp_abi_hdr, struct_size, 4);
VP_ABI_SIZE(vp_abi_hdr, 8);

/* vp_kv */
VP_ABI_OFF(vp_kv, key, 0);
VP_ABI_OFF(vp_kv, value, 8);
VP_ABI_OFF(vp_kv, value_len, 16);
VP_ABI_SIZE(vp_kv, 24);

/* vp_cred */
VP_ABI_OFF(vp_cred, hdr, 0);
VP_ABI_OFF(vp_cred, name, 8);
VP_ABI_OFF(vp_cred, type, 16);
VP_ABI_OFF(vp_cred, fields, 24);
VP_ABI_OFF(vp_cred, n_fields, 32);
VP_ABI_SIZE(vp_cred, 40);

/* vp_ref */
VP_ABI_OFF(vp_ref, hdr, 0);
VP_ABI_OFF(vp_ref, uri, 8);
VP_ABI_OFF(vp_ref, scheme, 16);
VP_ABI_OFF(vp_ref, credential, 24);
VP_ABI_OFF(vp_ref, path, 32);
VP_ABI_OFF(vp_ref, params, 40);
VP_ABI_OFF(vp_ref, n_params, 48);
VP_ABI_OFF(vp_ref, json_key, 56);
VP_ABI_OFF(vp_ref, config, 64);
VP_ABI_SIZE(vp_ref, 72);

/* vp_http_header */
VP_ABI_OFF(vp_http_header, name, 0);
VP_ABI_OFF(vp_http_header, value, 8);
VP_ABI_OFF(vp_http_header, flags, 16);
VP_ABI_SIZE(vp_http_header, 24);

/* vp_http_request */
VP_ABI_OFF(vp_http_request, hdr, 0);
VP_ABI_OFF(vp_http_request, method, 8);
VP_ABI_OFF(vp_http_request, url, 16);
VP_ABI_OFF(vp_http_request, headers, 24);
VP_ABI_OFF(vp_http_request, n_headers, 32);
VP_ABI_OFF(vp_http_request, body, 40);
VP_ABI_OFF(vp_http_request, body_len, 48);
VP_ABI_OFF(vp_http_request, flags, 56);
VP_ABI_OFF(vp_http_request, timeout_ms, 60);
VP_ABI_OFF(vp_http_request, max_response, 64);
VP_ABI_OFF(vp_http_request, ca_file, 72);
VP_ABI_OFF(vp_http_request, ca_path, 80);
VP_ABI_SIZE(vp_http_request, 88);

/* vp_host */
VP_ABI_OFF(vp_host, hdr, 0);
VP_ABI_OFF(vp_host, malloc, 8);
VP_ABI_OFF(vp_host, calloc, 16);
VP_ABI_OFF(vp_host, realloc, 24);
VP_ABI_OFF(vp_host, free, 32);
VP_ABI_OFF(vp_host, strdup, 40);
VP_ABI_OFF(vp_host, secure_malloc, 48);
VP_ABI_OFF(vp_host, secure_free, 56);
VP_ABI_OFF(vp_host, secure_strdup, 64);
VP_ABI_OFF(vp_host, memzero, 72);
VP_ABI_OFF(vp_host, memcmp_ct, 80);
VP_ABI_OFF(vp_host, log, 88);
VP_ABI_OFF(vp_host, mask, 96);
VP_ABI_OFF(vp_host, unmask, 104);
VP_ABI_OFF(vp_host, fail, 112);
VP_ABI_OFF(vp_host, call_remaining_ms, 120);
VP_ABI_OFF(vp_host, call_canceled, 128);
VP_ABI_OFF(vp_host, call_set_retry_after, 136);
VP_ABI_OFF(vp_host, call_host_ctx, 144);
VP_ABI_OFF(vp_host, http, 152);
VP_ABI_OFF(vp_host, http_status, 160);
VP_ABI_OFF(vp_host, http_header, 168);
VP_ABI_OFF(vp_host, http_body, 176);
VP_ABI_OFF(vp_host, http_free, 184);
VP_ABI_OFF(vp_host, json_parse, 192);
VP_ABI_OFF(vp_host, json_free, 200);
VP_ABI_OFF(vp_host, json_type, 208);
VP_ABI_OFF(vp_host, json_get, 216);
VP_ABI_OFF(vp_host, json_path, 224);
VP_ABI_OFF(vp_host, json_string, 232);
VP_ABI_OFF(vp_host, json_int, 240);
VP_ABI_OFF(vp_host, json_double, 248);
VP_ABI_OFF(vp_host, json_bool, 256);
VP_ABI_OFF(vp_host, json_len, 264);
VP_ABI_OFF(vp_host, json_at, 272);
VP_ABI_OFF(vp_host, json_foreach, 280);
VP_ABI_OFF(vp_host, json_new_object, 288);
VP_ABI_OFF(vp_host, json_new_array, 296);
VP_ABI_OFF(vp_host, json_new_string, 304);
VP_ABI_OFF(vp_host, json_new_int, 312);
VP_ABI_OFF(vp_host, json_new_bool, 320);
VP_ABI_OFF(vp_host, json_set, 328);
VP_ABI_OFF(vp_host, json_append, 336);
VP_ABI_OFF(vp_host, json_dump, 344);
VP_ABI_OFF(vp_host, sha256, 352);
VP_ABI_OFF(vp_host, hmac_sha256, 360);
VP_ABI_OFF(vp_host, sha1, 368);
VP_ABI_OFF(vp_host, sign_rs256, 376);
VP_ABI_OFF(vp_host, b64_encoded_len, 384);
VP_ABI_OFF(vp_host, b64_encode, 392);
VP_ABI_OFF(vp_host, b64_decode, 400);
VP_ABI_OFF(vp_host, hex_encode, 408);
VP_ABI_OFF(vp_host, hex_decode, 416);
VP_ABI_OFF(vp_host, crc32c, 424);
VP_ABI_OFF(vp_host, random, 432);
VP_ABI_OFF(vp_host, now_unix_ms, 440);
VP_ABI_OFF(vp_host, monotonic_ms, 448);
VP_ABI_OFF(vp_host, getenv, 456);
VP_ABI_OFF(vp_host, read_file, 464);
VP_ABI_OFF(vp_host, secret_set, 472);
VP_ABI_OFF(vp_host, secret_set_ttl, 480);
VP_ABI_OFF(vp_host, secret_set_version, 488);
VP_ABI_OFF(vp_host, secret_set_expiry, 496);
VP_ABI_OFF(vp_host, secret_fail, 504);
VP_ABI_OFF(vp_host, list_add, 512);
VP_ABI_OFF(vp_host, cred_out_type, 520);
VP_ABI_OFF(vp_host, cred_out_field, 528);
VP_ABI_OFF(vp_host, cred_update, 536);
VP_ABI_OFF(vp_host, open_url, 544);
VP_ABI_OFF(vp_host, notify, 552);
/* ABI 1.1: appended to vp_host (1.0 ended at 560, the size a 1.0 host table reports). */
VP_ABI_OFF(vp_host, sb_new, 560);
VP_ABI_OFF(vp_host, sb_append, 568);
VP_ABI_OFF(vp_host, sb_append_str, 576);
VP_ABI_OFF(vp_host, sb_printf, 584);
VP_ABI_OFF(vp_host, sb_append_enc, 592);
VP_ABI_OFF(vp_host, sb_append_param, 600);
VP_ABI_OFF(vp_host, sb_data, 608);
VP_ABI_OFF(vp_host, sb_status, 616);
VP_ABI_OFF(vp_host, sb_reset, 624);
VP_ABI_OFF(vp_host, sb_free, 632);
VP_ABI_OFF(vp_host, url_decode, 640);
VP_ABI_OFF(vp_host, url_parse, 648);
VP_ABI_OFF(vp_host, url_get, 656);
VP_ABI_OFF(vp_host, url_port, 664);
VP_ABI_OFF(vp_host, url_free, 672);
VP_ABI_OFF(vp_host, url_query_get, 680);
VP_ABI_OFF(vp_host, time_parse, 688);
VP_ABI_OFF(vp_host, http_retry_after_ms, 696);
VP_ABI_OFF(vp_host, json_new_double, 704);
VP_ABI_OFF(vp_host, loopback_listen, 712);
VP_ABI_OFF(vp_host, loopback_wait, 720);
VP_ABI_OFF(vp_host, loopback_close, 728);
VP_ABI_SIZE(vp_host, 736);

/* vp_cred_field */
VP_ABI_OFF(vp_cred_field, name, 0);
VP_ABI_OFF(vp_cred_field, flags, 8);
VP_ABI_OFF(vp_cred_field, description, 16);
VP_ABI_SIZE(vp_cred_field, 24);

/* vp_cred_type */
VP_ABI_OFF(vp_cred_type, name, 0);
VP_ABI_OFF(vp_cred_type, description, 8);
VP_ABI_OFF(vp_cred_type, fields, 16);
VP_ABI_SIZE(vp_cred_type, 24);

/* vp_provider */
VP_ABI_OFF(vp_provider, hdr, 0);
VP_ABI_OFF(vp_provider, name, 8);
VP_ABI_OFF(vp_provider, version, 16);
VP_ABI_OFF(vp_provider, description, 24);
VP_ABI_OFF(vp_provider, schemes, 32);
VP_ABI_OFF(vp_provider, caps, 40);
VP_ABI_OFF(vp_provider, cred_types, 48);
VP_ABI_OFF(vp_provider, init, 56);
VP_ABI_OFF(vp_provider, configure, 64);
VP_ABI_OFF(vp_provider, fetch, 72);
VP_ABI_OFF(vp_provider, fetch_batch, 80);
VP_ABI_OFF(vp_provider, list, 88);
VP_ABI_OFF(vp_provider, login, 96);
VP_ABI_OFF(vp_provider, validate, 104);
VP_ABI_OFF(vp_provider, destroy, 112);
VP_ABI_OFF(vp_provider, teardown, 120);
VP_ABI_SIZE(vp_provider, 128);

#endif /* LP64 */

/* Status codes: part of the ABI, a code keeps its value forever (status.h). */
_Static_assert(VP_OK == 0, "VP_OK");
_Static_assert(VP_EINVAL == -1, "VP_EINVAL");
_Static_assert(VP_ENOMEM == -2, "VP_ENOMEM");
_Static_assert(VP_ENOTFOUND == -3, "VP_ENOTFOUND");
_Static_assert(VP_EAUTH == -4, "VP_EAUTH");
_Static_assert(VP_EPERM == -5, "VP_EPERM");
_Static_assert(VP_ENETWORK == -6, "VP_ENETWORK");
_Static_assert(VP_ETIMEDOUT == -7, "VP_ETIMEDOUT");
_Static_assert(VP_ERATELIMIT == -8, "VP_ERATELIMIT");
_Static_assert(VP_EUNAVAIL == -9, "VP_EUNAVAIL");
_Static_assert(VP_EPROTO == -10, "VP_EPROTO");
_Static_assert(VP_ENOTSUP == -11, "VP_ENOTSUP");
_Static_assert(VP_EABI == -12, "VP_EABI");
_Static_assert(VP_ECANCELED == -13, "VP_ECANCELED");
_Static_assert(VP_EINTERNAL == -14, "VP_EINTERNAL");
_Static_assert(VP_EEXIST == -15, "VP_EEXIST");
_Static_assert(VP_EIO == -16, "VP_EIO");
_Static_assert(VP_ELIMIT == -17, "VP_ELIMIT");
_Static_assert(VP__STATUS_MIN == -17, "VP__STATUS_MIN must be the lowest code");

/* Capability and flag bits. */
_Static_assert(VP_CAP_THREADSAFE == 0x1u, "VP_CAP_THREADSAFE");
_Static_assert(VP_CAP_LIST == 0x2u, "VP_CAP_LIST");
_Static_assert(VP_CAP_BATCH == 0x4u, "VP_CAP_BATCH");
_Static_assert(VP_CAP_INTERACTIVE_LOGIN == 0x8u, "VP_CAP_INTERACTIVE_LOGIN");
_Static_assert(VP_CAP_KNOWN_MASK_1_0 == 0xFu, "VP_CAP_KNOWN_MASK_1_0");
_Static_assert(VP_HTTP_HDR_SECRET == 0x1u, "VP_HTTP_HDR_SECRET");
_Static_assert(VP_HTTP_BODY_SECRET == 0x1u, "VP_HTTP_BODY_SECRET");
_Static_assert(VP_HTTP_FOLLOW_REDIRECTS == 0x2u, "VP_HTTP_FOLLOW_REDIRECTS");
_Static_assert(VP_HTTP_INSECURE_SKIP_VERIFY == 0x4u, "VP_HTTP_INSECURE_SKIP_VERIFY");
_Static_assert(VP_FIELD_SECRET == 0x1u, "VP_FIELD_SECRET");
_Static_assert(VP_FIELD_REQUIRED == 0x2u, "VP_FIELD_REQUIRED");
/* ABI 1.1 flags and enums. */
_Static_assert(VP_SB_SECURE == 0x1u, "VP_SB_SECURE");
_Static_assert(VP_ENC_KEEP_SLASH == 0x1u && VP_ENC_FORM == 0x2u, "VP_ENC_*");
_Static_assert(VP_URL_HTTP_ONLY == 0x1u, "VP_URL_HTTP_ONLY");
_Static_assert(VP_TIME_RFC3339 == 0x1u && VP_TIME_HTTP == 0x2u && VP_TIME_LENIENT == 0x4u,
               "VP_TIME_*");
_Static_assert(VP_URL_SCHEME == 0 && VP_URL_USER == 1 && VP_URL_PASSWORD == 2 && VP_URL_HOST == 3 &&
                   VP_URL_PORT == 4 && VP_URL_PATH == 5 && VP_URL_QUERY == 6 &&
                   VP_URL_FRAGMENT == 7,
               "vp_url_part");

/* Enums passed across the boundary. */
_Static_assert(VP_JSON_NULL == 0 && VP_JSON_BOOL == 1 && VP_JSON_INT == 2 && VP_JSON_DOUBLE == 3 &&
                   VP_JSON_STRING == 4 && VP_JSON_ARRAY == 5 && VP_JSON_OBJECT == 6 &&
                   VP_JSON_ABSENT == -1,
               "vp_json_type");
_Static_assert(VP_LOG_ERROR == 0 && VP_LOG_WARN == 1 && VP_LOG_INFO == 2 && VP_LOG_DEBUG == 3 &&
                   VP_LOG_TRACE == 4,
               "vp_log_level");
_Static_assert(VP_B64_STD == 1 && VP_B64_STD_NOPAD == 3 && VP_B64_URL == 5 && VP_B64_URL_NOPAD == 7,
               "vp_b64_variant (libsodium's values)");
_Static_assert(sizeof(vp_json_type) == sizeof(int) && sizeof(vp_log_level) == sizeof(int),
               "enums passed by value must stay int-sized");

/* ---------------------------------------------------------------------------------------------
 * Runtime checks: what cannot be a constant expression.
 * ------------------------------------------------------------------------------------------- */
static int failures;

#define EXPECT(cond)                                                            \
    do {                                                                        \
        if (!(cond)) {                                                          \
            fprintf(stderr, "%s:%d: expected %s\n", __FILE__, __LINE__, #cond); \
            failures++;                                                         \
        }                                                                       \
    } while (0)

/* VP_HAS must accept a field only when the writer's struct_size covers all of it: the rule that
 * lets an old provider's short table be read by a newer host. */
static void test_vp_has(void)
{
    vp_ref full = {VP_ABI_HDR(vp_ref), NULL, NULL, NULL, NULL, NULL, 0, NULL, NULL};
    EXPECT(full.hdr.abi_major == 1 && full.hdr.struct_size == sizeof(vp_ref));
    EXPECT(VP_HAS(vp_ref, &full, config));

    vp_ref short_ref = full;
    short_ref.hdr.struct_size = (uint32_t)offsetof(vp_ref, config); /* a writer without config */
    EXPECT(VP_HAS(vp_ref, &short_ref, json_key));
    EXPECT(!VP_HAS(vp_ref, &short_ref, config));
    short_ref.hdr.struct_size = (uint32_t)(offsetof(vp_ref, config) + 4); /* half a pointer */
    EXPECT(!VP_HAS(vp_ref, &short_ref, config));
    const vp_ref *none = NULL;
    EXPECT(!VP_HAS(vp_ref, none, uri));
}

/* The library's names and messages come from the same X-macro list as the enum: each code has
 * its own name "VP_<NAME>", and the list is dense from 0 down to VP__STATUS_MIN. */
static void test_status_table(void)
{
    int seen = 0;
#define CHECK_STATUS(name, value, retryable, msg)         \
    EXPECT(VP_##name == (value));                         \
    EXPECT(strcmp(vp_err_name(value), "VP_" #name) == 0); \
    EXPECT(strcmp(vp_strerror(value), msg) == 0);         \
    EXPECT(!!vp_status_retryable(value) == (retryable));  \
    EXPECT(-(value) == seen);                             \
    seen++;
    VP_STATUS_LIST(CHECK_STATUS)
#undef CHECK_STATUS
    EXPECT(seen == 1 - VP__STATUS_MIN);
    EXPECT(strcmp(vp_err_name(VP__STATUS_MIN - 1), "VP_EUNKNOWN") == 0);
    EXPECT(vp_status_normalize(VP__STATUS_MIN - 1) == VP_EINTERNAL);
    EXPECT(vp_status_normalize(1) == VP_EINTERNAL);
}

int main(void)
{
    test_vp_has();
    test_status_table();
#if defined(__x86_64__) || defined(__aarch64__)
    puts("ABI 1.0 and 1.1 layout locked for LP64 (compile-time checks passed)");
#else
    puts("ABI 1.0 layout: no literal offsets for this target; runtime checks only");
#endif
    if (failures != 0) {
        fprintf(stderr, "%d check(s) failed\n", failures);
        return 1;
    }
    puts("all runtime checks passed");
    return 0;
}
