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
#include "ref.h"
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

    vp_kv *kv = calloc(n_options ? n_options : 1, sizeof(*kv));
    if (kv == NULL)
        return vp__err_set(err, NULL, VP_ENOMEM, NULL);
    for (size_t i = 0; i < n_options; i++)
        kv[i] = (vp_kv){options[i].key, options[i].value, strlen(options[i].value)};

    vp_host_ctx *hc = (vp_host_ctx *)&p->hc;
    vp_call call;
    vp__call_init(&call, hc, timeout_ms ? timeout_ms : LOGIN_DEFAULT_MS);
    vp_cred_out co;
    vp__cred_out_init(&co);
    vp__fault *fs = vp__fault_enter(hc->fault);
    int rc = vp_status_normalize(p->table->login(p->mod, kv, n_options, &call, &co));
    vp__fault_leave(fs);
    free(kv);
    if (rc != 0) {
        vp__cred_out_clear(&co);
        return vp__provider_error(ctx, p, &call, rc, err);
    }

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
