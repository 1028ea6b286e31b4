/*
 * test_host - the vp_host services table (host.c): every field, including error paths.
 * The JSON part has its own test (test_json.c).
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/rsa.h>

#include "call.h"
#include "fault.h"
#include "host.h"
#include "log.h"
#include "secmem.h"
#include "secret.h"

static const vp_host *H;

/* ---- fixtures ---------------------------------------------------------------------------- */

typedef struct logcap {
    char lines[16][VP_ERROR_MAX];
    char sources[16][32];
    int n;
} logcap;

static void cap_fn(void *ud, int level, const char *source, const char *message)
{
    (void)level;
    logcap *c = ud;
    if (c->n < 16) {
        snprintf(c->lines[c->n], sizeof(c->lines[0]), "%s", message);
        snprintf(c->sources[c->n], sizeof(c->sources[0]), "%s", source);
        c->n++;
    }
}

static int64_t fake_now = 1700000000000;
static int64_t fake_mono = 5000;
static int64_t wall(void *ud)
{
    (void)ud;
    return fake_now;
}
static int64_t mono(void *ud)
{
    (void)ud;
    return fake_mono;
}

typedef struct fixture {
    logcap cap;
    vp__log *log;
    vp_host_ctx hc;
} fixture;

static int setup(void **state)
{
    fixture *f = calloc(1, sizeof(*f));
    assert_non_null(f);
    assert_int_equal(vp__secmem_init(), 0);
    assert_int_equal(vp__log_new(cap_fn, &f->cap, VP_LEVEL_TRACE, &f->log), 0);
    f->hc.source = "testprov";
    f->hc.log = f->log;
    f->hc.wall_clock_ms = wall;
    f->hc.monotonic_clock_ms = mono;
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    fixture *f = *state;
    vp__log_free(f->log);
    free(f);
    vp__fault_alloc_after(0);
    return 0;
}

static void hexs(const unsigned char *b, size_t n, char *out)
{
    H->hex_encode(b, n, out);
}

/* ---- header ------------------------------------------------------------------------------ */

static void test_table_complete(void **state)
{
    (void)state;
    assert_int_equal(H->hdr.abi_major, VP_ABI_MAJOR);
    assert_int_equal(H->hdr.struct_size, sizeof(vp_host));
    /* Every field after the header is a function pointer: none may be NULL. */
    const unsigned char *p = (const unsigned char *)H + sizeof(vp_abi_hdr);
    size_t n = (sizeof(vp_host) - sizeof(vp_abi_hdr)) / sizeof(void (*)(void));
    for (size_t i = 0; i < n; i++) {
        void (*fn)(void);
        memcpy(&fn, p + i * sizeof(fn), sizeof(fn));
        assert_non_null(fn);
    }
}

/* ---- memory ------------------------------------------------------------------------------ */

static void test_memory(void **state)
{
    (void)state;
    char *a = H->malloc(16);
    assert_non_null(a);
    memcpy(a, "hello", 6);
    a = H->realloc(a, 4096);
    assert_non_null(a);
    assert_string_equal(a, "hello");
    H->free(a);
    int *z = H->calloc(8, sizeof(int));
    assert_non_null(z);
    for (int i = 0; i < 8; i++)
        assert_int_equal(z[i], 0);
    H->free(z);
    char *d = H->strdup("abc");
    assert_string_equal(d, "abc");
    H->free(d);
    assert_null(H->strdup(NULL));
    H->free(NULL);

    char *s = H->secure_malloc(40);
    assert_non_null(s);
    assert_true(vp__secmem_owns(s));
    H->secure_free(s);
    H->secure_free(NULL);
    char *ss = H->secure_strdup("token-value");
    assert_true(vp__secmem_owns(ss));
    assert_string_equal(ss, "token-value");
    H->secure_free(ss);

    unsigned char buf[8] = {1, 2, 3, 4, 5, 6, 7, 8};
    H->memzero(buf, sizeof(buf));
    for (size_t i = 0; i < sizeof(buf); i++)
        assert_int_equal(buf[i], 0);
    assert_int_equal(H->memcmp_ct("abcd", "abcd", 4), 0);
    assert_int_equal(H->memcmp_ct("abcd", "abce", 4), -1);
    assert_int_equal(H->memcmp_ct("x", "y", 0), 0);
}

static void test_alloc_failure_injection(void **state)
{
    (void)state;
    vp__fault_alloc_after(3);
    void *a = H->malloc(8);    /* 1 */
    void *b = H->calloc(1, 8); /* 2 */
    void *c = H->malloc(8);    /* 3: fails */
    void *d = H->strdup("x");  /* 4 */
    assert_non_null(a);
    assert_non_null(b);
    assert_null(c);
    assert_non_null(d);
    H->free(a);
    H->free(b);
    H->free(d);

    /* Each allocating function honours it. */
    vp__fault_alloc_after(1);
    assert_null(H->secure_malloc(8));
    vp__fault_alloc_after(1);
    assert_null(H->secure_strdup("x"));
    vp__fault_alloc_after(1);
    assert_null(H->strdup("x"));
    vp__fault_alloc_after(1);
    void *r = malloc(4);
    assert_null(H->realloc(r, 64)); /* the old block stays valid */
    free(r);
    vp__fault_alloc_after(1);
    vp_secret_out out;
    vp__secret_out_init(&out, NULL);
    assert_int_equal(H->secret_set(&out, "v", 1), VP_ENOMEM);
    assert_null(out.value);
    vp__fault_alloc_after(0);
    assert_int_equal(H->secret_set(&out, "v", 1), 0);
    vp__secret_out_clear(&out);
}

/* ---- logging and calls ------------------------------------------------------------------- */

static void test_log_mask(void **state)
{
    fixture *f = *state;
    H->log(&f->hc, VP_LOG_INFO, "hello %d", 42);
    assert_int_equal(f->cap.n, 1);
    assert_string_equal(f->cap.lines[0], "hello 42");
    assert_string_equal(f->cap.sources[0], "testprov");

    H->mask(&f->hc, "sekrit-token", 12);
    H->log(&f->hc, VP_LOG_WARN, "got %s here", "sekrit-token");
    assert_int_equal(f->cap.n, 2);
    assert_null(strstr(f->cap.lines[1], "sekrit-token"));
    assert_non_null(strstr(f->cap.lines[1], VP__REDACTED));
    H->unmask(&f->hc, "sekrit-token", 12);
    H->log(&f->hc, VP_LOG_WARN, "got %s", "sekrit-token");
    assert_non_null(strstr(f->cap.lines[2], "sekrit-token"));
    H->log(NULL, VP_LOG_WARN, "no context"); /* no crash */
}

static void test_call_functions(void **state)
{
    fixture *f = *state;
    vp_call call;
    fake_mono = 5000;
    vp__call_init(&call, &f->hc, 1000);
    assert_int_equal(H->call_remaining_ms(&call), 1000);
    assert_int_equal(H->call_canceled(&call), 0);
    fake_mono = 5600;
    assert_int_equal(H->call_remaining_ms(&call), 400);
    fake_mono = 6001;
    assert_int_equal(H->call_remaining_ms(&call), 0);
    assert_int_not_equal(H->call_canceled(&call), 0);

    vp__call_init(&call, &f->hc, 0);
    assert_int_equal(H->call_remaining_ms(&call), -1);
    vp__call_cancel(&call);
    assert_int_not_equal(H->call_canceled(&call), 0);
    H->call_set_retry_after(&call, 2500);
    assert_int_equal(call.retry_after_ms, 2500);
    assert_ptr_equal(H->call_host_ctx(&call), &f->hc);

    H->mask(&f->hc, "hunter2-pass", 12);
    assert_int_equal(
        (*H->fail)(&call, VP_ENOTFOUND, "secret %s missing (pw %s)", "db", "hunter2-pass"),
        VP_ENOTFOUND);
    assert_int_equal(call.status, VP_ENOTFOUND);
    assert_non_null(strstr(call.message, "secret db missing"));
    assert_null(strstr(call.message, "hunter2-pass"));
    assert_int_equal((*H->fail)(&call, 5, "positive"), VP_EINTERNAL);
    H->unmask(&f->hc, "hunter2-pass", 12);
}

static void test_http_guards(void **state)
{
    fixture *f = *state;
    vp_call call;
    vp__call_init(&call, &f->hc, 0);
    vp_http_request req = {VP_ABI_HDR(vp_http_request),
                           "GET",
                           "http://127.0.0.1:1/",
                           NULL,
                           0,
                           NULL,
                           0,
                           0,
                           0,
                           0,
                           NULL,
                           NULL};
    vp_http_response *resp = (vp_http_response *)1;
    /* This host context has no HTTP service. */
    assert_int_equal(H->http(&call, &req, &resp), VP_ENOTSUP);
    assert_null(resp);
    assert_int_equal(H->http(NULL, &req, &resp), VP_EINVAL);
    assert_int_equal(H->http_status(NULL), 0);
    assert_null(H->http_header(NULL, "x"));
    size_t len = 7;
    assert_null(H->http_body(NULL, &len));
    assert_int_equal(len, 0);
    H->http_free(NULL);
}

/* ---- hashing, MAC, signing --------------------------------------------------------------- */

static void test_sha256_pkce(void **state)
{
    (void)state;
    const char *verifier = "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk";
    unsigned char d[32];
    H->sha256(verifier, strlen(verifier), d);
    char b64[64];
    assert_int_equal(H->b64_encode(d, 32, VP_B64_URL_NOPAD, b64, sizeof(b64)), 0);
    assert_string_equal(b64, "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM");
    char hx[65];
    H->sha256("abc", 3, d);
    hexs(d, 32, hx);
    assert_string_equal(hx, "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
    H->sha256(NULL, 0, d);
    hexs(d, 32, hx);
    assert_string_equal(hx, "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
}

static void test_hmac_rfc4231(void **state)
{
    (void)state;
    unsigned char key[131];
    memset(key, 0xaa, sizeof(key));
    unsigned char mac[32];
    char hx[65];
    /* RFC 4231 test case 6: key longer than the block size is hashed first. */
    const char *d6 = "Test Using Larger Than Block-Size Key - Hash Key First";
    H->hmac_sha256(key, sizeof(key), d6, strlen(d6), mac);
    hexs(mac, 32, hx);
    assert_string_equal(hx, "60e431591ee0b67f0d8a26aacbf5b77f8e0bc6213728c5140546040f0ee37f54");
    /* Test case 7. */
    const char *d7 = "This is a test using a larger than block-size key and a larger than "
                     "block-size data. The key needs to be hashed before being used by the HMAC "
                     "algorithm.";
    H->hmac_sha256(key, sizeof(key), d7, strlen(d7), mac);
    hexs(mac, 32, hx);
    assert_string_equal(hx, "9b09ffa71b942fcb27635fbcd5b0e944bfdc63644f0713938a7f51535c3a35e2");
    /* Test case 2: short key. */
    H->hmac_sha256("Jefe", 4, "what do ya want for nothing?", 28, mac);
    hexs(mac, 32, hx);
    assert_string_equal(hx, "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843");
}

static void test_sha1(void **state)
{
    (void)state;
    unsigned char d[20];
    char hx[41];
    H->sha1("my-sso", 6, d);
    hexs(d, 20, hx);
    assert_string_equal(hx, "0ad374308c5a4e22f723adf10145eafad7c4031c");
}

static char *pem_of(EVP_PKEY *k, int traditional, size_t *len)
{
    BIO *b = BIO_new(BIO_s_mem());
    assert_non_null(b);
    int ok = traditional ? PEM_write_bio_PrivateKey_traditional(b, k, NULL, NULL, 0, NULL, NULL)
                         : PEM_write_bio_PrivateKey(b, k, NULL, NULL, 0, NULL, NULL);
    assert_int_equal(ok, 1);
    char *data;
    long n = BIO_get_mem_data(b, &data);
    char *out = malloc((size_t)n + 1);
    memcpy(out, data, (size_t)n);
    out[n] = '\0';
    *len = (size_t)n;
    BIO_free(b);
    return out;
}

static void verify_sig(EVP_PKEY *k, const char *msg, const unsigned char *sig, size_t sig_len)
{
    EVP_MD_CTX *md = EVP_MD_CTX_new();
    assert_int_equal(EVP_DigestVerifyInit(md, NULL, EVP_sha256(), NULL, k), 1);
    assert_int_equal(EVP_DigestVerify(md, sig, sig_len, (const unsigned char *)msg, strlen(msg)),
                     1);
    EVP_MD_CTX_free(md);
}

static void test_sign_rs256(void **state)
{
    fixture *f = *state;
    EVP_PKEY *k = EVP_RSA_gen(2048);
    assert_non_null(k);
    const char *msg = "eyJhbGciOiJSUzI1NiJ9.eyJzdWIiOiJ4In0";
    for (int trad = 0; trad <= 1; trad++) {
        size_t pem_len;
        char *pem = pem_of(k, trad, &pem_len);
        assert_non_null(strstr(pem, trad ? "BEGIN RSA PRIVATE KEY" : "BEGIN PRIVATE KEY"));
        vp_call call;
        vp__call_init(&call, &f->hc, 0);
        unsigned char *sig = NULL;
        size_t sig_len = 0;
        assert_int_equal(H->sign_rs256(&call, pem, pem_len, msg, strlen(msg), &sig, &sig_len), 0);
        assert_int_equal(sig_len, 256);
        verify_sig(k, msg, sig, sig_len);
        /* A different message does not verify. */
        EVP_MD_CTX *md = EVP_MD_CTX_new();
        assert_int_equal(EVP_DigestVerifyInit(md, NULL, EVP_sha256(), NULL, k), 1);
        assert_int_not_equal(EVP_DigestVerify(md, sig, sig_len, (const unsigned char *)"x", 1), 1);
        EVP_MD_CTX_free(md);
        H->free(sig);
        free(pem);
    }
    EVP_PKEY_free(k);

    /* Garbage and non-RSA keys: VP_EINVAL with a message, no output. */
    vp_call call;
    vp__call_init(&call, &f->hc, 0);
    unsigned char *sig = (unsigned char *)1;
    size_t sig_len = 9;
    const char *junk = "-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----\n";
    assert_int_equal(H->sign_rs256(&call, junk, strlen(junk), "m", 1, &sig, &sig_len), VP_EINVAL);
    assert_null(sig);
    assert_int_equal(sig_len, 0);
    assert_non_null(strstr(call.message, "RSA private key"));
    EVP_PKEY *ec = EVP_EC_gen("P-256");
    assert_non_null(ec);
    size_t ec_len;
    char *ec_pem = pem_of(ec, 0, &ec_len);
    assert_int_equal(H->sign_rs256(&call, ec_pem, ec_len, "m", 1, &sig, &sig_len), VP_EINVAL);
    free(ec_pem);
    EVP_PKEY_free(ec);
    assert_int_equal(H->sign_rs256(&call, NULL, 0, "m", 1, &sig, &sig_len), VP_EINVAL);
}

/* ---- encodings --------------------------------------------------------------------------- */

static void test_b64_vectors(void **state)
{
    (void)state;
    static const struct {
        const char *in, *std, *std_nopad;
    } v[] = {{"", "", ""},
             {"f", "Zg==", "Zg"},
             {"fo", "Zm8=", "Zm8"},
             {"foo", "Zm9v", "Zm9v"},
             {"foob", "Zm9vYg==", "Zm9vYg"},
             {"fooba", "Zm9vYmE=", "Zm9vYmE"},
             {"foobar", "Zm9vYmFy", "Zm9vYmFy"}};
    char out[64];
    for (size_t i = 0; i < sizeof(v) / sizeof(v[0]); i++) {
        size_t n = strlen(v[i].in);
        assert_int_equal(H->b64_encoded_len(n, VP_B64_STD), strlen(v[i].std) + 1);
        assert_int_equal(H->b64_encode(v[i].in, n, VP_B64_STD, out, sizeof(out)), 0);
        assert_string_equal(out, v[i].std);
        assert_int_equal(H->b64_encode(v[i].in, n, VP_B64_STD_NOPAD, out, sizeof(out)), 0);
        assert_string_equal(out, v[i].std_nopad);
    }
    /* URL alphabet differs in the two last symbols. */
    const unsigned char bin[] = {0xfb, 0xff, 0xbf};
    assert_int_equal(H->b64_encode(bin, 3, VP_B64_STD, out, sizeof(out)), 0);
    assert_string_equal(out, "+/+/");
    assert_int_equal(H->b64_encode(bin, 3, VP_B64_URL, out, sizeof(out)), 0);
    assert_string_equal(out, "-_-_");
    /* Too small output. */
    assert_int_equal(H->b64_encode("foobar", 6, VP_B64_STD, out, 8), VP_ELIMIT);
    assert_int_equal(H->b64_encode("foobar", 6, VP_B64_STD, out, 9), 0);
    /* Unknown variant. */
    assert_int_equal(H->b64_encoded_len(3, (vp_b64_variant)2), 0);
    assert_int_equal(H->b64_encode("a", 1, (vp_b64_variant)2, out, sizeof(out)), VP_EINVAL);
}

static void test_b64_roundtrip_all_variants(void **state)
{
    (void)state;
    const vp_b64_variant vs[] = {VP_B64_STD, VP_B64_STD_NOPAD, VP_B64_URL, VP_B64_URL_NOPAD};
    unsigned char in[64], back[96];
    char enc[128];
    for (size_t vi = 0; vi < 4; vi++) {
        for (size_t n = 0; n <= sizeof(in); n++) {
            H->random(in, n);
            size_t need = H->b64_encoded_len(n, vs[vi]);
            assert_true(need <= sizeof(enc));
            assert_int_equal(H->b64_encode(in, n, vs[vi], enc, need), 0);
            assert_int_equal(strlen(enc) + 1, need);
            size_t got = 99;
            assert_int_equal(
                H->b64_decode(enc, strlen(enc), vs[vi], back, strlen(enc) * 3 / 4 + 3, &got), 0);
            assert_int_equal(got, n);
            assert_memory_equal(in, back, n);
        }
    }
}

static void test_b64_decode_errors(void **state)
{
    (void)state;
    unsigned char out[32];
    size_t n;
    /* Whitespace is ignored. */
    assert_int_equal(H->b64_decode("Zm9v\r\n YmFy\t", 13, VP_B64_STD, out, sizeof(out), &n), 0);
    assert_int_equal(n, 6);
    assert_memory_equal(out, "foobar", 6);
    /* Invalid characters. */
    assert_int_equal(H->b64_decode("Zm9v*mFy", 8, VP_B64_STD, out, sizeof(out), &n), VP_EPROTO);
    assert_int_equal(n, 0);
    /* Padding rules per variant. */
    assert_int_equal(H->b64_decode("Zg", 2, VP_B64_STD, out, sizeof(out), &n), VP_EPROTO);
    assert_int_equal(H->b64_decode("Zg==", 4, VP_B64_STD_NOPAD, out, sizeof(out), &n), VP_EPROTO);
    assert_int_equal(H->b64_decode("Zg", 2, VP_B64_URL_NOPAD, out, sizeof(out), &n), 0);
    assert_int_equal(n, 1);
    /* Alphabet per variant. */
    assert_int_equal(H->b64_decode("-_-_", 4, VP_B64_STD, out, sizeof(out), &n), VP_EPROTO);
    assert_int_equal(H->b64_decode("+/+/", 4, VP_B64_URL, out, sizeof(out), &n), VP_EPROTO);
    assert_int_equal(H->b64_decode("-_-_", 4, VP_B64_URL, out, sizeof(out), &n), 0);
    assert_int_equal(n, 3);
    /* Valid but the output is too small. */
    assert_int_equal(H->b64_decode("Zm9vYmFy", 8, VP_B64_STD, out, 5, &n), VP_ELIMIT);
    /* Non-NUL-terminated input: only n bytes are read. */
    assert_int_equal(H->b64_decode("Zm9v!!!!", 4, VP_B64_STD, out, sizeof(out), &n), 0);
    assert_int_equal(n, 3);
    assert_int_equal(H->b64_decode("", 0, VP_B64_STD, out, sizeof(out), &n), 0);
    assert_int_equal(n, 0);
    assert_int_equal(H->b64_decode("Zg==", 4, (vp_b64_variant)0, out, sizeof(out), &n), VP_EINVAL);
}

static void test_hex(void **state)
{
    (void)state;
    char out[16];
    H->hex_encode("\x00\xab\xff", 3, out);
    assert_string_equal(out, "00abff");
    unsigned char bin[4];
    size_t n;
    assert_int_equal(H->hex_decode("00ABff", 6, bin, sizeof(bin), &n), 0);
    assert_int_equal(n, 3);
    assert_memory_equal(bin, "\x00\xab\xff", 3);
    assert_int_equal(H->hex_decode("abc", 3, bin, sizeof(bin), &n), VP_EPROTO);
    assert_int_equal(H->hex_decode("zz", 2, bin, sizeof(bin), &n), VP_EPROTO);
    assert_int_equal(H->hex_decode("0011223344", 10, bin, sizeof(bin), &n), VP_ELIMIT);
}

static void test_crc32c(void **state)
{
    (void)state;
    assert_int_equal(H->crc32c(0, "123456789", 9), 0xE3069283u);
    assert_int_equal(H->crc32c(0, "hunter2", 7), 1736498283u);
    assert_int_equal(H->crc32c(0, "", 0), 0);
    /* Chaining gives the same result as one call. */
    uint32_t c = H->crc32c(0, "1234", 4);
    assert_int_equal(H->crc32c(c, "56789", 5), 0xE3069283u);
}

static void test_random(void **state)
{
    (void)state;
    unsigned char a[32] = {0}, b[32] = {0};
    H->random(a, sizeof(a));
    H->random(b, sizeof(b));
    assert_memory_not_equal(a, b, sizeof(a));
    H->random(NULL, 0);
}

/* ---- clocks, environment, files ---------------------------------------------------------- */

static void test_clocks(void **state)
{
    fixture *f = *state;
    fake_now = 1234567890123;
    fake_mono = 777;
    assert_int_equal(H->now_unix_ms(&f->hc), 1234567890123);
    assert_int_equal(H->monotonic_ms(&f->hc), 777);
    /* NULL host context: system clocks. */
    assert_true(H->now_unix_ms(NULL) > 1600000000000);
    int64_t m1 = H->monotonic_ms(NULL), m2 = H->monotonic_ms(NULL);
    assert_true(m2 >= m1);
}

static void test_getenv(void **state)
{
    fixture *f = *state;
    setenv("VP_TEST_HOST_VAR", "value-123", 1);
    char *v = H->getenv(&f->hc, "VP_TEST_HOST_VAR");
    assert_non_null(v);
    assert_string_equal(v, "value-123");
    assert_true(vp__secmem_owns(v));
    H->secure_free(v);
    unsetenv("VP_TEST_HOST_VAR");
    assert_null(H->getenv(&f->hc, "VP_TEST_HOST_VAR"));
    assert_null(H->getenv(&f->hc, ""));
    assert_null(H->getenv(&f->hc, NULL));
}

static char tmpdir[256];

static void write_file(const char *path, const char *data, size_t n)
{
    FILE *fp = fopen(path, "wb");
    assert_non_null(fp);
    assert_int_equal(fwrite(data, 1, n, fp), n);
    fclose(fp);
}

static void test_read_file(void **state)
{
    fixture *f = *state;
    snprintf(tmpdir, sizeof(tmpdir), "/tmp/vp_test_host_XXXXXX");
    assert_non_null(mkdtemp(tmpdir));
    char path[512];
    snprintf(path, sizeof(path), "%s/creds", tmpdir);
    write_file(path, "a\0b-contents", 12);

    vp_call call;
    vp__call_init(&call, &f->hc, 0);
    char *data = NULL;
    size_t len = 0;
    assert_int_equal(H->read_file(&f->hc, &call, path, 0, &data, &len), 0);
    assert_int_equal(len, 12);
    assert_memory_equal(data, "a\0b-contents", 12);
    assert_int_equal(data[12], '\0');
    assert_true(vp__secmem_owns(data));
    H->secure_free(data);

    /* "~/" expands from HOME. */
    char *old_home = getenv("HOME") ? strdup(getenv("HOME")) : NULL;
    setenv("HOME", tmpdir, 1);
    assert_int_equal(H->read_file(&f->hc, &call, "~/creds", 0, &data, &len), 0);
    assert_int_equal(len, 12);
    H->secure_free(data);
    if (old_home) {
        setenv("HOME", old_home, 1);
        free(old_home);
    } else {
        unsetenv("HOME");
    }

    /* Size cap. */
    assert_int_equal(H->read_file(&f->hc, &call, path, 11, &data, &len), VP_ELIMIT);
    assert_null(data);
    assert_non_null(strstr(call.message, "larger than 11 bytes"));
    assert_int_equal(H->read_file(&f->hc, &call, path, 12, &data, &len), 0);
    H->secure_free(data);

    /* Missing file, directory, FIFO. */
    char missing[512];
    snprintf(missing, sizeof(missing), "%s/nope", tmpdir);
    assert_int_equal(H->read_file(&f->hc, &call, missing, 0, &data, &len), VP_ENOTFOUND);
    assert_non_null(strstr(call.message, "nope"));
    assert_int_equal(H->read_file(&f->hc, NULL, missing, 0, &data, &len), VP_ENOTFOUND);
    assert_int_equal(H->read_file(&f->hc, &call, tmpdir, 0, &data, &len), VP_EIO);
    char fifo[512];
    snprintf(fifo, sizeof(fifo), "%s/fifo", tmpdir);
    assert_int_equal(mkfifo(fifo, 0600), 0);
    assert_int_equal(H->read_file(&f->hc, &call, fifo, 0, &data, &len), VP_EIO);

    /* Unreadable: only meaningful when not root (root bypasses permissions). */
    if (geteuid() != 0) {
        chmod(path, 0);
        assert_int_equal(H->read_file(&f->hc, &call, path, 0, &data, &len), VP_EPERM);
    }
    assert_int_equal(H->read_file(&f->hc, &call, NULL, 0, &data, &len), VP_EINVAL);
    unlink(fifo);
    unlink(path);
    rmdir(tmpdir);
}

/* ---- outputs ----------------------------------------------------------------------------- */

static void test_secret_out(void **state)
{
    fixture *f = *state;
    vp_secret_out out;
    vp__secret_out_init(&out, &f->hc);
    assert_int_equal(out.ttl_s, UINT32_MAX);
    assert_int_equal(H->secret_set(&out, "first", 5), 0);
    assert_int_equal(H->secret_set(&out, "s3cr\0t", 6), 0); /* replaces; NUL bytes kept */
    assert_int_equal(out.len, 6);
    assert_memory_equal(out.value, "s3cr\0t", 6);
    assert_true(vp__secmem_owns(out.value));
    H->secret_set_ttl(&out, 60);
    assert_int_equal(out.ttl_s, 60);
    assert_int_equal(H->secret_set_version(&out, "v-42"), 0);
    assert_string_equal(out.version, "v-42");
    char longv[200];
    memset(longv, 'x', sizeof(longv) - 1);
    longv[sizeof(longv) - 1] = '\0';
    assert_int_equal(H->secret_set_version(&out, longv), VP_ELIMIT);
    assert_string_equal(out.version, "v-42");
    H->secret_set_expiry(&out, 1700000000000);
    assert_int_equal(out.expiry_unix_ms, 1700000000000);
    assert_int_equal(H->secret_set(NULL, "x", 1), VP_EINVAL);

    H->mask(&f->hc, "leaky-value", 11);
    assert_int_equal(H->secret_fail(&out, VP_ENOTFOUND, "item %s gone: %s", "k1", "leaky-value"),
                     VP_ENOTFOUND);
    assert_int_equal(out.status, VP_ENOTFOUND);
    assert_true(out.failed);
    assert_non_null(strstr(out.message, "item k1 gone"));
    assert_null(strstr(out.message, "leaky-value"));
    assert_int_equal(H->secret_fail(&out, 3, "x"), VP_EINTERNAL);
    H->unmask(&f->hc, "leaky-value", 11);
    vp__secret_out_clear(&out);
    assert_null(out.value);
}

static void test_list_and_cred_out(void **state)
{
    (void)state;
    vp_list_out l;
    vp__list_out_init(&l);
    for (int i = 0; i < 40; i++) {
        char name[16];
        snprintf(name, sizeof(name), "s%d", i);
        assert_int_equal(H->list_add(&l, name), 0);
    }
    assert_int_equal(l.n, 40);
    assert_string_equal(l.names[39], "s39");
    assert_int_equal(H->list_add(&l, NULL), VP_EINVAL);
    vp__list_out_clear(&l);

    vp_cred_out c;
    vp__cred_out_init(&c);
    assert_int_equal(H->cred_out_type(&c, "refresh_token"), 0);
    assert_int_equal(H->cred_out_field(&c, "tenant", "contoso", 7, 0), 0);
    assert_int_equal(H->cred_out_field(&c, "refresh_token", "rt-1", 4, VP_FIELD_SECRET), 0);
    assert_int_equal(H->cred_out_field(&c, "refresh_token", "rt-2", 4, VP_FIELD_SECRET), 0);
    assert_int_equal(c.n, 2);
    assert_string_equal(c.type, "refresh_token");
    assert_string_equal(c.fields[1].value, "rt-2");
    assert_true(vp__secmem_owns(c.fields[1].value));
    assert_int_equal(c.fields[1].flags, VP_FIELD_SECRET);
    assert_int_equal(H->cred_out_field(&c, "", "x", 1, 0), VP_EINVAL);
    for (int i = 0; i < 62; i++) { /* up to the cap of 64 fields */
        char k[16];
        snprintf(k, sizeof(k), "f%d", i);
        assert_int_equal(H->cred_out_field(&c, k, "v", 1, 0), 0);
    }
    assert_int_equal(c.n, 64);
    assert_int_equal(H->cred_out_field(&c, "one-more", "v", 1, 0), VP_ELIMIT);
    vp__cred_out_clear(&c);
}

static int url_calls;
static char last_url[128];
static char last_note[128];
static int ui_open(void *ud, const char *url)
{
    (void)ud;
    url_calls++;
    snprintf(last_url, sizeof(last_url), "%s", url);
    return 0;
}
static void ui_notify(void *ud, const char *m)
{
    (void)ud;
    snprintf(last_note, sizeof(last_note), "%s", m);
}

static void test_ui_and_cred_update(void **state)
{
    fixture *f = *state;
    vp_call call;
    vp__call_init(&call, &f->hc, 0);
    assert_int_equal(H->open_url(&call, "https://login.example/x"), VP_ENOTSUP);
    int before = f->cap.n;
    H->notify(&call, "enter code ABCD"); /* no hook: goes to the log */
    assert_int_equal(f->cap.n, before + 1);
    assert_string_equal(f->cap.lines[before], "enter code ABCD");

    f->hc.open_url = ui_open;
    f->hc.notify = ui_notify;
    assert_int_equal(H->open_url(&call, "https://login.example/x"), 0);
    assert_int_equal(url_calls, 1);
    assert_string_equal(last_url, "https://login.example/x");
    H->notify(&call, "waiting");
    assert_string_equal(last_note, "waiting");
    f->hc.open_url = NULL;
    f->hc.notify = NULL;

    assert_int_equal(H->cred_update(&call, "refresh_token", "x", 1), VP_ENOTSUP);
}

int main(void)
{
    H = vp__host_table();
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_table_complete),
        cmocka_unit_test_setup_teardown(test_memory, setup, teardown),
        cmocka_unit_test_setup_teardown(test_alloc_failure_injection, setup, teardown),
        cmocka_unit_test_setup_teardown(test_log_mask, setup, teardown),
        cmocka_unit_test_setup_teardown(test_call_functions, setup, teardown),
        cmocka_unit_test_setup_teardown(test_http_guards, setup, teardown),
        cmocka_unit_test_setup_teardown(test_sha256_pkce, setup, teardown),
        cmocka_unit_test_setup_teardown(test_hmac_rfc4231, setup, teardown),
        cmocka_unit_test_setup_teardown(test_sha1, setup, teardown),
        cmocka_unit_test_setup_teardown(test_sign_rs256, setup, teardown),
        cmocka_unit_test_setup_teardown(test_b64_vectors, setup, teardown),
        cmocka_unit_test_setup_teardown(test_b64_roundtrip_all_variants, setup, teardown),
        cmocka_unit_test_setup_teardown(test_b64_decode_errors, setup, teardown),
        cmocka_unit_test_setup_teardown(test_hex, setup, teardown),
        cmocka_unit_test_setup_teardown(test_crc32c, setup, teardown),
        cmocka_unit_test_setup_teardown(test_random, setup, teardown),
        cmocka_unit_test_setup_teardown(test_clocks, setup, teardown),
        cmocka_unit_test_setup_teardown(test_getenv, setup, teardown),
        cmocka_unit_test_setup_teardown(test_read_file, setup, teardown),
        cmocka_unit_test_setup_teardown(test_secret_out, setup, teardown),
        cmocka_unit_test_setup_teardown(test_list_and_cred_out, setup, teardown),
        cmocka_unit_test_setup_teardown(test_ui_and_cred_update, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
