/*
 * echo - the example vaultplug provider. Copy this file to start your own.
 *
 * It talks to no secret store: the "secret" it returns is derived from the reference itself, so
 * it is useful for tests, demos and as a reference for every rule of the plugin SDK:
 *
 *   echo://[credential@]path[?ttl=N&version=V&upper=1]   ->   "<prefix>" + path
 *
 * The prefix comes from the credential's `prefix` field, or, for the empty credential (the
 * "default chain"), from the ECHO_PREFIX environment variable read through the host, or is
 * "echo:". Special paths exercise the error classes a real provider reports:
 *
 *   missing/...   VP_ENOTFOUND        denied/...   VP_EPERM
 *   json/...      a JSON object {"path":..., "user":"alice", "password":"<derived value>"}
 *
 * and a `token` credential whose token is "bad" or starts with "expired" fails every fetch and
 * validate with VP_EAUTH. See README.md in this directory for the full semantics.
 *
 * THE RULES THIS FILE FOLLOWS (and yours must too; docs/plugins.md explains each):
 *   1. Include only <vaultplug/provider.h> and libc. Everything else (memory for secrets, JSON,
 *      environment, logging, errors) comes from the host table. The module is linked with
 *      --no-undefined and a version script, so it exports exactly one symbol.
 *   2. The provider table starts with VP_ABI_HDR(vp_provider); VP_PROVIDER_ENTRY() defines the
 *      one exported function.
 *   3. Every failure goes through host->fail() (or host->secret_fail() for a batch item) with a
 *      message that names identifiers but never a secret.
 *   4. Secrets live in secure memory (secure_malloc/secure_strdup), are registered with
 *      host->mask() so the host's redactor scrubs them from any log line or message, and every
 *      temporary copy is wiped with host->memzero() before it goes out of scope.
 *   5. The instance is immutable after configure(): that is what makes VP_CAP_THREADSAFE true
 *      without a single lock. Per-call state lives on the stack of the call.
 *   6. Every buffer has a hard maximum; over it is VP_ELIMIT, never a truncated value.
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <vaultplug/provider.h>

/* Longest value we derive, including the NUL. References are at most 8 KiB (host limit), the
 * prefix at most ECHO_PREFIX_MAX; anything longer is refused rather than truncated. */
#define ECHO_PREFIX_MAX  256
#define ECHO_VALUE_MAX   (8u * 1024 + ECHO_PREFIX_MAX)
#define ECHO_MESSAGE_MAX 256
#define ECHO_DEFAULT_PFX "echo:"

/* ---------------------------------------------------------------------------------------------
 * Credential types: what `vaultplug cred add echo NAME --type token --field ...` accepts. The
 * host uses VP_FIELD_SECRET to read the value without echo, seal it in the vault, mask it in
 * listings and register it with its redactor.
 * ------------------------------------------------------------------------------------------- */
static const vp_cred_field echo_token_fields[] = {
    {"token", VP_FIELD_SECRET | VP_FIELD_REQUIRED,
     "access token (\"bad\" or \"expired...\" simulate rejected credentials)"},
    {"prefix", 0, "prefix of every derived value (default \"echo:\")"},
    {NULL, 0, NULL},
};

static const vp_cred_type echo_cred_types[] = {
    {"token", "a bearer token, checked on fetch and validate", echo_token_fields},
    {NULL, NULL, NULL},
};

/* ---------------------------------------------------------------------------------------------
 * Module context (one per host context) and instance (one per credential).
 * ------------------------------------------------------------------------------------------- */
typedef struct echo_mod {
    const vp_host *host; /* valid until teardown */
    vp_host_ctx *hc;
} echo_mod;

typedef enum echo_token_state {
    ECHO_TOKEN_NONE = 0, /* default chain or no token: nothing to check */
    ECHO_TOKEN_OK,
    ECHO_TOKEN_INVALID, /* "bad" */
    ECHO_TOKEN_EXPIRED  /* "expired..." */
} echo_token_state;

/*
 * Everything here is written by configure() and only read afterwards, so any number of threads
 * may call fetch/fetch_batch/validate on one instance at once (VP_CAP_THREADSAFE). A provider
 * that caches tokens obtained later (OAuth, STS) must guard that cache with its own mutex.
 */
typedef struct echo_inst {
    const vp_host *host;
    vp_host_ctx *hc;
    char *cred_name; /* plain memory: names are not secret, and appear in messages */
    char *prefix;    /* plain memory: not secret */
    char *token;     /* secure memory, masked; NULL without a token */
    size_t token_len;
    echo_token_state token_state;
} echo_inst;

/* ---------------------------------------------------------------------------------------------
 * Error reporting shared by fetch (host->fail on the call) and fetch_batch (host->secret_fail
 * on the item). The host functions are variadic and cannot take a va_list, so the message is
 * formatted here first and passed as "%s". Messages never contain secret values.
 * ------------------------------------------------------------------------------------------- */
typedef struct echo_sink {
    const vp_host *host;
    vp_call *call;      /* single fetch: the message goes on the call */
    vp_secret_out *out; /* batch item: the message goes on the item */
} echo_sink;

static int echo_fail(const echo_sink *s, int status, const char *fmt, ...) VP_SDK_PRINTF(3, 4);

static int echo_fail(const echo_sink *s, int status, const char *fmt, ...)
{
    char msg[ECHO_MESSAGE_MAX];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    if (s->out != NULL)
        return s->host->secret_fail(s->out, status, "%s", msg);
    return s->host->fail(s->call, status, "%s", msg);
}

/* ---------------------------------------------------------------------------------------------
 * init / teardown
 * ------------------------------------------------------------------------------------------- */
static int echo_init(const vp_host *host, vp_host_ctx *hc, void **mod)
{
    /* A host of ABI 1.x with a shorter table than ours would lack fields we call; every field
     * used here is in 1.0, and VP_HAS() is how to test for a field added by a later minor. */
    if (host == NULL || mod == NULL || !VP_HAS(vp_host, host, notify))
        return VP_EABI;
    echo_mod *m = host->calloc(1, sizeof(*m));
    if (m == NULL)
        return VP_ENOMEM;
    m->host = host;
    m->hc = hc;
    *mod = m;
    return VP_OK;
}

static void echo_teardown(void *mod)
{
    echo_mod *m = mod;
    if (m == NULL)
        return;
    m->host->free(m);
}

/* ---------------------------------------------------------------------------------------------
 * configure / destroy
 * ------------------------------------------------------------------------------------------- */
static void echo_destroy(void *inst)
{
    echo_inst *in = inst;
    if (in == NULL)
        return;
    const vp_host *host = in->host;
    if (in->token != NULL) {
        /* Unmask before wiping: the redactor must not keep a reference to freed memory. */
        host->unmask(in->hc, in->token, in->token_len);
        host->secure_free(in->token); /* wipes */
    }
    host->free(in->cred_name);
    host->free(in->prefix);
    host->free(in);
}

static const vp_kv *cred_field(const vp_cred *cred, const char *key)
{
    for (size_t i = 0; i < cred->n_fields; i++)
        if (cred->fields[i].key != NULL && strcmp(cred->fields[i].key, key) == 0)
            return &cred->fields[i];
    return NULL;
}

static int set_prefix(echo_inst *in, vp_call *call, const char *value, size_t len)
{
    if (len >= ECHO_PREFIX_MAX)
        return in->host->fail(call, VP_ELIMIT, "credential '%s': prefix longer than %u bytes",
                              in->cred_name, ECHO_PREFIX_MAX - 1);
    in->prefix = in->host->malloc(len + 1);
    if (in->prefix == NULL)
        return VP_ENOMEM;
    memcpy(in->prefix, value, len);
    in->prefix[len] = '\0';
    return VP_OK;
}

/* The empty credential: the provider's "standard chain". A real provider would look at its
 * environment variables, config files and metadata endpoints here; echo reads ECHO_PREFIX. */
static int configure_default(echo_inst *in, vp_call *call)
{
    /* host->getenv returns a copy in secure memory (the host may hide variables): release it
     * with secure_free, which also wipes it. */
    char *env = in->host->getenv(in->hc, "ECHO_PREFIX");
    int rc;
    if (env != NULL && env[0] != '\0')
        rc = set_prefix(in, call, env, strlen(env));
    else
        rc = set_prefix(in, call, ECHO_DEFAULT_PFX, strlen(ECHO_DEFAULT_PFX));
    in->host->secure_free(env);
    return rc;
}

static int configure_token(echo_inst *in, const vp_cred *cred, vp_call *call)
{
    const vp_host *host = in->host;
    /* Refuse unknown fields: a typo ("tokn") must not silently fall back to a default. */
    for (size_t i = 0; i < cred->n_fields; i++) {
        const char *k = cred->fields[i].key ? cred->fields[i].key : "";
        if (strcmp(k, "token") != 0 && strcmp(k, "prefix") != 0)
            return host->fail(call, VP_EINVAL,
                              "credential '%s': unknown field '%.64s' for type 'token' "
                              "(known: token, prefix)",
                              in->cred_name, k);
    }
    const vp_kv *tok = cred_field(cred, "token");
    if (tok == NULL || tok->value == NULL || tok->value_len == 0)
        return host->fail(call, VP_EINVAL, "credential '%s': field 'token' is required",
                          in->cred_name);

    /* Keep our own copy in secure memory: the credential is borrowed for this call only. */
    in->token = host->secure_malloc(tok->value_len + 1);
    if (in->token == NULL)
        return VP_ENOMEM;
    memcpy(in->token, tok->value, tok->value_len);
    in->token[tok->value_len] = '\0';
    in->token_len = tok->value_len;
    /* From now on the host scrubs this value from every log line and error message, even if
     * some code path (ours or the host's) tried to print it. */
    host->mask(in->hc, in->token, in->token_len);

    /* A real provider would defer checking the token to the first fetch/validate (configure
     * must not do network I/O unless it has to). We classify it now, once, so that the
     * instance stays immutable afterwards. The comparisons below look at a secret, but the
     * outcome is deliberately public ("bad" / "expired"): this is a simulation. */
    if (strcmp(in->token, "bad") == 0)
        in->token_state = ECHO_TOKEN_INVALID;
    else if (strncmp(in->token, "expired", 7) == 0)
        in->token_state = ECHO_TOKEN_EXPIRED;
    else
        in->token_state = ECHO_TOKEN_OK;

    const vp_kv *pfx = cred_field(cred, "prefix");
    if (pfx != NULL && pfx->value != NULL)
        return set_prefix(in, call, pfx->value, pfx->value_len);
    return set_prefix(in, call, ECHO_DEFAULT_PFX, strlen(ECHO_DEFAULT_PFX));
}

static int echo_configure(void *mod, const vp_cred *cred, vp_call *call, void **inst)
{
    echo_mod *m = mod;
    const vp_host *host = m->host;
    if (cred == NULL || inst == NULL)
        return host->fail(call, VP_EINVAL, "echo: configure called without a credential");
    *inst = NULL;

    echo_inst *in = host->calloc(1, sizeof(*in));
    if (in == NULL)
        return VP_ENOMEM;
    in->host = host;
    in->hc = m->hc;
    in->cred_name = host->strdup(cred->name ? cred->name : "");
    if (in->cred_name == NULL) {
        echo_destroy(in);
        return VP_ENOMEM;
    }

    int rc;
    const char *type = cred->type ? cred->type : "";
    if (type[0] == '\0' && cred->n_fields == 0)
        rc = configure_default(in, call);
    else if (strcmp(type, "token") == 0)
        rc = configure_token(in, cred, call);
    else
        rc = host->fail(call, VP_EINVAL,
                        "credential '%s': unknown credential type '%.64s' (echo knows: token)",
                        in->cred_name, type[0] ? type : "(empty, with fields)");
    if (rc != VP_OK) {
        echo_destroy(in); /* wipes and unmasks whatever was set */
        return rc;
    }
    host->log(in->hc, VP_LOG_DEBUG, "configured credential '%s' (type %s)", in->cred_name,
              type[0] ? type : "default chain");
    *inst = in;
    return VP_OK;
}

/* ---------------------------------------------------------------------------------------------
 * fetch
 * ------------------------------------------------------------------------------------------- */

/* The credential check shared by fetch and validate. Note the message: it names the credential
 * and the problem, never the token. */
static int check_token(const echo_inst *in, const echo_sink *s)
{
    switch (in->token_state) {
    case ECHO_TOKEN_INVALID:
        return echo_fail(s, VP_EAUTH, "credential '%s' was rejected: invalid token", in->cred_name);
    case ECHO_TOKEN_EXPIRED:
        return echo_fail(s, VP_EAUTH,
                         "credential '%s' was rejected: the token has expired; "
                         "store a new one with `vaultplug cred add echo %s --type token`",
                         in->cred_name, in->cred_name);
    default:
        return VP_OK;
    }
}

/* What a reference asks for, after validation. All strings are borrowed from the vp_ref. */
typedef struct echo_req {
    const char *path;
    const char *version; /* NULL = none */
    uint32_t ttl;
    int has_ttl;
    int upper;
} echo_req;

static int parse_u32(const char *s, uint32_t *out)
{
    if (s == NULL || *s < '0' || *s > '9')
        return -1;
    uint64_t v = 0;
    for (; *s; s++) {
        if (*s < '0' || *s > '9')
            return -1;
        v = v * 10 + (uint64_t)(*s - '0');
        if (v > UINT32_MAX)
            return -1;
    }
    *out = (uint32_t)v;
    return 0;
}

/*
 * Both reference forms arrive as one vp_ref:
 *   URI form        echo://cred@a/b?ttl=60   path = "a/b", params = {ttl: "60"}, config = NULL
 *   three-argument  {% vault 'echo', 'cred', '{"path":"a/b","ttl":60}' %}
 *                   path = NULL, params = the config object's members (numbers in JSON
 *                   spelling), config = the parsed object
 * so a provider reads `params` for both and takes its path from a config member.
 */
static int parse_ref(const vp_ref *ref, const echo_sink *s, echo_req *rq)
{
    memset(rq, 0, sizeof(*rq));
    const int config_form = ref->config != NULL;
    rq->path = config_form ? NULL : ref->path;
    for (size_t i = 0; i < ref->n_params; i++) {
        const char *k = ref->params[i].key;
        const char *v = ref->params[i].value ? ref->params[i].value : "";
        if (strcmp(k, "ttl") == 0) {
            if (parse_u32(v, &rq->ttl) != 0)
                return echo_fail(s, VP_EINVAL,
                                 "%s: parameter 'ttl' must be a number of seconds (0 to %u)",
                                 ref->uri, UINT32_MAX);
            rq->has_ttl = 1;
        } else if (strcmp(k, "version") == 0) {
            if (v[0] == '\0' || strlen(v) > 64)
                return echo_fail(s, VP_EINVAL, "%s: parameter 'version' must be 1-64 bytes",
                                 ref->uri);
            rq->version = v;
        } else if (strcmp(k, "upper") == 0) {
            /* "1" in a URI; the three-argument form spells booleans as JSON. */
            rq->upper = strcmp(v, "1") == 0 || strcmp(v, "true") == 0;
        } else if (config_form && strcmp(k, "path") == 0) {
            rq->path = v;
        } else {
            return echo_fail(s, VP_EINVAL,
                             "%s: unknown parameter '%.64s' (echo knows: ttl, version, upper%s)",
                             ref->uri, k, config_form ? ", path" : "");
        }
    }
    if (config_form && (rq->path == NULL || rq->path[0] == '\0'))
        return echo_fail(s, VP_EINVAL, "echo: the config object needs a non-empty \"path\" member");
    if (rq->path == NULL || rq->path[0] == '\0')
        return echo_fail(s, VP_EINVAL, "%s: the reference has an empty path", ref->uri);
    return VP_OK;
}

static int starts_with(const char *s, const char *prefix)
{
    return strncmp(s, prefix, strlen(prefix)) == 0;
}

/* Append s to buf at *n (capacity cap, kept NUL-terminated); -1 if it does not fit. */
static int append_raw(char *buf, size_t cap, size_t *n, const char *s)
{
    size_t k = strlen(s);
    if (*n + k + 1 > cap)
        return -1;
    memcpy(buf + *n, s, k + 1);
    *n += k;
    return 0;
}

/* Append a JSON string literal of s to buf at *n (capacity cap); -1 if it does not fit. */
static int json_quote(char *buf, size_t cap, size_t *n, const char *s)
{
    static const char hex[] = "0123456789abcdef";
    if (*n + 1 >= cap)
        return -1;
    buf[(*n)++] = '"';
    for (; *s; s++) {
        unsigned char c = (unsigned char)*s;
        char esc[7];
        size_t k = 0;
        if (c == '"' || c == '\\') {
            esc[k++] = '\\';
            esc[k++] = (char)c;
        } else if (c < 0x20) {
            memcpy(esc, "\\u00", 4);
            k = 4;
            esc[k++] = hex[c >> 4];
            esc[k++] = hex[c & 15];
        } else {
            esc[k++] = (char)c;
        }
        if (*n + k + 1 >= cap)
            return -1;
        memcpy(buf + *n, esc, k);
        *n += k;
    }
    if (*n + 2 > cap)
        return -1;
    buf[(*n)++] = '"';
    buf[*n] = '\0';
    return 0;
}

/* The whole fetch of one reference, reporting through s. */
static int fetch_one(const echo_inst *in, const vp_ref *ref, const echo_sink *s, vp_secret_out *out)
{
    const vp_host *host = in->host;
    int rc = check_token(in, s);
    if (rc != VP_OK)
        return rc;
    echo_req rq;
    if ((rc = parse_ref(ref, s, &rq)) != VP_OK)
        return rc;

    /* Identifiers (the path) may appear in messages; values never. */
    if (starts_with(rq.path, "missing/"))
        return echo_fail(s, VP_ENOTFOUND, "secret '%.200s' not found", rq.path);
    if (starts_with(rq.path, "denied/"))
        return echo_fail(s, VP_EPERM, "credential '%s' may not read secret '%.200s'", in->cred_name,
                         rq.path);

    /* The derived value is the "secret": build it in a fixed buffer with a hard limit, hand it
     * to the host (which copies it into its secure memory) and wipe our copy on every path. */
    char value[ECHO_VALUE_MAX];
    size_t plen = strlen(in->prefix), vlen = strlen(rq.path);
    if (plen + vlen + 1 > sizeof(value))
        return echo_fail(s, VP_ELIMIT, "secret '%.64s...' would exceed %u bytes", rq.path,
                         ECHO_VALUE_MAX - 1);
    memcpy(value, in->prefix, plen);
    memcpy(value + plen, rq.path, vlen + 1);
    vlen += plen;
    if (rq.upper)
        for (size_t i = 0; i < vlen; i++)
            if (value[i] >= 'a' && value[i] <= 'z')
                value[i] = (char)(value[i] - 'a' + 'A');

    if (starts_with(rq.path, "json/")) {
        /* A key/value secret, so `#password` extraction can be tried. The JSON text contains
         * the password, so it is a secret too: it is built in secure memory and wiped. (A
         * provider that parses JSON uses host->json_parse, whose trees wipe themselves.) */
        size_t cap = 64 + 6 * (strlen(rq.path) + vlen); /* worst case: every byte \u00XX */
        char *doc = host->secure_malloc(cap);
        size_t n = 0;
        if (doc == NULL) {
            host->memzero(value, sizeof(value));
            return VP_ENOMEM;
        }
        int bad = append_raw(doc, cap, &n, "{\"path\":") || json_quote(doc, cap, &n, rq.path) ||
                  append_raw(doc, cap, &n, ",\"user\":\"alice\",\"password\":") ||
                  json_quote(doc, cap, &n, value) || append_raw(doc, cap, &n, "}");
        host->memzero(value, sizeof(value));
        rc = bad ? VP_ELIMIT : host->secret_set(out, doc, n);
        host->secure_free(doc); /* wipes */
    } else {
        rc = host->secret_set(out, value, vlen);
        host->memzero(value, sizeof(value));
    }
    if (rc != VP_OK)
        return echo_fail(s, rc, "secret '%.200s': cannot store the value", rq.path);

    if (rq.has_ttl)
        host->secret_set_ttl(out, rq.ttl);
    if (rq.version != NULL && (rc = host->secret_set_version(out, rq.version)) != VP_OK)
        return echo_fail(s, rc, "secret '%.200s': cannot store the version", rq.path);
    return VP_OK;
}

static int echo_fetch(void *inst, const vp_ref *ref, vp_call *call, vp_secret_out *out)
{
    const echo_inst *in = inst;
    echo_sink s = {in->host, call, NULL};
    if (ref == NULL || out == NULL)
        return echo_fail(&s, VP_EINVAL, "echo: fetch called without a reference");
    /* ref->uri is canonical and never contains a secret, so it is safe to log. */
    in->host->log(in->hc, VP_LOG_DEBUG, "fetch %s", ref->uri);
    return fetch_one(in, ref, &s, out);
}

/* fetch_batch (VP_CAP_BATCH): a store with a batch API (GCP, Azure...) answers many secrets in
 * one round trip. Every item gets secret_set() or secret_fail(); the return value only says
 * whether the batch as a whole could run. */
static int echo_fetch_batch(void *inst, vp_call *call, size_t n, const vp_ref *const *refs,
                            vp_secret_out *const *outs)
{
    const echo_inst *in = inst;
    const vp_host *host = in->host;
    if (n > 0 && (refs == NULL || outs == NULL))
        return host->fail(call, VP_EINVAL, "echo: fetch_batch called without references");
    host->log(in->hc, VP_LOG_DEBUG, "fetch_batch of %zu references", n);
    for (size_t i = 0; i < n; i++) {
        if (host->call_canceled(call)) {
            /* Items not reached are failed explicitly rather than left untouched. */
            for (; i < n; i++)
                host->secret_fail(outs[i], VP_ECANCELED, "echo: batch canceled");
            return VP_OK;
        }
        echo_sink s = {host, call, outs[i]};
        if (refs[i] == NULL) {
            echo_fail(&s, VP_EINVAL, "echo: batch item %zu has no reference", i);
            continue;
        }
        fetch_one(in, refs[i], &s, outs[i]); /* failures are recorded on the item */
    }
    return VP_OK;
}

/* ---------------------------------------------------------------------------------------------
 * validate: a cheap check that the credential works, reading no secret. A cloud provider calls
 * its whoami endpoint (STS GetCallerIdentity, Vault token lookup-self).
 * ------------------------------------------------------------------------------------------- */
static int echo_validate(void *inst, vp_call *call)
{
    const echo_inst *in = inst;
    echo_sink s = {in->host, call, NULL};
    return check_token(in, &s);
}

/* ---------------------------------------------------------------------------------------------
 * The provider table and the one exported symbol.
 * ------------------------------------------------------------------------------------------- */
static const char *const echo_schemes[] = {"echo", NULL};

static const vp_provider echo_provider = {
    .hdr = VP_ABI_HDR(vp_provider),
    .name = "echo", /* must equal the file's base name: echo.so */
    .version = "1.0.0",
    .description = "Example provider: returns a value derived from the reference (for tests)",
    .schemes = echo_schemes,
    .caps = VP_CAP_THREADSAFE | VP_CAP_BATCH,
    .cred_types = echo_cred_types,
    .init = echo_init,
    .configure = echo_configure,
    .fetch = echo_fetch,
    .fetch_batch = echo_fetch_batch,
    .list = NULL,  /* no VP_CAP_LIST */
    .login = NULL, /* no VP_CAP_INTERACTIVE_LOGIN */
    .validate = echo_validate,
    .destroy = echo_destroy,
    .teardown = echo_teardown,
};

VP_PROVIDER_ENTRY(echo_provider)
