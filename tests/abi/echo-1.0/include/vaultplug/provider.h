/*
 * vaultplug/provider.h - the vaultplug provider plugin ABI, version 1.
 *
 * A provider is a shared object that teaches the vaultplug host how to fetch secrets from one
 * secret store (AWS Secrets Manager, a company's own HTTP service, ...). This header is the whole
 * contract between the two sides; it is header-only and a provider links against nothing but libc.
 * Everything a provider needs (HTTP, JSON, hashing, signing, base64, random bytes, clock,
 * environment, files, secure memory, logging) comes from the host through `vp_host`.
 *
 * MODEL
 *   The host dlopen()s `<name>.so` and calls the one exported symbol, `vaultplug_provider_entry`,
 *   which returns a static `vp_provider` table. The host checks that table's header, name, caps
 *   and function pointers before it runs any other plugin code, then calls:
 *
 *     init(host, host_ctx, &mod)            once per host context
 *     configure(mod, cred, call, &inst)     once per (credential) the host uses
 *     fetch(inst, ref, call, out)           per secret (or fetch_batch for a group)
 *     validate(inst, call)                  cheap credential check that reads no secret
 *     destroy(inst) ... teardown(mod)       at the end
 *
 * VERSIONING
 *   Every struct that crosses the boundary starts with `vp_abi_hdr`. The major must equal
 *   VP_ABI_MAJOR exactly; a minor release only appends fields at the end of structs. The reader
 *   of a struct uses a field only if the writer's `struct_size` covers it: test with VP_HAS().
 *   Field offsets of every released minor are locked by _Static_assert tests in the vaultplug
 *   source tree (tests/abi/).
 *
 * OWNERSHIP
 *   Pointers handed to a provider are borrowed for the duration of the call. A provider frees
 *   only what it allocated, with the host function matching the allocation (free for malloc,
 *   secure_free for secure_malloc). Secret values leave a provider only through
 *   host->secret_set(); a provider wipes every temporary copy of a secret with host->memzero()
 *   before releasing it.
 *
 * THREADS
 *   A provider that sets VP_CAP_THREADSAFE may have fetch/fetch_batch/validate called on the same
 *   instance from several threads at once and must protect its own mutable state (token caches).
 *   A provider without the bit is serialised per instance by the host. init/teardown and
 *   configure/destroy are never called concurrently with other calls on the same object.
 *   Every host function is thread-safe.
 *
 * ERRORS
 *   Functions return 0 (VP_OK) or a negative vp_status (vaultplug/status.h). To say *why*, call
 *   host->fail(call, status, fmt, ...) which records a message for the user and returns the
 *   status, so `return host->fail(call, VP_ENOTFOUND, "secret %s not found", id);` is idiomatic.
 *   Messages may name identifiers (secret ids, vault URLs, profile names) but never a secret
 *   value, token or key; the host runs every message through its redactor as a second line of
 *   defence. Codes outside the list are turned into VP_EINTERNAL by the host. Never retry inside
 *   a provider: report VP_ERATELIMIT / VP_EUNAVAIL / VP_ENETWORK / VP_ETIMEDOUT (with
 *   host->call_set_retry_after() when the server said when) and the host's resolver retries
 *   with backoff inside the caller's deadline.
 */
#ifndef VAULTPLUG_PROVIDER_H
#define VAULTPLUG_PROVIDER_H

#include <stddef.h>
#include <stdint.h>

#include "vaultplug/status.h"

#ifdef __cplusplus
extern "C" {
#endif

/* ABI version this header describes. */
#define VP_ABI_MAJOR 1
#define VP_ABI_MINOR 0

/* printf-format checking for the variadic host functions. */
#if defined(__GNUC__) || defined(__clang__)
#define VP_SDK_PRINTF(fmt, args) __attribute__((format(printf, fmt, args)))
#define VP_SDK_EXPORT            __attribute__((visibility("default")))
#else
#define VP_SDK_PRINTF(fmt, args)
#define VP_SDK_EXPORT
#endif

/*
 * The header every versioned struct starts with.
 *   abi_major   VP_ABI_MAJOR of the side that filled in the struct; must match the reader's.
 *   abi_minor   VP_ABI_MINOR of that side; informational (struct_size decides field presence).
 *   struct_size sizeof() the struct as the writer compiled it.
 */
typedef struct vp_abi_hdr {
    uint16_t abi_major;
    uint16_t abi_minor;
    uint32_t struct_size;
} vp_abi_hdr;

/* Initialiser for the header of a struct of type T: `vp_ref r = {VP_ABI_HDR(vp_ref), ...};` */
#define VP_ABI_HDR(T)                                   \
    {                                                   \
        VP_ABI_MAJOR, VP_ABI_MINOR, (uint32_t)sizeof(T) \
    }

/*
 * VP_HAS(T, p, field): true if the struct *p of type T, as filled in by the other side, is large
 * enough to contain `field`. Use it before reading any field added after minor 0.
 */
#define VP_HAS(T, p, field) \
    ((p) != NULL && (p)->hdr.struct_size >= offsetof(T, field) + sizeof(((T *)0)->field))

/* ---------------------------------------------------------------------------------------------
 * Opaque handles owned by the host. A provider only ever holds pointers to them.
 * ------------------------------------------------------------------------------------------- */

/* The host context of one vaultplug library context (vp_ctx); first argument of host functions
 * that are not tied to a call (log, mask, clock, env, files). */
typedef struct vp_host_ctx vp_host_ctx;
/* One operation (configure, fetch, validate, login): carries the deadline, the cancellation flag,
 * the error message slot and the Retry-After hint. Valid until the provider function returns. */
typedef struct vp_call vp_call;
/* Where a fetch puts its secret value (and TTL/version/expiry), or a batch item its error. */
typedef struct vp_secret_out vp_secret_out;
/* An HTTP response returned by host->http(); release with host->http_free(). */
typedef struct vp_http_response vp_http_response;
/* A JSON value (tree) built or parsed by the host; release roots with host->json_free(). */
typedef struct vp_json vp_json;
/* Where list() puts names and login() puts the fields of the credential to store. */
typedef struct vp_list_out vp_list_out;
typedef struct vp_cred_out vp_cred_out;

/* ---------------------------------------------------------------------------------------------
 * Data passed to providers
 * ------------------------------------------------------------------------------------------- */

/* A key/value pair. `value` is NUL-terminated; `value_len` excludes the NUL (values may hold
 * NUL bytes only where a field's documentation says so). */
typedef struct vp_kv {
    const char *key;
    const char *value;
    size_t value_len;
} vp_kv;

/*
 * A named credential as stored in the credential store (or taken from the environment).
 *   name      user-chosen name ("prod-aws"); "" for the provider's default chain.
 *   type      one of the provider's cred_types[].name; "" or NULL = default chain.
 *   fields    the fields; values of fields flagged VP_FIELD_SECRET live in secure memory.
 * An empty credential (type "" and n_fields 0) is valid and means "use your standard chain
 * (environment, config files, metadata endpoints)".
 */
typedef struct vp_cred {
    vp_abi_hdr hdr;
    const char *name;
    const char *type;
    const vp_kv *fields;
    size_t n_fields;
} vp_cred;

/*
 * One secret reference, already parsed by the host from a template tag or a URI.
 *
 *   uri        the canonical URI form: scheme://[credential@]path[?sorted params][#json_key].
 *              Suitable for messages; never contains a secret.
 *   scheme     the scheme that routed the reference here (one of the provider's schemes[]).
 *   credential the credential name ("" = default chain); the instance was configured with it.
 *   path       URI form: the part after `scheme://[cred@]`, percent-decoded, without query or
 *              fragment. Three-argument tag form: NULL.
 *   params     URI form: the query parameters, percent-decoded, sorted by key.
 *              Three-argument form: the config object's members, with strings as they are and
 *              numbers/booleans in their JSON spelling, sorted by key.
 *   json_key   the `#fragment` (URI form) or NULL. The host extracts this key from a JSON object
 *              value *after* the cache, so providers normally ignore it.
 *   config     three-argument form: the parsed config object (borrowed; read with host->json_*);
 *              NULL for the URI form.
 */
typedef struct vp_ref {
    vp_abi_hdr hdr;
    const char *uri;
    const char *scheme;
    const char *credential;
    const char *path;
    const vp_kv *params;
    size_t n_params;
    const char *json_key;
    const vp_json *config;
} vp_ref;

/* ---------------------------------------------------------------------------------------------
 * HTTP
 * ------------------------------------------------------------------------------------------- */

/* Header flag: the value is a secret (Authorization, X-Vault-Token, ...). The host never logs it
 * and registers it with the redactor for the duration of the request. */
#define VP_HTTP_HDR_SECRET (1u << 0)

typedef struct vp_http_header {
    const char *name;  /* "Content-Type" */
    const char *value; /* NUL-terminated */
    uint32_t flags;    /* VP_HTTP_HDR_* */
} vp_http_header;

/* Request flags. */
#define VP_HTTP_BODY_SECRET      (1u << 0) /* request body holds secrets: never logged */
#define VP_HTTP_FOLLOW_REDIRECTS (1u << 1) /* follow up to 5 redirects (off by default) */
#define VP_HTTP_INSECURE_SKIP_VERIFY                                                              \
    (1u << 2) /* disable TLS certificate and host verification (e.g. VAULT_SKIP_VERIFY); the host \
                 logs a warning on every request made with it */

/*
 * An HTTP request for host->http().
 *   method        "GET", "POST", "PUT", ...
 *   url           absolute http:// or https:// URL, already percent-encoded.
 *   headers       extra request headers; the host adds Host, Content-Length, User-Agent.
 *   body          request body (may be NULL when body_len is 0).
 *   flags         VP_HTTP_* bits.
 *   timeout_ms    limit for this request; 0 = only the call's deadline. The effective timeout is
 *                 always capped by the call's remaining time.
 *   max_response  cap on the response body in bytes; 0 = the host default (1 MiB). A larger
 *                 body fails the request with VP_EPROTO.
 *   ca_file       PEM CA bundle to trust instead of the system/host one (NULL = host default).
 *   ca_path       directory of hashed CA certificates (NULL = host default).
 */
typedef struct vp_http_request {
    vp_abi_hdr hdr;
    const char *method;
    const char *url;
    const vp_http_header *headers;
    size_t n_headers;
    const void *body;
    size_t body_len;
    uint32_t flags;
    uint32_t timeout_ms;
    size_t max_response;
    const char *ca_file;
    const char *ca_path;
} vp_http_request;

/* ---------------------------------------------------------------------------------------------
 * JSON
 * ------------------------------------------------------------------------------------------- */

typedef enum vp_json_type {
    VP_JSON_NULL = 0,
    VP_JSON_BOOL = 1,
    VP_JSON_INT = 2,
    VP_JSON_DOUBLE = 3,
    VP_JSON_STRING = 4,
    VP_JSON_ARRAY = 5,
    VP_JSON_OBJECT = 6,
    VP_JSON_ABSENT = -1 /* type of a NULL vp_json pointer (member not present) */
} vp_json_type;

/* Called by json_foreach for each member (object) or element (array: key is NULL). Return
 * non-zero to stop; json_foreach then returns that value. */
typedef int (*vp_json_foreach_fn)(void *ud, const char *key, size_t index, const vp_json *value);

/* ---------------------------------------------------------------------------------------------
 * Logging
 * ------------------------------------------------------------------------------------------- */

typedef enum vp_log_level {
    VP_LOG_ERROR = 0,
    VP_LOG_WARN = 1,
    VP_LOG_INFO = 2,
    VP_LOG_DEBUG = 3,
    VP_LOG_TRACE = 4
} vp_log_level;

/* Base64 variants (the same four as libsodium). */
typedef enum vp_b64_variant {
    VP_B64_STD = 1,       /* + / with = padding (RFC 4648 section 4) */
    VP_B64_STD_NOPAD = 3, /* + / without padding */
    VP_B64_URL = 5,       /* - _ with = padding (RFC 4648 section 5) */
    VP_B64_URL_NOPAD = 7  /* - _ without padding (JWT, PKCE) */
} vp_b64_variant;

/* ---------------------------------------------------------------------------------------------
 * The host table: services the host offers to providers. Filled in by the host; providers
 * check VP_HAS(vp_host, host, field) before using a field added after minor 0.
 * ------------------------------------------------------------------------------------------- */
typedef struct vp_host {
    vp_abi_hdr hdr;

    /* --- plain memory (for non-secret data) ---------------------------------------------- */
    /* Like malloc/calloc/realloc/free/strdup; return NULL on failure. The host may inject
     * allocation failures in tests: handle NULL everywhere. */
    void *(*malloc)(size_t size);
    void *(*calloc)(size_t n, size_t size);
    void *(*realloc)(void *p, size_t size);
    void (*free)(void *p);
    char *(*strdup)(const char *s);

    /* --- secure memory (for secrets, tokens, keys) ---------------------------------------- */
    /* Memory from the host's secure arena: locked against swapping, excluded from core dumps,
     * wiped when freed. secure_free(NULL) is a no-op. */
    void *(*secure_malloc)(size_t size);
    void (*secure_free)(void *p);
    /* Copy of s (with its NUL) in secure memory, or NULL. */
    char *(*secure_strdup)(const char *s);
    /* Wipe n bytes at p in a way the compiler cannot remove. */
    void (*memzero)(void *p, size_t n);
    /* Constant-time comparison of n bytes: 0 if equal, -1 otherwise. */
    int (*memcmp_ct)(const void *a, const void *b, size_t n);

    /* --- logging and redaction ---------------------------------------------------------- */
    /* Log a message through the host application's callback. The host redacts every value
     * registered with mask() and every secret header/body before the callback sees it. */
    void (*log)(vp_host_ctx *hc, vp_log_level level, const char *fmt, ...) VP_SDK_PRINTF(3, 4);
    /* Register a value the redactor must scrub from every log line and error message (tokens a
     * provider obtained, for example). Values shorter than 4 bytes are ignored. */
    void (*mask)(vp_host_ctx *hc, const void *value, size_t len);
    /* Forget a value registered with mask() (call before wiping a discarded token). */
    void (*unmask)(vp_host_ctx *hc, const void *value, size_t len);

    /* --- calls: errors, deadline, cancellation ------------------------------------------ */
    /* Attach a user-facing message to the call and return `status` (negative). The message is
     * redacted by the host; never put secret values in it. */
    int (*fail)(vp_call *call, int status, const char *fmt, ...) VP_SDK_PRINTF(3, 4);
    /* Milliseconds left until the call's deadline (>= 0), or -1 if the call has no deadline. */
    int64_t (*call_remaining_ms)(const vp_call *call);
    /* Non-zero once the caller canceled the call or its deadline passed: stop and return
     * VP_ECANCELED (or VP_ETIMEDOUT). host->http() checks this itself. */
    int (*call_canceled)(const vp_call *call);
    /* Tell the resolver when it may retry (from a Retry-After header), in milliseconds. */
    void (*call_set_retry_after)(vp_call *call, uint32_t ms);
    /* The host context the call belongs to. */
    vp_host_ctx *(*call_host_ctx)(const vp_call *call);

    /* --- HTTP (libcurl in the host; shared connections, TLS sessions and DNS cache) -------- */
    /* Perform a request. On success (*resp set, return 0) any HTTP status counts as success:
     * inspect it with http_status(). Failures: VP_ENETWORK (connect/reset/DNS), VP_ETIMEDOUT,
     * VP_ECANCELED, VP_EPROTO (response over max_response, malformed), VP_EINVAL (bad URL).
     * The failure message is attached to the call. TLS verification is always on unless the
     * request sets VP_HTTP_INSECURE_SKIP_VERIFY. */
    int (*http)(vp_call *call, const vp_http_request *req, vp_http_response **resp);
    /* HTTP status code of the response (e.g. 200). */
    long (*http_status)(const vp_http_response *resp);
    /* Value of the first response header with that name (case-insensitive), trimmed, or NULL.
     * Borrowed: valid until http_free(). */
    const char *(*http_header)(const vp_http_response *resp, const char *name);
    /* Response body (NUL-terminated for convenience; *len excludes the NUL). Lives in secure
     * memory and is wiped by http_free(). Borrowed. */
    const char *(*http_body)(const vp_http_response *resp, size_t *len);
    /* Release a response; NULL is a no-op. */
    void (*http_free)(vp_http_response *resp);

    /* --- JSON (json-c in the host) ------------------------------------------------------ */
    /* Parse text (exactly len bytes; need not be NUL-terminated) into a new tree owned by the
     * caller. Malformed JSON, trailing garbage or nesting deeper than 64 levels: VP_EPROTO and
     * *out = NULL. Parsed strings are wiped when the tree is freed, so a tree may hold secrets. */
    int (*json_parse)(const char *text, size_t len, vp_json **out);
    /* Free a root returned by json_parse or json_new_*; wipes its strings. NULL is a no-op. */
    void (*json_free)(vp_json *root);
    /* Type of a value; VP_JSON_ABSENT for NULL. */
    vp_json_type (*json_type)(const vp_json *v);
    /* Member `key` of object v, or NULL (also when v is not an object). Borrowed from v. */
    const vp_json *(*json_get)(const vp_json *v, const char *key);
    /* Follow a dotted path: "a.b.0.c" (numeric segments index arrays). NULL if absent. */
    const vp_json *(*json_path)(const vp_json *v, const char *path);
    /* String value (with *len when len != NULL), or NULL if v is not a string. Borrowed. */
    const char *(*json_string)(const vp_json *v, size_t *len);
    /* Integer value: 0 on success, VP_EINVAL if v is not an integer (or a double with an
     * integral value), VP_ENOTFOUND if v is NULL. */
    int (*json_int)(const vp_json *v, int64_t *out);
    /* Number value (int or double) as double; same returns as json_int. */
    int (*json_double)(const vp_json *v, double *out);
    /* Boolean value; same returns as json_int. */
    int (*json_bool)(const vp_json *v, int *out);
    /* Number of elements of an array / members of an object; 0 otherwise. */
    size_t (*json_len)(const vp_json *v);
    /* Element i of an array, or NULL. Borrowed. */
    const vp_json *(*json_at)(const vp_json *v, size_t i);
    /* Call fn for each member (object, in document order) or element (array). Returns 0 or
     * the first non-zero value fn returned. */
    int (*json_foreach)(const vp_json *v, vp_json_foreach_fn fn, void *ud);
    /* Builders. Each returns a new value (NULL on allocation failure) owned by the caller until
     * it is attached to a container with json_set / json_append, which take ownership (also on
     * failure). */
    vp_json *(*json_new_object)(void);
    vp_json *(*json_new_array)(void);
    vp_json *(*json_new_string)(const char *s, size_t len);
    vp_json *(*json_new_int)(int64_t n);
    vp_json *(*json_new_bool)(int b);
    int (*json_set)(vp_json *obj, const char *key, vp_json *value);
    int (*json_append)(vp_json *arr, vp_json *value);
    /* Serialise compactly (no spaces, "/" not escaped). Returns a NUL-terminated string in secure
     * memory (release with secure_free) and its length in *len, or NULL on failure. */
    char *(*json_dump)(const vp_json *v, size_t *len);

    /* --- hashing, MAC, signing ---------------------------------------------------------- */
    void (*sha256)(const void *data, size_t len, unsigned char out[32]);
    /* HMAC-SHA256 with a key of any length (SigV4 derives 44+ byte keys). */
    void (*hmac_sha256)(const void *key, size_t key_len, const void *data, size_t len,
                        unsigned char out[32]);
    /* SHA-1: for naming only (e.g. the AWS SSO cache file); never for security. */
    void (*sha1)(const void *data, size_t len, unsigned char out[20]);
    /* RSASSA-PKCS1-v1_5 with SHA-256 over msg with the PEM private key (PKCS#1 or PKCS#8).
     * On success *sig is a host-malloc'd signature (free with host->free) of *sig_len bytes.
     * VP_EINVAL if the key cannot be read (message on the call), VP_ENOMEM. */
    int (*sign_rs256)(vp_call *call, const char *pem, size_t pem_len, const void *msg,
                      size_t msg_len, unsigned char **sig, size_t *sig_len);

    /* --- encodings ---------------------------------------------------------------------- */
    /* Length of the encoding of n bytes including the terminating NUL. */
    size_t (*b64_encoded_len)(size_t n, vp_b64_variant variant);
    /* Encode into out (capacity out_cap, NUL-terminated); VP_ELIMIT if it does not fit. */
    int (*b64_encode)(const void *in, size_t n, vp_b64_variant variant, char *out, size_t out_cap);
    /* Decode into out (capacity out_cap) and set *out_len; ignores ASCII whitespace.
     * VP_EPROTO if the input is not valid for the variant, VP_ELIMIT if out is too small
     * (n * 3 / 4 + 3 bytes is always enough). */
    int (*b64_decode)(const char *in, size_t n, vp_b64_variant variant, void *out, size_t out_cap,
                      size_t *out_len);
    /* Lower-case hex of n bytes into out (needs 2n+1 bytes, NUL-terminated). */
    void (*hex_encode)(const void *in, size_t n, char *out);
    /* Decode hex (either case) into out; VP_EPROTO if malformed, VP_ELIMIT if too small. */
    int (*hex_decode)(const char *in, size_t n, void *out, size_t out_cap, size_t *out_len);
    /* CRC32C (Castagnoli, reflected 0x82F63B78). Pass crc = 0 to start; chain calls by passing
     * the previous result. crc32c(0, "123456789", 9) == 0xE3069283. */
    uint32_t (*crc32c)(uint32_t crc, const void *data, size_t len);
    /* Cryptographically secure random bytes. */
    void (*random)(void *buf, size_t n);

    /* --- clock (injectable by the host, so signing is testable with fixed dates) ---------- */
    /* Wall clock, milliseconds since the Unix epoch. */
    int64_t (*now_unix_ms)(vp_host_ctx *hc);
    /* Monotonic clock in milliseconds (arbitrary origin); use for lifetimes and timeouts. */
    int64_t (*monotonic_ms)(vp_host_ctx *hc);

    /* --- environment and files (the host may sandbox both) ------------------------------ */
    /* Copy of the environment variable's value in secure memory (release with secure_free), or
     * NULL if unset or the host hides it. */
    char *(*getenv)(vp_host_ctx *hc, const char *name);
    /* Read a whole file (a leading "~/" means the user's home directory) into secure memory,
     * NUL-terminated (release with secure_free). VP_ENOTFOUND if absent, VP_EPERM if unreadable,
     * VP_ELIMIT if larger than max_size, VP_EIO otherwise; message on the call when call is not
     * NULL. */
    int (*read_file)(vp_host_ctx *hc, vp_call *call, const char *path, size_t max_size, char **data,
                     size_t *len);

    /* --- secret output ------------------------------------------------------------------ */
    /* Set the fetched value (copied into the host's secure memory; the provider then wipes its
     * own copy). Calling it again replaces the value. */
    int (*secret_set)(vp_secret_out *out, const void *value, size_t len);
    /* The value may be cached for at most `seconds` (the host uses the shorter of this and its
     * configured TTL). 0 = do not cache. */
    void (*secret_set_ttl)(vp_secret_out *out, uint32_t seconds);
    /* The version identifier the store reported (AWS VersionId, GCP version number, ...). */
    int (*secret_set_version)(vp_secret_out *out, const char *version);
    /* The value stops being valid at this wall-clock time (lease or token expiry). */
    void (*secret_set_expiry)(vp_secret_out *out, int64_t unix_ms);
    /* Batch only: mark this item as failed with a status and message (same rules as fail()).
     * Returns status. */
    int (*secret_fail)(vp_secret_out *out, int status, const char *fmt, ...) VP_SDK_PRINTF(3, 4);

    /* --- list and login output ---------------------------------------------------------- */
    /* Add one name to a list() result. */
    int (*list_add)(vp_list_out *out, const char *name);
    /* Set the type of the credential login() produced. */
    int (*cred_out_type)(vp_cred_out *out, const char *type);
    /* Add a field to the credential login() produced; values of fields with VP_FIELD_SECRET are
     * copied into secure memory and sealed in the vault. */
    int (*cred_out_field)(vp_cred_out *out, const char *key, const char *value, size_t len,
                          uint32_t field_flags);
    /* Update one field of the credential the call's instance was configured with, and persist
     * it in the credential store (e.g. a rotated refresh token). VP_ENOTSUP when the credential
     * does not come from the store (environment, default chain). */
    int (*cred_update)(vp_call *call, const char *key, const char *value, size_t len);

    /* --- user interaction (login) ------------------------------------------------------- */
    /* Ask the host application to open a URL in the user's browser. VP_ENOTSUP if it cannot;
     * the provider should then show the URL with notify(). */
    int (*open_url)(vp_call *call, const char *url);
    /* Show a message to the user (device-code instructions, "waiting for the browser..."). */
    void (*notify)(vp_call *call, const char *message);
} vp_host;

/* ---------------------------------------------------------------------------------------------
 * Credential types a provider accepts (for CLIs and UIs: prompts, masking, validation).
 * ------------------------------------------------------------------------------------------- */

/* The value is secret: read without echo, sealed in the vault, masked in listings. */
#define VP_FIELD_SECRET (1u << 0)
/* The field must be present for this type. */
#define VP_FIELD_REQUIRED (1u << 1)

typedef struct vp_cred_field {
    const char *name;        /* "secret_access_key" */
    uint32_t flags;          /* VP_FIELD_* */
    const char *description; /* one line for --help and prompts */
} vp_cred_field;

typedef struct vp_cred_type {
    const char *name;            /* "temporary"; NULL terminates the array */
    const char *description;     /* one line */
    const vp_cred_field *fields; /* terminated by a field with name == NULL */
} vp_cred_type;

/* ---------------------------------------------------------------------------------------------
 * The provider table
 * ------------------------------------------------------------------------------------------- */

/* Capability bits. Bits not defined by the host's ABI minor make the host refuse the plugin. */
#define VP_CAP_THREADSAFE        (1u << 0)   /* fetch/validate may run concurrently per instance */
#define VP_CAP_LIST              (1u << 1)   /* list() is implemented */
#define VP_CAP_BATCH             (1u << 2)   /* fetch_batch() is implemented */
#define VP_CAP_INTERACTIVE_LOGIN (1u << 3)   /* login() is implemented */
#define VP_CAP_KNOWN_MASK_1_0    0x0000000Fu /* every bit defined in ABI 1.0 */

typedef struct vp_provider {
    vp_abi_hdr hdr; /* VP_ABI_HDR(vp_provider) */

    /* Identity. `name` matches [a-z0-9_]+ and equals the file's base name (aws for aws.so).
     * `version` is the provider's own version ("1.2.0"), `description` one line. */
    const char *name;
    const char *version;
    const char *description;
    /* NULL-terminated list of URI schemes routed to this provider, e.g. {"aws", NULL}.
     * The first one is the provider's own name as used in `{% vault 'aws', ... %}` (the host
     * refuses the module otherwise); later ones are aliases. A scheme another module also
     * claims makes one of them fail to load: an own name beats an alias. */
    const char *const *schemes;
    /* VP_CAP_* bits. */
    uint32_t caps;
    /* Credential types accepted by configure(), terminated by {NULL}. May be NULL (no types
     * besides the empty default chain). */
    const vp_cred_type *cred_types;

    /* Called once per host context before anything else. `host` and `hc` stay valid until
     * teardown. Store them in *mod (the provider's module context). Required. */
    int (*init)(const vp_host *host, vp_host_ctx *hc, void **mod);

    /* Create an instance for one credential. Must not do network I/O unless it has to (it
     * should defer token acquisition to the first fetch). Required. */
    int (*configure)(void *mod, const vp_cred *cred, vp_call *call, void **inst);

    /* Fetch one secret into out (host->secret_set). Required. */
    int (*fetch)(void *inst, const vp_ref *ref, vp_call *call, vp_secret_out *out);

    /* Fetch n secrets at once (VP_CAP_BATCH). Each item either gets secret_set() or
     * secret_fail(); an item left untouched counts as VP_EINTERNAL. The return value is the
     * status of the batch as a whole (0 if the per-item results are meaningful). Optional. */
    int (*fetch_batch)(void *inst, vp_call *call, size_t n, const vp_ref *const *refs,
                       vp_secret_out *const *outs);

    /* List secret names under prefix (VP_CAP_LIST). Optional. */
    int (*list)(void *inst, const char *prefix, vp_call *call, vp_list_out *out);

    /* Interactive sign-in (VP_CAP_INTERACTIVE_LOGIN): run the flow with the given options
     * (tenant, client id, "device_code" = "1", ...) and describe the credential to store in
     * out. Optional. */
    int (*login)(void *mod, const vp_kv *options, size_t n_options, vp_call *call,
                 vp_cred_out *out);

    /* Cheap check that the credential works (obtains a token, calls whoami); reads no secret.
     * Required. */
    int (*validate)(void *inst, vp_call *call);

    /* Release an instance (wiping its tokens). NULL-safe. Required. */
    void (*destroy)(void *inst);

    /* Release the module context. Required. */
    void (*teardown)(void *mod);
} vp_provider;

/*
 * The one symbol a provider exports. The host passes its own ABI version; return NULL if you
 * cannot serve that major. Must be side-effect free (no allocation, no I/O, no threads).
 */
typedef const vp_provider *(*vp_provider_entry_fn)(uint16_t host_major, uint16_t host_minor);
#define VP_PROVIDER_ENTRY_SYMBOL "vaultplug_provider_entry"

/*
 * VP_PROVIDER_ENTRY(name) defines the entry point for the provider table `name`:
 *
 *     static const vp_provider echo_provider = { VP_ABI_HDR(vp_provider), "echo", ... };
 *     VP_PROVIDER_ENTRY(echo_provider)
 *
 * Built as a plugin (the default) it defines the exported `vaultplug_provider_entry`. Built with
 * -DVP_PROVIDER_STATIC (to link the provider into a test program) it defines
 * `vaultplug_provider_entry_<name>` instead, so several providers can live in one program.
 */
#ifdef VP_PROVIDER_STATIC
#define VP_PROVIDER_ENTRY(name)                                                                   \
    const vp_provider *vaultplug_provider_entry_##name(uint16_t host_major, uint16_t host_minor); \
    const vp_provider *vaultplug_provider_entry_##name(uint16_t host_major, uint16_t host_minor)  \
    {                                                                                             \
        (void)host_minor;                                                                         \
        return host_major == VP_ABI_MAJOR ? &name : NULL;                                         \
    }
#else
#define VP_PROVIDER_ENTRY(name)                                                     \
    VP_SDK_EXPORT const vp_provider *vaultplug_provider_entry(uint16_t host_major,  \
                                                              uint16_t host_minor); \
    VP_SDK_EXPORT const vp_provider *vaultplug_provider_entry(uint16_t host_major,  \
                                                              uint16_t host_minor)  \
    {                                                                               \
        (void)host_minor;                                                           \
        return host_major == VP_ABI_MAJOR ? &name : NULL;                           \
    }
#endif

#ifdef __cplusplus
}
#endif

#endif /* VAULTPLUG_PROVIDER_H */
