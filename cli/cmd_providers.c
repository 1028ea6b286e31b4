/*
 * cmd_providers.c - `vaultplug providers`: list the provider plugins found, their identity and
 * load state, and why a failed one failed.
 */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <json-c/json.h>

#include <vaultplug/provider.h>

#include "cli.h"

static const char providers_help[] =
    "Usage: vaultplug providers [--available] [--json] [--plugin-dir DIR]...\n"
    "\n"
    "List the provider plugins vaultplug finds, with their version, plugin ABI, URI schemes,\n"
    "capabilities and load state:\n"
    "  loaded    initialised and ready to serve references\n"
    "  failed    found but refused or broken; the reason says why (permissions, ABI,\n"
    "            name mismatch, load error, an init that failed, crashed or did not finish\n"
    "            within http_timeout_ms...) and references to it fail with exit 6\n"
    "  disabled  found but not enabled by the configuration; never opened\n"
    "\n"
    "Other commands initialise a provider only when a reference needs it. This one\n"
    "initialises every enabled provider, each first in a child process, so that one whose\n"
    "init crashes or hangs is listed as failed instead of stopping the listing.\n"
    "\n"
    "Search path, first match of a name wins: each --plugin-dir DIR in order, the plugin_dirs\n"
    "of the configuration, the build tree's provider directory when vaultplug runs from its\n"
    "build tree, the directories in VAULTPLUG_PLUGIN_PATH, then the installed provider\n"
    "directory. VAULTPLUG_PLUGIN_PATH does not replace an installed aws, gcp, hashicorp or\n"
    "azure (unless the administrator sets allow_provider_override). Only the\n"
    "enabled_providers of the configuration load, when it has that list; the administrator's\n"
    "list is a ceiling for every application.\n"
    "\n"
    "Options:\n"
    "  --available       list only the providers that loaded (usable now)\n"
    "  --json            print one JSON object: {\"providers\": [{\"name\", \"path\", "
    "\"version\",\n"
    "                    \"description\", \"abi\", \"schemes\", \"caps\", \"state\", \"status\",\n"
    "                    \"reason\"}, ...]}\n"
    "  --plugin-dir DIR  search DIR first; may be repeated\n"
    "  -h, --help        show this help\n"
    "\n"
    "Examples:\n"
    "  vaultplug providers\n"
    "  vaultplug providers --available\n"
    "  vaultplug providers --plugin-dir ~/src/myprovider/build/providers\n"
    "  vaultplug providers --json | jq -r '.providers[] | select(.state == \"failed\") | "
    ".reason'\n";

static const char *state_name(vp_provider_state s)
{
    switch (s) {
    case VP_PROVIDER_LOADED:
        return "loaded";
    case VP_PROVIDER_FAILED:
        return "failed";
    case VP_PROVIDER_DISABLED:
        return "disabled";
    }
    return "unknown";
}

static const char *state_color(vp_provider_state s)
{
    return s == VP_PROVIDER_LOADED ? CLI_GREEN : s == VP_PROVIDER_FAILED ? CLI_RED : CLI_YELLOW;
}

/* "threadsafe,batch" (or "-" for none) into buf. */
static const char *caps_string(uint32_t caps, char *buf, size_t cap)
{
    static const struct {
        uint32_t bit;
        const char *name;
    } names[] = {
        {VP_CAP_THREADSAFE, "threadsafe"},
        {VP_CAP_LIST, "list"},
        {VP_CAP_BATCH, "batch"},
        {VP_CAP_INTERACTIVE_LOGIN, "login"},
    };
    buf[0] = '\0';
    size_t n = 0;
    for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++)
        if (caps & names[i].bit)
            n += (size_t)snprintf(buf + n, n < cap ? cap - n : 0, "%s%s", n ? "," : "",
                                  names[i].name);
    if (caps & ~VP_CAP_KNOWN_MASK_1_0)
        n += (size_t)snprintf(buf + n, n < cap ? cap - n : 0, "%s0x%x", n ? "," : "",
                              (unsigned)(caps & ~VP_CAP_KNOWN_MASK_1_0));
    if (n == 0)
        snprintf(buf, cap, "-");
    return buf;
}

static int has_abi(const vp_provider_info *p)
{
    return p->abi_major != 0 || p->abi_minor != 0;
}

/* A JSON string of provider text: as it is (json-c escapes the control characters), or
 * escaped like the table shows it when it is not UTF-8 (which JSON cannot carry). */
static json_object *jstr(const char *s)
{
    if (cli_utf8_valid(s))
        return json_object_new_string(s);
    char *e = cli_escape_dup(s);
    json_object *o = json_object_new_string(e ? e : "");
    free(e);
    return o;
}

/* What initialising a provider in a child process showed (probe_all). */
typedef struct probe {
    int failed;
    int status;
    char reason[512];
} probe;

/* The info of provider i, with a failed probe's verdict in place of the library's. */
static const vp_provider_info *info_at(vp_ctx *ctx, size_t i, const probe *pr,
                                       vp_provider_info *tmp)
{
    const vp_provider_info *p = vp_providers_get(ctx, i);
    if (p == NULL || pr == NULL || !pr[i].failed)
        return p;
    *tmp = *p;
    tmp->state = VP_PROVIDER_FAILED;
    tmp->status = pr[i].status;
    tmp->reason = pr[i].reason;
    return tmp;
}

static int64_t mono_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* Child: initialise provider `name` in a context of its own; report through fd. */
static void probe_child(cli_global *g, const char *name, int fd)
{
    cli_session s;
    vp_error err;
    int rc = cli_session_open(g, CLI_VAULT_NONE, VP_LEVEL_ERROR - 1, &s);
    if (rc != CLI_EXIT_OK)
        _exit(0); /* the parent's own session worked: let it report */
    rc = vp_provider_check(s.ctx, name, &err);
    if (rc != 0) {
        char msg[600];
        int n = snprintf(msg, sizeof(msg), "%d %s", rc, err.message);
        if (n > 0 && write(fd, msg, (size_t)n < sizeof(msg) ? (size_t)n : sizeof(msg) - 1) < 0)
            _exit(3);
        _exit(2);
    }
    _exit(0);
}

/* Initialise every loaded provider in a child process of its own (all at once), then in this
 * process those whose child succeeded. A crash or a hang costs the child only. */
static int probe_all(cli_global *g, vp_ctx *ctx, probe *pr)
{
    int st = CLI_EXIT_OK;
    cli_config *c = cli_config_get(g, &st);
    if (c == NULL)
        return st;
    /* The library gives up on an init after http_timeout_ms; the child gets a little more. */
    int64_t limit = (c->http_timeout_ms.set ? (int64_t)c->http_timeout_ms.v : 30000) + 2000;
    size_t n = vp_providers_count(ctx);
    pid_t *pid = calloc(n ? n : 1, sizeof(*pid));
    int *fd = calloc(n ? n : 1, sizeof(*fd));
    if (pid == NULL || fd == NULL) {
        free(pid);
        free(fd);
        cli_error("out of memory");
        return CLI_EXIT_INTERNAL;
    }
    fflush(NULL);
    for (size_t i = 0; i < n; i++) {
        const vp_provider_info *p = vp_providers_get(ctx, i);
        fd[i] = -1;
        if (p == NULL || p->state != VP_PROVIDER_LOADED)
            continue;
        int pp[2];
        if (pipe(pp) != 0)
            continue;
        pid[i] = fork();
        if (pid[i] == 0) {
            close(pp[0]);
            probe_child(g, p->name, pp[1]);
        }
        close(pp[1]);
        if (pid[i] < 0) {
            close(pp[0]);
            pid[i] = 0;
            continue;
        }
        fd[i] = pp[0];
    }
    int64_t until = mono_ms() + limit;
    for (size_t i = 0; i < n; i++) {
        if (pid[i] <= 0)
            continue;
        int ws = 0;
        pid_t w;
        while ((w = waitpid(pid[i], &ws, WNOHANG)) == 0 && mono_ms() < until) {
            struct timespec ts = {0, 10 * 1000000L};
            nanosleep(&ts, NULL);
        }
        const char *name = vp_providers_get(ctx, i)->name;
        if (w == 0) {
            kill(pid[i], SIGKILL);
            waitpid(pid[i], &ws, 0);
            pr[i] = (probe){1, VP_ETIMEDOUT, ""};
            snprintf(pr[i].reason, sizeof(pr[i].reason), "init did not finish within %lld ms",
                     (long long)limit);
        } else if (w > 0 && WIFSIGNALED(ws)) {
            pr[i] = (probe){1, VP_EINTERNAL, ""};
            snprintf(pr[i].reason, sizeof(pr[i].reason), "init crashed (signal %d, %s)",
                     WTERMSIG(ws), strsignal(WTERMSIG(ws)));
        } else if (w > 0 && WIFEXITED(ws) && WEXITSTATUS(ws) == 2) {
            char msg[600];
            ssize_t got = read(fd[i], msg, sizeof(msg) - 1);
            msg[got > 0 ? got : 0] = '\0';
            int code = 0, off = 0;
            if (sscanf(msg, "%d %n", &code, &off) < 1)
                code = VP_EINTERNAL;
            pr[i] = (probe){1, code, ""};
            /* The library's message names the provider already: keep the reason part. */
            const char *why = msg + off;
            const char *pfx = strstr(why, "is unavailable: ");
            if (pfx != NULL)
                why = pfx + strlen("is unavailable: ");
            else if (strncmp(why, name, strlen(name)) == 0 && why[strlen(name)] == ':')
                why += strlen(name) + 2;
            snprintf(pr[i].reason, sizeof(pr[i].reason), "%s", why);
        } else if (w > 0 && WIFEXITED(ws) && WEXITSTATUS(ws) != 0) {
            pr[i] = (probe){1, VP_EINTERNAL, ""};
            snprintf(pr[i].reason, sizeof(pr[i].reason), "init exited the process (status %d)",
                     WEXITSTATUS(ws));
        }
        close(fd[i]);
        if (!pr[i].failed) {
            vp_error err;
            if (vp_provider_check(ctx, name, &err) != 0) {
                pr[i] = (probe){1, err.code, ""};
                snprintf(pr[i].reason, sizeof(pr[i].reason), "%s", err.message);
            }
        }
    }
    free(pid);
    free(fd);
    return CLI_EXIT_OK;
}

static int print_json(vp_ctx *ctx, const probe *pr, int available)
{
    json_object *root = json_object_new_object(), *arr = json_object_new_array();
    if (root == NULL || arr == NULL) {
        json_object_put(root);
        json_object_put(arr);
        cli_error("out of memory");
        return CLI_EXIT_INTERNAL;
    }
    json_object_object_add(root, "providers", arr);
    for (size_t i = 0; i < vp_providers_count(ctx); i++) {
        vp_provider_info tmp;
        const vp_provider_info *p = info_at(ctx, i, pr, &tmp);
        if (p == NULL || (available && p->state != VP_PROVIDER_LOADED))
            continue;
        json_object *o = json_object_new_object();
        json_object_object_add(o, "name", jstr(p->name));
        json_object_object_add(o, "path", jstr(p->path));
        json_object_object_add(o, "version", jstr(p->version));
        json_object_object_add(o, "description", jstr(p->description));
        char abi[16];
        snprintf(abi, sizeof(abi), "%u.%u", (unsigned)p->abi_major, (unsigned)p->abi_minor);
        json_object_object_add(o, "abi", has_abi(p) ? json_object_new_string(abi) : NULL);
        json_object *schemes = json_object_new_array();
        char buf[512];
        snprintf(buf, sizeof(buf), "%s", p->schemes);
        char *save = NULL;
        for (char *s = strtok_r(buf, ",", &save); s; s = strtok_r(NULL, ",", &save))
            json_object_array_add(schemes, jstr(s));
        json_object_object_add(o, "schemes", schemes);
        json_object *caps = json_object_new_array();
        char cbuf[128];
        caps_string(p->caps, cbuf, sizeof(cbuf));
        save = NULL;
        for (char *s = strtok_r(cbuf, ",", &save); s; s = strtok_r(NULL, ",", &save))
            if (strcmp(s, "-") != 0)
                json_object_array_add(caps, json_object_new_string(s));
        json_object_object_add(o, "caps", caps);
        json_object_object_add(o, "state", json_object_new_string(state_name(p->state)));
        json_object_object_add(o, "status", json_object_new_string(vp_err_name(p->status)));
        json_object_object_add(o, "reason", jstr(p->reason));
        json_object_array_add(arr, o);
    }
    const char *text = json_object_to_json_string_ext(
        root, JSON_C_TO_STRING_PRETTY | JSON_C_TO_STRING_SPACED | JSON_C_TO_STRING_NOSLASHESCAPE);
    int rc = text != NULL && puts(text) >= 0 ? CLI_EXIT_OK : CLI_EXIT_INTERNAL;
    json_object_put(root);
    return rc;
}

/* The wider of w and the columns s takes once escaped. */
static int width_of(const char *s, int w)
{
    char *e = cli_escape_dup(s);
    int n = e ? (int)cli_text_width(e) : 0;
    free(e);
    return n > w ? n : w;
}

static int print_table(vp_ctx *ctx, const probe *pr, int available)
{
    size_t count = vp_providers_count(ctx), shown = 0;
    int wn = 4, wv = 7, ws = 7; /* header widths: NAME VERSION SCHEMES */
    for (size_t i = 0; i < count; i++) {
        vp_provider_info tmp;
        const vp_provider_info *p = info_at(ctx, i, pr, &tmp);
        if (p == NULL || (available && p->state != VP_PROVIDER_LOADED))
            continue;
        wn = width_of(p->name, wn);
        wv = width_of(p->version[0] ? p->version : "-", wv);
        ws = width_of(p->schemes[0] ? p->schemes : "-", ws);
        shown++;
    }
    if (shown == 0) {
        cli_error(available ? "no provider loaded" : "no provider found");
        fputs("Add a directory with --plugin-dir DIR or VAULTPLUG_PLUGIN_PATH; "
              "'vaultplug providers --help' shows the search path.\n",
              stderr);
        return CLI_EXIT_OK; /* an empty list is a valid answer */
    }
    int color = cli_use_color(stdout);
    cli_paint(stdout, color, CLI_BOLD, "NAME", wn + 2);
    cli_paint(stdout, color, CLI_BOLD, "STATE", 10);
    cli_paint(stdout, color, CLI_BOLD, "VERSION", wv + 2);
    cli_paint(stdout, color, CLI_BOLD, "ABI", 5);
    cli_paint(stdout, color, CLI_BOLD, "SCHEMES", ws + 2);
    cli_paint(stdout, color, CLI_BOLD, "CAPS", 0);
    fputc('\n', stdout);
    for (size_t i = 0; i < count; i++) {
        vp_provider_info tmp;
        const vp_provider_info *p = info_at(ctx, i, pr, &tmp);
        if (p == NULL || (available && p->state != VP_PROVIDER_LOADED))
            continue;
        char abi[16], caps[128];
        snprintf(abi, sizeof(abi), "%u.%u", (unsigned)p->abi_major, (unsigned)p->abi_minor);
        cli_paint(stdout, 0, NULL, p->name, wn + 2);
        cli_paint(stdout, color, state_color(p->state), state_name(p->state), 10);
        cli_paint(stdout, 0, NULL, p->version[0] ? p->version : "-", wv + 2);
        cli_paint(stdout, 0, NULL, has_abi(p) ? abi : "-", 5);
        cli_paint(stdout, 0, NULL, p->schemes[0] ? p->schemes : "-", ws + 2);
        fputs(p->state == VP_PROVIDER_DISABLED && p->caps == 0
                  ? "-"
                  : caps_string(p->caps, caps, sizeof(caps)),
              stdout);
        fputc('\n', stdout);
        /* Everything a provider wrote is shown escaped: it cannot drive the terminal. */
        if (p->description[0] != '\0') {
            printf("%*s", wn + 2, "");
            cli_fputs_safe(stdout, p->description);
            fputc('\n', stdout);
        }
        if (p->state == VP_PROVIDER_FAILED) {
            printf("%*sreason: ", wn + 2, "");
            cli_fputs_safe(stdout, p->reason[0] ? p->reason : "unknown");
            printf(" (%s)\n", vp_err_name(p->status));
        } else if (p->state == VP_PROVIDER_DISABLED && p->reason[0] != '\0') {
            printf("%*sreason: ", wn + 2, ""); /* the administrator's doing */
            cli_fputs_safe(stdout, p->reason);
            fputc('\n', stdout);
        }
    }
    return CLI_EXIT_OK;
}

enum { O_AVAILABLE = 256, O_JSON };

typedef struct providers_opts {
    int available, json;
} providers_opts;

static int on_opt(void *ud, int id, const char *arg)
{
    (void)arg;
    providers_opts *o = ud;
    if (id == O_AVAILABLE)
        o->available = 1;
    else if (id == O_JSON)
        o->json = 1;
    return CLI_EXIT_OK;
}

static int providers_run(cli_global *g, int argc, char **argv)
{
    static const cli_opt opts[] = {
        {"available", 0, 0, O_AVAILABLE},
        {"json", 0, 0, O_JSON},
        {NULL, 0, 0, 0},
    };
    providers_opts o = {0, 0};
    char *pos[1];
    int npos = 0;
    int rc = cli_parse(g, &cli_cmd_providers, argc, argv, opts, on_opt, &o, pos, &npos, 0);
    if (rc != CLI_EXIT_OK)
        return rc == CLI_HELP ? CLI_EXIT_OK : rc;

    /* Load failures are the listing's subject: show them in it, not also as log warnings. */
    cli_session s;
    rc = cli_session_open(g, CLI_VAULT_NONE, VP_LEVEL_ERROR, &s);
    if (rc != CLI_EXIT_OK)
        return rc;
    size_t n = vp_providers_count(s.ctx);
    probe *pr = calloc(n ? n : 1, sizeof(*pr));
    if (pr == NULL) {
        cli_session_close(&s);
        cli_error("out of memory");
        return CLI_EXIT_INTERNAL;
    }
    rc = probe_all(g, s.ctx, pr);
    if (rc == CLI_EXIT_OK)
        rc = o.json ? print_json(s.ctx, pr, o.available) : print_table(s.ctx, pr, o.available);
    free(pr);
    cli_session_close(&s);
    int frc = cli_flush_stdout();
    return rc != CLI_EXIT_OK ? rc : frc;
}

const cli_command cli_cmd_providers = {
    "providers",
    "list provider plugins, their capabilities and load state",
    providers_help,
    providers_run,
};
