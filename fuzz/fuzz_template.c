/*
 * fuzz_template - libFuzzer target for the template engine: parse the input as a template and
 * render it (SEND and PREVIEW) against a fixed environment, a fixed local vault and a test-double
 * resolver, with small limits so every run stays fast.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "buf.h"
#include "vaultplug/template.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static const char ENV[] =
    "{\"name\":\"Ada\",\"n\":3,\"f\":1.5,\"t\":true,\"nul\":null,"
    "\"arr\":[1,\"two\",[3,4],{\"x\":1}],\"obj\":{\"b\":1,\"a\":\"x\",\"2\":[]},"
    "\"s\":\"  h\\u00e9llo  \",\"b64\":\"aGVsbG8=\"}";

static int vault_lookup(void *ud, const char *name, vp_buf *out, vp_error *err)
{
    (void)ud;
    (void)err;
    if (strcmp(name, "token") == 0)
        return vp__buf_set_secure(out, "fuzz-secret", 11);
    return VP_ENOTFOUND;
}

static int resolve_batch(void *ud, const vp_template_ref *refs, size_t n, vp_ref_result *results)
{
    (void)ud;
    for (size_t i = 0; i < n; i++) {
        if (refs[i].id[0] == 'x') {
            results[i].status = VP_ENOTFOUND;
            continue;
        }
        if (vp__buf_set_secure(&results[i].value, refs[i].id, strlen(refs[i].id)) != 0)
            return VP_ENOMEM;
    }
    return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static vp_env *env;
    if (env == NULL) {
        vp_error e;
        if (vp_env_new(&env) != 0 || vp_env_add_json(env, ENV, strlen(ENV), &e) != 0)
            return 0;
    }
    vp_template_limits lim;
    memset(&lim, 0, sizeof(lim));
    lim.max_template = 64 * 1024;
    lim.max_output = 1024 * 1024;
    lim.max_steps = 100000;
    lim.max_refs = 50;
    /* the checks below only hold when the input does not spell the secret itself */
    int literal = 0;
    for (size_t i = 0; i + 11 <= size && !literal; i++)
        literal = memcmp(data + i, "fuzz-secret", 11) == 0;
    vp_template *t = NULL;
    vp_error err;
    if (vp_template_parse((const char *)data, size, &lim, &t, &err) != 0)
        return 0;
    vp_vault_source vs = {NULL, vault_lookup};
    vp_resolver rs = {NULL, resolve_batch};
    for (int mode = 0; mode < 2; mode++) {
        vp_render_params p;
        memset(&p, 0, sizeof(p));
        p.size = sizeof(p);
        p.mode = mode ? VP_RENDER_PREVIEW : VP_RENDER_SEND;
        p.flags = mode ? VP_TMPL_UNDEFINED_EMPTY : 0;
        p.env = env;
        p.vault = &vs;
        p.resolver = &rs;
        p.limits = &lim;
        vp_buf out = VP_BUF_INIT;
        int rc = vp_template_render(t, &p, &out, &err);
        /* the engine never puts a secret into an error message */
        if (!literal && rc != 0 && strstr(err.message, "fuzz-secret") != NULL)
            __builtin_trap();
        vp_buf_free(&out);
    }
    /* Reuse: a template keeps its render state and sizes the output from the last render, so
     * rendering again into the same buffer must give the same bytes and leave nothing behind
     * the end of the output. */
    {
        vp_render_params p;
        memset(&p, 0, sizeof(p));
        p.size = sizeof(p);
        p.mode = VP_RENDER_SEND;
        p.env = env;
        p.vault = &vs;
        p.resolver = &rs;
        p.limits = &lim;
        vp_buf out = VP_BUF_INIT, first = VP_BUF_INIT;
        int rc = vp_template_render(t, &p, &out, &err);
        if (rc == 0 && vp__buf_append(&first, out.data, out.len) != 0)
            rc = -1;
        for (int k = 0; k < 2 && rc == 0; k++) {
            if (vp_template_render(t, &p, &out, &err) != 0 || out.len != first.len ||
                memcmp(out.data, first.data, out.len) != 0)
                __builtin_trap();
            for (size_t i = out.len; i < out.cap; i++)
                if (out.data[i] != 0)
                    __builtin_trap();
        }
        vp_buf_free(&out);
        vp_buf_free(&first);
    }
    vp_template_free(t);
    return 0;
}
