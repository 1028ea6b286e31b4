/*
 * testmod - one source for every loader test module. LT_NAME is the file's base name and
 * LT_VARIANT selects the (deliberate) defect; see tests/loader/CMakeLists.txt.
 *
 * The good variant echoes the path and has a few magic paths that let the tests observe the
 * host's behaviour from outside (instance caching, serialisation, message redaction).
 */
#include <fcntl.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "vaultplug/provider.h"

#define V_GOOD      0
#define V_SERIAL    1 /* good, without VP_CAP_THREADSAFE */
#define V_BADMAJOR  2
#define V_SHORT     3
#define V_NOSYM     4
#define V_NULLENTRY 5
#define V_NAME      6
#define V_CAPS      7
#define V_NULLFN    8
#define V_BATCH     9
#define V_INITFAIL  10
#define V_DUPSCHEME 11
#define V_BADSCHEME 12
#define V_ALIAS     13 /* good, schemes {LT_NAME, LT_ALIAS} */
#define V_FIRST     14 /* good, but its first scheme is not its name: {"zz" LT_NAME, LT_NAME} */
#define V_PLAIN     15 /* good, schemes {LT_NAME} only */
/* Misbehaving providers (issue 18, item 6), each good apart from its defect: */
#define V_INITSEGV 16 /* init() crashes (SIGSEGV) */
#define V_INITHANG 17 /* init() never returns */
/* fetch() of any path but "ok" or "pid*", and list() of any prefix but "ok", never return
 * and ignore cancellation */
#define V_FETCHHANG 18
/* fetch() of any path but "ok" or "pid*" crashes (SIGSEGV) */
#define V_FETCHSEGV 19
#define V_LOGINHANG 20 /* interactive sign-in that never returns */

#ifndef LT_VARIANT
#define LT_VARIANT V_GOOD
#endif

static const vp_host *H;

/* Block this thread for good, whatever the host asks (no call_canceled polling). */
__attribute__((unused)) static void hang_forever(void)
{
    for (;;)
        pause();
}

typedef struct mod {
    vp_host_ctx *hc;
    atomic_int configures;
    atomic_int destroys;
    atomic_int inflight;
    atomic_int violations;
} mod;

typedef struct inst {
    mod *m;
    char user[64];
    char password[64];
} inst;

/* Prove from outside whether init ran: touch $VP_LT_MARKER_DIR/<name>.init. */
static void touch_marker(void)
{
    const char *dir = getenv("VP_LT_MARKER_DIR");
    if (dir == NULL)
        return;
    char path[512];
    snprintf(path, sizeof(path), "%s/%s.init", dir, LT_NAME);
    int fd = open(path, O_CREAT | O_WRONLY | O_CLOEXEC, 0600);
    if (fd >= 0)
        close(fd);
}

__attribute__((unused)) static int tm_init(const vp_host *host, vp_host_ctx *hc, void **out)
{
    touch_marker();
#if LT_VARIANT == V_INITSEGV
    raise(SIGSEGV);
#elif LT_VARIANT == V_INITHANG
    hang_forever();
#endif
#if LT_VARIANT == V_INITFAIL
    (void)host, (void)hc, (void)out;
    return VP_EAUTH;
#else
    H = host;
    mod *m = host->calloc(1, sizeof(*m));
    if (m == NULL)
        return VP_ENOMEM;
    m->hc = hc;
    *out = m;
    return 0;
#endif
}

static int tm_configure(void *modp, const vp_cred *cred, vp_call *call, void **out)
{
    mod *m = modp;
    inst *in = H->calloc(1, sizeof(*in));
    if (in == NULL)
        return VP_ENOMEM;
    in->m = m;
    for (size_t i = 0; i < cred->n_fields; i++) {
        if (strcmp(cred->fields[i].key, "user") == 0)
            snprintf(in->user, sizeof(in->user), "%s", cred->fields[i].value);
        else if (strcmp(cred->fields[i].key, "password") == 0)
            snprintf(in->password, sizeof(in->password), "%s", cred->fields[i].value);
    }
    if (strcmp(in->user, "refuse") == 0) {
        H->free(in);
        return H->fail(call, VP_EAUTH, "user refused");
    }
    atomic_fetch_add(&m->configures, 1);
    *out = in;
    return 0;
}

static int set_str(vp_secret_out *out, const char *s)
{
    return H->secret_set(out, s, strlen(s));
}

static int tm_fetch(void *instp, const vp_ref *ref, vp_call *call, vp_secret_out *out)
{
    inst *in = instp;
    mod *m = in->m;
    char buf[256];
    int rc = 0;
#if LT_VARIANT == V_FETCHHANG
    if (strcmp(ref->path, "ok") != 0 && strncmp(ref->path, "pid", 3) != 0)
        hang_forever();
#elif LT_VARIANT == V_FETCHSEGV
    if (strcmp(ref->path, "ok") != 0 && strncmp(ref->path, "pid", 3) != 0)
        raise(SIGSEGV);
#endif
    if (atomic_fetch_add(&m->inflight, 1) != 0)
        atomic_fetch_add(&m->violations, 1); /* only counts for serialised providers */
    if (strcmp(ref->path, "notfound") == 0) {
        rc = H->fail(call, VP_ENOTFOUND, "secret %s not found", ref->path);
    } else if (strcmp(ref->path, "leak") == 0) {
        rc = H->fail(call, VP_EAUTH, "password %s rejected", in->password);
    } else if (strcmp(ref->path, "json") == 0) {
        rc = set_str(out, "{\"user\":\"u\",\"password\":\"p\",\"n\":5,\"o\":{\"a\":[1,null]}}");
    } else if (strcmp(ref->path, "stats") == 0) {
        snprintf(buf, sizeof(buf), "configures=%d", atomic_load(&m->configures));
        rc = set_str(out, buf);
    } else if (strcmp(ref->path, "violations") == 0) {
        snprintf(buf, sizeof(buf), "violations=%d", atomic_load(&m->violations));
        rc = set_str(out, buf);
    } else if (strcmp(ref->path, "pid") == 0 || strcmp(ref->path, "pid-many") == 0) {
        /* Which process served it; "pid-many" first reads more variables than the host
         * records (VP__INPUTS_MAX), so what the value depends on is not known. */
        for (int i = 0; ref->path[3] != '\0' && i < 200; i++) {
            char nm[32];
            snprintf(nm, sizeof(nm), "LT_INPUT_%d", i);
            H->secure_free(H->getenv(m->hc, nm));
        }
        snprintf(buf, sizeof(buf), "pid=%ld", (long)getpid());
        rc = set_str(out, buf);
    } else if (strcmp(ref->path, "name") == 0) { /* which module served the reference */
        rc = set_str(out, LT_NAME);
    } else if (strcmp(ref->path, "whoami") == 0) {
        snprintf(buf, sizeof(buf), "user=%s cred=%s", in->user, ref->credential);
        rc = set_str(out, buf);
    } else if (strcmp(ref->path, "meta") == 0) {
        H->secret_set_ttl(out, 60);
        H->secret_set_version(out, "v7");
        H->secret_set_expiry(out, 1234);
        rc = set_str(out, "m");
    } else if (strcmp(ref->path, "params") == 0) {
        buf[0] = '\0';
        for (size_t i = 0; i < ref->n_params; i++)
            snprintf(buf + strlen(buf), sizeof(buf) - strlen(buf), "%s=%s;", ref->params[i].key,
                     ref->params[i].value);
        rc = set_str(out, buf);
    } else if (strcmp(ref->path, "slow") == 0) {
        struct timespec ts = {0, 200000};
        nanosleep(&ts, NULL);
        rc = set_str(out, "slow");
    } else if (strcmp(ref->path, "badstatus") == 0) {
        rc = 12345;
    } else if (strcmp(ref->path, "novalue") == 0) {
        rc = 0;
    } else {
        rc = set_str(out, ref->path);
    }
    atomic_fetch_sub(&m->inflight, 1);
    return rc;
}

__attribute__((unused)) static int tm_login(void *modp, const vp_kv *options, size_t n_options,
                                            vp_call *call, vp_cred_out *out)
{
    (void)modp, (void)options, (void)n_options, (void)call, (void)out;
    hang_forever();
    return VP_EINTERNAL;
}

#if LT_VARIANT == V_FETCHHANG
static int tm_list(void *instp, const char *prefix, vp_call *call, vp_list_out *out)
{
    (void)instp, (void)call;
    if (strcmp(prefix, "ok") != 0)
        hang_forever();
    return H->list_add(out, "ok/b") || H->list_add(out, "ok/a");
}
#endif

__attribute__((unused)) static int tm_validate(void *instp, vp_call *call)
{
    inst *in = instp;
    if (strcmp(in->user, "bad") == 0)
        return H->fail(call, VP_EAUTH, "user %s is not allowed", in->user);
    return 0;
}

static void tm_destroy(void *instp)
{
    inst *in = instp;
    if (in == NULL)
        return;
    atomic_fetch_add(&in->m->destroys, 1);
    H->memzero(in, sizeof(*in));
    H->free(in);
}

static void tm_teardown(void *modp)
{
    H->free(modp);
}

static const vp_cred_field basic_fields[] = {
    {"user", VP_FIELD_REQUIRED, "user name"},
    {"password", VP_FIELD_SECRET | VP_FIELD_REQUIRED, "password"},
    {"region", 0, "region"},
    {NULL, 0, NULL},
};
static const vp_cred_type cred_types[] = {
    {"basic", "user and password", basic_fields},
    {NULL, NULL, NULL},
};

#if LT_VARIANT == V_DUPSCHEME
static const char *const schemes[] = {LT_NAME, "goodscheme", NULL};
#elif LT_VARIANT == V_BADSCHEME
static const char *const schemes[] = {LT_NAME, "Bad_Scheme", NULL};
#elif LT_VARIANT == V_GOOD
static const char *const schemes[] = {LT_NAME, "goodscheme", NULL};
#elif LT_VARIANT == V_ALIAS
static const char *const schemes[] = {LT_NAME, LT_ALIAS, NULL};
#elif LT_VARIANT == V_FIRST
static const char *const schemes[] = {"zz" LT_NAME, LT_NAME, NULL};
#else
static const char *const schemes[] = {LT_NAME, NULL};
#endif

static const vp_provider table = {
#if LT_VARIANT == V_BADMAJOR
    .hdr = {2, 0, sizeof(vp_provider)},
#elif LT_VARIANT == V_SHORT
    .hdr = {VP_ABI_MAJOR, VP_ABI_MINOR, offsetof(vp_provider, validate)},
#else
    .hdr = VP_ABI_HDR(vp_provider),
#endif
#if LT_VARIANT == V_NAME
    .name = "other",
#else
    .name = LT_NAME,
#endif
    .version = "0.0.1",
    .description = "loader test module",
    .schemes = schemes,
#if LT_VARIANT == V_CAPS
    .caps = VP_CAP_THREADSAFE | 0x100,
#elif LT_VARIANT == V_BATCH
    .caps = VP_CAP_THREADSAFE | VP_CAP_BATCH,
#elif LT_VARIANT == V_SERIAL
    .caps = 0,
#elif LT_VARIANT == V_FETCHHANG
    .caps = VP_CAP_THREADSAFE | VP_CAP_LIST,
    .list = tm_list,
#elif LT_VARIANT == V_LOGINHANG
    .caps = VP_CAP_THREADSAFE | VP_CAP_INTERACTIVE_LOGIN,
    .login = tm_login,
#else
    .caps = VP_CAP_THREADSAFE,
#endif
    .cred_types = cred_types,
    .init = tm_init,
    .configure = tm_configure,
    .fetch = tm_fetch,
#if LT_VARIANT == V_NULLFN
    .validate = NULL,
#else
    .validate = tm_validate,
#endif
    .destroy = tm_destroy,
    .teardown = tm_teardown,
};

#if LT_VARIANT == V_NOSYM
/* No entry point at all (keep the table referenced so the compiler does not complain). */
const vp_provider *tm_not_the_entry(void);
const vp_provider *tm_not_the_entry(void)
{
    return &table;
}
#elif LT_VARIANT == V_NULLENTRY
VP_SDK_EXPORT const vp_provider *vaultplug_provider_entry(uint16_t major, uint16_t minor);
VP_SDK_EXPORT const vp_provider *vaultplug_provider_entry(uint16_t major, uint16_t minor)
{
    (void)major, (void)minor;
    return (void)table, NULL;
}
#elif LT_VARIANT == V_BADMAJOR
/* Claims to serve any major, then hands back a major-2 table. */
VP_SDK_EXPORT const vp_provider *vaultplug_provider_entry(uint16_t major, uint16_t minor);
VP_SDK_EXPORT const vp_provider *vaultplug_provider_entry(uint16_t major, uint16_t minor)
{
    (void)major, (void)minor;
    return &table;
}
#else
VP_PROVIDER_ENTRY(table)
#endif
