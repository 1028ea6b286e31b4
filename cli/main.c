/*
 * main.c - the `vaultplug` command: global options, the command table, help and dispatch.
 *
 * Each command lives in cmd_<name>.c and is one entry of `commands` below; the global help is
 * generated from the table, so a new command only needs its entry.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#ifdef __linux__
#include <sys/prctl.h>
#endif

#include <vaultplug/provider.h>

#include "cli.h"

/* The library's version (the one actually loaded) and the plugin ABI this build speaks. */
static void print_version(void)
{
    printf("vaultplug %s (plugin ABI %d.%d)\n", vp_version(), VP_ABI_MAJOR, VP_ABI_MINOR);
}

static int cmd_help_run(cli_global *g, int argc, char **argv);
static int cmd_version_run(cli_global *g, int argc, char **argv);

static const cli_command cli_cmd_help = {
    "help",
    "show help for vaultplug or one command",
    "Usage: vaultplug help [COMMAND]\n"
    "\n"
    "Show the list of commands, or the full help of COMMAND (the same as\n"
    "'vaultplug COMMAND --help').\n"
    "\n"
    "Examples:\n"
    "  vaultplug help\n"
    "  vaultplug help providers\n",
    cmd_help_run,
};

static const cli_command cli_cmd_version = {
    "version",
    "print the version",
    "Usage: vaultplug version\n"
    "\n"
    "Print the version of vaultplug and the plugin ABI it loads (same as --version).\n"
    "\n"
    "Example:\n"
    "  vaultplug version\n",
    cmd_version_run,
};

/* The command table: the order is the order of `vaultplug --help`. */
static const cli_command *const commands[] = {
    &cli_cmd_render, &cli_cmd_get,       &cli_cmd_ls,      &cli_cmd_refs,
    &cli_cmd_vault,  &cli_cmd_cred,      &cli_cmd_login,   &cli_cmd_cache,
    &cli_cmd_config, &cli_cmd_providers, &cli_cmd_version, &cli_cmd_help,
};
#define N_COMMANDS (sizeof(commands) / sizeof(commands[0]))

const cli_command *cli_find_command(const char *name)
{
    for (size_t i = 0; i < N_COMMANDS; i++)
        if (strcmp(commands[i]->name, name) == 0)
            return commands[i];
    return NULL;
}

static void print_main_help(FILE *f)
{
    fputs("Usage: vaultplug [-v]... [-q] COMMAND [OPTIONS] [ARGS]\n"
          "       vaultplug --version | --help | help COMMAND\n"
          "\n"
          "Render templates whose values come from secret stores, through provider plugins.\n"
          "\n"
          "Commands:\n",
          f);
    for (size_t i = 0; i < N_COMMANDS; i++)
        fprintf(f, "  %-12s %s\n", commands[i]->name, commands[i]->summary);
    fputs("\n"
          "Global options:\n"
          "  -v, --verbose         show library log lines on stderr (repeat for debug, trace)\n"
          "  -q, --quiet           no informational messages (errors are still shown)\n"
          "  --vault-key-file FILE read the vault key from FILE\n"
          "  --plugin-dir DIR      search DIR for providers first (repeatable)\n"
          "  -h, --help            show this help\n"
          "  -V, --version         print the version\n"
          "-v, -q, --vault-key-file, --plugin-dir and -h are accepted after the command name\n"
          "too.\n"
          "\n"
          "Exit status:\n"
          "  0  success\n"
          "  1  cancelled at a confirmation question; nothing was changed\n"
          "  2  usage error, invalid input or a limit exceeded (also a malformed vault\n"
          "     key, a value over 1 MiB)\n"
          "  3  not found (secret, provider scheme, credential)\n"
          "  4  authentication failed (missing, expired or invalid credentials; a wrong or\n"
          "     missing vault key)\n"
          "  5  permission denied\n"
          "  6  network error, service unavailable or timed out (retry later)\n"
          "  7  rate limited\n"
          "  8  integrity error (unexpected, corrupted or tampered data)\n"
          "  9  internal or other error\n"
          "\n"
          "Environment:\n"
          "  VAULTPLUG_VAULT_KEY        the vault key (else --vault-key-file or a prompt)\n"
          "  VAULTPLUG_HOME             directory for the vault and config.json (instead of\n"
          "                             $XDG_DATA_HOME/vaultplug and $XDG_CONFIG_HOME/vaultplug)\n"
          "  VAULTPLUG_VAULT            the vault file\n"
          "  VAULTPLUG_CONFIG           the user configuration file\n"
          "  VAULTPLUG_SYSTEM_CONFIG    the administrator's configuration file (instead of\n"
          "                             /etc/vaultplug/config.json)\n"
          "  VAULTPLUG_CACHE_TTL        cache lifetime in minutes (0 = off)\n"
          "  VAULTPLUG_ENABLED_PROVIDERS  comma-separated providers to load\n"
          "  VAULTPLUG_PROXY, VAULTPLUG_CA_FILE, VAULTPLUG_HTTP_TIMEOUT_MS\n"
          "  VAULTPLUG_PLUGIN_PATH      extra provider directories (colon-separated)\n"
          "  VAULTPLUG_<PROVIDER>_TYPE, VAULTPLUG_<PROVIDER>_<FIELD>\n"
          "                             credential used by references that name none\n"
          "  NO_COLOR                   disable colours (they are only used on a terminal)\n"
          "\n"
          "Run 'vaultplug COMMAND --help' for the options and examples of a command.\n",
          f);
}

static int unknown_command(const char *name)
{
    cli_error("unknown command '%s'", name);
    const char *best = NULL;
    size_t best_d = 3; /* suggest only close matches */
    for (size_t i = 0; i < N_COMMANDS; i++) {
        size_t dd = cli_distance(name, commands[i]->name);
        if (dd < best_d || (strncmp(name, commands[i]->name, strlen(name)) == 0 && name[0])) {
            best = commands[i]->name;
            best_d = dd < best_d ? dd : best_d;
        }
    }
    if (best != NULL)
        fprintf(stderr, "Did you mean 'vaultplug %s'?\n", best);
    fputs("Run 'vaultplug --help' for the list of commands.\n", stderr);
    return CLI_EXIT_USAGE;
}

static int cmd_help_run(cli_global *g, int argc, char **argv)
{
    (void)g;
    if (argc > 1 && (strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0)) {
        fputs(cli_cmd_help.help, stdout);
        return CLI_EXIT_OK;
    }
    if (argc > 2)
        return cli_usage_error("help", "expected at most one command name");
    if (argc < 2) {
        print_main_help(stdout);
        return CLI_EXIT_OK;
    }
    const cli_command *c = cli_find_command(argv[1]);
    if (c == NULL)
        return unknown_command(argv[1]);
    fputs(c->help, stdout);
    return CLI_EXIT_OK;
}

static int cmd_version_run(cli_global *g, int argc, char **argv)
{
    (void)g;
    if (argc > 1 && (strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0)) {
        fputs(cli_cmd_version.help, stdout);
        return CLI_EXIT_OK;
    }
    if (argc > 1)
        return cli_usage_error("version", "unexpected argument '%s'", argv[1]);
    print_version();
    return CLI_EXIT_OK;
}

/*
 * A closed standard descriptor would be taken by the next open() (the vault, its lock file, an
 * output's temporary file), and what is printed would land there: a new vault key written into
 * the lock file. Occupy it with /dev/null opened the wrong way round, so that writes to stdout
 * and stderr (reads from stdin) still fail with EBADF exactly as on a closed descriptor.
 */
static void guard_std_fds(void)
{
    for (int fd = 0; fd <= 2; fd++) {
        if (fcntl(fd, F_GETFD) != -1 || errno != EBADF)
            continue;
        int nfd = open("/dev/null", (fd == 0 ? O_WRONLY : O_RDONLY) | O_CLOEXEC);
        if (nfd >= 0 && nfd != fd) {
            dup2(nfd, fd); /* the dup does not inherit O_CLOEXEC, like the real stdio fds */
            close(nfd);
        } else if (nfd == fd) {
            fcntl(fd, F_SETFD, 0);
        }
    }
}

int main(int argc, char **argv)
{
#ifdef __linux__
    /* No core dumps and no ptrace attach by other processes of the user: the process holds the
     * vault key, fetched secrets and credentials, and copies of them can sit on the stack or in
     * stdio buffers outside the library's secure (DONTDUMP) memory. */
    (void)prctl(PR_SET_DUMPABLE, 0, 0, 0, 0);
#endif
    guard_std_fds();
    cli_global g;
    memset(&g, 0, sizeof(g));
    g.argv0 = "vaultplug";
    int i = 1, rc;
    /* Global options come before the command name; everything after it is the command's. */
    for (; i < argc && argv[i][0] == '-'; i++) {
        const char *a = argv[i];
        if (strcmp(a, "--help") == 0 || strcmp(a, "-h") == 0) {
            print_main_help(stdout);
            return CLI_EXIT_OK;
        } else if (strcmp(a, "--version") == 0 || strcmp(a, "-V") == 0) {
            print_version();
            return CLI_EXIT_OK;
        } else if (strcmp(a, "--verbose") == 0) {
            g.verbose++;
        } else if (strcmp(a, "--quiet") == 0 || strcmp(a, "-q") == 0) {
            g.quiet = 1;
        } else if (strcmp(a, "--vault-key-file") == 0 || strcmp(a, "--plugin-dir") == 0) {
            if (i + 1 >= argc || argv[i + 1][0] == '\0')
                return cli_usage_error(NULL, "option '%s' needs a value", a);
            if (a[2] == 'v') {
                g.vault_key_file = argv[++i];
            } else {
                if (g.n_plugin_dirs >= CLI_MAX_PLUGIN_DIRS)
                    return cli_usage_error(NULL, "at most %d --plugin-dir options",
                                           CLI_MAX_PLUGIN_DIRS);
                g.plugin_dirs[g.n_plugin_dirs++] = argv[++i];
            }
        } else if (a[1] == 'v' && strspn(a + 1, "v") == strlen(a + 1)) {
            g.verbose += (int)strlen(a + 1); /* -v, -vv, -vvv */
        } else if (strcmp(a, "--") == 0) {
            i++;
            break;
        } else {
            return cli_usage_error(NULL, "unknown option '%s'", a);
        }
    }
    if (i >= argc) {
        print_main_help(stderr);
        return CLI_EXIT_USAGE;
    }
    const cli_command *c = cli_find_command(argv[i]);
    if (c == NULL)
        return unknown_command(argv[i]);
    rc = c->run(&g, argc - i, argv + i);
    cli_config_free(g.cfg);
    return rc;
}
