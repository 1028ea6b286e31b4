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
 *   'F' str uri (no #key), u32 timeout_ms         -> i32 status, str message, secret value,
 *                                                    u32 ttl_s, i64 expiry_unix_ms, str version
 *   'V' str credential, u32 timeout_ms            -> i32 status, str message
 */
#ifndef VP_ISOPROTO_H
#define VP_ISOPROTO_H

#include <errno.h>
#include <poll.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#define VPI_INIT     'I'
#define VPI_CRED     'C'
#define VPI_FETCH    'F'
#define VPI_VALIDATE 'V'

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
} vpi_io;

static inline int64_t vpi_now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static inline int vpi_write(vpi_io *io, const void *p, size_t n)
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
