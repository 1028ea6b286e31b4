/*
 * vaultplug-host-example: the smallest complete application that embeds libvaultplug. Copy it
 * to start a host application.
 *
 *   vaultplug-host-example [--plugin-dir DIR]... [--log-level LEVEL] TEMPLATE
 *
 * It creates a library context (with a log callback and a URL opener), creates a temporary
 * local vault holding one secret, `api_token` (its value is taken from HOST_EXAMPLE_TOKEN, or a
 * demo value), attaches the vault to the context, renders TEMPLATE once in PREVIEW mode (every
 * secret masked) and once for real, and prints the cache counters. The temporary vault is
 * deleted on exit. LEVEL is error, warn, info (default), debug or trace. Exit status 0, or 1
 * with a message on stderr.
 */
#include <errno.h>
#include <inttypes.h>
#include <spawn.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <unistd.h>

#include <vaultplug/vaultplug.h>

extern char **environ;

#define MAX_PLUGIN_DIRS 8
#define MAX_TEMPLATE    (1024 * 1024)

/* The library calls the log callback from its worker threads too. */
static atomic_uint log_lines;

static void on_log(void *ud, int level, const char *source, const char *message)
{
    static const char *const names[] = {"error", "warn", "info", "debug", "trace"};
    const char *name = level >= 0 && level <= VP_LEVEL_TRACE ? names[level] : "?";
    (void)ud;
    atomic_fetch_add(&log_lines, 1);
    /* The message has been through the library's redactor already: safe to show as it is. */
    fprintf(stderr, "[%s] %s: %s\n", name, source, message);
}

/*
 * Interactive sign-in (e.g. a provider's browser login) asks the host to open a URL. A desktop
 * host hands it to the browser; without a graphical session we say we cannot, and the provider
 * falls back to a flow that needs no browser (a device code shown through on_notify).
 */
static int on_open_url(void *ud, const char *url)
{
    (void)ud;
    if (getenv("DISPLAY") == NULL && getenv("WAYLAND_DISPLAY") == NULL)
        return VP_ENOTSUP;
    char *argv[] = {"xdg-open", (char *)url, NULL};
    pid_t pid;
    if (posix_spawnp(&pid, "xdg-open", NULL, NULL, argv, environ) != 0)
        return VP_ENOTSUP;
    int status;
    while (waitpid(pid, &status, 0) < 0) {
        if (errno != EINTR)
            return VP_ENOTSUP;
    }
    return WIFEXITED(status) && WEXITSTATUS(status) == 0 ? 0 : VP_ENOTSUP;
}

static void on_notify(void *ud, const char *message)
{
    (void)ud;
    fprintf(stderr, "%s\n", message);
}

static int fail(const char *what, int rc, const vp_error *err)
{
    fprintf(stderr, "vaultplug-host-example: %s: %s (%s)\n", what,
            err != NULL && err->message[0] != '\0' ? err->message : vp_strerror(rc),
            vp_err_name(rc));
    return 1;
}

static int parse_level(const char *s)
{
    static const char *const names[] = {"error", "warn", "info", "debug", "trace"};
    for (int i = 0; i <= VP_LEVEL_TRACE; i++) {
        if (strcmp(s, names[i]) == 0)
            return i;
    }
    return -1;
}

/* Reads a whole file into a malloc'd NUL-terminated buffer. */
static char *read_template(const char *path, size_t *len)
{
    FILE *f = fopen(path, "rb");
    if (f == NULL)
        return NULL;
    char *buf = malloc(MAX_TEMPLATE + 1);
    size_t n = buf != NULL ? fread(buf, 1, MAX_TEMPLATE + 1, f) : 0;
    int bad = buf == NULL || ferror(f) || n > MAX_TEMPLATE;
    fclose(f);
    if (bad) {
        free(buf);
        return NULL;
    }
    buf[n] = '\0';
    *len = n;
    return buf;
}

static void print_section(const char *title, const vp_buf *out)
{
    printf("--- %s ---\n", title);
    fwrite(out->data, 1, out->len, stdout);
    if (out->len == 0 || out->data[out->len - 1] != '\n')
        putchar('\n');
}

static int usage(void)
{
    fprintf(stderr, "usage: vaultplug-host-example [--plugin-dir DIR]... [--log-level LEVEL] "
                    "TEMPLATE\n");
    return 2;
}

int main(int argc, char **argv)
{
    const char *plugin_dirs[MAX_PLUGIN_DIRS + 1] = {NULL};
    size_t ndirs = 0;
    int level = VP_LEVEL_INFO;
    const char *tmpl_path = NULL;
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--plugin-dir") == 0 && i + 1 < argc && ndirs < MAX_PLUGIN_DIRS) {
            plugin_dirs[ndirs++] = argv[++i];
        } else if (strcmp(argv[i], "--log-level") == 0 && i + 1 < argc) {
            if ((level = parse_level(argv[++i])) < 0)
                return usage();
        } else if (argv[i][0] != '-' && tmpl_path == NULL) {
            tmpl_path = argv[i];
        } else {
            return usage();
        }
    }
    if (tmpl_path == NULL)
        return usage();

    size_t src_len = 0;
    char *src = read_template(tmpl_path, &src_len);
    if (src == NULL) {
        fprintf(stderr, "vaultplug-host-example: cannot read %s (at most 1 MiB)\n", tmpl_path);
        return 1;
    }

    int status = 1, rc;
    vp_error err = {0};
    vp_ctx *ctx = NULL;
    vp_vault *vault = NULL;
    vp_env *env = NULL;
    vp_template *tmpl = NULL;
    vp_buf key = VP_BUF_INIT, out = VP_BUF_INIT;
    char dir[4096] = "", vault_path[4200] = "", lock_path[4300] = "";

    /* 1. The context: where providers come from, and the callbacks the library uses. */
    vp_options opts;
    vp_options_init(&opts);
    opts.plugin_dirs = ndirs > 0 ? plugin_dirs : NULL;
    opts.log_fn = on_log;
    opts.log_level = level;
    opts.open_url = on_open_url;
    opts.notify = on_notify;
    if ((rc = vp_ctx_new(&opts, &ctx, &err)) != 0) {
        fail("vp_ctx_new", rc, &err);
        goto out;
    }
    printf("libvaultplug %s, %zu provider(s)\n", vp_version(), vp_providers_count(ctx));

    /* 2. A temporary vault (mode 0700 directory). A real host keeps the vault in its data
     *    directory and gets the key from the user or the OS keychain: the key is shown to
     *    nobody here and wiped as soon as the vault is open. */
    const char *tmp = getenv("TMPDIR");
    snprintf(dir, sizeof(dir), "%s/vaultplug-host-XXXXXX", tmp != NULL && *tmp ? tmp : "/tmp");
    if (mkdtemp(dir) == NULL) {
        perror("vaultplug-host-example: mkdtemp");
        dir[0] = '\0';
        goto out;
    }
    snprintf(vault_path, sizeof(vault_path), "%s/vault.vpv", dir);
    snprintf(lock_path, sizeof(lock_path), "%s.lock", vault_path);
    if ((rc = vp_vault_create(vault_path, NULL, &key, &err)) != 0) {
        fail("vp_vault_create", rc, &err);
        goto out;
    }
    rc = vp_vault_open(vault_path, key.data, &vault, &err);
    vp_buf_free(&key);
    if (rc != 0) {
        fail("vp_vault_open", rc, &err);
        goto out;
    }
    const char *token = getenv("HOST_EXAMPLE_TOKEN");
    if (token == NULL || *token == '\0')
        token = "demo-token-0123456789";
    if ((rc = vp_vault_set(vault, "api_token", token, strlen(token), &err)) != 0) {
        fail("vp_vault_set", rc, &err);
        goto out;
    }
    /* Attached, the vault serves {{ vault.NAME }} and its stored provider credentials. */
    size_t loaded = 0, skipped = 0;
    if ((rc = vp_ctx_use_vault(ctx, vault, &loaded, &skipped, &err)) != 0) {
        fail("vp_ctx_use_vault", rc, &err);
        goto out;
    }

    /* 3. The environment ({{ base_url }} ...) and the template, parsed once. */
    static const char env_json[] = "{\"base_url\": \"https://api.example.com\", "
                                   "\"host\": \"api.example.com\", \"user\": \"alice\"}";
    if ((rc = vp_env_new(&env)) != 0 ||
        (rc = vp_env_add_json(env, env_json, sizeof(env_json) - 1, &err)) != 0) {
        fail("environment", rc, &err);
        goto out;
    }
    if ((rc = vp_template_parse(src, src_len, NULL, &tmpl, &err)) != 0) {
        fail(tmpl_path, rc, &err);
        goto out;
    }
    vp_vault_source vsrc;
    if ((rc = vp_ctx_vault_source(ctx, &vsrc)) != 0) {
        fail("vp_ctx_vault_source", rc, NULL);
        goto out;
    }
    vp_render_params p = {
        .size = sizeof(p), .mode = VP_RENDER_PREVIEW, .env = env, .vault = &vsrc, .ctx = ctx};

    /* 4. PREVIEW: what a UI shows; no secret is fetched or shown. */
    if ((rc = vp_template_render(tmpl, &p, &out, &err)) != 0) {
        fail("preview", rc, &err);
        goto out;
    }
    print_section("preview (secrets masked)", &out);

    /* 5. SEND: the real thing. References are fetched in parallel and cached; a second render
     *    within the TTL is served from the cache. */
    p.mode = VP_RENDER_SEND;
    for (int round = 0; round < 2; round++) {
        if ((rc = vp_template_render(tmpl, &p, &out, &err)) != 0) {
            fail("render", rc, &err);
            goto out;
        }
    }
    print_section("rendered", &out);

    vp_cache_stats st;
    if ((rc = vp_cache_stats_get(ctx, NULL, &st)) != 0) {
        fail("vp_cache_stats_get", rc, NULL);
        goto out;
    }
    printf("--- cache ---\nhits %" PRIu64 ", misses %" PRIu64 ", fetches %" PRIu64
           ", errors %" PRIu64 ", entries %" PRIu64 "\n",
           st.hits, st.misses, st.fetches, st.errors, st.entries);
    printf("log lines: %u\n", atomic_load(&log_lines));
    status = 0;

out:
    vp_buf_free(&out);
    vp_buf_free(&key);
    vp_template_free(tmpl);
    vp_env_free(env);
    vp_ctx_free(ctx); /* before the vault it uses */
    vp_vault_close(vault);
    if (dir[0] != '\0') {
        unlink(vault_path);
        unlink(lock_path);
        if (rmdir(dir) != 0)
            fprintf(stderr, "vaultplug-host-example: could not remove %s\n", dir);
    }
    free(src);
    return status;
}
