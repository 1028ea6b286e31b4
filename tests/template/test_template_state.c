/*
 * Render-state fast paths: what the engine remembers between renders must never change an
 * output or leave a secret behind. Covers the output buffer a caller reuses (overwritten, its
 * tail wiped, also after the caller shortened it by hand), the gaps left for external values
 * (values whose lengths change between renders, PREVIEW in between), a render state handed from
 * a freed template to the next one, the `{{ name.path }}` parse shortcut against the full
 * parser, `{{ vault.name }}` outputs, the memo of parsed references, threads that parse,
 * render and free at once (the pooled state and the memo are shared), and inputs the fuzzer
 * found (tests/template/regress: each must parse and render or fail cleanly; run under ASan).
 * Plain program (exit status); every failed check prints its line.
 */
#include <dirent.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "buf.h"
#include "secmem.h"
#include "vaultplug/error.h"
#include "vaultplug/template.h"

static int fails;
#define CHECK(c)                                                 \
    do {                                                         \
        if (!(c)) {                                              \
            fprintf(stderr, "FAIL line %d: %s\n", __LINE__, #c); \
            fails++;                                             \
        }                                                        \
    } while (0)

/* External values: "<json_key>" repeated round % 4 + 1 times, so lengths change per render. */
static int round_no;
static int resolve(void *ud, const vp_template_ref *refs, size_t n, vp_ref_result *res)
{
    (void)ud;
    for (size_t i = 0; i < n; i++) {
        char v[256] = "";
        const char *k = refs[i].json_key ? refs[i].json_key : "-";
        for (int j = 0; j <= (round_no + (int)i) % 4; j++)
            strcat(v, k);
        if (vp__buf_set_secure(&res[i].value, v, strlen(v)) != 0)
            return -1;
    }
    return 0;
}

static int vlookup(void *ud, const char *name, vp_buf *out, vp_error *err)
{
    (void)ud;
    (void)err;
    if (strcmp(name, "tok") == 0)
        return vp__buf_set_secure(out, "S3CR3T-TOKEN-VALUE", 18);
    return VP_ENOTFOUND;
}

static vp_render_params P;

/* Render src (parsed each time) into *out, which the caller may reuse. */
static int render_into(const char *src, vp_buf *out, vp_error *err)
{
    vp_template *t = NULL;
    int rc = vp_template_parse(src, strlen(src), NULL, &t, err);
    if (rc == 0)
        rc = vp_template_render(t, &P, out, err);
    vp_template_free(t);
    return rc;
}

static int render_s(const char *src, char *dst, size_t n)
{
    vp_buf out = VP_BUF_INIT;
    vp_error err;
    int rc = render_into(src, &out, &err);
    snprintf(dst, n, "%s", rc == 0 ? out.data : err.message);
    vp_buf_free(&out);
    return rc;
}

static int contains(const char *h, size_t hn, const char *nd)
{
    size_t nn = strlen(nd);
    for (size_t i = 0; i + nn <= hn; i++)
        if (memcmp(h + i, nd, nn) == 0)
            return 1;
    return 0;
}

static int tail_clean(const vp_buf *b)
{
    for (size_t i = b->len; i < b->cap; i++)
        if (b->data[i] != 0)
            return 0;
    return 1;
}

static void test_output_buffer(void)
{
    vp_buf out = VP_BUF_INIT;
    vp_error err;
    /* a long output with a secret, then a short one into the same buffer */
    CHECK(render_into("{% for x in list %}{{ vault.tok }}-{{ x }};{% endfor %}", &out, &err) == 0);
    CHECK(out.len > 60 && strstr(out.data, "S3CR3T") != NULL);
    CHECK(render_into("short {{ a.b }}", &out, &err) == 0);
    CHECK(strcmp(out.data, "short one") == 0);
    CHECK(tail_clean(&out));
    CHECK(!contains(out.data, out.cap, "S3CR3T"));
    /* the caller shortened the output by hand: what it cut off must not survive either */
    CHECK(render_into("{{ vault.tok }} and more text after it", &out, &err) == 0);
    out.len = 3;
    out.data[3] = '\0';
    CHECK(render_into("{{ a.b }}", &out, &err) == 0);
    CHECK(strcmp(out.data, "one") == 0);
    CHECK(tail_clean(&out));
    /* the same template again and again: same output, clean tail */
    vp_template *t = NULL;
    const char *src = "[{% vault 'echo://x/y#kk' %}]{{ vault.tok }}[{% vault 'echo://x/z#q' %}]";
    CHECK(vp_template_parse(src, strlen(src), NULL, &t, &err) == 0);
    for (int i = 0; i < 12; i++) {
        round_no = i;
        CHECK(vp_template_render(t, &P, &out, &err) == 0);
        /* values: kk x (i%4+1), q x ((i+1)%4+1) */
        char want[256] = "[";
        for (int j = 0; j <= i % 4; j++)
            strcat(want, "kk");
        strcat(want, "]S3CR3T-TOKEN-VALUE[");
        for (int j = 0; j <= (i + 1) % 4; j++)
            strcat(want, "q");
        strcat(want, "]");
        CHECK(strcmp(out.data, want) == 0);
        CHECK(tail_clean(&out));
        if (i % 3 == 2) { /* PREVIEW in between: masks, and the next SEND is right again */
            P.mode = VP_RENDER_PREVIEW;
            CHECK(vp_template_render(t, &P, &out, &err) == 0);
            CHECK(strcmp(out.data, "[" VP_TMPL_MASK "]" VP_TMPL_MASK "[" VP_TMPL_MASK "]") == 0);
            CHECK(tail_clean(&out));
            P.mode = VP_RENDER_SEND;
        }
    }
    /* same lengths twice in a row (the values go into the gaps) */
    round_no = 4;
    CHECK(vp_template_render(t, &P, &out, &err) == 0);
    CHECK(vp_template_render(t, &P, &out, &err) == 0);
    CHECK(strcmp(out.data, "[kk]S3CR3T-TOKEN-VALUE[qq]") == 0);
    vp_template_free(t);
    vp_buf_free(&out);
}

static void test_state_handover(void)
{
    /* a render state moves from a freed template to the next one: lookups remembered for the
     * first template's nodes must not answer for the second's */
    char s[512];
    for (int i = 0; i < 40; i++) {
        CHECK(render_s(i % 2 ? "{{ a.b }}-{{ c }}" : "{{ c }}-{{ a.b }}", s, sizeof s) == 0);
        CHECK(strcmp(s, i % 2 ? "one-3" : "3-one") == 0);
        CHECK(render_s(i % 3 ? "{% for x in list %}{{ x }}{% endfor %}{{ c }}" : "{{ c }}{{ c }}",
                       s, sizeof s) == 0);
        CHECK(strcmp(s, i % 3 ? "L0L1L23" : "33") == 0);
    }
}

static void test_parse_shortcut(void)
{
    /* `{{ name.path }}` is parsed without the lexer; everything else by the full parser, with
     * the same results and the same messages */
    static const struct {
        const char *src, *want; /* want NULL: an error whose message contains err */
        const char *err;
    } cases[] = {
        {"{{a.b}}", "one", NULL},
        {"{{ a.b -}}  x", "onex", NULL},
        {"x  {{- a.b }}", "xone", NULL},
        {"{{ a . b }}", "one", NULL},
        {"{{ _.a.b }}", "one", NULL},
        {"{{ true }}", "true", NULL},
        {"{{ not c }}", "false", NULL},
        {"{{ a.true }}", "T", NULL},
        {"{{ c }}{{c}}", "33", NULL},
        {"{{ a.b2 }}", NULL, "line 1, column 4"},
        {"{{ nope }}", NULL, "'nope' is undefined"},
        {"{{ a. }}", NULL, "line 1, column 7"},
        {"{{ a.0 }}", NULL, "line 1, column 6"},
        {"ab\n  {{ a.b\n}} {{ a.x.y }}", NULL, "line 3, column 7"},
        {"{{ loop.index }}", NULL, "'loop.index' is undefined"},
        {"{% for x in list %}{{ loop.index }}{% endfor %}", "123", NULL},
        {"{{ vault }}", NULL, "is the local vault"},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        char s[512];
        int rc = render_s(cases[i].src, s, sizeof s);
        if (cases[i].want != NULL) {
            CHECK(rc == 0 && strcmp(s, cases[i].want) == 0);
        } else {
            CHECK(rc != 0 && strstr(s, cases[i].err) != NULL);
        }
        if ((cases[i].want != NULL) != (rc == 0) ||
            (cases[i].want && strcmp(s, cases[i].want) != 0) ||
            (!cases[i].want && strstr(s, cases[i].err) == NULL))
            fprintf(stderr, "  case %zu: %s -> %s\n", i, cases[i].src, s);
    }
}

static void test_vault_outputs(void)
{
    char s[512];
    CHECK(render_s("{{ vault.tok }}/{{ __insomnia_vault.tok }}", s, sizeof s) == 0);
    CHECK(strcmp(s, "S3CR3T-TOKEN-VALUE/S3CR3T-TOKEN-VALUE") == 0);
    CHECK(render_s("{{ vault.missing }}", s, sizeof s) != 0);
    CHECK(strstr(s, "undefined") != NULL);
    P.flags = VP_TMPL_UNDEFINED_EMPTY;
    CHECK(render_s("[{{ vault.missing }}]", s, sizeof s) == 0 && strcmp(s, "[]") == 0);
    P.flags = 0;
    P.mode = VP_RENDER_PREVIEW;
    CHECK(render_s("{{ vault.tok }}", s, sizeof s) == 0 && strcmp(s, VP_TMPL_MASK) == 0);
    P.mode = VP_RENDER_SEND;
}

static void test_ref_memo(void)
{
    /* more distinct URIs than the memo has slots, twice over: every id stays right */
    vp_error err;
    for (int pass = 0; pass < 2; pass++) {
        for (int i = 0; i < 150; i++) {
            char src[200], want[100];
            snprintf(src, sizeof src, "{%% vault 'ECHO://cred%d@p/%d?b=2&a=1#k%d' %%}", i % 3, i,
                     i);
            snprintf(want, sizeof want, "echo://cred%d@p/%d?a=1&b=2#k%d", i % 3, i, i);
            vp_template *t = NULL;
            vp_template_refs *refs = NULL;
            CHECK(vp_template_parse(src, strlen(src), NULL, &t, &err) == 0);
            CHECK(vp_template_refs_collect(t, &P, &refs, &err) == 0);
            const vp_template_ref *r = vp_template_refs_get(refs, 0);
            CHECK(r != NULL && strcmp(r->id, want) == 0);
            if (r != NULL && strcmp(r->id, want) != 0)
                fprintf(stderr, "  %s != %s\n", r->id, want);
            char key[16];
            snprintf(key, sizeof key, "k%d", i);
            CHECK(r != NULL && r->json_key != NULL && strcmp(r->json_key, key) == 0);
            CHECK(r != NULL && strcmp(r->scheme, "echo") == 0);
            vp_template_refs_free(refs);
            vp_template_free(t);
        }
    }
}

static void *thr(void *a)
{
    int id = (int)(size_t)a;
    for (int i = 0; i < 3000; i++) {
        char src[160], want[160], s[512];
        int k = (i + id) % 70; /* more URIs than memo slots: hits, misses and evictions */
        snprintf(src, sizeof src, "{{ a.b }}:{%% vault 'echo://p/%d#j%d' %%}:{{ vault.tok }}", k,
                 k);
        snprintf(want, sizeof want, "one:j%d:S3CR3T-TOKEN-VALUE", k);
        if (render_s(src, s, sizeof s) != 0 || strcmp(s, want) != 0) {
            __atomic_add_fetch(&fails, 1, __ATOMIC_RELAXED);
            fprintf(stderr, "thread %d: %s != %s\n", id, s, want);
            break;
        }
    }
    return NULL;
}

static void test_threads(void)
{
    round_no = 0; /* the resolver reads it: no render changes it meanwhile */
    pthread_t th[4];
    for (size_t i = 0; i < 4; i++)
        CHECK(pthread_create(&th[i], NULL, thr, (void *)i) == 0);
    for (size_t i = 0; i < 4; i++)
        pthread_join(th[i], NULL);
}

static void test_names(void)
{
    /* many names, prefixes of each other and with bytes the lexer takes into names (a NUL too):
     * the interning table grows and compares names by length */
    char src[8192];
    size_t o = 0;
    for (int i = 1; i <= 120 && o + 200 < sizeof src; i++) {
        o += (size_t)snprintf(src + o, sizeof src - o, "{{ ");
        for (int j = 0; j < i % 40 + 1; j++)
            src[o++] = (char)('a' + i % 3);
        if (i % 7 == 0) {
            src[o++] = '\0';
            src[o++] = 'z';
        }
        o += (size_t)snprintf(src + o, sizeof src - o, " }}{%% set v%d = %d %%}{{ v%d }}", i, i, i);
    }
    vp_template *t = NULL;
    vp_error err;
    vp_buf out = VP_BUF_INIT;
    P.flags = VP_TMPL_UNDEFINED_EMPTY;
    CHECK(vp_template_parse(src, o, NULL, &t, &err) == 0);
    CHECK(t != NULL && vp_template_render(t, &P, &out, &err) == 0);
    CHECK(out.data != NULL && strncmp(out.data, "123456", 6) == 0);
    P.flags = 0;
    vp_buf_free(&out);
    vp_template_free(t);
}

static void test_regress(void)
{
    DIR *d = opendir(VP_TMPL_REGRESS_DIR);
    CHECK(d != NULL);
    if (d == NULL)
        return;
    int n = 0;
    struct dirent *de;
    while ((de = readdir(d)) != NULL) {
        if (de->d_name[0] == '.')
            continue;
        char path[1024];
        snprintf(path, sizeof path, "%s/%s", VP_TMPL_REGRESS_DIR, de->d_name);
        FILE *f = fopen(path, "rb");
        CHECK(f != NULL);
        if (f == NULL)
            continue;
        static char data[1 << 16];
        size_t len = fread(data, 1, sizeof data, f);
        fclose(f);
        vp_template *t = NULL;
        vp_error err;
        if (vp_template_parse(data, len, NULL, &t, &err) == 0) {
            vp_buf out = VP_BUF_INIT;
            int rc = vp_template_render(t, &P, &out, &err);
            CHECK(rc == 0 || (out.data == NULL && err.message[0] != '\0'));
            vp_buf_free(&out);
            vp_template_free(t);
        }
        n++;
    }
    closedir(d);
    CHECK(n > 0);
}

/* Strings made while rendering are bounded per render (about 2 x max_output): neither many
 * renders of one template (state kept between them) nor loops that make and drop strings may
 * add up to that bound. Fuzzing found renders failing with VP_ELIMIT, no message, after many
 * earlier ones. */
static void test_scratch_bound(void)
{
    /* The first string of a render is made inside a loop body (whose strings are dropped at the
     * end of each iteration), as in the input the fuzzer found. */
    char src[2048] = "{% for a in list %}{% for b in list %}{% for c in list %}{{ a ~ b ~ \"";
    size_t l = strlen(src);
    memset(src + l, 'x', 1000);
    strcpy(src + l + 1000, "\" }}{% endfor %}{% endfor %}{% endfor %}");
    vp_template_limits lim;
    memset(&lim, 0, sizeof lim);
    lim.max_output = 64 * 1024; /* strings made: at most 2 x 64 KiB + 64 KiB at once */
    vp_render_params p = P;
    p.limits = &lim;
    vp_template *t = NULL;
    vp_error err;
    CHECK(vp_template_parse(src, strlen(src), &lim, &t, &err) == 0);
    if (t == NULL)
        return;
    vp_buf out = VP_BUF_INIT;
    int bad = 0;
    for (int i = 0; i < 300 && !bad; i++) { /* 27 x ~1 KB per render, ~8 MB in all */
        int rc = vp_template_render(t, &p, &out, &err);
        if (rc != 0) {
            fprintf(stderr, "render %d: %s\n", i, err.message);
            bad = 1;
        } else if (out.len != 27 * 1004 || strncmp(out.data, "L0L0xxxx", 8) != 0) {
            bad = 1;
        }
    }
    CHECK(!bad);
    vp_buf_free(&out);
    vp_template_free(t);
}

int main(void)
{
    if (vp__secmem_init() != 0)
        return 1;
    vp_env *env = NULL;
    vp_error err;
    const char *j =
        "{\"a\":{\"b\":\"one\",\"true\":\"T\"},\"c\":3,\"list\":[\"L0\",\"L1\",\"L2\"]}";
    CHECK(vp_env_new(&env) == 0 && vp_env_add_json(env, j, strlen(j), &err) == 0);
    vp_vault_source vs = {NULL, vlookup};
    vp_resolver rs = {NULL, resolve};
    memset(&P, 0, sizeof P);
    P.size = sizeof P;
    P.mode = VP_RENDER_SEND;
    P.env = env;
    P.vault = &vs;
    P.resolver = &rs;
    test_scratch_bound(); /* first: it needs a render state that never made a string */
    test_output_buffer();
    test_state_handover();
    test_parse_shortcut();
    test_vault_outputs();
    test_ref_memo();
    test_threads();
    test_names();
    test_regress();
    vp_env_free(env);
    fprintf(stderr, fails ? "FAILED %d\n" : "ALL OK\n", fails);
    return fails != 0;
}
