/*
 * mockcloud - see mockcloud.h. The server core: daemon lifetime, routing, faults, counters and
 * the request log.
 */
#include "mc_internal.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <microhttpd.h>

typedef struct route {
    char method[16]; /* "" = any */
    char prefix[256];
    size_t plen;
    mc_handler fn;
    void *ud;
    atomic_uint_fast64_t count;
} route;

typedef struct fault_slot {
    int active;
    mc_fault f;
    char prefix[256];
    unsigned remaining; /* 0 with f.count == 0: unlimited */
} fault_slot;

struct mc_server {
    struct MHD_Daemon *daemon;
    uint16_t port;
    char url[64];
    char ca_file[512];
    char *ca_pem, *key_pem, *cert_pem;
    pthread_mutex_t mu; /* routes (append), faults, request log */
    route routes[MC_MAX_ROUTES];
    atomic_size_t n_routes;
    fault_slot faults[MC_MAX_FAULTS];
    char log_headers[MC_LOG_HEADERS][64];
    size_t n_log_headers;
    mc_log_entry *log; /* ring of MC_LOG_CAP */
    size_t log_start, log_len;
    atomic_uint_fast64_t total;
    atomic_uint_fast64_t connections;
    atomic_int stopping;
};

/* Per-request state, created by the URI log callback (before headers are parsed). */
typedef struct reqctx {
    char *uri;
    char *body;
    size_t body_len, body_cap;
    int started;
    int too_large;
} reqctx;

/* Body producer for callback responses (truncated, slow, oversize). */
typedef struct producer {
    mc_server *srv;
    char *data;        /* NULL: generate 'x' */
    size_t len;        /* bytes actually produced */
    unsigned delay_ms; /* per call */
    int fail_at_end;   /* END_WITH_ERROR after len bytes (truncation) */
} producer;

/* ---------------------------------------------------------------------------------------------
 * small helpers
 * ------------------------------------------------------------------------------------------- */

static void copy_str(char *dst, size_t cap, const char *src)
{
    snprintf(dst, cap, "%s", src ? src : "");
}

/* Sleep ms, waking early when the server stops (so mc_stop never waits for a long fault). */
static void nap(mc_server *srv, unsigned ms)
{
    while (ms > 0 && !atomic_load(&srv->stopping)) {
        unsigned step = ms < 10 ? ms : 10;
        struct timespec ts = {0, (long)step * 1000000L};
        while (nanosleep(&ts, &ts) != 0 && errno == EINTR) {
        }
        ms -= step;
    }
}

static void quiet_logger(void *cls, const char *fmt, va_list ap)
    __attribute__((format(printf, 2, 0)));

static void quiet_logger(void *cls, const char *fmt, va_list ap)
{
    /* MHD reports every client that hangs up early; tests provoke that on purpose. */
    if (getenv("MC_DEBUG") != NULL)
        vfprintf(stderr, fmt, ap);
}

int mc_tls_supported(void)
{
    return MHD_is_feature_supported(MHD_FEATURE_TLS) == MHD_YES;
}

/* ---------------------------------------------------------------------------------------------
 * responses
 * ------------------------------------------------------------------------------------------- */

int mc_resp_header(mc_response *resp, const char *name, const char *value)
{
    if (resp->n_headers >= MC_MAX_RESP_HEADERS)
        return -1;
    char *n = strdup(name), *v = strdup(value);
    if (n == NULL || v == NULL) {
        free(n);
        free(v);
        return -1;
    }
    resp->headers[resp->n_headers].name = n;
    resp->headers[resp->n_headers].value = v;
    resp->n_headers++;
    return 0;
}

int mc_resp_body(mc_response *resp, const void *data, size_t len)
{
    char *b = malloc(len + 1);
    if (b == NULL)
        return -1;
    if (len)
        memcpy(b, data, len);
    b[len] = '\0';
    free(resp->body);
    resp->body = b;
    resp->body_len = len;
    return 0;
}

static int resp_vbodyf(mc_response *resp, const char *fmt, va_list ap)
    __attribute__((format(printf, 2, 0)));

static int resp_vbodyf(mc_response *resp, const char *fmt, va_list ap)
{
    va_list ap2;
    va_copy(ap2, ap);
    int n = vsnprintf(NULL, 0, fmt, ap2);
    va_end(ap2);
    if (n < 0)
        return -1;
    char *b = malloc((size_t)n + 1);
    if (b == NULL)
        return -1;
    vsnprintf(b, (size_t)n + 1, fmt, ap);
    free(resp->body);
    resp->body = b;
    resp->body_len = (size_t)n;
    return 0;
}

int mc_resp_bodyf(mc_response *resp, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    int rc = resp_vbodyf(resp, fmt, ap);
    va_end(ap);
    return rc;
}

int mc_resp_json(mc_response *resp, int status, const char *fmt, ...)
{
    resp->status = status;
    if (mc_resp_header(resp, "Content-Type", "application/json") != 0)
        return -1;
    va_list ap;
    va_start(ap, fmt);
    int rc = resp_vbodyf(resp, fmt, ap);
    va_end(ap);
    return rc;
}

static void resp_clear(mc_response *resp)
{
    for (size_t i = 0; i < resp->n_headers; i++) {
        free(resp->headers[i].name);
        free(resp->headers[i].value);
    }
    free(resp->body);
    memset(resp, 0, sizeof(*resp));
}

static ssize_t produce(void *cls, uint64_t pos, char *buf, size_t max)
{
    producer *p = cls;
    if (pos >= p->len)
        return p->fail_at_end ? MHD_CONTENT_READER_END_WITH_ERROR
                              : MHD_CONTENT_READER_END_OF_STREAM;
    if (p->delay_ms) {
        nap(p->srv, p->delay_ms);
        if (atomic_load(&p->srv->stopping))
            return MHD_CONTENT_READER_END_WITH_ERROR;
        max = 1;
    }
    size_t n = p->len - (size_t)pos;
    if (n > max)
        n = max;
    if (p->data != NULL)
        memcpy(buf, p->data + pos, n);
    else
        memset(buf, 'x', n);
    return (ssize_t)n;
}

static void producer_free(void *cls)
{
    producer *p = cls;
    free(p->data);
    free(p);
}

/* ---------------------------------------------------------------------------------------------
 * request log, routes, faults
 * ------------------------------------------------------------------------------------------- */

static void log_request(mc_server *srv, struct MHD_Connection *c, const mc_request *rq, int status)
{
    pthread_mutex_lock(&srv->mu);
    size_t idx;
    if (srv->log_len < MC_LOG_CAP) {
        idx = (srv->log_start + srv->log_len) % MC_LOG_CAP;
        srv->log_len++;
    } else {
        idx = srv->log_start;
        srv->log_start = (srv->log_start + 1) % MC_LOG_CAP;
    }
    mc_log_entry *e = &srv->log[idx];
    memset(e, 0, sizeof(*e));
    copy_str(e->method, sizeof(e->method), rq->method);
    copy_str(e->path, sizeof(e->path), rq->path);
    copy_str(e->query, sizeof(e->query), rq->query);
    e->status = status;
    e->body_len = rq->body_len;
    e->n_headers = srv->n_log_headers;
    for (size_t i = 0; i < srv->n_log_headers; i++) {
        copy_str(e->headers[i].name, sizeof(e->headers[i].name), srv->log_headers[i]);
        const char *v = MHD_lookup_connection_value(c, MHD_HEADER_KIND, srv->log_headers[i]);
        copy_str(e->headers[i].value, sizeof(e->headers[i].value), v);
    }
    pthread_mutex_unlock(&srv->mu);
}

static route *find_route(mc_server *srv, const char *method, const char *path)
{
    route *best = NULL;
    size_t n = atomic_load(&srv->n_routes);
    for (size_t i = 0; i < n; i++) {
        route *r = &srv->routes[i];
        /* HEAD is served by GET routes, as real servers do (MHD drops the body). */
        if (r->method[0] != '\0' && strcmp(r->method, method) != 0 &&
            !(strcmp(method, "HEAD") == 0 && strcmp(r->method, "GET") == 0))
            continue;
        if (strncmp(path, r->prefix, r->plen) != 0)
            continue;
        if (best == NULL || r->plen > best->plen)
            best = r;
    }
    return best;
}

int mc_route(mc_server *srv, const char *method, const char *path_prefix, mc_handler handler,
             void *ud)
{
    if (srv == NULL || path_prefix == NULL || handler == NULL)
        return -1;
    pthread_mutex_lock(&srv->mu);
    size_t n = atomic_load(&srv->n_routes);
    if (n >= MC_MAX_ROUTES || strlen(path_prefix) >= sizeof(srv->routes[0].prefix)) {
        pthread_mutex_unlock(&srv->mu);
        return -1;
    }
    route *r = &srv->routes[n];
    copy_str(r->method, sizeof(r->method), method && strcmp(method, "*") != 0 ? method : "");
    copy_str(r->prefix, sizeof(r->prefix), path_prefix);
    r->plen = strlen(r->prefix);
    r->fn = handler;
    r->ud = ud;
    atomic_init(&r->count, 0);
    /* Published last: readers scan up to n_routes without the lock. */
    atomic_store(&srv->n_routes, n + 1);
    pthread_mutex_unlock(&srv->mu);
    return (int)n;
}

int mc_fault_add(mc_server *srv, const mc_fault *fault)
{
    if (srv == NULL || fault == NULL)
        return -1;
    if (fault->path_prefix && strlen(fault->path_prefix) >= sizeof(srv->faults[0].prefix))
        return -1;
    pthread_mutex_lock(&srv->mu);
    for (size_t i = 0; i < MC_MAX_FAULTS; i++) {
        fault_slot *s = &srv->faults[i];
        if (s->active)
            continue;
        s->active = 1;
        s->f = *fault;
        copy_str(s->prefix, sizeof(s->prefix), fault->path_prefix);
        s->f.path_prefix = NULL;
        s->remaining = fault->count;
        pthread_mutex_unlock(&srv->mu);
        return 0;
    }
    pthread_mutex_unlock(&srv->mu);
    return -1;
}

void mc_fault_clear(mc_server *srv)
{
    if (srv == NULL)
        return;
    pthread_mutex_lock(&srv->mu);
    memset(srv->faults, 0, sizeof(srv->faults));
    pthread_mutex_unlock(&srv->mu);
}

/* Take the first active fault matching path (consuming one use). 1 if *out was set. */
static int take_fault(mc_server *srv, const char *path, mc_fault *out)
{
    int found = 0;
    pthread_mutex_lock(&srv->mu);
    for (size_t i = 0; i < MC_MAX_FAULTS && !found; i++) {
        fault_slot *s = &srv->faults[i];
        if (!s->active || strncmp(path, s->prefix, strlen(s->prefix)) != 0)
            continue;
        *out = s->f;
        found = 1;
        if (s->f.count > 0 && --s->remaining == 0)
            s->active = 0;
    }
    pthread_mutex_unlock(&srv->mu);
    return found;
}

/* ---------------------------------------------------------------------------------------------
 * MHD callbacks
 * ------------------------------------------------------------------------------------------- */

static void *on_uri(void *cls, const char *uri, struct MHD_Connection *c)
{
    reqctx *rc = calloc(1, sizeof(*rc));
    if (rc != NULL)
        rc->uri = strdup(uri ? uri : "");
    return rc;
}

static void on_completed(void *cls, struct MHD_Connection *c, void **req_cls,
                         enum MHD_RequestTerminationCode toe)
{
    reqctx *rc = *req_cls;
    if (rc == NULL)
        return;
    free(rc->uri);
    free(rc->body);
    free(rc);
    *req_cls = NULL;
}

static void on_connection(void *cls, struct MHD_Connection *c, void **socket_context,
                          enum MHD_ConnectionNotificationCode toe)
{
    mc_server *srv = cls;
    if (toe == MHD_CONNECTION_NOTIFY_STARTED)
        atomic_fetch_add(&srv->connections, 1);
}

static enum MHD_Result send_plain(struct MHD_Connection *c, int status, const char *ctype,
                                  const char *body)
{
    struct MHD_Response *r =
        MHD_create_response_from_buffer(strlen(body), (void *)body, MHD_RESPMEM_MUST_COPY);
    if (r == NULL)
        return MHD_NO;
    if (ctype)
        MHD_add_response_header(r, MHD_HTTP_HEADER_CONTENT_TYPE, ctype);
    enum MHD_Result ret = MHD_queue_response(c, (unsigned)status, r);
    MHD_destroy_response(r);
    return ret;
}

static const char not_found_html[] =
    "<!DOCTYPE html>\n<html><head><title>404 Not Found</title></head>\n"
    "<body><h1>Not Found</h1><p>The requested URL was not found on this server.</p></body>"
    "</html>\n";

static void default_handler(void *ud, const mc_request *req, mc_response *resp)
{
    resp->status = 404;
    mc_resp_header(resp, "Content-Type", "text/html; charset=utf-8");
    mc_resp_body(resp, not_found_html, sizeof(not_found_html) - 1);
}

/* The process-wide request trace (mc_trace_to): one line per request, for tests that run the
 * mock as a separate process and must know whether a command asked it anything. */
static FILE *trace_file;
static pthread_mutex_t trace_mu = PTHREAD_MUTEX_INITIALIZER;

void mc_trace_to(FILE *f)
{
    pthread_mutex_lock(&trace_mu);
    trace_file = f;
    pthread_mutex_unlock(&trace_mu);
}

static void trace_request(const char *method, const char *url)
{
    pthread_mutex_lock(&trace_mu);
    if (trace_file != NULL) {
        fprintf(trace_file, "%s %s\n", method, url);
        fflush(trace_file);
    }
    pthread_mutex_unlock(&trace_mu);
}

static enum MHD_Result on_access(void *cls, struct MHD_Connection *c, const char *url,
                                 const char *method, const char *version, const char *upload_data,
                                 size_t *upload_size, void **req_cls)
{
    mc_server *srv = cls;
    reqctx *rc = *req_cls;
    if (rc == NULL || rc->uri == NULL)
        return MHD_NO;
    if (!rc->started) {
        rc->started = 1;
        return MHD_YES;
    }
    if (*upload_size != 0) {
        size_t n = *upload_size;
        *upload_size = 0;
        if (rc->too_large || n > MC_MAX_REQ_BODY - rc->body_len) {
            rc->too_large = 1;
            return MHD_YES;
        }
        if (rc->body_len + n + 1 > rc->body_cap) {
            size_t cap = rc->body_cap ? rc->body_cap : 4096;
            while (cap < rc->body_len + n + 1)
                cap *= 2;
            char *b = realloc(rc->body, cap);
            if (b == NULL)
                return MHD_NO;
            rc->body = b;
            rc->body_cap = cap;
        }
        memcpy(rc->body + rc->body_len, upload_data, n);
        rc->body_len += n;
        rc->body[rc->body_len] = '\0';
        return MHD_YES;
    }

    /* The whole request is here. */
    atomic_fetch_add(&srv->total, 1);
    trace_request(method, url);
    const char *q = strchr(rc->uri, '?');
    mc_request rq = {
        .method = method,
        .path = url,
        .query = q ? q + 1 : "",
        .uri = rc->uri,
        .body = rc->body ? rc->body : "",
        .body_len = rc->body_len,
        .internal_ = c,
    };
    if (rc->too_large) {
        log_request(srv, c, &rq, 413);
        return send_plain(c, 413, "text/plain", "request body too large\n");
    }

    mc_fault f = {0};
    int faulty = take_fault(srv, url, &f);
    if (faulty && f.latency_ms && f.kind != MC_FAULT_SLOW_BODY)
        nap(srv, f.latency_ms);
    if (atomic_load(&srv->stopping))
        return MHD_NO;

    if (faulty) {
        switch (f.kind) {
        case MC_FAULT_RESET: {
            const union MHD_ConnectionInfo *ci =
                MHD_get_connection_info(c, MHD_CONNECTION_INFO_CONNECTION_FD);
            if (ci != NULL) {
                /* Linger 0: close() sends a RST instead of a FIN. */
                struct linger lg = {1, 0};
                setsockopt(ci->connect_fd, SOL_SOCKET, SO_LINGER, &lg, sizeof(lg));
            }
            log_request(srv, c, &rq, 0);
            return MHD_NO;
        }
        case MC_FAULT_STATUS: {
            int st = f.status ? f.status : 503;
            char body[128];
            snprintf(body, sizeof(body), "{\"error\":\"injected fault\",\"status\":%d}", st);
            struct MHD_Response *r =
                MHD_create_response_from_buffer(strlen(body), body, MHD_RESPMEM_MUST_COPY);
            if (r == NULL)
                return MHD_NO;
            MHD_add_response_header(r, MHD_HTTP_HEADER_CONTENT_TYPE, "application/json");
            if (f.retry_after_s) {
                char ra[32];
                snprintf(ra, sizeof(ra), "%u", f.retry_after_s);
                MHD_add_response_header(r, MHD_HTTP_HEADER_RETRY_AFTER, ra);
            }
            log_request(srv, c, &rq, st);
            enum MHD_Result ret = MHD_queue_response(c, (unsigned)st, r);
            MHD_destroy_response(r);
            return ret;
        }
        case MC_FAULT_OVERSIZE: {
            producer *p = calloc(1, sizeof(*p));
            if (p == NULL)
                return MHD_NO;
            p->srv = srv;
            p->len = f.size ? f.size : (size_t)4 * 1024 * 1024;
            struct MHD_Response *r = MHD_create_response_from_callback(MHD_SIZE_UNKNOWN, 16384,
                                                                       produce, p, producer_free);
            if (r == NULL) {
                free(p);
                return MHD_NO;
            }
            MHD_add_response_header(r, MHD_HTTP_HEADER_CONTENT_TYPE, "application/json");
            log_request(srv, c, &rq, 200);
            enum MHD_Result ret = MHD_queue_response(c, 200, r);
            MHD_destroy_response(r);
            return ret;
        }
        case MC_FAULT_GARBAGE: {
            int st = f.status ? f.status : 200;
            log_request(srv, c, &rq, st);
            return send_plain(c, st, "application/json",
                              "<html>\x01\x02 this is {not \"json\": [at all\n");
        }
        default:
            break; /* LATENCY done above; TRUNCATE / SLOW_BODY shape the normal response */
        }
    }

    mc_response resp;
    memset(&resp, 0, sizeof(resp));
    resp.status = 200;
    route *rt = find_route(srv, method, url);
    if (rt != NULL) {
        atomic_fetch_add(&rt->count, 1);
        rt->fn(rt->ud, &rq, &resp);
    } else {
        default_handler(NULL, &rq, &resp);
    }

    struct MHD_Response *r = NULL;
    if (faulty && (f.kind == MC_FAULT_TRUNCATE || f.kind == MC_FAULT_SLOW_BODY)) {
        producer *p = calloc(1, sizeof(*p));
        if (p == NULL) {
            resp_clear(&resp);
            return MHD_NO;
        }
        p->srv = srv;
        p->data = resp.body;
        p->len = resp.body_len;
        resp.body = NULL;
        uint64_t declared = p->len;
        if (f.kind == MC_FAULT_TRUNCATE) {
            declared += f.size ? f.size : 64;
            p->fail_at_end = 1;
        } else {
            p->delay_ms = f.latency_ms ? f.latency_ms : 50;
        }
        r = MHD_create_response_from_callback(declared, 4096, produce, p, producer_free);
        if (r == NULL)
            producer_free(p);
    } else {
        r = MHD_create_response_from_buffer(resp.body_len, resp.body ? resp.body : (void *)"",
                                            MHD_RESPMEM_MUST_COPY);
    }
    if (r == NULL) {
        resp_clear(&resp);
        return MHD_NO;
    }
    for (size_t i = 0; i < resp.n_headers; i++)
        MHD_add_response_header(r, resp.headers[i].name, resp.headers[i].value);
    int status = resp.status ? resp.status : 200;
    log_request(srv, c, &rq, status);
    enum MHD_Result ret = MHD_queue_response(c, (unsigned)status, r);
    MHD_destroy_response(r);
    resp_clear(&resp);
    return ret;
}

/* ---------------------------------------------------------------------------------------------
 * request accessors
 * ------------------------------------------------------------------------------------------- */

const char *mc_req_header(const mc_request *req, const char *name)
{
    return MHD_lookup_connection_value((struct MHD_Connection *)req->internal_, MHD_HEADER_KIND,
                                       name);
}

const char *mc_req_query(const mc_request *req, const char *name)
{
    return MHD_lookup_connection_value((struct MHD_Connection *)req->internal_,
                                       MHD_GET_ARGUMENT_KIND, name);
}

struct header_walk {
    mc_header_fn fn;
    void *ud;
    size_t n;
    int stop;
};

static enum MHD_Result header_walk_cb(void *cls, enum MHD_ValueKind kind, const char *key,
                                      const char *value)
{
    struct header_walk *w = cls;
    (void)kind;
    if (w->stop)
        return MHD_NO;
    w->n++;
    if (w->fn(w->ud, key, value != NULL ? value : "") != 0) {
        w->stop = 1;
        return MHD_NO;
    }
    return MHD_YES;
}

size_t mc_req_header_foreach(const mc_request *req, mc_header_fn fn, void *ud)
{
    struct header_walk w = {fn, ud, 0, 0};
    if (fn == NULL)
        return 0;
    MHD_get_connection_values((struct MHD_Connection *)req->internal_, MHD_HEADER_KIND,
                              header_walk_cb, &w);
    return w.n;
}

/* ---------------------------------------------------------------------------------------------
 * lifetime
 * ------------------------------------------------------------------------------------------- */

static void server_free(mc_server *srv)
{
    if (srv->ca_file[0] != '\0')
        mc_tls_remove_ca_file(srv->ca_file);
    free(srv->ca_pem);
    free(srv->key_pem);
    free(srv->cert_pem);
    free(srv->log);
    pthread_mutex_destroy(&srv->mu);
    free(srv);
}

mc_server *mc_start(const mc_options *opt)
{
    mc_options defaults;
    memset(&defaults, 0, sizeof(defaults));
    if (opt == NULL)
        opt = &defaults;
    mc_server *srv = calloc(1, sizeof(*srv));
    if (srv == NULL)
        return NULL;
    pthread_mutex_init(&srv->mu, NULL);
    srv->log = calloc(MC_LOG_CAP, sizeof(*srv->log));
    if (srv->log == NULL) {
        server_free(srv);
        return NULL;
    }
    for (size_t i = 0; opt->log_headers && opt->log_headers[i] && i < MC_LOG_HEADERS; i++) {
        copy_str(srv->log_headers[i], sizeof(srv->log_headers[i]), opt->log_headers[i]);
        srv->n_log_headers++;
    }
    unsigned flags = MHD_USE_THREAD_PER_CONNECTION | MHD_USE_INTERNAL_POLLING_THREAD |
                     MHD_USE_POLL | MHD_USE_ITC | MHD_USE_ERROR_LOG;
    if (opt->tls) {
        if (!mc_tls_supported()) {
            fprintf(stderr, "mockcloud: libmicrohttpd was built without TLS support\n");
            server_free(srv);
            return NULL;
        }
        if (mc__tls_make(&srv->ca_pem, &srv->key_pem, &srv->cert_pem) != 0 ||
            mc__write_temp_pem(srv->ca_pem, srv->ca_file, sizeof(srv->ca_file)) != 0) {
            fprintf(stderr, "mockcloud: cannot generate the test PKI\n");
            srv->ca_file[0] = '\0';
            server_free(srv);
            return NULL;
        }
        if (opt->ca_out && mc__write_file(opt->ca_out, srv->ca_pem) != 0) {
            fprintf(stderr, "mockcloud: cannot write %s\n", opt->ca_out);
            server_free(srv);
            return NULL;
        }
        flags |= MHD_USE_TLS;
    }
    struct sockaddr_in sa;
    memset(&sa, 0, sizeof(sa));
    sa.sin_family = AF_INET;
    sa.sin_port = htons(opt->port);
    sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);

    struct MHD_OptionItem tls_opts[] = {
        {MHD_OPTION_HTTPS_MEM_KEY, 0, srv->key_pem},
        {MHD_OPTION_HTTPS_MEM_CERT, 0, srv->cert_pem},
        {MHD_OPTION_END, 0, NULL},
    };
    srv->daemon = MHD_start_daemon(
        flags, 0, NULL, NULL, on_access, srv, MHD_OPTION_SOCK_ADDR, (struct sockaddr *)&sa,
        MHD_OPTION_URI_LOG_CALLBACK, on_uri, srv, MHD_OPTION_NOTIFY_COMPLETED, on_completed, srv,
        MHD_OPTION_NOTIFY_CONNECTION, on_connection, srv, MHD_OPTION_CONNECTION_MEMORY_LIMIT,
        opt->conn_memory ? opt->conn_memory : (size_t)256 * 1024, MHD_OPTION_CONNECTION_LIMIT,
        (unsigned)512, MHD_OPTION_CONNECTION_TIMEOUT, (unsigned)60, MHD_OPTION_EXTERNAL_LOGGER,
        quiet_logger, srv, MHD_OPTION_ARRAY, opt->tls ? tls_opts : tls_opts + 2, MHD_OPTION_END);
    if (srv->daemon == NULL) {
        fprintf(stderr, "mockcloud: cannot start the HTTP daemon on 127.0.0.1:%u\n",
                (unsigned)opt->port);
        server_free(srv);
        return NULL;
    }
    const union MHD_DaemonInfo *di = MHD_get_daemon_info(srv->daemon, MHD_DAEMON_INFO_BIND_PORT);
    srv->port = di ? di->port : opt->port;
    snprintf(srv->url, sizeof(srv->url), "%s://127.0.0.1:%u", opt->tls ? "https" : "http",
             (unsigned)srv->port);
    return srv;
}

void mc_stop(mc_server *srv)
{
    if (srv == NULL)
        return;
    atomic_store(&srv->stopping, 1);
    if (srv->daemon)
        MHD_stop_daemon(srv->daemon);
    server_free(srv);
}

uint16_t mc_port(const mc_server *srv)
{
    return srv->port;
}

const char *mc_url(const mc_server *srv)
{
    return srv->url;
}

const char *mc_ca_file(const mc_server *srv)
{
    return srv->ca_file[0] ? srv->ca_file : NULL;
}

/* ---------------------------------------------------------------------------------------------
 * counters and log
 * ------------------------------------------------------------------------------------------- */

uint64_t mc_count_total(const mc_server *srv)
{
    return atomic_load(&((mc_server *)srv)->total);
}

uint64_t mc_route_count(const mc_server *srv, int id)
{
    mc_server *s = (mc_server *)srv;
    if (id < 0 || (size_t)id >= atomic_load(&s->n_routes))
        return 0;
    return atomic_load(&s->routes[id].count);
}

uint64_t mc_connections(const mc_server *srv)
{
    return atomic_load(&((mc_server *)srv)->connections);
}

void mc_reset_counters(mc_server *srv)
{
    atomic_store(&srv->total, 0);
    atomic_store(&srv->connections, 0);
    size_t n = atomic_load(&srv->n_routes);
    for (size_t i = 0; i < n; i++)
        atomic_store(&srv->routes[i].count, 0);
    pthread_mutex_lock(&srv->mu);
    srv->log_start = srv->log_len = 0;
    pthread_mutex_unlock(&srv->mu);
}

size_t mc_log_count(const mc_server *srv)
{
    mc_server *s = (mc_server *)srv;
    pthread_mutex_lock(&s->mu);
    size_t n = s->log_len;
    pthread_mutex_unlock(&s->mu);
    return n;
}

int mc_log_get(const mc_server *srv, size_t i, mc_log_entry *out)
{
    mc_server *s = (mc_server *)srv;
    int rc = -1;
    pthread_mutex_lock(&s->mu);
    if (i < s->log_len) {
        *out = s->log[(s->log_start + i) % MC_LOG_CAP];
        rc = 0;
    }
    pthread_mutex_unlock(&s->mu);
    return rc;
}

const char *mc_log_header(const mc_log_entry *e, const char *name)
{
    for (size_t i = 0; i < e->n_headers; i++) {
        if (strcasecmp(e->headers[i].name, name) == 0)
            return e->headers[i].value;
    }
    return NULL;
}
