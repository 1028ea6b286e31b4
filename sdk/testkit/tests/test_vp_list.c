/*
 * test_vp_list - vp_list through the public library and real provider modules: tkprov (list,
 * in the directory given first) and echo (no list, second directory). Checks the result is
 * sorted and de-duplicated, the prefix is percent-decoded, the errors for a provider without
 * list, a malformed prefix, an unknown credential and a denied list, and that n/names are
 * cleared on failure. Exit 0 = pass.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <vaultplug/vaultplug.h>

static int failures;

#define CHECK(cond, ...)                                         \
    do {                                                         \
        if (!(cond)) {                                           \
            fprintf(stderr, "FAIL %s:%d: ", __FILE__, __LINE__); \
            fprintf(stderr, __VA_ARGS__);                        \
            fputc('\n', stderr);                                 \
            failures++;                                          \
        }                                                        \
    } while (0)

static void want(vp_ctx *ctx, const char *uri, const char *const *expect)
{
    char **names = (char **)1;
    size_t n = 99;
    vp_error err;
    int rc = vp_list(ctx, uri, 5000, &names, &n, &err);
    CHECK(rc == 0, "%s: %s", uri, err.message);
    size_t k = 0;
    for (; expect[k]; k++)
        CHECK(k < n && strcmp(names[k], expect[k]) == 0, "%s: name %zu is '%s', want '%s'", uri, k,
              k < n ? names[k] : "(none)", expect[k]);
    CHECK(n == k, "%s: %zu names, want %zu", uri, n, k);
    CHECK(n > 0 || names == NULL, "%s: names not NULL for an empty list", uri);
    vp_list_free(names, n);
}

static void want_err(vp_ctx *ctx, const char *uri, int status, const char *in_msg)
{
    char **names = (char **)1;
    size_t n = 99;
    vp_error err;
    int rc = vp_list(ctx, uri, 5000, &names, &n, &err);
    CHECK(rc == status, "%s: got %s, want %s (%s)", uri, vp_err_name(rc), vp_err_name(status),
          err.message);
    CHECK(strstr(err.message, in_msg) != NULL, "%s: message '%s' lacks '%s'", uri, err.message,
          in_msg);
    CHECK(names == NULL && n == 0, "%s: output not cleared on failure", uri);
}

int main(int argc, char **argv)
{
    if (argc != 3) {
        fprintf(stderr, "usage: test_vp_list TKPROV_DIR ECHO_DIR\n");
        return 2;
    }
    const char *dirs[] = {argv[1], argv[2], NULL};
    const char *enabled[] = {"tkprov", "echo", NULL};
    vp_options o;
    vp_options_init(&o);
    o.plugin_dirs = dirs;
    o.enabled_providers = enabled;
    o.ignore_env_plugin_path = 1;
    o.no_default_plugin_dir = 1;
    vp_ctx *ctx = NULL;
    vp_error err;
    if (vp_ctx_new(&o, &ctx, &err) != 0) {
        fprintf(stderr, "vp_ctx_new: %s\n", err.message);
        return 1;
    }
    const char *const app[] = {"app/api", "app/db", "app/nested/key", NULL};
    want(ctx, "tkprov://app/", app); /* the store hands them out unsorted */
    want(ctx, "tkprov://%61pp/", app);
    const char *const dup[] = {"dup/a", "dup/b", "dup/c", NULL};
    want(ctx, "tkprov://dup/", dup);
    const char *const none[] = {NULL};
    want(ctx, "tkprov://nothing/", none);
    want_err(ctx, "echo://db/", VP_ENOTSUP, "provider echo cannot list secrets");
    want_err(ctx, "tkprov://app/?x=1", VP_EINVAL, "takes no ?parameters");
    want_err(ctx, "tkprov://app/#k", VP_EINVAL, "takes no ?parameters");
    want_err(ctx, "tkprov://%zz/", VP_EINVAL, "malformed %-escape");
    want_err(ctx, "tkprov://a%00b/", VP_EINVAL, "malformed %-escape");
    want_err(ctx, "app/", VP_EINVAL, "no scheme");
    want_err(ctx, "tkprov://b!d@x/", VP_EINVAL, "bad credential name");
    want_err(ctx, "tkprov://nobody@app/", VP_ENOTFOUND, "no credential named nobody");
    want_err(ctx, "nosuch://x/", VP_ENOTFOUND, "nosuch");
    want_err(ctx, "tkprov://denied/", VP_EPERM, "listing denied/ is denied");
    vp_ctx_free(ctx);
    if (failures == 0)
        printf("ok\n");
    return failures ? 1 : 0;
}
