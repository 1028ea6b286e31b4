/*
 * policy - reading the administrator's configuration; see policy.h.
 */
#define _GNU_SOURCE /* getauxval() */

#include "policy.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/auxv.h>
#include <sys/stat.h>

#include <json-c/json.h>

#include "vaultplug/error.h"
#include "errint.h"

#define POLICY_MAX (1024 * 1024)

void vp__policy_free(vp__policy *pol)
{
    if (pol == NULL)
        return;
    for (char **e = pol->enabled; e && *e; e++)
        free(*e);
    free(pol->enabled);
    free(pol->path);
    memset(pol, 0, sizeof(*pol));
}

static int get_bool(json_object *v, const char *path, const char *key, int *out, vp_error *err)
{
    if (!json_object_is_type(v, json_type_boolean))
        return vp__err_set(err, NULL, VP_EINVAL, "%s: \"%s\" must be true or false", path, key);
    *out = json_object_get_boolean(v);
    return 0;
}

static int get_enabled(json_object *v, const char *path, vp__policy *pol, vp_error *err)
{
    size_t n = json_object_is_type(v, json_type_array) ? json_object_array_length(v) : 0;
    for (size_t i = 0; json_object_is_type(v, json_type_array) && i < n; i++) {
        json_object *e = json_object_array_get_idx(v, i);
        if (!json_object_is_type(e, json_type_string) || json_object_get_string_len(e) == 0)
            v = NULL;
    }
    if (v == NULL || !json_object_is_type(v, json_type_array))
        return vp__err_set(err, NULL, VP_EINVAL,
                           "%s: \"enabled_providers\" must be an array of provider names, e.g. "
                           "[\"aws\", \"hashicorp\"]",
                           path);
    char **list = calloc(n + 1, sizeof(*list));
    if (list == NULL)
        return vp__err_set(err, NULL, VP_ENOMEM, NULL);
    for (size_t i = 0; i < n; i++)
        if ((list[i] = strdup(json_object_get_string(json_object_array_get_idx(v, i)))) == NULL) {
            for (size_t j = 0; j < i; j++)
                free(list[j]);
            free(list);
            return vp__err_set(err, NULL, VP_ENOMEM, NULL);
        }
    pol->enabled = list;
    return 0;
}

static int parse(vp__policy *pol, const char *path, const char *text, size_t len, vp_error *err)
{
    enum json_tokener_error jerr = json_tokener_success;
    json_object *root = NULL;
    if (len == 0) {
        root = json_object_new_object(); /* an empty file is an empty policy */
    } else {
        json_tokener *tok = json_tokener_new();
        if (tok == NULL)
            return vp__err_set(err, NULL, VP_ENOMEM, NULL);
        root = json_tokener_parse_ex(tok, text, (int)len);
        jerr = json_tokener_get_error(tok);
        if (root != NULL && json_tokener_get_parse_end(tok) < len) {
            /* trailing data after the object (only white space is fine) */
            for (size_t i = json_tokener_get_parse_end(tok); i < len; i++)
                if (strchr(" \t\r\n", text[i]) == NULL) {
                    json_object_put(root);
                    root = NULL;
                    jerr = json_tokener_error_parse_unexpected;
                    break;
                }
        }
        if (root == NULL && jerr == json_tokener_success)
            jerr = json_tokener_continue;
        json_tokener_free(tok);
    }
    if (root == NULL || !json_object_is_type(root, json_type_object)) {
        int rc = vp__err_set(err, NULL, VP_EINVAL, "%s: not a JSON object (%s)", path,
                             root == NULL
                                 ? (jerr == json_tokener_continue ? "unexpected end of data"
                                                                  : json_tokener_error_desc(jerr))
                                 : "wrong type");
        json_object_put(root);
        return rc;
    }
    int rc = 0;
    json_object_object_foreach(root, key, v)
    {
        if (rc != 0)
            break;
        if (strcmp(key, "enabled_providers") == 0)
            rc = get_enabled(v, path, pol, err);
        else if (strcmp(key, "allow_host_override") == 0)
            rc = get_bool(v, path, key, &pol->allow_host_override, err);
        else if (strcmp(key, "allow_provider_override") == 0)
            rc = get_bool(v, path, key, &pol->allow_provider_override, err);
        else if (strcmp(key, "isolate_providers") == 0)
            rc = get_bool(v, path, key, &pol->isolate_providers, err);
    }
    json_object_put(root);
    return rc;
}

int vp__policy_load(vp__policy *pol, vp_error *err)
{
    memset(pol, 0, sizeof(*pol));
    /* A setuid/setgid program must not let the invoking user pick the policy. */
    const char *env = getauxval(AT_SECURE) == 0 ? getenv("VAULTPLUG_SYSTEM_CONFIG") : NULL;
    const char *path = env && env[0] ? env : VP_SYSTEM_CONFIG;
    FILE *f = fopen(path, "rbe");
    if (f == NULL) {
        if (errno == ENOENT || errno == ENOTDIR)
            return 0;
        return vp__err_set(err, NULL, VP_EIO,
                           "cannot read the administrator's configuration %s: %s", path,
                           strerror(errno));
    }
    struct stat st;
    if (fstat(fileno(f), &st) != 0 || !S_ISREG(st.st_mode)) {
        fclose(f); /* a FIFO would block every application, a device never end */
        return vp__err_set(err, NULL, VP_EIO,
                           "cannot read the administrator's configuration %s: not a regular file",
                           path);
    }
    char *buf = malloc(POLICY_MAX + 1);
    size_t n = buf ? fread(buf, 1, POLICY_MAX + 1, f) : 0;
    int rerr = ferror(f);
    fclose(f);
    if (buf == NULL)
        return vp__err_set(err, NULL, VP_ENOMEM, NULL);
    if (rerr || n > POLICY_MAX) {
        free(buf);
        return vp__err_set(err, NULL, VP_EIO,
                           "cannot read the administrator's configuration %s: %s", path,
                           rerr ? "I/O error" : "larger than 1 MiB");
    }
    int rc = parse(pol, path, buf, n, err);
    free(buf);
    if (rc == 0 && (pol->path = strdup(path)) == NULL)
        rc = vp__err_set(err, NULL, VP_ENOMEM, NULL);
    if (rc != 0)
        vp__policy_free(pol);
    return rc;
}
