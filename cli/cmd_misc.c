/*
 * cmd_misc.c - `vaultplug cache ...` and `vaultplug config show`.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <json-c/json.h>

#include "cli.h"

static const char cache_help[] =
    "Usage: vaultplug cache stats [PROVIDER] [--json]\n"
    "       vaultplug cache reset [PROVIDER]\n"
    "       vaultplug cache ttl MINUTES\n"
    "\n"
    "External secrets are cached for the configured time, or less when the provider says the\n"
    "value expires sooner. When the vault is open the cache is kept between runs in\n"
    "cache.vpc next to it, sealed with a key stored in the vault.\n"
    "\n"
    "Subcommands:\n"
    "  stats [PROVIDER]  the cache counters per provider: hits, misses, fetches, errors,\n"
    "                    retries, throttles and stale count what this run did (they start\n"
    "                    at 0 in every process); entries and bytes are the cache kept\n"
    "                    between runs (read only when the vault is open)\n"
    "  reset [PROVIDER]  drop the cached values of one provider, or of all\n"
    "  ttl MINUTES       set the cache lifetime in the user configuration (0 disables the\n"
    "                    cache, at most 720); the VAULTPLUG_CACHE_TTL variable overrides it\n"
    "\n"
    "Options:\n"
    "  --json            (stats) print {\"providers\": [{\"name\", \"hits\", ...}],\n"
    "                    \"per_process\": [\"hits\", ...], \"kept_cache_loaded\": true,\n"
    "                    \"note\": null or why the kept cache was not read}\n"
    "  -q, --quiet       no informational messages\n"
    "  -h, --help        show this help\n"
    "\n"
    "Examples:\n"
    "  vaultplug cache ttl 10\n"
    "  vaultplug cache ttl 0          # never cache\n"
    "  vaultplug cache stats --json\n"
    "  vaultplug cache reset aws\n";

static const char config_help[] =
    "Usage: vaultplug config show [--json]\n"
    "\n"
    "Print the effective configuration and where each setting comes from: built-in default,\n"
    "the administrator's file (/etc/vaultplug/config.json, or VAULTPLUG_SYSTEM_CONFIG), the\n"
    "user's file ($XDG_CONFIG_HOME/vaultplug/config.json, or $VAULTPLUG_HOME/config.json), a\n"
    "VAULTPLUG_* variable or an option. Secret values (the vault key, credential variables,\n"
    "a proxy password) are masked.\n"
    "\n"
    "Settings of the configuration files (JSON objects):\n"
    "  plugin_dirs        [\"dir\", ...]   provider directories, searched first\n"
    "  enabled_providers  [\"aws\", ...]   only these providers load (the administrator's\n"
    "                                     list is a ceiling the user can only narrow)\n"
    "  allow_provider_override  false    (administrator's file only) VAULTPLUG_PLUGIN_PATH\n"
    "                                     may replace the built-in providers\n"
    "  allow_host_override      false    (administrator's file only) applications may\n"
    "                                     ignore its enabled_providers\n"
    "  isolate_providers        false    (administrator's file only) run each provider in\n"
    "                                     a helper process: a crash fails its references\n"
    "  cache_ttl_minutes  30             0 disables the cache, at most 720\n"
    "  cache_max_entries  1000\n"
    "  cache_max_bytes    67108864\n"
    "  http_timeout_ms    30000\n"
    "  proxy              \"http://proxy:3128\"\n"
    "  ca_file            \"/etc/ssl/corp-ca.pem\"\n"
    "  vault_file         \"/path/vault.vpv\"   (user file only)\n"
    "\n"
    "Options:\n"
    "  --json             print {\"settings\": [{\"name\", \"value\", \"source\"}, ...]}\n"
    "  -h, --help         show this help\n"
    "\n"
    "Examples:\n"
    "  vaultplug config show\n"
    "  VAULTPLUG_HOME=/tmp/vp vaultplug config show --json\n";

enum { O_JSON = 256 };

static int on_json(void *ud, int id, const char *arg)
{
    (void)arg;
    if (id == O_JSON)
        *(int *)ud = 1;
    return CLI_EXIT_OK;
}

static const cli_opt json_opts[] = {
    {"json", 0, 0, O_JSON},
    {NULL, 0, 0, 0},
};

static void add_u64(json_object *o, const char *k, uint64_t v)
{
    json_object_object_add(o, k, json_object_new_uint64(v));
}

#define N_COLS 10

/* The counters a run of the command starts from zero (the library counts them per process;
 * only the cached entries and their bytes are kept between runs, in cache.vpc). */
static const char *const per_process[] = {"hits",    "misses",    "fetches", "errors",
                                          "retries", "throttles", "stale"};

/* Why the kept cache is not loaded in this run (NULL when it is). */
static const char *not_loaded_why(const cli_session *s, const cli_global *g)
{
    if (g->cfg != NULL && g->cfg->cache_ttl_min.v == 0)
        return "the cache is off (cache_ttl_minutes is 0), so nothing is kept between runs";
    if (s->vault_locked)
        return "the vault is locked, so the cache kept in cache.vpc (sealed with a key in the "
               "vault) was not read: set VAULTPLUG_VAULT_KEY, pass --vault-key-file FILE, or "
               "run on a terminal to be asked for the key";
    if (s->vault == NULL)
        return "there is no vault, so nothing is kept between runs ('vaultplug vault init' "
               "creates one)";
    return NULL;
}

static int cache_stats(cli_global *g, cli_session *s, const char *only, int json)
{
    /* The provider first: an unknown name is an error, with no table before it. */
    if (only != NULL) {
        const vp_provider_info *p = NULL;
        for (size_t i = 0; i < vp_providers_count(s->ctx); i++) {
            const vp_provider_info *q = vp_providers_get(s->ctx, i);
            if (q != NULL && strcmp(q->name, only) == 0)
                p = q;
        }
        if (p == NULL || p->state != VP_PROVIDER_LOADED) {
            cli_error("no loaded provider named '%s' ('vaultplug providers' lists them)", only);
            return CLI_EXIT_NOTFOUND;
        }
    }
    const char *why = not_loaded_why(s, g);
    json_object *root = json_object_new_object(), *arr = json_object_new_array();
    json_object_object_add(root, "providers", arr);
    /* Rows as text first, to size the columns. */
    static const char *const heads[N_COLS] = {"PROVIDER", "HITS",    "MISSES",    "FETCHES",
                                              "ERRORS",   "RETRIES", "THROTTLES", "STALE",
                                              "ENTRIES",  "BYTES"};
    size_t n = vp_providers_count(s->ctx), rows = 0;
    char(*cell)[N_COLS][24] = calloc(n ? n : 1, sizeof(*cell));
    char **names = calloc(n ? n : 1, sizeof(char *));
    int width[N_COLS];
    if (cell == NULL || names == NULL || root == NULL || arr == NULL) {
        free(cell);
        free(names);
        json_object_put(root);
        cli_error("out of memory");
        return CLI_EXIT_INTERNAL;
    }
    for (int c = 0; c < N_COLS; c++)
        width[c] = (int)strlen(heads[c]);
    for (size_t i = 0; i < n; i++) {
        const vp_provider_info *p = vp_providers_get(s->ctx, i);
        vp_cache_stats st;
        if (p == NULL || p->state != VP_PROVIDER_LOADED || (only && strcmp(only, p->name)) ||
            vp_cache_stats_get(s->ctx, p->name, &st) != 0)
            continue;
        uint64_t v[N_COLS - 1] = {st.hits,      st.misses, st.fetches, st.errors, st.retries,
                                  st.throttles, st.stale,  st.entries, st.bytes};
        if (json) {
            json_object *o = json_object_new_object();
            json_object_object_add(o, "name", json_object_new_string(p->name));
            for (int c = 1; c < N_COLS; c++) {
                char k[16];
                snprintf(k, sizeof(k), "%s", heads[c]);
                for (char *q = k; *q; q++)
                    *q = (char)(*q - 'A' + 'a');
                add_u64(o, k, v[c - 1]);
            }
            json_object_array_add(arr, o);
            continue;
        }
        names[rows] = cli_escape_dup(p->name);
        int nw = names[rows] ? (int)cli_text_width(names[rows]) : 1;
        width[0] = nw > width[0] ? nw : width[0];
        for (int c = 1; c < N_COLS; c++) {
            int w = snprintf(cell[rows][c], sizeof(cell[rows][c]), "%" PRIu64, v[c - 1]);
            width[c] = w > width[c] ? w : width[c];
        }
        rows++;
    }
    int rc = CLI_EXIT_OK;
    if (json) {
        json_object *pp = json_object_new_array();
        for (size_t i = 0; i < sizeof(per_process) / sizeof(per_process[0]); i++)
            json_object_array_add(pp, json_object_new_string(per_process[i]));
        json_object_object_add(root, "per_process", pp);
        json_object_object_add(root, "kept_cache_loaded", json_object_new_boolean(why == NULL));
        json_object_object_add(root, "note", why ? json_object_new_string(why) : NULL);
        const char *text =
            json_object_to_json_string_ext(root, JSON_C_TO_STRING_PRETTY | JSON_C_TO_STRING_SPACED |
                                                     JSON_C_TO_STRING_NOSLASHESCAPE);
        rc = text != NULL && puts(text) >= 0 ? CLI_EXIT_OK : CLI_EXIT_INTERNAL;
    } else {
        /* Columns two spaces apart; the last one is not padded (no trailing spaces). */
        int color = cli_use_color(stdout);
        for (int c = 0; c < N_COLS; c++)
            cli_paint(stdout, color, CLI_BOLD, heads[c], c + 1 < N_COLS ? width[c] + 2 : 0);
        fputc('\n', stdout);
        for (size_t r = 0; r < rows; r++) {
            cli_paint(stdout, 0, NULL, names[r] ? names[r] : "?", width[0] + 2);
            for (int c = 1; c < N_COLS; c++)
                cli_paint(stdout, 0, NULL, cell[r][c], c + 1 < N_COLS ? width[c] + 2 : 0);
            fputc('\n', stdout);
        }
        cli_info(g, "note: HITS to STALE count this run only (they start at 0 in every vaultplug "
                    "process); ENTRIES and BYTES are the cache kept between runs.");
        if (why != NULL)
            cli_info(g, "note: %s.", why);
    }
    for (size_t r = 0; r < rows; r++)
        free(names[r]);
    free(names);
    free(cell);
    json_object_put(root);
    return rc != CLI_EXIT_OK ? rc : cli_flush_stdout();
}

static int cache_run(cli_global *g, int argc, char **argv)
{
    int json = 0;
    char *pos[2];
    int npos = 0;
    int rc = cli_parse(g, &cli_cmd_cache, argc, argv, json_opts, on_json, &json, pos, &npos, 2);
    if (rc != CLI_EXIT_OK)
        return rc == CLI_HELP ? CLI_EXIT_OK : rc;
    if (npos == 0)
        return cli_usage_error("cache", "give a subcommand: stats, reset or ttl");
    const char *sub = pos[0], *arg = npos > 1 ? pos[1] : NULL;
    if (strcmp(sub, "ttl") == 0) {
        if (arg == NULL)
            return cli_usage_error("cache", "give the lifetime in MINUTES (0 disables)");
        char *end = NULL;
        errno = 0;
        long m = strtol(arg, &end, 10);
        if (errno || end == arg || *end || m < 0 || m > VP_CACHE_TTL_MAX_S / 60)
            return cli_usage_error("cache", "MINUTES must be a whole number from 0 to %d",
                                   VP_CACHE_TTL_MAX_S / 60);
        char num[32];
        snprintf(num, sizeof(num), "%ld", m);
        rc = cli_config_set_user(g, "cache_ttl_minutes", num);
        if (rc == CLI_EXIT_OK) {
            cli_info(g,
                     m ? "cache lifetime set to %ld minutes in %s"
                       : "cache disabled (lifetime %ld) in %s",
                     m, g->cfg ? g->cfg->user_file.v : "the user configuration");
            if (getenv("VAULTPLUG_CACHE_TTL") != NULL)
                fputs("Note: VAULTPLUG_CACHE_TTL is set and overrides it.\n", stderr);
        }
        return rc;
    }
    if (strcmp(sub, "stats") != 0 && strcmp(sub, "reset") != 0)
        return cli_usage_error("cache", "unknown subcommand '%s'", sub);
    cli_session s;
    rc = cli_session_open(g, CLI_VAULT_PROMPT, VP_LEVEL_WARN, &s);
    if (rc != CLI_EXIT_OK)
        return rc;
    if (strcmp(sub, "stats") == 0) {
        rc = cache_stats(g, &s, arg, json);
    } else {
        int st = vp_cache_reset(s.ctx, arg);
        if (st != 0) {
            cli_error("no provider named '%s'", arg);
            rc = cli_exit_for_status(st);
        } else {
            cli_info(g, "cache cleared%s%s", arg ? " for " : "", arg ? arg : "");
        }
    }
    cli_session_close(&s);
    return rc;
}

static int config_run(cli_global *g, int argc, char **argv)
{
    int json = 0;
    char *pos[1];
    int npos = 0;
    int rc = cli_parse(g, &cli_cmd_config, argc, argv, json_opts, on_json, &json, pos, &npos, 1);
    if (rc != CLI_EXIT_OK)
        return rc == CLI_HELP ? CLI_EXIT_OK : rc;
    if (npos != 1 || strcmp(pos[0], "show") != 0)
        return cli_usage_error("config", "the only subcommand is 'show'");
    return cli_config_show(g, json);
}

const cli_command cli_cmd_cache = {
    "cache",
    "show cache counters, clear the cache, set its lifetime",
    cache_help,
    cache_run,
};

const cli_command cli_cmd_config = {
    "config",
    "show the effective configuration and its sources",
    config_help,
    config_run,
};
