/*
 * http - the host's HTTP service: reused libcurl easy + multi handles over one shared CURLSH
 * (connections, TLS sessions, DNS), TLS verification always on, CA override, proxy, response cap,
 * timeouts from the call's deadline, cancellation. Retries never happen here (the resolver owns
 * them).
 */
#ifndef VP_HTTP_H
#define VP_HTTP_H

#include "vaultplug/provider.h"
#include "log.h"

typedef struct vp__http vp__http;

typedef struct vp__http_opts {
    const char *ca_file; /* NULL = system store */
    const char *ca_path;
    const char *proxy;           /* NULL = libcurl's handling of the *_proxy variables */
    uint32_t default_timeout_ms; /* when neither request nor call limits it; 0 = 30000 */
    uint32_t connect_timeout_ms; /* 0 = 10000 */
    size_t max_response;         /* 0 = 1 MiB */
} vp__http_opts;

/* libcurl global init is done once per process by vp__http_global_init (thread-safe). */
int vp__http_global_init(void);
/* Number of fork() children this process descends from since vp__http_global_init (a context
 * records it at creation: a different value means the context was inherited from a parent). */
unsigned vp__fork_generation(void);
int vp__http_new(const vp__http_opts *opts, vp__log *log, vp__http **out);
void vp__http_free(vp__http *h);

/* Perform req within call (deadline, cancel; errors attached to call). source names the
 * provider in log lines. See vp_host.http in provider.h for the contract. */
int vp__http_perform(vp__http *h, const char *source, vp_call *call, const vp_http_request *req,
                     vp_http_response **resp);
long vp__http_status(const vp_http_response *r);
const char *vp__http_header(const vp_http_response *r, const char *name);
const char *vp__http_body(const vp_http_response *r, size_t *len);
void vp__http_response_free(vp_http_response *r);

#endif
