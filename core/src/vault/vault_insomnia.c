/*
 * vault_insomnia - importing Insomnia's vault secrets into the local vault.
 *
 * Insomnia keeps each secret of an environment's vault under data.__insomnia_vault.<name> as
 * base64(JSON {"iv","t","ad","d"}) with hex fields: AES-256-GCM, 12-byte IV, 128-bit tag, (empty)
 * additional data, and the plaintext URI-encoded (encodeURIComponent). Its vault key is the
 * base64 of the JWK of that AES key, which vaultkey.c already parses.
 *
 * Three file shapes are read: a v4 JSON export (resources[]), the NeDB environment database (one
 * JSON document per line; a later line for the same _id replaces an earlier one and
 * {"$$deleted":true} removes it) and a v5 YAML export. Rather than follow each schema, the parser
 * walks the whole tree and takes every `__insomnia_vault` mapping it meets, which covers base and
 * sub-environments in all three.
 *
 * Only ciphertext passes through json-c/libyaml and ordinary memory; decrypted values go straight
 * into the secure arena.
 */
#include <stdlib.h>
#include <string.h>

#include <json-c/json.h>
#include <openssl/evp.h>
#include <sodium.h>
#ifdef VP_HAVE_YAML
#include <yaml.h>
#endif

#include "hexval.h"
#include "buf.h"
#include "errint.h"
#include "secmem.h"
#include "vault_int.h"

#define VAULT_KEY "__insomnia_vault"
/* Insomnia files are small; this bounds what we read and parse. */
#define IMPORT_FILE_MAX (64u * 1024u * 1024u)
/* encodeURIComponent turns one byte into at most 3 characters. */
#define ENC_PLAIN_MAX    (3u * VP_VAULT_VALUE_MAX)
#define WALK_DEPTH_MAX   64
#define WALK_NODES_MAX   1000000u
#define IMPORT_ITEMS_MAX VP_VAULT_RECORDS_MAX

/* ---- decrypting one value ---- */

static int hex_field(json_object *o, const char *name, unsigned char **out, size_t *outlen,
                     size_t maxlen)
{
    json_object *v = NULL;
    const char *s, *end = NULL;
    size_t n, got = 0;

    if (!json_object_object_get_ex(o, name, &v) || !json_object_is_type(v, json_type_string))
        return VP_EPROTO;
    s = json_object_get_string(v);
    n = (size_t)json_object_get_string_len(v);
    if (n % 2 != 0 || n / 2 > maxlen)
        return VP_EPROTO;
    *out = malloc(n / 2 + 1);
    if (*out == NULL)
        return VP_ENOMEM;
    if (sodium_hex2bin(*out, n / 2 + 1, s, n, NULL, &got, &end) != 0 || end != s + n) {
        free(*out);
        *out = NULL;
        return VP_EPROTO;
    }
    *outlen = got;
    return 0;
}

/* decodeURIComponent in place; -1 on a malformed escape. */
static long uri_decode(unsigned char *p, size_t n)
{
    size_t i = 0, o = 0;
    while (i < n) {
        if (p[i] == '%') {
            int hi, lo;
            if (i + 2 >= n)
                return -1;
            hi = vp__hexval((unsigned char)p[i + 1]);
            lo = vp__hexval((unsigned char)p[i + 2]);
            if (hi < 0 || lo < 0)
                return -1;
            p[o++] = (unsigned char)(hi << 4 | lo);
            i += 3;
        } else {
            p[o++] = p[i++];
        }
    }
    return (long)o;
}

static int gcm_decrypt(const unsigned char key[32], const unsigned char *iv, size_t ivlen,
                       const unsigned char *tag, const unsigned char *ad, size_t adlen,
                       const unsigned char *ct, size_t ctlen, unsigned char *pt)
{
    EVP_CIPHER_CTX *c = EVP_CIPHER_CTX_new();
    int ok = 0, len = 0;

    if (c == NULL)
        return VP_ENOMEM;
    if (EVP_DecryptInit_ex(c, EVP_aes_256_gcm(), NULL, NULL, NULL) == 1 &&
        EVP_CIPHER_CTX_ctrl(c, EVP_CTRL_GCM_SET_IVLEN, (int)ivlen, NULL) == 1 &&
        EVP_DecryptInit_ex(c, NULL, NULL, key, iv) == 1 &&
        (adlen == 0 || EVP_DecryptUpdate(c, NULL, &len, ad, (int)adlen) == 1) &&
        (ctlen == 0 || EVP_DecryptUpdate(c, pt, &len, ct, (int)ctlen) == 1) &&
        EVP_CIPHER_CTX_ctrl(c, EVP_CTRL_GCM_SET_TAG, 16, (void *)tag) == 1 &&
        EVP_DecryptFinal_ex(c, pt + (ctlen ? len : 0), &len) == 1)
        ok = 1;
    EVP_CIPHER_CTX_free(c); /* clears the key schedule */
    return ok ? 0 : VP_EAUTH;
}

int vp__insomnia_decrypt(const unsigned char key[VP__VAULT_KEYBYTES], const char *enc,
                         size_t enclen, vp_buf *out, vp_error *err)
{
    unsigned char *json = NULL, *iv = NULL, *tag = NULL, *ad = NULL, *ct = NULL, *pt = NULL;
    size_t jlen = 0, ivlen = 0, taglen = 0, adlen = 0, ctlen = 0, blen = enclen;
    json_tokener *tok = NULL;
    json_object *o = NULL;
    const char *end = NULL;
    long n;
    int rc = VP_EPROTO;

    if (enclen == 0)
        return vp__buf_set_secure(out, "", 0) == 0 ? 0 : vp__err_set(err, NULL, VP_ENOMEM, NULL);
    while (blen > 0 && enc[blen - 1] == '=')
        blen--;
    json = malloc(enclen);
    if (json == NULL)
        return vp__err_set(err, NULL, VP_ENOMEM, NULL);
    if (sodium_base642bin(json, enclen, enc, blen, NULL, &jlen, &end,
                          sodium_base64_VARIANT_ORIGINAL_NO_PADDING) != 0 ||
        end != enc + blen)
        goto malformed;
    tok = json_tokener_new();
    if (tok == NULL) {
        rc = VP_ENOMEM;
        goto out;
    }
    o = json_tokener_parse_ex(tok, (const char *)json, (int)jlen);
    if (o == NULL || !json_object_is_type(o, json_type_object))
        goto malformed;
    rc = hex_field(o, "iv", &iv, &ivlen, 64);
    if (rc == 0)
        rc = hex_field(o, "t", &tag, &taglen, 16);
    if (rc == 0)
        rc = hex_field(o, "d", &ct, &ctlen, ENC_PLAIN_MAX);
    if (rc == 0) {
        json_object *a = NULL;
        /* "ad" is always present and empty in practice; accept it missing too. */
        if (json_object_object_get_ex(o, "ad", &a))
            rc = hex_field(o, "ad", &ad, &adlen, 4096);
    }
    if (rc == VP_ENOMEM)
        goto out;
    if (rc != 0 || ivlen == 0 || taglen != 16)
        goto malformed;
    pt = vp__secmem_alloc(ctlen + 1);
    if (pt == NULL) {
        rc = VP_ENOMEM;
        goto out;
    }
    rc = gcm_decrypt(key, iv, ivlen, tag, ad, adlen, ct, ctlen, pt);
    if (rc != 0)
        goto out;
    n = uri_decode(pt, ctlen);
    if (n < 0)
        goto malformed;
    if ((size_t)n > VP_VAULT_VALUE_MAX) {
        rc = VP_ELIMIT;
        goto out;
    }
    rc = vp__buf_set_secure(out, pt, (size_t)n);
    goto out;
malformed:
    rc = VP_EPROTO;
out:
    vp__secmem_free(pt);
    free(iv);
    free(tag);
    free(ad);
    free(ct);
    free(json);
    if (o != NULL)
        json_object_put(o);
    if (tok != NULL)
        json_tokener_free(tok);
    if (rc == VP_EAUTH)
        vp__err_set(err, NULL, rc, "an Insomnia secret does not decrypt with this Insomnia key");
    else if (rc == VP_EPROTO)
        vp__err_set(err, NULL, rc, "an Insomnia secret is not in Insomnia's encrypted format");
    else if (rc == VP_ELIMIT)
        vp__err_set(err, NULL, rc, "an Insomnia secret is larger than %u bytes",
                    VP_VAULT_VALUE_MAX);
    else if (rc != 0)
        vp__err_set(err, NULL, rc, NULL);
    return rc;
}

/* ---- collecting secrets ---- */

typedef struct collect {
    const unsigned char *key;
    char **names;   /* malloc'd */
    vp_buf *values; /* secure */
    size_t n, cap;
    vp_vault_import_report *rep;
    size_t nodes;
    int rc;
    vp_error *err;
} collect;

static int strlist_add(char ***list, size_t *n, const char *s, size_t len)
{
    char **nl;
    for (size_t i = 0; i < *n; i++)
        if (strlen((*list)[i]) == len && memcmp((*list)[i], s, len) == 0)
            return 0;
    nl = realloc(*list, (*n + 1) * sizeof *nl);
    if (nl == NULL)
        return VP_ENOMEM;
    *list = nl;
    nl[*n] = strndup(s, len);
    if (nl[*n] == NULL)
        return VP_ENOMEM;
    (*n)++;
    return 0;
}

/* One (name, encrypted value) pair found in the file. */
static void collect_one(collect *c, const char *name, size_t nlen, const char *enc, size_t elen)
{
    vp_buf val = VP_BUF_INIT;
    int rc;

    if (c->rc != 0)
        return;
    if (!vp__vault_name_ok(name, nlen)) {
        /* Cap what is reported: names come from the file. */
        if (strlist_add(&c->rep->invalid, &c->rep->ninvalid, name,
                        nlen > VP_VAULT_NAME_MAX ? VP_VAULT_NAME_MAX : nlen) != 0)
            c->rc = vp__err_set(c->err, NULL, VP_ENOMEM, NULL);
        return;
    }
    rc = vp__insomnia_decrypt(c->key, enc, elen, &val, c->err);
    if (rc != 0) {
        c->rc = rc;
        return;
    }
    for (size_t i = 0; i < c->n; i++) {
        if (strlen(c->names[i]) == nlen && memcmp(c->names[i], name, nlen) == 0) {
            if (c->values[i].len != val.len ||
                (val.len > 0 && sodium_memcmp(c->values[i].data, val.data, val.len) != 0)) {
                if (strlist_add(&c->rep->conflicts, &c->rep->nconflicts, name, nlen) != 0)
                    c->rc = vp__err_set(c->err, NULL, VP_ENOMEM, NULL);
            }
            vp_buf_free(&val);
            return;
        }
    }
    if (c->n >= IMPORT_ITEMS_MAX) {
        vp_buf_free(&val);
        c->rc = vp__err_set(c->err, NULL, VP_ELIMIT, "the file holds more than %u secrets",
                            IMPORT_ITEMS_MAX);
        return;
    }
    if (c->n == c->cap) {
        size_t ncap = c->cap ? c->cap * 2 : 16;
        char **nn = realloc(c->names, ncap * sizeof *nn);
        if (nn != NULL)
            c->names = nn;
        vp_buf *nv = nn ? realloc(c->values, ncap * sizeof *nv) : NULL;
        if (nv == NULL) {
            vp_buf_free(&val);
            c->rc = vp__err_set(c->err, NULL, VP_ENOMEM, NULL);
            return;
        }
        c->values = nv;
        c->cap = ncap;
    }
    c->names[c->n] = strndup(name, nlen);
    if (c->names[c->n] == NULL) {
        vp_buf_free(&val);
        c->rc = vp__err_set(c->err, NULL, VP_ENOMEM, NULL);
        return;
    }
    c->values[c->n++] = val;
}

static int too_big(collect *c, int depth)
{
    if (depth > WALK_DEPTH_MAX || ++c->nodes > WALK_NODES_MAX) {
        if (c->rc == 0)
            c->rc = vp__err_set(c->err, NULL, VP_ELIMIT, "the file is nested too deeply");
        return 1;
    }
    return 0;
}

static void walk_json(collect *c, json_object *o, int depth)
{
    if (c->rc != 0 || o == NULL || too_big(c, depth))
        return;
    if (json_object_is_type(o, json_type_array)) {
        size_t n = json_object_array_length(o);
        for (size_t i = 0; i < n; i++)
            walk_json(c, json_object_array_get_idx(o, i), depth + 1);
        return;
    }
    if (!json_object_is_type(o, json_type_object))
        return;
    json_object_object_foreach(o, k, v)
    {
        if (strcmp(k, VAULT_KEY) == 0 && json_object_is_type(v, json_type_object)) {
            json_object_object_foreach(v, name, enc)
            {
                if (json_object_is_type(enc, json_type_string))
                    collect_one(c, name, strlen(name), json_object_get_string(enc),
                                (size_t)json_object_get_string_len(enc));
            }
        } else {
            walk_json(c, v, depth + 1);
        }
    }
}

static int json_id_equal(json_object *a, json_object *b)
{
    json_object *ia = NULL, *ib = NULL;
    return json_object_object_get_ex(a, "_id", &ia) && json_object_object_get_ex(b, "_id", &ib) &&
           json_object_is_type(ia, json_type_string) && json_object_is_type(ib, json_type_string) &&
           strcmp(json_object_get_string(ia), json_object_get_string(ib)) == 0;
}

/* NeDB: one document per line, last write per _id wins, $$deleted removes. */
static int walk_nedb(collect *c, const char *text, size_t len)
{
    json_object **docs = NULL;
    size_t n = 0, cap = 0;
    const char *p = text, *end = text + len;
    int rc = 0;

    while (p < end && rc == 0) {
        const char *nl = memchr(p, '\n', (size_t)(end - p));
        size_t ll = (size_t)((nl ? nl : end) - p);
        const char *q = p;
        while (q < p + ll && (*q == ' ' || *q == '\t' || *q == '\r'))
            q++;
        if (q < p + ll) {
            json_object *o = NULL;
            json_tokener *tok = json_tokener_new();
            if (tok == NULL) {
                rc = VP_ENOMEM;
                break;
            }
            o = json_tokener_parse_ex(tok, p, (int)ll);
            json_tokener_free(tok);
            if (o == NULL || !json_object_is_type(o, json_type_object)) {
                json_object_put(o);
                rc = vp__err_set(c->err, NULL, VP_EPROTO,
                                 "not an Insomnia export: a line is not a JSON object");
                break;
            }
            if (n == cap) {
                size_t ncap = cap ? cap * 2 : 16;
                json_object **nd = realloc(docs, ncap * sizeof *nd);
                if (nd == NULL) {
                    json_object_put(o);
                    rc = VP_ENOMEM;
                    break;
                }
                docs = nd;
                cap = ncap;
            }
            docs[n++] = o;
        }
        p += ll + 1;
    }
    for (size_t i = 0; i < n && rc == 0; i++) {
        json_object *del = NULL;
        int superseded = 0;
        for (size_t j = i + 1; j < n && !superseded; j++)
            superseded = json_id_equal(docs[i], docs[j]);
        if (superseded ||
            (json_object_object_get_ex(docs[i], "$$deleted", &del) && json_object_get_boolean(del)))
            continue;
        walk_json(c, docs[i], 0);
    }
    for (size_t i = 0; i < n; i++)
        json_object_put(docs[i]);
    free(docs);
    if (rc == VP_ENOMEM)
        return vp__err_set(c->err, NULL, rc, NULL);
    return rc;
}

#ifdef VP_HAVE_YAML
static void walk_yaml(collect *c, yaml_document_t *doc, yaml_node_t *node, int depth)
{
    if (c->rc != 0 || node == NULL || too_big(c, depth))
        return;
    if (node->type == YAML_SEQUENCE_NODE) {
        for (yaml_node_item_t *it = node->data.sequence.items.start;
             it < node->data.sequence.items.top; it++)
            walk_yaml(c, doc, yaml_document_get_node(doc, *it), depth + 1);
        return;
    }
    if (node->type != YAML_MAPPING_NODE)
        return;
    for (yaml_node_pair_t *pr = node->data.mapping.pairs.start; pr < node->data.mapping.pairs.top;
         pr++) {
        yaml_node_t *k = yaml_document_get_node(doc, pr->key);
        yaml_node_t *v = yaml_document_get_node(doc, pr->value);
        if (k != NULL && v != NULL && k->type == YAML_SCALAR_NODE &&
            k->data.scalar.length == strlen(VAULT_KEY) &&
            memcmp(k->data.scalar.value, VAULT_KEY, strlen(VAULT_KEY)) == 0 &&
            v->type == YAML_MAPPING_NODE) {
            for (yaml_node_pair_t *q = v->data.mapping.pairs.start; q < v->data.mapping.pairs.top;
                 q++) {
                yaml_node_t *nk = yaml_document_get_node(doc, q->key);
                yaml_node_t *nv = yaml_document_get_node(doc, q->value);
                if (too_big(c, depth + 1))
                    return;
                if (nk != NULL && nv != NULL && nk->type == YAML_SCALAR_NODE &&
                    nv->type == YAML_SCALAR_NODE)
                    collect_one(c, (const char *)nk->data.scalar.value, nk->data.scalar.length,
                                (const char *)nv->data.scalar.value, nv->data.scalar.length);
            }
        } else {
            walk_yaml(c, doc, v, depth + 1);
        }
    }
}

static int parse_yaml(collect *c, const unsigned char *text, size_t len)
{
    yaml_parser_t parser;
    yaml_document_t doc;
    int rc = 0;

    if (!yaml_parser_initialize(&parser))
        return vp__err_set(c->err, NULL, VP_ENOMEM, NULL);
    yaml_parser_set_input_string(&parser, text, len);
    for (;;) {
        yaml_node_t *root;
        if (!yaml_parser_load(&parser, &doc)) {
            rc = vp__err_set(c->err, NULL, VP_EPROTO,
                             "not an Insomnia export (JSON, NeDB or YAML): YAML error at line %lu",
                             (unsigned long)parser.problem_mark.line + 1);
            break;
        }
        root = yaml_document_get_root_node(&doc);
        if (root == NULL) {
            yaml_document_delete(&doc);
            break;
        }
        walk_yaml(c, &doc, root, 0);
        yaml_document_delete(&doc);
        if (c->rc != 0)
            break;
    }
    yaml_parser_delete(&parser);
    return rc;
}
#endif

static int parse_file(collect *c, const unsigned char *text, size_t len)
{
    size_t i = 0;
    int rc;

    if (len >= 3 && memcmp(text, "\xEF\xBB\xBF", 3) == 0)
        i = 3;
    while (i < len && (text[i] == ' ' || text[i] == '\t' || text[i] == '\r' || text[i] == '\n'))
        i++;
    if (i < len && text[i] == '{') {
        /* A whole-file JSON document (v4 export), else NeDB lines. */
        json_tokener *tok = json_tokener_new();
        json_object *o;
        size_t endpos;
        if (tok == NULL)
            return vp__err_set(c->err, NULL, VP_ENOMEM, NULL);
        o = json_tokener_parse_ex(tok, (const char *)text + i, (int)(len - i));
        endpos = i + json_tokener_get_parse_end(tok);
        json_tokener_free(tok);
        while (o != NULL && endpos < len &&
               (text[endpos] == ' ' || text[endpos] == '\n' || text[endpos] == '\r' ||
                text[endpos] == '\t'))
            endpos++;
        if (o != NULL && endpos == len) {
            walk_json(c, o, 0);
            json_object_put(o);
            return c->rc;
        }
        json_object_put(o);
        rc = walk_nedb(c, (const char *)text + i, len - i);
        return rc != 0 ? rc : c->rc;
    }
#ifdef VP_HAVE_YAML
    rc = parse_yaml(c, text + i, len - i);
    return rc != 0 ? rc : c->rc;
#else
    return vp__err_set(c->err, NULL, VP_ENOTSUP,
                       "YAML (Insomnia v5) exports need a build with libyaml; export as JSON");
#endif
}

void vp_vault_import_report_free(vp_vault_import_report *r)
{
    if (r == NULL)
        return;
    vp_vault_names_free(r->clashes, r->nclashes);
    vp_vault_names_free(r->conflicts, r->nconflicts);
    vp_vault_names_free(r->invalid, r->ninvalid);
    memset(r, 0, sizeof *r);
}

int vp_vault_import_insomnia(vp_vault *vault, const char *file, const char *insomnia_key,
                             int overwrite, vp_vault_import_report *report, vp_error *err)
{
    vp_vault_import_report local;
    vp_vault_import_report *rep = report ? report : &local;
    unsigned char *key = NULL, *text = NULL, *kept = NULL;
    vp__vault_item *items = NULL;
    collect c;
    size_t len = 0;
    int rc;

    memset(rep, 0, sizeof *rep);
    memset(&c, 0, sizeof c);
    if (vault == NULL || file == NULL || insomnia_key == NULL)
        return vp__err_set(err, NULL, VP_EINVAL, NULL);
    key = vp__secmem_alloc(VP__VAULT_KEYBYTES);
    if (key == NULL)
        return vp__err_set(err, NULL, VP_ENOMEM, NULL);
    rc = vp__vault_key_parse(insomnia_key, key, err);
    if (rc != 0)
        goto out;
    rc = vp__vault_read_file(file, 0, &text, &len, err);
    if (rc != 0) {
        if (rc == VP_ENOTFOUND)
            vp__err_set(err, NULL, rc, "no such file: %s", file);
        goto out;
    }
    if (len > IMPORT_FILE_MAX) {
        rc = vp__err_set(err, NULL, VP_ELIMIT, "%s is larger than %u bytes", file, IMPORT_FILE_MAX);
        goto out;
    }
    c.key = key;
    c.rep = rep;
    c.err = err;
    rc = parse_file(&c, text, len);
    if (rc != 0)
        goto out;
    rep->found = c.n;
    items = calloc(c.n ? c.n : 1, sizeof *items);
    kept = calloc(c.n ? c.n : 1, 1);
    if (items == NULL || kept == NULL) {
        rc = vp__err_set(err, NULL, VP_ENOMEM, NULL);
        goto out;
    }
    for (size_t i = 0; i < c.n; i++) {
        items[i].name = c.names[i];
        items[i].value = (const unsigned char *)c.values[i].data;
        items[i].len = c.values[i].len;
    }
    rc = vp__vault_rec_set_many(vault, VP__VAULT_SECRET, items, c.n, overwrite, kept,
                                &rep->imported, err);
    if (rc != 0)
        goto out;
    for (size_t i = 0; i < c.n && rc == 0; i++)
        if (kept[i] &&
            strlist_add(&rep->clashes, &rep->nclashes, c.names[i], strlen(c.names[i])) != 0)
            rc = vp__err_set(err, NULL, VP_ENOMEM, NULL);
    if (rc == 0)
        vp_error_clear(err);
out:
    for (size_t i = 0; i < c.n; i++) {
        free(c.names[i]);
        vp_buf_free(&c.values[i]);
    }
    free(c.names);
    free(c.values);
    free(items);
    free(kept);
    free(text);
    vp__secmem_free(key);
    if (rc != 0 || report == NULL)
        vp_vault_import_report_free(rep);
    return rc;
}
