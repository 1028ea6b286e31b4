/*
 * cli.h - shared pieces of the `vaultplug` command: the command table entry, exit codes, and
 * the helpers every command uses (context creation, output conventions).
 *
 * Conventions (every command follows them):
 *   - data goes to stdout, messages (errors, warnings, hints) to stderr;
 *   - `--json` output is one valid JSON document on stdout;
 *   - colours only when the stream is a terminal and NO_COLOR is unset or empty;
 *   - the exit status says what kind of failure happened (see cli_exit below); it is computed
 *     from a vp status in exactly one place, cli_exit_for_status().
 *
 * Adding a command: write cmd_<name>.c defining a `const cli_command cli_cmd_<name>`, declare
 * it at the bottom of this file, add it to the table in main.c and to CMakeLists.txt.
 */
#ifndef VP_CLI_H
#define VP_CLI_H

#include <stdio.h>

#include <vaultplug/vaultplug.h>

/* Exit statuses, documented in `vaultplug --help`. */
typedef enum cli_exit {
    CLI_EXIT_OK = 0,
    CLI_EXIT_USAGE = 2,       /* bad command line or invalid input (VP_EINVAL) */
    CLI_EXIT_NOTFOUND = 3,    /* VP_ENOTFOUND */
    CLI_EXIT_AUTH = 4,        /* VP_EAUTH: missing, expired or invalid credentials */
    CLI_EXIT_PERM = 5,        /* VP_EPERM: the identity is not allowed */
    CLI_EXIT_UNAVAILABLE = 6, /* VP_ENETWORK, VP_ETIMEDOUT, VP_EUNAVAIL: try again later */
    CLI_EXIT_RATELIMIT = 7,   /* VP_ERATELIMIT */
    CLI_EXIT_INTEGRITY = 8,   /* VP_EPROTO: unexpected, corrupted or tampered data */
    CLI_EXIT_INTERNAL = 9     /* everything else (out of memory, ABI, I/O, internal) */
} cli_exit;

/* The one mapping from a vp status (0 or negative VP_E*) to an exit status. */
int cli_exit_for_status(int status);

/* Global state shared by commands (parsed before the command name). */
typedef struct cli_global {
    const char *argv0; /* "vaultplug" (for messages) */
    int verbose;       /* -v count: 1 info, 2 debug, 3 trace log lines on stderr */
} cli_global;

/*
 * One command. `help` is the full text of `vaultplug <name> --help` (usage, description,
 * options, examples), printed as is. `run` gets argv with argv[0] = the command name and
 * returns an exit status.
 */
typedef struct cli_command {
    const char *name;
    const char *summary; /* one line for `vaultplug --help` */
    const char *help;
    int (*run)(const cli_global *g, int argc, char **argv);
} cli_command;

/* Find a command by name; NULL if unknown. */
const cli_command *cli_find_command(const char *name);

/* Print "vaultplug: <message>" to stderr (message formatted like printf, no newline needed). */
void cli_error(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/* A usage error in command `cmd`: the message plus a hint to run `vaultplug cmd --help`.
 * Returns CLI_EXIT_USAGE. */
int cli_usage_error(const char *cmd, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* Non-zero if colour escapes may be written to f (a TTY, NO_COLOR unset or empty, TERM not
 * "dumb"). */
int cli_use_color(FILE *f);

/* SGR colours for cli_paint. */
#define CLI_GREEN  "32"
#define CLI_RED    "31"
#define CLI_YELLOW "33"
#define CLI_BOLD   "1"
/* Write s to f, in colour `sgr` if `color` is set, padded with spaces to `width` columns. */
void cli_paint(FILE *f, int color, const char *sgr, const char *s, int width);

/* Options for cli_ctx_open. */
typedef struct cli_ctx_opts {
    const char *const *plugin_dirs; /* --plugin-dir values, NULL-terminated or NULL */
    int log_level;                  /* VP_LEVEL_*; raised by -v */
} cli_ctx_opts;

/*
 * Create a library context for a command. Plugin search path: the given directories, then, when
 * this executable runs from the build tree, the build tree's provider directory, then the
 * library's defaults (VAULTPLUG_PLUGIN_PATH, the installed provider directory). Log lines go to
 * stderr. On failure prints the error and returns the exit status (non-zero).
 */
int cli_ctx_open(const cli_global *g, const cli_ctx_opts *o, vp_ctx **out);

/* Non-zero when the executable runs from the build tree (then *dir is its provider dir). */
int cli_in_build_tree(const char **dir);

/* Commands. */
extern const cli_command cli_cmd_providers;

#endif
