/*
 * cmd_render.c - `vaultplug render`, `vaultplug get` and `vaultplug refs`: templates and single
 * references, through the library's caching resolver.
 */
#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <json-c/json.h>

#include "cli.h"

#define MAX_ENV_FILES 32

static const char render_help[] =
    "Usage: vaultplug render [FILE|-] [--env FILE]... [--mask] [--output FILE] [--json]\n"
    "\n"
    "Render a template (FILE, or standard input when FILE is '-' or absent) and print the\n"
    "result. {{ vault.NAME }} reads the local vault; {% vault %} tags fetch external secrets\n"
    "through their providers, all references of the template at once, through the cache.\n"
    "See vaultplug-template(5) for the syntax.\n"
    "\n"
    "The vault is opened when the template uses it (the key comes from VAULTPLUG_VAULT_KEY,\n"
    "--vault-key-file, or a no-echo prompt on a terminal).\n"
    "\n"
    "Options:\n"
    "  --env FILE            a JSON object of variables; repeat to layer environments (later\n"
    "                        files win, objects merge)\n"
    "  --mask                show every secret as " VP_TMPL_MASK " (the references are still\n"
    "                        resolved, so errors are reported)\n"
    "  -o, --output FILE     write the result to FILE (mode 0600, replaced atomically); FILE\n"
    "                        is a regular file or new: links, FIFOs, devices are refused\n"
    "  --json                print {\"output\": \"...\", \"masked\": false} instead of the text\n"
    "  --vault-key-file F    read the vault key from file F\n"
    "  --plugin-dir DIR      search DIR for providers first; may be repeated\n"
    "  -q, --quiet           no informational messages\n"
    "  -h, --help            show this help\n"
    "\n"
    "Examples:\n"
    "  vaultplug render request.http --env base.json --env prod.json\n"
    "  vaultplug render --mask request.http          # review what would be sent\n"
    "  vaultplug render -o .env.local env.tmpl        # file readable by you only\n"
    "  echo 'password={% vault \"aws://prod/db#password\" %}' | vaultplug render -\n";

static const char get_help[] =
    "Usage: vaultplug get REF\n"
    "\n"
    "Print the value of one reference, scheme://[credential@]path[?params][#json-key], raw on\n"
    "standard output (no newline is added unless the output is a terminal). Goes through the\n"
    "cache like a render. A reference that names a credential opens the vault for it.\n"
    "\n"
    "Options:\n"
    "  --vault-key-file F    read the vault key from file F\n"
    "  --plugin-dir DIR      search DIR for providers first; may be repeated\n"
    "  -q, --quiet           no informational messages\n"
    "  -h, --help            show this help\n"
    "\n"
    "Examples:\n"
    "  vaultplug get 'aws://prod@db/password?region=us-east-1'   # credential prod\n"
    "  vaultplug get 'aws://db-credentials#password'\n"
    "  export DB_PASSWORD=\"$(vaultplug get 'aws://prod/db#password')\"\n";

static const char refs_help[] =
    "Usage: vaultplug refs FILE|- [--env FILE]... [--json]\n"
    "\n"
    "List the external references a render of the template would fetch (after the\n"
    "environment decided its if/for blocks), one per line in order of first use, with the\n"
    "line and column of that use. Nothing is fetched. Each is shown as a URI that\n"
    "'vaultplug get' accepts; a three-argument tag ({% vault 'aws', 'cred', '{...}' %}) as\n"
    "the URI that fetches the same value (aws, gcp, hashicorp and azure; for other providers\n"
    "its identity, scheme://[credential@]?config, which only a render can fetch).\n"
    "\n"
    "Options:\n"
    "  --env FILE            a JSON object of variables; may be repeated\n"
    "  --json                print {\"references\": [{\"id\", \"form\" (uri or tag3), "
    "\"scheme\",\n"
    "                        \"credential\", \"uri\" (null if none), \"config\" (tag3),\n"
    "                        \"json_key\", \"line\", \"column\"}, ...]}\n"
    "  --vault-key-file F    read the vault key from file F (when {{ vault.x }} steers blocks)\n"
    "  -q, --quiet           no informational messages\n"
    "  -h, --help            show this help\n"
    "\n"
    "Examples:\n"
    "  vaultplug refs request.http\n"
    "  vaultplug refs request.http --env prod.json --json | jq -r '.references[].scheme'\n";

enum { O_ENV = 256, O_MASK, O_OUTPUT, O_JSON };

typedef struct render_opts {
    const char *env[MAX_ENV_FILES];
    size_t n_env;
    int mask;
    int json;
    const char *output;
} render_opts;

static int on_opt(void *ud, int id, const char *arg)
{
    render_opts *o = ud;
    switch (id) {
    case O_ENV:
        if (o->n_env >= MAX_ENV_FILES)
            return cli_usage_error("render", "at most %d --env files", MAX_ENV_FILES);
        o->env[o->n_env++] = arg;
        return CLI_EXIT_OK;
    case O_MASK:
        o->mask = 1;
        return CLI_EXIT_OK;
    case O_OUTPUT:
        if (arg[0] == '\0')
            return cli_usage_error("render", "--output needs a file name");
        o->output = arg;
        return CLI_EXIT_OK;
    case O_JSON:
        o->json = 1;
        return CLI_EXIT_OK;
    }
    return CLI_EXIT_INTERNAL;
}

/* The whole template, from a file or stdin ("-" or NULL). */
static int read_template(const char *file, char **out, size_t *len)
{
    FILE *f = stdin;
    if (file != NULL && strcmp(file, "-") != 0) {
        f = fopen(file, "r");
        if (f == NULL) {
            cli_error("cannot open %s: %s", file, strerror(errno));
            return errno == ENOENT   ? CLI_EXIT_NOTFOUND
                   : errno == EACCES ? CLI_EXIT_PERM
                                     : CLI_EXIT_INTERNAL;
        }
    }
    size_t cap = 8192, n = 0;
    char *buf = malloc(cap);
    while (buf != NULL) {
        if (n + 1 >= cap) {
            if (cap > VP_TMPL_DEFAULT_MAX_TEMPLATE) {
                cli_error("%s: the template is larger than %u bytes", file ? file : "stdin",
                          VP_TMPL_DEFAULT_MAX_TEMPLATE);
                free(buf);
                if (f != stdin)
                    fclose(f);
                return CLI_EXIT_USAGE;
            }
            char *nb = realloc(buf, cap * 2);
            if (nb == NULL) {
                free(buf);
                buf = NULL;
                break;
            }
            buf = nb;
            cap *= 2;
        }
        size_t r = fread(buf + n, 1, cap - n - 1, f);
        n += r;
        if (r == 0)
            break;
    }
    int bad = ferror(f);
    if (f != stdin)
        fclose(f);
    if (buf == NULL || bad) {
        free(buf);
        cli_error("cannot read %s", file && strcmp(file, "-") ? file : "the template from stdin");
        return CLI_EXIT_INTERNAL;
    }
    buf[n] = '\0';
    *out = buf;
    *len = n;
    return CLI_EXIT_OK;
}

static int build_env(const render_opts *o, vp_env **env)
{
    vp_error err;
    int st = vp_env_new(env);
    if (st != 0)
        return cli_fail(st, NULL, "environment");
    for (size_t i = 0; i < o->n_env; i++) {
        st = vp_env_add_file(*env, o->env[i], &err);
        if (st != 0) {
            vp_env_free(*env);
            *env = NULL;
            /* Name the file once: the library's message names it when it could not open it. */
            char quoted[512];
            snprintf(quoted, sizeof(quoted), "'%s'", o->env[i]);
            return cli_fail(st, &err, strstr(err.message, quoted) ? NULL : o->env[i]);
        }
    }
    return CLI_EXIT_OK;
}

/* Does a render of t need the vault? {{ vault.x }}, or a reference naming a credential. */
static int needs_vault(const char *src, const vp_template *t, const vp_env *env)
{
    if (strstr(src, "vault.") != NULL || strstr(src, "vault[") != NULL ||
        strstr(src, "__insomnia_vault") != NULL)
        return 1;
    vp_render_params p;
    memset(&p, 0, sizeof(p));
    p.size = sizeof(p);
    p.env = env;
    vp_template_refs *refs = NULL;
    vp_error err;
    if (vp_template_refs_collect(t, &p, &refs, &err) != 0)
        return 1;
    int need = 0;
    for (size_t i = 0; i < vp_template_refs_count(refs); i++) {
        const vp_template_ref *r = vp_template_refs_get(refs, i);
        if (r && r->credential && r->credential[0])
            need = 1;
    }
    vp_template_refs_free(refs);
    return need;
}

static void locked_hint(const cli_session *s)
{
    if (s->vault_locked)
        fputs("The vault is locked: set VAULTPLUG_VAULT_KEY, pass --vault-key-file FILE, or run "
              "on a terminal to be asked for the key.\n",
              stderr);
}

/*
 * --output writes only regular files. Anything else at the path is refused, never replaced nor
 * written through: renaming over a symbolic link, FIFO or device node would silently replace it
 * with a file of secrets (as root, `-o /dev/null` would break /dev/null for everyone), and a
 * link may point anywhere. CLI_EXIT_OK with *exists 1 (a regular file is there) or 0 (nothing
 * is), else CLI_EXIT_USAGE with the message printed.
 */
static int output_target(const char *path, int *exists)
{
    struct stat sb;
    *exists = 0;
    if (lstat(path, &sb) != 0)
        return CLI_EXIT_OK; /* absent (or unreachable: creating the file says why) */
    if (S_ISREG(sb.st_mode)) {
        *exists = 1;
        return CLI_EXIT_OK;
    }
    const char *what = S_ISLNK(sb.st_mode)    ? "a symbolic link"
                       : S_ISDIR(sb.st_mode)  ? "a directory"
                       : S_ISFIFO(sb.st_mode) ? "a FIFO (named pipe)"
                       : S_ISCHR(sb.st_mode)  ? "a character device"
                       : S_ISBLK(sb.st_mode)  ? "a block device"
                       : S_ISSOCK(sb.st_mode) ? "a socket"
                                              : "not a regular file";
    if (S_ISLNK(sb.st_mode)) {
        char to[1024];
        ssize_t n = readlink(path, to, sizeof(to) - 1);
        to[n > 0 ? n : 0] = '\0';
        cli_error("render: --output %s is a symbolic link (to %s); nothing was written", path,
                  n > 0 ? to : "?");
        fputs("--output writes only regular files and does not follow links: give the path of "
              "the file itself.\n",
              stderr);
    } else {
        cli_error("render: --output %s is %s, not a regular file; nothing was written", path, what);
        fputs(S_ISDIR(sb.st_mode)
                  ? "Name a file, not a directory.\n"
                  : "--output writes only regular files. To send the result there, leave out "
                    "--output and redirect standard output (> PATH).\n",
              stderr);
    }
    return CLI_EXIT_USAGE;
}

/* Put the finished temp file at path: create it only if nothing is there (link() fails if
 * anything appeared meanwhile), or replace a regular file. */
static int place_output(const char *tmp, const char *path)
{
    for (int tries = 0; tries < 2; tries++) {
        int exists;
        int rc = output_target(path, &exists);
        if (rc != CLI_EXIT_OK)
            return rc;
        if (exists)
            break;
        if (link(tmp, path) == 0) {
            unlink(tmp);
            return CLI_EXIT_OK;
        }
        if (errno != EEXIST)
            break; /* no hard links here (some file systems): fall back to rename */
    }
    if (rename(tmp, path) != 0) {
        cli_error("cannot write %s: %s", path, strerror(errno));
        return CLI_EXIT_INTERNAL;
    }
    return CLI_EXIT_OK;
}

/* Write data to path atomically: a 0600 temp file in the same directory, fsync, then
 * place_output. The path was checked with output_target before anything was fetched. */
static int write_file_atomic(const char *path, const char *data, size_t len)
{
    size_t pl = strlen(path);
    char *tmp = malloc(pl + 16), *dirc = strdup(path);
    if (tmp == NULL || dirc == NULL) {
        free(tmp);
        free(dirc);
        cli_error("out of memory");
        return CLI_EXIT_INTERNAL;
    }
    snprintf(tmp, pl + 16, "%s.vpXXXXXX", path);
    int fd = mkstemp(tmp); /* created 0600 */
    int rc = CLI_EXIT_INTERNAL;
    if (fd < 0) {
        cli_error("cannot write %s: %s", path, strerror(errno));
        rc = errno == EACCES ? CLI_EXIT_PERM : errno == ENOENT ? CLI_EXIT_NOTFOUND : rc;
    } else {
        size_t off = 0;
        while (off < len) {
            ssize_t w = write(fd, data + off, len - off);
            if (w < 0 && errno == EINTR)
                continue;
            if (w <= 0)
                break;
            off += (size_t)w;
        }
        int ok = off == len && fchmod(fd, 0600) == 0 && fsync(fd) == 0;
        ok = close(fd) == 0 && ok;
        if (!ok) {
            cli_error("cannot write %s: %s", path, strerror(errno));
            unlink(tmp);
        } else if ((rc = place_output(tmp, path)) != CLI_EXIT_OK) {
            unlink(tmp);
        } else {
            int dfd = open(dirname(dirc), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
            if (dfd >= 0) {
                (void)fsync(dfd);
                close(dfd);
            }
        }
    }
    free(tmp);
    free(dirc);
    return rc;
}

static int render_run(cli_global *g, int argc, char **argv)
{
    static const cli_opt opts[] = {
        {"env", 'e', 1, O_ENV}, {"mask", 0, 0, O_MASK}, {"output", 'o', 1, O_OUTPUT},
        {"json", 0, 0, O_JSON}, {NULL, 0, 0, 0},
    };
    render_opts o = {0};
    char *pos[1];
    int npos = 0;
    int rc = cli_parse(g, &cli_cmd_render, argc, argv, opts, on_opt, &o, pos, &npos, 1);
    if (rc != CLI_EXIT_OK)
        return rc == CLI_HELP ? CLI_EXIT_OK : rc;
    const char *file = npos ? pos[0] : NULL;
    if (file == NULL && isatty(STDIN_FILENO))
        return cli_usage_error("render", "give a template FILE (or '-' to read standard input)");

    char *src = NULL;
    size_t len = 0;
    vp_env *env = NULL;
    vp_template *t = NULL;
    vp_error err;
    cli_session s = {0};
    vp_buf out = VP_BUF_INIT;
    int exists;
    /* Before anything is fetched: a refused --output must not cost a round of secret reads. */
    if (o.output != NULL && (rc = output_target(o.output, &exists)) != CLI_EXIT_OK)
        return rc;
    if ((rc = read_template(file, &src, &len)) != CLI_EXIT_OK)
        return rc;
    if ((rc = build_env(&o, &env)) != CLI_EXIT_OK)
        goto done;
    int st = vp_template_parse(src, len, NULL, &t, &err);
    if (st != 0) {
        rc = cli_fail(st, &err, file && strcmp(file, "-") ? file : "template");
        goto done;
    }
    rc = cli_session_open(g, needs_vault(src, t, env) ? CLI_VAULT_PROMPT : CLI_VAULT_OPTIONAL,
                          VP_LEVEL_WARN, &s);
    if (rc != CLI_EXIT_OK)
        goto done;
    vp_vault_source vs;
    vp_render_params p;
    memset(&p, 0, sizeof(p));
    p.size = sizeof(p);
    p.mode = o.mask ? VP_RENDER_PREVIEW : VP_RENDER_SEND;
    p.flags = o.mask ? VP_TMPL_PREVIEW_RESOLVE : 0;
    p.env = env;
    p.ctx = s.ctx;
    if (vp_ctx_vault_source(s.ctx, &vs) == 0)
        p.vault = &vs;
    st = vp_template_render(t, &p, &out, &err);
    if (st != 0) {
        rc = cli_fail(st, &err, "render");
        locked_hint(&s);
        goto done;
    }
    if (o.output != NULL) {
        rc = write_file_atomic(o.output, out.data, out.len);
        if (rc == CLI_EXIT_OK)
            cli_info(g, "wrote %s (%zu bytes, mode 0600)", o.output, out.len);
    } else if (o.json) {
        json_object *root = json_object_new_object();
        json_object_object_add(root, "output", json_object_new_string_len(out.data, (int)out.len));
        json_object_object_add(root, "masked", json_object_new_boolean(o.mask));
        const char *text = json_object_to_json_string_ext(root, JSON_C_TO_STRING_NOSLASHESCAPE);
        rc = text && puts(text) >= 0 ? cli_flush_stdout() : CLI_EXIT_INTERNAL;
        /* json-c's copy of the value is wiped before it is released. */
        json_object *v = NULL;
        if (json_object_object_get_ex(root, "output", &v))
            cli_wipe((char *)json_object_get_string(v), (size_t)json_object_get_string_len(v));
        if (text)
            cli_wipe((char *)text, strlen(text));
        json_object_put(root);
    } else {
        if (out.len > 0 && fwrite(out.data, 1, out.len, stdout) != out.len)
            rc = CLI_EXIT_INTERNAL;
        rc = rc == CLI_EXIT_OK ? cli_flush_stdout() : rc;
    }
done:
    vp_buf_free(&out);
    cli_session_close(&s);
    vp_template_free(t);
    vp_env_free(env);
    free(src);
    return rc;
}

static int get_run(cli_global *g, int argc, char **argv)
{
    char *pos[1];
    int npos = 0;
    int rc = cli_parse(g, &cli_cmd_get, argc, argv, NULL, NULL, NULL, pos, &npos, 1);
    if (rc != CLI_EXIT_OK)
        return rc == CLI_HELP ? CLI_EXIT_OK : rc;
    if (npos != 1)
        return cli_usage_error("get", "give one reference, e.g. echo://demo/token");
    const char *ref = pos[0];
    const char *sep = strstr(ref, "://");
    const char *at = sep ? strchr(sep + 3, '@') : NULL;
    const char *slash = sep ? strchr(sep + 3, '/') : NULL;
    int named = at != NULL && (slash == NULL || at < slash);
    cli_session s;
    rc = cli_session_open(g, named ? CLI_VAULT_PROMPT : CLI_VAULT_OPTIONAL, VP_LEVEL_WARN, &s);
    if (rc != CLI_EXIT_OK)
        return rc;
    vp_buf out = VP_BUF_INIT;
    vp_error err;
    int st = vp_resolve(s.ctx, ref, 0, &out, &err);
    if (st != 0) {
        rc = cli_fail(st, &err, NULL);
        if (named)
            locked_hint(&s);
    } else {
        rc = cli_write_value(out.data, out.len);
    }
    vp_buf_free(&out);
    cli_session_close(&s);
    return rc;
}

static const char *form_name(vp_ref_form f)
{
    return f == VP_REF_TAG3 ? "tag3" : "uri";
}

static int refs_run(cli_global *g, int argc, char **argv)
{
    static const cli_opt opts[] = {
        {"env", 'e', 1, O_ENV},
        {"json", 0, 0, O_JSON},
        {NULL, 0, 0, 0},
    };
    render_opts o = {0};
    char *pos[1];
    int npos = 0;
    int rc = cli_parse(g, &cli_cmd_refs, argc, argv, opts, on_opt, &o, pos, &npos, 1);
    if (rc != CLI_EXIT_OK)
        return rc == CLI_HELP ? CLI_EXIT_OK : rc;
    if (npos != 1)
        return cli_usage_error("refs", "give a template FILE (or '-' for standard input)");
    char *src = NULL;
    size_t len = 0;
    vp_env *env = NULL;
    vp_template *t = NULL;
    vp_template_refs *refs = NULL;
    vp_error err;
    cli_session s = {0};
    if ((rc = read_template(pos[0], &src, &len)) != CLI_EXIT_OK)
        return rc;
    if ((rc = build_env(&o, &env)) != CLI_EXIT_OK)
        goto done;
    int st = vp_template_parse(src, len, NULL, &t, &err);
    if (st != 0) {
        rc = cli_fail(st, &err, strcmp(pos[0], "-") ? pos[0] : "template");
        goto done;
    }
    /* The vault only matters when {{ vault.x }} decides a block; never prompt for listing. */
    rc = cli_session_open(g, CLI_VAULT_OPTIONAL, VP_LEVEL_WARN, &s);
    if (rc != CLI_EXIT_OK)
        goto done;
    vp_vault_source vs;
    vp_render_params p;
    memset(&p, 0, sizeof(p));
    p.size = sizeof(p);
    p.env = env;
    p.ctx = s.ctx;
    if (vp_ctx_vault_source(s.ctx, &vs) == 0)
        p.vault = &vs;
    st = vp_template_refs_collect(t, &p, &refs, &err);
    if (st != 0) {
        rc = cli_fail(st, &err, "refs");
        locked_hint(&s);
        goto done;
    }
    size_t n = vp_template_refs_count(refs);
    if (o.json) {
        json_object *root = json_object_new_object(), *arr = json_object_new_array();
        json_object_object_add(root, "references", arr);
        for (size_t i = 0; i < n; i++) {
            const vp_template_ref *r = vp_template_refs_get(refs, i);
            json_object *e = json_object_new_object();
            json_object_object_add(e, "id", json_object_new_string(r->id));
            json_object_object_add(e, "form", json_object_new_string(form_name(r->form)));
            json_object_object_add(e, "scheme", json_object_new_string(r->scheme));
            json_object_object_add(e, "credential", json_object_new_string(r->credential));
            char *u = r->form == VP_REF_TAG3 ? cli_tag3_uri(r) : NULL;
            const char *uri = r->uri ? r->uri : u;
            json_object_object_add(e, "uri", uri ? json_object_new_string(uri) : NULL);
            free(u);
            json_object_object_add(e, "config",
                                   r->config ? json_object_new_string(r->config) : NULL);
            json_object_object_add(e, "json_key",
                                   r->json_key ? json_object_new_string(r->json_key) : NULL);
            json_object_object_add(e, "line", json_object_new_int((int)r->line));
            json_object_object_add(e, "column", json_object_new_int((int)r->column));
            json_object_array_add(arr, e);
        }
        const char *text =
            json_object_to_json_string_ext(root, JSON_C_TO_STRING_PRETTY | JSON_C_TO_STRING_SPACED |
                                                     JSON_C_TO_STRING_NOSLASHESCAPE);
        puts(text ? text : "{}");
        json_object_put(root);
    } else {
        /* A three-argument tag is shown in the URI form `vaultplug get` takes. */
        size_t no_uri = 0;
        for (size_t i = 0; i < n; i++) {
            const vp_template_ref *r = vp_template_refs_get(refs, i);
            char *u = r->form == VP_REF_TAG3 ? cli_tag3_uri(r) : NULL;
            no_uri += r->form == VP_REF_TAG3 && u == NULL;
            printf("%s\t%u:%u\n", u ? u : r->id, r->line, r->column);
            free(u);
        }
        if (no_uri > 0)
            cli_info(g,
                     "note: %zu three-argument tag%s ha%s no URI form (shown as "
                     "scheme://[credential@]?config); render the template to fetch %s",
                     no_uri, no_uri == 1 ? "" : "s", no_uri == 1 ? "s" : "ve",
                     no_uri == 1 ? "it" : "them");
        if (n == 0)
            cli_info(g, "the template needs no external secret");
    }
    rc = cli_flush_stdout();
done:
    vp_template_refs_free(refs);
    cli_session_close(&s);
    vp_template_free(t);
    vp_env_free(env);
    free(src);
    return rc;
}

const cli_command cli_cmd_render = {
    "render",
    "render a template with secrets from the vault and providers",
    render_help,
    render_run,
};

const cli_command cli_cmd_get = {
    "get",
    "print the value of one secret reference",
    get_help,
    get_run,
};

const cli_command cli_cmd_refs = {
    "refs",
    "list the external references a template needs",
    refs_help,
    refs_run,
};
