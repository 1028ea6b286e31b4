/*
 * resolver_job - jobs, the resolver's unit of work: building one from a reference URI or a
 * three-argument vault tag (provider lookup, cache key, the provider's view of the reference,
 * which never carries the JSON key: the cache holds whole secrets), serving it from the cache,
 * and finishing it from a raw value (applying the JSON key) or a failure.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "vaultplug/error.h"
#include "vaultplug/resolve.h"
#include "buf.h"
#include "cache.h"
#include "ctx.h"
#include "errint.h"
#include "jsonh.h"
#include "ref.h"
#include "resolver_int.h"
#include "secmem.h"

#define KEY_SEP '\x1f' /* cannot appear in a canonical reference (it is encoded) */

void vp__job_clear(job *j)
{
    free(j->key);
    free(j->uri_nofrag);
    vp__ref_free(&j->ref);
    vp__json_free(j->config);
    for (size_t i = 0; i < j->n_params; i++) {
        free((char *)j->params[i].key);
        free((char *)j->params[i].value);
    }
    free(j->params);
    memset(j, 0, sizeof(*j));
}

static void job_fail(job *j, int status, const char *msg)
{
    j->status = status;
    j->done = 1;
    snprintf(j->msg, VP_ERROR_MAX, "%s", msg);
}

static char *make_key(const char *prov, const char *cred, const char *canon, size_t canon_len)
{
    size_t lp = strlen(prov), lc = strlen(cred);
    char *k = malloc(lp + lc + canon_len + 3);
    if (k == NULL)
        return NULL;
    memcpy(k, prov, lp);
    k[lp] = KEY_SEP;
    memcpy(k + lp + 1, cred, lc);
    k[lp + 1 + lc] = KEY_SEP;
    memcpy(k + lp + lc + 2, canon, canon_len);
    k[lp + lc + 2 + canon_len] = '\0';
    return k;
}

/* Find the loaded provider of scheme; on failure the job is done with the error. */
static int job_provider(vp__resolver *R, job *j, const char *scheme)
{
    const vp__provider *p = vp__ctx_find_scheme(R->ctx, scheme);
    if (p == NULL || p->info.state != VP_PROVIDER_LOADED) {
        vp_error e = {0, {0}};
        j->status = vp__ctx_scheme_error(R->ctx, scheme, p, &e);
        memcpy(j->msg, e.message, VP_ERROR_MAX);
        j->done = 1;
        return j->status;
    }
    j->p = p;
    j->pi = (size_t)(p - R->ctx->providers);
    return 0;
}

int vp__job_from_uri(vp__resolver *R, job *j, const char *uri)
{
    vp_error e = {0, {0}};
    int rc = vp__ref_parse(uri, strnlen(uri, VP__REF_MAX + 1), &j->ref, &e);
    if (rc != 0) {
        j->status = rc;
        memcpy(j->msg, e.message, VP_ERROR_MAX);
        j->done = 1;
        return rc;
    }
    if (job_provider(R, j, j->ref.scheme) != 0)
        return j->status;
    const char *hash = strchr(j->ref.uri, '#');
    size_t clen = hash ? (size_t)(hash - j->ref.uri) : strlen(j->ref.uri);
    j->uri_nofrag = strndup(j->ref.uri, clen);
    j->key = make_key(j->p->name, j->ref.credential, j->ref.uri, clen);
    if (j->uri_nofrag == NULL || j->key == NULL) {
        job_fail(j, VP_ENOMEM, "out of memory");
        return VP_ENOMEM;
    }
    j->cred = j->ref.credential;
    j->disp = j->uri_nofrag;
    j->json_key = j->ref.json_key;
    vp__ref_view(&j->ref, &j->view);
    /* The cached value is the whole secret: the key is applied after the cache. */
    j->view.uri = j->uri_nofrag;
    j->view.json_key = NULL;
    return 0;
}

typedef struct param_acc {
    job *j;
    int rc;
} param_acc;

static int add_param(void *ud, const char *key, size_t index, const vp_json *v)
{
    (void)index;
    param_acc *a = ud;
    job *j = a->j;
    if (j->n_params >= VP__REF_PARAMS_MAX) {
        a->rc = VP_ELIMIT;
        return 1;
    }
    size_t len = 0;
    const char *s = vp__json_string(v, &len);
    char *val;
    if (s != NULL) {
        val = strndup(s, len);
    } else {
        char *dump = vp__json_dump(v, &len);
        val = dump ? strndup(dump, len) : NULL;
        vp__secmem_free(dump);
    }
    char *k = strdup(key);
    if (val == NULL || k == NULL) {
        free(val);
        free(k);
        a->rc = VP_ENOMEM;
        return 1;
    }
    j->params[j->n_params++] = (vp_kv){k, val, len};
    return 0;
}

static int cmp_kv(const void *a, const void *b)
{
    return strcmp(((const vp_kv *)a)->key, ((const vp_kv *)b)->key);
}

/* Three-argument form: config object -> sorted params + config; path NULL. */
int vp__job_from_tag3(vp__resolver *R, job *j, const vp_template_ref *t)
{
    if (job_provider(R, j, t->scheme) != 0)
        return j->status;
    const char *cfg = t->config ? t->config : "{}";
    if (vp__json_parse(cfg, strlen(cfg), &j->config) != 0 ||
        vp__json_type(j->config) != VP_JSON_OBJECT) {
        job_fail(j, VP_EINVAL, "vault tag: the config is not a JSON object");
        return j->status;
    }
    j->params = calloc(VP__REF_PARAMS_MAX, sizeof(*j->params));
    if (j->params == NULL) {
        job_fail(j, VP_ENOMEM, "out of memory");
        return VP_ENOMEM;
    }
    param_acc acc = {j, 0};
    vp__json_foreach(j->config, add_param, &acc);
    if (acc.rc != 0) {
        job_fail(j, acc.rc, "vault tag: config has too many fields");
        return acc.rc;
    }
    qsort(j->params, j->n_params, sizeof(*j->params), cmp_kv);
    const char *cred = t->credential ? t->credential : "";
    /* The id is canonical: scheme, credential and the config with sorted keys. */
    j->key = make_key(j->p->name, cred, t->id, strlen(t->id));
    if (j->key == NULL) {
        job_fail(j, VP_ENOMEM, "out of memory");
        return VP_ENOMEM;
    }
    j->cred = cred;
    j->disp = t->id;
    j->json_key = NULL;
    j->view = (vp_ref){VP_ABI_HDR(vp_ref), t->id,       j->p->name, cred,     NULL,
                       j->params,          j->n_params, NULL,       j->config};
    return 0;
}

/* Finish j from a raw value (status 0) or a failure. */
void vp__job_finish(vp__resolver *R, job *j, int status, const char *raw, size_t len,
                    const char *msg)
{
    j->done = 1;
    j->status = status;
    if (status != 0) {
        if (msg != j->msg)
            snprintf(j->msg, VP_ERROR_MAX, "%s", msg && msg[0] ? msg : vp_strerror(status));
        return;
    }
    vp_error e = {0, {0}};
    if (j->json_key != NULL) {
        j->status = vp__fetch_extract_key(R->ctx, j->disp, j->json_key, raw, len, j->out, &e);
    } else {
        j->status = vp__buf_set_secure(j->out, raw, len);
        if (j->status != 0)
            vp__err_set(&e, NULL, j->status, NULL);
    }
    if (j->status != 0)
        memcpy(j->msg, e.message, VP_ERROR_MAX);
}

/* Serve j from the cache if possible (returns non-zero when done). */
int vp__job_try_cache(vp__resolver *R, job *j, int64_t now)
{
    vp__cache_counters *ct = vp__cache_counters_of(R->cache, j->pi);
    vp_buf raw = {0};
    int st = 0;
    /* Without a JSON key the value is the result: copy it out of the cache once, into j->out. */
    vp_buf *dst = j->json_key == NULL ? j->out : &raw;
    int r = vp__cache_get(R->cache, j->key, now, dst, &st, j->msg, VP_ERROR_MAX);
    if (r == VP__CACHE_MISS)
        return 0;
    atomic_fetch_add_explicit(&ct->hits, 1, memory_order_relaxed);
    if (r == VP__CACHE_HIT && dst == j->out) {
        j->done = 1;
        j->status = 0;
    } else if (r == VP__CACHE_HIT)
        vp__job_finish(R, j, 0, raw.data, raw.len, NULL);
    else
        vp__job_finish(R, j, st, NULL, 0, j->msg);
    vp_buf_free(&raw);
    return 1;
}
