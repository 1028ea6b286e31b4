/*
 * cli.h - shared pieces of the `vaultplug` command: the command table entry, exit codes, option
 * parsing, configuration, secret input, and the session (context + vault) every command opens.
 *
 * Conventions (every command follows them):
 *   - data goes to stdout, messages (errors, warnings, hints) to stderr;
 *   - `--json` output is one valid JSON document on stdout;
 *   - colours only when the stream is a terminal and NO_COLOR is unset or empty;
 *   - secret values never come from argv: stdin (not a terminal) or a no-echo prompt;
 *   - the exit status says what kind of failure happened (see cli_exit below); it is computed
 *     from a vp status in exactly one place, cli_exit_for_status().
 *
 * Adding a command: write cmd_<name>.c defining a `const cli_command cli_cmd_<name>`, declare
 * it at the bottom of this file, add it to the table in main.c and to CMakeLists.txt.
 */
#ifndef VP_CLI_H
#define VP_CLI_H

#include <stddef.h>
#include <stdio.h>

#include <vaultplug/credtypes.h>
#include <vaultplug/vaultplug.h>

/* Exit statuses, documented in `vaultplug --help` and vaultplug(1). */
typedef enum cli_exit {
    CLI_EXIT_OK = 0,
    CLI_EXIT_CANCELLED = 1,   /* the user answered no to a confirmation; nothing was changed */
    CLI_EXIT_USAGE = 2,       /* bad command line, invalid input or a limit (VP_EINVAL,
                                 VP_ELIMIT) */
    CLI_EXIT_NOTFOUND = 3,    /* VP_ENOTFOUND */
    CLI_EXIT_AUTH = 4,        /* VP_EAUTH: missing, expired or invalid credentials or key */
    CLI_EXIT_PERM = 5,        /* VP_EPERM: the identity is not allowed */
    CLI_EXIT_UNAVAILABLE = 6, /* VP_ENETWORK, VP_ETIMEDOUT, VP_EUNAVAIL: try again later */
    CLI_EXIT_RATELIMIT = 7,   /* VP_ERATELIMIT */
    CLI_EXIT_INTEGRITY = 8,   /* VP_EPROTO: unexpected, corrupted or tampered data */
    CLI_EXIT_INTERNAL = 9     /* everything else (out of memory, ABI, I/O, internal) */
} cli_exit;

/* The one mapping from a vp status (0 or negative VP_E*) to an exit status. */
int cli_exit_for_status(int status);

#define CLI_MAX_PLUGIN_DIRS 64

typedef struct cli_config cli_config;

/* Global state shared by commands (options before the command name, and the common options
 * every command also accepts). */
typedef struct cli_global {
    const char *argv0; /* "vaultplug" (for messages) */
    int verbose;       /* -v count: 1 info, 2 debug, 3 trace log lines on stderr */
    int quiet;         /* -q: no informational messages (errors still go to stderr) */
    const char *vault_key_file;
    const char *plugin_dirs[CLI_MAX_PLUGIN_DIRS + 1]; /* --plugin-dir, NULL-terminated */
    size_t n_plugin_dirs;
    cli_config *cfg; /* loaded by cli_config_get */
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
    int (*run)(cli_global *g, int argc, char **argv);
} cli_command;

/* Find a command by name; NULL if unknown. */
const cli_command *cli_find_command(const char *name);

/* ---- messages and output --------------------------------------------------------------- */

/* Text that comes from outside (a provider's name, version, description or error message, a
 * file) is shown with what could drive the terminal escaped: C0 controls and DEL as \n, \r,
 * \t or \xNN, C1 controls and bidirectional overrides as \uNNNN, bytes that are not UTF-8 as
 * \xNN; UTF-8 text is kept. cli_escape writes at most cap bytes (NUL-terminated when cap > 0)
 * and returns the full length; cli_escape_dup mallocs the result (NULL if out of memory). */
size_t cli_escape(const char *s, char *out, size_t cap);
char *cli_escape_dup(const char *s);
void cli_fputs_safe(FILE *f, const char *s);
/* Non-zero if s is well-formed UTF-8 (what a JSON string may hold as it is). */
int cli_utf8_valid(const char *s);
/* Columns s takes on a terminal (code points; s already escaped). */
size_t cli_text_width(const char *s);

/* Print "vaultplug: <message>" to stderr (message formatted like printf, no newline needed;
 * control characters in the result but line feeds are escaped, see cli_escape). */
void cli_error(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/* An informational line on stderr, unless --quiet. */
void cli_info(const cli_global *g, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* A usage error in command `cmd`: the message plus a hint to run `vaultplug cmd --help`.
 * Returns CLI_EXIT_USAGE. */
int cli_usage_error(const char *cmd, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* Print a library failure ("vaultplug: <what>: <message>") and return its exit status. */
int cli_fail(int status, const vp_error *err, const char *what);

/* Non-zero if colour escapes may be written to f (a TTY, NO_COLOR unset or empty, TERM not
 * "dumb"). */
int cli_use_color(FILE *f);

/* SGR colours for cli_paint. */
#define CLI_GREEN  "32"
#define CLI_RED    "31"
#define CLI_YELLOW "33"
#define CLI_BOLD   "1"
/* Write s (escaped, see cli_escape) to f, in colour `sgr` if `color` is set, padded with spaces
 * to `width` columns. */
void cli_paint(FILE *f, int color, const char *sgr, const char *s, int width);

/* Write a value (any bytes) to stdout; a newline is added when stdout is a terminal so the
 * prompt does not run into it. CLI_EXIT_OK or CLI_EXIT_INTERNAL (message printed). */
int cli_write_value(const char *data, size_t len);
/* Flush stdout; CLI_EXIT_INTERNAL with a message if the output could not be written. */
int cli_flush_stdout(void);

/* Overwrite n bytes of p in a way the compiler cannot drop. NULL-safe. */
void cli_wipe(void *p, size_t n);

/* ---- option parsing ---------------------------------------------------------------------- */

/* One option of a command. `id` is passed to the handler; ids below 256 are reserved for the
 * common options. */
typedef struct cli_opt {
    const char *name; /* long name without "--" */
    char short_name;  /* 0 if none */
    int has_arg;
    int id;
} cli_opt;

#define CLI_HELP (-1) /* cli_parse: --help was printed; the command returns CLI_EXIT_OK */

/*
 * Parse argv[1..argc) of command cmd: options of `opts` (terminated by name == NULL) and the
 * common ones (-q/--quiet, -v/--verbose (also -vv, -vvv), --vault-key-file FILE, --plugin-dir
 * DIR, -h/--help), anywhere on
 * the line until `--`; the other words go to pos[0..*npos) (at most maxpos, else a usage
 * error). on_opt returns 0 or an exit status. Returns CLI_EXIT_OK, CLI_HELP or an exit status
 * (the message printed).
 */
int cli_parse(cli_global *g, const cli_command *cmd, int argc, char **argv, const cli_opt *opts,
              int (*on_opt)(void *ud, int id, const char *arg), void *ud, char **pos, int *npos,
              int maxpos);

/* ---- configuration (config.c) ------------------------------------------------------------ */

#define CLI_SRC_MAX 300

/* A setting with where it came from ("default", a file path, "environment VAULTPLUG_X",
 * "--option"). */
typedef struct cli_strlist {
    char **v;
    size_t n;
    int set;
    char src[CLI_SRC_MAX];
} cli_strlist;

typedef struct cli_str {
    char *v; /* NULL = unset */
    char src[CLI_SRC_MAX];
} cli_str;

typedef struct cli_num {
    long long v;
    int set;
    char src[CLI_SRC_MAX];
} cli_num;

struct cli_config {
    cli_str system_file; /* /etc/vaultplug/config.json (VAULTPLUG_SYSTEM_CONFIG) */
    cli_str user_file;   /* $XDG_CONFIG_HOME/vaultplug/config.json */
    cli_str data_dir;    /* $XDG_DATA_HOME/vaultplug */
    cli_str vault_file;  /* <data_dir>/vault.vpv */
    cli_strlist plugin_dirs;
    cli_strlist enabled_providers;
    cli_num cache_ttl_min;
    cli_num cache_max_entries;
    cli_num cache_max_bytes;
    cli_num http_timeout_ms;
    cli_str proxy;
    cli_str ca_file;
};

/* Load the configuration once (files, then VAULTPLUG_* variables). NULL after printing the
 * error (*status gets the exit status). */
cli_config *cli_config_get(cli_global *g, int *status);
void cli_config_free(cli_config *c);
/* Set (or, with value NULL, remove) a top-level member of the user config file, written
 * atomically. value is a JSON text. CLI_EXIT_OK or an exit status (message printed). */
int cli_config_set_user(cli_global *g, const char *key, const char *json_value);
/* Print the effective configuration (text or JSON). */
int cli_config_show(cli_global *g, int json);
/* Names of the VAULTPLUG_* variables that are settings (never credential fields). */
int cli_env_reserved(const char *suffix);

/* ---- secret input (prompt.c) -------------------------------------------------------------- */

/* Read a secret: from stdin when it is not a terminal (all of it, one trailing newline
 * dropped), else with a no-echo prompt on the terminal. *out is malloc'd and NUL-terminated;
 * release it with cli_secret_free. CLI_EXIT_OK or an exit status (message printed). */
int cli_read_secret(const char *prompt, char **out, size_t *len);
/* A no-echo prompt on /dev/tty only (never stdin); CLI_EXIT_AUTH when there is no terminal. */
int cli_prompt_tty(const char *prompt, char **out, size_t *len);
/* Non-zero if an interactive prompt is possible (stdin or stderr is a terminal and /dev/tty
 * opens). */
int cli_can_prompt(void);
void cli_secret_free(char *s, size_t len);
/* Read a yes/no confirmation from the terminal; 1 yes. */
int cli_confirm(const char *question);

/* ---- session (session.c) ------------------------------------------------------------------ */

/* What a command needs. */
#define CLI_VAULT_NONE     0 /* no vault */
#define CLI_VAULT_OPTIONAL 1 /* open it when it exists and a key is at hand (no prompt) */
#define CLI_VAULT_PROMPT   2 /* open it when it exists; prompt for the key if needed */
#define CLI_VAULT_REQUIRED 3 /* it must exist and open */

typedef struct cli_session {
    vp_ctx *ctx;
    vp_vault *vault;
    int vault_locked; /* a vault exists but no key was available (CLI_VAULT_OPTIONAL) */
    int env_creds;    /* providers given a credential from VAULTPLUG_<P>_<F> variables */
    char *cache_file; /* <data dir>/cache.vpc when the vault is open and caching is on */
} cli_session;

/*
 * Create the context from the configuration (log level: VP_LEVEL_WARN raised by -v; pass
 * VP_LEVEL_ERROR to hide load warnings), open the vault as asked and attach it, and register
 * the VAULTPLUG_<PROVIDER>_<FIELD> credentials. with_ui installs the sign-in hooks.
 * CLI_EXIT_OK or an exit status (message printed; *s is then empty).
 */
int cli_session_open(cli_global *g, int vault_mode, int log_level, cli_session *s);
/* The context options every command starts from: the plugin directories (command line, then the
 * configuration, then the build tree's) and the configuration's enabled providers. dirs has
 * CLI_CTX_DIRS entries and must outlive every use of opts. */
#define CLI_CTX_DIRS (2 * CLI_MAX_PLUGIN_DIRS + 2)
void cli_ctx_options(cli_global *g, const cli_config *c, const char **dirs, vp_options *opts);
void cli_session_close(cli_session *s);

/* Get the vault key (VAULTPLUG_VAULT_KEY, --vault-key-file, or a no-echo prompt if allowed).
 * *key malloc'd (cli_secret_free). CLI_EXIT_OK, or CLI_EXIT_AUTH when none is available
 * (message printed only if `say`). */
int cli_vault_key(cli_global *g, int allow_prompt, int say, char **key, size_t *len);
/* The vault file path (config). */
const char *cli_vault_path(cli_global *g);

/* Non-zero when the executable runs from the build tree (then *dir is its provider dir). */
int cli_in_build_tree(const char **dir);

/* ---- references (refuri.c) ----------------------------------------------------------------- */

/* The URI form (what `vaultplug get` takes) of a three-argument tag of a bundled provider (aws,
 * gcp, hashicorp/hcp, azure), fetching the same value; malloc'd, or NULL when there is none
 * (another provider, a member without a URI spelling, out of memory). */
char *cli_tag3_uri(const vp_template_ref *r);

/* Credential types and fields by name (credfields.c). Field names match in any case. */
const vp_cred_type *cli_cred_type(const vp_cred_type *types, const char *name);
const vp_cred_field *cli_cred_field(const vp_cred_type *t, const char *name);
/* The field of t closest to a misspelt `name`, or NULL when none is close. */
const char *cli_cred_closest_field(const vp_cred_type *t, const char *name);
/* Edit distance (any case); 99 for names over 32 bytes. */
size_t cli_distance(const char *a, const char *b);
/* A VAULTPLUG_<PROVIDER>_<KEY> variable (`prefix` is "VAULTPLUG_<PROVIDER>_", `key` lower
 * case) against the provider's types and `t`, the chosen type (NULL: none): a field of t, a
 * setting the provider reads itself (or a field, ignored with a warning, when no type is
 * chosen), or unknown: then an error naming the closest field has been printed. */
enum { CLI_CREDVAR_FIELD, CLI_CREDVAR_SETTING, CLI_CREDVAR_UNKNOWN };
int cli_credvar_check(const char *prefix, const char *provider, const vp_cred_type *types,
                      const vp_cred_type *t, const char *key);

/* Commands. */
extern const cli_command cli_cmd_render;
extern const cli_command cli_cmd_get;
extern const cli_command cli_cmd_ls;
extern const cli_command cli_cmd_refs;
extern const cli_command cli_cmd_vault;
extern const cli_command cli_cmd_cred;
extern const cli_command cli_cmd_login;
extern const cli_command cli_cmd_cache;
extern const cli_command cli_cmd_config;
extern const cli_command cli_cmd_providers;

#endif
