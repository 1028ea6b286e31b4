/*
 * isoproto - the pipe protocol between the host and vaultplug-provider-host, the helper
 * process that runs one provider when isolate_providers is on (docs/design.md, "Isolated
 * providers"). Shared by isolate.c (host side) and core/helper/provider_host.c.
 *
 * A request is an op byte and its fields; a reply is its fields. Fields: u8, u32 and i64 in
 * host byte order (both ends are the same machine and build), and strings as a u32 length and
 * the bytes (no NUL). Secret strings (credential values, fetched values) are read straight
 * into secure memory and written straight from it: they are never in a plain buffer.
 *
 *   'I' str ca_file, str ca_path, secret proxy   -> i32 status, str message
 *       (first, once: the helper makes its context with these HTTP options, then inits)
 *   'C' str name, str type, u32 n, n x (str key, secret value)
 *                                                 -> i32 status, str message
 *   'F' u32 timeout_ms, the reference view:       -> i32 status, str message, secret value,
 *       u8 present (VPI_REF_* bits: which of the     u32 ttl_s, i64 expiry_unix_ms, str version,
 *       strings are set), str uri, str scheme,       u32 retry_after_ms, u8 inputs_known,
 *       str credential, str path, str json_key,      u32 n, n x str input
 *       u32 n, n x (str key, str value), str config (the three-argument form's JSON)
 *       (the provider sees the view it would see in process; #key extraction stays with the
 *       host. The inputs are what the provider has read in this helper through getenv and
 *       read_file, "e:NAME" and "f:PATH" (inputs.h); inputs_known 0 when they are not all
 *       known: the host then never persists the provider's values)
 *   'V' str credential, u32 timeout_ms            -> i32 status, str message
 *   'L' str credential, str prefix, u32 timeout_ms
 *                                                 -> i32 status, str message, u32 n,
 *                                                    n x str name (names only, never values)
 */
#ifndef VP_ISOPROTO_H
#define VP_ISOPROTO_H

#include <errno.h>
#include <poll.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#define VPI_INIT     'I'
#define VPI_CRED     'C'
#define VPI_FETCH    'F'
#define VPI_VALIDATE 'V'
#define VPI_LIST     'L'

/* Which strings of a fetch request's reference view are set (an unset one is sent as ""). */
#define VPI_REF_URI        (1u << 0)
#define VPI_REF_SCHEME     (1u << 1)
#define VPI_REF_CRED       (1u << 2)
#define VPI_REF_PATH       (1u << 3)
#define VPI_REF_JSON_KEY   (1u << 4)
#define VPI_REF_CONFIG     (1u << 5)
#define VPI_REF_PARAMS_MAX 64u

#define VPI_STR_MAX    (64u * 1024)        /* names, URIs, messages, versions */
#define VPI_SECRET_MAX (16u * 1024 * 1024) /* = VP__SECRET_MAX */

/* The helper's executable name, installed in ${libdir}/vaultplug/ next to providers-1. */
#define VPI_HELPER_NAME "vaultplug-provider-host"
/* The helper's end of the socket pair (stdin is /dev/null, stdout is stderr). */
#define VPI_HELPER_FD 3

/* Read/write side of one connection. deadline: CLOCK_MONOTONIC ms, -1 = none. */
typedef struct vpi_io {
    int fd;
    int64_t deadline;
    int eof; /* the peer closed or the deadline passed (timed_out says which) */
    int timed_out;
    /* Between vpi_buffer and vpi_flush, writes of non-secret fields collect here and go out
     * in one send (a request of many small fields costs one wake-up of the peer). Never for
     * secrets. */
    char *wbuf;
    size_t wlen, wcap;
} vpi_io;

static inline int64_t vpi_now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static inline int vpi_send(vpi_io *io, const void *p, size_t n)
{
    const char *b = p;
    while (n > 0) {
        ssize_t w = send(io->fd, b, n, MSG_NOSIGNAL);
        if (w < 0 && errno == EINTR)
            continue;
        if (w < 0 && errno == ENOTSOCK)
            w = write(io->fd, b, n);
        if (w <= 0) {
            io->eof = 1;
            return -1;
        }
        b += w;
        n -= (size_t)w;
    }
    return 0;
}

/* Send what vpi_buffer collected; writes go straight out again. */
static inline int vpi_flush(vpi_io *io)
{
    char *b = io->wbuf;
    size_t n = io->wlen;
    io->wbuf = NULL;
    io->wlen = io->wcap = 0;
    int rc = n > 0 ? vpi_send(io, b, n) : 0;
    free(b);
    return rc;
}

/* Collect the following (non-secret) writes until vpi_flush. Without memory, they are sent as
 * they come: slower, not wrong. */
static inline void vpi_buffer(vpi_io *io)
{
    io->wbuf = malloc(512);
    io->wlen = 0;
    io->wcap = io->wbuf != NULL ? 512 : 0;
}

static inline int vpi_write(vpi_io *io, const void *p, size_t n)
{
    if (io->wbuf == NULL)
        return vpi_send(io, p, n);
    if (io->wcap - io->wlen < n) {
        size_t cap = io->wcap;
        while (cap - io->wlen < n && cap < ((size_t)1 << 30))
            cap *= 2;
        char *nb = cap - io->wlen >= n ? realloc(io->wbuf, cap) : NULL;
        if (nb == NULL)
            return vpi_flush(io) != 0 ? -1 : vpi_send(io, p, n);
        io->wbuf = nb;
        io->wcap = cap;
    }
    memcpy(io->wbuf + io->wlen, p, n);
    io->wlen += n;
    return 0;
}

static inline int vpi_read(vpi_io *io, void *p, size_t n)
{
    char *b = p;
    while (n > 0) {
        if (io->deadline >= 0) {
            int64_t left = io->deadline - vpi_now_ms();
            struct pollfd pf = {io->fd, POLLIN, 0};
            int r = left > 0 ? poll(&pf, 1, (int)(left > 60000 ? 60000 : left)) : 0;
            if (r < 0 && errno == EINTR)
                continue;
            if (r == 0 && vpi_now_ms() >= io->deadline) {
                io->eof = io->timed_out = 1;
                return -1;
            }
            if (r <= 0)
                continue;
        }
        ssize_t got = read(io->fd, b, n);
        if (got < 0 && errno == EINTR)
            continue;
        if (got <= 0) {
            io->eof = 1;
            return -1;
        }
        b += got;
        n -= (size_t)got;
    }
    return 0;
}

static inline int vpi_put_u32(vpi_io *io, uint32_t v)
{
    return vpi_write(io, &v, sizeof(v));
}
static inline int vpi_put_i64(vpi_io *io, int64_t v)
{
    return vpi_write(io, &v, sizeof(v));
}
static inline int vpi_put_str(vpi_io *io, const char *s, size_t n)
{
    if (vpi_put_u32(io, (uint32_t)n) != 0)
        return -1;
    return n ? vpi_write(io, s, n) : 0;
}
static inline int vpi_get_u32(vpi_io *io, uint32_t *v)
{
    return vpi_read(io, v, sizeof(*v));
}
static inline int vpi_get_i64(vpi_io *io, int64_t *v)
{
    return vpi_read(io, v, sizeof(*v));
}
/* A string of at most max bytes into mem from alloc (NUL-terminated); *len its length. */
static inline int vpi_get_str(vpi_io *io, size_t max, void *(*alloc)(size_t), char **out,
                              size_t *len)
{
    uint32_t n = 0;
    *out = NULL;
    if (vpi_get_u32(io, &n) != 0 || n > max) {
        io->eof = 1;
        return -1;
    }
    char *s = alloc((size_t)n + 1);
    if (s == NULL)
        return -2;
    if (n > 0 && vpi_read(io, s, n) != 0) {
        *out = s; /* the caller frees it the way it allocated it */
        return -1;
    }
    s[n] = '\0';
    *out = s;
    if (len != NULL)
        *len = n;
    return 0;
}

#endif
