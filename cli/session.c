/*
 * session.c - what a command works with: the library context built from the configuration,
 * the vault (opened with a key from the environment, a key file or a no-echo prompt) attached
 * to it, and the credentials given as VAULTPLUG_<PROVIDER>_<FIELD> variables.
 */
#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <vaultplug/cachefile.h>
#include <vaultplug/credtypes.h>

#include "cli.h"

extern char **environ;

#define KEY_FILE_MAX 4096

const char *cli_vault_path(cli_global *g)
{
    int st;
    cli_config *c = cli_config_get(g, &st);
    return c ? c->vault_file.v : NULL;
}

static int read_key_file(const char *path, char **key, size_t *len)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
        cli_error("cannot open the vault key file %s: %s", path, strerror(errno));
        return errno == ENOENT ? CLI_EXIT_NOTFOUND : CLI_EXIT_PERM;
    }
    struct stat sb;
    if (fstat(fd, &sb) == 0 && (sb.st_mode & 077) != 0)
        fprintf(stderr,
                "vaultplug: warning: the vault key file %s can be read by other users; "
                "chmod 600 it\n",
                path);
    char *buf = malloc(KEY_FILE_MAX + 1);
    ssize_t n = buf ? read(fd, buf, KEY_FILE_MAX + 1) : -1;
    close(fd);
    if (n < 0 || n > KEY_FILE_MAX) {
        if (buf != NULL)
            cli_secret_free(buf, KEY_FILE_MAX + 1);
        cli_error("cannot read the vault key file %s", path);
        return CLI_EXIT_USAGE;
    }
    size_t l = (size_t)n;
    while (l > 0 && isspace((unsigned char)buf[l - 1]))
        l--;
    buf[l] = '\0';
    *key = buf;
    *len = l;
    return CLI_EXIT_OK;
}

int cli_vault_key(cli_global *g, int allow_prompt, int say, char **key, size_t *len)
{
    *key = NULL;
    *len = 0;
    if (g->vault_key_file != NULL)
        return read_key_file(g->vault_key_file, key, len);
    const char *env = getenv("VAULTPLUG_VAULT_KEY");
    if (env != NULL && env[0] != '\0') {
        *len = strlen(env);
        *key = strdup(env);
        if (*key == NULL) {
            cli_error("out of memory");
            return CLI_EXIT_INTERNAL;
        }
        return CLI_EXIT_OK;
    }
    if (allow_prompt && cli_can_prompt())
        return cli_prompt_tty("Vault key", key, len);
    if (say)
        cli_error("the vault key is needed: set VAULTPLUG_VAULT_KEY, pass --vault-key-file FILE, "
                  "or run on a terminal to be asked for it");
    return CLI_EXIT_AUTH;
}

/* ---- sign-in hooks ------------------------------------------------------------------------ */

static int have_xdg_open(void)
{
    const char *path = getenv("PATH");
    if (path == NULL || getenv("DISPLAY") == NULL) {
        if (getenv("WAYLAND_DISPLAY") == NULL || path == NULL)
            return 0;
    }
    char *dup = strdup(path), *save = NULL;
    int found = 0;
    for (char *d = dup ? strtok_r(dup, ":", &save) : NULL; d && !found;
         d = strtok_r(NULL, ":", &save)) {
        char p[4096];
        snprintf(p, sizeof(p), "%s/xdg-open", d);
        found = access(p, X_OK) == 0;
    }
    free(dup);
    return found;
}

/* The URL is always printed, so sign-in works over ssh too; a browser is opened when one can
 * be. The URL is passed as one argv word to xdg-open (no shell). */
static int ui_open_url(void *ud, const char *url)
{
    (void)ud;
    fprintf(stderr, "To sign in, open this address in a browser:\n  %s\n", url);
    if (!have_xdg_open())
        return 0;
    pid_t pid;
    char *argv[] = {(char *)"xdg-open", (char *)url, NULL};
    posix_spawn_file_actions_t fa;
    posix_spawn_file_actions_init(&fa);
    posix_spawn_file_actions_addopen(&fa, STDOUT_FILENO, "/dev/null", O_WRONLY, 0);
    posix_spawn_file_actions_addopen(&fa, STDERR_FILENO, "/dev/null", O_WRONLY, 0);
    int rc = posix_spawnp(&pid, "xdg-open", &fa, NULL, argv, environ);
    posix_spawn_file_actions_destroy(&fa);
    if (rc == 0) {
        int status;
        waitpid(pid, &status, 0);
    }
    return 0;
}

static void ui_notify(void *ud, const char *message)
{
    (void)ud;
    fprintf(stderr, "%s\n", message);
}

/* ---- logging ------------------------------------------------------------------------------ */

static const char *level_name(int level)
{
    static const char *const names[] = {"error", "warning", "info", "debug", "trace"};
    return level >= 0 && level <= VP_LEVEL_TRACE ? names[level] : "log";
}

/* Log lines reach us already redacted by the library. ud points at the highest level shown. */
static void log_to_stderr(void *ud, int level, const char *source, const char *message)
{
    if (level > *(const int *)ud)
        return;
    /* One line each, whatever a provider wrote into it (control characters escaped). */
    fprintf(stderr, "vaultplug: %s: [", level_name(level));
    cli_fputs_safe(stderr, source ? source : "core");
    fputs("] ", stderr);
    cli_fputs_safe(stderr, message);
    fputc('\n', stderr);
}

/* ---- credential variables ---------------------------------------------------------------- */

/* VAULTPLUG_<PROVIDER>_<FIELD> for the loaded provider `name`: one credential "" (the one
 * references without a credential use). TYPE names the credential type; with none given, a
 * provider with exactly one type gets that one; for any other the variables are left to the
 * provider, which reads its own settings (VAULTPLUG_GCP_ENDPOINT, ...) in its default chain. */
static int env_credential(cli_session *s, const char *name)
{
    char prefix[80];
    int n = snprintf(prefix, sizeof(prefix), "VAULTPLUG_%s_", name);
    if (n <= 0 || (size_t)n >= sizeof(prefix))
        return 0;
    for (char *p = prefix; *p; p++)
        *p = (char)toupper((unsigned char)*p);
    size_t plen = (size_t)n;
    vp_field fields[VP_CRED_FIELDS_MAX];
    char *keys[VP_CRED_FIELDS_MAX];
    size_t nf = 0;
    const char *type = NULL;
    int rc = CLI_EXIT_OK;
    for (char **e = environ; e && *e; e++) {
        if (strncmp(*e, prefix, plen) != 0)
            continue;
        const char *eq = strchr(*e, '=');
        if (eq == NULL || eq == *e + plen || cli_env_reserved(*e + 10 /* after VAULTPLUG_ */))
            continue;
        size_t klen = (size_t)(eq - (*e + plen));
        if (klen == 4 && strncmp(*e + plen, "TYPE", 4) == 0) {
            type = eq + 1;
            continue;
        }
        if (nf >= VP_CRED_FIELDS_MAX) {
            cli_error("too many %s* variables (at most %d)", prefix, VP_CRED_FIELDS_MAX);
            rc = CLI_EXIT_USAGE;
            break;
        }
        char *k = malloc(klen + 1);
        if (k == NULL) {
            rc = CLI_EXIT_INTERNAL;
            break;
        }
        for (size_t i = 0; i < klen; i++)
            k[i] = (char)tolower((unsigned char)(*e)[plen + i]);
        k[klen] = '\0';
        keys[nf] = k;
        fields[nf].key = k;
        fields[nf].value = eq + 1;
        nf++;
    }
    if (type != NULL && type[0] == '\0')
        type = NULL;
    if (rc == CLI_EXIT_OK && (nf > 0 || type != NULL)) {
        const vp_cred_type *types = NULL;
        if (vp_provider_cred_types(s->ctx, name, &types) != 0)
            types = NULL;
        if (type == NULL && types != NULL && types[0].name != NULL && types[1].name == NULL)
            type = types[0].name;
        const vp_cred_type *t = NULL;
        for (t = types; type != NULL && t && t->name && strcmp(t->name, type) != 0; t++)
            ;
        if (type == NULL) {
            /* No type: these variables are the provider's own settings (an endpoint, a CA
             * file), which it reads itself; references use its default chain. A name that is
             * no setting (nor field) is refused, as `cred add --field` refuses it. */
            for (size_t i = 0; i < nf && rc == CLI_EXIT_OK; i++)
                if (cli_credvar_check(prefix, name, types, NULL, keys[i]) == CLI_CREDVAR_UNKNOWN)
                    rc = CLI_EXIT_USAGE;
        } else if (t == NULL || t->name == NULL) {
            cli_error("%sTYPE: %s has no credential type '%s' ('vaultplug cred types %s' "
                      "lists them)",
                      prefix, name, type, name);
            rc = CLI_EXIT_USAGE;
        } else {
            /* Variable names are upper case; match them to the declared field names, which may
             * be mixed case. Variables that are no field of the type must be settings the
             * provider reads itself; any other name is refused (a typo would be lost). */
            size_t kept = 0;
            for (size_t i = 0; i < nf && rc == CLI_EXIT_OK; i++) {
                int kind = cli_credvar_check(prefix, name, types, t, keys[i]);
                if (kind == CLI_CREDVAR_UNKNOWN) {
                    rc = CLI_EXIT_USAGE;
                } else if (kind == CLI_CREDVAR_FIELD) {
                    fields[kept].key = cli_cred_field(t, keys[i])->name;
                    fields[kept].value = fields[i].value;
                    kept++;
                }
            }
            vp_cred_spec spec = {"", type, fields, kept};
            vp_error err;
            int st = rc == CLI_EXIT_OK ? vp_cred_set(s->ctx, name, &spec, &err) : 0;
            if (st != 0)
                rc = cli_fail(st, &err, "credential variables");
            else if (rc == CLI_EXIT_OK)
                s->env_creds++;
        }
    }
    for (size_t i = 0; i < nf; i++)
        free(keys[i]);
    return rc;
}

/* ---- the session ------------------------------------------------------------------------ */

void cli_session_close(cli_session *s)
{
    /* Persist what this run fetched so the next run can use it (sealed for this vault). */
    if (s->ctx != NULL && s->vault != NULL && s->cache_file != NULL) {
        vp_error err;
        if (vp_cache_save(s->ctx, s->vault, s->cache_file, NULL, &err) != 0)
            cli_error("warning: cannot save the cache: %s", err.message);
    }
    free(s->cache_file);
    if (s->ctx != NULL && s->vault != NULL) {
        size_t l, k;
        vp_error err;
        if (vp_ctx_use_vault(s->ctx, NULL, &l, &k, &err) != 0)
            cli_error("cannot detach the vault: %s", err.message);
    }
    vp_ctx_free(s->ctx);
    vp_vault_close(s->vault);
    memset(s, 0, sizeof(*s));
}

static int open_vault(cli_global *g, cli_session *s, int mode)
{
    const char *path = cli_vault_path(g);
    struct stat sb;
    if (stat(path, &sb) != 0) {
        if (mode == CLI_VAULT_REQUIRED) {
            cli_error("no vault at %s: create one with 'vaultplug vault init'", path);
            return CLI_EXIT_NOTFOUND;
        }
        return CLI_EXIT_OK;
    }
    char *key = NULL;
    size_t klen = 0;
    int rc = cli_vault_key(g, mode != CLI_VAULT_OPTIONAL, mode == CLI_VAULT_REQUIRED, &key, &klen);
    if (rc == CLI_EXIT_AUTH && mode != CLI_VAULT_REQUIRED) {
        s->vault_locked = 1;
        return CLI_EXIT_OK;
    }
    if (rc != CLI_EXIT_OK)
        return rc;
    vp_error err;
    int st = vp_vault_open(path, key, &s->vault, &err);
    cli_secret_free(key, klen);
    if (st != 0)
        return cli_fail(st, &err, path);
    return CLI_EXIT_OK;
}

void cli_ctx_options(cli_global *g, const cli_config *c, const char **dirs, vp_options *opts)
{
    size_t n = 0;
    for (size_t i = 0; i < g->n_plugin_dirs; i++)
        dirs[n++] = g->plugin_dirs[i];
    for (size_t i = 0; i < c->plugin_dirs.n && n < 2 * CLI_MAX_PLUGIN_DIRS; i++)
        dirs[n++] = c->plugin_dirs.v[i];
    /* After the configured directories, so they win over the build tree. */
    const char *build_dir = NULL;
    if (cli_in_build_tree(&build_dir))
        dirs[n++] = build_dir;
    dirs[n] = NULL;
    vp_options_init(opts);
    opts->plugin_dirs = n ? dirs : NULL;
    static const char *const none[] = {NULL};
    if (c->enabled_providers.set)
        opts->enabled_providers =
            c->enabled_providers.n ? (const char *const *)c->enabled_providers.v : none;
}

int cli_session_open(cli_global *g, int vault_mode, int log_level, cli_session *s)
{
    memset(s, 0, sizeof(*s));
    int st = CLI_EXIT_OK;
    cli_config *c = cli_config_get(g, &st);
    if (c == NULL)
        return st;

    const char *dirs[CLI_CTX_DIRS];
    vp_options opts;
    cli_ctx_options(g, c, dirs, &opts);
    opts.log_fn = log_to_stderr;
    static int max_level; /* read by log_to_stderr until the process exits */
    max_level = log_level + g->verbose;
    if (max_level > VP_LEVEL_TRACE)
        max_level = VP_LEVEL_TRACE;
    opts.log_ud = &max_level;
    opts.log_level = max_level > VP_LEVEL_WARN ? max_level : VP_LEVEL_WARN;
    opts.cache_ttl_s =
        c->cache_ttl_min.v == 0 ? VP_CACHE_TTL_OFF : (int32_t)c->cache_ttl_min.v * 60;
    if (c->cache_max_entries.set)
        opts.cache_max_entries = (uint32_t)c->cache_max_entries.v;
    if (c->cache_max_bytes.set)
        opts.cache_max_bytes = (size_t)c->cache_max_bytes.v;
    if (c->http_timeout_ms.set)
        opts.http_timeout_ms = (uint32_t)c->http_timeout_ms.v;
    opts.proxy = c->proxy.v;
    opts.ca_file = c->ca_file.v;
    opts.open_url = ui_open_url;
    opts.notify = ui_notify;

    vp_error err;
    int rc = vp_ctx_new(&opts, &s->ctx, &err);
    if (rc != 0) {
        s->ctx = NULL;
        cli_error("cannot initialise: %s", err.message[0] ? err.message : vp_strerror(rc));
        return cli_exit_for_status(rc);
    }

    if (vault_mode != CLI_VAULT_NONE) {
        rc = open_vault(g, s, vault_mode);
        if (rc == CLI_EXIT_OK && s->vault != NULL) {
            size_t loaded = 0, skipped = 0;
            int vst = vp_ctx_use_vault(s->ctx, s->vault, &loaded, &skipped, &err);
            if (vst != 0)
                rc = cli_fail(vst, &err, "vault");
        }
        if (rc == CLI_EXIT_OK && s->vault != NULL && c->cache_ttl_min.v > 0) {
            size_t dl = strlen(c->data_dir.v);
            s->cache_file = malloc(dl + sizeof("/cache.vpc"));
            if (s->cache_file != NULL) {
                memcpy(s->cache_file, c->data_dir.v, dl);
                memcpy(s->cache_file + dl, "/cache.vpc", sizeof("/cache.vpc"));
                int cst = vp_cache_load(s->ctx, s->vault, s->cache_file, NULL, &err);
                if (cst == VP_EPROTO) { /* not ours or damaged: start afresh */
                    cli_error("warning: %s; discarding it", err.message);
                    unlink(s->cache_file);
                } else if (cst != 0) {
                    cli_error("warning: cannot load the cache: %s", err.message);
                }
            }
        }
        if (rc != CLI_EXIT_OK) {
            cli_session_close(s);
            return rc;
        }
    }

    for (size_t i = 0; i < vp_providers_count(s->ctx); i++) {
        const vp_provider_info *p = vp_providers_get(s->ctx, i);
        if (p == NULL || p->state != VP_PROVIDER_LOADED)
            continue;
        rc = env_credential(s, p->name);
        if (rc != CLI_EXIT_OK) {
            cli_session_close(s);
            return rc;
        }
    }
    return CLI_EXIT_OK;
}
