/*
 * cmd_ls.c - `vaultplug ls PROVIDER://[cred@]PREFIX`: the names of the secrets under a prefix,
 * through the provider's list (VP_CAP_LIST). Names only: no value is ever fetched.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <json-c/json.h>

#include "cli.h"

static const char ls_help[] =
    "Usage: vaultplug ls SCHEME://[CREDENTIAL@]PREFIX [--json]\n"
    "\n"
    "List the names of the secrets under PREFIX, one per line, sorted; never a value. Each\n"
    "name is what follows SCHEME://[CREDENTIAL@] in a reference, so it can be passed to\n"
    "'vaultplug get' as it is. aws:// and gcp:// (no prefix) list every name the credential\n"
    "may see in its region or project.\n"
    "Providers that can list show 'list' in 'vaultplug providers'.\n"
    "\n"
    "  aws, gcp, azure     every name that starts with PREFIX (their stores are flat;\n"
    "                      gcp: PREFIX starts with the project, azure: with the vault host)\n"
    "  hashicorp           one level, like 'vault kv list': the entries directly under\n"
    "                      PREFIX (MOUNT/PATH/), folders with a trailing '/'; with an HCP\n"
    "                      credential, the secrets of an app: [ORG/PROJECT/]APP/PREFIX\n"
    "\n"
    "Options:\n"
    "  --json                print one JSON object: {\"prefix\": URI, \"names\": [...]}\n"
    "  --vault-key-file F    read the vault key from file F\n"
    "  --plugin-dir DIR      search DIR for providers first; may be repeated\n"
    "  -q, --quiet           no informational messages\n"
    "  -h, --help            show this help\n"
    "\n"
    "Examples:\n"
    "  vaultplug ls aws://\n"
    "  vaultplug ls 'aws://prod@db/'                 # credential prod\n"
    "  vaultplug ls hashicorp://secret/orders/\n"
    "  vaultplug ls --json gcp://demo-project/\n";

enum { O_JSON = 256 };

static int on_opt(void *ud, int id, const char *arg)
{
    (void)arg;
    if (id == O_JSON)
        *(int *)ud = 1;
    return 0;
}

static int print_json(const char *prefix, char **names, size_t n)
{
    json_object *root = json_object_new_object(), *arr = json_object_new_array();
    if (root == NULL || arr == NULL) {
        json_object_put(root);
        json_object_put(arr);
        cli_error("out of memory");
        return CLI_EXIT_INTERNAL;
    }
    json_object_object_add(root, "prefix", json_object_new_string(prefix));
    for (size_t i = 0; i < n; i++) {
        /* A name that is not UTF-8 cannot be a JSON string as it is: escaped like on a
         * terminal. */
        char *e = cli_utf8_valid(names[i]) ? NULL : cli_escape_dup(names[i]);
        json_object_array_add(arr, json_object_new_string(e ? e : names[i]));
        free(e);
    }
    json_object_object_add(root, "names", arr);
    fputs(json_object_to_json_string_ext(root,
                                         JSON_C_TO_STRING_PRETTY | JSON_C_TO_STRING_NOSLASHESCAPE),
          stdout);
    putchar('\n');
    json_object_put(root);
    return CLI_EXIT_OK;
}

static int ls_run(cli_global *g, int argc, char **argv)
{
    static const cli_opt opts[] = {
        {"json", 0, 0, O_JSON},
        {NULL, 0, 0, 0},
    };
    int json = 0;
    char *pos[1];
    int npos = 0;
    int rc = cli_parse(g, &cli_cmd_ls, argc, argv, opts, on_opt, &json, pos, &npos, 1);
    if (rc != CLI_EXIT_OK)
        return rc == CLI_HELP ? CLI_EXIT_OK : rc;
    if (npos != 1)
        return cli_usage_error("ls", "give a prefix, e.g. aws://prod@db/ (or aws:// for all)");
    const char *uri = pos[0];
    const char *sep = strstr(uri, "://");
    if (sep == NULL)
        return cli_usage_error("ls",
                               "'%s' has no scheme: write SCHEME://[CREDENTIAL@]PREFIX, "
                               "e.g. aws://db/",
                               uri);
    const char *at = strchr(sep + 3, '@');
    const char *slash = strchr(sep + 3, '/');
    int named = at != NULL && (slash == NULL || at < slash);
    cli_session s;
    rc = cli_session_open(g, named ? CLI_VAULT_PROMPT : CLI_VAULT_OPTIONAL, VP_LEVEL_WARN, &s);
    if (rc != CLI_EXIT_OK)
        return rc;
    char **names = NULL;
    size_t n = 0;
    vp_error err;
    int st = vp_list(s.ctx, uri, 0, &names, &n, &err);
    if (st != 0) {
        rc = cli_fail(st, &err, NULL);
        if (named && s.vault_locked)
            fputs("The vault is locked: set VAULTPLUG_VAULT_KEY, pass --vault-key-file FILE, or "
                  "run on a terminal to be asked for the key.\n",
                  stderr);
    } else if (json) {
        rc = print_json(uri, names, n);
    } else {
        for (size_t i = 0; i < n; i++) {
            cli_fputs_safe(stdout, names[i]);
            putchar('\n');
        }
        if (n == 0)
            cli_info(g, "no secrets under %s", uri);
    }
    vp_list_free(names, n);
    cli_session_close(&s);
    if (rc == CLI_EXIT_OK)
        rc = cli_flush_stdout();
    return rc;
}

const cli_command cli_cmd_ls = {
    "ls",
    "list the names of the secrets under a prefix",
    ls_help,
    ls_run,
};
