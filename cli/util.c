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
    case VP_ELIMIT: /* one rule: syntax errors, bad values and limits are the caller's to fix */
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

/* ---- text from outside (providers, files, the user) on a terminal -------------------------- */

/* Length of the well-formed UTF-8 sequence at s (1-4), or 0 if it is not one (overlong forms,
 * surrogates and code points above U+10FFFF are not well formed). *cp gets the code point. */
static size_t utf8_seq(const unsigned char *s, unsigned *cp)
{
    unsigned c = s[0], n, min;
    if (c < 0x80) {
        *cp = c;
        return 1;
    }
    if (c >= 0xC2 && c <= 0xDF)
        n = 2, min = 0x80, c &= 0x1F;
    else if (c >= 0xE0 && c <= 0xEF)
        n = 3, min = 0x800, c &= 0x0F;
    else if (c >= 0xF0 && c <= 0xF4)
        n = 4, min = 0x10000, c &= 0x07;
    else
        return 0;
    for (unsigned i = 1; i < n; i++) {
        if ((s[i] & 0xC0) != 0x80)
            return 0;
        c = (c << 6) | (s[i] & 0x3F);
    }
    if (c < min || c > 0x10FFFF || (c >= 0xD800 && c <= 0xDFFF))
        return 0;
    *cp = c;
    return n;
}

/* Code points that change how a terminal shows the text: C0, DEL, C1, and the bidirectional
 * overrides and isolates (which reorder what follows them). */
static int cp_unsafe(unsigned cp)
{
    return cp < 0x20 || (cp >= 0x7F && cp <= 0x9F) || (cp >= 0x202A && cp <= 0x202E) ||
           (cp >= 0x2066 && cp <= 0x2069);
}

static size_t escape(const char *s, char *out, size_t cap, int keep_nl)
{
    size_t n = 0;
#define PUT(str, len)                      \
    do {                                   \
        if (n + (len) < cap)               \
            memcpy(out + n, (str), (len)); \
        n += (len);                        \
    } while (0)
    for (const unsigned char *p = (const unsigned char *)(s ? s : ""); *p;) {
        unsigned cp = 0;
        size_t k = utf8_seq(p, &cp);
        char esc[16];
        if (k == 0) {
            snprintf(esc, sizeof(esc), "\\x%02x", *p);
            PUT(esc, 4);
            p++;
            continue;
        }
        if (!cp_unsafe(cp) || (keep_nl && cp == '\n')) {
            PUT(p, k);
        } else if (cp == '\n' || cp == '\r' || cp == '\t') {
            esc[0] = '\\';
            esc[1] = cp == '\n' ? 'n' : cp == '\r' ? 'r' : 't';
            PUT(esc, 2);
        } else if (cp < 0x80) {
            snprintf(esc, sizeof(esc), "\\x%02x", cp);
            PUT(esc, 4);
        } else {
            snprintf(esc, sizeof(esc), "\\u%04x", cp);
            PUT(esc, 6);
        }
        p += k;
    }
#undef PUT
    if (cap > 0)
        out[n < cap ? n : cap - 1] = '\0';
    return n;
}

size_t cli_escape(const char *s, char *out, size_t cap)
{
    return escape(s, out, cap, 0);
}

char *cli_escape_dup(const char *s)
{
    size_t n = cli_escape(s, NULL, 0);
    char *out = malloc(n + 1);
    if (out != NULL)
        cli_escape(s, out, n + 1);
    return out;
}

void cli_fputs_safe(FILE *f, const char *s)
{
    char buf[1024];
    size_t n = cli_escape(s, buf, sizeof(buf));
    if (n < sizeof(buf)) {
        fputs(buf, f);
        return;
    }
    char *d = cli_escape_dup(s);
    fputs(d ? d : "(out of memory)", f);
    free(d);
}

int cli_utf8_valid(const char *s)
{
    unsigned cp;
    for (const unsigned char *p = (const unsigned char *)s; *p;) {
        size_t k = utf8_seq(p, &cp);
        if (k == 0)
            return 0;
        p += k;
    }
    return 1;
}

size_t cli_text_width(const char *s)
{
    size_t w = 0;
    for (const unsigned char *p = (const unsigned char *)s; *p; p++)
        w += (*p & 0xC0) != 0x80; /* count code points, not bytes */
    return w;
}

/* "vaultplug: " + the formatted message with control characters escaped + newline. */
__attribute__((format(printf, 2, 0))) static void vmessage(const char *cmd, const char *fmt,
                                                           va_list ap)
{
    char buf[2048];
    va_list ap2;
    va_copy(ap2, ap);
    int n = vsnprintf(buf, sizeof(buf), fmt, ap);
    char *big = NULL;
    if (n >= (int)sizeof(buf) && (big = malloc((size_t)n + 1)) != NULL)
        vsnprintf(big, (size_t)n + 1, fmt, ap2);
    va_end(ap2);
    fputs("vaultplug: ", stderr);
    if (cmd != NULL)
        fprintf(stderr, "%s: ", cmd);
    /* Messages may span lines (a template error shows the line and a caret); everything else
     * that would drive the terminal is escaped. */
    const char *text = n < 0 ? fmt : big ? big : buf;
    size_t el = escape(text, NULL, 0, 1);
    char *e = malloc(el + 1);
    if (e != NULL)
        escape(text, e, el + 1, 1);
    fputs(e ? e : "(out of memory)", stderr);
    free(e);
    free(big);
    fputc('\n', stderr);
}

void cli_error(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vmessage(NULL, fmt, ap);
    va_end(ap);
}

int cli_usage_error(const char *cmd, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vmessage(cmd, fmt, ap);
    va_end(ap);
    fputs("Run 'vaultplug ", stderr);
    fprintf(stderr, "%s%s--help' for usage.\n", cmd ? cmd : "", cmd ? " " : "");
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
    char *e = cli_escape_dup(s);
    const char *t = e ? e : "?";
    int n = (int)cli_text_width(t);
    if (color && sgr != NULL)
        fprintf(f, "\033[%sm%s\033[0m", sgr, t);
    else
        fputs(t, f);
    for (; n < width; n++)
        fputc(' ', f);
    free(e);
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
    char buf[2048];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(buf, sizeof(buf), fmt, ap); /* informational lines are short */
    va_end(ap);
    cli_fputs_safe(stderr, buf);
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

enum { OPT_QUIET = 1, OPT_VERBOSE, OPT_KEYFILE, OPT_PLUGINDIR, OPT_HELP };

static const cli_opt common_opts[] = {
    {"quiet", 'q', 0, OPT_QUIET},
    {"verbose", 'v', 0, OPT_VERBOSE},
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
    case OPT_VERBOSE:
        g->verbose++;
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
        } else if (a[1] == 'v' && strspn(a + 1, "v") == strlen(a + 1) &&
                   find_short(opts, 'v') == NULL) {
            g->verbose += (int)strlen(a + 1); /* -vv, -vvv as before the command name */
            continue;
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
