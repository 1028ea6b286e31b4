/*
 * host_loopback - the loopback redirect listener of ABI 1.1 (host->loopback_*): a provider's
 * browser sign-in (OAuth 2.0 authorization code for native apps, RFC 8252 section 7.3) sends
 * the browser to http://localhost:<port><path>, and this waits for that one redirect.
 *
 * A small poll()-based HTTP/1.x responder on 127.0.0.1 (libmicrohttpd is only a test
 * dependency, and one request head per sign-in does not need a server): it reads a request
 * head of at most LB_REQ_MAX bytes (in secure memory: the query holds the authorization code),
 * answers with a tiny HTML page and closes the connection. Waiting is sliced so cancellation
 * and the call's deadline are noticed within LB_SLICE_MS.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <sodium.h>

#include "call.h"
#include "host.h"
#include "host_svc.h"
#include "fault.h"
#include "secmem.h"

#define LB_REQ_MAX        8192
#define LB_PATH_MAX       256
#define LB_SLICE_MS       100
#define LB_CLIENT_READ_MS 3000
#define LB_MSG_MAX        300

struct vp_loopback {
    int fd; /* -1 once the redirect arrived */
    char path[LB_PATH_MAX];
};

int vp__loopback_listen(vp_call *call, const char *path, vp_loopback **out, uint16_t *port)
{
    if (out == NULL)
        return VP_EINVAL;
    *out = NULL;
    if (path == NULL || path[0] != '/' || strlen(path) >= LB_PATH_MAX ||
        strpbrk(path, "?# \r\n") != NULL)
        return vp__call_fail(call, VP_EINVAL,
                             "loopback listener: the path must start with '/' and hold no query, "
                             "fragment or spaces");
    if (vp__fault_alloc_should_fail())
        return VP_ENOMEM;
    vp_loopback *l = calloc(1, sizeof(*l));
    if (l == NULL)
        return VP_ENOMEM;
    snprintf(l->path, sizeof(l->path), "%s", path);
    l->fd = socket(AF_INET, SOCK_STREAM, 0);
    if (l->fd < 0) {
        int e = errno;
        free(l);
        return vp__call_fail(call, VP_EIO, "sign-in: cannot create the loopback listener: %s",
                             strerror(e));
    }
    (void)fcntl(l->fd, F_SETFD, FD_CLOEXEC); /* not inherited by a browser the host starts */
    struct sockaddr_in sa;
    memset(&sa, 0, sizeof(sa));
    sa.sin_family = AF_INET;
    sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    socklen_t sl = sizeof(sa);
    if (bind(l->fd, (struct sockaddr *)&sa, sizeof(sa)) != 0 || listen(l->fd, 8) != 0 ||
        getsockname(l->fd, (struct sockaddr *)&sa, &sl) != 0) {
        int e = errno;
        close(l->fd);
        free(l);
        return vp__call_fail(call, VP_EIO, "sign-in: cannot listen on 127.0.0.1: %s", strerror(e));
    }
    if (port != NULL)
        *port = ntohs(sa.sin_port);
    *out = l;
    return 0;
}

void vp__loopback_close(vp_loopback *l)
{
    if (l == NULL)
        return;
    if (l->fd >= 0)
        close(l->fd);
    free(l);
}

static void send_all(int fd, const char *s, size_t n)
{
    while (n > 0) {
        ssize_t w = send(fd, s, n, MSG_NOSIGNAL);
        if (w <= 0) {
            if (w < 0 && errno == EINTR)
                continue;
            return;
        }
        s += w;
        n -= (size_t)w;
    }
}

/* Printable ASCII of s (one line), HTML-escaped, into out. */
static void html_text(char *out, size_t cap, const char *s)
{
    size_t n = 0;
    for (; s != NULL && *s && *s != '\r' && *s != '\n' && n + 7 < cap; s++) {
        const char *r = NULL;
        unsigned char c = (unsigned char)*s;
        if (c < 0x20 || c >= 0x7f)
            continue;
        if (c == '<')
            r = "&lt;";
        else if (c == '>')
            r = "&gt;";
        else if (c == '&')
            r = "&amp;";
        else if (c == '"')
            r = "&quot;";
        if (r != NULL) {
            memcpy(out + n, r, strlen(r));
            n += strlen(r);
        } else {
            out[n++] = (char)c;
        }
    }
    out[n] = '\0';
}

static void reply(int fd, int status, const char *title, const char *text)
{
    char body[1200], esc[700], head[256];
    html_text(esc, sizeof(esc), text);
    int bl = snprintf(body, sizeof(body),
                      "<!DOCTYPE html><html><head><meta charset=\"utf-8\"><title>vaultplug</title>"
                      "</head><body><h1>%s</h1><p>%s</p></body></html>",
                      title, esc);
    if (bl < 0 || (size_t)bl >= sizeof(body))
        bl = (int)strlen(body);
    const char *reason = status == 200 ? "OK" : (status == 404 ? "Not Found" : "Bad Request");
    int hl = snprintf(head, sizeof(head),
                      "HTTP/1.1 %d %s\r\nContent-Type: text/html; charset=utf-8\r\n"
                      "Content-Length: %d\r\nCache-Control: no-store\r\nConnection: close\r\n\r\n",
                      status, reason, bl);
    send_all(fd, head, (size_t)hl);
    send_all(fd, body, (size_t)bl);
}

/* Read one request head from a browser connection; 0 or -1 (slow, closed or too large). */
static int read_head(int fd, char *buf, size_t cap)
{
    size_t n = 0;
    while (n + 1 < cap) {
        struct pollfd p = {fd, POLLIN, 0};
        if (poll(&p, 1, LB_CLIENT_READ_MS) <= 0)
            return -1;
        ssize_t r = recv(fd, buf + n, cap - 1 - n, 0);
        if (r <= 0)
            return -1;
        n += (size_t)r;
        buf[n] = '\0';
        if (strstr(buf, "\r\n\r\n") != NULL || strstr(buf, "\n\n") != NULL)
            return 0;
    }
    return -1;
}

/* One query parameter into a fixed buffer, as printable text (for messages); "" if absent. */
static void param_text(const char *q, size_t ql, const char *key, char *out, size_t cap)
{
    char *v = NULL;
    out[0] = '\0';
    if (vp__url_query_get(q, ql, key, &v, NULL) == 0) {
        size_t n = 0;
        for (const char *s = v; *s && n + 1 < cap; s++)
            if ((unsigned char)*s >= 0x20 && (unsigned char)*s < 0x7f)
                out[n++] = *s;
        out[n] = '\0';
        vp__secmem_free(v);
    }
}

typedef enum { LB_AGAIN, LB_DONE, LB_FAIL } lb_step;

/* Handle one request head (modified in place); the answer to the browser is sent here. */
static lb_step handle(vp_loopback *l, vp_call *call, int cfd, char *req, const char *state, int *rc,
                      const char **qs_out)
{
    if (strncmp(req, "GET ", 4) != 0) {
        reply(cfd, 400, "Bad request", "vaultplug only expects the sign-in redirect here.");
        return LB_AGAIN;
    }
    char *target = req + 4;
    target[strcspn(target, " \r\n")] = '\0';
    char *q = strchr(target, '?');
    size_t pl = q ? (size_t)(q - target) : strlen(target);
    if (pl != strlen(l->path) || memcmp(target, l->path, pl) != 0) { /* favicon.ico, ... */
        reply(cfd, 404, "Not found", "");
        return LB_AGAIN;
    }
    const char *qs = q ? q + 1 : "";
    size_t ql = strlen(qs);
    char *v = NULL;
    int has_code = vp__url_query_get(qs, ql, "code", &v, NULL) == 0;
    vp__secmem_free(v);
    v = NULL;
    int has_err = vp__url_query_get(qs, ql, "error", &v, NULL) == 0;
    vp__secmem_free(v);
    v = NULL;
    if (!has_code && !has_err) {
        reply(cfd, 400, "Bad request", "The redirect carries neither a code nor an error.");
        return LB_AGAIN;
    }
    if (state != NULL) {
        size_t vl = 0, sl = strlen(state);
        int ok = vp__url_query_get(qs, ql, "state", &v, &vl) == 0 && vl == sl &&
                 sodium_memcmp(v, state, sl) == 0;
        vp__secmem_free(v);
        if (!ok) {
            reply(cfd, 400, "Sign-in failed",
                  "The answer did not match this sign-in (state mismatch). Start the sign-in "
                  "again.");
            *rc = vp__call_fail(call, VP_EAUTH,
                                "sign-in failed: the redirect's state did not match (a stale or "
                                "forged answer); start the sign-in again");
            return LB_FAIL;
        }
    }
    if (has_err) {
        char e[64], d[LB_MSG_MAX], msg[LB_MSG_MAX + 80];
        param_text(qs, ql, "error", e, sizeof(e));
        param_text(qs, ql, "error_description", d, sizeof(d));
        snprintf(msg, sizeof(msg), "%s: %s", e, d);
        reply(cfd, 200, "Sign-in failed", msg);
    } else {
        reply(cfd, 200, "Signed in",
              "You are signed in to vaultplug. You can close this window and return to the "
              "terminal.");
    }
    if (has_code && call->hc != NULL && call->hc->log != NULL &&
        vp__url_query_get(qs, ql, "code", &v, NULL) == 0) {
        vp__log_mask(call->hc->log, v, strlen(v)); /* the provider unmasks it when done */
        vp__secmem_free(v);
    }
    *qs_out = qs;
    return LB_DONE;
}

int vp__loopback_wait(vp_loopback *l, vp_call *call, const char *state, char **query,
                      size_t *query_len)
{
    if (query == NULL || l == NULL || call == NULL) {
        if (query != NULL)
            *query = NULL;
        return VP_EINVAL;
    }
    *query = NULL;
    if (l->fd < 0)
        return vp__call_fail(call, VP_EINVAL,
                             "loopback listener: the redirect was already received; open a new "
                             "listener for another sign-in");
    char *req = vp__secmem_alloc(LB_REQ_MAX);
    if (req == NULL)
        return VP_ENOMEM;
    int rc = 0;
    for (;;) {
        if (vp__call_canceled(call)) {
            rc = vp__call_remaining_ms(call) == 0
                     ? vp__call_fail(call, VP_ETIMEDOUT,
                                     "sign-in: the browser did not come back in time")
                     : vp__call_fail(call, VP_ECANCELED, "sign-in canceled");
            break;
        }
        int64_t rem = vp__call_remaining_ms(call);
        if (rem == 0) {
            rc =
                vp__call_fail(call, VP_ETIMEDOUT, "sign-in: the browser did not come back in time");
            break;
        }
        struct pollfd p = {l->fd, POLLIN, 0};
        int slice = rem > 0 && rem < LB_SLICE_MS ? (int)rem : LB_SLICE_MS;
        if (poll(&p, 1, slice) <= 0)
            continue;
        int cfd = accept(l->fd, NULL, NULL);
        if (cfd < 0)
            continue;
        sodium_memzero(req, LB_REQ_MAX);
        if (read_head(cfd, req, LB_REQ_MAX) != 0) {
            close(cfd);
            continue;
        }
        const char *qs = NULL;
        lb_step st = handle(l, call, cfd, req, state, &rc, &qs);
        close(cfd);
        if (st == LB_AGAIN)
            continue;
        if (st == LB_DONE) {
            size_t ql = strlen(qs);
            char *copy = vp__secmem_alloc(ql + 1);
            if (copy == NULL) {
                rc = VP_ENOMEM;
            } else {
                memcpy(copy, qs, ql + 1);
                *query = copy;
                if (query_len != NULL)
                    *query_len = ql;
            }
        }
        /* One redirect per listener: later browser requests are refused by the kernel. */
        close(l->fd);
        l->fd = -1;
        break;
    }
    vp__secmem_free(req); /* wipes */
    return rc;
}
