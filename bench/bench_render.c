/*
 * bench_render - throughput of the template engine (issue 3): four templates with every secret
 * value available, in two modes:
 *
 *   parse+render  vp_template_parse + vp_template_render + free per call (what an API client
 *                 does on every send; Nunjucks' renderString)
 *   render        vp_template_render of a template parsed once (Nunjucks' compiled
 *                 Template.render)
 *
 * The references are environment variables, local-vault values (a vp_vault_source test double)
 * and `{% vault 'echo://...' %}` external references served by a resolver test double that
 * returns fixed values at once, so the figures are the engine's own cost. The output is
 * materialised as bytes (the vp_buf). Prints renders/s and MB/s of output; never passes or
 * fails on time (it fails only if a template does not render).
 *
 *   bench_render [--iters N] [--seconds S] [--write-data DIR] [--only NAME]
 *                [--render-only | --parse-render-only]
 *
 * --iters N runs exactly N calls per template and mode (the CTest smoke run); otherwise each
 * measurement runs for about S seconds (default 1). --write-data writes, per template, the
 * Node equivalent for bench/nunjucks_render.js: NAME.njk (external references become plain
 * variables ext_N, as tests/template/gen_corpus.js emulates the vault), NAME.json (the
 * context: environment + vault + ext values) and NAME.out (this engine's output, which the
 * Node script compares with Nunjucks' output byte for byte).
 *
 * Each result line also appears in a machine-readable form for scripts/bench_render.sh:
 *   RESULT <template> <parse+render|render> <renders/s> <MB/s>
 */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include "buf.h"
#include "secmem.h"
#include "vaultplug/error.h"
#include "vaultplug/template.h"

/* ---- growable plain strings (benchmark set-up only; nothing here is secret) ---------------- */

typedef struct sb {
    char *p;
    size_t n, cap;
} sb;

static void sb_add(sb *b, const char *s, size_t n)
{
    if (b->n + n + 1 > b->cap) {
        size_t cap = b->cap ? b->cap : 256;
        while (cap < b->n + n + 1)
            cap *= 2;
        char *q = realloc(b->p, cap);
        if (q == NULL) {
            fprintf(stderr, "out of memory\n");
            exit(1);
        }
        b->p = q;
        b->cap = cap;
    }
    memcpy(b->p + b->n, s, n);
    b->n += n;
    b->p[b->n] = '\0';
}

static void sb_printf(sb *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void sb_printf(sb *b, const char *fmt, ...)
{
    char tmp[4096];
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(tmp, sizeof tmp, fmt, ap);
    va_end(ap);
    if (n < 0 || (size_t)n >= sizeof tmp) {
        fprintf(stderr, "sb_printf: line too long\n");
        exit(1);
    }
    sb_add(b, tmp, (size_t)n);
}

/* A benchmark case: the C template and the Node template differ only in the external
 * references (`{% vault 'echo://..' %}` in C, `{{ ext_N }}` in Node). */
typedef struct bcase {
    const char *name;
    sb c_src, node_src;
    sb env;   /* JSON object: the environment */
    sb ctx;   /* JSON object: the Node context (environment + vault + ext_N) */
    int next; /* external references so far */
} bcase;

/* Both sources get the same literal text. */
static void lit(bcase *c, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void lit(bcase *c, const char *fmt, ...)
{
    char tmp[4096];
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(tmp, sizeof tmp, fmt, ap);
    va_end(ap);
    if (n < 0 || (size_t)n >= sizeof tmp) {
        fprintf(stderr, "lit: too long\n");
        exit(1);
    }
    sb_add(&c->c_src, tmp, (size_t)n);
    sb_add(&c->node_src, tmp, (size_t)n);
}

/* An external reference: served by the resolver double as "ext:<path>". */
static void ext(bcase *c, const char *path)
{
    sb_printf(&c->c_src, "{%% vault 'echo://%s' %%}", path);
    sb_printf(&c->node_src, "{{ ext_%d }}", c->next++);
}

/* ---- test doubles ---------------------------------------------------------------------------- */

#define VAULT_N 8
static const char *const VAULT_NAMES[VAULT_N] = {"api_token",      "db_password", "client_secret",
                                                 "signing_key",    "smtp_pass",   "aws_secret",
                                                 "webhook_secret", "license"};

static void vault_value(int i, char *buf, size_t n)
{
    snprintf(buf, n, "vault-%s-%08x-Zq9", VAULT_NAMES[i], 0x5eed0000u + (unsigned)i * 7919u);
}

/* The values are formatted once (vault_init), so a lookup costs what a real in-memory vault
 * costs (compare + copy into secure memory), as Nunjucks' context object holds them ready. */
static char vault_values[VAULT_N][96];
static size_t vault_lens[VAULT_N];

static void vault_init(void)
{
    for (int i = 0; i < VAULT_N; i++) {
        vault_value(i, vault_values[i], sizeof vault_values[i]);
        vault_lens[i] = strlen(vault_values[i]);
    }
}

static int vault_lookup(void *ud, const char *name, vp_buf *out, vp_error *err)
{
    (void)ud;
    (void)err;
    for (int i = 0; i < VAULT_N; i++)
        if (strcmp(name, VAULT_NAMES[i]) == 0)
            return vp__buf_set_secure(out, vault_values[i], vault_lens[i]);
    return VP_ENOTFOUND;
}

/* The value of external reference `echo://<path>`: "ext:<path>" (the path without scheme). */
static int resolve_batch(void *ud, const vp_template_ref *refs, size_t n, vp_ref_result *results)
{
    (void)ud;
    for (size_t i = 0; i < n; i++) {
        /* "ext:" + path, built in a stack buffer without printf (a fixed value "at once") */
        const char *u = refs[i].uri ? refs[i].uri : refs[i].id;
        const char *p = u + strlen(refs[i].scheme) + 3; /* past "scheme://" */
        char v[300];
        size_t l = strlen(p);
        if (l > sizeof v - 5)
            l = sizeof v - 5;
        memcpy(v, "ext:", 4);
        memcpy(v + 4, p, l);
        int rc = vp__buf_set_secure(&results[i].value, v, l + 4);
        if (rc != 0)
            return rc;
    }
    return 0;
}

/* ---- the four templates ------------------------------------------------------------------- */

static void ctx_finish(bcase *c)
{
    /* Node context = environment + vault object + ext_N values (same strings the doubles
     * return). The environment JSON is an object: splice before its closing brace. */
    sb_add(&c->ctx, c->env.p, c->env.n - 1);
    sb_add(&c->ctx, ",\"vault\":{", 10);
    for (int i = 0; i < VAULT_N; i++) {
        char v[96];
        vault_value(i, v, sizeof v);
        sb_printf(&c->ctx, "%s\"%s\":\"%s\"", i ? "," : "", VAULT_NAMES[i], v);
    }
    sb_add(&c->ctx, "}", 1);
    /* ext values: recover each path from the C source in order of appearance */
    const char *q = c->c_src.p;
    for (int k = 0; k < c->next; k++) {
        q = strstr(q, "{% vault 'echo://");
        q += strlen("{% vault 'echo://");
        const char *e = strchr(q, '\'');
        sb_printf(&c->ctx, ",\"ext_%d\":\"ext:%.*s\"", k, (int)(e - q), q);
    }
    sb_add(&c->ctx, "}", 1);
}

/* small request, ~200 bytes, 6 references */
static void make_small(bcase *c)
{
    c->name = "small";
    sb_printf(&c->env, "{\"base_url\":\"https://api.example.com\",\"tenant\":{\"id\":\"t-4711\"},"
                       "\"user\":{\"name\":\"Ada Lovelace\"},\"region\":\"eu-west-1\"}");
    lit(c, "POST {{ base_url }}/v1/orders HTTP/1.1\nAuthorization: Bearer {{ vault.api_token }}\n"
           "X-Api-Key: ");
    ext(c, "prod@keys/api#key");
    lit(c, "\nX-Tenant: {{ tenant.id }}\nContent-Type: application/json\n\n"
           "{\"user\": \"{{ user.name }}\", \"region\": \"{{ region }}\"}\n");
}

/* 10 KiB body, 50 references (40 environment, 6 local vault, 4 external) */
static void make_body(bcase *c)
{
    c->name = "body10k";
    sb_printf(&c->env, "{\"req\":{");
    for (int i = 0; i < 40; i++)
        sb_printf(&c->env, "%s\"field_%02d\":\"value number %d of the request\"", i ? "," : "", i,
                  i);
    sb_printf(&c->env, "},\"meta\":{\"trace\":\"abc-123\"}}");
    lit(c,
        "{\n  \"description\": \"A request body of about ten kilobytes with fifty references\",\n");
    for (int i = 0; i < 50; i++) {
        lit(c,
            "  \"item_%02d\": {\n    \"note\": \"Lorem ipsum dolor sit amet, consectetur "
            "adipiscing elit, sed do eiusmod tempor incididunt ut labore et dolore magna "
            "aliqua\",\n"
            "    \"value\": \"",
            i);
        if (i % 25 == 7 || i % 25 == 19)
            ext(c, i % 2 ? "prod@payments/stripe#key" : "billing/db?version=3#password");
        else if (i % 8 == 3 && i < 48)
            lit(c, "{{ vault.%s }}", VAULT_NAMES[(i / 8) % VAULT_N]);
        else
            lit(c, "{{ req.field_%02d }}", (i * 7) % 40);
        lit(c, "\"\n  }%s\n", i < 49 ? "," : "");
    }
    lit(c, "}\n");
}

/* 1 MiB mostly-literal document: a few references in a long text */
static void make_doc(bcase *c)
{
    c->name = "doc1m";
    sb_printf(&c->env, "{\"title\":\"Annual report\",\"company\":{\"name\":\"Example Ltd\","
                       "\"city\":\"Zurich\"},\"year\":2026}");
    lit(c, "# {{ title }} {{ year }} - {{ company.name }}\n\n");
    int para = 0;
    while (c->c_src.n < 1024 * 1024 - 600) {
        lit(c,
            "Paragraph %d. Sed ut perspiciatis unde omnis iste natus error sit voluptatem "
            "accusantium doloremque laudantium, totam rem aperiam, eaque ipsa quae ab illo "
            "inventore veritatis et quasi architecto beatae vitae dicta sunt explicabo. Nemo "
            "enim ipsam voluptatem quia voluptas sit aspernatur aut odit aut fugit.\n",
            para);
        if (para % 400 == 399)
            lit(c, "(filed in {{ company.city }}, key {{ vault.license }})\n");
        if (para % 1000 == 500)
            ext(c, "docs/signature#sig");
        para++;
    }
    lit(c, "\n-- {{ company.name }}\n");
}

/* 20 KiB configuration with if/elif/else, for (lists and objects, loop.*), set, filters */
static void make_config(bcase *c)
{
    c->name = "config20k";
    sb_printf(&c->env, "{\"deploy\":{\"env\":\"prod\",\"replicas\":3,\"debug\":false},"
                       "\"services\":[");
    for (int i = 0; i < 8; i++)
        sb_printf(&c->env,
                  "%s{\"name\":\"svc%d\",\"port\":%d,\"tls\":%s,\"hosts\":[\"10.0.%d.1\","
                  "\"10.0.%d.2\",\"10.0.%d.3\"],\"labels\":{\"team\":\"t%d\",\"tier\":\"%s\"}}",
                  i ? "," : "", i, 8000 + i, i % 2 ? "true" : "false", i, i, i, i % 3,
                  i % 2 ? "backend" : "frontend");
    sb_printf(&c->env, "],\"features\":{\"cache\":true,\"metrics\":true,\"beta\":false}}");
    lit(c, "# generated configuration for {{ deploy.env }}\n");
    int sec = 0;
    while (c->c_src.n < 20 * 1024 - 900) {
        lit(c, "\n## section %d\n{%% set prefix = deploy.env ~ '-s%d' %%}\n", sec, sec);
        lit(c,
            "{%% if deploy.env == 'prod' and deploy.replicas >= %d %%}\nmode = ha\n"
            "{%% elif deploy.debug %%}\nmode = debug\n{%% else %%}\nmode = single\n"
            "{%% endif %%}\n",
            sec % 5);
        lit(c,
            "{%% for s in services %%}{%% if loop.index0 %% 4 == %d %%}\n"
            "[{{ prefix }}.{{ s.name }}]\nport = {{ s.port + %d }}\n"
            "hosts = {%% for h in s.hosts %%}{{ h }}{%% if not loop.last %%},"
            "{%% endif %%}{%% endfor %%}\n"
            "{%% if s.tls %%}tls = on\n{%% else %%}tls = off\n{%% endif %%}"
            "{%% for k, v in s.labels %%}label.{{ k }} = {{ v | upper }}\n{%% endfor %%}"
            "{%% endif %%}{%% endfor %%}\n",
            sec % 4, sec);
        lit(c, "{%% for name, on in features %%}feature.{{ name }} = "
               "{%% if on %%}enabled{%% else %%}disabled{%% endif %%}\n{%% endfor %%}");
        if (sec % 3 == 0)
            lit(c, "db.password = {{ vault.db_password }}\n");
        if (sec % 6 == 1) {
            lit(c, "api.key = ");
            ext(c, sec % 12 == 1 ? "prod@config/api#key" : "config/extra#token");
            lit(c, "\n");
        }
        sec++;
    }
    lit(c, "# end ({{ services[0].name }})\n");
}

/* ---- measurement ---------------------------------------------------------------------------- */

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

typedef struct run_cfg {
    long iters;     /* > 0: exactly this many calls */
    double seconds; /* otherwise: at least this long */
    vp_render_params params;
} run_cfg;

static int one_call(const bcase *c, const vp_template *parsed, const run_cfg *cfg, vp_buf *out)
{
    vp_error err;
    vp_template *t = NULL;
    int rc;
    if (parsed == NULL) {
        rc = vp_template_parse(c->c_src.p, c->c_src.n, NULL, &t, &err);
        if (rc == 0)
            rc = vp_template_render(t, &cfg->params, out, &err);
        vp_template_free(t);
    } else {
        rc = vp_template_render(parsed, &cfg->params, out, &err);
    }
    if (rc != 0)
        fprintf(stderr, "%s: %s\n%s\n", c->name, vp_err_name(rc), err.message);
    return rc;
}

static int measure(const bcase *c, const vp_template *parsed, const run_cfg *cfg)
{
    vp_buf out = VP_BUF_INIT;
    long n = 0;
    double t0, t1;
    /* warm-up (also checks that it renders) */
    if (one_call(c, parsed, cfg, &out) != 0)
        return 1;
    t0 = now_s();
    t1 = t0;
    for (;;) {
        if (one_call(c, parsed, cfg, &out) != 0) {
            vp_buf_free(&out);
            return 1;
        }
        n++;
        if (cfg->iters > 0) {
            if (n >= cfg->iters)
                break;
        } else if ((n & 7) == 0 || n < 8) {
            t1 = now_s();
            if (t1 - t0 >= cfg->seconds)
                break;
        }
    }
    t1 = now_s();
    double dt = t1 - t0 > 1e-9 ? t1 - t0 : 1e-9;
    double rps = (double)n / dt, mbs = rps * (double)out.len / 1e6;
    const char *mode = parsed ? "render" : "parse+render";
    printf("%-10s %-13s %12.0f renders/s %10.1f MB/s  (%ld calls, %zu B out)\n", c->name, mode, rps,
           mbs, n, out.len);
    printf("RESULT %s %s %.1f %.2f\n", c->name, mode, rps, mbs);
    vp_buf_free(&out);
    return 0;
}

static int write_file(const char *dir, const char *name, const char *ext_, const char *p, size_t n)
{
    char path[4096];
    snprintf(path, sizeof path, "%s/%s.%s", dir, name, ext_);
    FILE *f = fopen(path, "wb");
    if (f == NULL || fwrite(p, 1, n, f) != n) {
        fprintf(stderr, "cannot write %s: %s\n", path, strerror(errno));
        if (f)
            fclose(f);
        return 1;
    }
    return fclose(f) == 0 ? 0 : 1;
}

static int write_data(const char *dir, const bcase *c, const run_cfg *cfg)
{
    vp_buf out = VP_BUF_INIT;
    if (one_call(c, NULL, cfg, &out) != 0)
        return 1;
    int rc = write_file(dir, c->name, "njk", c->node_src.p, c->node_src.n) ||
             write_file(dir, c->name, "json", c->ctx.p, c->ctx.n) ||
             write_file(dir, c->name, "out", out.data, out.len);
    vp_buf_free(&out);
    return rc;
}

int main(int argc, char **argv)
{
    run_cfg cfg;
    const char *data_dir = NULL, *only = NULL;
    int render_only = 0;
    memset(&cfg, 0, sizeof cfg);
    cfg.seconds = 1.0;
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--iters") == 0 && i + 1 < argc)
            cfg.iters = strtol(argv[++i], NULL, 10);
        else if (strcmp(argv[i], "--seconds") == 0 && i + 1 < argc)
            cfg.seconds = strtod(argv[++i], NULL);
        else if (strcmp(argv[i], "--write-data") == 0 && i + 1 < argc)
            data_dir = argv[++i];
        else if (strcmp(argv[i], "--only") == 0 && i + 1 < argc)
            only = argv[++i]; /* one template (for profiling) */
        else if (strcmp(argv[i], "--render-only") == 0)
            render_only = 1; /* skip parse+render (for profiling) */
        else if (strcmp(argv[i], "--parse-render-only") == 0)
            render_only = -1; /* skip render of a parsed template (for profiling) */
        else {
            fprintf(stderr,
                    "usage: %s [--iters N] [--seconds S] [--write-data DIR] [--only NAME]\n"
                    "       [--render-only | --parse-render-only]\n",
                    argv[0]);
            return 2;
        }
    }
    vault_init();
    if (vp__secmem_init() != 0) {
        fprintf(stderr, "secure memory unavailable\n");
        return 1;
    }

    static bcase cases[4];
    make_small(&cases[0]);
    make_body(&cases[1]);
    make_doc(&cases[2]);
    make_config(&cases[3]);

    vp_vault_source vault = {NULL, vault_lookup};
    vp_resolver resolver = {NULL, resolve_batch};
    int status = 0;
    for (int i = 0; i < 4 && status == 0; i++) {
        bcase *c = &cases[i];
        ctx_finish(c);
        if (only != NULL && strcmp(only, c->name) != 0)
            continue;
        vp_env *env = NULL;
        vp_template *t = NULL;
        vp_error err;
        if (vp_env_new(&env) != 0 || vp_env_add_json(env, c->env.p, c->env.n, &err) != 0) {
            fprintf(stderr, "%s: bad environment\n", c->name);
            return 1;
        }
        memset(&cfg.params, 0, sizeof cfg.params);
        cfg.params.size = sizeof cfg.params;
        cfg.params.mode = VP_RENDER_SEND;
        cfg.params.env = env;
        cfg.params.vault = &vault;
        cfg.params.resolver = &resolver;
        if (i == 0)
            printf("template   mode          throughput (output MB/s; iters=%ld)\n", cfg.iters);
        printf("# %s: %zu B template, %d external references\n", c->name, c->c_src.n, c->next);
        if (data_dir != NULL) {
            mkdir(data_dir, 0755); /* may exist */
            status = write_data(data_dir, c, &cfg);
        }
        if (status == 0 && render_only <= 0)
            status = measure(c, NULL, &cfg);
        if (status == 0 && render_only >= 0) {
            if (vp_template_parse(c->c_src.p, c->c_src.n, NULL, &t, &err) != 0) {
                fprintf(stderr, "%s: %s\n", c->name, err.message);
                status = 1;
            } else {
                status = measure(c, t, &cfg);
            }
        }
        vp_template_free(t);
        vp_env_free(env);
        free(c->c_src.p);
        free(c->node_src.p);
        free(c->env.p);
        free(c->ctx.p);
    }
    return status;
}
