/*
 * cmd_cred.c - `vaultplug cred ...` (named provider credentials sealed in the vault) and
 * `vaultplug login` (interactive sign-in). Secret fields, as the provider flags them
 * (VP_FIELD_SECRET), are read from stdin or a no-echo prompt, never from argv.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include <json-c/json.h>

#include <vaultplug/credtypes.h>

#include "cli.h"

#define MAX_FIELDS VP_CRED_FIELDS_MAX

static const char cred_help[] =
    "Usage: vaultplug cred add PROVIDER NAME --type TYPE [--field KEY=VALUE]... [--field KEY]...\n"
    "       vaultplug cred list [--json]\n"
    "       vaultplug cred rm [PROVIDER] NAME\n"
    "       vaultplug cred clear [--yes]\n"
    "       vaultplug cred validate [PROVIDER] NAME\n"
    "       vaultplug cred types [PROVIDER] [--json]\n"
    "\n"
    "Named credentials for providers, sealed in the vault. A reference uses one by name:\n"
    "aws://prod@db/password?region=us-east-1 uses the aws credential 'prod'. A reference without\n"
    "a name uses the provider's default chain, or the VAULTPLUG_<PROVIDER>_<FIELD> variables.\n"
    "\n"
    "Secret fields (marked 'secret' by 'cred types') are never taken from the command line:\n"
    "required secret fields, and those named with a bare --field KEY, are read from standard\n"
    "input when it is not a terminal (the whole input for one field; KEY=VALUE lines for\n"
    "several), else asked without echo.\n"
    "\n"
    "Subcommands:\n"
    "  add PROVIDER NAME   store (or replace) a credential; it is validated with the\n"
    "                      provider first unless --no-validate\n"
    "  list                the stored credentials, secret fields masked\n"
    "  rm [PROVIDER] NAME  delete one (PROVIDER may be left out when NAME is unique)\n"
    "  clear               delete every stored credential (sign out everywhere)\n"
    "  validate [PROVIDER] NAME\n"
    "                      ask the provider whether the credential works (reads no secret)\n"
    "  types [PROVIDER]    the credential types of the loaded providers and their fields\n"
    "\n"
    "Options:\n"
    "  -t, --type TYPE     (add) the credential type\n"
    "  -f, --field K=V     (add) a non-secret field; a bare K asks for K's value\n"
    "  --no-validate       (add) store without asking the provider\n"
    "  --json              (list, types) JSON output\n"
    "  --yes               (clear) do not ask for confirmation\n"
    "  --vault-key-file F  read the vault key from file F\n"
    "  -q, --quiet         no informational messages\n"
    "  -h, --help          show this help\n"
    "\n"
    "Examples:\n"
    "  vaultplug cred types aws\n"
    "  vaultplug cred add aws prod --type temporary --field access_key_id=AKIAIOSFODNN7EXAMPLE\n"
    "                                         # asks for secret_access_key without echo\n"
    "  printf 'token=%s\\n' \"$VAULT_TOKEN\" | vaultplug cred add hashicorp ops --type token\n"
    "  vaultplug cred list --json\n"
    "  vaultplug cred validate aws prod\n"
    "  vaultplug cred rm prod\n";

static const char login_help[] =
    "Usage: vaultplug login PROVIDER [--device-code] [--tenant T] [--client-id C] [--name N]\n"
    "\n"
    "Sign in interactively (today: azure) and store the resulting credential in the vault\n"
    "under NAME (default 'default'): reference it as azure://NAME@vault-name/secret-name.\n"
    "The sign-in address is always printed on standard error and opened in a browser when\n"
    "xdg-open is available; with --device-code you enter a short code on another device\n"
    "instead (for ssh sessions and machines without a browser).\n"
    "\n"
    "Options:\n"
    "  --device-code       use the device code flow\n"
    "  --tenant T          directory (tenant) id or domain\n"
    "  --client-id C       application (client) id\n"
    "  --name N            credential name to store it as (default 'default')\n"
    "  --vault-key-file F  read the vault key from file F\n"
    "  -q, --quiet         no informational messages\n"
    "  -h, --help          show this help\n"
    "\n"
    "Examples:\n"
    "  vaultplug login azure\n"
    "  vaultplug login azure --device-code --tenant contoso.onmicrosoft.com --name work\n";

enum { O_TYPE = 256, O_FIELD, O_NOVALIDATE, O_JSON, O_YES, O_DEVICE, O_TENANT, O_CLIENT, O_NAME };

typedef struct cred_opts {
    const char *type;
    char *fields[MAX_FIELDS];
    size_t n_fields;
    int no_validate, json, yes, device;
    const char *tenant, *client_id, *name;
} cred_opts;

static int on_opt(void *ud, int id, const char *arg)
{
    cred_opts *o = ud;
    switch (id) {
    case O_TYPE:
        o->type = arg;
        break;
    case O_FIELD:
        if (o->n_fields >= MAX_FIELDS)
            return cli_usage_error("cred", "at most %d --field options", MAX_FIELDS);
        o->fields[o->n_fields++] = (char *)arg;
        break;
    case O_NOVALIDATE:
        o->no_validate = 1;
        break;
    case O_JSON:
        o->json = 1;
        break;
    case O_YES:
        o->yes = 1;
        break;
    case O_DEVICE:
        o->device = 1;
        break;
    case O_TENANT:
        o->tenant = arg;
        break;
    case O_CLIENT:
        o->client_id = arg;
        break;
    case O_NAME:
        o->name = arg;
        break;
    }
    return CLI_EXIT_OK;
}

static void list_types(FILE *f, const char *provider, const vp_cred_type *types)
{
    for (const vp_cred_type *t = types; t && t->name; t++) {
        fprintf(f, "%s  --type %s: %s\n", provider, t->name, t->description ? t->description : "");
        for (const vp_cred_field *fd = t->fields; fd && fd->name; fd++)
            fprintf(f, "    %-24s %-18s %s\n", fd->name,
                    (fd->flags & VP_FIELD_SECRET) && (fd->flags & VP_FIELD_REQUIRED)
                        ? "secret, required"
                    : (fd->flags & VP_FIELD_SECRET)   ? "secret"
                    : (fd->flags & VP_FIELD_REQUIRED) ? "required"
                                                      : "optional",
                    fd->description ? fd->description : "");
    }
}

/* Values of the secret fields to ask for, from stdin (one field: all of it; several:
 * KEY=VALUE lines) or one no-echo prompt each. */
static int read_secret_fields(const char *provider, const char *name, const char **want, size_t nw,
                              char **vals, size_t *lens)
{
    if (nw == 0)
        return CLI_EXIT_OK;
    if (isatty(STDIN_FILENO)) {
        for (size_t i = 0; i < nw; i++) {
            char prompt[256];
            snprintf(prompt, sizeof(prompt), "%s credential '%s': %s", provider, name, want[i]);
            int rc = cli_read_secret(prompt, &vals[i], &lens[i]);
            if (rc != CLI_EXIT_OK)
                return rc;
        }
        return CLI_EXIT_OK;
    }
    char *all = NULL;
    size_t alen = 0;
    int rc = cli_read_secret("", &all, &alen);
    if (rc != CLI_EXIT_OK)
        return rc;
    char *eq = strchr(all, '=');
    size_t w0 = strlen(want[0]);
    /* One field: the whole input, unless the user wrote it as KEY=VALUE anyway. */
    if (nw == 1 && !(eq != NULL && (size_t)(eq - all) == w0 && strncmp(all, want[0], w0) == 0)) {
        vals[0] = all;
        lens[0] = alen;
        return CLI_EXIT_OK;
    }
    char *save = NULL;
    for (char *line = strtok_r(all, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
        char *e = strchr(line, '=');
        size_t ll = strlen(line);
        if (ll && line[ll - 1] == '\r')
            line[--ll] = '\0';
        if (e == NULL) {
            rc = cli_usage_error("cred", "standard input: expected KEY=VALUE lines for the "
                                         "secret fields");
            break;
        }
        *e = '\0';
        size_t i;
        for (i = 0; i < nw; i++)
            if (strcmp(line, want[i]) == 0)
                break;
        if (i == nw || vals[i] != NULL) {
            rc = cli_usage_error("cred", "standard input: unexpected or repeated field '%.64s'",
                                 line);
            break;
        }
        lens[i] = strlen(e + 1);
        vals[i] = strdup(e + 1);
        if (vals[i] == NULL) {
            rc = CLI_EXIT_INTERNAL;
            break;
        }
    }
    for (size_t i = 0; rc == CLI_EXIT_OK && i < nw; i++)
        if (vals[i] == NULL)
            rc = cli_usage_error("cred", "standard input: no value for secret field '%s'", want[i]);
    cli_secret_free(all, alen);
    return rc;
}

static int cred_add(cli_global *g, cli_session *s, const char *provider, const char *name,
                    cred_opts *o)
{
    const vp_cred_type *types = NULL;
    int st = vp_provider_cred_types(s->ctx, provider, &types);
    if (st == VP_ENOTFOUND) {
        cli_error("no provider named '%s' ('vaultplug providers' lists them)", provider);
        return CLI_EXIT_NOTFOUND;
    }
    if (st != 0) {
        cli_error("provider '%s' is not loaded ('vaultplug providers' says why)", provider);
        return cli_exit_for_status(st);
    }
    if (o->type == NULL) {
        if (types != NULL && types[0].name != NULL && types[1].name == NULL) {
            o->type = types[0].name;
        } else {
            cli_usage_error("cred", "give the credential type with --type");
            list_types(stderr, provider, types);
            return CLI_EXIT_USAGE;
        }
    }
    const vp_cred_type *t = cli_cred_type(types, o->type);
    if (t == NULL) {
        cli_usage_error("cred", "provider %s has no credential type '%s'", provider, o->type);
        list_types(stderr, provider, types);
        return CLI_EXIT_USAGE;
    }

    vp_field fields[MAX_FIELDS];
    size_t nf = 0;
    const char *want[MAX_FIELDS];
    size_t nw = 0;
    for (size_t i = 0; i < o->n_fields; i++) {
        char *kv = o->fields[i], *eq = strchr(kv, '=');
        if (eq != NULL)
            *eq = '\0';
        const vp_cred_field *fd = cli_cred_field(t, kv);
        if (fd == NULL) {
            const char *near = cli_cred_closest_field(t, kv);
            cli_usage_error("cred", "credential type '%s' of %s has no field '%.64s'%s%s%s",
                            t->name, provider, kv, near ? "; did you mean " : "", near ? near : "",
                            near ? "?" : "");
            list_types(stderr, provider, t);
            return CLI_EXIT_USAGE;
        }
        if ((fd->flags & VP_FIELD_SECRET) && eq != NULL) {
            /* Wipe it from our argv copy at least; ps and shell history already saw it. */
            cli_wipe(eq + 1, strlen(eq + 1));
            cli_error("cred: '%s' is a secret field: it is not accepted on the command line, "
                      "where other users (ps) and your shell history can see it",
                      fd->name);
            fprintf(stderr,
                    "Pass it on standard input or leave it out to be asked without echo:\n"
                    "  printf '%%s' \"$VALUE\" | vaultplug cred add %s %s --type %s --field %s\n"
                    "Consider the value exposed and rotate it.\n",
                    provider, name, t->name, fd->name);
            return CLI_EXIT_USAGE;
        }
        for (size_t j = 0; j < nf; j++)
            if (strcmp(fields[j].key, kv) == 0)
                return cli_usage_error("cred", "field '%s' given twice", kv);
        for (size_t j = 0; j < nw; j++)
            if (strcmp(want[j], kv) == 0)
                return cli_usage_error("cred", "field '%s' given twice", kv);
        if (eq == NULL)
            want[nw++] = fd->name;
        else
            fields[nf++] = (vp_field){fd->name, eq + 1};
    }
    for (const vp_cred_field *fd = t->fields; fd && fd->name; fd++) {
        int given = 0;
        for (size_t j = 0; j < nf; j++)
            given |= strcmp(fields[j].key, fd->name) == 0;
        for (size_t j = 0; j < nw; j++)
            given |= strcmp(want[j], fd->name) == 0;
        if (given || !(fd->flags & VP_FIELD_REQUIRED))
            continue;
        if (!(fd->flags & VP_FIELD_SECRET))
            return cli_usage_error("cred", "credential type '%s' needs --field %s=VALUE", t->name,
                                   fd->name);
        if (nw < MAX_FIELDS)
            want[nw++] = fd->name;
    }
    char *vals[MAX_FIELDS] = {0};
    size_t lens[MAX_FIELDS] = {0};
    int rc = read_secret_fields(provider, name, want, nw, vals, lens);
    for (size_t i = 0; rc == CLI_EXIT_OK && i < nw && nf < MAX_FIELDS; i++)
        fields[nf++] = (vp_field){want[i], vals[i]};
    if (rc == CLI_EXIT_OK) {
        vp_cred_spec spec = {name, t->name, fields, nf};
        vp_error err;
        st = vp_credstore_add(s->vault, o->no_validate ? NULL : s->ctx, provider, &spec, 0, &err);
        if (st != 0) {
            rc = cli_fail(st, &err, "cred add");
            if (!o->no_validate && cli_exit_for_status(st) == CLI_EXIT_UNAVAILABLE)
                fputs("Nothing was stored. To store it without checking, add --no-validate.\n",
                      stderr);
        } else {
            cli_info(g, "stored %s credential '%s' (type %s%s)", provider, name, t->name,
                     o->no_validate ? ", not validated" : ", validated");
        }
    }
    for (size_t i = 0; i < nw; i++)
        cli_secret_free(vals[i], lens[i]);
    return rc;
}

/* PROVIDER NAME, or NAME alone when it names one stored credential. */
static int resolve_name(cli_session *s, char **pos, int n, const char **provider, const char **name,
                        char **owned)
{
    *owned = NULL;
    if (n == 2) {
        *provider = pos[0];
        *name = pos[1];
        return CLI_EXIT_OK;
    }
    if (n != 1)
        return cli_usage_error("cred", "give [PROVIDER] NAME");
    vp_cred_entry *e = NULL;
    size_t count = 0, hits = 0;
    vp_error err;
    int st = vp_credstore_list(s->vault, NULL, &e, &count, &err);
    if (st != 0)
        return cli_fail(st, &err, "cred");
    for (size_t i = 0; i < count; i++)
        if (strcmp(e[i].name, pos[0]) == 0) {
            if (hits++ == 0)
                *owned = strdup(e[i].provider);
        }
    vp_cred_entries_free(e, count);
    *name = pos[0];
    *provider = *owned;
    if (hits == 0) {
        cli_error("no stored credential named '%s' ('vaultplug cred list')", pos[0]);
        return CLI_EXIT_NOTFOUND;
    }
    if (hits > 1) {
        free(*owned);
        *owned = NULL;
        return cli_usage_error("cred",
                               "several providers have a credential '%s': give PROVIDER "
                               "NAME",
                               pos[0]);
    }
    return *owned ? CLI_EXIT_OK : CLI_EXIT_INTERNAL;
}

static int cred_list(cli_session *s, int json)
{
    vp_cred_entry *e = NULL;
    size_t count = 0;
    vp_error err;
    int st = vp_credstore_list(s->vault, s->ctx, &e, &count, &err);
    if (st != 0)
        return cli_fail(st, &err, "cred list");
    if (json) {
        json_object *root = json_object_new_object(), *arr = json_object_new_array();
        json_object_object_add(root, "credentials", arr);
        for (size_t i = 0; i < count; i++) {
            json_object *o = json_object_new_object(), *fo = json_object_new_object();
            json_object_object_add(o, "provider", json_object_new_string(e[i].provider));
            json_object_object_add(o, "name", json_object_new_string(e[i].name));
            json_object_object_add(o, "type", json_object_new_string(e[i].type));
            for (size_t k = 0; k < e[i].n_fields; k++)
                json_object_object_add(fo, e[i].fields[k].key,
                                       json_object_new_string(e[i].fields[k].value));
            json_object_object_add(o, "fields", fo);
            json_object_array_add(arr, o);
        }
        puts(json_object_to_json_string_ext(root, JSON_C_TO_STRING_PRETTY |
                                                      JSON_C_TO_STRING_SPACED |
                                                      JSON_C_TO_STRING_NOSLASHESCAPE));
        json_object_put(root);
    } else {
        int color = cli_use_color(stdout);
        if (count > 0) {
            cli_paint(stdout, color, CLI_BOLD, "PROVIDER", 12);
            cli_paint(stdout, color, CLI_BOLD, "NAME", 20);
            cli_paint(stdout, color, CLI_BOLD, "TYPE", 16);
            cli_paint(stdout, color, CLI_BOLD, "FIELDS", 0);
            fputc('\n', stdout);
        } else {
            fputs("no stored credential ('vaultplug cred add')\n", stderr);
        }
        for (size_t i = 0; i < count; i++) {
            cli_paint(stdout, 0, NULL, e[i].provider, 12);
            cli_paint(stdout, 0, NULL, e[i].name, 20);
            cli_paint(stdout, 0, NULL, e[i].type[0] ? e[i].type : "-", 16);
            for (size_t k = 0; k < e[i].n_fields; k++)
                printf("%s%s=%s", k ? " " : "", e[i].fields[k].key, e[i].fields[k].value);
            fputc('\n', stdout);
        }
    }
    vp_cred_entries_free(e, count);
    return cli_flush_stdout();
}

static int cred_types(cli_session *s, const char *only, int json)
{
    json_object *root = json ? json_object_new_object() : NULL;
    json_object *arr = json ? json_object_new_array() : NULL;
    int found = 0;
    for (size_t i = 0; i < vp_providers_count(s->ctx); i++) {
        const vp_provider_info *p = vp_providers_get(s->ctx, i);
        const vp_cred_type *types = NULL;
        if (p == NULL || (only && strcmp(only, p->name) != 0) ||
            vp_provider_cred_types(s->ctx, p->name, &types) != 0)
            continue;
        found = 1;
        if (!json) {
            if (types == NULL || types[0].name == NULL)
                printf("%s  (no credential types: default chain only)\n", p->name);
            list_types(stdout, p->name, types);
            continue;
        }
        for (const vp_cred_type *t = types; t && t->name; t++) {
            json_object *o = json_object_new_object(), *fa = json_object_new_array();
            json_object_object_add(o, "provider", json_object_new_string(p->name));
            json_object_object_add(o, "type", json_object_new_string(t->name));
            json_object_object_add(o, "description",
                                   json_object_new_string(t->description ? t->description : ""));
            for (const vp_cred_field *fd = t->fields; fd && fd->name; fd++) {
                json_object *f = json_object_new_object();
                json_object_object_add(f, "name", json_object_new_string(fd->name));
                json_object_object_add(f, "secret",
                                       json_object_new_boolean(fd->flags & VP_FIELD_SECRET));
                json_object_object_add(f, "required",
                                       json_object_new_boolean(fd->flags & VP_FIELD_REQUIRED));
                json_object_object_add(
                    f, "description",
                    json_object_new_string(fd->description ? fd->description : ""));
                json_object_array_add(fa, f);
            }
            json_object_object_add(o, "fields", fa);
            json_object_array_add(arr, o);
        }
    }
    if (json) {
        json_object_object_add(root, "types", arr);
        puts(json_object_to_json_string_ext(root, JSON_C_TO_STRING_PRETTY |
                                                      JSON_C_TO_STRING_SPACED |
                                                      JSON_C_TO_STRING_NOSLASHESCAPE));
        json_object_put(root);
    }
    if (only != NULL && !found) {
        cli_error("no loaded provider named '%s' ('vaultplug providers')", only);
        return CLI_EXIT_NOTFOUND;
    }
    return cli_flush_stdout();
}

static int cred_run(cli_global *g, int argc, char **argv)
{
    static const cli_opt opts[] = {
        {"type", 't', 1, O_TYPE}, {"field", 'f', 1, O_FIELD}, {"no-validate", 0, 0, O_NOVALIDATE},
        {"json", 0, 0, O_JSON},   {"yes", 'y', 0, O_YES},     {NULL, 0, 0, 0},
    };
    cred_opts o = {0};
    char *pos[4];
    int npos = 0;
    int rc = cli_parse(g, &cli_cmd_cred, argc, argv, opts, on_opt, &o, pos, &npos, 4);
    if (rc != CLI_EXIT_OK)
        return rc == CLI_HELP ? CLI_EXIT_OK : rc;
    if (npos == 0)
        return cli_usage_error("cred", "give a subcommand: add, list, rm, clear, validate or "
                                       "types");
    const char *sub = pos[0];
    int nargs = npos - 1;
    int vault_mode = CLI_VAULT_REQUIRED;
    if (strcmp(sub, "add") == 0) {
        if (nargs != 2)
            return cli_usage_error("cred", "usage: cred add PROVIDER NAME --type TYPE ...");
        if (!vp_vault_name_valid(pos[2]) || strlen(pos[2]) > 64)
            return cli_usage_error("cred",
                                   "invalid credential name '%.80s' (letters, digits, "
                                   "'_', '.', '-'; at most 64)",
                                   pos[2]);
    } else if (strcmp(sub, "list") == 0 || strcmp(sub, "clear") == 0) {
        if (nargs != 0)
            return cli_usage_error("cred", "'cred %s' takes no argument", sub);
    } else if (strcmp(sub, "rm") == 0 || strcmp(sub, "validate") == 0) {
        if (nargs < 1 || nargs > 2)
            return cli_usage_error("cred", "usage: cred %s [PROVIDER] NAME", sub);
    } else if (strcmp(sub, "types") == 0) {
        if (nargs > 1)
            return cli_usage_error("cred", "usage: cred types [PROVIDER]");
        vault_mode = CLI_VAULT_NONE;
    } else {
        return cli_usage_error("cred", "unknown subcommand '%s'", sub);
    }
    if (strcmp(sub, "clear") == 0 && !o.yes) {
        if (!cli_can_prompt())
            return cli_usage_error("cred", "clear deletes every stored credential: confirm with "
                                           "--yes");
        if (!cli_confirm("Delete every stored credential")) {
            cli_error("cancelled; nothing was changed");
            return CLI_EXIT_CANCELLED;
        }
    }
    cli_session s;
    rc = cli_session_open(g, vault_mode, VP_LEVEL_WARN, &s);
    if (rc != CLI_EXIT_OK)
        return rc;
    vp_error err;
    int st;
    if (strcmp(sub, "add") == 0) {
        rc = cred_add(g, &s, pos[1], pos[2], &o);
    } else if (strcmp(sub, "list") == 0) {
        rc = cred_list(&s, o.json);
    } else if (strcmp(sub, "types") == 0) {
        rc = cred_types(&s, nargs ? pos[1] : NULL, o.json);
    } else if (strcmp(sub, "clear") == 0) {
        size_t removed = 0;
        st = vp_credstore_clear(s.vault, &removed, &err);
        rc = st ? cli_fail(st, &err, "cred clear") : CLI_EXIT_OK;
        if (st == 0)
            cli_info(g, "deleted %zu stored credential%s", removed, removed == 1 ? "" : "s");
    } else {
        const char *provider = NULL, *name = NULL;
        char *owned = NULL;
        rc = resolve_name(&s, pos + 1, nargs, &provider, &name, &owned);
        if (rc == CLI_EXIT_OK && strcmp(sub, "rm") == 0) {
            st = vp_credstore_remove(s.vault, provider, name, &err);
            rc = st ? cli_fail(st, &err, "cred rm") : CLI_EXIT_OK;
            if (st == 0)
                cli_info(g, "deleted %s credential '%s'", provider, name);
        } else if (rc == CLI_EXIT_OK) {
            st = vp_validate(s.ctx, provider, name, 0, &err);
            rc = st ? cli_fail(st, &err, "cred validate") : CLI_EXIT_OK;
            if (st == 0)
                cli_info(g, "%s credential '%s' is valid", provider, name);
        }
        free(owned);
    }
    cli_session_close(&s);
    return rc;
}

static int login_run(cli_global *g, int argc, char **argv)
{
    static const cli_opt opts[] = {
        {"device-code", 0, 0, O_DEVICE},
        {"tenant", 0, 1, O_TENANT},
        {"client-id", 0, 1, O_CLIENT},
        {"name", 'n', 1, O_NAME},
        {NULL, 0, 0, 0},
    };
    cred_opts o = {0};
    char *pos[1];
    int npos = 0;
    int rc = cli_parse(g, &cli_cmd_login, argc, argv, opts, on_opt, &o, pos, &npos, 1);
    if (rc != CLI_EXIT_OK)
        return rc == CLI_HELP ? CLI_EXIT_OK : rc;
    if (npos != 1)
        return cli_usage_error("login", "give the provider, e.g. 'vaultplug login azure'");
    const char *name = o.name ? o.name : "default";
    vp_field options[3];
    size_t n = 0;
    if (o.tenant)
        options[n++] = (vp_field){"tenant", o.tenant};
    if (o.client_id)
        options[n++] = (vp_field){"client_id", o.client_id};
    if (o.device)
        options[n++] = (vp_field){"device_code", "1"};
    cli_session s;
    rc = cli_session_open(g, CLI_VAULT_REQUIRED, VP_LEVEL_WARN, &s);
    if (rc != CLI_EXIT_OK)
        return rc;
    vp_login_result res;
    memset(&res, 0, sizeof(res));
    vp_error err;
    int st = vp_login(s.ctx, pos[0], name, options, n, 0, &res, &err);
    if (st != 0) {
        rc = cli_fail(st, &err, "login");
    } else {
        cli_info(g, "signed in to %s%s%s; credential '%s' (type %s) %s", res.provider,
                 res.account ? " as " : "", res.account ? res.account : "", res.name, res.type,
                 res.stored ? "stored in the vault" : "NOT stored (no vault attached)");
        rc = CLI_EXIT_OK;
    }
    vp_login_result_free(&res);
    cli_session_close(&s);
    return rc;
}

const cli_command cli_cmd_cred = {
    "cred",
    "manage provider credentials stored in the vault",
    cred_help,
    cred_run,
};

const cli_command cli_cmd_login = {
    "login",
    "sign in interactively (azure) and store the credential",
    login_help,
    login_run,
};
