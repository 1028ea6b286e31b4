/*
 * test_abi_sizes - the size-versioned structs of the public API (vp_options, vp_render_params)
 * as programs built against other header versions pass them, through the shared library.
 *
 * A program built against 1.0 passes the 1.0 struct: the frozen copies below are 1.0's layouts
 * (LITERAL copies: never edit them when the headers grow). Each is handed over in a heap block of
 * exactly its size, so a library that read past what the caller owns is caught by ASan. A
 * program built against a later header passes a larger struct ("future" fields appended).
 */
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "vaultplug/vaultplug.h"

static int failures;
#define EXPECT(c)                                                           \
    do {                                                                    \
        if (!(c)) {                                                         \
            fprintf(stderr, "%s:%d: FAILED: %s\n", __FILE__, __LINE__, #c); \
            failures++;                                                     \
        }                                                                   \
    } while (0)

/* ---- vp_options as of 1.0 ----------------------------------------------------------------- */
typedef struct vp_options_1_0 {
    size_t size;
    const char *const *plugin_dirs;
    int ignore_env_plugin_path;
    int no_default_plugin_dir;
    const char *const *enabled_providers;
    vp_log_fn log_fn;
    void *log_ud;
    int log_level;
    const char *ca_file;
    const char *ca_path;
    const char *proxy;
    uint32_t http_timeout_ms;
    size_t http_max_response;
    uint32_t http_connect_timeout_ms;
    vp_clock_fn wall_clock_ms;
    vp_clock_fn monotonic_clock_ms;
    void *clock_ud;
    vp_open_url_fn open_url;
    vp_notify_fn notify;
    void *ui_ud;
    uint64_t fail_alloc_after;
    int32_t cache_ttl_s;
    uint32_t cache_max_entries;
    size_t cache_max_bytes;
    int32_t negative_ttl_ms;
    uint32_t fetch_concurrency;
    uint32_t provider_concurrency;
    uint32_t retry_attempts;
    uint32_t retry_base_ms;
    uint32_t retry_max_ms;
    int stale_if_error;
    uint32_t max_stale_s;
} vp_options_1_0;

/* The current header still starts with 1.0's layout. */
#define SAME_OFF(f) _Static_assert(offsetof(vp_options, f) == offsetof(vp_options_1_0, f), #f)
SAME_OFF(plugin_dirs);
SAME_OFF(no_default_plugin_dir);
SAME_OFF(log_level);
SAME_OFF(http_connect_timeout_ms);
SAME_OFF(fail_alloc_after);
SAME_OFF(cache_max_bytes);
SAME_OFF(max_stale_s);
_Static_assert(VP_OPTIONS_SIZE_1_0 == offsetof(vp_options_1_0, max_stale_s) + sizeof(uint32_t),
               "VP_OPTIONS_SIZE_1_0");

/* ---- vp_render_params as of 1.0 ----------------------------------------------------------- */
typedef struct vp_render_params_1_0 {
    size_t size;
    vp_render_mode mode;
    uint32_t flags;
    const vp_env *env;
    const vp_vault_source *vault;
    const vp_resolver *resolver;
    vp_ctx *ctx;
    const vp_template_limits *limits;
} vp_render_params_1_0;
_Static_assert(VP_RENDER_PARAMS_SIZE_1_0 ==
                   offsetof(vp_render_params_1_0, limits) + sizeof(const vp_template_limits *),
               "VP_RENDER_PARAMS_SIZE_1_0");

static const char *const no_dirs[] = {NULL};

/* A context from options handed over as `size` bytes copied from src. */
static int ctx_with(const void *src, size_t size, vp_error *err)
{
    void *block = malloc(size);
    memcpy(block, src, size);
    vp_ctx *ctx = NULL;
    int rc = vp_ctx_new(block, &ctx, err);
    free(block);
    if (rc == 0) {
        EXPECT(ctx != NULL);
        vp_ctx_free(ctx);
    } else {
        EXPECT(ctx == NULL);
    }
    return rc;
}

static void test_options_sizes(void)
{
    vp_error err;
    vp_options_1_0 old;
    memset(&old, 0, sizeof(old));
    old.plugin_dirs = no_dirs;
    old.ignore_env_plugin_path = 1;
    old.no_default_plugin_dir = 1;

    /* A 1.0 program: exactly up to the last 1.0 member, and its sizeof. */
    old.size = offsetof(vp_options_1_0, max_stale_s) + sizeof(old.max_stale_s);
    EXPECT(old.size <= sizeof(vp_options));
    EXPECT(ctx_with(&old, old.size, &err) == 0);
    old.size = sizeof(old);
    EXPECT(ctx_with(&old, old.size, &err) == 0);
    /* 1.0's options are still checked. */
    old.log_level = 9;
    EXPECT(ctx_with(&old, old.size, &err) == VP_EINVAL);
    EXPECT(strstr(err.message, "log_level 9") != NULL);
    old.log_level = 0;

    /* Smaller than 1.0: refused, and the message says what to do. */
    old.size = VP_OPTIONS_SIZE_1_0 - 8;
    EXPECT(ctx_with(&old, old.size, &err) == VP_EINVAL);
    EXPECT(strstr(err.message, "vp_options.size is") != NULL);
    EXPECT(strstr(err.message, "vp_options_init") != NULL);
    old.size = 0;
    EXPECT(ctx_with(&old, sizeof(old), &err) == VP_EINVAL);

    /* A program built against a later header: unknown fields zero = accepted. */
    struct {
        vp_options cur;
        uint64_t future_a;
        const char *future_b;
    } fut;
    memset(&fut, 0, sizeof(fut));
    vp_options_init(&fut.cur);
    fut.cur.size = sizeof(fut);
    fut.cur.plugin_dirs = no_dirs;
    fut.cur.ignore_env_plugin_path = 1;
    fut.cur.no_default_plugin_dir = 1;
    EXPECT(ctx_with(&fut, sizeof(fut), &err) == 0);
    fut.future_b = "x"; /* a field this library does not know is set: refused, not ignored */
    EXPECT(ctx_with(&fut, sizeof(fut), &err) == VP_EINVAL);
    EXPECT(strstr(err.message, "does not know") != NULL);
    fut.future_b = NULL;

    /* Absurd sizes are corrupt. */
    unsigned char *big = calloc(1, 64 * 1024 + 8);
    memcpy(big, &fut.cur, sizeof(fut.cur));
    size_t bigsize = 64 * 1024 + 8;
    memcpy(big, &bigsize, sizeof(bigsize));
    EXPECT(ctx_with(big, bigsize, &err) == VP_EINVAL);
    EXPECT(strstr(err.message, "implausible") != NULL);
    free(big);
}

/* Render "hi {{ a }}" with parameters handed over as `size` bytes copied from src. */
static int render_with(const vp_template *t, const void *src, size_t size, vp_buf *out,
                       vp_error *err)
{
    void *block = malloc(size);
    memcpy(block, src, size);
    int rc = vp_template_render(t, block, out, err);
    if (rc == 0) {
        vp_template_refs *refs = NULL;
        EXPECT(vp_template_refs_collect(t, block, &refs, err) == 0);
        EXPECT(vp_template_refs_count(refs) == 0);
        vp_template_refs_free(refs);
    }
    free(block);
    return rc;
}

static void test_render_params_sizes(void)
{
    vp_error err;
    vp_template *t = NULL;
    EXPECT(vp_template_parse("hi {{ a }}", 10, NULL, &t, &err) == 0);
    vp_env *env = NULL;
    EXPECT(vp_env_new(&env) == 0);
    EXPECT(vp_env_add_json(env, "{\"a\": \"there\"}", strlen("{\"a\": \"there\"}"), &err) == 0);
    vp_buf out = VP_BUF_INIT;

    vp_render_params_1_0 old;
    memset(&old, 0, sizeof(old));
    old.mode = VP_RENDER_SEND;
    old.env = env;
    old.size = offsetof(vp_render_params_1_0, limits) + sizeof(old.limits);
    EXPECT(render_with(t, &old, old.size, &out, &err) == 0);
    EXPECT(out.data != NULL && strcmp(out.data, "hi there") == 0);
    vp_buf_free(&out);

    old.size = offsetof(vp_render_params_1_0, env);
    EXPECT(render_with(t, &old, sizeof(old), &out, &err) == VP_EINVAL);
    EXPECT(strstr(err.message, "vp_render_params.size is") != NULL);

    struct {
        vp_render_params cur;
        uint64_t future;
    } fut;
    memset(&fut, 0, sizeof(fut));
    fut.cur.size = sizeof(fut);
    fut.cur.mode = VP_RENDER_SEND;
    fut.cur.env = env;
    EXPECT(render_with(t, &fut, sizeof(fut), &out, &err) == 0);
    EXPECT(out.data != NULL && strcmp(out.data, "hi there") == 0);
    vp_buf_free(&out);
    fut.future = 1;
    EXPECT(render_with(t, &fut, sizeof(fut), &out, &err) == VP_EINVAL);
    EXPECT(strstr(err.message, "does not know") != NULL);

    vp_env_free(env);
    vp_template_free(t);
}

int main(void)
{
    test_options_sizes();
    test_render_params_sizes();
    if (failures != 0) {
        fprintf(stderr, "%d check(s) failed\n", failures);
        return 1;
    }
    puts("all size checks passed");
    return 0;
}
