/*
 * tmpl_env - environments (vaultplug/template.h): a chain of JSON objects merged deeply (later
 * wins), loaded from strings or files. Every state of an environment has its own generation,
 * which renders use to remember lookups (tmpl_eval.c).
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#include "buf.h"
#include "errint.h"
#include "tmpl_int.h"

#define ENV_MAX_BYTES (64u * 1024 * 1024)

/* Generations are never reused, so a memo entry can never match a later environment. */
static _Atomic uint64_t env_gen_next = 1;

static uint64_t env_gen_new(void)
{
    return atomic_fetch_add(&env_gen_next, 1);
}

int vp_env_new(vp_env **out)
{
    if (out == NULL)
        return VP_EINVAL;
    *out = NULL;
    vp_env *e = calloc(1, sizeof(*e));
    if (e == NULL)
        return VP_ENOMEM;
    e->root = json_object_new_object();
    if (e->root == NULL) {
        free(e);
        return VP_ENOMEM;
    }
    e->gen = env_gen_new();
    *out = e;
    return 0;
}

void vp_env_free(vp_env *env)
{
    if (env == NULL)
        return;
    json_object_put(env->root);
    free(env);
}

/* Deep merge src into dst (later wins; objects merge, everything else replaces). */
static int merge(json_object *dst, json_object *src, int depth)
{
    if (depth > VP__TMPL_JSON_DEPTH)
        return VP_ELIMIT;
    json_object_object_foreach(src, key, val)
    {
        json_object *cur = NULL;
        if (json_object_get_type(val) == json_type_object &&
            json_object_object_get_ex(dst, key, &cur) &&
            json_object_get_type(cur) == json_type_object) {
            int rc = merge(cur, val, depth + 1);
            if (rc != 0)
                return rc;
            continue;
        }
        if (json_object_object_add(dst, key, json_object_get(val)) != 0)
            return VP_ENOMEM;
    }
    return 0;
}

int vp_env_add_json(vp_env *env, const char *json, size_t len, vp_error *err)
{
    if (env == NULL || (json == NULL && len > 0))
        return vp__err_set(err, NULL, VP_EINVAL, "vp_env_add_json: invalid argument");
    if (len > ENV_MAX_BYTES)
        return vp__err_set(err, NULL, VP_ELIMIT, "environment larger than %u bytes", ENV_MAX_BYTES);
    json_tokener *tk = json_tokener_new_ex(VP__TMPL_JSON_DEPTH);
    if (tk == NULL)
        return vp__err_set(err, NULL, VP_ENOMEM, NULL);
    json_object *obj = json_tokener_parse_ex(tk, json, (int)len);
    enum json_tokener_error jerr = json_tokener_get_error(tk);
    size_t used = json_tokener_get_parse_end(tk);
    json_tokener_free(tk);
    if (obj == NULL || jerr != json_tokener_success) {
        json_object_put(obj);
        if (jerr == json_tokener_error_depth)
            return vp__err_set(err, NULL, VP_ELIMIT, "environment nested deeper than %d",
                               VP__TMPL_JSON_DEPTH);
        /* The position only: an environment may hold values a user would rather not log. */
        return vp__err_set(err, NULL, VP_EINVAL, "environment is not valid JSON (near byte %zu)",
                           used);
    }
    for (size_t i = used; i < len; i++) {
        if (json[i] != ' ' && json[i] != '\n' && json[i] != '\r' && json[i] != '\t') {
            json_object_put(obj);
            return vp__err_set(err, NULL, VP_EINVAL,
                               "environment has trailing data after the JSON value (byte %zu)", i);
        }
    }
    if (json_object_get_type(obj) != json_type_object) {
        json_object_put(obj);
        return vp__err_set(err, NULL, VP_EINVAL, "an environment must be a JSON object");
    }
    static const char *const reserved[] = {"vault", "__insomnia_vault"};
    for (size_t i = 0; i < 2; i++) {
        if (json_object_object_get_ex(obj, reserved[i], NULL)) {
            json_object_put(obj);
            return vp__err_set(err, NULL, VP_EINVAL,
                               "the environment defines '%s', which is reserved for the local "
                               "vault",
                               reserved[i]);
        }
    }
    /* Merge into a copy so a failure leaves the environment unchanged. */
    json_object *copy = NULL;
    if (json_object_deep_copy(env->root, &copy, NULL) != 0) {
        json_object_put(obj);
        return vp__err_set(err, NULL, VP_ENOMEM, NULL);
    }
    int rc = merge(copy, obj, 0);
    json_object_put(obj);
    if (rc != 0) {
        json_object_put(copy);
        return vp__err_set(err, NULL, rc, rc == VP_ELIMIT ? "environment nested too deeply" : NULL);
    }
    json_object_put(env->root);
    env->root = copy;
    env->gen = env_gen_new();
    return 0;
}

int vp_env_add_file(vp_env *env, const char *path, vp_error *err)
{
    if (env == NULL || path == NULL)
        return vp__err_set(err, NULL, VP_EINVAL, "vp_env_add_file: invalid argument");
    FILE *f = fopen(path, "rb");
    if (f == NULL) {
        int e = errno;
        return vp__err_set(err, NULL, e == ENOENT ? VP_ENOTFOUND : VP_EIO,
                           "cannot open environment file '%s': %s", path, strerror(e));
    }
    vp_buf b = VP_BUF_INIT;
    char chunk[65536];
    size_t n;
    int rc = 0;
    while ((n = fread(chunk, 1, sizeof(chunk), f)) > 0) {
        if (b.len + n > ENV_MAX_BYTES) {
            rc = vp__err_set(err, NULL, VP_ELIMIT, "environment file '%s' is too large", path);
            break;
        }
        if ((rc = vp__buf_append(&b, chunk, n)) != 0) {
            rc = vp__err_set(err, NULL, rc, NULL);
            break;
        }
    }
    if (rc == 0 && ferror(f))
        rc = vp__err_set(err, NULL, VP_EIO, "cannot read environment file '%s'", path);
    fclose(f);
    sodium_memzero(chunk, sizeof(chunk));
    if (rc == 0)
        rc = vp_env_add_json(env, b.data ? b.data : "", b.len, err);
    vp_buf_free(&b);
    return rc;
}
