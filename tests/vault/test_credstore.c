/* Credential store: named provider credentials sealed in the vault's credential section. The
 * validation and masking tests use the echo example provider (a real .so, loaded by a context). */
#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include <setjmp.h>
#include <stdarg.h>
#include <cmocka.h>

#include "vaultplug/credstore.h"
#include "vaultplug/vaultplug.h"
#include "vault_int.h"
#include "vt_util.h"

static const char canary[] = "CANARY-cred-9d2e-never-in-clear";

typedef vt_fixture fixture;

static int setup(void **state)
{
    fixture *f = vt_fixture_new();
    if (f == NULL)
        return -1;
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    vt_fixture_free(*state);
    return 0;
}

static const char *field(const vp_cred_entry *e, const char *key)
{
    for (size_t i = 0; i < e->n_fields; i++)
        if (strcmp(e->fields[i].key, key) == 0)
            return e->fields[i].value;
    return NULL;
}

static void test_put_get_list_remove(void **state)
{
    fixture *f = *state;
    vp_field fl[] = {{"access_key_id", "AKIAEXAMPLE"}, {"secret_access_key", canary}};
    vp_cred_spec spec = {"prod-aws", "static", fl, 2};
    vp_cred_spec deflt = {"default", "", NULL, 0};
    vp_cred_entry *e = NULL, *list = NULL;
    size_t n = 0;
    vp_error err;

    assert_int_equal(vp_credstore_put(f->v, "aws", &spec, &err), 0);
    assert_int_equal(vp_credstore_put(f->v, "gcp", &deflt, &err), 0); /* default chain */
    assert_int_equal(vp_credstore_get(f->v, "aws", "prod-aws", &e, &err), 0);
    assert_string_equal(e->provider, "aws");
    assert_string_equal(e->name, "prod-aws");
    assert_string_equal(e->type, "static");
    assert_int_equal(e->n_fields, 2);
    assert_string_equal(field(e, "secret_access_key"), canary);
    assert_string_equal(field(e, "access_key_id"), "AKIAEXAMPLE");
    vp_cred_entries_free(e, 1);

    /* Without a context nothing can be classified: every value is masked. */
    assert_int_equal(vp_credstore_list(f->v, NULL, &list, &n, &err), 0);
    assert_int_equal(n, 2);
    assert_string_equal(list[0].provider, "aws");
    assert_string_equal(list[1].provider, "gcp");
    assert_string_equal(list[1].type, "");
    assert_int_equal(list[1].n_fields, 0);
    for (size_t i = 0; i < list[0].n_fields; i++)
        assert_string_equal(list[0].fields[i].value, VP_CRED_MASK);
    vp_cred_entries_free(list, n);

    /* Replace, then remove. */
    fl[1].value = "rotated";
    assert_int_equal(vp_credstore_put(f->v, "aws", &spec, &err), 0);
    assert_int_equal(vp_credstore_get(f->v, "aws", "prod-aws", &e, &err), 0);
    assert_string_equal(field(e, "secret_access_key"), "rotated");
    vp_cred_entries_free(e, 1);
    assert_int_equal(vp_credstore_remove(f->v, "aws", "prod-aws", &err), 0);
    assert_int_equal(vp_credstore_get(f->v, "aws", "prod-aws", &e, &err), VP_ENOTFOUND);
    assert_null(e);
    assert_int_equal(vp_credstore_remove(f->v, "aws", "prod-aws", &err), VP_ENOTFOUND);
}

static void test_invalid_input(void **state)
{
    fixture *f = *state;
    vp_field dup[] = {{"a", "1"}, {"a", "2"}};
    vp_field badkey[] = {{"Bad-Key", "1"}};
    vp_cred_spec ok = {"n", "t", NULL, 0};
    vp_error err;

    assert_int_equal(vp_credstore_put(f->v, "AWS", &ok, &err), VP_EINVAL);
    assert_int_equal(vp_credstore_put(f->v, "aws.x", &ok, &err), VP_EINVAL);
    ok.name = "bad name";
    assert_int_equal(vp_credstore_put(f->v, "aws", &ok, &err), VP_EINVAL);
    ok.name = "";
    assert_int_equal(vp_credstore_put(f->v, "aws", &ok, &err), VP_EINVAL);
    ok.name = "n";
    ok.fields = dup;
    ok.n_fields = 2;
    assert_int_equal(vp_credstore_put(f->v, "aws", &ok, &err), VP_EINVAL);
    assert_non_null(strstr(err.message, "twice"));
    ok.fields = badkey;
    ok.n_fields = 1;
    assert_int_equal(vp_credstore_put(f->v, "aws", &ok, &err), VP_EINVAL);
    assert_int_equal(vp_credstore_put(NULL, "aws", &ok, &err), VP_EINVAL);
}

/* "Sign out" removes every credential and nothing else. */
/* A malformed stored record (sealed, so only a bug or a forged record with the key makes one) is
 * refused as VP_EPROTO, whatever length field lies, and nothing of it leaks (ASan). */
static void test_malformed_record(void **state)
{
    fixture *f = *state;
#define REC(what, bytes)               \
    {                                  \
        what, bytes, sizeof(bytes) - 1 \
    }
    static const struct {
        const char *what;
        const char *bytes;
        size_t len;
    } bad[] = {
        REC("value longer than the record", "VPC1\x05token\x01\x05token\xe8\x03\x00\x00"
                                            "abc"),
        REC("key longer than the record", "VPC1\x05token\x01\x40tok"),
        REC("type longer than the record", "VPC1\x40tok"),
        REC("fewer fields than counted", "VPC1\x05token\x02\x01k\x01\x00\x00\x00v"),
        REC("trailing bytes", "VPC1\x05token\x01\x01k\x01\x00\x00\x00vX"),
        REC("bad magic", "VPC2\x00\x00"),
    };
#undef REC
    vp_cred_entry *e = NULL;
    vp_error err;
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        assert_int_equal(vp__vault_rec_set(f->v, VP__VAULT_CREDENTIAL, "echo.broken", bad[i].bytes,
                                           bad[i].len, &err),
                         0);
        int rc = vp_credstore_get(f->v, "echo", "broken", &e, &err);
        if (rc != VP_EPROTO)
            fail_msg("%s: %d", bad[i].what, rc);
        assert_null(e);
    }
    /* The same shape with the right lengths is a credential. */
    assert_int_equal(vp__vault_rec_set(f->v, VP__VAULT_CREDENTIAL, "echo.broken",
                                       "VPC1\x05token\x01\x01k\x01\x00\x00\x00v", 18, &err),
                     0);
    assert_int_equal(vp_credstore_get(f->v, "echo", "broken", &e, &err), 0);
    assert_string_equal(e->type, "token");
    assert_string_equal(e->fields[0].key, "k");
    assert_string_equal(e->fields[0].value, "v");
    vp_cred_entries_free(e, 1);
}

static void test_clear_keeps_secrets(void **state)
{
    fixture *f = *state;
    vp_cred_spec s = {"a", "", NULL, 0};
    vp_cred_entry *list = NULL;
    vp_buf out = VP_BUF_INIT;
    size_t n = 99, removed = 0;
    vp_error err;

    assert_int_equal(vp_vault_set(f->v, "aws.a", "secret-not-cred", 15, &err), 0);
    assert_int_equal(vp_credstore_put(f->v, "aws", &s, &err), 0);
    s.name = "b";
    assert_int_equal(vp_credstore_put(f->v, "aws", &s, &err), 0);
    assert_int_equal(vp_credstore_put(f->v, "hashicorp", &s, &err), 0);
    assert_int_equal(vp_credstore_clear(f->v, &removed, &err), 0);
    assert_int_equal(removed, 3);
    assert_int_equal(vp_credstore_list(f->v, NULL, &list, &n, &err), 0);
    assert_int_equal(n, 0);
    assert_null(list);
    assert_int_equal(vp_vault_get(f->v, "aws.a", &out, &err), 0);
    assert_string_equal(out.data, "secret-not-cred");
    vp_buf_free(&out);
    /* and it was committed */
    assert_int_equal(vp_vault_reload(f->v, &err), 0);
    assert_int_equal(vp_credstore_list(f->v, NULL, &list, &n, &err), 0);
    assert_int_equal(n, 0);
}

static void test_canary_sealed(void **state)
{
    fixture *f = *state;
    vp_field fl[] = {{"token", canary}};
    vp_cred_spec spec = {"c", "token", fl, 1};
    vp_cred_entry *list = NULL;
    size_t n = 0;
    vp_error err;
    DIR *dd;
    struct dirent *de;

    assert_int_equal(vp_credstore_put(f->v, "echo", &spec, &err), 0);
    assert_int_equal(vp_credstore_list(f->v, NULL, &list, &n, &err), 0);
    assert_string_not_equal(list[0].fields[0].value, canary);
    vp_cred_entries_free(list, n);
    assert_int_equal(vp_credstore_get(f->v, "echo", "missing", &list, &err), VP_ENOTFOUND);
    assert_null(strstr(err.message, canary));
    dd = opendir(f->d.dir);
    assert_non_null(dd);
    while ((de = readdir(dd)) != NULL) {
        char p[600];
        struct stat sb;
        unsigned char *b;
        size_t len;
        snprintf(p, sizeof p, "%s/%s", f->d.dir, de->d_name);
        if (stat(p, &sb) != 0 || !S_ISREG(sb.st_mode))
            continue;
        b = vt_read(p, &len);
        assert_false(vt_contains(b, len, canary, strlen(canary)));
        assert_false(vt_contains(b, len, "token", 5));
        free(b);
    }
    closedir(dd);
}

#ifdef VT_PROVIDER_DIR
static vp_ctx *echo_ctx(void)
{
    static const char *const dirs[] = {VT_PROVIDER_DIR, NULL};
    static const char *const enabled[] = {"echo", NULL};
    vp_options o;
    vp_ctx *ctx = NULL;
    vp_error err;
    vp_options_init(&o);
    o.plugin_dirs = dirs;
    o.ignore_env_plugin_path = 1;
    o.no_default_plugin_dir = 1;
    o.enabled_providers = enabled;
    if (vp_ctx_new(&o, &ctx, &err) != 0)
        fail_msg("vp_ctx_new: %s", err.message);
    return ctx;
}

/* add validates through the provider: a rejected token is not stored; a good one is, and a new
 * context loaded from the store can use it. */
static void test_add_validated_with_echo(void **state)
{
    fixture *f = *state;
    vp_ctx *ctx = echo_ctx(), *ctx2;
    vp_field bad[] = {{"token", "bad"}, {"prefix", "p:"}};
    vp_field good[] = {{"token", canary}, {"prefix", "p:"}};
    vp_cred_spec spec = {"prod", "token", bad, 2};
    vp_cred_entry *e = NULL, *list = NULL;
    vp_buf out = VP_BUF_INIT;
    size_t n = 0, loaded = 0, skipped = 0;
    vp_error err;

    assert_int_equal(vp_credstore_add(f->v, ctx, "echo", &spec, 5000, &err), VP_EAUTH);
    print_message("rejected: %s\n", err.message);
    assert_int_equal(vp_credstore_get(f->v, "echo", "prod", &e, &err), VP_ENOTFOUND);
    /* the rejected credential was taken back out of the context too */
    assert_int_not_equal(vp_fetch(ctx, "echo://prod@x", 5000, &out, NULL, &err), 0);

    spec.fields = good;
    assert_int_equal(vp_credstore_add(f->v, ctx, "echo", &spec, 5000, &err), 0);
    assert_int_equal(vp_credstore_get(f->v, "echo", "prod", &e, &err), 0);
    assert_string_equal(field(e, "token"), canary);
    vp_cred_entries_free(e, 1);

    /* Masking follows the provider's declaration: token is secret, prefix is not. */
    assert_int_equal(vp_credstore_list(f->v, ctx, &list, &n, &err), 0);
    assert_int_equal(n, 1);
    assert_string_equal(field(&list[0], "token"), VP_CRED_MASK);
    assert_string_equal(field(&list[0], "prefix"), "p:");
    vp_cred_entries_free(list, n);

    /* A stored credential of a provider the context does not have is skipped on load. */
    {
        vp_cred_spec other = {"x", "", NULL, 0};
        assert_int_equal(vp_credstore_put(f->v, "nosuchprovider", &other, &err), 0);
    }
    ctx2 = echo_ctx();
    assert_int_equal(vp_credstore_load(f->v, ctx2, &loaded, &skipped, &err), 0);
    assert_int_equal(loaded, 1);
    assert_int_equal(skipped, 1);
    assert_int_equal(vp_fetch(ctx2, "echo://prod@hello", 5000, &out, NULL, &err), 0);
    assert_string_equal(out.data, "p:hello");
    vp_buf_free(&out);
    vp_ctx_free(ctx2);
    vp_ctx_free(ctx);
}

/* A stored entry is a vp_cred_spec plus its provider: vp_cred_entry_spec hands it straight to
 * vp_cred_set and vp_credstore_put, with no conversion by the application. */
static void test_entry_is_a_spec(void **state)
{
    fixture *f = *state;
    vp_field fl[] = {{"token", canary}, {"prefix", "e:"}};
    vp_cred_spec spec = {"copy-me", "token", fl, 2};
    vp_cred_entry *e = NULL;
    vp_buf out = VP_BUF_INIT;
    vp_error err;

    assert_int_equal(vp_credstore_put(f->v, "echo", &spec, &err), 0);
    assert_int_equal(vp_credstore_get(f->v, "echo", "copy-me", &e, &err), 0);
    vp_cred_spec view = vp_cred_entry_spec(e);
    assert_ptr_equal(view.name, e->name);
    assert_ptr_equal(view.fields, e->fields);
    assert_int_equal(view.n_fields, 2);

    vp_ctx *ctx = echo_ctx();
    assert_int_equal(vp_cred_set(ctx, e->provider, &view, &err), 0);
    assert_int_equal(vp_fetch(ctx, "echo://copy-me@v", 5000, &out, NULL, &err), 0);
    assert_string_equal(out.data, "e:v");
    vp_buf_free(&out);
    vp_ctx_free(ctx);

    view.name = "copied";
    assert_int_equal(vp_credstore_put(f->v, e->provider, &view, &err), 0);
    vp_cred_entries_free(e, 1);
    assert_int_equal(vp_credstore_get(f->v, "echo", "copied", &e, &err), 0);
    assert_string_equal(e->type, "token");
    assert_string_equal(field(e, "token"), canary);
    vp_cred_entries_free(e, 1);
}
#endif

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_put_get_list_remove, setup, teardown),
        cmocka_unit_test_setup_teardown(test_invalid_input, setup, teardown),
        cmocka_unit_test_setup_teardown(test_clear_keeps_secrets, setup, teardown),
        cmocka_unit_test_setup_teardown(test_malformed_record, setup, teardown),
        cmocka_unit_test_setup_teardown(test_canary_sealed, setup, teardown),
#ifdef VT_PROVIDER_DIR
        cmocka_unit_test_setup_teardown(test_add_validated_with_echo, setup, teardown),
        cmocka_unit_test_setup_teardown(test_entry_is_a_spec, setup, teardown),
#endif
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
