/*
 * util.c - helpers shared by the commands: exit statuses, messages, colours, context creation.
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

static const char *level_name(int level)
{
    static const char *const names[] = {"error", "warning", "info", "debug", "trace"};
    return level >= 0 && level <= VP_LEVEL_TRACE ? names[level] : "log";
}

/* Log lines reach us already redacted by the library. ud points at the highest level shown
 * (the library's level 0 means "default", so VP_LEVEL_ERROR alone is filtered here). */
static void log_to_stderr(void *ud, int level, const char *source, const char *message)
{
    if (level > *(const int *)ud)
        return;
    fprintf(stderr, "vaultplug: %s: [%s] %s\n", level_name(level), source ? source : "core",
            message);
}

#define CLI_MAX_PLUGIN_DIRS 64

int cli_ctx_open(const cli_global *g, const cli_ctx_opts *o, vp_ctx **out)
{
    const char *dirs[CLI_MAX_PLUGIN_DIRS + 2];
    size_t n = 0;
    for (const char *const *d = o->plugin_dirs; d && *d; d++) {
        if (n >= CLI_MAX_PLUGIN_DIRS) {
            cli_error("too many plugin directories (at most %d)", CLI_MAX_PLUGIN_DIRS);
            return CLI_EXIT_USAGE;
        }
        dirs[n++] = *d;
    }
    /* After the user's directories, so an explicit --plugin-dir wins over the build tree. */
    const char *build_dir = NULL;
    if (cli_in_build_tree(&build_dir))
        dirs[n++] = build_dir;
    dirs[n] = NULL;

    vp_options opts;
    vp_options_init(&opts);
    opts.plugin_dirs = n ? dirs : NULL;
    opts.log_fn = log_to_stderr;
    static int max_level; /* read by log_to_stderr until the process exits */
    max_level = o->log_level + (g ? g->verbose : 0);
    if (max_level > VP_LEVEL_TRACE)
        max_level = VP_LEVEL_TRACE;
    opts.log_ud = &max_level;
    opts.log_level = max_level > VP_LEVEL_WARN ? max_level : VP_LEVEL_WARN;

    vp_error err;
    int rc = vp_ctx_new(&opts, out, &err);
    if (rc != 0) {
        cli_error("cannot initialise: %s", err.message[0] ? err.message : vp_strerror(rc));
        return cli_exit_for_status(rc);
    }
    return CLI_EXIT_OK;
}
