/*
 * http_ca - see http_ca.h.
 *
 * The shared store is handed to libcurl's SSL_CTX only when libcurl reports the same OpenSSL
 * major we are built with (3), so the X509_STORE built with our libcrypto is one that libcurl's
 * OpenSSL understands. The store gets what libcurl would have put in the SSL_CTX's own store:
 * the CA file and/or directory and X509_V_FLAG_PARTIAL_CHAIN (libcurl's default since 7.68).
 * Verification stays on either way: a failure here never weakens it, it only falls back to
 * libcurl's own loading.
 */
#include "http_ca.h"

#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/err.h>
#include <openssl/ssl.h>
#include <openssl/x509_vfy.h>

struct vp__http_ca {
    pthread_mutex_t lock;
    char *ca_file, *ca_path;
    int state; /* 0 not loaded yet, 1 store ready, -1 unavailable (libcurl loads) */
    X509_STORE *store;
};

static pthread_once_t g_once = PTHREAD_ONCE_INIT;
static int g_same_openssl; /* libcurl runs on the OpenSSL major we link */

static void lookup_once(void)
{
    const curl_version_info_data *vi = curl_version_info(CURLVERSION_NOW);
    if (vi == NULL || vi->ssl_version == NULL || strncmp(vi->ssl_version, "OpenSSL/3.", 10) != 0 ||
        OPENSSL_VERSION_MAJOR != 3)
        return;
    g_same_openssl = 1;
}

vp__http_ca *vp__http_ca_new(const char *ca_file, const char *ca_path)
{
    vp__http_ca *c = calloc(1, sizeof(*c));
    if (c == NULL)
        return NULL;
    if ((ca_file && (c->ca_file = strdup(ca_file)) == NULL) ||
        (ca_path && (c->ca_path = strdup(ca_path)) == NULL) ||
        pthread_mutex_init(&c->lock, NULL) != 0) {
        free(c->ca_file);
        free(c->ca_path);
        free(c);
        return NULL;
    }
    return c;
}

void vp__http_ca_free(vp__http_ca *c)
{
    if (c == NULL)
        return;
    X509_STORE_free(c->store); /* SSL_CTXs still alive hold their own reference */
    pthread_mutex_destroy(&c->lock);
    free(c->ca_file);
    free(c->ca_path);
    free(c);
}

/* libcurl's built-in default bundle and directory (either may be NULL). */
static void curl_defaults(char **file, char **path)
{
    *file = *path = NULL;
    CURL *e = curl_easy_init();
    if (e == NULL)
        return;
    char *f = NULL, *p = NULL;
    if (curl_easy_getinfo(e, CURLINFO_CAINFO, &f) == CURLE_OK && f != NULL)
        *file = strdup(f);
    if (curl_easy_getinfo(e, CURLINFO_CAPATH, &p) == CURLE_OK && p != NULL)
        *path = strdup(p);
    curl_easy_cleanup(e);
}

/* Build the store (lock held): 1 or -1. */
static int load(vp__http_ca *c)
{
    pthread_once(&g_once, lookup_once);
    if (!g_same_openssl)
        return -1;
    char *dfile = NULL, *dpath = NULL;
    const char *file = c->ca_file, *path = c->ca_path;
    if (file == NULL && path == NULL) {
        curl_defaults(&dfile, &dpath);
        file = dfile;
        path = dpath;
    }
    X509_STORE *s = file || path ? X509_STORE_new() : NULL;
    int ok = s != NULL;
    if (ok && file != NULL && X509_STORE_load_file(s, file) != 1)
        ok = 0;
    if (ok && path != NULL && X509_STORE_load_path(s, path) != 1)
        ok = 0;
    if (ok && X509_STORE_set_flags(s, X509_V_FLAG_PARTIAL_CHAIN) != 1)
        ok = 0;
    /* A failed load leaves errors on this thread's queue, where libcurl would read them. */
    ERR_clear_error();
    free(dfile);
    free(dpath);
    if (!ok) {
        X509_STORE_free(s);
        return -1;
    }
    c->store = s;
    return 1;
}

static CURLcode on_ssl_ctx(CURL *e, void *ssl_ctx, void *ud)
{
    (void)e;
    SSL_CTX_set1_cert_store((SSL_CTX *)ssl_ctx, ud);
    return CURLE_OK;
}

int vp__http_ca_apply(vp__http_ca *c, CURL *e)
{
    if (c == NULL)
        return 0;
    pthread_mutex_lock(&c->lock);
    if (c->state == 0)
        c->state = load(c);
    int ready = c->state == 1;
    pthread_mutex_unlock(&c->lock);
    if (!ready)
        return 0;
    if (curl_easy_setopt(e, CURLOPT_SSL_CTX_FUNCTION, on_ssl_ctx) != CURLE_OK ||
        curl_easy_setopt(e, CURLOPT_SSL_CTX_DATA, c->store) != CURLE_OK) {
        (void)curl_easy_setopt(e, CURLOPT_SSL_CTX_FUNCTION, NULL);
        return 0;
    }
    /* libcurl must not load (or cache) a store of its own that the callback then replaces. */
    if (curl_easy_setopt(e, CURLOPT_CAINFO, NULL) != CURLE_OK ||
        curl_easy_setopt(e, CURLOPT_CAPATH, NULL) != CURLE_OK) {
        (void)curl_easy_setopt(e, CURLOPT_SSL_CTX_FUNCTION, NULL);
        return 0;
    }
    return 1;
}
