/*
 * mc_tls - test PKI generated at run time with libcrypto: an EC P-256 CA and a server
 * certificate for 127.0.0.1 / localhost signed by it. Nothing is ever checked in.
 */
#include "mc_internal.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <openssl/bio.h>
#include <openssl/bn.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/rand.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

static EVP_PKEY *make_key(void)
{
    return EVP_EC_gen("P-256");
}

static int add_ext(X509 *cert, X509 *issuer, int nid, const char *value)
{
    X509V3_CTX ctx;
    X509V3_set_ctx_nodb(&ctx);
    X509V3_set_ctx(&ctx, issuer, cert, NULL, NULL, 0);
    X509_EXTENSION *ext = X509V3_EXT_conf_nid(NULL, &ctx, nid, value);
    if (ext == NULL)
        return -1;
    int ok = X509_add_ext(cert, ext, -1);
    X509_EXTENSION_free(ext);
    return ok ? 0 : -1;
}

/* A certificate for key, named cn, signed by issuer_key (issuer NULL = self-signed CA). */
static X509 *make_cert(EVP_PKEY *key, const char *cn, X509 *issuer, EVP_PKEY *issuer_key, int is_ca)
{
    X509 *x = X509_new();
    BIGNUM *serial = BN_new();
    if (x == NULL || serial == NULL)
        goto fail;
    if (!X509_set_version(x, 2) || !BN_rand(serial, 63, BN_RAND_TOP_ANY, BN_RAND_BOTTOM_ANY) ||
        !BN_to_ASN1_INTEGER(serial, X509_get_serialNumber(x)))
        goto fail;
    /* Valid from an hour ago (clock skew) for two days: long enough for any test run. */
    if (!X509_gmtime_adj(X509_getm_notBefore(x), -3600) ||
        !X509_gmtime_adj(X509_getm_notAfter(x), 2L * 24 * 3600))
        goto fail;
    X509_NAME *name = X509_get_subject_name(x);
    if (!X509_NAME_add_entry_by_txt(name, "O", MBSTRING_ASC,
                                    (const unsigned char *)"vaultplug mockcloud", -1, -1, 0) ||
        !X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_ASC, (const unsigned char *)cn, -1, -1, 0))
        goto fail;
    if (!X509_set_issuer_name(x, issuer ? X509_get_subject_name(issuer) : name) ||
        !X509_set_pubkey(x, key))
        goto fail;
    X509 *iss = issuer ? issuer : x;
    if (is_ca) {
        if (add_ext(x, iss, NID_basic_constraints, "critical,CA:TRUE") ||
            add_ext(x, iss, NID_key_usage, "critical,keyCertSign,cRLSign") ||
            add_ext(x, iss, NID_subject_key_identifier, "hash") ||
            add_ext(x, iss, NID_authority_key_identifier, "keyid:always"))
            goto fail;
    } else {
        if (add_ext(x, iss, NID_basic_constraints, "critical,CA:FALSE") ||
            add_ext(x, iss, NID_key_usage, "critical,digitalSignature,keyEncipherment") ||
            add_ext(x, iss, NID_ext_key_usage, "serverAuth") ||
            add_ext(x, iss, NID_subject_alt_name, "IP:127.0.0.1,DNS:localhost") ||
            add_ext(x, iss, NID_subject_key_identifier, "hash") ||
            add_ext(x, iss, NID_authority_key_identifier, "keyid:always"))
            goto fail;
    }
    if (!X509_sign(x, issuer_key ? issuer_key : key, EVP_sha256()))
        goto fail;
    BN_free(serial);
    return x;
fail:
    BN_free(serial);
    X509_free(x);
    return NULL;
}

static char *bio_to_string(BIO *b)
{
    char *data = NULL;
    long n = BIO_get_mem_data(b, &data);
    if (n <= 0)
        return NULL;
    char *s = malloc((size_t)n + 1);
    if (s == NULL)
        return NULL;
    memcpy(s, data, (size_t)n);
    s[n] = '\0';
    return s;
}

static char *cert_pem(X509 *x)
{
    BIO *b = BIO_new(BIO_s_mem());
    char *s = NULL;
    if (b != NULL && PEM_write_bio_X509(b, x))
        s = bio_to_string(b);
    BIO_free(b);
    return s;
}

static char *key_pem(EVP_PKEY *k)
{
    BIO *b = BIO_new(BIO_s_mem());
    char *s = NULL;
    if (b != NULL && PEM_write_bio_PrivateKey(b, k, NULL, NULL, 0, NULL, NULL))
        s = bio_to_string(b);
    BIO_free(b);
    return s;
}

int mc__tls_make(char **ca_out, char **key_out, char **cert_out)
{
    int rc = -1;
    *ca_out = *key_out = *cert_out = NULL;
    EVP_PKEY *ca_key = make_key(), *srv_key = make_key();
    X509 *ca = NULL, *srv = NULL;
    if (ca_key == NULL || srv_key == NULL)
        goto out;
    ca = make_cert(ca_key, "vaultplug mockcloud test CA", NULL, NULL, 1);
    if (ca == NULL)
        goto out;
    if (cert_out != NULL && key_out != NULL) {
        srv = make_cert(srv_key, "127.0.0.1", ca, ca_key, 0);
        if (srv == NULL)
            goto out;
        *cert_out = cert_pem(srv);
        *key_out = key_pem(srv_key);
        if (*cert_out == NULL || *key_out == NULL)
            goto out;
    }
    *ca_out = cert_pem(ca);
    if (*ca_out == NULL)
        goto out;
    rc = 0;
out:
    if (rc != 0) {
        free(*ca_out);
        free(*key_out);
        free(*cert_out);
        *ca_out = *key_out = *cert_out = NULL;
    }
    X509_free(ca);
    X509_free(srv);
    EVP_PKEY_free(ca_key);
    EVP_PKEY_free(srv_key);
    return rc;
}

int mc__write_temp_pem(const char *pem, char *path, size_t cap)
{
    char dir[] = "/tmp/vp-mockcloud-XXXXXX";
    if (mkdtemp(dir) == NULL)
        return -1;
    if ((size_t)snprintf(path, cap, "%s/ca.pem", dir) >= cap) {
        rmdir(dir);
        return -1;
    }
    if (mc__write_file(path, pem) != 0) {
        rmdir(dir);
        return -1;
    }
    return 0;
}

int mc__write_file(const char *path, const char *text)
{
    FILE *f = fopen(path, "w");
    if (f == NULL)
        return -1;
    size_t n = strlen(text);
    int rc = fwrite(text, 1, n, f) == n ? 0 : -1;
    if (fclose(f) != 0)
        rc = -1;
    if (rc != 0)
        unlink(path);
    return rc;
}

int mc_tls_unrelated_ca_file(char *path, size_t cap)
{
    char *ca = NULL, *key = NULL, *cert = NULL;
    /* Same generator; only the CA half is used: it has signed nothing any server presents. */
    if (mc__tls_make(&ca, &key, &cert) != 0)
        return -1;
    int rc = mc__write_temp_pem(ca, path, cap);
    free(ca);
    free(key);
    free(cert);
    return rc;
}

void mc_tls_remove_ca_file(const char *path)
{
    if (path == NULL || path[0] == '\0')
        return;
    unlink(path);
    char dir[512];
    snprintf(dir, sizeof(dir), "%s", path);
    char *slash = strrchr(dir, '/');
    if (slash != NULL) {
        *slash = '\0';
        rmdir(dir);
    }
}
