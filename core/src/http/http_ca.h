/*
 * http_ca - the trust store of a vp__http, parsed once and shared by every TLS connection.
 *
 * libcurl (OpenSSL backend) keeps its parsed CA store in the multi handle, and every request
 * runs on a multi handle of its own: a context opening 100 TLS connections at once parsed the CA
 * bundle 100 times (the system bundle costs 20-40 ms of CPU each). Here the bundle is parsed on
 * the first TLS connection and handed to each new connection's SSL_CTX through
 * CURLOPT_SSL_CTX_FUNCTION. Only when libcurl runs on this process's OpenSSL 3; otherwise, or when
 * the bundle cannot be loaded, libcurl loads the CAs itself as before (and reports its errors).
 * The CA directory is read and every certificate's lazily computed fields are filled before any
 * connection sees the store, so concurrent verifications only read it.
 */
#ifndef VP_HTTP_CA_H
#define VP_HTTP_CA_H

#include <curl/curl.h>

typedef struct vp__http_ca vp__http_ca;

/* ca_file/ca_path as in vp__http_opts (both NULL = libcurl's built-in default bundle). Nothing
 * is loaded yet. NULL when out of memory. */
vp__http_ca *vp__http_ca_new(const char *ca_file, const char *ca_path);
/* NULL-safe. No connection set up through it may be in progress. */
void vp__http_ca_free(vp__http_ca *c);
/* Make e verify against the shared store (loaded on first use): clears CURLOPT_CAINFO and
 * CURLOPT_CAPATH and installs the SSL_CTX callback. Returns 1, or 0 when the shared store is not
 * available: then e is unchanged and libcurl loads the CA bundle itself. */
int vp__http_ca_apply(vp__http_ca *c, CURL *e);

#endif
