/*
 * http_ca - see http_ca.h.
 *
 * The shared store is handed to libcurl's SSL_CTX only when libcurl reports the same OpenSSL
 * major we are built with (3), so the X509_STORE built with our libcrypto is one that libcurl's
 * OpenSSL understands. The store gets what libcurl would have put in the SSL_CTX's own store:
 * the CA file and/or directory and X509_V_FLAG_PARTIAL_CHAIN (libcurl's default since 7.68).
 * Verification stays on either way: a failure here never weakens it, it only falls back to
 * libcurl's own loading.
 *
 * Sharing X509 objects across threads needs one more step. OpenSSL fills a certificate's
 * extension cache (key identifiers, purpose flags, its hash) on first use during verification,
 * and other verifications read those fields without taking the certificate's lock: two
 * connections verifying against a fresh store at once race (ThreadSanitizer reports it inside
 * libcrypto). So load() fills every certificate's cache while it alone holds the store, and
 * reads the hashed certificate directory eagerly instead of leaving it to OpenSSL's by-directory
 * lookup, which would add certificates to the shared store in the middle of other
 * verifications. Readers get the store only after taking c->lock, which orders them after load().
 */
#include "http_ca.h"

#include <dirent.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sys/stat.h>

#include <openssl/err.h>
#include <openssl/ssl.h>
#include <openssl/x509_vfy.h>
#include <openssl/x509v3.h>

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

/* The subject-name hash of a directory entry that starts a by-directory chain ("%08lx.0"): 1, or
 * 0 for any other name. */
static int chain_start(const char *n, unsigned long *hash)
{
    unsigned long h = 0;
    for (int i = 0; i < 8; i++) {
        char ch = n[i];
        if (ch >= '0' && ch <= '9')
            h = h << 4 | (unsigned long)(ch - '0');
        else if (ch >= 'a' && ch <= 'f')
            h = h << 4 | (unsigned long)(ch - 'a' + 10);
        else
            return 0;
    }
    if (strcmp(n + 8, ".0") != 0)
        return 0;
    *hash = h;
    return 1;
}

static int cmp_ulong(const void *a, const void *b)
{
    unsigned long x = *(const unsigned long *)a, y = *(const unsigned long *)b;
    return x < y ? -1 : x > y;
}

/* How many of the sorted hashes[0..n) equal h. */
static long count_hash(const unsigned long *hashes, size_t n, unsigned long h)
{
    size_t lo = 0, hi = n;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (hashes[mid] < h)
            lo = mid + 1;
        else
            hi = mid;
    }
    long k = 0;
    while (lo + (size_t)k < n && hashes[lo + (size_t)k] == h)
        k++;
    return k;
}

/* One directory of load_dirs_now(). */
static void load_dir_now(X509_STORE *s, const char *dir, size_t dl, const unsigned long *hashes,
                         size_t nh)
{
    char *d0 = strndup(dir, dl);
    DIR *d = d0 != NULL ? opendir(d0) : NULL;
    size_t cap = dl + 32;
    char *full = d != NULL ? malloc(cap) : NULL;
    struct dirent *de;
    while (full != NULL && (de = readdir(d)) != NULL) {
        unsigned long h;
        if (!chain_start(de->d_name, &h))
            continue;
        long have = count_hash(hashes, nh, h);
        for (long i = 0; i < 1000; i++) {
            struct stat st;
            snprintf(full, cap, "%s/%08lx.%ld", d0, h, i);
            if (stat(full, &st) != 0 || (i >= have && X509_STORE_load_file(s, full) != 1))
                break;
        }
    }
    free(full);
    if (d != NULL)
        closedir(d);
    free(d0);
}

/*
 * Add the certificates of a hashed directory list ("dir[:dir...]", as OpenSSL takes it) now rather
 * than when a verification first asks for them. OpenSSL's lookup asks the directories only for a
 * subject the store does not hold, and then reads H.0, H.1, ... up to the first file that is
 * missing or does not load; this pass reads the same chains, skipping the first k files of a
 * chain when the store already holds k certificates whose subject hashes to H. With Debian's
 * defaults (the bundle and /etc/ssl/certs hold the same CAs) that loads no file at all, where
 * loading all of them would double the store's 20 ms build. The directories also stay a lookup
 * (X509_STORE_load_path), so a certificate this pass cannot see (added later, or one whose subject
 * hash collides with a bundled CA's) is still found.
 */
static void load_dirs_now(X509_STORE *s, const char *path)
{
    STACK_OF(X509_OBJECT) *objs = X509_STORE_get0_objects(s);
    int nobj = sk_X509_OBJECT_num(objs);
    unsigned long *hashes = malloc(sizeof(*hashes) * (size_t)(nobj > 0 ? nobj : 1));
    if (hashes == NULL)
        return;
    size_t nh = 0;
    for (int i = 0; i < nobj; i++) {
        X509 *x = X509_OBJECT_get0_X509(sk_X509_OBJECT_value(objs, i));
        if (x != NULL)
            hashes[nh++] = X509_subject_name_hash(x);
    }
    qsort(hashes, nh, sizeof(*hashes), cmp_ulong);
    for (const char *p = path; *p != '\0';) {
        size_t dl = strcspn(p, ":");
        if (dl > 0)
            load_dir_now(s, p, dl, hashes, nh);
        p += dl + (p[dl] == ':');
    }
    free(hashes);
}

/* Fill each certificate's extension cache (see the top of this file). */
static void warm(X509_STORE *s)
{
    STACK_OF(X509_OBJECT) *objs = X509_STORE_get0_objects(s);
    for (int i = 0; i < sk_X509_OBJECT_num(objs); i++) {
        X509 *x = X509_OBJECT_get0_X509(sk_X509_OBJECT_value(objs, i));
        if (x != NULL)
            (void)X509_get_extension_flags(x);
    }
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
    if (ok && path != NULL)
        load_dirs_now(s, path);
    if (ok && X509_STORE_set_flags(s, X509_V_FLAG_PARTIAL_CHAIN) != 1)
        ok = 0;
    if (ok)
        warm(s);
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
