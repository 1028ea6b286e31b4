/*
 * test_loader - provider loading through real .so files (tests/loader/modules), and the direct
 * fetch path (credentials, instances, #json-key, errors, threads) against the good module.
 */
#define _GNU_SOURCE /* dl_iterate_phdr */
#include <dirent.h>
#include <link.h>
#include <errno.h>
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

#include "vaultplug/provider.h"
#include "vaultplug/vaultplug.h"
#include "fault.h"
#include "host.h"
#include "ctx.h"    /* struct vp_ctx: its fault counter */
#include "loader.h" /* vp__loader_set_installed_dir */

static const char *const mods_dirs[] = {LT_MODS_DIR, NULL};

static vp_ctx *new_ctx(const char *const *dirs, const char *const *enabled)
{
    vp_options o;
    vp_options_init(&o);
    o.plugin_dirs = dirs;
    o.ignore_env_plugin_path = 1;
    o.no_default_plugin_dir = 1;
    o.enabled_providers = enabled;
    vp_ctx *ctx = NULL;
    vp_error err;
    int rc = vp_ctx_new(&o, &ctx, &err);
    if (rc != 0)
        fail_msg("vp_ctx_new: %s", err.message);
    return ctx;
}

static const vp_provider_info *info_of(vp_ctx *ctx, const char *name)
{
    for (size_t i = 0; i < vp_providers_count(ctx); i++) {
        const vp_provider_info *pi = vp_providers_get(ctx, i);
        if (strcmp(pi->name, name) == 0)
            return pi;
    }
    fail_msg("provider %s not listed", name);
    return NULL;
}

static void expect_failed(vp_ctx *ctx, const char *name, const char *reason)
{
    const vp_provider_info *pi = info_of(ctx, name);
    if (pi->state != VP_PROVIDER_FAILED)
        fail_msg("%s: state %d, expected FAILED", name, pi->state);
    if (strstr(pi->reason, reason) == NULL)
        fail_msg("%s: reason '%s' lacks '%s'", name, pi->reason, reason);
    assert_int_not_equal(pi->status, 0);
    /* Any use of it says why. */
    vp_error err;
    assert_int_equal(vp_provider_check(ctx, name, &err), VP_EUNAVAIL);
    if (strstr(err.message, reason) == NULL)
        fail_msg("%s: check message '%s' lacks '%s'", name, err.message, reason);
    char uri[128];
    snprintf(uri, sizeof(uri), "%s://some/secret", name);
    vp_buf out = VP_BUF_INIT;
    assert_int_equal(vp_fetch(ctx, uri, 0, &out, NULL, &err), VP_EUNAVAIL);
    assert_non_null(strstr(err.message, reason));
    assert_null(out.data);
}

/* ---- file helpers ------------------------------------------------------------------------ */

static void copy_file(const char *from, const char *to, mode_t mode)
{
    FILE *in = fopen(from, "rb");
    assert_non_null(in);
    FILE *out = fopen(to, "wb");
    assert_non_null(out);
    char buf[65536];
    size_t n;
    while ((n = fread(buf, 1, sizeof(buf), in)) > 0)
        assert_int_equal(fwrite(buf, 1, n, out), n);
    fclose(in);
    fclose(out);
    assert_int_equal(chmod(to, mode), 0);
}

static void rm_rf(const char *dir)
{
    DIR *d = opendir(dir);
    if (d == NULL)
        return;
    struct dirent *e;
    while ((e = readdir(d)) != NULL) {
        if (strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0)
            continue;
        char p[1024];
        snprintf(p, sizeof(p), "%s/%s", dir, e->d_name);
        struct stat st;
        if (lstat(p, &st) == 0 && S_ISDIR(st.st_mode))
            rm_rf(p);
        else
            unlink(p);
    }
    closedir(d);
    rmdir(dir);
}

static char *mktmp(void)
{
    char *t = strdup("/tmp/vp_test_loader_XXXXXX");
    assert_non_null(mkdtemp(t));
    return t;
}

static int exists(const char *dir, const char *file)
{
    char p[1024];
    snprintf(p, sizeof(p), "%s/%s", dir, file);
    return access(p, F_OK) == 0;
}

/* ---- loader ------------------------------------------------------------------------------ */

static void test_broken_modules_refused(void **state)
{
    (void)state;
    vp_ctx *ctx = new_ctx(mods_dirs, NULL);
    const vp_provider_info *good = info_of(ctx, "ltgood");
    assert_int_equal(good->state, VP_PROVIDER_LOADED);
    assert_string_equal(good->reason, "");
    assert_string_equal(good->version, "0.0.1");
    assert_string_equal(good->schemes, "ltgood,goodscheme");
    assert_int_equal(good->abi_major, 1);
    assert_int_equal(info_of(ctx, "ltserial")->state, VP_PROVIDER_LOADED);

    expect_failed(ctx, "ltbadmajor", "ABI major 2, host needs 1");
    char need[64];
    snprintf(need, sizeof(need), "provider table too short: %zu bytes, need %zu",
             offsetof(vp_provider, validate), sizeof(vp_provider));
    expect_failed(ctx, "ltshort", need);
    expect_failed(ctx, "ltnosym", "missing entry symbol vaultplug_provider_entry");
    expect_failed(ctx, "ltnullentry", "provider does not support ABI major 1");
    expect_failed(ctx, "ltname", "provider name 'other' does not match the file name 'ltname.so'");
    expect_failed(ctx, "ltcaps", "unknown capability bits 0x100");
    expect_failed(ctx, "ltnullfn", "required function validate is NULL");
    expect_failed(ctx, "ltbatch", "capability BATCH set but fetch_batch is NULL");
    /* init runs when a call first needs the provider (issue 18, item 6). */
    assert_int_equal(info_of(ctx, "ltinitfail")->state, VP_PROVIDER_LOADED);
    vp_error ierr;
    assert_int_equal(vp_provider_check(ctx, "ltinitfail", &ierr), VP_EUNAVAIL);
    assert_non_null(strstr(ierr.message, "init failed: authentication failed"));
    expect_failed(ctx, "ltinitfail", "init failed: ");
    expect_failed(ctx, "ltinitfail", "authentication failed");
    assert_int_equal(info_of(ctx, "ltinitfail")->status, VP_EAUTH);
    /* Two modules, one alias: the first in name order keeps it; the refusal names both files. */
    expect_failed(ctx, "ltzdup",
                  "scheme 'goodscheme' is already served by provider 'ltgood' (" LT_MODS_DIR
                  "/ltgood.so), first in name order; one scheme cannot be served by two "
                  "modules: remove " LT_MODS_DIR "/ltzdup.so or " LT_MODS_DIR "/ltgood.so");
    expect_failed(ctx, "ltfirst",
                  "first scheme 'zzltfirst' is not the provider's name 'ltfirst' (a provider's "
                  "first scheme must be its own name");
    expect_failed(ctx, "ltbadscheme", "invalid scheme 'Bad_Scheme'");
    assert_int_equal(info_of(ctx, "ltbadmajor")->abi_major, 2);

    /* The duplicate scheme still routes to the first provider. */
    vp_buf out = VP_BUF_INIT;
    vp_error err;
    assert_int_equal(vp_fetch(ctx, "goodscheme://routed", 0, &out, NULL, &err), 0);
    assert_string_equal(out.data, "routed");
    vp_buf_free(&out);

    /* Sorted by name. */
    for (size_t i = 1; i < vp_providers_count(ctx); i++)
        assert_true(strcmp(vp_providers_get(ctx, i - 1)->name, vp_providers_get(ctx, i)->name) < 0);
    assert_null(vp_providers_get(ctx, vp_providers_count(ctx)));
    vp_ctx_free(ctx);
}

static void test_insecure_files_refused(void **state)
{
    (void)state;
    char *dir = mktmp();
    char *wwdir = mktmp();
    char p[1024];
    /* world-writable file, group-writable file, invalid file name */
    snprintf(p, sizeof(p), "%s/ltwwfile.so", dir);
    copy_file(LT_MODS_DIR "/ltgood.so", p, 0666);
    snprintf(p, sizeof(p), "%s/ltgwfile.so", dir);
    copy_file(LT_MODS_DIR "/ltgood.so", p, 0664);
    snprintf(p, sizeof(p), "%s/Bad-Name.so", dir);
    copy_file(LT_MODS_DIR "/ltgood.so", p, 0644);
    /* a file in a world-writable directory, and a symlink into it from the safe directory */
    assert_int_equal(chmod(wwdir, 0777), 0);
    snprintf(p, sizeof(p), "%s/ltwwdir.so", wwdir);
    copy_file(LT_MODS_DIR "/ltgood.so", p, 0644);
    char link[1024];
    snprintf(link, sizeof(link), "%s/ltlink.so", dir);
    assert_int_equal(symlink(p, link), 0);
    /* owned by someone else (only root can arrange that) */
    int as_root = geteuid() == 0;
    if (as_root) {
        snprintf(p, sizeof(p), "%s/ltother.so", dir);
        copy_file(LT_MODS_DIR "/ltgood.so", p, 0644);
        assert_int_equal(chown(p, 65534, 65534), 0);
    }

    const char *const dirs[] = {dir, wwdir, NULL};
    vp_ctx *ctx = new_ctx(dirs, NULL);
    char want[1200];
    snprintf(want, sizeof(want),
             "insecure permissions: file %s/ltwwfile.so is writable by group "
             "or others (mode 0666)",
             dir);
    expect_failed(ctx, "ltwwfile", want);
    expect_failed(ctx, "ltgwfile", "(mode 0664)");
    snprintf(want, sizeof(want),
             "insecure permissions: directory %s is writable by group or "
             "others (mode 0777)",
             wwdir);
    expect_failed(ctx, "ltwwdir", want);
    expect_failed(ctx, "ltlink", want); /* the symlink's target directory */
    const vp_provider_info *bad = info_of(ctx, "Bad-Name");
    assert_int_equal(bad->state, VP_PROVIDER_FAILED);
    assert_string_equal(bad->reason, "invalid provider file name (must match [a-z0-9_]+.so)");
    if (as_root)
        expect_failed(ctx, "ltother", "is owned by uid 65534");
    vp_ctx_free(ctx);
    rm_rf(dir);
    rm_rf(wwdir);
    free(dir);
    free(wwdir);
}

static void test_enabled_list(void **state)
{
    (void)state;
    char *marks = mktmp();
    setenv("VP_LT_MARKER_DIR", marks, 1);
    const char *const enabled[] = {"ltgood", "ltmissing", NULL};
    vp_ctx *ctx = new_ctx(mods_dirs, enabled);
    assert_int_equal(info_of(ctx, "ltgood")->state, VP_PROVIDER_LOADED);
    assert_int_equal(info_of(ctx, "ltserial")->state, VP_PROVIDER_DISABLED);
    assert_int_equal(info_of(ctx, "ltbadmajor")->state, VP_PROVIDER_DISABLED);
    assert_string_equal(info_of(ctx, "ltserial")->reason, "");
    expect_failed(ctx, "ltmissing", "enabled but not found in " LT_MODS_DIR);
    /* init runs only when a call first needs the provider; never for a disabled one. */
    assert_false(exists(marks, "ltgood.init"));
    vp_error cerr;
    assert_int_equal(vp_provider_check(ctx, "ltgood", &cerr), 0);
    assert_true(exists(marks, "ltgood.init"));
    assert_false(exists(marks, "ltserial.init"));
    assert_false(exists(marks, "ltinitfail.init"));
    vp_error err;
    assert_int_equal(vp_provider_check(ctx, "ltserial", &err), VP_ENOTFOUND);
    assert_non_null(strstr(err.message, "installed but not enabled"));
    vp_ctx_free(ctx);
    unsetenv("VP_LT_MARKER_DIR");
    rm_rf(marks);
    free(marks);
}

static void test_env_plugin_path(void **state)
{
    (void)state;
    setenv("VAULTPLUG_PLUGIN_PATH", "/nonexistent/vp:" LT_MODS_DIR, 1);
    const char *const enabled[] = {"ltgood", NULL};
    vp_options o;
    vp_options_init(&o);
    o.no_default_plugin_dir = 1;
    o.enabled_providers = enabled;
    vp_ctx *ctx = NULL;
    vp_error err;
    assert_int_equal(vp_ctx_new(&o, &ctx, &err), 0);
    assert_int_equal(info_of(ctx, "ltgood")->state, VP_PROVIDER_LOADED);
    vp_ctx_free(ctx);

    o.ignore_env_plugin_path = 1;
    assert_int_equal(vp_ctx_new(&o, &ctx, &err), 0);
    expect_failed(ctx, "ltgood", "enabled but not found");
    vp_ctx_free(ctx);
    unsetenv("VAULTPLUG_PLUGIN_PATH");
}

/* ---- scheme ownership (D6) --------------------------------------------------------------- */

static void fetch_ok(vp_ctx *ctx, const char *uri, const char *want);

/* mkdtemp'd directory holding copies of the named fake modules (tests/loader/fakes). */
static char *fake_dir(const char *const *names)
{
    char *dir = mktmp();
    for (const char *const *n = names; *n; n++) {
        char from[1024], to[1024];
        snprintf(from, sizeof(from), "%s/%s.so", LT_FAKES_DIR, *n);
        snprintf(to, sizeof(to), "%s/%s.so", dir, *n);
        copy_file(from, to, 0644);
    }
    return dir;
}

static void drop_dir(char *dir)
{
    rm_rf(dir);
    free(dir);
}

/* ctest points VAULTPLUG_SYSTEM_CONFIG at a file that does not exist (no /etc policy of the
 * machine running the tests applies); tests that set it put that back. */
static char saved_system_config[1024];
static void save_system_config(void)
{
    const char *v = getenv("VAULTPLUG_SYSTEM_CONFIG");
    snprintf(saved_system_config, sizeof(saved_system_config), "%s", v ? v : "");
}
static void restore_system_config(void)
{
    if (saved_system_config[0])
        setenv("VAULTPLUG_SYSTEM_CONFIG", saved_system_config, 1);
    else
        unsetenv("VAULTPLUG_SYSTEM_CONFIG");
}

static char logged[4096];
static void log_capture(void *ud, int level, const char *source, const char *message)
{
    (void)ud, (void)source;
    if (level <= VP_LEVEL_WARN && strlen(logged) + strlen(message) + 2 < sizeof(logged)) {
        strcat(logged, message);
        strcat(logged, "\n");
    }
}

static const char *path_of(vp_ctx *ctx, const char *name)
{
    return info_of(ctx, name)->path;
}

/* aaa.so also claims aws: before, it came first in name order and took aws:// (the real aws
 * failed with a warning). A provider's own name now wins whatever the order. */
static void test_own_name_beats_alias(void **state)
{
    (void)state;
    const char *const names[] = {"aaa", "aws", NULL};
    char *dir = fake_dir(names);
    const char *const dirs[] = {dir, NULL};
    vp_ctx *ctx = new_ctx(dirs, NULL);
    assert_int_equal(info_of(ctx, "aws")->state, VP_PROVIDER_LOADED);
    char want[2048];
    snprintf(want, sizeof(want),
             "scheme 'aws' is already served by provider 'aws' (%s/aws.so), whose own name it "
             "is; one scheme cannot be served by two modules: remove %s/aaa.so or %s/aws.so",
             dir, dir, dir);
    expect_failed(ctx, "aaa", want);
    fetch_ok(ctx, "aws://name", "aws");
    vp_ctx_free(ctx);

    /* aws.so not enabled (or failed): its name is still not the thief's to take. */
    const char *const only_aaa[] = {"aaa", NULL};
    ctx = new_ctx(dirs, only_aaa);
    snprintf(want, sizeof(want),
             "scheme 'aws' is the name of provider 'aws' (%s/aws.so), which is not enabled: no "
             "other module may serve it; remove %s/aaa.so or %s/aws.so",
             dir, dir, dir);
    expect_failed(ctx, "aaa", want);
    vp_ctx_free(ctx);
    char p[1024];
    snprintf(p, sizeof(p), "%s/aws.so", dir);
    assert_int_equal(chmod(p, 0666), 0);
    ctx = new_ctx(dirs, NULL);
    assert_int_equal(info_of(ctx, "aws")->state, VP_PROVIDER_FAILED);
    expect_failed(ctx, "aaa", "which is not loaded (see its reason)");
    vp_buf out = VP_BUF_INIT;
    vp_error err;
    assert_int_equal(vp_fetch(ctx, "aws://name", 0, &out, NULL, &err), VP_EUNAVAIL);
    assert_non_null(strstr(err.message, "insecure permissions")); /* aws's own reason */
    vp_ctx_free(ctx);

    /* Alone, the thief's alias is only an alias: it may serve aws:// (nothing else does). */
    unlink(p);
    ctx = new_ctx(dirs, NULL);
    fetch_ok(ctx, "aws://name", "aaa");
    vp_ctx_free(ctx);
    drop_dir(dir);
}

/* The installed directory's built-in providers win over VAULTPLUG_PLUGIN_PATH, by file name
 * (aws.so) and by scheme (hcp.so against the installed hashicorp's alias hcp). */
static void test_installed_builtin_beats_env(void **state)
{
    (void)state;
    const char *const inst_names[] = {"aws", "hashicorp", NULL};
    const char *const env_names[] = {"aws", "hcp", "aaa", NULL};
    char *inst = fake_dir(inst_names);
    char *env = fake_dir(env_names);
    vp__loader_set_installed_dir(inst);
    setenv("VAULTPLUG_PLUGIN_PATH", env, 1);
    vp_options o;
    vp_options_init(&o);
    o.log_fn = log_capture;
    logged[0] = '\0';
    vp_ctx *ctx = NULL;
    vp_error err;
    assert_int_equal(vp_ctx_new(&o, &ctx, &err), 0);
    char want[2048];
    snprintf(want, sizeof(want), "%s/aws.so", inst);
    assert_string_equal(path_of(ctx, "aws"), want);
    assert_int_equal(info_of(ctx, "aws")->state, VP_PROVIDER_LOADED);
    snprintf(want, sizeof(want),
             "provider aws: using the installed %s/aws.so, not %s/aws.so from "
             "VAULTPLUG_PLUGIN_PATH (a built-in provider is replaced only when the "
             "administrator's configuration sets allow_provider_override)",
             inst, env);
    if (strstr(logged, want) == NULL)
        fail_msg("log lacks '%s':\n%s", want, logged);
    snprintf(want, sizeof(want),
             "scheme 'hcp' belongs to the installed provider 'hashicorp' (%s/hashicorp.so); "
             "%s/hcp.so comes from VAULTPLUG_PLUGIN_PATH and may not take it (the "
             "administrator's configuration can allow this with allow_provider_override)",
             inst, env);
    /* (hcp:// itself is served by the installed hashicorp's alias, see below.) */
    assert_int_equal(info_of(ctx, "hcp")->state, VP_PROVIDER_FAILED);
    if (strcmp(info_of(ctx, "hcp")->reason, want) != 0)
        fail_msg("hcp reason '%s', want '%s'", info_of(ctx, "hcp")->reason, want);
    snprintf(want, sizeof(want), "scheme 'aws' belongs to the installed provider 'aws'");
    expect_failed(ctx, "aaa", want);
    fetch_ok(ctx, "hcp://name", "hashicorp");
    fetch_ok(ctx, "aws://name", "aws");
    vp_ctx_free(ctx);

    /* The administrator may allow the variable to override built-in providers. */
    char cfg[1024];
    snprintf(cfg, sizeof(cfg), "%s/config.json", inst);
    FILE *f = fopen(cfg, "w");
    assert_non_null(f);
    fputs("{\"allow_provider_override\": true}", f);
    fclose(f);
    setenv("VAULTPLUG_SYSTEM_CONFIG", cfg, 1);
    assert_int_equal(vp_ctx_new(&o, &ctx, &err), 0);
    snprintf(want, sizeof(want), "%s/aws.so", env);
    assert_string_equal(path_of(ctx, "aws"), want);
    assert_int_equal(info_of(ctx, "hcp")->state, VP_PROVIDER_LOADED);
    /* hcp.so's own name beats the installed hashicorp's alias: hashicorp is refused. */
    fetch_ok(ctx, "hcp://name", "hcp");
    assert_int_equal(info_of(ctx, "hashicorp")->state, VP_PROVIDER_FAILED);
    assert_non_null(strstr(info_of(ctx, "hashicorp")->reason, "scheme 'hcp' is already served"));
    vp_ctx_free(ctx);
    restore_system_config();
    unlink(cfg);

    /* The application's own plugin_dirs are its explicit choice: they keep precedence. */
    const char *const dirs[] = {env, NULL};
    o.plugin_dirs = dirs;
    o.ignore_env_plugin_path = 1;
    assert_int_equal(vp_ctx_new(&o, &ctx, &err), 0);
    snprintf(want, sizeof(want), "%s/aws.so", env);
    assert_string_equal(path_of(ctx, "aws"), want);
    assert_int_equal(info_of(ctx, "hcp")->state, VP_PROVIDER_LOADED);
    vp_ctx_free(ctx);

    unsetenv("VAULTPLUG_PLUGIN_PATH");
    vp__loader_set_installed_dir(NULL);
    drop_dir(inst);
    drop_dir(env);
}

/* ---- the administrator's policy (applied by the library to every host) -------------------- */

static void write_file(const char *path, const char *text)
{
    FILE *f = fopen(path, "w");
    assert_non_null(f);
    fputs(text, f);
    fclose(f);
}

/* A context over the test modules with the given host list and opt-out, log captured. */
static int policy_ctx(const char *const *enabled, int ignore_admin, vp_ctx **ctx, vp_error *err)
{
    vp_options o;
    vp_options_init(&o);
    o.plugin_dirs = mods_dirs;
    o.ignore_env_plugin_path = 1;
    o.no_default_plugin_dir = 1;
    o.enabled_providers = enabled;
    o.ignore_admin_policy = ignore_admin;
    o.log_fn = log_capture;
    logged[0] = '\0';
    *ctx = NULL;
    return vp_ctx_new(&o, ctx, err);
}

static void test_admin_policy(void **state)
{
    (void)state;
    char *dir = mktmp();
    char cfg[1024], want[2048];
    snprintf(cfg, sizeof(cfg), "%s/config.json", dir);
    setenv("VAULTPLUG_SYSTEM_CONFIG", cfg, 1);
    vp_ctx *ctx = NULL;
    vp_error err;

    /* No file: no ceiling. */
    assert_int_equal(policy_ctx(NULL, 0, &ctx, &err), 0);
    assert_int_equal(info_of(ctx, "ltserial")->state, VP_PROVIDER_LOADED);
    vp_ctx_free(ctx);

    /* The ceiling applies to a host that enables nothing itself. */
    write_file(cfg, "{\"enabled_providers\": [\"ltgood\"], \"proxy\": \"cli-only\"}");
    assert_int_equal(policy_ctx(NULL, 0, &ctx, &err), 0);
    assert_int_equal(info_of(ctx, "ltgood")->state, VP_PROVIDER_LOADED);
    assert_int_equal(info_of(ctx, "ltserial")->state, VP_PROVIDER_DISABLED);
    snprintf(want, sizeof(want), "not enabled by the administrator's configuration (%s)", cfg);
    assert_string_equal(info_of(ctx, "ltserial")->reason, want);
    assert_int_equal(vp_provider_check(ctx, "ltserial", &err), VP_ENOTFOUND);
    assert_non_null(strstr(err.message, "installed but not enabled by the administrator's"));
    vp_ctx_free(ctx);

    /* ... and to one that enables more: narrowed, with a warning per name. */
    const char *const both[] = {"ltgood", "ltserial", NULL};
    assert_int_equal(policy_ctx(both, 0, &ctx, &err), 0);
    assert_int_equal(info_of(ctx, "ltgood")->state, VP_PROVIDER_LOADED);
    assert_int_equal(info_of(ctx, "ltserial")->state, VP_PROVIDER_DISABLED);
    snprintf(want, sizeof(want),
             "provider 'ltserial' is not enabled by the administrator's configuration %s: it is "
             "not loaded",
             cfg);
    if (strstr(logged, want) == NULL)
        fail_msg("log lacks '%s':\n%s", want, logged);
    vp_ctx_free(ctx);

    /* Narrowed to nothing: said as such. */
    const char *const other[] = {"ltserial", NULL};
    assert_int_equal(policy_ctx(other, 0, &ctx, &err), 0);
    assert_int_equal(info_of(ctx, "ltgood")->state, VP_PROVIDER_DISABLED);
    assert_int_equal(info_of(ctx, "ltserial")->state, VP_PROVIDER_DISABLED);
    snprintf(want, sizeof(want),
             "no provider is enabled: the providers asked for (ltserial) are all outside the "
             "administrator's enabled_providers (ltgood) in %s",
             cfg);
    if (strstr(logged, want) == NULL)
        fail_msg("log lacks '%s':\n%s", want, logged);
    vp_ctx_free(ctx);

    /* A host may opt out only when the administrator allows it. */
    assert_int_equal(policy_ctx(NULL, 1, &ctx, &err), 0);
    assert_int_equal(info_of(ctx, "ltserial")->state, VP_PROVIDER_DISABLED);
    assert_non_null(strstr(logged, "which does not allow it (allow_host_override)"));
    vp_ctx_free(ctx);
    write_file(cfg, "{\"enabled_providers\": [\"ltgood\"], \"allow_host_override\": true}");
    assert_int_equal(policy_ctx(NULL, 1, &ctx, &err), 0);
    assert_int_equal(info_of(ctx, "ltserial")->state, VP_PROVIDER_LOADED);
    vp_ctx_free(ctx);
    assert_int_equal(policy_ctx(other, 1, &ctx, &err), 0); /* the host's own list still counts */
    assert_int_equal(info_of(ctx, "ltgood")->state, VP_PROVIDER_DISABLED);
    assert_string_equal(info_of(ctx, "ltgood")->reason, "");
    assert_int_equal(info_of(ctx, "ltserial")->state, VP_PROVIDER_LOADED);
    vp_ctx_free(ctx);
    assert_int_equal(policy_ctx(NULL, 0, &ctx, &err), 0); /* not asked: the ceiling applies */
    assert_int_equal(info_of(ctx, "ltserial")->state, VP_PROVIDER_DISABLED);
    vp_ctx_free(ctx);

    /* A policy that cannot be read is an error naming the file, not silently no policy. */
    const struct {
        const char *text, *msg;
    } bad[] = {
        {"{\"enabled_providers\": \"ltgood\"}", "\"enabled_providers\" must be an array"},
        {"{\"enabled_providers\": [\"\"]}", "\"enabled_providers\" must be an array"},
        {"{\"allow_host_override\": 1}", "\"allow_host_override\" must be true or false"},
        {"{\"enabled_providers\": [", "not a JSON object (unexpected end of data)"},
        {"[1]", "not a JSON object (wrong type)"},
        {"{} x", "not a JSON object"},
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        write_file(cfg, bad[i].text);
        assert_int_equal(policy_ctx(NULL, 0, &ctx, &err), VP_EINVAL);
        assert_null(ctx);
        snprintf(want, sizeof(want), "%s: ", cfg);
        if (strstr(err.message, want) == NULL || strstr(err.message, bad[i].msg) == NULL)
            fail_msg("'%s': message '%s' lacks '%s' / '%s'", bad[i].text, err.message, want,
                     bad[i].msg);
    }
    setenv("VAULTPLUG_SYSTEM_CONFIG", "/dev/zero", 1); /* never ends: refused, not read */
    assert_int_equal(policy_ctx(NULL, 0, &ctx, &err), VP_EIO);
    assert_non_null(strstr(err.message, "/dev/zero: not a regular file"));
    setenv("VAULTPLUG_SYSTEM_CONFIG", cfg, 1);
    if (geteuid() != 0) { /* root reads it anyway */
        write_file(cfg, "{}");
        assert_int_equal(chmod(cfg, 0), 0);
        assert_int_equal(policy_ctx(NULL, 0, &ctx, &err), VP_EIO);
        assert_non_null(strstr(err.message, "cannot read the administrator's configuration"));
    }
    restore_system_config();
    rm_rf(dir);
    free(dir);
}

static void test_options_validated(void **state)
{
    (void)state;
    vp_options o;
    vp_options_init(&o);
    vp_ctx *ctx = (vp_ctx *)1;
    vp_error err;
    /* Smaller than version 1.0's struct: refused. Any size from 1.0's up is accepted (a
     * program built against an older header; tests/abi/test_abi_sizes.c has the rest). */
    o.size = VP_OPTIONS_SIZE_1_0 - 8;
    assert_int_equal(vp_ctx_new(&o, &ctx, &err), VP_EINVAL);
    assert_null(ctx);
    assert_non_null(strstr(err.message, "vp_options.size"));
    o.size = VP_OPTIONS_SIZE_1_0;
    o.no_default_plugin_dir = 1;
    o.ignore_env_plugin_path = 1;
    assert_int_equal(vp_ctx_new(&o, &ctx, &err), 0);
    vp_ctx_free(ctx);
    vp_options_init(&o);
    o.log_level = 9;
    assert_int_equal(vp_ctx_new(&o, &ctx, &err), VP_EINVAL);
    /* NULL options: defaults (finds whatever the default directory holds). */
    assert_int_equal(vp_ctx_new(NULL, &ctx, &err), 0);
    vp_ctx_free(ctx);
    vp_ctx_free(NULL);
}

/* ---- fetch ------------------------------------------------------------------------------- */

static vp_ctx *good_ctx(void)
{
    const char *const enabled[] = {"ltgood", "ltserial", "ltinitfail", NULL};
    return new_ctx(mods_dirs, enabled);
}

static void fetch_ok(vp_ctx *ctx, const char *uri, const char *want)
{
    vp_buf out = VP_BUF_INIT;
    vp_error err;
    int rc = vp_fetch(ctx, uri, 0, &out, NULL, &err);
    if (rc != 0)
        fail_msg("fetch %s: %d %s", uri, rc, err.message);
    if (strcmp(out.data, want) != 0)
        fail_msg("fetch %s: got '%s', want '%s'", uri, out.data, want);
    vp_buf_free(&out);
}

static void fetch_err(vp_ctx *ctx, const char *uri, int code, const char *needle)
{
    vp_buf out = VP_BUF_INIT;
    vp_error err;
    int rc = vp_fetch(ctx, uri, 0, &out, NULL, &err);
    if (rc != code)
        fail_msg("fetch %s: %d (%s), want %d", uri, rc, err.message, code);
    assert_int_equal(err.code, code);
    if (needle && strstr(err.message, needle) == NULL)
        fail_msg("fetch %s: message '%s' lacks '%s'", uri, err.message, needle);
    assert_null(out.data);
}

static void test_fetch_basics(void **state)
{
    (void)state;
    vp_ctx *ctx = good_ctx();
    fetch_ok(ctx, "ltgood://hello/world", "hello/world");
    fetch_ok(ctx, "LTGOOD://a%20b", "a b");
    fetch_ok(ctx, "ltgood://params?b=2&a=1&b=0", "a=1;b=2;b=0;");
    fetch_err(ctx, "ltgood://notfound", VP_ENOTFOUND, "ltgood: secret notfound not found");
    fetch_err(ctx, "ltgood://badstatus", VP_EINTERNAL, "ltgood: ");
    fetch_err(ctx, "ltgood://novalue", VP_EINTERNAL, "returned no value");
    fetch_err(ctx, "nope://x", VP_ENOTFOUND, "no provider for scheme 'nope' (known: ");
    fetch_err(ctx, "nope://x", VP_ENOTFOUND, "goodscheme");
    fetch_err(ctx, "ltinitfail://x", VP_EUNAVAIL, "init failed");
    fetch_err(ctx, "not a uri", VP_EINVAL, "scheme://path");
    fetch_err(ctx, "ltgood://prod@x", VP_ENOTFOUND, "no credential named prod for provider ltgood");

    /* #json-key extraction */
    fetch_ok(ctx, "ltgood://json#password", "p");
    fetch_ok(ctx, "ltgood://json#n", "5");
    fetch_ok(ctx, "ltgood://json#o", "{\"a\":[1,null]}");
    fetch_err(ctx, "ltgood://json#missing", VP_ENOTFOUND,
              "secret ltgood://json#missing has no key 'missing'");
    fetch_err(ctx, "ltgood://plain#k", VP_EPROTO, "is not a JSON object");

    /* metadata */
    vp_buf out = VP_BUF_INIT;
    vp_fetch_meta meta;
    vp_error err;
    assert_int_equal(vp_fetch(ctx, "ltgood://meta", 0, &out, &meta, &err), 0);
    assert_int_equal(meta.ttl_s, 60);
    assert_int_equal(meta.expiry_unix_ms, 1234);
    assert_string_equal(meta.version, "v7");
    vp_buf_free(&out);
    assert_int_equal(vp_fetch(ctx, "ltgood://x", 0, &out, &meta, &err), 0);
    assert_int_equal(meta.ttl_s, UINT32_MAX);
    assert_string_equal(meta.version, "");
    vp_buf_free(&out);

    assert_int_equal(vp_provider_check(ctx, "ltgood", &err), 0);
    assert_int_equal(vp_provider_check(ctx, "goodscheme", &err), 0);
    vp_ctx_free(ctx);
}

static void test_credentials_and_instances(void **state)
{
    (void)state;
    vp_ctx *ctx = good_ctx();
    vp_error err;
    /* The default chain instance is created once and cached. */
    fetch_ok(ctx, "ltgood://stats", "configures=1");
    fetch_ok(ctx, "ltgood://stats", "configures=1");

    vp_field f[] = {{"user", "alice"}, {"password", "hunter2-secret"}, {"region", "eu-west-1"}};
    vp_cred_spec spec = {"prod", "basic", f, 3};
    assert_int_equal(vp_cred_set(ctx, "ltgood", &spec, &err), 0);
    fetch_ok(ctx, "ltgood://prod@whoami", "user=alice cred=prod");
    fetch_ok(ctx, "ltgood://prod@stats", "configures=2");
    fetch_ok(ctx, "ltgood://prod@stats", "configures=2");

    /* The secret field is masked in every message; the plain one is not. */
    fetch_err(ctx, "ltgood://prod@leak", VP_EAUTH, "ltgood: password [REDACTED] rejected");
    vp_buf out = VP_BUF_INIT;
    assert_int_equal(vp_fetch(ctx, "ltgood://prod@leak", 0, &out, NULL, &err), VP_EAUTH);
    assert_null(strstr(err.message, "hunter2-secret"));

    /* Replacing the credential drops the instance. */
    f[0].value = "bob";
    assert_int_equal(vp_cred_set(ctx, "ltgood", &spec, &err), 0);
    fetch_ok(ctx, "ltgood://prod@whoami", "user=bob cred=prod");
    fetch_ok(ctx, "ltgood://prod@stats", "configures=3");

    /* validate */
    assert_int_equal(vp_validate(ctx, "ltgood", "prod", 0, &err), 0);
    assert_int_equal(vp_validate(ctx, "ltgood", "", 0, &err), 0);
    assert_int_equal(vp_validate(ctx, "ltgood", "nobody", 0, &err), VP_ENOTFOUND);
    assert_int_equal(vp_validate(ctx, "ltinitfail", "", 0, &err), VP_EUNAVAIL);
    assert_non_null(strstr(err.message, "init failed"));
    assert_int_equal(vp_validate(ctx, "ltnope", "", 0, &err), VP_ENOTFOUND);
    vp_field badf[] = {{"user", "bad"}, {"password", "pw-bad-1234"}};
    vp_cred_spec bad = {"bad", "basic", badf, 2};
    assert_int_equal(vp_cred_set(ctx, "ltgood", &bad, &err), 0);
    assert_int_equal(vp_validate(ctx, "ltgood", "bad", 0, &err), VP_EAUTH);
    assert_string_equal(err.message, "ltgood: user bad is not allowed");

    /* configure failure is reported and not cached */
    vp_field reff[] = {{"user", "refuse"}, {"password", "whatever-pw"}};
    vp_cred_spec refuse = {"refuse", "basic", reff, 2};
    assert_int_equal(vp_cred_set(ctx, "ltgood", &refuse, &err), 0);
    fetch_err(ctx, "ltgood://refuse@x", VP_EAUTH, "ltgood: user refused");
    fetch_err(ctx, "ltgood://refuse@x", VP_EAUTH, "user refused");

    /* Credential validation against the provider's types. */
    vp_cred_spec badname = {"bad name", "basic", f, 3};
    assert_int_equal(vp_cred_set(ctx, "ltgood", &badname, &err), VP_EINVAL);
    vp_cred_spec badtype = {"x", "oauth", f, 3};
    assert_int_equal(vp_cred_set(ctx, "ltgood", &badtype, &err), VP_EINVAL);
    assert_non_null(strstr(err.message, "no credential type 'oauth'"));
    vp_cred_spec missing = {"x", "basic", f, 1};
    assert_int_equal(vp_cred_set(ctx, "ltgood", &missing, &err), VP_EINVAL);
    assert_non_null(strstr(err.message, "requires field 'password'"));
    assert_int_equal(vp_cred_set(ctx, "ltunknown", &spec, &err), VP_EINVAL);

    /* unset */
    assert_int_equal(vp_cred_unset(ctx, "ltgood", "prod", &err), 0);
    fetch_err(ctx, "ltgood://prod@whoami", VP_ENOTFOUND, "no credential named prod");
    assert_int_equal(vp_cred_unset(ctx, "ltgood", "prod", &err), VP_ENOTFOUND);
    vp_ctx_free(ctx);
}

/* ---- threads ----------------------------------------------------------------------------- */

typedef struct thr {
    vp_ctx *ctx;
    int id;
    int failures;
} thr;

static void *fetch_loop(void *arg)
{
    thr *t = arg;
    char uri[64];
    for (int i = 0; i < 200; i++) {
        const char *scheme = (i + t->id) % 2 ? "ltgood" : "ltserial";
        snprintf(uri, sizeof(uri), "%s://%s%s/%d", scheme, i % 3 == 0 ? "prod@" : "",
                 i % 10 == 0 ? "slow" : "v", t->id);
        vp_buf out = VP_BUF_INIT;
        vp_error err;
        int rc = vp_fetch(t->ctx, uri, 0, &out, NULL, &err);
        /* "slow/N" echoes its path; every fetch must succeed */
        if (rc != 0 || out.data == NULL || strstr(out.data, "/") == NULL)
            t->failures++;
        vp_buf_free(&out);
        if (t->id == 0 && i % 20 == 0) { /* replace a credential while others use it */
            vp_field f[] = {{"user", i % 40 ? "u1" : "u2"}, {"password", "thread-pw-secret"}};
            vp_cred_spec spec = {"prod", "basic", f, 2};
            if (vp_cred_set(t->ctx, "ltgood", &spec, &err) != 0 ||
                vp_cred_set(t->ctx, "ltserial", &spec, &err) != 0)
                t->failures++;
        }
    }
    return NULL;
}

static void test_threads(void **state)
{
    (void)state;
    vp_ctx *ctx = good_ctx();
    vp_error err;
    vp_field f[] = {{"user", "u0"}, {"password", "thread-pw-secret"}};
    vp_cred_spec spec = {"prod", "basic", f, 2};
    assert_int_equal(vp_cred_set(ctx, "ltgood", &spec, &err), 0);
    assert_int_equal(vp_cred_set(ctx, "ltserial", &spec, &err), 0);
    enum { N = 8 };
    pthread_t th[N];
    thr t[N];
    for (int i = 0; i < N; i++) {
        t[i] = (thr){ctx, i, 0};
        assert_int_equal(pthread_create(&th[i], NULL, fetch_loop, &t[i]), 0);
    }
    for (int i = 0; i < N; i++) {
        pthread_join(th[i], NULL);
        assert_int_equal(t[i].failures, 0);
    }
    vp_ctx_free(ctx);
}

static void *serial_loop(void *arg)
{
    thr *t = arg;
    for (int i = 0; i < 100; i++) {
        vp_buf out = VP_BUF_INIT;
        vp_error err;
        if (vp_fetch(t->ctx, i % 5 ? "ltserial://v" : "ltserial://slow", 0, &out, NULL, &err) != 0)
            t->failures++;
        vp_buf_free(&out);
    }
    return NULL;
}

static void test_serialised_provider(void **state)
{
    (void)state;
    /* One instance (default chain) hammered from many threads: never two calls at once. */
    vp_ctx *ctx = good_ctx();
    enum { N = 8 };
    pthread_t th[N];
    thr t[N];
    for (int i = 0; i < N; i++) {
        t[i] = (thr){ctx, i, 0};
        assert_int_equal(pthread_create(&th[i], NULL, serial_loop, &t[i]), 0);
    }
    for (int i = 0; i < N; i++) {
        pthread_join(th[i], NULL);
        assert_int_equal(t[i].failures, 0);
    }
    fetch_ok(ctx, "ltserial://violations", "violations=0");
    fetch_ok(ctx, "ltserial://stats", "configures=1");
    vp_ctx_free(ctx);
}

static void test_alloc_failures_in_provider_paths(void **state)
{
    (void)state;
    /* Fail the Nth host allocation on every N a fetch makes: each run either succeeds or fails
     * cleanly with VP_ENOMEM (never a crash, a wrong value or a leak under ASan). */
    int successes = 0, nomem = 0;
    for (uint64_t n = 1; n <= 12; n++) {
        vp_ctx *ctx = good_ctx();
        vp_buf out = VP_BUF_INIT;
        vp_error err;
        vp__fault_set(&ctx->fault, n); /* counting from here, not from vp_ctx_new */
        int rc = vp_fetch(ctx, "ltgood://json#o", 0, &out, NULL, &err);
        vp__fault_set(&ctx->fault, 0);
        if (rc == 0) {
            assert_string_equal(out.data, "{\"a\":[1,null]}");
            successes++;
        } else {
            if (rc != VP_ENOMEM)
                fail_msg("n=%d: %d %s", (int)n, rc, err.message);
            nomem++;
        }
        vp_buf_free(&out);
        vp_ctx_free(ctx);
    }
    assert_true(nomem >= 3);     /* configure, secret_set, json parse/dump all allocate */
    assert_true(successes >= 1); /* past the last allocation the fetch works again */
}

/* vp_options.fail_alloc_after is per context: it counts the allocations this context's
 * providers make through the host table, from vp_ctx_new on, and never another context's. */
static void test_fail_alloc_after_is_per_context(void **state)
{
    (void)state;
    const char *const enabled[] = {"ltgood", NULL};
    vp_ctx *other = new_ctx(mods_dirs, enabled);
    vp_options o;
    vp_options_init(&o);
    o.plugin_dirs = mods_dirs;
    o.ignore_env_plugin_path = 1;
    o.no_default_plugin_dir = 1;
    o.enabled_providers = enabled;
    o.fail_alloc_after = 2; /* ltgood's init makes the first; the second fails */
    vp_ctx *ctx = NULL;
    vp_error err;
    assert_int_equal(vp_ctx_new(&o, &ctx, &err), 0);
    assert_int_equal(info_of(ctx, "ltgood")->state, VP_PROVIDER_LOADED);

    /* The other context, before and while this one is armed: untouched. */
    for (int i = 0; i < 8; i++)
        fetch_ok(other, "ltgood://json#o", "{\"a\":[1,null]}");

    vp_buf out = VP_BUF_INIT;
    assert_int_equal(vp_fetch(ctx, "ltgood://json#o", 0, &out, NULL, &err), VP_ENOMEM);
    assert_null(out.data);
    fetch_ok(ctx, "ltgood://json#o", "{\"a\":[1,null]}"); /* only the second one failed */
    fetch_ok(other, "ltgood://hello/world", "hello/world");
    vp_ctx_free(ctx);
    vp_ctx_free(other);
}

static int find_ltdl(struct dl_phdr_info *info, size_t size, void *ud)
{
    (void)size;
    if (info->dlpi_name != NULL && strstr(info->dlpi_name, "libltdl") != NULL)
        *(int *)ud = 1;
    return 0;
}

/* Modules are opened with plain dlopen (docs/design.md, "The plugin ABI"): loading maps no
 * libltdl, and a refused file still gets the real reason, never ltdl's "file not found". */
static void test_plain_dlopen_reasons(void **state)
{
    (void)state;
    char *dir = mktmp();
    char p[1024];
    snprintf(p, sizeof(p), "%s/ltgood.so", dir);
    copy_file(LT_MODS_DIR "/ltgood.so", p, 0644);
    snprintf(p, sizeof(p), "%s/ltexe.so", dir); /* ELF, but an executable: dlopen says why */
    copy_file("/proc/self/exe", p, 0755);
    snprintf(p, sizeof(p), "%s/lttext.so", dir);
    FILE *f = fopen(p, "w");
    assert_non_null(f);
    fputs("not a library\n", f);
    fclose(f);
    const char *const dirs[] = {dir, NULL};
    vp_ctx *ctx = new_ctx(dirs, NULL);
    assert_int_equal(info_of(ctx, "ltgood")->state, VP_PROVIDER_LOADED);
    fetch_ok(ctx, "ltgood://hello/world", "hello/world");
    expect_failed(ctx, "lttext", "lttext.so: not an ELF shared object");
    expect_failed(ctx, "ltexe", "cannot load ");
    const char *why = strstr(info_of(ctx, "ltexe")->reason, "ltexe.so: ");
    assert_non_null(why);
    assert_null(strstr(why, "not an ELF"));
    assert_null(strstr(why, "file not found"));
    assert_true(strlen(why) > strlen("ltexe.so: ") + 5); /* the dynamic linker's own words */
    vp_ctx_free(ctx);
    int ltdl = 0;
    dl_iterate_phdr(find_ltdl, &ltdl);
    assert_int_equal(ltdl, 0);
    rm_rf(dir);
    free(dir);
}

static int64_t now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* Issue 18, item 6: providers whose init or fetch never returns (and ignores cancellation)
 * fail their own references within the deadline; the other providers keep working. */
static void test_hard_deadlines(void **state)
{
    (void)state;
    const char *const dirs[] = {LT_MODS_DIR, LT_BROKEN_DIR, NULL};
    const char *const enabled[] = {"ltgood", "ltinithang", "ltfetchhang", NULL};
    vp_options o;
    vp_options_init(&o);
    o.plugin_dirs = dirs;
    o.ignore_env_plugin_path = 1;
    o.no_default_plugin_dir = 1;
    o.enabled_providers = enabled;
    o.http_timeout_ms = 300; /* the default deadline, init's too */
    o.retry_attempts = 1;
    vp_ctx *ctx = NULL;
    vp_error err;
    assert_int_equal(vp_ctx_new(&o, &ctx, &err), 0);
    /* Nothing initialised yet: the broken ones do not stop the good one. */
    fetch_ok(ctx, "ltgood://x", "x");

    int64_t t0 = now_ms();
    fetch_err(ctx, "ltinithang://x", VP_ETIMEDOUT, "ltinithang: init did not finish within 0.3 s");
    assert_true(now_ms() - t0 < 2000);
    /* It stays unavailable, with the reason, and answers at once. */
    t0 = now_ms();
    fetch_err(ctx, "ltinithang://x", VP_EUNAVAIL, "init did not finish within 0.3 s");
    assert_true(now_ms() - t0 < 200);
    assert_int_equal(vp_provider_check(ctx, "ltinithang", &err), VP_EUNAVAIL);
    expect_failed(ctx, "ltinithang", "init did not finish");
    assert_int_equal(info_of(ctx, "ltinithang")->status, VP_ETIMEDOUT);

    /* A fetch that ignores its deadline: vp_fetch, then vp_resolve, return in time. */
    fetch_ok(ctx, "ltfetchhang://ok", "ok");
    t0 = now_ms();
    fetch_err(ctx, "ltfetchhang://stuck", VP_ETIMEDOUT,
              "ltfetchhang: fetch did not finish by its deadline and ignored cancellation");
    assert_true(now_ms() - t0 < 2000);
    fetch_err(ctx, "ltfetchhang://ok", VP_EUNAVAIL, "ignored its deadline");
    expect_failed(ctx, "ltfetchhang", "ignored its deadline");
    fetch_ok(ctx, "ltgood://still-works", "still-works");

    vp_ctx *rctx = NULL;
    assert_int_equal(vp_ctx_new(&o, &rctx, &err), 0);
    vp_buf out = VP_BUF_INIT;
    t0 = now_ms();
    assert_int_equal(vp_resolve(rctx, "ltfetchhang://stuck2", 300, &out, &err), VP_ETIMEDOUT);
    assert_true(now_ms() - t0 < 2000);
    assert_non_null(strstr(err.message, "ignored cancellation"));
    assert_int_equal(vp_resolve(rctx, "ltgood://y", 300, &out, &err), 0);
    assert_string_equal(out.data, "y");
    vp_buf_free(&out);

    /* Freeing a context with a stuck call returns at once (the call's memory is kept). */
    t0 = now_ms();
    vp_ctx_free(rctx);
    vp_ctx_free(ctx);
    assert_true(now_ms() - t0 < 1000);
}

/* A list() that ignores its deadline: vp_list returns in time, on a runner thread like a
 * fetch, and the provider is unavailable afterwards. */
static void test_list_deadline(void **state)
{
    (void)state;
    const char *const dirs[] = {LT_BROKEN_DIR, NULL};
    const char *const enabled[] = {"ltfetchhang", NULL};
    vp_options o;
    vp_options_init(&o);
    o.plugin_dirs = dirs;
    o.ignore_env_plugin_path = 1;
    o.no_default_plugin_dir = 1;
    o.enabled_providers = enabled;
    vp_ctx *ctx = NULL;
    vp_error err;
    assert_int_equal(vp_ctx_new(&o, &ctx, &err), 0);
    char **names = NULL;
    size_t n = 0;
    assert_int_equal(vp_list(ctx, "ltfetchhang://ok", 300, &names, &n, &err), 0);
    assert_int_equal(n, 2);
    assert_string_equal(names[0], "ok/a"); /* sorted by the host */
    assert_string_equal(names[1], "ok/b");
    vp_list_free(names, n);
    int64_t t0 = now_ms();
    assert_int_equal(vp_list(ctx, "ltfetchhang://stuck/", 300, &names, &n, &err), VP_ETIMEDOUT);
    assert_true(now_ms() - t0 < 2000);
    assert_null(names);
    assert_int_equal(n, 0);
    assert_non_null(strstr(err.message, "ltfetchhang: list did not finish by its deadline and "
                                        "ignored cancellation"));
    assert_int_equal(vp_list(ctx, "ltfetchhang://ok", 300, &names, &n, &err), VP_EUNAVAIL);
    assert_non_null(strstr(err.message, "ignored its deadline"));
    expect_failed(ctx, "ltfetchhang", "a list ignored its deadline");
    t0 = now_ms();
    vp_ctx_free(ctx); /* the abandoned call keeps its prefix and output */
    assert_true(now_ms() - t0 < 1000);
}

static int open_url_ok(void *ud, const char *url)
{
    (void)ud, (void)url;
    return 0;
}

/* A sign-in that never returns: vp_login returns by its timeout. */
static void test_login_deadline(void **state)
{
    (void)state;
    const char *const dirs[] = {LT_BROKEN_DIR, NULL};
    const char *const enabled[] = {"ltloginhang", NULL};
    vp_options o;
    vp_options_init(&o);
    o.plugin_dirs = dirs;
    o.ignore_env_plugin_path = 1;
    o.no_default_plugin_dir = 1;
    o.enabled_providers = enabled;
    o.open_url = open_url_ok;
    vp_ctx *ctx = NULL;
    vp_error err;
    assert_int_equal(vp_ctx_new(&o, &ctx, &err), 0);
    int64_t t0 = now_ms();
    assert_int_equal(vp_login(ctx, "ltloginhang", "me", NULL, 0, 300, NULL, &err), VP_ETIMEDOUT);
    assert_true(now_ms() - t0 < 2000);
    assert_non_null(strstr(err.message, "ltloginhang: login did not finish by its deadline"));
    vp_ctx_free(ctx);
}

int main(void)
{
    save_system_config();
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_broken_modules_refused),
        cmocka_unit_test(test_insecure_files_refused),
        cmocka_unit_test(test_enabled_list),
        cmocka_unit_test(test_env_plugin_path),
        cmocka_unit_test(test_own_name_beats_alias),
        cmocka_unit_test(test_installed_builtin_beats_env),
        cmocka_unit_test(test_admin_policy),
        cmocka_unit_test(test_options_validated),
        cmocka_unit_test(test_fetch_basics),
        cmocka_unit_test(test_credentials_and_instances),
        cmocka_unit_test(test_threads),
        cmocka_unit_test(test_serialised_provider),
        cmocka_unit_test(test_alloc_failures_in_provider_paths),
        cmocka_unit_test(test_plain_dlopen_reasons),
        cmocka_unit_test(test_fail_alloc_after_is_per_context),
        cmocka_unit_test(test_hard_deadlines),
        cmocka_unit_test(test_login_deadline),
        cmocka_unit_test(test_list_deadline),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
