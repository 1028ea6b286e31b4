/*
 * cmd_vault.c - `vaultplug vault ...`: the local encrypted vault (create, secrets, key
 * rotation, reset, Insomnia import). Values and keys are read from stdin or a no-echo prompt.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
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
    "standard output: keep it in a password manager. Commands that open the vault read it\n"
    "from VAULTPLUG_VAULT_KEY, --vault-key-file FILE, or a no-echo prompt on the terminal.\n"
    "\n"
    "Subcommands:\n"
    "  init              create an empty vault and print its key\n"
    "  set NAME          store a secret; the value is read from standard input when it is not\n"
    "                    a terminal (one trailing newline dropped), else asked without echo\n"
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
    "  --yes              (reset) do not ask for confirmation\n"
    "  --overwrite        (import-insomnia) replace secrets that already exist\n"
    "  --vault-key-file F read the vault key from file F\n"
    "  -q, --quiet        no informational messages\n"
    "  -h, --help         show this help\n"
    "\n"
    "Examples:\n"
    "  vaultplug vault init > ~/vault-key.txt && chmod 600 ~/vault-key.txt\n"
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

static void key_notice(const cli_global *g, const char *what)
{
    (void)g;
    fprintf(stderr,
            "%s\n"
            "WARNING: this key is shown only once and cannot be recovered. Without it the\n"
            "vault cannot be opened. Store it now (e.g. in a password manager); use it through\n"
            "VAULTPLUG_VAULT_KEY or --vault-key-file.\n",
            what);
}

static int print_key(vp_buf *key)
{
    int rc = cli_write_value(key->data, key->len);
    if (!isatty(STDOUT_FILENO) && rc == CLI_EXIT_OK) {
        fputc('\n', stdout);
        rc = cli_flush_stdout();
    }
    return rc;
}

static int vault_init(cli_global *g)
{
    const char *path = cli_vault_path(g);
    if (path == NULL)
        return CLI_EXIT_USAGE;
    /* The data directory is private: create it 0700 (parents as needed). */
    char *dir = strdup(path);
    if (dir == NULL)
        return CLI_EXIT_INTERNAL;
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
    vp_buf key = VP_BUF_INIT;
    vp_error err;
    int st = vp_vault_create(path, NULL, &key, &err);
    if (st == VP_EEXIST) {
        cli_error("a vault already exists at %s", path);
        fputs("Use it with its key, or 'vaultplug vault reset' if the key is lost.\n", stderr);
        return cli_exit_for_status(st);
    }
    if (st != 0)
        return cli_fail(st, &err, path);
    char msg[512];
    snprintf(msg, sizeof(msg), "Created the vault %s. Its key (printed on standard output):", path);
    key_notice(g, msg);
    int rc = print_key(&key);
    vp_buf_free(&key);
    return rc;
}

static int vault_reset(cli_global *g, const vault_opts *o)
{
    const char *path = cli_vault_path(g);
    if (path == NULL)
        return CLI_EXIT_USAGE;
    if (!o->yes) {
        if (!cli_can_prompt())
            return cli_usage_error("vault", "reset deletes every secret: confirm with --yes");
        fprintf(stderr, "This permanently deletes every secret and stored credential in %s.\n",
                path);
        if (!cli_confirm("Reset the vault")) {
            cli_error("reset cancelled; nothing was changed");
            return CLI_EXIT_USAGE;
        }
    }
    vp_buf key = VP_BUF_INIT;
    vp_error err;
    size_t deleted = 0;
    int st = vp_vault_reset(path, &key, &deleted, &err);
    if (st != 0)
        return cli_fail(st, &err, path);
    char msg[768];
    snprintf(msg, sizeof(msg), "%s (%zu records deleted.) The new key:", VP_VAULT_RESET_NOTICE,
             deleted);
    key_notice(g, msg);
    int rc = print_key(&key);
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

    /* Read the value before asking for the key: stdin is the value, the prompt the key. */
    char *value = NULL;
    size_t vlen = 0;
    if (strcmp(sub, "set") == 0) {
        char prompt[200];
        snprintf(prompt, sizeof(prompt), "Value of %s", arg);
        if ((rc = cli_read_secret(prompt, &value, &vlen)) != CLI_EXIT_OK)
            return rc;
    }
    vp_vault *v = NULL;
    rc = open_vault(g, &v);
    if (rc != CLI_EXIT_OK) {
        cli_secret_free(value, vlen);
        return rc;
    }
    vp_error err;
    int st = 0;
    if (strcmp(sub, "set") == 0) {
        st = vp_vault_set(v, arg, value, vlen, &err);
        cli_secret_free(value, vlen);
        if (st == 0)
            cli_info(g, "stored %s (%zu bytes)", arg, vlen);
        else
            rc = cli_fail(st, &err, arg);
    } else if (strcmp(sub, "get") == 0) {
        vp_buf out = VP_BUF_INIT;
        st = vp_vault_get(v, arg, &out, &err);
        rc = st == 0 ? cli_write_value(out.data, out.len) : cli_fail(st, &err, NULL);
        vp_buf_free(&out);
    } else if (strcmp(sub, "rm") == 0) {
        st = vp_vault_delete(v, arg, &err);
        if (st == 0)
            cli_info(g, "deleted %s", arg);
        else
            rc = cli_fail(st, &err, NULL);
    } else if (strcmp(sub, "list") == 0) {
        char **names = NULL;
        size_t n = 0;
        st = vp_vault_list(v, &names, &n, &err);
        if (st != 0) {
            rc = cli_fail(st, &err, NULL);
        } else if (o.json) {
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
    } else if (strcmp(sub, "rekey") == 0) {
        vp_buf key = VP_BUF_INIT;
        st = vp_vault_rekey(v, &key, &err);
        if (st != 0) {
            rc = cli_fail(st, &err, NULL);
        } else {
            key_notice(g, "Re-encrypted the vault; the old key no longer opens it. The new key:");
            rc = print_key(&key);
        }
        vp_buf_free(&key);
    } else {
        rc = vault_import(g, v, arg, &o);
    }
    vp_vault_close(v);
    return rc;
}

const cli_command cli_cmd_vault = {
    "vault",
    "manage the local encrypted vault and its secrets",
    vault_help,
    vault_run,
};
