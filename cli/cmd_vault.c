/*
 * cmd_vault.c - `vaultplug vault ...`: the local encrypted vault (create, secrets, key
 * rotation, reset, Insomnia import). Values and keys are read from stdin or a no-echo prompt.
 */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <json-c/json.h>

#include "cli.h"

static const char vault_help[] =
    "Usage: vaultplug vault init\n"
    "       vaultplug vault set NAME          (value from stdin or a no-echo prompt)\n"
    "       vaultplug vault get NAME\n"
    "       vaultplug vault list [--json]\n"
    "       vaultplug vault rm NAME\n"
    "       vaultplug vault rekey\n"
    "       vaultplug vault reset [--yes]\n"
    "       vaultplug vault import-insomnia FILE [--overwrite]\n"
    "\n"
    "The local vault is one encrypted file (default $XDG_DATA_HOME/vaultplug/vault.vpv, or\n"
    "$VAULTPLUG_HOME/vault.vpv; VAULTPLUG_VAULT names another). Templates read its secrets as\n"
    "{{ vault.NAME }}; it also keeps the credentials of 'vaultplug cred'.\n"
    "\n"
    "The vault key is never stored. 'init', 'rekey' and 'reset' print a new key ONCE on\n"
    "standard output: keep it in a password manager. The vault changes only once the key\n"
    "was written (and synced, or read by the other end of a pipe): if that fails, nothing\n"
    "changes and the old key still works. Commands that open the vault read the key from\n"
    "VAULTPLUG_VAULT_KEY, --vault-key-file FILE, or a no-echo prompt on the terminal.\n"
    "\n"
    "Subcommands:\n"
    "  init              create an empty vault and print its key\n"
    "  set NAME          store a secret (at most 1 MiB); after the vault key, the value is read\n"
    "                    from standard input when it is not a terminal (one trailing newline\n"
    "                    dropped), else asked without echo\n"
    "  get NAME          print a secret's value\n"
    "  list              the names of the secrets (never values)\n"
    "  rm NAME           delete a secret\n"
    "  rekey             re-encrypt everything under a new key and print it\n"
    "  reset             forgotten key: DELETE every secret and credential, new empty vault\n"
    "  import-insomnia FILE\n"
    "                    import the vault secrets of an Insomnia export (v4 JSON, v5 YAML or\n"
    "                    insomnia.Environment.db); Insomnia's vault key is read from stdin or\n"
    "                    a no-echo prompt\n"
    "\n"
    "Options:\n"
    "  --json             (list) print {\"secrets\": [names]}\n"
    "  --yes              (reset) do not ask for confirmation (answering no exits 1)\n"
    "  --overwrite        (import-insomnia) replace secrets that already exist\n"
    "  --vault-key-file F read the vault key from file F\n"
    "  -q, --quiet        no informational messages (init, rekey, reset: just the key)\n"
    "  -h, --help         show this help\n"
    "\n"
    "Examples:\n"
    "  (umask 077 && vaultplug vault init > ~/vault-key.txt)   # a file only you can read\n"
    "  export VAULTPLUG_VAULT_KEY=\"$(cat ~/vault-key.txt)\"   # or --vault-key-file\n"
    "  printf '%s' \"$API_TOKEN\" | vaultplug vault set api_token\n"
    "  vaultplug vault set db_password                  # asks, without echo\n"
    "  vaultplug vault list --json\n"
    "  vaultplug vault import-insomnia insomnia-export.json < insomnia-key.txt\n";

enum { O_JSON = 256, O_YES, O_OVERWRITE };

typedef struct vault_opts {
    int json, yes, overwrite;
} vault_opts;

static int on_opt(void *ud, int id, const char *arg)
{
    (void)arg;
    vault_opts *o = ud;
    if (id == O_JSON)
        o->json = 1;
    else if (id == O_YES)
        o->yes = 1;
    else if (id == O_OVERWRITE)
        o->overwrite = 1;
    return CLI_EXIT_OK;
}

/* ---- delivering a new key ---------------------------------------------------------------
 *
 * init, rekey and reset make a key that is shown once and stored nowhere else. It is written to
 * standard output FIRST, and the vault is changed only once that write is known to have worked:
 * flushed, fsync'ed when stdout is a file, and taken by the reader when stdout is a pipe. If it
 * fails (full disk, /dev/full, a closed pipe, stdout closed) nothing is committed and the old
 * key keeps working. A key that was printed but could not be committed is reported as void.
 */

static void key_warning(const cli_global *g, const char *what)
{
    if (g->quiet)
        return;
    fprintf(stderr,
            "%s\n"
            "WARNING: this key is shown only once and cannot be recovered. Without it the\n"
            "vault cannot be opened. Store it now (e.g. in a password manager); use it through\n"
            "VAULTPLUG_VAULT_KEY or --vault-key-file.\n",
            what);
}

static int same_device(const struct stat *sb, const char *dev)
{
    struct stat d;
    return S_ISCHR(sb->st_mode) && stat(dev, &d) == 0 && S_ISCHR(d.st_mode) &&
           d.st_rdev == sb->st_rdev;
}

/* Before a key is made: is standard output somewhere a key can be delivered to? */
static int key_output_check(const char *undone)
{
    struct stat sb;
    int fl = fcntl(STDOUT_FILENO, F_GETFL);
    /* main() keeps a closed stdout occupied by a read-only /dev/null (see guard_std_fds). */
    if (fl < 0 || (fl & O_ACCMODE) == O_RDONLY || fstat(STDOUT_FILENO, &sb) != 0) {
        cli_error("standard output is closed, so the new key could not be shown: %s", undone);
        return CLI_EXIT_INTERNAL;
    }
    if (same_device(&sb, "/dev/null") || same_device(&sb, "/dev/zero")) {
        cli_error("standard output is %s, so the new key would be lost: %s",
                  same_device(&sb, "/dev/null") ? "/dev/null" : "/dev/zero", undone);
        fputs("Send it to a file or a terminal, e.g. '> ~/vault-key.txt'.\n", stderr);
        return CLI_EXIT_USAGE;
    }
    return CLI_EXIT_OK;
}

static int write_all(int fd, const char *p, size_t n)
{
    while (n > 0) {
        ssize_t w = write(fd, p, n);
        if (w < 0 && errno == EINTR)
            continue;
        if (w <= 0)
            return w < 0 ? -1 : (errno = EIO, -1);
        p += w;
        n -= (size_t)w;
    }
    return 0;
}

/* stdout is a pipe: wait until the reader has taken every byte. If it goes away first, what is
 * still in the pipe is lost. 0, or -1 with errno = EPIPE. */
static int pipe_drained(const cli_global *g)
{
    /* Poll often at first (a shell's $(...) reads at once), then every 200 ms. */
    int step = 1, waited = 0, told = 0;
    for (;;) {
        int unread = 0;
        if (ioctl(STDOUT_FILENO, FIONREAD, &unread) != 0)
            return 0; /* cannot tell: the write itself succeeded */
        if (unread == 0)
            return 0;
        struct pollfd pfd = {STDOUT_FILENO, 0, 0};
        int n = poll(&pfd, 1, step);
        if (n > 0 && (pfd.revents & (POLLERR | POLLHUP))) {
            if (ioctl(STDOUT_FILENO, FIONREAD, &unread) == 0 && unread == 0)
                return 0;
            errno = EPIPE;
            return -1;
        }
        waited += step;
        step = step < 100 ? step * 2 : 200;
        if (waited >= 3000 && !told && !g->quiet) {
            told = 1;
            fputs("Waiting for the program reading standard output to take the new key "
                  "(Ctrl-C cancels; the vault is not changed until then)...\n",
                  stderr);
        }
    }
}

/* The key went to a file others can read: say so (the shell created it, with its umask). */
static void warn_readable(const struct stat *sb)
{
    char name[1024] = "the file on standard output";
#ifdef __linux__
    char link[1024];
    ssize_t n = readlink("/proc/self/fd/1", link, sizeof(link) - 1);
    if (n > 0 && link[0] == '/') {
        link[n] = '\0';
        snprintf(name, sizeof(name), "%s", link);
    }
#endif
    fprintf(stderr, "vaultplug: warning: %s can be read by other users (mode %03o); chmod 600 it\n",
            name, (unsigned)(sb->st_mode & 0777));
}

/* Write the key and a newline to stdout and make sure it arrived. On failure the message says
 * so and `undone` (what did not happen). */
static int deliver_key(const cli_global *g, const vp_buf *key, const char *undone)
{
    struct sigaction ign, old;
    memset(&ign, 0, sizeof(ign));
    ign.sa_handler = SIG_IGN;
    sigemptyset(&ign.sa_mask);
    /* EPIPE instead of death by SIGPIPE, so the message below is printed. */
    sigaction(SIGPIPE, &ign, &old);
    int ok = fflush(stdout) == 0;
    /* Straight from secure memory: no copy of the key in stdio's buffer. */
    ok = ok && write_all(STDOUT_FILENO, key->data, key->len) == 0 &&
         write_all(STDOUT_FILENO, "\n", 1) == 0;
    struct stat sb;
    if (ok && fstat(STDOUT_FILENO, &sb) == 0) {
        if (S_ISREG(sb.st_mode)) {
            ok = fsync(STDOUT_FILENO) == 0;
            if (ok && (sb.st_mode & 077) != 0)
                warn_readable(&sb);
        } else if (S_ISFIFO(sb.st_mode))
            ok = pipe_drained(g) == 0;
    }
    int e = errno;
    sigaction(SIGPIPE, &old, NULL);
    if (ok)
        return CLI_EXIT_OK;
    if (e == EPIPE)
        cli_error("the program reading standard output went away before it took the new key: "
                  "%s",
                  undone);
    else if (e == EBADF)
        cli_error("standard output is closed, so the new key could not be shown: %s", undone);
    else
        cli_error("cannot write the new key to standard output (%s): %s", strerror(e), undone);
    return CLI_EXIT_INTERNAL;
}

/* After a commit that reported failure: which key opens the vault now? 1 the new one, 0 the
 * old one (or neither could be checked). */
static int new_key_in_effect(const char *path, const vp_buf *key)
{
    vp_vault *v = NULL;
    vp_error err;
    if (vp_vault_open(path, key->data, &v, &err) != 0)
        return 0;
    vp_vault_close(v);
    return 1;
}

static int make_key(vp_buf *key)
{
    vp_error err;
    int st = vp_vault_key_generate(key, &err);
    return st != 0 ? cli_fail(st, &err, "cannot make a new key") : CLI_EXIT_OK;
}

/* Create the directories above path, private (0700). */
static int make_parents(const char *path)
{
    char *dir = strdup(path);
    if (dir == NULL) {
        cli_error("out of memory");
        return CLI_EXIT_INTERNAL;
    }
    for (char *s = dir + 1; *s; s++) {
        if (*s != '/')
            continue;
        *s = '\0';
        if (mkdir(dir, 0700) != 0 && errno != EEXIST) {
            cli_error("cannot create %s: %s", dir, strerror(errno));
            free(dir);
            return CLI_EXIT_PERM;
        }
        *s = '/';
    }
    free(dir);
    return CLI_EXIT_OK;
}

static int vault_init(cli_global *g)
{
    static const char undone[] = "no vault was created";
    const char *path = cli_vault_path(g);
    if (path == NULL)
        return CLI_EXIT_USAGE;
    struct stat sb;
    /* stat, not lstat: a link to a vault that does not exist yet is where to create it. */
    if (stat(path, &sb) == 0) {
        cli_error("a vault already exists at %s", path);
        fputs("Use it with its key, or 'vaultplug vault reset' if the key is lost.\n", stderr);
        return cli_exit_for_status(VP_EEXIST);
    }
    int rc = make_parents(path);
    if (rc == CLI_EXIT_OK)
        rc = key_output_check(undone);
    if (rc != CLI_EXIT_OK)
        return rc;
    vp_buf key = VP_BUF_INIT;
    if ((rc = make_key(&key)) != CLI_EXIT_OK)
        return rc;
    char msg[512];
    snprintf(msg, sizeof(msg), "The key of the new vault %s (printed on standard output):", path);
    key_warning(g, msg);
    rc = deliver_key(g, &key, undone);
    if (rc == CLI_EXIT_OK) {
        vp_error err;
        int st = vp_vault_create(path, key.data, NULL, &err);
        if (st == VP_EEXIST) {
            cli_error("a vault appeared at %s meanwhile; %s: discard the key printed above", path,
                      undone);
            rc = cli_exit_for_status(st);
        } else if (st != 0) {
            rc = cli_fail(st, &err, path);
            fprintf(stderr, "No vault was created: discard the key printed above.\n");
        } else {
            cli_info(g, "Created the vault %s.", path);
        }
    }
    vp_buf_free(&key);
    return rc;
}

static int vault_reset(cli_global *g, const vault_opts *o)
{
    static const char undone[] = "the vault was not reset; nothing was changed";
    const char *path = cli_vault_path(g);
    if (path == NULL)
        return CLI_EXIT_USAGE;
    struct stat sb;
    if (stat(path, &sb) != 0) {
        cli_error("no vault at %s: create one with 'vaultplug vault init'", path);
        return CLI_EXIT_NOTFOUND;
    }
    /* Where the key goes is checked first: no point confirming a reset that cannot happen. */
    int rc = key_output_check(undone);
    if (rc != CLI_EXIT_OK)
        return rc;
    if (!o->yes) {
        if (!cli_can_prompt())
            return cli_usage_error("vault", "reset deletes every secret: confirm with --yes");
        fprintf(stderr, "This permanently deletes every secret and stored credential in %s.\n",
                path);
        if (!cli_confirm("Reset the vault")) {
            cli_error("reset cancelled; nothing was changed");
            return CLI_EXIT_CANCELLED;
        }
    }
    vp_buf key = VP_BUF_INIT;
    if ((rc = make_key(&key)) != CLI_EXIT_OK)
        return rc;
    key_warning(g, "The new vault key (printed on standard output):");
    rc = deliver_key(g, &key, undone);
    if (rc == CLI_EXIT_OK) {
        vp_error err;
        size_t deleted = 0;
        int st = vp_vault_reset_to(path, key.data, &deleted, &err);
        if (st != 0) {
            rc = cli_fail(st, &err, path);
            if (new_key_in_effect(path, &key))
                fputs("The vault was reset even so: the key printed above opens it.\n", stderr);
            else
                fputs("The vault was not reset; nothing was changed. Discard the key printed "
                      "above.\n",
                      stderr);
        } else if (!g->quiet) {
            fprintf(stderr, "%s (%zu records deleted.)\n", VP_VAULT_RESET_NOTICE, deleted);
        }
    }
    vp_buf_free(&key);
    return rc;
}

static int open_vault(cli_global *g, vp_vault **v)
{
    const char *path = cli_vault_path(g);
    if (path == NULL)
        return CLI_EXIT_USAGE;
    struct stat sb;
    if (stat(path, &sb) != 0) {
        cli_error("no vault at %s: create one with 'vaultplug vault init'", path);
        return CLI_EXIT_NOTFOUND;
    }
    char *key = NULL;
    size_t klen = 0;
    int rc = cli_vault_key(g, 1, 1, &key, &klen);
    if (rc != CLI_EXIT_OK)
        return rc;
    vp_error err;
    int st = vp_vault_open(path, key, v, &err);
    cli_secret_free(key, klen);
    if (st != 0)
        return cli_fail(st, &err, path);
    return CLI_EXIT_OK;
}

static int vault_rekey(cli_global *g, vp_vault *v)
{
    static const char undone[] = "the vault was not re-keyed; the old key still works";
    int rc = key_output_check(undone);
    if (rc != CLI_EXIT_OK)
        return rc;
    vp_buf key = VP_BUF_INIT;
    if ((rc = make_key(&key)) != CLI_EXIT_OK)
        return rc;
    key_warning(g, "The new vault key (printed on standard output; it replaces the old key once "
                   "it is written):");
    rc = deliver_key(g, &key, undone);
    if (rc == CLI_EXIT_OK) {
        vp_error err;
        int st = vp_vault_rekey_to(v, key.data, &err);
        if (st != 0) {
            rc = cli_fail(st, &err, NULL);
            if (new_key_in_effect(cli_vault_path(g), &key))
                fputs("The vault was re-keyed even so: the key printed above opens it, the old "
                      "key no longer does.\n",
                      stderr);
            else
                fputs("The vault was not re-keyed; the old key still works. Discard the key "
                      "printed above.\n",
                      stderr);
        } else {
            cli_info(g, "Re-encrypted the vault; the old key no longer opens it.");
        }
    }
    vp_buf_free(&key);
    return rc;
}

static int check_name(const char *name)
{
    if (!vp_vault_name_valid(name))
        return cli_usage_error("vault",
                               "invalid secret name '%.140s' (letters, digits, '_', '.', '-'; at "
                               "most %d)",
                               name, VP_VAULT_NAME_MAX);
    return CLI_EXIT_OK;
}

static void print_list(char **names, size_t n, const char *title)
{
    fprintf(stderr, "%s:", title);
    for (size_t i = 0; i < n; i++)
        fprintf(stderr, " %s", names[i]);
    fputc('\n', stderr);
}

static int vault_import(cli_global *g, vp_vault *v, const char *file, const vault_opts *o)
{
    char *ikey = NULL;
    size_t ilen = 0;
    int rc = cli_read_secret("Insomnia vault key", &ikey, &ilen);
    if (rc != CLI_EXIT_OK)
        return rc;
    vp_vault_import_report rep;
    memset(&rep, 0, sizeof(rep));
    vp_error err;
    int st = vp_vault_import_insomnia(v, file, ikey, o->overwrite, &rep, &err);
    cli_secret_free(ikey, ilen);
    if (st != 0) {
        vp_vault_import_report_free(&rep);
        return cli_fail(st, &err, file);
    }
    cli_info(g, "imported %zu of %zu secrets from %s", rep.imported, rep.found, file);
    if (rep.nclashes && !g->quiet)
        print_list(rep.clashes, rep.nclashes, "kept (already in the vault; --overwrite replaces)");
    if (rep.nconflicts && !g->quiet)
        print_list(rep.conflicts, rep.nconflicts, "found twice with different values (first used)");
    if (rep.ninvalid && !g->quiet)
        print_list(rep.invalid, rep.ninvalid, "skipped (not valid vault names)");
    vp_vault_import_report_free(&rep);
    return CLI_EXIT_OK;
}

/* vault set NAME: the value from stdin or a no-echo prompt, never argv. */
static int vault_set(cli_global *g, vp_vault *v, const char *arg)
{
    char prompt[200];
    char *value = NULL;
    size_t vlen = 0;
    vp_error err;
    snprintf(prompt, sizeof(prompt), "Value of %s", arg);
    int rc = cli_read_secret(prompt, &value, &vlen);
    if (rc == CLI_EXIT_OK && vlen > VP_VAULT_VALUE_MAX) {
        cli_error("the value of %s is %zu bytes, over the limit of %u bytes (1 MiB); nothing "
                  "was stored",
                  arg, vlen, VP_VAULT_VALUE_MAX);
        rc = CLI_EXIT_USAGE;
    } else if (rc == CLI_EXIT_OK) {
        int st = vp_vault_set(v, arg, value, vlen, &err);
        if (st == 0)
            cli_info(g, "stored %s (%zu bytes)", arg, vlen);
        else
            rc = cli_fail(st, &err, arg);
    }
    cli_secret_free(value, vlen);
    return rc;
}

static int vault_get(vp_vault *v, const char *arg)
{
    vp_buf out = VP_BUF_INIT;
    vp_error err;
    int st = vp_vault_get(v, arg, &out, &err);
    int rc = st == 0 ? cli_write_value(out.data, out.len) : cli_fail(st, &err, NULL);
    vp_buf_free(&out);
    return rc;
}

static int vault_rm(cli_global *g, vp_vault *v, const char *arg)
{
    vp_error err;
    int st = vp_vault_delete(v, arg, &err);
    if (st != 0)
        return cli_fail(st, &err, NULL);
    cli_info(g, "deleted %s", arg);
    return CLI_EXIT_OK;
}

/* vault list: names only, one a line, or {"secrets": [...]} with --json. */
static int vault_list(cli_global *g, vp_vault *v, const vault_opts *o)
{
    char **names = NULL;
    size_t n = 0;
    vp_error err;
    int rc, st = vp_vault_list(v, &names, &n, &err);
    if (st != 0) {
        rc = cli_fail(st, &err, NULL);
    } else if (o->json) {
        json_object *root = json_object_new_object(), *arr = json_object_new_array();
        for (size_t k = 0; k < n; k++)
            json_object_array_add(arr, json_object_new_string(names[k]));
        json_object_object_add(root, "secrets", arr);
        puts(json_object_to_json_string_ext(root, JSON_C_TO_STRING_PRETTY |
                                                      JSON_C_TO_STRING_SPACED |
                                                      JSON_C_TO_STRING_NOSLASHESCAPE));
        json_object_put(root);
        rc = cli_flush_stdout();
    } else {
        for (size_t k = 0; k < n; k++)
            puts(names[k]);
        if (n == 0)
            cli_info(g, "the vault holds no secret yet ('vaultplug vault set NAME')");
        rc = cli_flush_stdout();
    }
    vp_vault_names_free(names, n);
    return rc;
}

static int vault_run(cli_global *g, int argc, char **argv)
{
    static const cli_opt opts[] = {
        {"json", 0, 0, O_JSON},
        {"yes", 'y', 0, O_YES},
        {"overwrite", 0, 0, O_OVERWRITE},
        {NULL, 0, 0, 0},
    };
    vault_opts o = {0};
    char *pos[3];
    int npos = 0;
    int rc = cli_parse(g, &cli_cmd_vault, argc, argv, opts, on_opt, &o, pos, &npos, 3);
    if (rc != CLI_EXIT_OK)
        return rc == CLI_HELP ? CLI_EXIT_OK : rc;
    if (npos == 0)
        return cli_usage_error("vault", "give a subcommand: init, set, get, list, rm, rekey, "
                                        "reset or import-insomnia");
    const char *sub = pos[0];
    static const struct {
        const char *name;
        int nargs;
    } subs[] = {{"init", 0}, {"set", 1},   {"get", 1},   {"list", 0},
                {"rm", 1},   {"rekey", 0}, {"reset", 0}, {"import-insomnia", 1}};
    size_t i;
    for (i = 0; i < sizeof(subs) / sizeof(subs[0]); i++)
        if (strcmp(sub, subs[i].name) == 0)
            break;
    if (i == sizeof(subs) / sizeof(subs[0]))
        return cli_usage_error("vault", "unknown subcommand '%s'", sub);
    if (npos - 1 != subs[i].nargs)
        return cli_usage_error("vault", "'vault %s' takes %s", sub,
                               subs[i].nargs
                                   ? (strcmp(sub, "import-insomnia") == 0 ? "a FILE" : "a NAME")
                                   : "no argument");
    const char *arg = npos > 1 ? pos[1] : NULL;
    if (strcmp(sub, "init") == 0)
        return vault_init(g);
    if (strcmp(sub, "reset") == 0)
        return vault_reset(g, &o);
    if ((strcmp(sub, "set") == 0 || strcmp(sub, "get") == 0 || strcmp(sub, "rm") == 0) &&
        (rc = check_name(arg)) != CLI_EXIT_OK)
        return rc;

    /* The key first: a wrong key must not waste a value typed at the prompt. (The key is never
     * read from stdin, so a value piped in waits there.) */
    vp_vault *v = NULL;
    rc = open_vault(g, &v);
    if (rc != CLI_EXIT_OK)
        return rc;
    if (strcmp(sub, "set") == 0)
        rc = vault_set(g, v, arg);
    else if (strcmp(sub, "get") == 0)
        rc = vault_get(v, arg);
    else if (strcmp(sub, "rm") == 0)
        rc = vault_rm(g, v, arg);
    else if (strcmp(sub, "list") == 0)
        rc = vault_list(g, v, &o);
    else if (strcmp(sub, "rekey") == 0)
        rc = vault_rekey(g, v);
    else
        rc = vault_import(g, v, arg, &o);
    vp_vault_close(v);
    return rc;
}

const cli_command cli_cmd_vault = {
    "vault",
    "manage the local encrypted vault and its secrets",
    vault_help,
    vault_run,
};
