/*
 * render - the public rendering entry points (vaultplug/template.h): the template engine
 * (template/) with what a context adds: the caching resolver (resolver/) for external
 * references, `{{ vault.x }}` from the vault attached with vp_ctx_use_vault(), and the context's
 * log redactor on every error message.
 */
#include <string.h>

#include <sodium.h>

#include "vaultplug/credstore.h"
#include "vaultplug/template.h"
#include "ctx.h"
#include "errint.h"
#include "log.h"
#include "resolver.h"
#include "tmpl_host.h"

static int ctx_resolve(vp_ctx *ctx, const vp_template_ref *refs, size_t n, vp_ref_result *results)
{
    return vp__resolver_template_batch(ctx, refs, n, results);
}

static void ctx_redact(vp_ctx *ctx, char *msg, size_t cap)
{
    if (ctx->log == NULL || cap == 0)
        return;
    char tmp[VP_ERROR_MAX];
    if (cap > sizeof(tmp))
        cap = sizeof(tmp);
    vp__log_redact(ctx->log, msg, strlen(msg), tmp, cap);
    memcpy(msg, tmp, cap);
    sodium_memzero(tmp, sizeof(tmp));
}

static const vp__tmpl_host ctx_host = {ctx_resolve, ctx_redact};

int vp_template_render(const vp_template *t, const vp_render_params *p, vp_buf *out, vp_error *err)
{
    return vp__template_render(t, p, &ctx_host, out, err);
}

int vp_template_refs_collect(const vp_template *t, const vp_render_params *p,
                             vp_template_refs **out, vp_error *err)
{
    return vp__template_refs_collect(t, p, &ctx_host, out, err);
}

int vp_render(vp_ctx *ctx, const char *tmpl, size_t len, const vp_env *env, vp_render_mode mode,
              vp_buf *out, vp_error *err)
{
    if (tmpl == NULL || out == NULL)
        return vp__err_set(err, NULL, VP_EINVAL, "vp_render: invalid argument");
    vp_template *t = NULL;
    int rc = vp_template_parse(tmpl, len, NULL, &t, err);
    if (rc != 0)
        return rc;
    vp_render_params p;
    memset(&p, 0, sizeof(p));
    p.size = sizeof(p);
    p.mode = mode;
    p.env = env;
    p.ctx = ctx;
    vp_vault_source vs;
    if (ctx != NULL && vp_ctx_vault_source(ctx, &vs) == 0)
        p.vault = &vs;
    rc = vp_template_render(t, &p, out, err);
    vp_template_free(t);
    return rc;
}
