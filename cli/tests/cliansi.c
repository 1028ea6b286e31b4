/*
 * cliansi - a test-only provider whose every string tries to drive the terminal: its version,
 * its description, its log line and its failure message carry an OSC title sequence, a clear
 * screen and a forged line (CR LF "fake line"). The CLI must show all of them escaped.
 *
 *   cliansi://fail/x  fails (VP_EUNAVAIL) with that message
 *   cliansi://huge/x  hands back a value one byte over the host's cap (16 MiB)
 *   anything else     "ok"
 */
#include <string.h>

#include <vaultplug/provider.h>

#define EVIL "\033]0;pwned\007\033[2J\r\nfake line"

typedef struct ansi_mod {
    const vp_host *host;
    vp_host_ctx *hc;
} ansi_mod;

static int ansi_init(const vp_host *host, vp_host_ctx *hc, void **mod)
{
    ansi_mod *m = host->calloc(1, sizeof(*m));
    if (m == NULL)
        return VP_ENOMEM;
    m->host = host;
    m->hc = hc;
    *mod = m;
    return VP_OK;
}

static int ansi_configure(void *mod, const vp_cred *cred, vp_call *call, void **inst)
{
    (void)cred;
    (void)call;
    *inst = mod;
    return VP_OK;
}

static int ansi_fetch(void *inst, const vp_ref *ref, vp_call *call, vp_secret_out *out)
{
    ansi_mod *m = inst;
    const vp_host *h = m->host;
    h->log(m->hc, VP_LOG_WARN, "log: %s", EVIL);
    if (ref->path != NULL && strncmp(ref->path, "fail/", 5) == 0)
        return h->fail(call, VP_EUNAVAIL, "cliansi: %s", EVIL);
    if (ref->path != NULL && strncmp(ref->path, "huge/", 5) == 0) {
        /* One byte over the host's 16 MiB cap: secret_set refuses it, and we pass that on
         * without a message of our own. */
        size_t n = 16u * 1024 * 1024 + 1;
        char *big = h->calloc(1, n);
        if (big == NULL)
            return VP_ENOMEM;
        int rc = h->secret_set(out, big, n);
        h->free(big);
        return rc;
    }
    return h->secret_set(out, "ok", 2);
}

static int ansi_validate(void *inst, vp_call *call)
{
    (void)inst;
    (void)call;
    return VP_OK;
}

static void ansi_destroy(void *inst)
{
    (void)inst;
}

static void ansi_teardown(void *mod)
{
    ansi_mod *m = mod;
    if (m != NULL)
        m->host->free(m);
}

static const char *const ansi_schemes[] = {"cliansi", NULL};

static const vp_provider ansi_provider = {
    .hdr = VP_ABI_HDR(vp_provider),
    .name = "cliansi",
    .version = "1.0" EVIL,
    .description = "ANSI test provider " EVIL " \xc2\x9b"
                   "31m caf\xc3\xa9",
    .schemes = ansi_schemes,
    .caps = VP_CAP_THREADSAFE,
    .cred_types = NULL,
    .init = ansi_init,
    .configure = ansi_configure,
    .fetch = ansi_fetch,
    .validate = ansi_validate,
    .destroy = ansi_destroy,
    .teardown = ansi_teardown,
};

VP_PROVIDER_ENTRY(ansi_provider)
