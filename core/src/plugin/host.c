/*
 * host - the vp_host services table handed to providers (see provider.h for every field's
 * contract) and the output objects behind vp_secret_out / vp_list_out / vp_cred_out.
 * The JSON services live in jsonh.c. Every function here is thread-safe.
 */
#include "hexval.h"
#include "host.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <openssl/bio.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <sodium.h>

#include "call.h"
#include "ctx.h"
#include "host_svc.h"
#include "jsonh.h"
#include "fault.h"
#include "secmem.h"
#include "secret.h"

/* read_file: hard cap whatever max_size the provider asks for. */
#define READ_FILE_HARD_MAX (64u * 1024 * 1024)
#define READ_FILE_DEFAULT  (1u * 1024 * 1024)
#define PATH_MAX_LEN       4096

/* ---- memory ------------------------------------------------------------------------------ */

static void *h_malloc(size_t size)
{
    return vp__fault_alloc_should_fail() ? NULL : malloc(size);
}

static void *h_calloc(size_t n, size_t size)
{
    return vp__fault_alloc_should_fail() ? NULL : calloc(n, size);
}

static void *h_realloc(void *p, size_t size)
{
    return vp__fault_alloc_should_fail() ? NULL : realloc(p, size);
}

static void h_free(void *p)
{
    free(p);
}

static char *h_strdup(const char *s)
{
    if (s == NULL || vp__fault_alloc_should_fail())
        return NULL;
    return strdup(s);
}

static void *h_secure_malloc(size_t size)
{
    return vp__fault_alloc_should_fail() ? NULL : vp__secmem_alloc(size);
}

static void h_secure_free(void *p)
{
    vp__secmem_free(p);
}

static char *h_secure_strdup(const char *s)
{
    if (s == NULL || vp__fault_alloc_should_fail())
        return NULL;
    return vp__secmem_strdup(s);
}

static void h_memzero(void *p, size_t n)
{
    if (p != NULL && n > 0)
        sodium_memzero(p, n);
}

static int h_memcmp_ct(const void *a, const void *b, size_t n)
{
    if (n == 0)
        return 0;
    if (a == NULL || b == NULL)
        return -1;
    return sodium_memcmp(a, b, n) == 0 ? 0 : -1;
}

/* ---- logging ----------------------------------------------------------------------------- */

static void h_log(vp_host_ctx *hc, vp_log_level level, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static void h_log(vp_host_ctx *hc, vp_log_level level, const char *fmt, ...)
{
    if (hc == NULL || hc->log == NULL || fmt == NULL)
        return;
    int lv = (int)level;
    if (lv < VP_LOG_ERROR)
        lv = VP_LOG_ERROR;
    if (lv > VP_LOG_TRACE)
        lv = VP_LOG_TRACE;
    va_list ap;
    va_start(ap, fmt);
    vp__log_vwrite(hc->log, lv, hc->source ? hc->source : "core", fmt, ap);
    va_end(ap);
}

static void h_mask(vp_host_ctx *hc, const void *value, size_t len)
{
    if (hc != NULL && hc->log != NULL && value != NULL)
        vp__log_mask(hc->log, value, len);
}

static void h_unmask(vp_host_ctx *hc, const void *value, size_t len)
{
    if (hc != NULL && hc->log != NULL && value != NULL)
        vp__log_unmask(hc->log, value, len);
}

/* ---- calls ------------------------------------------------------------------------------- */

static int h_fail(vp_call *call, int status, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static int h_fail(vp_call *call, int status, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    int rc = vp__call_failv(call, status, fmt, ap);
    va_end(ap);
    return rc;
}

static int64_t h_call_remaining_ms(const vp_call *call)
{
    return vp__call_remaining_ms(call);
}

static int h_call_canceled(const vp_call *call)
{
    return vp__call_canceled(call);
}

static void h_call_set_retry_after(vp_call *call, uint32_t ms)
{
    if (call != NULL)
        call->retry_after_ms = ms;
}

static vp_host_ctx *h_call_host_ctx(const vp_call *call)
{
    return call ? call->hc : NULL;
}

/* ---- HTTP -------------------------------------------------------------------------------- */

static int h_http(vp_call *call, const vp_http_request *req, vp_http_response **resp)
{
    if (resp != NULL)
        *resp = NULL;
    if (call == NULL || req == NULL || resp == NULL)
        return VP_EINVAL;
    if (call->hc == NULL || call->hc->http == NULL)
        return vp__call_fail(call, VP_ENOTSUP, "HTTP is not available in this host context");
    return vp__http_perform(call->hc->http, call->hc->source ? call->hc->source : "core", call, req,
                            resp);
}

static long h_http_status(const vp_http_response *r)
{
    return r ? vp__http_status(r) : 0;
}

static const char *h_http_header(const vp_http_response *r, const char *name)
{
    return (r && name) ? vp__http_header(r, name) : NULL;
}

static const char *h_http_body(const vp_http_response *r, size_t *len)
{
    if (r == NULL) {
        if (len != NULL)
            *len = 0;
        return NULL;
    }
    return vp__http_body(r, len);
}

static void h_http_free(vp_http_response *r)
{
    if (r != NULL)
        vp__http_response_free(r);
}

/* ---- hashing, MAC, signing ----------------------------------------------------------------- */

static void h_sha256(const void *data, size_t len, unsigned char out[32])
{
    crypto_hash_sha256(out, data ? data : (const void *)"", len);
}

static void h_hmac_sha256(const void *key, size_t key_len, const void *data, size_t len,
                          unsigned char out[32])
{
    crypto_auth_hmacsha256_state st;
    /* The _init form accepts keys of any length (hashing long ones as RFC 2104 says). */
    crypto_auth_hmacsha256_init(&st, key ? key : (const void *)"", key_len);
    crypto_auth_hmacsha256_update(&st, data ? data : (const void *)"", len);
    crypto_auth_hmacsha256_final(&st, out);
    sodium_memzero(&st, sizeof(st));
}

static void h_sha1(const void *data, size_t len, unsigned char out[20])
{
    unsigned int n = 20;
    if (EVP_Digest(data ? data : (const void *)"", len, out, &n, EVP_sha1(), NULL) != 1)
        memset(out, 0, 20);
}

/* Never prompt for a passphrase (OpenSSL's default callback reads the terminal). */
static int no_passphrase(char *buf, int size, int rwflag, void *u)
{
    (void)buf, (void)size, (void)rwflag, (void)u;
    return -1;
}

static int h_sign_rs256(vp_call *call, const char *pem, size_t pem_len, const void *msg,
                        size_t msg_len, unsigned char **sig, size_t *sig_len)
{
    if (sig != NULL)
        *sig = NULL;
    if (sig_len != NULL)
        *sig_len = 0;
    if (pem == NULL || sig == NULL || sig_len == NULL || (msg == NULL && msg_len > 0))
        return vp__call_fail(call, VP_EINVAL, "sign_rs256: missing argument");
    if (pem_len == 0 || pem_len > INT_MAX)
        return vp__call_fail(call, VP_EINVAL, "sign_rs256: empty or oversized PEM key");

    /* A read-only memory BIO borrows the caller's buffer: no copy of the key to wipe. */
    BIO *bio = BIO_new_mem_buf(pem, (int)pem_len);
    if (bio == NULL)
        return VP_ENOMEM;
    EVP_PKEY *key = PEM_read_bio_PrivateKey(bio, NULL, no_passphrase, NULL);
    BIO_free(bio);
    if (key == NULL || EVP_PKEY_get_base_id(key) != EVP_PKEY_RSA) {
        EVP_PKEY_free(key); /* clears the private components (BN_clear_free) */
        ERR_clear_error();
        return vp__call_fail(call, VP_EINVAL,
                             "cannot read the RSA private key (PEM PKCS#1 or PKCS#8 expected)");
    }
    int rc = VP_EINTERNAL;
    unsigned char *out = NULL;
    size_t n = 0;
    EVP_MD_CTX *md = EVP_MD_CTX_new();
    if (md == NULL) {
        rc = VP_ENOMEM;
        goto done;
    }
    if (EVP_DigestSignInit(md, NULL, EVP_sha256(), NULL, key) != 1 ||
        EVP_DigestSign(md, NULL, &n, msg ? msg : (const void *)"", msg_len) != 1) {
        rc = vp__call_fail(call, VP_EINTERNAL, "RS256 signing failed");
        goto done;
    }
    out = h_malloc(n);
    if (out == NULL) {
        rc = VP_ENOMEM;
        goto done;
    }
    if (EVP_DigestSign(md, out, &n, msg ? msg : (const void *)"", msg_len) != 1) {
        free(out);
        out = NULL;
        rc = vp__call_fail(call, VP_EINTERNAL, "RS256 signing failed");
        goto done;
    }
    *sig = out;
    *sig_len = n;
    rc = 0;
done:
    EVP_MD_CTX_free(md);
    EVP_PKEY_free(key);
    ERR_clear_error();
    return rc;
}

/* ---- encodings --------------------------------------------------------------------------- */

static int b64_variant_ok(vp_b64_variant v)
{
    return v == VP_B64_STD || v == VP_B64_STD_NOPAD || v == VP_B64_URL || v == VP_B64_URL_NOPAD;
}

static size_t h_b64_encoded_len(size_t n, vp_b64_variant variant)
{
    if (!b64_variant_ok(variant) || n > (SIZE_MAX / 4) - 4)
        return 0;
    return sodium_base64_ENCODED_LEN(n, (int)variant);
}

static int h_b64_encode(const void *in, size_t n, vp_b64_variant variant, char *out, size_t out_cap)
{
    if ((in == NULL && n > 0) || out == NULL || !b64_variant_ok(variant))
        return VP_EINVAL;
    size_t need = h_b64_encoded_len(n, variant);
    if (need == 0)
        return VP_ELIMIT;
    if (out_cap < need)
        return VP_ELIMIT;
    sodium_bin2base64(out, out_cap, in ? in : (const void *)"", n, (int)variant);
    return 0;
}

static int h_b64_decode(const char *in, size_t n, vp_b64_variant variant, void *out, size_t out_cap,
                        size_t *out_len)
{
    if (out_len != NULL)
        *out_len = 0;
    if ((in == NULL && n > 0) || (out == NULL && out_cap > 0) || out_len == NULL ||
        !b64_variant_ok(variant))
        return VP_EINVAL;
    if (n == 0)
        return 0;
    size_t bin_len = 0;
    unsigned char dummy;
    if (sodium_base642bin(out ? out : &dummy, out ? out_cap : 0, in, n, " \t\r\n", &bin_len, NULL,
                          (int)variant) == 0) {
        *out_len = bin_len;
        return 0;
    }
    /* libsodium says -1 both for bad input and for a too small buffer: decode once more into
     * a scratch buffer that is always big enough to tell the two apart. */
    size_t big = n / 4 * 3 + 3;
    if (out_cap >= big)
        return VP_EPROTO;
    unsigned char *tmp = vp__secmem_alloc(big);
    if (tmp == NULL)
        return VP_ENOMEM;
    int ok = sodium_base642bin(tmp, big, in, n, " \t\r\n", &bin_len, NULL, (int)variant) == 0;
    vp__secmem_free(tmp);
    return ok ? VP_ELIMIT : VP_EPROTO;
}

static void h_hex_encode(const void *in, size_t n, char *out)
{
    static const char hexd[] = "0123456789abcdef";
    if (out == NULL)
        return;
    const unsigned char *p = in;
    for (size_t i = 0; i < n && p != NULL; i++) {
        out[2 * i] = hexd[p[i] >> 4];
        out[2 * i + 1] = hexd[p[i] & 15];
    }
    out[p ? 2 * n : 0] = '\0';
}

static int h_hex_decode(const char *in, size_t n, void *out, size_t out_cap, size_t *out_len)
{
    if (out_len != NULL)
        *out_len = 0;
    if ((in == NULL && n > 0) || out_len == NULL || (out == NULL && out_cap > 0))
        return VP_EINVAL;
    if (n % 2 != 0)
        return VP_EPROTO;
    for (size_t i = 0; i < n; i++)
        if (vp__hexval((unsigned char)in[i]) < 0)
            return VP_EPROTO;
    if (n / 2 > out_cap)
        return VP_ELIMIT;
    unsigned char *o = out;
    for (size_t i = 0; i < n / 2; i++)
        o[i] = (unsigned char)(vp__hexval((unsigned char)in[2 * i]) << 4 |
                               vp__hexval((unsigned char)in[2 * i + 1]));
    *out_len = n / 2;
    return 0;
}

static uint32_t crc32c_table[256];
static pthread_once_t crc32c_once = PTHREAD_ONCE_INIT;

static void crc32c_init(void)
{
    for (uint32_t i = 0; i < 256; i++) {
        uint32_t c = i;
        for (int k = 0; k < 8; k++)
            c = (c & 1) ? (c >> 1) ^ 0x82F63B78u : c >> 1;
        crc32c_table[i] = c;
    }
}

static uint32_t h_crc32c(uint32_t crc, const void *data, size_t len)
{
    pthread_once(&crc32c_once, crc32c_init);
    const unsigned char *p = data;
    if (p == NULL)
        return crc;
    crc = ~crc;
    for (size_t i = 0; i < len; i++)
        crc = crc32c_table[(crc ^ p[i]) & 0xff] ^ (crc >> 8);
    return ~crc;
}

static void h_random(void *buf, size_t n)
{
    if (buf != NULL && n > 0)
        randombytes_buf(buf, n);
}

/* ---- environment and files --------------------------------------------------------------- */

static char *h_getenv(vp_host_ctx *hc, const char *name)
{
    if (name == NULL || *name == '\0')
        return NULL;
    if (hc != NULL)
        vp__inputs_add(hc->inputs, 'e', name);
    /* getenv() is safe against other getenv() calls, not against a concurrent setenv(): the
     * library never calls setenv, and applications must not either while a context is used
     * (POSIX offers no thread-safe environment). */
    const char *v = getenv(name);
    if (v == NULL)
        return NULL;
    if (vp__fault_alloc_should_fail())
        return NULL;
    return vp__secmem_strdup(v);
}

static int map_errno(int e)
{
    switch (e) {
    case ENOENT:
    case ENOTDIR:
        return VP_ENOTFOUND;
    case EACCES:
    case EPERM:
        return VP_EPERM;
    case ENOMEM:
        return VP_ENOMEM;
    default:
        return VP_EIO;
    }
}

int vp__host_expand_path(const char *path, char *out, size_t cap)
{
    int n;
    if (path[0] == '~' && path[1] == '/') {
        const char *home = getenv("HOME");
        if (home == NULL || *home == '\0')
            return VP_ENOTFOUND;
        n = snprintf(out, cap, "%s/%s", home, path + 2);
    } else {
        n = snprintf(out, cap, "%s", path);
    }
    return n < 0 || (size_t)n >= cap ? VP_ELIMIT : 0;
}

static int h_read_file(vp_host_ctx *hc, vp_call *call, const char *path, size_t max_size,
                       char **data, size_t *len)
{
    if (data != NULL)
        *data = NULL;
    if (len != NULL)
        *len = 0;
    if (path == NULL || *path == '\0' || data == NULL)
        return call ? vp__call_fail(call, VP_EINVAL, "read_file: missing path") : VP_EINVAL;
    if (hc != NULL)
        vp__inputs_add(hc->inputs, 'f', path);
    if (max_size == 0)
        max_size = READ_FILE_DEFAULT;
    if (max_size > READ_FILE_HARD_MAX)
        max_size = READ_FILE_HARD_MAX;

    char full[PATH_MAX_LEN];
    int xrc = vp__host_expand_path(path, full, sizeof(full));
    if (xrc == VP_ENOTFOUND)
        return call ? vp__call_fail(call, VP_ENOTFOUND, "cannot expand '~' in %s: HOME is not set",
                                    path)
                    : VP_ENOTFOUND;
    if (xrc != 0)
        return call ? vp__call_fail(call, VP_ELIMIT, "path too long") : VP_ELIMIT;

    int fd = open(full, O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK);
    if (fd < 0) {
        int e = errno;
        int rc = map_errno(e);
        return call ? vp__call_fail(call, rc, "cannot open %s: %s", full, strerror(e)) : rc;
    }
    struct stat st;
    int rc = 0;
    char *buf = NULL;
    size_t got = 0;
    if (fstat(fd, &st) != 0) {
        int e = errno;
        rc = map_errno(e);
        if (call)
            vp__call_fail(call, rc, "cannot stat %s: %s", full, strerror(e));
        goto out;
    }
    if (!S_ISREG(st.st_mode)) {
        /* FIFOs and devices could block or never end. */
        rc = call ? vp__call_fail(call, VP_EIO, "%s is not a regular file", full) : VP_EIO;
        goto out;
    }
    if ((uint64_t)st.st_size > max_size) {
        rc = call ? vp__call_fail(call, VP_ELIMIT, "%s is larger than %zu bytes", full, max_size)
                  : VP_ELIMIT;
        goto out;
    }
    if (vp__fault_alloc_should_fail() || (buf = vp__secmem_alloc(max_size + 1)) == NULL) {
        rc = VP_ENOMEM;
        goto out;
    }
    /* Read until EOF rather than trusting st_size: the file may change under us. */
    for (;;) {
        if (got > max_size) {
            rc = call
                     ? vp__call_fail(call, VP_ELIMIT, "%s is larger than %zu bytes", full, max_size)
                     : VP_ELIMIT;
            goto out;
        }
        ssize_t r = read(fd, buf + got, max_size + 1 - got);
        if (r < 0) {
            if (errno == EINTR)
                continue;
            int e = errno;
            rc = call ? vp__call_fail(call, VP_EIO, "cannot read %s: %s", full, strerror(e))
                      : VP_EIO;
            goto out;
        }
        if (r == 0)
            break;
        got += (size_t)r;
    }
    buf[got] = '\0';
    *data = buf;
    if (len != NULL)
        *len = got;
    buf = NULL;
out:
    vp__secmem_free(buf);
    close(fd);
    return rc;
}

/* ---- secret output ----------------------------------------------------------------------- */

void vp__secret_out_init(vp_secret_out *out, vp_host_ctx *hc)
{
    memset(out, 0, sizeof(*out));
    out->hc = hc;
    out->ttl_s = UINT32_MAX;
}

void vp__secret_out_clear(vp_secret_out *out)
{
    if (out == NULL)
        return;
    vp_host_ctx *hc = out->hc;
    vp__secmem_free(out->value);
    vp__secret_out_init(out, hc);
}

static int h_secret_set(vp_secret_out *out, const void *value, size_t len)
{
    if (out == NULL || (value == NULL && len > 0))
        return VP_EINVAL;
    if (len > VP__SECRET_MAX) {
        /* Kept for the failure message: "limit exceeded" alone does not say which limit. */
        snprintf(out->message, sizeof(out->message),
                 "the value is %zu bytes; the limit for a secret value is %u bytes (%u MiB)", len,
                 VP__SECRET_MAX, VP__SECRET_MAX / (1024 * 1024));
        return VP_ELIMIT;
    }
    if (vp__fault_alloc_should_fail())
        return VP_ENOMEM;
    char *v = vp__secmem_alloc(len + 1);
    if (v == NULL)
        return VP_ENOMEM;
    if (len > 0)
        memcpy(v, value, len);
    v[len] = '\0';
    vp__secmem_free(out->value);
    out->value = v;
    out->len = len;
    return 0;
}

static void h_secret_set_ttl(vp_secret_out *out, uint32_t seconds)
{
    if (out != NULL)
        out->ttl_s = seconds;
}

static int h_secret_set_version(vp_secret_out *out, const char *version)
{
    if (out == NULL || version == NULL)
        return VP_EINVAL;
    size_t n = strlen(version);
    if (n >= sizeof(out->version))
        return VP_ELIMIT;
    memcpy(out->version, version, n + 1);
    return 0;
}

static void h_secret_set_expiry(vp_secret_out *out, int64_t unix_ms)
{
    if (out != NULL)
        out->expiry_unix_ms = unix_ms;
}

static int h_secret_fail(vp_secret_out *out, int status, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static int h_secret_fail(vp_secret_out *out, int status, const char *fmt, ...)
{
    if (status >= 0)
        status = VP_EINTERNAL;
    if (out == NULL)
        return status;
    vp__log *log = out->hc ? out->hc->log : NULL;
    va_list ap;
    va_start(ap, fmt);
    if (fmt == NULL)
        out->message[0] = '\0';
    else if (log != NULL) /* formats and redacts the whole text before truncating it */
        vp__log_vformat(log, out->message, sizeof(out->message), fmt, ap);
    else
        vsnprintf(out->message, sizeof(out->message), fmt, ap);
    va_end(ap);
    out->status = status;
    out->failed = 1;
    return status;
}

/* ---- list and login output --------------------------------------------------------------- */

void vp__list_out_init(vp_list_out *out)
{
    memset(out, 0, sizeof(*out));
}

void vp__list_out_clear(vp_list_out *out)
{
    if (out == NULL)
        return;
    for (size_t i = 0; i < out->n; i++)
        free(out->names[i]);
    free(out->names);
    vp__list_out_init(out);
}

static int h_list_add(vp_list_out *out, const char *name)
{
    if (out == NULL || name == NULL)
        return VP_EINVAL;
    if (out->n >= VP__LIST_MAX)
        return VP_ELIMIT;
    if (vp__fault_alloc_should_fail())
        return VP_ENOMEM;
    if (out->n == out->cap) {
        size_t cap = out->cap ? out->cap * 2 : 16;
        char **nn = realloc(out->names, cap * sizeof(*nn));
        if (nn == NULL)
            return VP_ENOMEM;
        out->names = nn;
        out->cap = cap;
    }
    char *s = strdup(name);
    if (s == NULL)
        return VP_ENOMEM;
    out->names[out->n++] = s;
    return 0;
}

void vp__cred_out_init(vp_cred_out *out)
{
    memset(out, 0, sizeof(*out));
}

void vp__cred_out_clear(vp_cred_out *out)
{
    if (out == NULL)
        return;
    for (size_t i = 0; i < out->n; i++) {
        free(out->fields[i].key);
        vp__secmem_free(out->fields[i].value);
    }
    free(out->fields);
    free(out->type);
    vp__cred_out_init(out);
}

static int h_cred_out_type(vp_cred_out *out, const char *type)
{
    if (out == NULL || type == NULL)
        return VP_EINVAL;
    if (vp__fault_alloc_should_fail())
        return VP_ENOMEM;
    char *t = strdup(type);
    if (t == NULL)
        return VP_ENOMEM;
    free(out->type);
    out->type = t;
    return 0;
}

static int h_cred_out_field(vp_cred_out *out, const char *key, const char *value, size_t len,
                            uint32_t field_flags)
{
    if (out == NULL || key == NULL || *key == '\0' || (value == NULL && len > 0))
        return VP_EINVAL;
    if (len > VP__SECRET_MAX)
        return VP_ELIMIT;
    size_t i;
    for (i = 0; i < out->n; i++)
        if (strcmp(out->fields[i].key, key) == 0)
            break;
    if (i == out->n && out->n >= VP__CRED_FIELDS_MAX)
        return VP_ELIMIT;
    if (vp__fault_alloc_should_fail())
        return VP_ENOMEM;
    char *v = vp__secmem_alloc(len + 1);
    if (v == NULL)
        return VP_ENOMEM;
    if (len > 0)
        memcpy(v, value, len);
    v[len] = '\0';
    if (i < out->n) { /* same key again: replace */
        vp__secmem_free(out->fields[i].value);
        out->fields[i].value = v;
        out->fields[i].len = len;
        out->fields[i].flags = field_flags;
        return 0;
    }
    if (out->n == out->cap) {
        size_t cap = out->cap ? out->cap * 2 : 8;
        vp__cred_field *nf = realloc(out->fields, cap * sizeof(*nf));
        if (nf == NULL) {
            vp__secmem_free(v);
            return VP_ENOMEM;
        }
        out->fields = nf;
        out->cap = cap;
    }
    char *k = strdup(key);
    if (k == NULL) {
        vp__secmem_free(v);
        return VP_ENOMEM;
    }
    out->fields[out->n++] = (vp__cred_field){k, v, len, field_flags};
    return 0;
}

static int h_cred_update(vp_call *call, const char *key, const char *value, size_t len)
{
    /* The credential store owns the rules (which credentials may be written back, locking,
     * the commit): the api layer installs them as ctx->cred_update (api/credstore_int.h). */
    if (call == NULL)
        return VP_EINVAL;
    vp_ctx *ctx = call->hc != NULL ? call->hc->ctx : NULL;
    if (ctx == NULL || ctx->cred_update == NULL)
        return VP_ENOTSUP;
    return ctx->cred_update(call, key, value, len);
}

static int h_open_url(vp_call *call, const char *url)
{
    if (call == NULL || url == NULL)
        return VP_EINVAL;
    vp_host_ctx *hc = call->hc;
    if (hc == NULL || hc->open_url == NULL)
        return VP_ENOTSUP;
    int rc = hc->open_url(hc->ui_ud, url);
    return rc > 0 ? VP_EINTERNAL : rc;
}

static void h_notify(vp_call *call, const char *message)
{
    if (call == NULL || message == NULL || call->hc == NULL)
        return;
    vp_host_ctx *hc = call->hc;
    if (hc->notify != NULL)
        hc->notify(hc->ui_ud, message);
    else if (hc->log != NULL) /* no UI: the log is the next best place for instructions */
        vp__log_write(hc->log, VP_LOG_WARN, hc->source ? hc->source : "core", "%s", message);
}

/* ---- the table --------------------------------------------------------------------------- */

static int64_t h_now_unix_ms(vp_host_ctx *hc)
{
    return vp__host_now_unix_ms(hc);
}

static int64_t h_monotonic_ms(vp_host_ctx *hc)
{
    return vp__host_monotonic_ms(hc);
}

static const vp_host host_table = {
    .hdr = VP_ABI_HDR(vp_host),
    .malloc = h_malloc,
    .calloc = h_calloc,
    .realloc = h_realloc,
    .free = h_free,
    .strdup = h_strdup,
    .secure_malloc = h_secure_malloc,
    .secure_free = h_secure_free,
    .secure_strdup = h_secure_strdup,
    .memzero = h_memzero,
    .memcmp_ct = h_memcmp_ct,
    .log = h_log,
    .mask = h_mask,
    .unmask = h_unmask,
    .fail = h_fail,
    .call_remaining_ms = h_call_remaining_ms,
    .call_canceled = h_call_canceled,
    .call_set_retry_after = h_call_set_retry_after,
    .call_host_ctx = h_call_host_ctx,
    .http = h_http,
    .http_status = h_http_status,
    .http_header = h_http_header,
    .http_body = h_http_body,
    .http_free = h_http_free,
    .json_parse = vp__json_parse,
    .json_free = vp__json_free,
    .json_type = vp__json_type,
    .json_get = vp__json_get,
    .json_path = vp__json_path,
    .json_string = vp__json_string,
    .json_int = vp__json_int,
    .json_double = vp__json_double,
    .json_bool = vp__json_bool,
    .json_len = vp__json_len,
    .json_at = vp__json_at,
    .json_foreach = vp__json_foreach,
    .json_new_object = vp__json_new_object,
    .json_new_array = vp__json_new_array,
    .json_new_string = vp__json_new_string,
    .json_new_int = vp__json_new_int,
    .json_new_bool = vp__json_new_bool,
    .json_set = vp__json_set,
    .json_append = vp__json_append,
    .json_dump = vp__json_dump,
    .sha256 = h_sha256,
    .hmac_sha256 = h_hmac_sha256,
    .sha1 = h_sha1,
    .sign_rs256 = h_sign_rs256,
    .b64_encoded_len = h_b64_encoded_len,
    .b64_encode = h_b64_encode,
    .b64_decode = h_b64_decode,
    .hex_encode = h_hex_encode,
    .hex_decode = h_hex_decode,
    .crc32c = h_crc32c,
    .random = h_random,
    .now_unix_ms = h_now_unix_ms,
    .monotonic_ms = h_monotonic_ms,
    .getenv = h_getenv,
    .read_file = h_read_file,
    .secret_set = h_secret_set,
    .secret_set_ttl = h_secret_set_ttl,
    .secret_set_version = h_secret_set_version,
    .secret_set_expiry = h_secret_set_expiry,
    .secret_fail = h_secret_fail,
    .list_add = h_list_add,
    .cred_out_type = h_cred_out_type,
    .cred_out_field = h_cred_out_field,
    .cred_update = h_cred_update,
    .open_url = h_open_url,
    .notify = h_notify,
    /* ABI 1.1 (host_svc.c, host_loopback.c) */
    .sb_new = vp__sb_new,
    .sb_append = vp__sb_append,
    .sb_append_str = vp__sb_append_str,
    .sb_printf = vp__sb_printf,
    .sb_append_enc = vp__sb_append_enc,
    .sb_append_param = vp__sb_append_param,
    .sb_data = vp__sb_data,
    .sb_status = vp__sb_status,
    .sb_reset = vp__sb_reset,
    .sb_free = vp__sb_free,
    .url_decode = vp__url_decode,
    .url_parse = vp__url_parse,
    .url_get = vp__url_get,
    .url_port = vp__url_port,
    .url_free = vp__url_free,
    .url_query_get = vp__url_query_get,
    .time_parse = vp__time_parse,
    .http_retry_after_ms = vp__http_retry_after_ms,
    .json_new_double = vp__json_new_double,
    .loopback_listen = vp__loopback_listen,
    .loopback_wait = vp__loopback_wait,
    .loopback_close = vp__loopback_close,
};

const vp_host *vp__host_table(void)
{
    return &host_table;
}
