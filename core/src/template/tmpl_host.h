/*
 * tmpl_host - what the layer above the template engine (api/render.c) lends it for a render
 * with a context: the engine itself only sees vp_ctx as an opaque pointer.
 */
#ifndef VP_TMPL_HOST_H
#define VP_TMPL_HOST_H

#include <stddef.h>

#include "vaultplug/template.h"

typedef struct vp__tmpl_host {
    /* Resolve the render's external references when params name no resolver (the context's
     * caching resolver). NULL: every reference fails (no context). */
    int (*resolve)(vp_ctx *ctx, const vp_template_ref *refs, size_t n, vp_ref_result *results);
    /* Redact msg (a NUL-terminated string in a buffer of cap bytes) in place with the context's
     * redactor before it leaves the library. NULL: nothing more than the engine's own scrub. */
    void (*redact)(vp_ctx *ctx, char *msg, size_t cap);
} vp__tmpl_host;

/* vp_template_render and vp_template_refs_collect with the context services of host (NULL: no
 * context services). */
int vp__template_render(const vp_template *t, const vp_render_params *p, const vp__tmpl_host *host,
                        vp_buf *out, vp_error *err);
int vp__template_refs_collect(const vp_template *t, const vp_render_params *p,
                              const vp__tmpl_host *host, vp_template_refs **out, vp_error *err);

#endif
