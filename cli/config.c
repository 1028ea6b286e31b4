/*
 * config.c - the effective configuration: built-in defaults, the administrator's file
 * (/etc/vaultplug/config.json), the user's file ($XDG_CONFIG_HOME/vaultplug/config.json), then
 * VAULTPLUG_* variables; each setting remembers where it came from for `config show`.
 *
 * The administrator's enabled_providers is a ceiling: a user list can only narrow it, so a
 * machine policy "only aws loads" cannot be widened from a home directory. The library applies
 * that ceiling itself (to every application): the command passes the user's list as it is and
 * the library says what it does with it.
 */
#define _DEFAULT_SOURCE /* realpath() is XSI, not in strict POSIX 2008 */
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

#include <json-c/json.h>

#include <vaultplug/credtypes.h>

#include "cli.h"
#include "../core/src/base/fsperm.h" /* shared with the library, see CMakeLists.txt */

extern char **environ;

#define SYSTEM_CONFIG "/etc/vaultplug/config.json"
#define CONFIG_MAX    (1024 * 1024)

static char *str_printf(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static char *str_printf(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(NULL, 0, fmt, ap);
    va_end(ap);
    if (n < 0)
        return NULL;
    char *s = malloc((size_t)n + 1);
    if (s == NULL)
        return NULL;
    va_start(ap, fmt);
    vsnprintf(s, (size_t)n + 1, fmt, ap);
    va_end(ap);
    return s;
}

/* dst = a + b + c, cut to CLI_SRC_MAX (sources are labels; a cut one is still useful). */
static void src_cat3(char *dst, size_t cap, const char *a, const char *b, const char *c)
{
    const char *parts[3] = {a, b, c};
    size_t n = 0;
    for (size_t i = 0; i < 3; i++)
        for (const char *p = parts[i]; p && *p && n + 1 < cap; p++)
            dst[n++] = *p;
    dst[n] = '\0';
}

/* "environment %s" style labels: prefix + argument. */
static void set_src(char *dst, const char *prefix, const char *arg)
{
    src_cat3(dst, CLI_SRC_MAX, prefix, arg, NULL);
}

static int set_str(cli_str *s, const char *v, const char *srcprefix, const char *srcarg)
{
    char *copy = v ? strdup(v) : NULL;
    if (v != NULL && copy == NULL)
        return -1;
    free(s->v);
    s->v = copy;
    set_src(s->src, srcprefix, srcarg);
    return 0;
}

static void list_free(cli_strlist *l)
{
    for (size_t i = 0; i < l->n; i++)
        free(l->v[i]);
    free(l->v);
    l->v = NULL;
    l->n = 0;
}

static int list_add(cli_strlist *l, const char *v)
{
    char **nv = realloc(l->v, (l->n + 2) * sizeof(*nv));
    if (nv == NULL)
        return -1;
    l->v = nv;
    if ((l->v[l->n] = strdup(v)) == NULL)
        return -1;
    l->n++;
    l->v[l->n] = NULL;
    return 0;
}

void cli_config_free(cli_config *c)
{
    if (c == NULL)
        return;
    cli_str *strs[] = {&c->system_file, &c->user_file, &c->data_dir,
                       &c->vault_file,  &c->proxy,     &c->ca_file};
    for (size_t i = 0; i < sizeof(strs) / sizeof(strs[0]); i++)
        free(strs[i]->v);
    list_free(&c->plugin_dirs);
    list_free(&c->enabled_providers);
    free(c);
}

static const char *const reserved_env[] = {
    "HOME",
    "CONFIG",
    "SYSTEM_CONFIG",
    "VAULT",
    "VAULT_KEY",
    "CACHE_TTL",
    "PROXY",
    "CA_FILE",
    "PLUGIN_PATH",
    "ENABLED_PROVIDERS",
    "HTTP_TIMEOUT_MS",
};

int cli_env_reserved(const char *suffix)
{
    for (size_t i = 0; i < sizeof(reserved_env) / sizeof(reserved_env[0]); i++)
        if (strcmp(suffix, reserved_env[i]) == 0)
            return 1;
    return 0;
}

/* Read a whole JSON file. 0 = parsed (*out), 1 = absent, -1 = error (printed). */
static int read_json_file(const char *path, json_object **out)
{
    *out = NULL;
    FILE *f = fopen(path, "r");
    if (f == NULL) {
        if (errno == ENOENT || errno == ENOTDIR)
            return 1;
        cli_error("cannot read %s: %s", path, strerror(errno));
        return -1;
    }
    char *buf = malloc(CONFIG_MAX + 1);
    size_t n = buf ? fread(buf, 1, CONFIG_MAX + 1, f) : 0;
    int rerr = ferror(f);
    fclose(f);
    if (buf == NULL || rerr || n > CONFIG_MAX) {
        free(buf);
        cli_error("cannot read %s: %s", path,
                  buf == NULL ? "out of memory" : "too large or I/O error");
        return -1;
    }
    buf[n] = '\0';
    enum json_tokener_error jerr = json_tokener_success;
    json_object *o = n ? json_tokener_parse_verbose(buf, &jerr) : json_object_new_object();
    free(buf);
    if (o == NULL || !json_object_is_type(o, json_type_object)) {
        json_object_put(o);
        cli_error("%s: not a JSON object (%s)", path,
                  o == NULL ? json_tokener_error_desc(jerr) : "wrong type");
        return -1;
    }
    *out = o;
    return 0;
}

static int get_num(json_object *v, const char *path, const char *key, long long lo, long long hi,
                   cli_num *dst)
{
    if (!json_object_is_type(v, json_type_int)) {
        cli_error("%s: \"%s\" must be an integer", path, key);
        return -1;
    }
    long long x = json_object_get_int64(v);
    if (x < lo || x > hi) {
        cli_error("%s: \"%s\" must be between %lld and %lld", path, key, lo, hi);
        return -1;
    }
    dst->v = x;
    dst->set = 1;
    set_src(dst->src, "", path);
    return 0;
}

static int get_strlist(json_object *v, const char *path, const char *key, cli_strlist *tmp)
{
    if (!json_object_is_type(v, json_type_array)) {
        cli_error("%s: \"%s\" must be an array of strings", path, key);
        return -1;
    }
    for (size_t i = 0; i < json_object_array_length(v); i++) {
        json_object *e = json_object_array_get_idx(v, i);
        if (!json_object_is_type(e, json_type_string) || json_object_get_string_len(e) == 0) {
            cli_error("%s: \"%s\" must be an array of non-empty strings", path, key);
            return -1;
        }
        if (list_add(tmp, json_object_get_string(e)) != 0)
            return -1;
    }
    tmp->set = 1;
    return 0;
}

/* Apply one config file. is_admin: the administrator's file (enabled_providers is a ceiling). */
static int apply_file(cli_config *c, const char *path, int is_admin, int *seen_admin_enabled)
{
    json_object *root = NULL;
    int r = read_json_file(path, &root);
    if (r != 0)
        return r < 0 ? -1 : 0;
    int rc = 0;
    json_object_object_foreach(root, key, v)
    {
        if (rc != 0)
            break;
        if (strcmp(key, "plugin_dirs") == 0) {
            cli_strlist tmp = {0};
            rc = get_strlist(v, path, key, &tmp);
            /* The user's directories are searched before the administrator's. */
            for (size_t i = 0; rc == 0 && i < c->plugin_dirs.n; i++)
                rc = list_add(&tmp, c->plugin_dirs.v[i]);
            if (rc == 0) {
                char src[CLI_SRC_MAX];
                src_cat3(src, sizeof(src), path, c->plugin_dirs.set ? " + " : "",
                         c->plugin_dirs.set ? c->plugin_dirs.src : "");
                list_free(&c->plugin_dirs);
                c->plugin_dirs = tmp;
                c->plugin_dirs.set = 1;
                memcpy(c->plugin_dirs.src, src, sizeof(src));
            } else {
                list_free(&tmp);
            }
        } else if (strcmp(key, "enabled_providers") == 0) {
            cli_strlist tmp = {0};
            rc = get_strlist(v, path, key, &tmp);
            if (rc == 0) {
                list_free(&c->enabled_providers);
                c->enabled_providers = tmp;
                set_src(c->enabled_providers.src, "", path);
                if (is_admin)
                    *seen_admin_enabled = 1;
            } else {
                list_free(&tmp);
            }
        } else if (strcmp(key, "allow_host_override") == 0 ||
                   strcmp(key, "allow_provider_override") == 0 ||
                   strcmp(key, "isolate_providers") == 0) {
            /* The library reads these from the administrator's file (policy.c). */
            if (!is_admin)
                fprintf(stderr,
                        "vaultplug: warning: %s: \"%s\" is honoured only in the "
                        "administrator's configuration; ignored\n",
                        path, key);
        } else if (strcmp(key, "cache_ttl_minutes") == 0) {
            rc = get_num(v, path, key, 0, VP_CACHE_TTL_MAX_S / 60, &c->cache_ttl_min);
        } else if (strcmp(key, "cache_max_entries") == 0) {
            rc = get_num(v, path, key, 1, 10000000, &c->cache_max_entries);
        } else if (strcmp(key, "cache_max_bytes") == 0) {
            rc = get_num(v, path, key, 1024, 1LL << 40, &c->cache_max_bytes);
        } else if (strcmp(key, "http_timeout_ms") == 0) {
            rc = get_num(v, path, key, 1, 600000, &c->http_timeout_ms);
        } else if (strcmp(key, "proxy") == 0 || strcmp(key, "ca_file") == 0 ||
                   (strcmp(key, "vault_file") == 0 && !is_admin)) {
            if (!json_object_is_type(v, json_type_string)) {
                cli_error("%s: \"%s\" must be a string", path, key);
                rc = -1;
                break;
            }
            cli_str *dst = key[0] == 'p' ? &c->proxy : key[0] == 'c' ? &c->ca_file : &c->vault_file;
            rc = set_str(dst, json_object_get_string(v), "", path);
        } else {
            fprintf(stderr, "vaultplug: warning: %s: unknown setting \"%s\" ignored\n", path, key);
        }
    }
    json_object_put(root);
    return rc;
}

static int env_num(const char *name, long long lo, long long hi, cli_num *dst)
{
    const char *v = getenv(name);
    if (v == NULL || v[0] == '\0')
        return 0;
    char *end = NULL;
    errno = 0;
    long long x = strtoll(v, &end, 10);
    if (errno != 0 || *end != '\0' || x < lo || x > hi) {
        cli_error("%s must be an integer between %lld and %lld", name, lo, hi);
        return -1;
    }
    dst->v = x;
    dst->set = 1;
    set_src(dst->src, "environment ", name);
    return 0;
}

static int env_str(const char *name, cli_str *dst)
{
    const char *v = getenv(name);
    if (v == NULL || v[0] == '\0')
        return 0;
    return set_str(dst, v, "environment ", name);
}

/* The user's config file chooses the plugin directories, so it must be one nobody else could have
 * written: the file, the directory it is named in and the directory it really is in (after
 * links) follow the rule of fsperm.h, as vault and plugin directories do. what: "read" or
 * "write". An absent file is only checked for writing (its directory then). 0 = safe, else the
 * message is printed and the result is -2. */
static int user_file_safe(const char *path, const char *what)
{
    struct stat sb;
    char dirs[2][4096], msg[8192 + 256];
    int exists = stat(path, &sb) == 0, v;
    if (exists && (v = (int)vp__fsperm_check(&sb)) != 0) {
        vp__fsperm_describe((vp__fsperm)v, "file", path, &sb, msg, sizeof(msg));
        cli_error("refusing to %s the config file: %s", what, msg);
        return -2;
    }
    if (!exists && strcmp(what, "read") == 0)
        return 0;
    size_t nd = 0;
    if (vp__fsperm_dirname(path, dirs[nd], sizeof(dirs[nd])) == 0)
        nd++;
    char *real = exists ? realpath(path, NULL) : NULL;
    if (real != NULL && vp__fsperm_dirname(real, dirs[nd], sizeof(dirs[nd])) == 0 &&
        (nd == 0 || strcmp(dirs[0], dirs[nd]) != 0))
        nd++;
    free(real);
    for (size_t i = 0; i < nd; i++) {
        v = vp__fsperm_check_path(dirs[i], &sb);
        if (v > 0) {
            vp__fsperm_describe((vp__fsperm)v, "directory", dirs[i], &sb, msg, sizeof(msg));
            cli_error("refusing to %s the config file %s: %s", what, path, msg);
            return -2;
        }
    }
    return 0;
}

static int load(cli_config *c, int *seen_admin_enabled)
{
    const char *home = getenv("HOME"), *vhome = getenv("VAULTPLUG_HOME");
    const char *xcfg = getenv("XDG_CONFIG_HOME"), *xdata = getenv("XDG_DATA_HOME");
    char *p;

    /* The administrator's file; the variable exists for packaging tests and containers. */
    const char *sys = getenv("VAULTPLUG_SYSTEM_CONFIG");
    if (set_str(&c->system_file, sys && sys[0] ? sys : SYSTEM_CONFIG, "",
                sys && sys[0] ? "environment VAULTPLUG_SYSTEM_CONFIG" : "default") != 0)
        return -1;

    if (vhome != NULL && vhome[0] != '\0') {
        p = str_printf("%s/config.json", vhome);
        if (p == NULL || set_str(&c->user_file, p, "", "environment VAULTPLUG_HOME") ||
            set_str(&c->data_dir, vhome, "", "environment VAULTPLUG_HOME"))
            goto oom;
        free(p);
    } else {
        if (xcfg != NULL && xcfg[0] == '/')
            p = str_printf("%s/vaultplug/config.json", xcfg);
        else
            p = home ? str_printf("%s/.config/vaultplug/config.json", home) : NULL;
        if (p == NULL && home == NULL) {
            cli_error("HOME is not set: set VAULTPLUG_HOME to the directory vaultplug may use");
            return -1;
        }
        if (p == NULL ||
            set_str(&c->user_file, p, "", xcfg && xcfg[0] == '/' ? "XDG_CONFIG_HOME" : "HOME"))
            goto oom;
        free(p);
        if (xdata != NULL && xdata[0] == '/')
            p = str_printf("%s/vaultplug", xdata);
        else
            p = str_printf("%s/.local/share/vaultplug", home);
        if (p == NULL ||
            set_str(&c->data_dir, p, "", xdata && xdata[0] == '/' ? "XDG_DATA_HOME" : "HOME"))
            goto oom;
        free(p);
    }
    if (env_str("VAULTPLUG_CONFIG", &c->user_file) != 0)
        return -1;
    p = str_printf("%s/vault.vpv", c->data_dir.v);
    if (p == NULL || set_str(&c->vault_file, p, "", "data directory"))
        goto oom;
    free(p);

    if (apply_file(c, c->system_file.v, 1, seen_admin_enabled) != 0)
        return -1;
    if (user_file_safe(c->user_file.v, "read") != 0)
        return -2;
    if (apply_file(c, c->user_file.v, 0, seen_admin_enabled) != 0)
        return -1;

    if (env_str("VAULTPLUG_VAULT", &c->vault_file) || env_str("VAULTPLUG_PROXY", &c->proxy) ||
        env_str("VAULTPLUG_CA_FILE", &c->ca_file) ||
        env_num("VAULTPLUG_CACHE_TTL", 0, VP_CACHE_TTL_MAX_S / 60, &c->cache_ttl_min) ||
        env_num("VAULTPLUG_HTTP_TIMEOUT_MS", 1, 600000, &c->http_timeout_ms))
        return -1;
    const char *en = getenv("VAULTPLUG_ENABLED_PROVIDERS");
    if (en != NULL && en[0] != '\0') {
        cli_strlist tmp = {0};
        char *copy = strdup(en), *save = NULL;
        if (copy == NULL)
            return -1;
        for (char *t = strtok_r(copy, ", ", &save); t; t = strtok_r(NULL, ", ", &save)) {
            if (list_add(&tmp, t) != 0) {
                free(copy);
                list_free(&tmp);
                return -1;
            }
        }
        free(copy);
        list_free(&c->enabled_providers);
        c->enabled_providers = tmp;
        c->enabled_providers.set = 1;
        set_src(c->enabled_providers.src, "", "environment VAULTPLUG_ENABLED_PROVIDERS");
    }
    if (!c->cache_ttl_min.set) {
        c->cache_ttl_min.v = 30;
        set_src(c->cache_ttl_min.src, "", "default");
    }
    return 0;
oom:
    free(p);
    cli_error("out of memory");
    return -1;
}

cli_config *cli_config_get(cli_global *g, int *status)
{
    if (g->cfg != NULL)
        return g->cfg;
    cli_config *c = calloc(1, sizeof(*c));
    int seen_admin_enabled = 0, r = -1;
    if (c == NULL || (r = load(c, &seen_admin_enabled)) != 0) {
        if (c == NULL)
            cli_error("out of memory");
        cli_config_free(c);
        *status = r == -2 ? CLI_EXIT_PERM : CLI_EXIT_USAGE;
        return NULL;
    }
    g->cfg = c;
    return c;
}

/* mkdir -p of the parent directories of path, mode 0700 for what we create. */
static int make_parents(const char *path)
{
    char *dup = strdup(path);
    if (dup == NULL)
        return -1;
    for (char *s = dup + 1; *s; s++) {
        if (*s != '/')
            continue;
        *s = '\0';
        if (mkdir(dup, 0700) != 0 && errno != EEXIST) {
            cli_error("cannot create %s: %s", dup, strerror(errno));
            free(dup);
            return -1;
        }
        *s = '/';
    }
    free(dup);
    return 0;
}

int cli_config_set_user(cli_global *g, const char *key, const char *json_value)
{
    int st = CLI_EXIT_OK;
    cli_config *c = cli_config_get(g, &st);
    if (c == NULL)
        return st;
    /* Directories it would create are 0700; an existing one must already be private. */
    if (user_file_safe(c->user_file.v, "write") != 0)
        return CLI_EXIT_PERM;
    json_object *root = NULL;
    int r = read_json_file(c->user_file.v, &root);
    if (r < 0)
        return CLI_EXIT_USAGE;
    if (r == 1)
        root = json_object_new_object();
    if (json_value != NULL) {
        json_object *v = json_tokener_parse(json_value);
        json_object_object_add(root, key, v);
    } else {
        json_object_object_del(root, key);
    }
    const char *text = json_object_to_json_string_ext(
        root, JSON_C_TO_STRING_PRETTY | JSON_C_TO_STRING_SPACED | JSON_C_TO_STRING_NOSLASHESCAPE);
    char *tmp = str_printf("%s.XXXXXX", c->user_file.v);
    int rc = CLI_EXIT_INTERNAL;
    errno = 0;
    if (text != NULL && tmp != NULL && make_parents(c->user_file.v) == 0) {
        int fd = mkstemp(tmp);
        if (fd < 0) {
            cli_error("cannot write %s: %s", c->user_file.v, strerror(errno));
        } else {
            size_t len = strlen(text);
            int ok =
                write(fd, text, len) == (ssize_t)len && write(fd, "\n", 1) == 1 && fsync(fd) == 0;
            ok = close(fd) == 0 && ok;
            if (ok && rename(tmp, c->user_file.v) == 0) {
                rc = CLI_EXIT_OK;
            } else {
                cli_error("cannot write %s: %s", c->user_file.v, strerror(errno));
                unlink(tmp);
            }
        }
    }
    /* Not allowed to write there is a permission failure (exit 5), like everywhere else. */
    if (rc != CLI_EXIT_OK && (errno == EACCES || errno == EPERM || errno == EROFS))
        rc = CLI_EXIT_PERM;
    free(tmp);
    json_object_put(root);
    return rc;
}

/* A proxy URL may carry a password: show scheme://user:********@host. */
static char *mask_proxy(const char *url)
{
    const char *scheme = strstr(url, "://"), *start = scheme ? scheme + 3 : url;
    const char *at = strchr(start, '@');
    const char *colon = at ? memchr(start, ':', (size_t)(at - start)) : NULL;
    if (colon == NULL)
        return strdup(url);
    return str_printf("%.*s:********%s", (int)(colon - url), url, at);
}

static void add_entry(json_object *arr, const char *name, json_object *value, const char *src)
{
    json_object *o = json_object_new_object();
    json_object_object_add(o, "name", json_object_new_string(name));
    json_object_object_add(o, "value", value);
    json_object_object_add(o, "source", json_object_new_string(src));
    json_object_array_add(arr, o);
}

static json_object *list_json(const cli_strlist *l)
{
    json_object *a = json_object_new_array();
    for (size_t i = 0; i < l->n; i++)
        json_object_array_add(a, json_object_new_string(l->v[i]));
    return a;
}

static json_object *num_json(const cli_num *n, const char *dflt)
{
    return n->set ? json_object_new_int64(n->v) : json_object_new_string(dflt);
}

static void quiet_log(void *ud, int level, const char *source, const char *message)
{
    (void)ud;
    (void)level;
    (void)source;
    (void)message;
}

/* A context with the providers of the search path loaded, only to read their credential types
 * (no vault, no credentials); NULL if none can be made (values are then masked by name). */
static vp_ctx *types_ctx(cli_global *g, cli_config *c)
{
    const char *dirs[CLI_CTX_DIRS];
    vp_options opts;
    cli_ctx_options(g, c, dirs, &opts);
    opts.log_fn = quiet_log;
    vp_ctx *ctx = NULL;
    vp_error err;
    if (vp_ctx_new(&opts, &ctx, &err) != 0)
        return NULL;
    return ctx;
}

/* The documented rule for a variable that is no declared field: masked when a word of its
 * name (split at '_') is SECRET, PASSWORD, PASSWD, PASS, TOKEN, PRIVATE, CREDENTIALS or KEY,
 * unless the last word is ID, URI, URL, FILE, PATH, DIR or HOST (a public name for a secret
 * thing: ACCESS_KEY_ID, TOKEN_URI, KEY_FILE). */
static int secret_mask_rule(const char *suffix)
{
    static const char *const secret_words[] = {"SECRET",  "PASSWORD",   "PASSWD", "PASS",
                                               "TOKEN",   "PRIVATE",    "KEY",    "CREDENTIALS",
                                               "SECRETS", "CREDENTIAL", NULL};
    static const char *const public_last[] = {"ID",   "URI", "URL",  "FILE",
                                              "PATH", "DIR", "HOST", NULL};
    char buf[128];
    snprintf(buf, sizeof(buf), "%s", suffix);
    const char *last = strrchr(buf, '_') ? strrchr(buf, '_') + 1 : buf;
    for (const char *const *w = public_last; *w; w++)
        if (strcmp(last, *w) == 0)
            return 0;
    char *save = NULL;
    for (char *t = strtok_r(buf, "_", &save); t; t = strtok_r(NULL, "_", &save))
        for (const char *const *w = secret_words; *w; w++)
            if (strcmp(t, *w) == 0)
                return 1;
    return 0;
}

/* Is VAULTPLUG_<suffix> secret? suffix is PROVIDER_FIELD; *kind gets the source text. */
static int env_secret(vp_ctx *ctx, const char *suffix, const char **kind)
{
    size_t sl = strlen(suffix);
    if (sl > 5 && strcmp(suffix + sl - 5, "_TYPE") == 0) {
        *kind = "environment (credential type)";
        return 0;
    }
    /* The loaded provider whose upper-case name + '_' is the longest prefix. */
    const vp_provider_info *best = NULL;
    size_t best_len = 0;
    for (size_t i = 0; ctx != NULL && i < vp_providers_count(ctx); i++) {
        const vp_provider_info *p = vp_providers_get(ctx, i);
        size_t pl = p ? strlen(p->name) : 0;
        if (p == NULL || p->state != VP_PROVIDER_LOADED || pl == 0 || pl + 1 >= sl ||
            pl <= best_len || strncasecmp(suffix, p->name, pl) != 0 || suffix[pl] != '_')
            continue;
        best = p;
        best_len = pl;
    }
    if (best != NULL) {
        const char *field = suffix + best_len + 1;
        const vp_cred_type *types = NULL;
        int declared = 0, secret = 0;
        if (vp_provider_cred_types(ctx, best->name, &types) == 0)
            for (const vp_cred_type *t = types; t && t->name; t++)
                for (const vp_cred_field *f = t->fields; f && f->name; f++)
                    if (strcasecmp(f->name, field) == 0) {
                        declared = 1;
                        secret |= (f->flags & VP_FIELD_SECRET) != 0;
                    }
        if (declared) {
            *kind = secret ? "environment (credential field, secret)"
                           : "environment (credential field)";
            return secret;
        }
        *kind = "environment (provider setting)";
        return secret_mask_rule(field);
    }
    *kind = "environment (no loaded provider of that name)";
    return secret_mask_rule(suffix);
}

/* Where the configuration comes from: the two files, the data directory, the vault and its
 * key. */
static void add_files(json_object *arr, cli_global *g, cli_config *c)
{
    struct stat sb;
    char tmp[CLI_SRC_MAX];
    src_cat3(tmp, sizeof(tmp), c->system_file.src,
             stat(c->system_file.v, &sb) == 0 ? "" : " (file absent)", NULL);
    add_entry(arr, "system_config", json_object_new_string(c->system_file.v), tmp);
    src_cat3(tmp, sizeof(tmp), c->user_file.src,
             stat(c->user_file.v, &sb) == 0 ? "" : " (file absent)", NULL);
    add_entry(arr, "user_config", json_object_new_string(c->user_file.v), tmp);
    add_entry(arr, "data_dir", json_object_new_string(c->data_dir.v), c->data_dir.src);
    src_cat3(tmp, sizeof(tmp), c->vault_file.src,
             stat(c->vault_file.v, &sb) == 0 ? "" : " (no vault yet: vaultplug vault init)", NULL);
    add_entry(arr, "vault_file", json_object_new_string(c->vault_file.v), tmp);
    const char *vk = getenv("VAULTPLUG_VAULT_KEY");
    add_entry(arr, "vault_key",
              json_object_new_string(vk && vk[0]         ? "******** (set)"
                                     : g->vault_key_file ? g->vault_key_file
                                                         : "(prompt on a terminal)"),
              vk && vk[0]         ? "environment VAULTPLUG_VAULT_KEY"
              : g->vault_key_file ? "--vault-key-file"
                                  : "default");
}

/* plugin_dirs: every directory searched, in order, the installed one last; the source names
 * where each group comes from. */
static void add_plugin_dirs(json_object *arr, cli_global *g, cli_config *c)
{
    char tmp[CLI_SRC_MAX];
    json_object *dirs = json_object_new_array();
    for (size_t i = 0; i < g->n_plugin_dirs; i++)
        json_object_array_add(dirs, json_object_new_string(g->plugin_dirs[i]));
    for (size_t i = 0; i < c->plugin_dirs.n; i++)
        json_object_array_add(dirs, json_object_new_string(c->plugin_dirs.v[i]));
    const char *bdir = NULL;
    if (cli_in_build_tree(&bdir))
        json_object_array_add(dirs, json_object_new_string(bdir));
    const char *pp = getenv("VAULTPLUG_PLUGIN_PATH");
    tmp[0] = '\0';
    const char *parts[] = {g->n_plugin_dirs ? "--plugin-dir" : NULL,
                           c->plugin_dirs.set ? c->plugin_dirs.src : NULL,
                           bdir ? "build tree" : NULL, pp && pp[0] ? "VAULTPLUG_PLUGIN_PATH" : NULL,
                           "installed directory"};
    if (pp != NULL && pp[0]) {
        char *copy = strdup(pp), *save = NULL;
        for (char *d = copy ? strtok_r(copy, ":", &save) : NULL; d; d = strtok_r(NULL, ":", &save))
            json_object_array_add(dirs, json_object_new_string(d));
        free(copy);
    }
#ifdef VP_CLI_PROVIDER_DIR
    json_object_array_add(dirs, json_object_new_string(VP_CLI_PROVIDER_DIR));
#endif
    for (size_t i = 0; i < sizeof(parts) / sizeof(parts[0]); i++) {
        char t2[CLI_SRC_MAX];
        if (parts[i] == NULL)
            continue;
        src_cat3(t2, sizeof(t2), tmp, tmp[0] ? ", then " : "", parts[i]);
        memcpy(tmp, t2, sizeof(t2));
    }
    add_entry(arr, "plugin_dirs", dirs, tmp);
}

/* Providers, cache and network settings. */
static void add_tuning(json_object *arr, cli_config *c)
{
    add_entry(arr, "enabled_providers",
              c->enabled_providers.set ? list_json(&c->enabled_providers)
                                       : json_object_new_string("(all found)"),
              c->enabled_providers.set ? c->enabled_providers.src : "default");
    add_entry(arr, "cache_ttl_minutes", json_object_new_int64(c->cache_ttl_min.v),
              c->cache_ttl_min.src);
    add_entry(arr, "cache_max_entries", num_json(&c->cache_max_entries, "(library default 1000)"),
              c->cache_max_entries.set ? c->cache_max_entries.src : "default");
    add_entry(arr, "cache_max_bytes", num_json(&c->cache_max_bytes, "(library default 64 MiB)"),
              c->cache_max_bytes.set ? c->cache_max_bytes.src : "default");
    add_entry(arr, "http_timeout_ms", num_json(&c->http_timeout_ms, "(library default 30000)"),
              c->http_timeout_ms.set ? c->http_timeout_ms.src : "default");
    char *mp = c->proxy.v ? mask_proxy(c->proxy.v) : NULL;
    add_entry(arr, "proxy", json_object_new_string(mp ? mp : "(the standard *_proxy variables)"),
              c->proxy.v ? c->proxy.src : "default");
    free(mp);
    add_entry(arr, "ca_file", json_object_new_string(c->ca_file.v ? c->ca_file.v : "(system)"),
              c->ca_file.v ? c->ca_file.src : "default");
}

/* Credential variables VAULTPLUG_<PROVIDER>_<FIELD>: a value is masked when the provider
 * declares the field secret, shown when it declares it public; a variable that is no declared
 * field (a provider setting such as VAULTPLUG_AZURE_ALLOW_HTTP) or of a provider that is not
 * loaded is masked only when its name says secret (secret_mask_rule). */
static void add_env_creds(json_object *arr, cli_global *g, cli_config *c)
{
    vp_ctx *tctx = types_ctx(g, c);
    for (char **e = environ; e && *e; e++) {
        if (strncmp(*e, "VAULTPLUG_", 10) != 0)
            continue;
        const char *eq = strchr(*e, '=');
        if (eq == NULL)
            continue;
        char name[128];
        snprintf(name, sizeof(name), "%.*s", (int)(eq - *e), *e);
        if (cli_env_reserved(name + 10) || strchr(name + 10, '_') == NULL)
            continue;
        const char *kind = NULL;
        int secret = env_secret(tctx, name + 10, &kind);
        add_entry(arr, name, json_object_new_string(secret ? "********" : eq + 1), kind);
    }
    if (tctx != NULL)
        vp_ctx_free(tctx);
}

/* The settings (consumed) as {"settings": [...]}, or as aligned "name  value  [source]" lines. */
static void print_settings(json_object *arr, int json)
{
    if (json) {
        json_object *root = json_object_new_object();
        json_object_object_add(root, "settings", arr);
        const char *text =
            json_object_to_json_string_ext(root, JSON_C_TO_STRING_PRETTY | JSON_C_TO_STRING_SPACED |
                                                     JSON_C_TO_STRING_NOSLASHESCAPE);
        puts(text ? text : "{}");
        json_object_put(root);
        return;
    }
    int color = cli_use_color(stdout);
    size_t w = 0; /* names in one column, two spaces before the values */
    for (size_t i = 0; i < json_object_array_length(arr); i++) {
        json_object *n;
        json_object_object_get_ex(json_object_array_get_idx(arr, i), "name", &n);
        size_t l = strlen(json_object_get_string(n));
        w = l > w ? l : w;
    }
    for (size_t i = 0; i < json_object_array_length(arr); i++) {
        json_object *o = json_object_array_get_idx(arr, i), *n, *v, *s;
        json_object_object_get_ex(o, "name", &n);
        json_object_object_get_ex(o, "value", &v);
        json_object_object_get_ex(o, "source", &s);
        cli_paint(stdout, color, CLI_BOLD, json_object_get_string(n), (int)w + 2);
        const char *text = json_object_is_type(v, json_type_string)
                               ? json_object_get_string(v)
                               : json_object_to_json_string_ext(
                                     v, JSON_C_TO_STRING_PLAIN | JSON_C_TO_STRING_NOSLASHESCAPE);
        cli_fputs_safe(stdout, text);
        printf("  [%s]\n", json_object_get_string(s));
    }
    json_object_put(arr);
}

int cli_config_show(cli_global *g, int json)
{
    int st = CLI_EXIT_OK;
    cli_config *c = cli_config_get(g, &st);
    if (c == NULL)
        return st;
    json_object *arr = json_object_new_array();
    add_files(arr, g, c);
    add_plugin_dirs(arr, g, c);
    add_tuning(arr, c);
    add_env_creds(arr, g, c);
    print_settings(arr, json);
    return cli_flush_stdout();
}
