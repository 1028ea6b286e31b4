/*
 * isolate - providers in a helper process (isolate_providers; docs/design.md, "Isolated
 * providers").
 *
 * Each provider gets its own vaultplug-provider-host process, started when a call first needs
 * it, that loads the one provider with its own copy of the library and serves its host
 * services itself. The host talks to it over a socket pair (isoproto.h), one request at a time.
 * When the helper dies (a crash in the provider) or misses a deadline (it is then killed), the
 * reference fails with a message naming the provider and the signal, and the next reference
 * starts a new helper.
 */
#define _GNU_SOURCE /* dladdr */

#include <dlfcn.h>
#include <fcntl.h>
#include <limits.h>
#include <pthread.h>
#include <signal.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "vaultplug/error.h"
#include "ctx.h"
#include "errint.h"
#include "hostctx.h"
#include "inputs.h"
#include "isoproto.h"
#include "jsonh.h"
#include "secmem.h"
#include "secret.h"

extern char **environ;

#ifndef VP_DEFAULT_HELPER_PATH
#define VP_DEFAULT_HELPER_PATH "/usr/local/lib/vaultplug/" VPI_HELPER_NAME
#endif

typedef struct sent_cred {
    char *name;
    const void *cred; /* the context credential last sent under that name */
    void *ref;        /* a reference on it, so that its address cannot be reused meanwhile */
} sent_cred;

typedef struct vp__iso {
    pthread_mutex_t mu; /* one request at a time; held across the exchange */
    pid_t pid;          /* 0: not running */
    int fd;
    sent_cred *sent;
    size_t n_sent;
} vp__iso;

/* ---- the helper's path ------------------------------------------------------------------- */

static char helper_path[PATH_MAX];
static pthread_once_t helper_once = PTHREAD_ONCE_INIT;

/* Next to the shared library that holds this code: <libdir>/vaultplug/vaultplug-provider-host,
 * like the provider directory (loader.c); else the compiled-in path. */
static void helper_find(void)
{
    snprintf(helper_path, sizeof(helper_path), "%s", VP_DEFAULT_HELPER_PATH);
    Dl_info di;
    if (dladdr((const void *)helper_path, &di) == 0 || di.dli_fname == NULL)
        return;
    char real[PATH_MAX], cand[PATH_MAX];
    if (realpath(di.dli_fname, real) == NULL)
        return;
    char *slash = strrchr(real, '/');
    if (slash == NULL || strncmp(slash + 1, "libvaultplug.so", 15) != 0)
        return;
    *slash = '\0';
    if ((size_t)snprintf(cand, sizeof(cand), "%s/vaultplug/%s", real, VPI_HELPER_NAME) >=
        sizeof(cand))
        return;
    if (access(cand, X_OK) == 0)
        snprintf(helper_path, sizeof(helper_path), "%s", cand);
}

const char *vp__iso_helper_path(void)
{
    pthread_once(&helper_once, helper_find);
    return helper_path;
}

/* ---- per-context state ------------------------------------------------------------------- */

int vp__iso_init(vp_ctx *ctx, const char *ca_file, const char *ca_path, const char *proxy)
{
    ctx->iso = calloc(ctx->n_providers ? ctx->n_providers : 1, sizeof(*ctx->iso));
    if (ctx->iso == NULL)
        return VP_ENOMEM;
    ctx->iso_ca_file = strdup(ca_file ? ca_file : "");
    ctx->iso_ca_path = strdup(ca_path ? ca_path : "");
    ctx->iso_proxy = vp__secmem_strdup(proxy ? proxy : "");
    if (ctx->iso_ca_file == NULL || ctx->iso_ca_path == NULL || ctx->iso_proxy == NULL)
        return VP_ENOMEM; /* vp__iso_free releases them */
    for (size_t i = 0; i < ctx->n_providers; i++)
        pthread_mutex_init(&ctx->iso[i].mu, NULL);
    return 0;
}

static void forget_sent(vp_ctx *ctx, vp__iso *h)
{
    for (size_t i = 0; i < h->n_sent; i++) {
        free(h->sent[i].name);
        vp__cred_unref(ctx, h->sent[i].ref);
    }
    free(h->sent);
    h->sent = NULL;
    h->n_sent = 0;
}

/* Stop the helper (kill it when `kill_it`); returns its wait status (0 if none). */
static int stop(vp_ctx *ctx, vp__iso *h, int kill_it)
{
    if (h->pid <= 0)
        return 0;
    if (kill_it)
        kill(h->pid, SIGKILL);
    close(h->fd);
    h->fd = -1;
    int ws = 0;
    while (waitpid(h->pid, &ws, 0) < 0 && errno == EINTR)
        ;
    h->pid = 0;
    forget_sent(ctx, h);
    return ws;
}

void vp__iso_free(vp_ctx *ctx)
{
    for (size_t i = 0; ctx->iso != NULL && i < ctx->n_providers; i++) {
        stop(ctx, &ctx->iso[i], 0); /* EOF on its input ends it */
        pthread_mutex_destroy(&ctx->iso[i].mu);
    }
    free(ctx->iso);
    ctx->iso = NULL;
    free(ctx->iso_ca_file);
    free(ctx->iso_ca_path);
    vp__secmem_free(ctx->iso_proxy);
    ctx->iso_ca_file = ctx->iso_ca_path = ctx->iso_proxy = NULL;
}

/* ---- talking to it ----------------------------------------------------------------------- */

/* The helper ended during `what` with wait status ws: say how. */
static int report(vp_ctx *ctx, const vp__provider *p, const char *what, int ws, vp_error *err)
{
    if (WIFSIGNALED(ws) && WTERMSIG(ws) != SIGKILL)
        return vp__err_set(err, ctx->log, VP_EUNAVAIL,
                           "%s: the provider crashed during %s (signal %d, %s) in its helper "
                           "process; it restarts for the next reference",
                           p->name, what, WTERMSIG(ws), strsignal(WTERMSIG(ws)));
    if (WIFEXITED(ws) && WEXITSTATUS(ws) != 0)
        return vp__err_set(err, ctx->log, VP_EUNAVAIL,
                           "%s: its helper process exited (status %d) during %s; it restarts "
                           "for the next reference",
                           p->name, WEXITSTATUS(ws), what);
    return vp__err_set(err, ctx->log, VP_EUNAVAIL,
                       "%s: its helper process ended during %s; it restarts for the next "
                       "reference",
                       p->name, what);
}

/* The exchange failed: say why (crash with its signal, deadline, protocol), stop the helper. */
static int lost(vp_ctx *ctx, const vp__provider *p, vp__iso *h, vpi_io *io, const char *what,
                vp_error *err)
{
    int timed_out = io->timed_out;
    /* A helper that dies closes the socket: give it a moment to be reaped with its own
     * status before the kill. */
    if (!timed_out && h->pid > 0) {
        for (int i = 0; i < 100; i++) {
            int ws = 0;
            pid_t w = waitpid(h->pid, &ws, WNOHANG);
            if (w == h->pid) {
                close(h->fd);
                h->fd = -1;
                h->pid = 0;
                forget_sent(ctx, h);
                return report(ctx, p, what, ws, err);
            }
            if (w < 0)
                break;
            struct timespec ts = {0, 1000000L};
            nanosleep(&ts, NULL);
        }
    }
    int ws = stop(ctx, h, 1);
    if (timed_out)
        return vp__err_set(err, ctx->log, VP_ETIMEDOUT,
                           "%s: %s did not finish by its deadline; its helper process was "
                           "stopped and restarts for the next reference",
                           p->name, what);
    return report(ctx, p, what, ws, err);
}

static void *plain_alloc(size_t n)
{
    return malloc(n);
}

static void *secure_alloc(size_t n)
{
    return vp__secmem_alloc(n);
}

/* Read "i32 status, str message" into err (the helper's message names the provider). */
static int read_status(vp_ctx *ctx, vpi_io *io, int *status, vp_error *err)
{
    uint32_t st = 0;
    char *msg = NULL;
    if (vpi_get_u32(io, &st) != 0 || vpi_get_str(io, VPI_STR_MAX, plain_alloc, &msg, NULL) != 0) {
        free(msg);
        return -1;
    }
    *status = vp_status_normalize((int)(int32_t)st);
    if (*status != 0)
        vp__err_set(err, ctx->log, *status, "%s", msg[0] ? msg : vp_strerror(*status));
    free(msg);
    return 0;
}

static int start(vp_ctx *ctx, const vp__provider *p, vp__iso *h, vp_error *err)
{
    int sv[2];
    if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) != 0)
        return vp__err_set(err, NULL, VP_EINTERNAL, "%s: cannot create a socket pair: %s", p->name,
                           strerror(errno));
    if (sv[1] == VPI_HELPER_FD) { /* dup2 onto itself would keep FD_CLOEXEC */
        int d = fcntl(sv[1], F_DUPFD_CLOEXEC, VPI_HELPER_FD + 1);
        close(sv[1]);
        if (d < 0) {
            close(sv[0]);
            return vp__err_set(err, NULL, VP_EINTERNAL, "%s: cannot create a socket pair", p->name);
        }
        sv[1] = d;
    }
    char dir[PATH_MAX], tmo[32];
    snprintf(dir, sizeof(dir), "%s", p->path);
    char *slash = strrchr(dir, '/');
    if (slash != NULL)
        *slash = '\0';
    snprintf(tmo, sizeof(tmo), "%u", ctx->default_timeout_ms);
    char *argv[] = {(char *)VPI_HELPER_NAME, dir, p->name, tmo, NULL};
    posix_spawn_file_actions_t fa;
    posix_spawn_file_actions_init(&fa);
    /* The socket is fd 3; stdin is /dev/null and stdout goes to stderr, so that a provider
     * that prints cannot corrupt the protocol. */
    posix_spawn_file_actions_adddup2(&fa, sv[1], VPI_HELPER_FD);
    posix_spawn_file_actions_addopen(&fa, 0, "/dev/null", O_RDONLY, 0);
    posix_spawn_file_actions_adddup2(&fa, 2, 1);
    const char *path = vp__iso_helper_path();
    pid_t pid = 0;
    int rc = posix_spawn(&pid, path, &fa, NULL, argv, environ);
    posix_spawn_file_actions_destroy(&fa);
    close(sv[1]);
    if (rc != 0) {
        close(sv[0]);
        return vp__err_set(err, NULL, VP_EUNAVAIL,
                           "%s: cannot start the provider helper %s: %s (isolate_providers is "
                           "on; install it there or turn isolation off)",
                           p->name, path, strerror(rc));
    }
    h->pid = pid;
    h->fd = sv[0];
    vpi_io io = {.fd = h->fd, .deadline = vpi_now_ms() + ctx->default_timeout_ms + 1000};
    char op = VPI_INIT;
    int status = 0;
    if (vpi_write(&io, &op, 1) != 0 ||
        vpi_put_str(&io, ctx->iso_ca_file, strlen(ctx->iso_ca_file)) != 0 ||
        vpi_put_str(&io, ctx->iso_ca_path, strlen(ctx->iso_ca_path)) != 0 ||
        vpi_put_str(&io, ctx->iso_proxy, strlen(ctx->iso_proxy)) != 0 ||
        read_status(ctx, &io, &status, err) != 0)
        return lost(ctx, p, h, &io, "init", err);
    if (status != 0) {
        stop(ctx, h, 1);
        return status;
    }
    return 0;
}

/* Send credential cred_name of p unless the helper has this very one. Caller holds h->mu. */
static int send_cred(vp_ctx *ctx, const vp__provider *p, vp__iso *h, vpi_io *io,
                     const char *cred_name, vp_error *err)
{
    const vp__cred *c = NULL;
    void *ref = NULL;
    int rc = vp__cred_ref(ctx, p, cred_name, &c, &ref);
    if (rc != 0)
        return vp__err_set(err, NULL, VP_ENOTFOUND, "no credential named %s for provider %s",
                           cred_name, p->name);
    if (c == NULL)
        return 0; /* the default chain, in the helper's environment */
    size_t i;
    for (i = 0; i < h->n_sent; i++)
        if (strcmp(h->sent[i].name, cred_name) == 0)
            break;
    if (i < h->n_sent && h->sent[i].cred == c) {
        vp__cred_unref(ctx, ref);
        return 0;
    }
    char op = VPI_CRED;
    int bad = vpi_write(io, &op, 1) || vpi_put_str(io, c->name, strlen(c->name)) ||
              vpi_put_str(io, c->type, strlen(c->type)) || vpi_put_u32(io, (uint32_t)c->n_fields);
    for (size_t f = 0; !bad && f < c->n_fields; f++)
        bad = vpi_put_str(io, c->fields[f].key, strlen(c->fields[f].key)) ||
              vpi_put_str(io, c->fields[f].value, c->fields[f].value_len);
    int status = 0;
    if (!bad && read_status(ctx, io, &status, err) != 0)
        bad = 1;
    if (!bad && status == 0) {
        if (i == h->n_sent) {
            sent_cred *ns = realloc(h->sent, (h->n_sent + 1) * sizeof(*ns));
            char *nm = strdup(cred_name);
            if (ns != NULL)
                h->sent = ns;
            if (ns == NULL || nm == NULL) {
                free(nm);
                vp__cred_unref(ctx, ref);
                return vp__err_set(err, NULL, VP_ENOMEM, NULL);
            }
            h->sent[h->n_sent++] = (sent_cred){nm, NULL, NULL};
        }
        vp__cred_unref(ctx, h->sent[i].ref); /* the one it replaces */
        h->sent[i].cred = c;
        h->sent[i].ref = ref; /* kept */
        ref = NULL;
    }
    vp__cred_unref(ctx, ref);
    if (bad)
        return lost(ctx, p, h, io, "configure", err);
    return status;
}

/* Lock h, waiting at most until `until` (CLOCK_MONOTONIC ms, -1 = no limit) while another
 * reference uses the helper, and make sure its helper runs. */
static vp__iso *acquire(vp_ctx *ctx, const vp__provider *p, int64_t until, int *rc, vp_error *err)
{
    vp__iso *h = &ctx->iso[p - ctx->providers];
    if (until < 0) {
        pthread_mutex_lock(&h->mu);
    } else {
        struct timespec ts;
        clock_gettime(CLOCK_REALTIME, &ts);
        int64_t left = until - vpi_now_ms();
        left = left > 0 ? left : 0;
        ts.tv_sec += (time_t)(left / 1000);
        ts.tv_nsec += (long)(left % 1000) * 1000000L;
        if (ts.tv_nsec >= 1000000000L) {
            ts.tv_sec++;
            ts.tv_nsec -= 1000000000L;
        }
        if (pthread_mutex_timedlock(&h->mu, &ts) != 0) {
            *rc = vp__err_set(err, ctx->log, VP_ETIMEDOUT,
                              "%s: its helper process was busy with another reference until "
                              "this one's deadline",
                              p->name);
            return NULL;
        }
        if (vpi_now_ms() >= until) { /* do not start (and kill) a helper for nothing */
            pthread_mutex_unlock(&h->mu);
            *rc = vp__err_set(err, ctx->log, VP_ETIMEDOUT,
                              "%s: its helper process was busy with another reference until "
                              "this one's deadline",
                              p->name);
            return NULL;
        }
    }
    *rc = h->pid > 0 ? 0 : start(ctx, p, h, err);
    if (*rc != 0) {
        pthread_mutex_unlock(&h->mu);
        return NULL;
    }
    return h;
}

int vp__iso_ready(vp_ctx *ctx, const vp__provider *p, vp_error *err)
{
    int rc = 0;
    vp__iso *h = acquire(ctx, p, -1, &rc, err);
    if (h != NULL)
        pthread_mutex_unlock(&h->mu);
    return rc;
}

static int64_t io_deadline(const vp__provider *p, int64_t deadline_ms)
{
    int64_t w = vp__provider_wait_ms(p, deadline_ms);
    return w < 0 ? -1 : vpi_now_ms() + w;
}

/* Send the reference view of a fetch (isoproto.h, 'F'): what the provider reads of it in
 * process, the three-argument form's config JSON included. */
static int put_view(vpi_io *io, const vp_ref *v)
{
    const char *s[5] = {v->uri, v->scheme, v->credential, v->path, v->json_key};
    uint8_t present = 0;
    for (int i = 0; i < 5; i++)
        present |= s[i] != NULL ? (uint8_t)(1u << i) : 0;
    present |= v->config != NULL ? VPI_REF_CONFIG : 0;
    if (vpi_write(io, &present, 1) != 0)
        return -1;
    for (int i = 0; i < 5; i++)
        if (vpi_put_str(io, s[i] ? s[i] : "", s[i] ? strlen(s[i]) : 0) != 0)
            return -1;
    if (vpi_put_u32(io, (uint32_t)v->n_params) != 0)
        return -1;
    for (size_t i = 0; i < v->n_params; i++) {
        const char *k = v->params[i].key ? v->params[i].key : "";
        const char *val = v->params[i].value ? v->params[i].value : "";
        if (vpi_put_str(io, k, strlen(k)) != 0 ||
            vpi_put_str(io, val, v->params[i].value ? v->params[i].value_len : 0) != 0)
            return -1;
    }
    size_t clen = 0;
    char *cfg = v->config != NULL ? vp__json_dump(v->config, &clen) : NULL;
    if (v->config != NULL && cfg == NULL)
        return -2;
    int rc = vpi_put_str(io, cfg ? cfg : "", cfg ? clen : 0);
    vp__secmem_free(cfg);
    return rc;
}

/* Whether every string of the view fits in a request (VPI_STR_MAX; the config JSON, sent as a
 * whole, is bounded by its fields). */
static int view_fits(const vp_ref *v)
{
    const char *s[5] = {v->uri, v->scheme, v->credential, v->path, v->json_key};
    for (int i = 0; i < 5; i++)
        if (s[i] != NULL && strnlen(s[i], VPI_STR_MAX + 1) > VPI_STR_MAX)
            return 0;
    for (size_t i = 0; i < v->n_params; i++)
        if ((v->params[i].key && strnlen(v->params[i].key, VPI_STR_MAX + 1) > VPI_STR_MAX) ||
            (v->params[i].value && v->params[i].value_len > VPI_STR_MAX))
            return 0;
    return 1;
}

/* The inputs the helper reports with a fetch reply (isoproto.h), added to p's record in this
 * process before the caller captures the value's identity (resolver/identity.c): the names
 * are what the provider read there, their values are the same here (the helper has this
 * process's environment and file system). */
static int read_inputs(const vp__provider *p, vpi_io *io)
{
    uint8_t known = 0;
    uint32_t n = 0;
    if (vpi_read(io, &known, 1) != 0 || vpi_get_u32(io, &n) != 0 || n > VP__INPUTS_MAX)
        return -1;
    for (uint32_t i = 0; i < n; i++) {
        char *name = NULL;
        size_t len = 0;
        if (vpi_get_str(io, VP__INPUT_NAME_MAX + 2, plain_alloc, &name, &len) != 0) {
            free(name);
            return -1;
        }
        if (len >= 2 && (name[0] == 'e' || name[0] == 'f') && name[1] == ':' && strlen(name) == len)
            vp__inputs_add(p->hc.inputs, name[0], name + 2);
        else
            known = 0; /* not a name this build records: what was read is not known */
        free(name);
    }
    if (!known)
        vp__inputs_mark_unknown(p->hc.inputs);
    return 0;
}

/* Start a request to p's helper: acquire it (started if needed; returned locked), open the
 * stream with the request's I/O deadline, send credential cred_name if the helper lacks it, and
 * the time left for the provider (*tmo, 0 = none). NULL with *rc and err on failure. */
static vp__iso *request_begin(vp_ctx *ctx, const vp__provider *p, const char *cred_name,
                              int64_t deadline_ms, vpi_io *io, uint32_t *tmo, int *rc,
                              vp_error *err)
{
    int64_t until = io_deadline(p, deadline_ms);
    vp__iso *h = acquire(ctx, p, until, rc, err);
    if (h == NULL)
        return NULL;
    *io = (vpi_io){.fd = h->fd, .deadline = until};
    *rc = send_cred(ctx, p, h, io, cred_name, err);
    if (*rc != 0) {
        pthread_mutex_unlock(&h->mu);
        return NULL;
    }
    int64_t left = deadline_ms < 0 ? 0 : deadline_ms - vp__host_monotonic_ms((vp_host_ctx *)&p->hc);
    *tmo = deadline_ms < 0 ? 0 : (uint32_t)(left > 1 ? left : 1);
    return h;
}

int vp__iso_fetch(vp_ctx *ctx, const vp__provider *p, const char *cred_name, const vp_ref *view,
                  int64_t deadline_ms, vp_secret_out *so, uint32_t *retry_after_ms, vp_error *err)
{
    if (retry_after_ms != NULL)
        *retry_after_ms = 0;
    if (view->n_params > VPI_REF_PARAMS_MAX)
        return vp__err_set(err, NULL, VP_EINVAL, "%s: too many parameters (at most %u)", p->name,
                           VPI_REF_PARAMS_MAX);
    if (!view_fits(view))
        return vp__err_set(err, NULL, VP_ELIMIT,
                           "%s: a part of the reference is longer than %u bytes, the limit for "
                           "an isolated provider; shorten it",
                           p->name, VPI_STR_MAX);
    int rc = 0;
    vpi_io io;
    uint32_t tmo = 0;
    vp__iso *h = request_begin(ctx, p, cred_name, deadline_ms, &io, &tmo, &rc, err);
    if (h == NULL)
        return rc;
    char op = VPI_FETCH;
    int status = 0;
    char *value = NULL, *version = NULL;
    size_t vlen = 0;
    uint32_t ttl = 0, retry_after = 0;
    int64_t expiry = 0;
    vpi_buffer(&io); /* not secret: one send for the whole request */
    int sent = vpi_write(&io, &op, 1) != 0 || vpi_put_u32(&io, tmo) != 0 ? -1 : put_view(&io, view);
    if (sent == 0)
        sent = vpi_flush(&io);
    else {
        free(io.wbuf);
        io.wbuf = NULL;
    }
    if (sent == -2) { /* out of memory before the view was complete: the stream is unusable */
        stop(ctx, h, 1);
        pthread_mutex_unlock(&h->mu);
        return vp__err_set(err, NULL, VP_ENOMEM, NULL);
    }
    if (sent != 0 || read_status(ctx, &io, &status, err) != 0 ||
        vpi_get_str(&io, VPI_SECRET_MAX, secure_alloc, &value, &vlen) != 0 ||
        vpi_get_u32(&io, &ttl) != 0 || vpi_get_i64(&io, &expiry) != 0 ||
        vpi_get_str(&io, VPI_STR_MAX, plain_alloc, &version, NULL) != 0 ||
        vpi_get_u32(&io, &retry_after) != 0 || read_inputs(p, &io) != 0) {
        vp__secmem_free(value);
        free(version);
        rc = lost(ctx, p, h, &io, "fetch", err);
        pthread_mutex_unlock(&h->mu);
        return rc;
    }
    pthread_mutex_unlock(&h->mu);
    if (retry_after_ms != NULL)
        *retry_after_ms = retry_after;
    if (status == 0) {
        vp__secret_out_clear(so);
        so->value = value;
        so->len = vlen;
        so->ttl_s = ttl;
        so->expiry_unix_ms = expiry;
        snprintf(so->version, sizeof(so->version), "%s", version);
        value = NULL;
    }
    vp__secmem_free(value);
    free(version);
    return status;
}

int vp__iso_validate(vp_ctx *ctx, const vp__provider *p, const char *cred_name, int64_t deadline_ms,
                     vp_error *err)
{
    int rc = 0;
    vpi_io io;
    uint32_t tmo = 0;
    vp__iso *h = request_begin(ctx, p, cred_name, deadline_ms, &io, &tmo, &rc, err);
    if (h == NULL)
        return rc;
    char op = VPI_VALIDATE;
    int status = 0;
    if (vpi_write(&io, &op, 1) != 0 || vpi_put_str(&io, cred_name, strlen(cred_name)) != 0 ||
        vpi_put_u32(&io, tmo) != 0 || read_status(ctx, &io, &status, err) != 0)
        status = lost(ctx, p, h, &io, "validate", err);
    pthread_mutex_unlock(&h->mu);
    return status;
}

int vp__iso_list(vp_ctx *ctx, const vp__provider *p, const char *cred_name, const char *prefix,
                 int64_t deadline_ms, vp_list_out *lo, vp_error *err)
{
    int rc = 0;
    vpi_io io;
    uint32_t tmo = 0;
    vp__iso *h = request_begin(ctx, p, cred_name, deadline_ms, &io, &tmo, &rc, err);
    if (h == NULL)
        return rc;
    char op = VPI_LIST;
    int status = 0;
    uint32_t n = 0;
    vpi_buffer(&io); /* not secret: one send for the whole request */
    int bad = vpi_write(&io, &op, 1) != 0 || vpi_put_str(&io, cred_name, strlen(cred_name)) != 0 ||
              vpi_put_str(&io, prefix, strlen(prefix)) != 0 || vpi_put_u32(&io, tmo) != 0 ||
              vpi_flush(&io) != 0 || read_status(ctx, &io, &status, err) != 0 ||
              vpi_get_u32(&io, &n) != 0 || n > VP__LIST_MAX;
    free(io.wbuf); /* only when a write failed before the flush */
    io.wbuf = NULL;
    vp_list_out got;
    vp__list_out_init(&got);
    if (!bad && n > 0) {
        got.names = calloc(n, sizeof(*got.names));
        if (got.names == NULL) {
            status = vp__err_set(err, NULL, VP_ENOMEM, NULL);
            stop(ctx, h, 1); /* the names are still on the way: the stream is unusable */
            pthread_mutex_unlock(&h->mu);
            return status;
        }
        got.cap = n;
    }
    for (uint32_t i = 0; !bad && i < n; i++) {
        char *name = NULL;
        bad = vpi_get_str(&io, VPI_STR_MAX, plain_alloc, &name, NULL) != 0;
        if (name != NULL)
            got.names[got.n++] = name;
    }
    if (bad) {
        vp__list_out_clear(&got);
        status = lost(ctx, p, h, &io, "list", err);
        pthread_mutex_unlock(&h->mu);
        return status;
    }
    pthread_mutex_unlock(&h->mu);
    if (status == 0) {
        vp__list_out_clear(lo);
        *lo = got;
    } else {
        vp__list_out_clear(&got);
    }
    return status;
}
