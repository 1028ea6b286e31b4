/*
 * clifault - a test-only provider for the CLI's exit-status tests: the reference's first path
 * segment picks the failure class a real provider reports, so each documented exit status can
 * be produced through the real loader and resolver:
 *
 *   clifault://ratelimit/x  VP_ERATELIMIT (Retry-After 1 ms)   clifault://proto/x  VP_EPROTO
 *   clifault://unavail/x    VP_EUNAVAIL                        anything else       "ok:<path>"
 *   clifault://dumpable/x   "dumpable=N": prctl(PR_GET_DUMPABLE) of the process loading it
 */
#include <string.h>
#ifdef __linux__
#include <sys/prctl.h>
#endif

#include <vaultplug/provider.h>

typedef struct fault_mod {
    const vp_host *host;
} fault_mod;

static int fault_init(const vp_host *host, vp_host_ctx *hc, void **mod)
{
    (void)hc;
    fault_mod *m = host->calloc(1, sizeof(*m));
    if (m == NULL)
        return VP_ENOMEM;
    m->host = host;
    *mod = m;
    return VP_OK;
}

static int fault_configure(void *mod, const vp_cred *cred, vp_call *call, void **inst)
{
    (void)cred;
    (void)call;
    *inst = mod; /* stateless: the module context serves every credential */
    return VP_OK;
}

static int starts(const char *s, const char *p)
{
    return strncmp(s, p, strlen(p)) == 0;
}

static int fault_fetch(void *inst, const vp_ref *ref, vp_call *call, vp_secret_out *out)
{
    const vp_host *h = ((fault_mod *)inst)->host;
    const char *path = ref->path ? ref->path : "";
    if (starts(path, "ratelimit/")) {
        h->call_set_retry_after(call, 1);
        return h->fail(call, VP_ERATELIMIT, "clifault: throttled");
    }
    if (starts(path, "proto/"))
        return h->fail(call, VP_EPROTO, "clifault: malformed response");
    if (starts(path, "unavail/"))
        return h->fail(call, VP_EUNAVAIL, "clifault: service unavailable");
    if (starts(path, "dumpable/")) {
#ifdef __linux__
        char d[] = "dumpable=?";
        int v = prctl(PR_GET_DUMPABLE, 0, 0, 0, 0);
        d[9] = (char)(v >= 0 && v <= 9 ? '0' + v : '?');
        return h->secret_set(out, d, sizeof(d) - 1);
#else
        return h->fail(call, VP_ENOTSUP, "clifault: PR_GET_DUMPABLE is Linux only");
#endif
    }
    char buf[512];
    size_t n = strlen(path);
    if (n > sizeof(buf) - 4)
        return h->fail(call, VP_ELIMIT, "clifault: path too long");
    memcpy(buf, "ok:", 3);
    memcpy(buf + 3, path, n);
    return h->secret_set(out, buf, n + 3);
}

static int fault_validate(void *inst, vp_call *call)
{
    (void)inst;
    (void)call;
    return VP_OK;
}

static void fault_destroy(void *inst)
{
    (void)inst;
}

static void fault_teardown(void *mod)
{
    fault_mod *m = mod;
    if (m != NULL)
        m->host->free(m);
}

static const char *const fault_schemes[] = {"clifault", NULL};

static const vp_provider fault_provider = {
    .hdr = VP_ABI_HDR(vp_provider),
    .name = "clifault",
    .version = "1.0.0",
    .description = "CLI test provider: failure classes by path",
    .schemes = fault_schemes,
    .caps = VP_CAP_THREADSAFE,
    .cred_types = NULL,
    .init = fault_init,
    .configure = fault_configure,
    .fetch = fault_fetch,
    .validate = fault_validate,
    .destroy = fault_destroy,
    .teardown = fault_teardown,
};

VP_PROVIDER_ENTRY(fault_provider)
