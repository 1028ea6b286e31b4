/*
 * test_echo_unit - the echo provider against a stub host table, for what the library cannot
 * drive yet or only indirectly: fetch_batch item by item, the three-argument (config) reference
 * form, parameter validation, masking of the token, and the messages.
 *
 * echo.c is included so its static functions and table are reachable; it is built with
 * VP_PROVIDER_STATIC, which names the entry point vaultplug_provider_entry_echo_provider.
 * The stub host records what the provider hands it (values, TTLs, versions, messages, masked
 * values) in plain memory: fine for a test whose "secrets" are fixed strings.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <vaultplug/provider.h>

const vp_provider *vaultplug_provider_entry_echo_provider(uint16_t host_major, uint16_t host_minor);
#include "echo.c"

/* After echo.c: cmocka defines a fail() macro that would clash with host->fail. */
#include <cmocka.h>

/* ---- stub host ------------------------------------------------------------------------------ */

struct vp_host_ctx {
    const char *echo_prefix_env; /* what getenv("ECHO_PREFIX") returns, or NULL */
    char masked[8][128];
    int n_masked;
    char log[4096];
};

struct vp_call {
    int canceled;
    int status;
    char message[512];
};

struct vp_secret_out {
    int set;
    char value[1024];
    size_t len;
    int has_ttl;
    uint32_t ttl;
    char version[128];
    int status;
    char message[512];
};

static void *s_secure_malloc(size_t n)
{
    return malloc(n);
}

static char *s_secure_strdup(const char *s)
{
    return strdup(s);
}

static void s_memzero(void *p, size_t n)
{
    memset(p, 0, n);
}

static void s_log(vp_host_ctx *hc, vp_log_level level, const char *fmt, ...) VP_SDK_PRINTF(3, 4);
static void s_log(vp_host_ctx *hc, vp_log_level level, const char *fmt, ...)
{
    va_list ap;
    size_t n = strlen(hc->log);
    va_start(ap, fmt);
    vsnprintf(hc->log + n, sizeof(hc->log) - n, fmt, ap);
    va_end(ap);
    n = strlen(hc->log);
    if (n + 1 < sizeof(hc->log)) {
        hc->log[n] = '\n';
        hc->log[n + 1] = '\0';
    }
    (void)level;
}

static void s_mask(vp_host_ctx *hc, const void *v, size_t len)
{
    if (hc->n_masked < 8 && len < 128) {
        memcpy(hc->masked[hc->n_masked], v, len);
        hc->masked[hc->n_masked++][len] = '\0';
    }
}

static void s_unmask(vp_host_ctx *hc, const void *v, size_t len)
{
    for (int i = 0; i < hc->n_masked; i++)
        if (strlen(hc->masked[i]) == len && memcmp(hc->masked[i], v, len) == 0) {
            memmove(hc->masked[i], hc->masked[hc->n_masked - 1], sizeof(hc->masked[i]));
            hc->n_masked--;
            return;
        }
}

static int s_fail(vp_call *call, int status, const char *fmt, ...) VP_SDK_PRINTF(3, 4);
static int s_fail(vp_call *call, int status, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(call->message, sizeof(call->message), fmt, ap);
    va_end(ap);
    call->status = status;
    return status;
}

static int s_call_canceled(const vp_call *call)
{
    return call->canceled;
}

static char *s_getenv(vp_host_ctx *hc, const char *name)
{
    if (strcmp(name, "ECHO_PREFIX") == 0 && hc->echo_prefix_env != NULL)
        return strdup(hc->echo_prefix_env);
    return NULL;
}

static int s_secret_set(vp_secret_out *out, const void *v, size_t len)
{
    if (len >= sizeof(out->value))
        return VP_ELIMIT;
    memcpy(out->value, v, len);
    out->value[len] = '\0';
    out->len = len;
    out->set = 1;
    return VP_OK;
}

static void s_secret_set_ttl(vp_secret_out *out, uint32_t s)
{
    out->has_ttl = 1;
    out->ttl = s;
}

static int s_secret_set_version(vp_secret_out *out, const char *v)
{
    snprintf(out->version, sizeof(out->version), "%s", v);
    return VP_OK;
}

static int s_secret_fail(vp_secret_out *out, int status, const char *fmt, ...) VP_SDK_PRINTF(3, 4);
static int s_secret_fail(vp_secret_out *out, int status, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(out->message, sizeof(out->message), fmt, ap);
    va_end(ap);
    out->status = status;
    return status;
}

static vp_host stub_host(void)
{
    vp_host h;
    memset(&h, 0, sizeof(h));
    h.hdr = (vp_abi_hdr)VP_ABI_HDR(vp_host);
    h.malloc = malloc;
    h.calloc = calloc;
    h.realloc = realloc;
    h.free = free;
    h.strdup = strdup;
    h.secure_malloc = s_secure_malloc;
    h.secure_free = free;
    h.secure_strdup = s_secure_strdup;
    h.memzero = s_memzero;
    h.log = s_log;
    h.mask = s_mask;
    h.unmask = s_unmask;
    h.fail = s_fail;
    h.call_canceled = s_call_canceled;
    h.getenv = s_getenv;
    h.secret_set = s_secret_set;
    h.secret_set_ttl = s_secret_set_ttl;
    h.secret_set_version = s_secret_set_version;
    h.secret_fail = s_secret_fail;
    return h;
}

/* ---- fixture -------------------------------------------------------------------------------- */

typedef struct fx {
    vp_host host;
    vp_host_ctx hc;
    const vp_provider *p;
    void *mod;
} fx;

static int setup(void **state)
{
    fx *f = calloc(1, sizeof(*f));
    f->host = stub_host();
    f->p = vaultplug_provider_entry_echo_provider(VP_ABI_MAJOR, VP_ABI_MINOR);
    assert_non_null(f->p);
    assert_int_equal(f->p->init(&f->host, &f->hc, &f->mod), VP_OK);
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    fx *f = *state;
    f->p->teardown(f->mod);
    free(f);
    return 0;
}

/* Configure an instance for a token credential named "t". */
static void *token_inst(fx *f, const char *token, const char *prefix)
{
    vp_kv fields[2] = {{"token", token, strlen(token)},
                       {"prefix", prefix, prefix ? strlen(prefix) : 0}};
    vp_cred cred = {VP_ABI_HDR(vp_cred), "t", "token", fields, prefix ? 2 : 1};
    vp_call call = {0};
    void *inst = NULL;
    assert_int_equal(f->p->configure(f->mod, &cred, &call, &inst), VP_OK);
    assert_non_null(inst);
    return inst;
}

static vp_ref uri_ref(const char *uri, const char *path, const vp_kv *params, size_t n)
{
    vp_ref r = {VP_ABI_HDR(vp_ref), uri, "echo", "t", path, params, n, NULL, NULL};
    return r;
}

/* ---- tests ---------------------------------------------------------------------------------- */

static void test_entry_refuses_other_major(void **state)
{
    (void)state;
    assert_null(vaultplug_provider_entry_echo_provider(VP_ABI_MAJOR + 1, 0));
    assert_null(vaultplug_provider_entry_echo_provider(0, 0));
}

static void test_batch_items_independent(void **state)
{
    fx *f = *state;
    void *inst = token_inst(f, "good-token-1234", "p:");
    vp_kv ver[] = {{"version", "v7", 2}};
    vp_ref r[4] = {
        uri_ref("echo://t@a/b?version=v7", "a/b", ver, 1),
        uri_ref("echo://t@missing/x", "missing/x", NULL, 0),
        uri_ref("echo://t@denied/y", "denied/y", NULL, 0),
        uri_ref("echo://t@json/z", "json/z", NULL, 0),
    };
    const vp_ref *refs[4] = {&r[0], &r[1], &r[2], &r[3]};
    vp_secret_out o[4];
    memset(o, 0, sizeof(o));
    vp_secret_out *outs[4] = {&o[0], &o[1], &o[2], &o[3]};
    vp_call call = {0};
    assert_int_equal(f->p->fetch_batch(inst, &call, 4, refs, outs), VP_OK);

    assert_true(o[0].set);
    assert_string_equal(o[0].value, "p:a/b");
    assert_string_equal(o[0].version, "v7");
    assert_false(o[1].set);
    assert_int_equal(o[1].status, VP_ENOTFOUND);
    assert_string_equal(o[1].message, "secret 'missing/x' not found");
    assert_int_equal(o[2].status, VP_EPERM);
    assert_non_null(strstr(o[2].message, "denied/y"));
    assert_true(o[3].set);
    assert_string_equal(o[3].value,
                        "{\"path\":\"json/z\",\"user\":\"alice\",\"password\":\"p:json/z\"}");
    assert_int_equal(call.status, 0); /* item failures are not the batch's */
    f->p->destroy(inst);
}

static void test_batch_canceled_fails_every_item(void **state)
{
    fx *f = *state;
    void *inst = token_inst(f, "good-token-1234", NULL);
    vp_ref r = uri_ref("echo://t@a", "a", NULL, 0);
    const vp_ref *refs[2] = {&r, &r};
    vp_secret_out o[2];
    memset(o, 0, sizeof(o));
    vp_secret_out *outs[2] = {&o[0], &o[1]};
    vp_call call = {.canceled = 1};
    assert_int_equal(f->p->fetch_batch(inst, &call, 2, refs, outs), VP_OK);
    assert_int_equal(o[0].status, VP_ECANCELED);
    assert_int_equal(o[1].status, VP_ECANCELED);
    assert_false(o[0].set || o[1].set);
    f->p->destroy(inst);
}

static void test_config_form(void **state)
{
    fx *f = *state;
    void *inst = token_inst(f, "good-token-1234", NULL);
    /* Three-argument form: path NULL, params = the config members sorted, config non-NULL
     * (echo only reads params, so any non-NULL pointer stands in for the parsed object). */
    vp_kv params[] = {{"path", "db/x", 4}, {"ttl", "5", 1}, {"upper", "true", 4}};
    vp_ref r = {VP_ABI_HDR(vp_ref),
                "echo://t@?path=db%2Fx&ttl=5&upper=true",
                "echo",
                "t",
                NULL,
                params,
                3,
                NULL,
                (const vp_json *)&params};
    vp_secret_out o = {0};
    vp_call call = {0};
    assert_int_equal(f->p->fetch(inst, &r, &call, &o), VP_OK);
    assert_string_equal(o.value, "ECHO:DB/X");
    assert_true(o.has_ttl);
    assert_int_equal(o.ttl, 5);

    /* No path member: a clear message naming it. */
    vp_ref nopath = r;
    nopath.params = params + 1;
    nopath.n_params = 2;
    memset(&o, 0, sizeof(o));
    assert_int_equal(f->p->fetch(inst, &nopath, &call, &o), VP_EINVAL);
    assert_non_null(strstr(call.message, "\"path\""));
    assert_false(o.set);
    f->p->destroy(inst);
}

static void test_param_validation(void **state)
{
    fx *f = *state;
    void *inst = token_inst(f, "good-token-1234", NULL);
    vp_call call = {0};
    vp_secret_out o = {0};
    vp_kv bad_ttl[] = {{"ttl", "12x", 3}};
    vp_ref r = uri_ref("echo://t@a?ttl=12x", "a", bad_ttl, 1);
    assert_int_equal(f->p->fetch(inst, &r, &call, &o), VP_EINVAL);
    assert_non_null(strstr(call.message, "'ttl'"));
    vp_kv unknown[] = {{"colour", "red", 3}};
    r = uri_ref("echo://t@a?colour=red", "a", unknown, 1);
    assert_int_equal(f->p->fetch(inst, &r, &call, &o), VP_EINVAL);
    assert_non_null(strstr(call.message, "unknown parameter 'colour'"));
    /* "path" is a parameter only in the config form. */
    vp_kv path[] = {{"path", "b", 1}};
    r = uri_ref("echo://t@a?path=b", "a", path, 1);
    assert_int_equal(f->p->fetch(inst, &r, &call, &o), VP_EINVAL);
    assert_false(o.set);
    f->p->destroy(inst);
}

static void test_token_masked_and_never_in_messages(void **state)
{
    fx *f = *state;
    const char *tok = "expired-secret-token-99";
    void *inst = token_inst(f, tok, NULL);
    assert_int_equal(f->hc.n_masked, 1);
    assert_string_equal(f->hc.masked[0], tok);

    vp_call call = {0};
    vp_secret_out o = {0};
    vp_ref r = uri_ref("echo://t@a", "a", NULL, 0);
    assert_int_equal(f->p->fetch(inst, &r, &call, &o), VP_EAUTH);
    assert_null(strstr(call.message, tok));
    assert_non_null(strstr(call.message, "'t'"));
    assert_int_equal(f->p->validate(inst, &call), VP_EAUTH);
    assert_null(strstr(call.message, tok));
    assert_null(strstr(f->hc.log, tok));
    assert_false(o.set);

    f->p->destroy(inst);
    assert_int_equal(f->hc.n_masked, 0); /* unmasked before the wipe */

    void *bad = token_inst(f, "bad", NULL);
    assert_int_equal(f->p->validate(bad, &call), VP_EAUTH);
    f->p->destroy(bad);
    void *good = token_inst(f, "fine-token", NULL);
    assert_int_equal(f->p->validate(good, &call), VP_OK);
    f->p->destroy(good);
}

static void test_default_chain_reads_env(void **state)
{
    fx *f = *state;
    vp_cred empty = {VP_ABI_HDR(vp_cred), "", "", NULL, 0};
    vp_call call = {0};
    void *inst = NULL;
    f->hc.echo_prefix_env = "from-env:";
    assert_int_equal(f->p->configure(f->mod, &empty, &call, &inst), VP_OK);
    vp_ref r = uri_ref("echo://a", "a", NULL, 0);
    vp_secret_out o = {0};
    assert_int_equal(f->p->fetch(inst, &r, &call, &o), VP_OK);
    assert_string_equal(o.value, "from-env:a");
    f->p->destroy(inst);

    f->hc.echo_prefix_env = NULL;
    assert_int_equal(f->p->configure(f->mod, &empty, &call, &inst), VP_OK);
    memset(&o, 0, sizeof(o));
    assert_int_equal(f->p->fetch(inst, &r, &call, &o), VP_OK);
    assert_string_equal(o.value, "echo:a");
    f->p->destroy(inst);
}

static void test_bad_credentials_refused(void **state)
{
    fx *f = *state;
    vp_call call = {0};
    void *inst = (void *)1;
    vp_cred odd = {VP_ABI_HDR(vp_cred), "x", "oauth", NULL, 0};
    assert_int_equal(f->p->configure(f->mod, &odd, &call, &inst), VP_EINVAL);
    assert_null(inst);
    assert_non_null(strstr(call.message, "unknown credential type 'oauth'"));

    vp_kv typo[] = {{"tokn", "abcd1234", 8}};
    vp_cred c = {VP_ABI_HDR(vp_cred), "x", "token", typo, 1};
    assert_int_equal(f->p->configure(f->mod, &c, &call, &inst), VP_EINVAL);
    assert_non_null(strstr(call.message, "unknown field 'tokn'"));

    vp_kv none[] = {{"prefix", "p", 1}};
    c.fields = none;
    assert_int_equal(f->p->configure(f->mod, &c, &call, &inst), VP_EINVAL);
    assert_non_null(strstr(call.message, "'token' is required"));
    assert_int_equal(f->hc.n_masked, 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_entry_refuses_other_major),
        cmocka_unit_test_setup_teardown(test_batch_items_independent, setup, teardown),
        cmocka_unit_test_setup_teardown(test_batch_canceled_fails_every_item, setup, teardown),
        cmocka_unit_test_setup_teardown(test_config_form, setup, teardown),
        cmocka_unit_test_setup_teardown(test_param_validation, setup, teardown),
        cmocka_unit_test_setup_teardown(test_token_masked_and_never_in_messages, setup, teardown),
        cmocka_unit_test_setup_teardown(test_default_chain_reads_env, setup, teardown),
        cmocka_unit_test_setup_teardown(test_bad_credentials_refused, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
