/*
 * mock_aws_seed.c - seeding the AWS mock from JSON, the environment it prints for a shell, and
 * its accessors and counters.
 */
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include <json-c/json.h>
#include <openssl/rand.h>

#define MOCK_AWS_INTERNAL
#include "mock_aws.h"

/* Messages and echoed identifiers are cut to their buffers on purpose. */
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC diagnostic ignored "-Wformat-truncation"
#endif

static const char *const count_names[C_N] = {
    "GetSecretValue", "BatchGetSecretValue", "GetCallerIdentity",
    "AssumeRole",     "GetRoleCredentials",  "imds-token",
    "imds-role",      "imds-creds",          "ecs",
    "sig-rejected",   "ListSecrets"};

static const char *jget(json_object *o, const char *k)
{
    json_object *v = NULL;
    if (!json_object_object_get_ex(o, k, &v) || !json_object_is_type(v, json_type_string))
        return NULL;
    return json_object_get_string(v);
}

static int jint(json_object *o, const char *k, int dflt)
{
    json_object *v = NULL;
    return json_object_object_get_ex(o, k, &v) ? json_object_get_int(v) : dflt;
}

static int seed_version(mver *v, json_object *o, const char *dflt_id, int current)
{
    const char *id = jget(o, "id");
    snprintf(v->id, sizeof(v->id), "%s", id ? id : dflt_id);
    const char *s = jget(o, "string"), *b = jget(o, "binary");
    if ((s == NULL) == (b == NULL))
        return -1;
    v->binary = b != NULL;
    v->value = strdup(s ? s : b);
    json_object *st = NULL;
    if (json_object_object_get_ex(o, "stages", &st)) {
        for (size_t i = 0; i < json_object_array_length(st) && v->n_stages < MAX_STAGES; i++)
            snprintf(v->stages[v->n_stages++], sizeof(v->stages[0]), "%s",
                     json_object_get_string(json_object_array_get_idx(st, i)));
    } else if (current) {
        snprintf(v->stages[v->n_stages++], sizeof(v->stages[0]), "AWSCURRENT");
    }
    return v->value ? 0 : -1;
}

int mock_aws_seed_json(mock_aws *m, const char *json, char *err, size_t errcap)
{
    json_object *root = json_tokener_parse(json);
    if (root == NULL || !json_object_is_type(root, json_type_object)) {
        json_object_put(root);
        snprintf(err, errcap, "seed is not a JSON object");
        return -1;
    }
    int rc = 0;
    pthread_mutex_lock(&m->lock);
    const char *s;
    if ((s = jget(root, "region")) != NULL)
        snprintf(m->region, sizeof(m->region), "%s", s);
    if ((s = jget(root, "account")) != NULL)
        snprintf(m->account, sizeof(m->account), "%s", s);
    m->cred_ttl = jint(root, "cred_ttl_s", m->cred_ttl);
    m->page = jint(root, "batch_page_size", m->page);
    m->list_page = jint(root, "list_page_size", m->list_page);
    if (m->list_page < 1)
        m->list_page = 1;
    if (m->page < 1)
        m->page = 1;
    if ((s = jget(root, "imds_role")) != NULL)
        snprintf(m->imds_role, sizeof(m->imds_role), "%s", s);
    if ((s = jget(root, "ecs_token")) != NULL)
        snprintf(m->ecs_token, sizeof(m->ecs_token), "%s", s);
    json_object *arr = NULL;
    if (json_object_object_get_ex(root, "keys", &arr))
        for (size_t i = 0; i < json_object_array_length(arr); i++) {
            json_object *o = json_object_array_get_idx(arr, i);
            const char *ak = jget(o, "access_key_id"), *sk = jget(o, "secret_access_key");
            if (ak == NULL || sk == NULL || m->n_keys >= MAX_KEYS) {
                snprintf(err, errcap, "keys[%zu]: access_key_id and secret_access_key needed", i);
                rc = -1;
                break;
            }
            /* Seeded keys stay below the issued ones (which get recycled). */
            if (m->n_keys > m->n_seed_keys)
                m->n_keys = m->n_seed_keys;
            mkey *k = &m->keys[m->n_keys++];
            m->n_seed_keys = m->n_keys;
            memset(k, 0, sizeof(*k));
            snprintf(k->akid, sizeof(k->akid), "%s", ak);
            snprintf(k->secret, sizeof(k->secret), "%s", sk);
            if ((s = jget(o, "session_token")) != NULL)
                snprintf(k->token, sizeof(k->token), "%s", s);
            s = jget(o, "arn");
            snprintf(k->arn, sizeof(k->arn), "%s",
                     s ? s : "arn:aws:iam::123456789012:user/vaultplug-test");
            k->expired = jint(o, "expired", 0);
            k->no_batch = jint(o, "no_batch", 0);
            k->no_list = jint(o, "no_list", 0);
            json_object *d = NULL;
            if (json_object_object_get_ex(o, "deny", &d))
                for (size_t j = 0; j < json_object_array_length(d) && k->n_deny < MAX_LIST; j++)
                    snprintf(k->deny[k->n_deny++], STR, "%s",
                             json_object_get_string(json_object_array_get_idx(d, j)));
        }
    if (rc == 0 && json_object_object_get_ex(root, "secrets", &arr))
        for (size_t i = 0; i < json_object_array_length(arr); i++) {
            json_object *o = json_object_array_get_idx(arr, i);
            const char *name = jget(o, "name");
            if (name == NULL || m->n_secrets >= MAX_SECRETS) {
                snprintf(err, errcap, "secrets[%zu]: name needed", i);
                rc = -1;
                break;
            }
            msecret *sc = &m->secrets[m->n_secrets++];
            memset(sc, 0, sizeof(*sc));
            snprintf(sc->name, sizeof(sc->name), "%s", name);
            if ((s = jget(o, "arn")) != NULL) {
                snprintf(sc->arn, sizeof(sc->arn), "%s", s);
                char acct[40];
                sc->foreign = sscanf(s, "arn:aws:secretsmanager:%*[^:]:%39[^:]", acct) == 1 &&
                              strcmp(acct, m->account) != 0;
            } else {
                char suffix[8];
                mock_aws__rand_str(suffix, 6,
                                   "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ");
                snprintf(sc->arn, sizeof(sc->arn), "arn:aws:secretsmanager:%s:%s:secret:%s-%s",
                         m->region, m->account, name, suffix);
            }
            if ((s = jget(o, "error")) != NULL)
                snprintf(sc->error, sizeof(sc->error), "%s", s);
            sc->throttle = jint(o, "throttle", 0);
            sc->latency_ms = (unsigned)jint(o, "latency_ms", 0);
            json_object *vs = NULL;
            if (json_object_object_get_ex(o, "versions", &vs)) {
                for (size_t j = 0; j < json_object_array_length(vs) && sc->n_vers < MAX_VERS; j++) {
                    char dflt[64];
                    snprintf(dflt, sizeof(dflt), "a1b2c3d4-0000-4000-8000-%012zu", j);
                    if (seed_version(&sc->vers[sc->n_vers++], json_object_array_get_idx(vs, j),
                                     dflt, 0) != 0) {
                        snprintf(err, errcap, "secrets[%zu].versions[%zu]: string or binary", i, j);
                        rc = -1;
                    }
                }
            } else if (jget(o, "string") || jget(o, "binary")) {
                if (seed_version(&sc->vers[sc->n_vers++], o, "a1b2c3d4-1111-4000-8000-000000000001",
                                 1) != 0) {
                    snprintf(err, errcap, "secrets[%zu]: string or binary", i);
                    rc = -1;
                }
            }
        }
    if (rc == 0 && json_object_object_get_ex(root, "roles", &arr))
        for (size_t i = 0; i < json_object_array_length(arr) && m->n_roles < MAX_LIST; i++)
            snprintf(m->roles[m->n_roles++], STR, "%s",
                     json_object_get_string(json_object_array_get_idx(arr, i)));
    if (rc == 0 && json_object_object_get_ex(root, "sso", &arr))
        for (size_t i = 0; i < json_object_array_length(arr) && m->n_sso < MAX_LIST; i++) {
            json_object *o = json_object_array_get_idx(arr, i);
            msso *e = &m->sso[m->n_sso++];
            snprintf(e->token, sizeof(e->token), "%s", jget(o, "token") ? jget(o, "token") : "");
            snprintf(e->account, sizeof(e->account), "%s",
                     jget(o, "account_id") ? jget(o, "account_id") : "");
            snprintf(e->role, sizeof(e->role), "%s",
                     jget(o, "role_name") ? jget(o, "role_name") : "");
        }
    pthread_mutex_unlock(&m->lock);
    json_object_put(root);
    return rc;
}

void mock_aws_print_env(const mock_aws *m, FILE *out)
{
    fprintf(out, "export AWS_ENDPOINT_URL=%s\n", mc_url(m->api));
    fprintf(out, "export AWS_REGION=%s\n", m->region);
    if (mc_ca_file(m->api) != NULL)
        fprintf(out, "export AWS_CA_BUNDLE=%s\n", mc_ca_file(m->api));
    fprintf(out, "export AWS_EC2_METADATA_SERVICE_ENDPOINT=%s\n", mc_url(m->meta));
    if (m->n_seed_keys > 0) {
        fprintf(out, "export AWS_ACCESS_KEY_ID=%s\n", m->keys[0].akid);
        fprintf(out, "export AWS_SECRET_ACCESS_KEY=%s\n", m->keys[0].secret);
        if (m->keys[0].token[0])
            fprintf(out, "export AWS_SESSION_TOKEN=%s\n", m->keys[0].token);
    }
}

const char *mock_aws_url(const mock_aws *m)
{
    return mc_url(m->api);
}

const char *mock_aws_meta_url(const mock_aws *m)
{
    return mc_url(m->meta);
}

const char *mock_aws_ca_file(const mock_aws *m)
{
    return mc_ca_file(m->api);
}

mc_server *mock_aws_server(mock_aws *m)
{
    return m->api;
}

mc_server *mock_aws_meta_server(mock_aws *m)
{
    return m->meta;
}

uint64_t mock_aws_count(mock_aws *m, const char *what)
{
    for (int i = 0; i < C_N; i++)
        if (strcmp(count_names[i], what) == 0)
            return atomic_load(&m->counts[i]);
    return 0;
}

void mock_aws_reset_counts(mock_aws *m)
{
    for (int i = 0; i < C_N; i++)
        atomic_store(&m->counts[i], 0);
}

void mock_aws_set_cred_ttl(mock_aws *m, int seconds)
{
    pthread_mutex_lock(&m->lock);
    m->cred_ttl = seconds;
    pthread_mutex_unlock(&m->lock);
}
