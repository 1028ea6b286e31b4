/*
 * vaultplug/template.h - the template engine (the language: vaultplug-template(5), and
 * "Templates" in guide.md, installed in share/doc/libvaultplug-dev).
 *
 * A Nunjucks-compatible subset (the language of the Insomnia API client): `{{ expr }}` with
 * dotted paths, `['key']`/`[0]` indexing and the `_` root alias; string, number, boolean and
 * none literals; `~ + - * / // % **`; filters default, upper, lower, trim, urlencode, base64,
 * b64decode, json; `{# comments #}`; `{% raw %}`; whitespace control; `{% if %}`/`{% elif %}`/
 * `{% else %}` with comparisons, `and`, `or`, `not`, `in`; `{% for %}` with `loop.*` and
 * `{% else %}`; `{% set %}`; and the `{% vault %}` tag that names an external secret, in
 * Insomnia's three-argument form or the one-argument URI form.
 *
 * Rendering is two-phase and I/O-free: the template is evaluated once with the environment and
 * the local vault, which gathers every external reference (deduplicated); the whole set goes to
 * the resolver in ONE call; the values are then spliced into the output. External values never
 * influence control flow (a tag is not an expression), so one evaluation suffices.
 *
 * Threads: a parsed vp_template and a vp_env are immutable; any number of threads may render
 * the same template with the same environment at once.
 *
 * Errors carry "line L, column C: what" followed by a one-line excerpt of the template and a
 * caret. They never contain a value from the environment, the local vault or a resolver.
 *
 * Arguments are checked at run time (VP_EINVAL), not with nonnull attributes.
 */
#ifndef VAULTPLUG_TEMPLATE_H
#define VAULTPLUG_TEMPLATE_H

#include "vaultplug/common.h"
#include "vaultplug/context.h"

#ifdef __cplusplus
extern "C" {
#endif

/* ------------------------------------------------------------------------------------------
 * Environments: a chain of JSON objects (base first); later layers win, objects merge deeply.
 * The top-level keys `vault` and `__insomnia_vault` are reserved (the local vault).
 * ---------------------------------------------------------------------------------------- */
typedef struct vp_env vp_env;

/* New empty environment. 0 or VP_ENOMEM/VP_EINVAL. */
VP_EXPORT VP_NODISCARD int vp_env_new(vp_env **out);
/* Merge one JSON object layer on top. VP_EINVAL (not JSON, not an object, reserved key: the
 * environment is then unchanged), VP_ELIMIT (over 64 MiB or nested deeper than 64), VP_ENOMEM.
 * Must not be called while the environment is being rendered. */
VP_EXPORT VP_NODISCARD int vp_env_add_json(vp_env *env, const char *json, size_t len,
                                           vp_error *err);
/* Same with the contents of a file. VP_ENOTFOUND / VP_EIO for unreadable files. */
VP_EXPORT VP_NODISCARD int vp_env_add_file(vp_env *env, const char *path, vp_error *err);
/* NULL-safe. */
VP_EXPORT void vp_env_free(vp_env *env);

/* ------------------------------------------------------------------------------------------
 * Options and limits
 * ---------------------------------------------------------------------------------------- */

/* Render modes. PREVIEW shows every secret value (local vault and external) as "••••••" and
 * does not call the resolver unless VP_TMPL_PREVIEW_RESOLVE is set. */
typedef enum vp_render_mode { VP_RENDER_SEND = 0, VP_RENDER_PREVIEW = 1 } vp_render_mode;

#define VP_TMPL_UNDEFINED_EMPTY                                 \
    (1u << 0) /* output of undefined/null renders "" (Nunjucks' \
                 default) instead of failing */
#define VP_TMPL_PREVIEW_RESOLVE                                 \
    (1u << 1) /* PREVIEW still resolves external references (to \
                 report errors); values stay masked */

#define VP_TMPL_MASK "\xe2\x80\xa2\xe2\x80\xa2\xe2\x80\xa2\xe2\x80\xa2\xe2\x80\xa2\xe2\x80\xa2"

/* Defaults of the limits (0 in vp_template_limits means "the default"). */
#define VP_TMPL_DEFAULT_MAX_TEMPLATE (16u * 1024 * 1024)
#define VP_TMPL_DEFAULT_MAX_DEPTH    64u
#define VP_TMPL_DEFAULT_MAX_OUTPUT   (64u * 1024 * 1024)
#define VP_TMPL_DEFAULT_MAX_REFS     1000u
#define VP_TMPL_DEFAULT_MAX_STEPS    100000000u /* loop iterations per render */

/* max_depth bounds nesting as the template is written: each {% if %} or {% for %} block inside
 * another, each parenthesis, `[...]` or filter argument list, and each unary not, - or + counts
 * one level (blocks and brackets together; an {% elif %} chain is not nesting). It also bounds
 * chains: one expression may apply at most 2 * max_depth operations in a row (operators,
 * filters, `.name`, `[...]`, unary operators: `{{ a ~ b ~ c }}` is 2). Both are checked while
 * parsing, so no template can exhaust the stack: at the default limits parsing and rendering
 * need less than 48 KiB of stack (x86-64, release build; a 64 KiB thread is enough), and a
 * lower max_depth lowers that. */
typedef struct vp_template_limits {
    size_t max_template; /* bytes of template source */
    size_t max_depth;    /* nesting of blocks and brackets; chains are bounded to twice this */
    size_t max_output;   /* bytes of rendered output */
    size_t max_refs;     /* distinct external references */
    size_t max_steps;    /* loop iterations (so hostile nested loops cannot hang a render) */
} vp_template_limits;

/* ------------------------------------------------------------------------------------------
 * Parsing
 * ---------------------------------------------------------------------------------------- */
typedef struct vp_template vp_template;

/* Parse src[0..len) (need not be NUL-terminated; the engine keeps its own copy). limits may be
 * NULL. On success *out owns the template (vp_template_free). Errors: VP_EINVAL (syntax,
 * nesting deeper than max_depth, a chain longer than 2 * max_depth; with line/column/excerpt),
 * VP_ELIMIT (larger than max_template), VP_ENOMEM. */
VP_EXPORT VP_NODISCARD int vp_template_parse(const char *src, size_t len,
                                             const vp_template_limits *limits, vp_template **out,
                                             vp_error *err);
VP_EXPORT void vp_template_free(vp_template *t);

/* ------------------------------------------------------------------------------------------
 * Interfaces the host (or the library's vault and resolver modules) implements
 * ---------------------------------------------------------------------------------------- */

/* The local vault, read by `{{ vault.NAME }}`. lookup copies the value of secret `name` into
 * out (use a secure buffer: vp_buf with secure storage; the engine wipes it) and returns 0, or
 * VP_ENOTFOUND (the name renders as undefined), or another status (the render fails with it;
 * put the reason in err, never the value). */
typedef struct vp_vault_source {
    void *ud;
    int (*lookup)(void *ud, const char *name, vp_buf *out, vp_error *err);
} vp_vault_source;

/* One external reference a template needs. Strings are owned by the engine. */
typedef enum vp_ref_form { VP_REF_URI = 0, VP_REF_TAG3 = 1 } vp_ref_form;
typedef struct vp_template_ref {
    vp_ref_form form;
    const char *id;         /* canonical identity (dedup key, for display): the canonical URI,
                               or for TAG3 "scheme://[cred@]?k=v&..." with the sorted config */
    const char *scheme;     /* "aws" */
    const char *credential; /* "" = the provider's default chain */
    const char *uri;       /* URI form: canonical URI (vp_fetch/vp_resolve accept it); TAG3: NULL */
    const char *config;    /* TAG3: the config object as compact JSON; URI form: NULL */
    const char *json_key;  /* URI form: the #fragment, or NULL */
    unsigned line, column; /* first use in the template */
} vp_template_ref;

/* Result slot filled by a resolver for one reference. */
typedef struct vp_ref_result {
    int status;                 /* 0, or a VP_E* status for this reference */
    vp_buf value;               /* status 0: the value (secure buffer; the engine wipes it) */
    char message[VP_ERROR_MAX]; /* status != 0: why (never a secret value) */
} vp_ref_result;

/* Resolves every reference of one render in one call (the resolver module does cache +
 * parallel fetches). results[] arrives zeroed. Return 0 when the per-item results are
 * meaningful, or a status that fails the whole render. */
typedef struct vp_resolver {
    void *ud;
    int (*resolve_batch)(void *ud, const vp_template_ref *refs, size_t n, vp_ref_result *results);
} vp_resolver;

/* ------------------------------------------------------------------------------------------
 * Rendering
 * ---------------------------------------------------------------------------------------- */
/* `size` is sizeof(vp_render_params) as the caller was compiled; like vp_options (see
 * context.h), any size from VP_RENDER_PARAMS_SIZE_1_0 up is accepted (fields beyond the caller's
 * size are zero, i.e. the defaults), a larger struct from a newer header only when the fields
 * this library does not know are zero, and a size above 64 KiB is refused. */
typedef struct vp_render_params {
    size_t size; /* sizeof(vp_render_params) */
    vp_render_mode mode;
    uint32_t flags;                   /* VP_TMPL_* */
    const vp_env *env;                /* NULL = empty environment */
    const vp_vault_source *vault;     /* NULL = no local vault (vault.NAME is undefined) */
    const vp_resolver *resolver;      /* NULL = vp_fetch() each reference in turn through ctx */
    vp_ctx *ctx;                      /* for the default resolver and the redactor; may be NULL */
    const vp_template_limits *limits; /* output/refs/steps limits; NULL = defaults */
    /* ---- end of version 1.0 (VP_RENDER_PARAMS_SIZE_1_0) ---- */
} vp_render_params;

/* The size of version 1.0's vp_render_params: the smallest `size` any 1.x library accepts. */
#define VP_RENDER_PARAMS_SIZE_1_0 (offsetof(vp_render_params, limits) + sizeof(void *))

/* Render t into out (its previous contents are wiped; the result is in secure memory and
 * NUL-terminated). On failure out is empty. Errors: VP_EINVAL (undefined value, type error,
 * bad vault tag arguments), VP_ELIMIT, VP_ENOMEM, or the status of a failed reference. */
VP_EXPORT VP_NODISCARD int vp_template_render(const vp_template *t, const vp_render_params *p,
                                              vp_buf *out, vp_error *err);

/* Parse + render in one call. */
VP_EXPORT VP_NODISCARD int vp_render(vp_ctx *ctx, const char *tmpl, size_t len, const vp_env *env,
                                     vp_render_mode mode, vp_buf *out, vp_error *err);

/* The external references a render with these parameters would need (control flow decided by
 * the environment and the local vault), deduplicated, in order of first use. Never calls the
 * resolver. Release with vp_template_refs_free. */
typedef struct vp_template_refs vp_template_refs;
VP_EXPORT VP_NODISCARD int vp_template_refs_collect(const vp_template *t, const vp_render_params *p,
                                                    vp_template_refs **out, vp_error *err);
VP_EXPORT size_t vp_template_refs_count(const vp_template_refs *refs);
VP_EXPORT const vp_template_ref *vp_template_refs_get(const vp_template_refs *refs, size_t i);
VP_EXPORT void vp_template_refs_free(vp_template_refs *refs);

#ifdef __cplusplus
}
#endif
#endif /* VAULTPLUG_TEMPLATE_H */
