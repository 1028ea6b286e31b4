/*
 * util.c - helpers shared by the commands: exit statuses, messages, colours, value output,
 * option parsing.
 */
#define _DEFAULT_SOURCE /* realpath() is XSI, not in strict POSIX 2008 */
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli.h"

int cli_exit_for_status(int status)
{
    switch (status) {
    case VP_OK:
        return CLI_EXIT_OK;
    case VP_EINVAL:
        return CLI_EXIT_USAGE;
    case VP_ENOTFOUND:
        return CLI_EXIT_NOTFOUND;
    case VP_EAUTH:
        return CLI_EXIT_AUTH;
    case VP_EPERM:
        return CLI_EXIT_PERM;
    case VP_ENETWORK:
    case VP_ETIMEDOUT:
    case VP_EUNAVAIL:
        return CLI_EXIT_UNAVAILABLE;
    case VP_ERATELIMIT:
        return CLI_EXIT_RATELIMIT;
    case VP_EPROTO:
        return CLI_EXIT_INTEGRITY;
    default:
        return CLI_EXIT_INTERNAL;
    }
}

void cli_error(const char *fmt, ...)
{
    va_list ap;
    fputs("vaultplug: ", stderr);
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fputc('\n', stderr);
}

int cli_usage_error(const char *cmd, const char *fmt, ...)
{
    va_list ap;
    fputs("vaultplug: ", stderr);
    if (cmd != NULL)
        fprintf(stderr, "%s: ", cmd);
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fprintf(stderr, "\nRun 'vaultplug %s%s--help' for usage.\n", cmd ? cmd : "", cmd ? " " : "");
    return CLI_EXIT_USAGE;
}

int cli_use_color(FILE *f)
{
    /* https://no-color.org: any non-empty NO_COLOR disables colour. */
    const char *nc = getenv("NO_COLOR");
    if (nc != NULL && nc[0] != '\0')
        return 0;
    const char *term = getenv("TERM");
    if (term != NULL && strcmp(term, "dumb") == 0)
        return 0;
    return isatty(fileno(f));
}

void cli_paint(FILE *f, int color, const char *sgr, const char *s, int width)
{
    int n = (int)strlen(s);
    if (color && sgr != NULL)
        fprintf(f, "\033[%sm%s\033[0m", sgr, s);
    else
        fputs(s, f);
    for (; n < width; n++)
        fputc(' ', f);
}

int cli_in_build_tree(const char **dir)
{
#if defined(VP_CLI_BUILD_DIR) && defined(VP_BUILD_PROVIDER_DIR)
    /* Compare real paths: the build dir may be reached through a symlink. */
    char exe[PATH_MAX], exe_dir[PATH_MAX], build[PATH_MAX];
    ssize_t n = readlink("/proc/self/exe", exe, sizeof(exe) - 1);
    if (n <= 0)
        return 0;
    exe[n] = '\0';
    char *slash = strrchr(exe, '/');
    if (slash == NULL)
        return 0;
    *slash = '\0';
    if (realpath(exe, exe_dir) == NULL || realpath(VP_CLI_BUILD_DIR, build) == NULL)
        return 0;
    if (strcmp(exe_dir, build) != 0)
        return 0;
    if (dir != NULL)
        *dir = VP_BUILD_PROVIDER_DIR;
    return 1;
#else
    (void)dir;
    return 0;
#endif
}

void cli_info(const cli_global *g, const char *fmt, ...)
{
    if (g != NULL && g->quiet)
        return;
    va_list ap;
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fputc('\n', stderr);
}

int cli_fail(int status, const vp_error *err, const char *what)
{
    const char *msg = err != NULL && err->message[0] ? err->message : vp_strerror(status);
    if (what != NULL)
        cli_error("%s: %s", what, msg);
    else
        cli_error("%s", msg);
    return cli_exit_for_status(status);
}

int cli_flush_stdout(void)
{
    if (fflush(stdout) != 0 || ferror(stdout)) {
        cli_error("cannot write the output");
        return CLI_EXIT_INTERNAL;
    }
    return CLI_EXIT_OK;
}

int cli_write_value(const char *data, size_t len)
{
    if (len > 0 && fwrite(data, 1, len, stdout) != len) {
        cli_error("cannot write the output");
        return CLI_EXIT_INTERNAL;
    }
    if (isatty(STDOUT_FILENO) && (len == 0 || data[len - 1] != '\n'))
        fputc('\n', stdout);
    return cli_flush_stdout();
}

void cli_wipe(void *p, size_t n)
{
    volatile unsigned char *v = p;
    if (v == NULL)
        return;
    while (n--)
        *v++ = 0;
}

/* ---- option parsing ---------------------------------------------------------------------- */

enum { OPT_QUIET = 1, OPT_KEYFILE, OPT_PLUGINDIR, OPT_HELP };

static const cli_opt common_opts[] = {
    {"quiet", 'q', 0, OPT_QUIET},
    {"vault-key-file", 0, 1, OPT_KEYFILE},
    {"plugin-dir", 0, 1, OPT_PLUGINDIR},
    {"help", 'h', 0, OPT_HELP},
    {NULL, 0, 0, 0},
};

static const cli_opt *find_long(const cli_opt *opts, const char *name, size_t len)
{
    for (const cli_opt *o = opts; o && o->name; o++)
        if (strlen(o->name) == len && strncmp(o->name, name, len) == 0)
            return o;
    return NULL;
}

static const cli_opt *find_short(const cli_opt *opts, char c)
{
    for (const cli_opt *o = opts; o && o->name; o++)
        if (o->short_name == c)
            return o;
    return NULL;
}

static int common_opt(cli_global *g, const cli_command *cmd, int id, const char *arg)
{
    switch (id) {
    case OPT_QUIET:
        g->quiet = 1;
        return CLI_EXIT_OK;
    case OPT_KEYFILE:
        if (arg[0] == '\0')
            return cli_usage_error(cmd->name, "--vault-key-file needs a file name");
        g->vault_key_file = arg;
        return CLI_EXIT_OK;
    case OPT_PLUGINDIR:
        if (arg[0] == '\0')
            return cli_usage_error(cmd->name, "--plugin-dir needs a directory");
        if (g->n_plugin_dirs >= CLI_MAX_PLUGIN_DIRS)
            return cli_usage_error(cmd->name, "at most %d --plugin-dir options",
                                   CLI_MAX_PLUGIN_DIRS);
        g->plugin_dirs[g->n_plugin_dirs++] = arg;
        g->plugin_dirs[g->n_plugin_dirs] = NULL;
        return CLI_EXIT_OK;
    case OPT_HELP:
        fputs(cmd->help, stdout);
        return CLI_HELP;
    }
    return CLI_EXIT_INTERNAL;
}

int cli_parse(cli_global *g, const cli_command *cmd, int argc, char **argv, const cli_opt *opts,
              int (*on_opt)(void *ud, int id, const char *arg), void *ud, char **pos, int *npos,
              int maxpos)
{
    int only_pos = 0;
    *npos = 0;
    for (int i = 1; i < argc; i++) {
        char *a = argv[i];
        const cli_opt *o = NULL;
        const char *arg = NULL;
        char shortbuf[3] = "-?";
        int is_common = 0;
        if (!only_pos && strcmp(a, "--") == 0) {
            only_pos = 1;
            continue;
        }
        if (only_pos || a[0] != '-' || a[1] == '\0') {
            if (*npos >= maxpos)
                return cli_usage_error(cmd->name, "unexpected argument '%s'", a);
            pos[(*npos)++] = a;
            continue;
        }
        const char *shown = a;
        if (a[1] == '-') {
            const char *name = a + 2, *eq = strchr(name, '=');
            size_t len = eq ? (size_t)(eq - name) : strlen(name);
            o = find_long(opts, name, len);
            if (o == NULL && (o = find_long(common_opts, name, len)) != NULL)
                is_common = 1;
            if (o == NULL)
                return cli_usage_error(cmd->name, "unknown option '%.*s'", (int)(len + 2), a);
            if (eq != NULL && !o->has_arg)
                return cli_usage_error(cmd->name, "option '--%s' takes no value", o->name);
            arg = eq ? eq + 1 : NULL;
        } else {
            if (a[2] != '\0')
                return cli_usage_error(cmd->name, "unknown option '%s' (one short option per word)",
                                       a);
            o = find_short(opts, a[1]);
            if (o == NULL && (o = find_short(common_opts, a[1])) != NULL)
                is_common = 1;
            if (o == NULL)
                return cli_usage_error(cmd->name, "unknown option '%s'", a);
            shortbuf[1] = a[1];
            shown = shortbuf;
        }
        if (o->has_arg && arg == NULL) {
            if (i + 1 >= argc)
                return cli_usage_error(cmd->name, "option '%s' needs a value", shown);
            arg = argv[++i];
        }
        int rc;
        if (is_common)
            rc = common_opt(g, cmd, o->id, arg);
        else
            rc = on_opt ? on_opt(ud, o->id, arg) : CLI_EXIT_INTERNAL;
        if (rc != CLI_EXIT_OK)
            return rc;
    }
    return CLI_EXIT_OK;
}
