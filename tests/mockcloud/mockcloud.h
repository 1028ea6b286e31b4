/*
 * mockcloud - a small HTTP(S) test server (libmicrohttpd) that tests use to emulate cloud
 * services: route handlers, run-time fault injection, request counters and a request log, and a
 * test CA generated at run time for HTTPS.
 *
 * One thread per connection: handlers may block (latency faults, slow bodies) without stalling
 * other clients. Every function is thread-safe. Cloud emulations (AWS, GCP, Vault, Azure) live
 * in further files of this library and register their routes with mc_route().
 */
#ifndef VP_MOCKCLOUD_H
#define VP_MOCKCLOUD_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#ifdef __cplusplus
extern "C" {
#endif

typedef struct mc_server mc_server;

#define MC_MAX_ROUTES       64
#define MC_MAX_FAULTS       16
#define MC_MAX_RESP_HEADERS 32
#define MC_MAX_REQ_BODY     ((size_t)8 * 1024 * 1024) /* larger uploads get 413 */
#define MC_LOG_CAP          4096 /* request log entries kept (oldest dropped) */
#define MC_LOG_HEADERS      8    /* headers recorded per log entry */

typedef struct mc_options {
    int tls;       /* serve HTTPS with a freshly generated test CA + server certificate */
    uint16_t port; /* 0 = ephemeral */
    /* Header names recorded in the request log (NULL-terminated, at most MC_LOG_HEADERS), e.g.
     * {"Authorization", "User-Agent", NULL}. NULL = none. The array is copied. */
    const char *const *log_headers;
    const char *ca_out; /* also write the CA PEM here (tls only); NULL = only the temp dir */
    /* Memory per connection (request headers + body buffer); 0 = 256 KiB, which large-header
     * tests need. Benchmarks opening many connections use less so the mock costs less CPU. */
    size_t conn_memory;
} mc_options;

/* Start a server on 127.0.0.1. NULL on failure (reason printed to stderr). With opt->tls and a
 * libmicrohttpd built without TLS, fails: check mc_tls_supported() first. */
mc_server *mc_start(const mc_options *opt);
/* Stop (waits for connection threads) and free; removes the temp CA dir. NULL-safe. */
void mc_stop(mc_server *srv);
uint16_t mc_port(const mc_server *srv);
/* "http://127.0.0.1:PORT" or "https://127.0.0.1:PORT"; owned by the server. */
const char *mc_url(const mc_server *srv);
/* Path of the test CA's PEM file (tls servers), else NULL. Owned by the server. */
const char *mc_ca_file(const mc_server *srv);
/* Non-zero if libmicrohttpd supports TLS. */
int mc_tls_supported(void);

/* ---- requests and responses ---------------------------------------------------------------- */

typedef struct mc_request {
    const char *method;
    const char *path;  /* decoded path without the query */
    const char *query; /* raw query string after '?', "" when none */
    const char *uri;   /* raw request target as received */
    const char *body;  /* NUL-terminated for convenience */
    size_t body_len;
    void *internal_; /* do not touch */
} mc_request;

/* Request header value (case-insensitive name), or NULL. */
const char *mc_req_header(const mc_request *req, const char *name);
/* Decoded query parameter, or NULL. */
const char *mc_req_query(const mc_request *req, const char *name);
/* Call fn for every request header in the order received (names as sent; a repeated header is
 * reported once per occurrence). Stops early when fn returns non-zero. Returns the number of
 * headers visited. For signature verification (SigV4 signs a chosen set of headers). */
typedef int (*mc_header_fn)(void *ud, const char *name, const char *value);
size_t mc_req_header_foreach(const mc_request *req, mc_header_fn fn, void *ud);

typedef struct mc_response {
    int status; /* default 200 */
    struct {
        char *name, *value;
    } headers[MC_MAX_RESP_HEADERS];
    size_t n_headers;
    char *body; /* malloc'd; set with mc_resp_body* */
    size_t body_len;
} mc_response;

/* Add a response header (copied). 0, or -1 when full / out of memory. */
int mc_resp_header(mc_response *resp, const char *name, const char *value);
/* Replace the body with a copy of data[0..len). 0 or -1. */
int mc_resp_body(mc_response *resp, const void *data, size_t len);
int mc_resp_bodyf(mc_response *resp, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* Status + Content-Type: application/json + formatted body. */
int mc_resp_json(mc_response *resp, int status, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* Fills resp for req. Runs on the connection's thread; may block. */
typedef void (*mc_handler)(void *ud, const mc_request *req, mc_response *resp);

/* Route requests whose method equals `method` (NULL or "*" = any) and whose path starts with
 * `path_prefix` to handler; the longest matching prefix wins. Returns a route id (>= 0) for
 * mc_route_count, or -1 when the table is full. Routes may be added while serving. */
int mc_route(mc_server *srv, const char *method, const char *path_prefix, mc_handler handler,
             void *ud);

/* ---- fault injection ------------------------------------------------------------------------ */

typedef enum mc_fault_kind {
    MC_FAULT_LATENCY = 1, /* wait latency_ms, then answer normally */
    MC_FAULT_STATUS,      /* answer `status` (429, 503...) with Retry-After if retry_after_s */
    MC_FAULT_RESET,       /* close the connection (RST) without a response */
    MC_FAULT_TRUNCATE,    /* the normal response, but Content-Length claims `size` (default 64)
                             more bytes than are sent, then the connection closes */
    MC_FAULT_OVERSIZE,    /* 200 with a chunked body of `size` bytes of 'x' */
    MC_FAULT_GARBAGE,     /* 200 (or `status`), Content-Type JSON, body is not JSON */
    MC_FAULT_SLOW_BODY    /* the normal response, one byte every latency_ms */
} mc_fault_kind;

typedef struct mc_fault {
    mc_fault_kind kind;
    const char *path_prefix; /* only requests under this path (copied); NULL = all */
    unsigned count;          /* apply to the next `count` matching requests; 0 = until cleared */
    unsigned latency_ms;     /* LATENCY: delay; SLOW_BODY: delay per byte; others: extra delay
                                before acting */
    int status;              /* STATUS / GARBAGE */
    unsigned retry_after_s;  /* STATUS: Retry-After value; 0 = no header */
    size_t size;             /* OVERSIZE / TRUNCATE */
} mc_fault;

/* Add a fault (the first active matching fault applies to a request). 0 or -1 when full. */
int mc_fault_add(mc_server *srv, const mc_fault *fault);
void mc_fault_clear(mc_server *srv);

/* ---- counters and request log --------------------------------------------------------------- */

uint64_t mc_count_total(const mc_server *srv);
uint64_t mc_route_count(const mc_server *srv, int route_id);
/* TCP connections accepted so far (connection reuse checks). */
uint64_t mc_connections(const mc_server *srv);
/* Zero all counters and clear the request log. */
void mc_reset_counters(mc_server *srv);

typedef struct mc_log_entry {
    char method[16];
    char path[256];
    char query[512];
    int status; /* status sent; 0 when the connection was reset */
    size_t body_len;
    size_t n_headers;
    struct {
        char name[64];
        char value[512]; /* "" when absent */
    } headers[MC_LOG_HEADERS];
} mc_log_entry;

/* Append "METHOD PATH" of every request any server of this process receives to f (flushed per
 * line; NULL stops). For tests that run the mock cloud as a separate process. */
void mc_trace_to(FILE *f);

/* Entries currently in the log (oldest first after the cap drops entries). */
size_t mc_log_count(const mc_server *srv);
/* Copy entry i; 0, or -1 if out of range. */
int mc_log_get(const mc_server *srv, size_t i, mc_log_entry *out);
/* Value of a recorded header of an entry: NULL if that name is not recorded (see
 * mc_options.log_headers), "" if the request did not carry it. */
const char *mc_log_header(const mc_log_entry *e, const char *name);

/* ---- TLS helpers ------------------------------------------------------------------------------
 */

/* Generate a fresh self-signed CA (EC P-256) unrelated to any server, write its PEM to a new
 * temporary directory and put the file's path in path (capacity cap). 0 or -1. Remove with
 * mc_tls_remove_ca_file. For "unknown CA is rejected" tests. */
int mc_tls_unrelated_ca_file(char *path, size_t cap);
void mc_tls_remove_ca_file(const char *path);

#ifdef __cplusplus
}
#endif
#endif
