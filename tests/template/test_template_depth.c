/*
 * test_template_depth - the engine's bounds on nesting and on chains (reliability findings D2
 * and D12): long chains of operators, filters, comparisons, `and`/`or`, attribute and index
 * lookups used to parse in a loop into a left-deep tree that the evaluator (and so reference
 * listing) walked with one recursive call per link, overflowing the stack from about 40,000
 * links; now every chain is refused at parse time past vp__tmpl_max_chain with VP_EINVAL and a
 * clear message. Nesting is counted as written (blocks, brackets, unary operators; an elif
 * chain is not nesting), is a template error (VP_EINVAL, like a syntax error), and everything
 * holds on a 64 KiB thread stack.
 */
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "buf.h"
#include "vaultplug/error.h"
#include "vaultplug/template.h"

#define LINKS     50000
#define MAX_CHAIN (2 * VP_TMPL_DEFAULT_MAX_DEPTH) /* vp__tmpl_max_chain at the defaults */

/* pre, then link n times, then mid, then close n times, then post (malloc'd). */
static char *build(const char *pre, const char *link, size_t n, const char *mid, const char *close,
                   const char *post)
{
    size_t ll = strlen(link), lc = strlen(close);
    size_t len = strlen(pre) + n * (ll + lc) + strlen(mid) + strlen(post);
    char *s = malloc(len + 1), *q = s;
    assert_non_null(s);
    q += sprintf(q, "%s", pre);
    for (size_t i = 0; i < n; i++, q += ll)
        memcpy(q, link, ll);
    q += sprintf(q, "%s", mid);
    for (size_t i = 0; i < n; i++, q += lc)
        memcpy(q, close, lc);
    sprintf(q, "%s", post);
    return s;
}

static vp_env *env_of(const char *json)
{
    vp_env *env = NULL;
    assert_int_equal(vp_env_new(&env), 0);
    vp_error err;
    assert_int_equal(vp_env_add_json(env, json, strlen(json), &err), 0);
    return env;
}

static int resolve_batch(void *ud, const vp_template_ref *refs, size_t n, vp_ref_result *results)
{
    (void)ud;
    for (size_t i = 0; i < n; i++)
        assert_int_equal(vp__buf_set_secure(&results[i].value, "V", 1), 0);
    return 0;
}

/* Parse and render src; returns the first failing status (0: out holds the output). */
static int render(const char *src, const vp_template_limits *lim, vp_buf *out, vp_error *err)
{
    vp_template *t = NULL;
    int rc = vp_template_parse(src, strlen(src), lim, &t, err);
    if (rc != 0) {
        assert_null(t);
        return rc;
    }
    vp_env *env = env_of("{\"a\":{\"b\":{\"b\":\"x\"}},\"l\":[[1]],\"s\":\"abc\","
                         "\"z\":{\"z\":\"z\"},\"one\":\"a\"}");
    vp_resolver res = {NULL, resolve_batch};
    vp_render_params p;
    memset(&p, 0, sizeof(p));
    p.size = sizeof(p);
    p.env = env;
    p.resolver = &res;
    p.limits = lim;
    rc = vp_template_render(t, &p, out, err);
    if (rc == 0) { /* reference listing walks the same tree */
        vp_template_refs *refs = NULL;
        assert_int_equal(vp_template_refs_collect(t, &p, &refs, err), 0);
        vp_template_refs_free(refs);
    }
    vp_env_free(env);
    vp_template_free(t);
    return rc;
}

static void expect_refused(const char *src, const char *what)
{
    vp_buf out = VP_BUF_INIT;
    vp_error err;
    memset(&err, 0, sizeof(err));
    int rc = render(src, NULL, &out, &err);
    if (rc != VP_EINVAL || strstr(err.message, what) == NULL ||
        strstr(err.message, "line ") == NULL)
        fail_msg("%.60s...: status %d, message '%s' (want VP_EINVAL and '%s')", src, rc,
                 err.message, what);
    assert_null(out.data);
    /* the one-call API too */
    assert_int_equal(vp_render(NULL, src, strlen(src), NULL, VP_RENDER_SEND, &out, &err),
                     VP_EINVAL);
    assert_non_null(strstr(err.message, what));
    vp_buf_free(&out);
}

static const char CHAIN[] = "more than 128 operations in a row";
static const char NEST[] = "nested more than 64 levels deep";

/* Every kind of chain, 50,000 links long, in every place an expression goes. */
static const struct {
    const char *pre, *link, *post, *what;
} CHAINS[] = {
    {"{{ 1", "+1", " }}", CHAIN},
    {"{{ 1", "-1", " }}", CHAIN},
    {"{{ 2", "*1", " }}", CHAIN},
    {"{{ 2", "//1", " }}", CHAIN},
    {"{{ 2", "**1", " }}", CHAIN},
    {"{{ 'a'", "~'a'", " }}", CHAIN},
    {"{{ 'a'", "|upper", " }}", CHAIN},
    {"{{ s", "|default('x')", " }}", CHAIN},
    {"{{ a", ".b", " }}", CHAIN},         /* the fast path for plain paths */
    {"{{ a", ".b", " | upper }}", CHAIN}, /* the full parser's postfix loop */
    {"{{ l", "[0]", " }}", CHAIN},
    {"{{ l", "['0']", " }}", CHAIN},
    {"{{ 1", " < 2", " }}", CHAIN},
    {"{{ 1", " == 1", " }}", CHAIN},
    {"{{ 1", " and 1", " }}", CHAIN},
    {"{{ 1", " or 1", " }}", CHAIN},
    {"{{ 'a'", " in 'a'", " }}", CHAIN},
    {"{{ 'a'", " not in 'a'", " }}", CHAIN},
    {"{% set x = 1", "+1", " %}", CHAIN},
    {"{% if 1", " and 1", " %}x{% endif %}", CHAIN},
    {"{% for i in l", "[0]", " %}x{% endfor %}", CHAIN},
    {"{% vault 'echo://x'", " ~ 'y'", " %}", CHAIN},
    {"{{ 'a' | default(1", "+1", ") }}", CHAIN},
    {"{{ ", "not ", "1 }}", NEST},
    {"{{ ", "-", "1 }}", NEST},
    {"{{ ", "- +", "1 }}", NEST},
    {"{{ f", "()", " }}", "function calls are not supported"},
};

static void test_long_chains_refused(void **state)
{
    (void)state;
    for (size_t i = 0; i < sizeof(CHAINS) / sizeof(CHAINS[0]); i++) {
        char *src = build(CHAINS[i].pre, CHAINS[i].link, LINKS, "", "", CHAINS[i].post);
        expect_refused(src, CHAINS[i].what);
        free(src);
    }
    /* brackets nested 50,000 deep: every kind */
    static const char *const open[] = {"(", "l[", "'a'|default("};
    static const char *const close[] = {")", "]", ")"};
    for (size_t i = 0; i < 3; i++) {
        char *src = build("{{ ", open[i], LINKS, "1", close[i], " }}");
        expect_refused(src, NEST);
        free(src);
    }
    char *src = build("", "{% if 1 %}", LINKS, "x", "{% endif %}", "");
    expect_refused(src, NEST);
    free(src);
    src = build("", "{% for x in l %}", LINKS, "x", "{% endfor %}", "");
    expect_refused(src, NEST);
    free(src);
}

/* A chain of exactly the limit renders (and lists its references); one more link is refused. */
static void test_chain_limit_exact(void **state)
{
    (void)state;
    vp_buf out = VP_BUF_INIT;
    vp_error err;
    char *src = build("{{ 1", "+1", MAX_CHAIN, "", "", " }}");
    assert_int_equal(render(src, NULL, &out, &err), 0);
    assert_string_equal(out.data, "129");
    free(src);
    src = build("{{ 1", "+1", MAX_CHAIN + 1, "", "", " }}");
    assert_int_equal(render(src, NULL, &out, &err), VP_EINVAL);
    assert_non_null(strstr(err.message, "line 1, column 261: more than 128 operations in a row"));
    assert_non_null(strstr(err.message, "{% set %}"));
    free(src);
    /* operations count across parentheses: 43 levels of three filters each are 129 */
    src = build("{{ ", "(", 43, "'X'", ")|lower|lower|lower", " }}");
    assert_int_equal(render(src, NULL, &out, &err), VP_EINVAL);
    assert_non_null(strstr(err.message, CHAIN));
    free(src);
    src = build("{{ ", "(", 42, "'X'", ")|lower|lower|lower", " }}");
    assert_int_equal(render(src, NULL, &out, &err), 0);
    assert_string_equal(out.data, "x");
    free(src);
    /* the deepest render the defaults allow: 64 blocks around a chain at the limit */
    char *chain = build("{{ s", "|upper", MAX_CHAIN, "", "", " }}");
    src = build("", "{% for c in one %}", 64, chain, "{% endfor %}", "");
    assert_int_equal(render(src, NULL, &out, &err), 0);
    assert_string_equal(out.data, "ABC");
    free(src);
    src = build("", "{% if one %}", 64, chain, "{% endif %}", "");
    assert_int_equal(render(src, NULL, &out, &err), 0);
    assert_string_equal(out.data, "ABC");
    free(src);
    free(chain);
    /* a reference built by a chain at the limit is listed */
    src = build("{% vault 'echo://x'", " ~ 'y'", MAX_CHAIN, "", "", " %}");
    vp_template *t = NULL;
    assert_int_equal(vp_template_parse(src, strlen(src), NULL, &t, &err), 0);
    vp_render_params p;
    memset(&p, 0, sizeof(p));
    p.size = sizeof(p);
    vp_template_refs *refs = NULL;
    assert_int_equal(vp_template_refs_collect(t, &p, &refs, &err), 0);
    assert_int_equal(vp_template_refs_count(refs), 1);
    assert_int_equal(strlen(vp_template_refs_get(refs, 0)->id), strlen("echo://x") + MAX_CHAIN);
    vp_template_refs_free(refs);
    vp_template_free(t);
    free(src);
    /* the chain limit follows max_depth */
    vp_template_limits lim;
    memset(&lim, 0, sizeof(lim));
    lim.max_depth = 8;
    src = build("{{ a", ".b", 16, "", "", " | default('d') }}");
    assert_int_equal(render(src, &lim, &out, &err), VP_EINVAL);
    assert_non_null(strstr(err.message, "more than 16 operations in a row"));
    free(src);
    src = build("{{ a", ".b", 15, "", "", " | default('d') }}");
    assert_int_equal(render(src, &lim, &out, &err), 0);
    assert_string_equal(out.data, "d");
    free(src);
    vp_buf_free(&out);
}

/* Nesting counts what the template's author wrote (it used to count the parser's grammar levels:
 * 21 parentheses or 63 ifs already failed "nesting deeper than 64"), and is VP_EINVAL. */
static void test_nesting_as_written(void **state)
{
    (void)state;
    vp_buf out = VP_BUF_INIT;
    vp_error err;
    static const struct {
        const char *open, *mid, *close, *want;
    } ok[] = {
        {"{{ (", "1", ")", "1"},
        {"{{ z[", "'z'", "]", "z"},
        {"{{ s|default(", "1", ")", "abc"},
        {"{{ not ", "1", "", "true"},
        {"{{ - ", "1", "", "1"},
        {"{% if 1 %}", "x", "{% endif %}", "x"},
        {"{% for c in one %}", "x", "{% endfor %}", "x"},
    };
    for (size_t i = 0; i < sizeof(ok) / sizeof(ok[0]); i++) {
        int expr = strncmp(ok[i].open, "{{", 2) == 0;
        /* 64 levels: accepted */
        char *src = expr ? build("{{ ", ok[i].open + 3, 64, ok[i].mid, ok[i].close, " }}")
                         : build("", ok[i].open, 64, ok[i].mid, ok[i].close, "");
        int rc = render(src, NULL, &out, &err);
        if (rc != 0)
            fail_msg("64 levels of '%s': %s", ok[i].open, err.message);
        assert_string_equal(out.data, ok[i].want);
        free(src);
        /* 65: refused, VP_EINVAL, at the 65th */
        src = expr ? build("{{ ", ok[i].open + 3, 65, ok[i].mid, ok[i].close, " }}")
                   : build("", ok[i].open, 65, ok[i].mid, ok[i].close, "");
        assert_int_equal(render(src, NULL, &out, &err), VP_EINVAL);
        assert_non_null(strstr(err.message, NEST));
        free(src);
    }
    /* blocks and brackets count together: 63 ifs around a parenthesis is 64 levels */
    char *src = build("", "{% if 1 %}", 63, "{{ (1) }}", "{% endif %}", "");
    assert_int_equal(render(src, NULL, &out, &err), 0);
    assert_string_equal(out.data, "1");
    free(src);
    src = build("", "{% if 1 %}", 63, "{{ ((1)) }}", "{% endif %}", "");
    assert_int_equal(render(src, NULL, &out, &err), VP_EINVAL);
    free(src);
    /* an elif chain is not nesting, at parse or render time */
    src = build("{% if 0 %}a", "{% elif 0 %}b", LINKS, "{% elif s %}yes{% else %}no{% endif %}", "",
                "");
    assert_int_equal(render(src, NULL, &out, &err), 0);
    assert_string_equal(out.data, "yes");
    free(src);
    src = build("{% if 0 %}a", "{% elseif 0 %}b", LINKS, "{% else %}no{% endif %}", "", "");
    assert_int_equal(render(src, NULL, &out, &err), 0);
    assert_string_equal(out.data, "no");
    free(src);
    /* ... but an if inside an else branch is */
    src = build("", "{% if 0 %}{% else %}", 65, "x", "{% endif %}", "");
    assert_int_equal(render(src, NULL, &out, &err), VP_EINVAL);
    free(src);
    src = build("", "{% if 0 %}{% else %}", 64, "x", "{% endif %}", "");
    assert_int_equal(render(src, NULL, &out, &err), 0);
    assert_string_equal(out.data, "x");
    free(src);
    /* a lower max_depth */
    vp_template_limits lim;
    memset(&lim, 0, sizeof(lim));
    lim.max_depth = 8;
    assert_int_equal(render("{{ ((((((((1)))))))) }}", &lim, &out, &err), 0);
    assert_int_equal(render("{{ (((((((((1))))))))) }}", &lim, &out, &err), VP_EINVAL);
    assert_non_null(strstr(err.message, "line 1, column 12: nested more than 8 levels deep"));
    vp_buf_free(&out);
}

/* ---- the same on a 64 KiB thread stack ------------------------------------------------------ */

static void *small_stack_body(void *arg)
{
    (void)arg;
    test_long_chains_refused(NULL);
    test_chain_limit_exact(NULL);
    test_nesting_as_written(NULL);
    return NULL;
}

static void test_small_stack(void **state)
{
    (void)state;
    /* The engine's frames at the default limits need less than 48 KiB (template.h). Sanitizers
     * and unoptimised builds make frames many times larger: they get more room. */
    size_t size = 64 * 1024;
#if !defined(__OPTIMIZE__) || defined(__SANITIZE_ADDRESS__) || defined(__SANITIZE_THREAD__)
    size = 1024 * 1024;
#endif
#if defined(__has_feature)
#if __has_feature(address_sanitizer) || __has_feature(thread_sanitizer)
    size = 1024 * 1024;
#endif
#endif
    pthread_attr_t attr;
    assert_int_equal(pthread_attr_init(&attr), 0);
    assert_int_equal(pthread_attr_setstacksize(&attr, size), 0);
    pthread_t th;
    assert_int_equal(pthread_create(&th, &attr, small_stack_body, NULL), 0);
    assert_int_equal(pthread_join(th, NULL), 0);
    pthread_attr_destroy(&attr);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_long_chains_refused),
        cmocka_unit_test(test_chain_limit_exact),
        cmocka_unit_test(test_nesting_as_written),
        cmocka_unit_test(test_small_stack),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
