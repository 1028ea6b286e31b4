/* login: interactive sign-in through a provider's login() entry point (vaultplug/login.h). The
 * provider runs the flow (browser or device code) with the context's open_url/notify hooks; the
 * credential it describes is registered in the context and sealed in the attached vault's
 * credential store (credstore.c does both under one lock). */
#include <stdlib.h>
#include <string.h>

#include "vaultplug/login.h"
#include "call.h"
#include "credstore_int.h"
#include "ctx.h"
#include "errint.h"
#include "fault.h"
#include "guard.h"
#include "ref.h"
#include "secmem.h"
#include "secret.h"

#define LOGIN_DEFAULT_MS  (10u * 60 * 1000)
#define LOGIN_OPTIONS_MAX 32
#define LOGIN_VALUE_MAX   (64u * 1024)

static const char *field_value(const vp_cred_out *co, const char *key)
{
    for (size_t i = 0; i < co->n; i++)
        if (strcmp(co->fields[i].key, key) == 0 && !(co->fields[i].flags & VP_FIELD_SECRET))
            return co->fields[i].value;
    return NULL;
}

static int fill_result(vp_login_result *res, const char *provider, const char *name,
                       const vp_cred_out *co, int stored)
{
    const char *acc = field_value(co, "account");
    if (acc == NULL)
        acc = field_value(co, "username");
    res->provider = strdup(provider);
    res->name = strdup(name);
    res->type = strdup(co->type ? co->type : "");
    res->account = acc ? strdup(acc) : NULL;
    res->stored = stored;
    if (res->provider == NULL || res->name == NULL || res->type == NULL ||
        (acc != NULL && res->account == NULL)) {
        vp_login_result_free(res);
        return VP_ENOMEM;
    }
    return 0;
}

/* login() on a runner (guard.h): the job owns copies of the options, so a sign-in its caller
 * gave up on reads nothing of the caller's. */
typedef struct login_job {
    vp__guarded g;
    const vp__provider *p;
    vp_kv *kv;
    size_t n;
    vp_call call;
    vp_cred_out co;
    int rc;
} login_job;

static void login_job_free(login_job *j)
{
    for (size_t i = 0; j->kv && i < j->n; i++) {
        free((char *)j->kv[i].key);
        vp__secmem_free((char *)j->kv[i].value);
    }
    free(j->kv);
    vp__cred_out_clear(&j->co);
    free(j);
}

static void login_run(vp__guarded *g)
{
    login_job *j = (login_job *)g;
    vp__fault *fs = vp__fault_enter(j->p->hc.fault);
    j->rc = j->p->table->login(j->p->mod, j->kv, j->n, &j->call, &j->co);
    vp__fault_leave(fs);
}

static void login_orphan(vp__guarded *g)
{
    login_job_free((login_job *)g);
}

int vp_login(vp_ctx *ctx, const char *provider, const char *name, const vp_field *options,
             size_t n_options, uint32_t timeout_ms, vp_login_result *result, vp_error *err)
{
    vp_error_clear(err);
    if (result != NULL)
        memset(result, 0, sizeof(*result));
    if (!vp__cred_name_valid(name))
        return vp__err_set(err, NULL, VP_EINVAL,
                           "invalid credential name (must match [A-Za-z0-9_.-]{1,64})");
    if (n_options > LOGIN_OPTIONS_MAX || (n_options > 0 && options == NULL))
        return vp__err_set(err, NULL, VP_EINVAL, "bad option list (at most %d options)",
                           LOGIN_OPTIONS_MAX);
    for (size_t i = 0; i < n_options; i++)
        if (options[i].key == NULL || options[i].key[0] == '\0' || options[i].value == NULL ||
            strlen(options[i].value) > LOGIN_VALUE_MAX)
            return vp__err_set(err, NULL, VP_EINVAL, "option %zu has no key or a bad value", i);

    const vp__provider *p = vp__ctx_find_provider(ctx, provider);
    if (p == NULL)
        return vp__err_set(err, NULL, VP_ENOTFOUND, "unknown provider '%.64s'", provider);
    if (p->info.state == VP_PROVIDER_FAILED)
        return vp__err_set(err, ctx->log, VP_EUNAVAIL, "provider '%s' is unavailable: %s", p->name,
                           p->reason);
    if (p->info.state != VP_PROVIDER_LOADED)
        return vp__err_set(err, NULL, VP_EUNAVAIL, "provider '%s' is not enabled", p->name);
    if (!(p->table->caps & VP_CAP_INTERACTIVE_LOGIN) || p->table->login == NULL)
        return vp__err_set(err, NULL, VP_ENOTSUP, "provider '%s' has no interactive sign-in",
                           p->name);

    if (p->hc.open_url == NULL && p->hc.notify == NULL)
        return vp__err_set(err, NULL, VP_ENOTSUP,
                           "sign-in needs a way to show the user a URL or code: set "
                           "vp_options.open_url or vp_options.notify");

    int rc = vp__provider_ready_local(ctx, p, err); /* sign-in runs in this process */
    if (rc != 0)
        return rc;
    login_job *j = calloc(1, sizeof(*j));
    if (j == NULL)
        return vp__err_set(err, NULL, VP_ENOMEM, NULL);
    j->g.run = login_run;
    j->g.orphan = login_orphan;
    j->p = p;
    j->n = n_options;
    vp__cred_out_init(&j->co);
    j->kv = calloc(n_options ? n_options : 1, sizeof(*j->kv));
    rc = j->kv != NULL ? 0 : VP_ENOMEM;
    for (size_t i = 0; rc == 0 && i < n_options; i++) {
        size_t len = strlen(options[i].value);
        char *k = strdup(options[i].key);
        char *v = vp__secmem_strndup(options[i].value, len);
        j->kv[i] = (vp_kv){k, v, len};
        if (k == NULL || v == NULL)
            rc = VP_ENOMEM;
    }
    if (rc != 0) {
        login_job_free(j);
        return vp__err_set(err, NULL, VP_ENOMEM, NULL);
    }

    vp_host_ctx *hc = (vp_host_ctx *)&p->hc;
    vp__call_init(&j->call, hc, timeout_ms ? timeout_ms : LOGIN_DEFAULT_MS);
    rc = vp__guard_call(ctx->runners, &j->g, vp__provider_wait_ms(p, j->call.deadline_ms));
    if (rc == VP_ETIMEDOUT)
        return vp__provider_gave_up(ctx, p, "login", err); /* j is the runner's now */
    if (rc != 0) {
        login_job_free(j);
        return vp__err_set(err, NULL, rc, "%s: cannot start a thread for the sign-in", p->name);
    }
    rc = vp_status_normalize(j->rc);
    if (rc != 0) {
        rc = vp__provider_error(ctx, p, &j->call, rc, err);
        login_job_free(j);
        return rc;
    }
    vp_cred_out co = j->co; /* moved out of the job */
    vp__cred_out_init(&j->co);
    login_job_free(j);

    vp_field *fl = calloc(co.n ? co.n : 1, sizeof(*fl));
    if (fl == NULL) {
        vp__cred_out_clear(&co);
        return vp__err_set(err, NULL, VP_ENOMEM, NULL);
    }
    for (size_t i = 0; i < co.n; i++) {
        /* Stored credentials are C strings (record format, vp_cred_spec). */
        if (memchr(co.fields[i].value, 0, co.fields[i].len) != NULL) {
            free(fl);
            vp__cred_out_clear(&co);
            return vp__err_set(err, NULL, VP_EPROTO,
                               "%s: sign-in produced field '%s' with a NUL byte", p->name,
                               co.fields[i].key);
        }
        fl[i] = (vp_field){co.fields[i].key, co.fields[i].value};
    }
    vp_cred_spec spec = {name, co.type ? co.type : "", fl, co.n};
    int stored = 0;
    rc = vp__credstore_login_save(ctx, p->name, &spec, &stored, err);
    free(fl);
    if (rc == 0 && result != NULL && fill_result(result, p->name, name, &co, stored) != 0)
        rc = vp__err_set(err, NULL, VP_ENOMEM, NULL);
    vp__cred_out_clear(&co);
    return rc;
}

void vp_login_result_free(vp_login_result *result)
{
    if (result == NULL)
        return;
    free(result->provider);
    free(result->name);
    free(result->type);
    free(result->account);
    memset(result, 0, sizeof(*result));
}
