/*
 * fuzz_aws - the AWS provider's parsers of untrusted input: the first byte picks the parser,
 * the rest is the document (a service response, a shared config file, a timestamp).
 */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "aws_int.h"
#include "host.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1)
        return 0;
    const vp_host *h = vp__host_table();
    unsigned sel = data[0] % 7;
    const char *doc = (const char *)data + 1;
    size_t len = size - 1;
    char *text = malloc(len + 1);
    if (text == NULL)
        return 0;
    memcpy(text, doc, len);
    text[len] = '\0';
    switch (sel) {
    case 0: { /* error response of the JSON protocol */
        aws_err e;
        aws_parse_error_text(h, NULL, text, len, 400, &e);
        (void)aws_map_error(e.code, 400);
        aws_parse_error_text(h, "com.amazonaws#X:http://x", text, len, 500, &e);
        break;
    }
    case 1:   /* GetSecretValue response / SecretValues entry, plain and kv */
    case 2: { /* BatchGetSecretValue response: every SecretValues entry */
        vp_json *j = NULL;
        if (h->json_parse(text, len, &j) == VP_OK) {
            char why[200];
            aws_sv sv;
            if (sel == 1) {
                if (aws_sm_value(h, j, 0, NULL, &sv, why, sizeof(why)) == VP_OK)
                    aws_sv_clear(h, &sv);
                if (aws_sm_value(h, j, 1, "password", &sv, why, sizeof(why)) == VP_OK)
                    aws_sv_clear(h, &sv);
            } else {
                const vp_json *vals = h->json_get(j, "SecretValues");
                for (size_t i = 0; i < h->json_len(vals) && i < 64; i++)
                    if (aws_sm_value(h, h->json_at(vals, i), 1, "k", &sv, why, sizeof(why)) ==
                        VP_OK)
                        aws_sv_clear(h, &sv);
            }
            h->json_free(j);
        }
        break;
    }
    case 3: { /* ECS / IMDS credentials */
        aws_creds c;
        if (aws_parse_json_creds(h, text, len, &c) == VP_OK)
            aws_creds_clear(h, NULL, &c);
        break;
    }
    case 4: { /* STS AssumeRole XML */
        aws_creds c;
        if (aws_parse_sts_creds(h, text, len, &c) == VP_OK)
            aws_creds_clear(h, NULL, &c);
        char *v = aws_xml_get(h, text, len, "Code");
        h->secure_free(v);
        break;
    }
    case 5: { /* shared config / credentials file */
        char *v = aws_ini_get(h, text, "profile dev", "role_arn");
        h->secure_free(v);
        v = aws_ini_get(h, text, "default", "aws_secret_access_key");
        h->secure_free(v);
        (void)aws_ini_has_section(text, "sso-session my-sso");
        break;
    }
    default: { /* timestamps, ARNs, URLs */
        int64_t ms;
        (void)aws_parse_time(h, text, &ms);
        char out[256];
        (void)aws_arn_region(text, out, sizeof(out));
        (void)aws_url_host(h, text, out, sizeof(out));
        break;
    }
    }
    free(text);
    return 0;
}
