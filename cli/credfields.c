/*
 * credfields.c - credential types and fields as the command line names them: lookup (any case),
 * "did you mean" suggestions, and the one rule both `cred add --field KEY` and the
 * VAULTPLUG_<PROVIDER>_<FIELD> variables follow: a name must be a field of the credential type
 * (or, for the variables, a setting the provider reads itself); otherwise it is refused, naming
 * the closest field.
 */
#include <ctype.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "cli.h"

size_t cli_distance(const char *a, const char *b)
{
    size_t la = strlen(a), lb = strlen(b);
    if (la > 32 || lb > 32)
        return 99;
    size_t d[33][33];
    for (size_t i = 0; i <= la; i++)
        d[i][0] = i;
    for (size_t j = 0; j <= lb; j++)
        d[0][j] = j;
    for (size_t i = 1; i <= la; i++)
        for (size_t j = 1; j <= lb; j++) {
            size_t sub = d[i - 1][j - 1] +
                         (tolower((unsigned char)a[i - 1]) != tolower((unsigned char)b[j - 1]));
            size_t del = d[i - 1][j] + 1, ins = d[i][j - 1] + 1;
            d[i][j] = sub < del ? (sub < ins ? sub : ins) : (del < ins ? del : ins);
        }
    return d[la][lb];
}

/* Keeps the closest candidate seen so far: a few edits away (a third of the name, at least 2),
 * or a name that starts with what was typed. */
typedef struct closest {
    const char *name, *best;
    size_t best_d;
} closest;

static void consider(closest *c, const char *cand)
{
    size_t n = strlen(c->name), limit = n / 3 > 2 ? n / 3 : 2;
    size_t d = cli_distance(c->name, cand);
    if (d == 0)
        return;
    if (d > limit && !(n >= 3 && strncasecmp(cand, c->name, n) == 0))
        return;
    if (c->best == NULL || d < c->best_d) {
        c->best = cand;
        c->best_d = d;
    }
}

const vp_cred_type *cli_cred_type(const vp_cred_type *types, const char *name)
{
    for (const vp_cred_type *t = types; name && t && t->name; t++)
        if (strcmp(t->name, name) == 0)
            return t;
    return NULL;
}

const vp_cred_field *cli_cred_field(const vp_cred_type *t, const char *name)
{
    /* Any case: the declared (stored) name is used, e.g. Insomnia's serviceAccountKeyFilePath. */
    for (const vp_cred_field *f = t ? t->fields : NULL; f && f->name; f++)
        if (strcasecmp(f->name, name) == 0)
            return f;
    return NULL;
}

const char *cli_cred_closest_field(const vp_cred_type *t, const char *name)
{
    closest c = {name, NULL, 0};
    for (const vp_cred_field *f = t ? t->fields : NULL; f && f->name; f++)
        consider(&c, f->name);
    return c.best;
}

/*
 * Settings the bundled providers read from VAULTPLUG_<PROVIDER>_<NAME> themselves, whatever the
 * credential type (docs/providers/<provider>.md lists them). The SDK has no way for a provider
 * to declare such variables, so other providers' VAULTPLUG_<PROVIDER>_* names are their
 * credential fields only (docs/plugins.md says so).
 */
static const struct {
    const char *provider;
    const char *const names[6];
} provider_settings[] = {
    {"gcp", {"endpoint", "token_uri", "ca_file", "access_token", "serviceaccountkeyfilepath"}},
    {"azure", {"vault_url", "ca_file", "allow_http"}},
};

static const char *const *settings_of(const char *provider)
{
    for (size_t i = 0; i < sizeof(provider_settings) / sizeof(provider_settings[0]); i++)
        if (strcmp(provider_settings[i].provider, provider) == 0)
            return provider_settings[i].names;
    return NULL;
}

static int is_setting(const char *provider, const char *key)
{
    const char *const *s = settings_of(provider);
    for (size_t i = 0; s && i < 6 && s[i]; i++)
        if (strcasecmp(s[i], key) == 0)
            return 1;
    return 0;
}

static void upper(char *out, size_t cap, const char *in)
{
    size_t i = 0;
    for (; in[i] && i + 1 < cap; i++)
        out[i] = (char)toupper((unsigned char)in[i]);
    out[i] = '\0';
}

int cli_credvar_check(const char *prefix, const char *provider, const vp_cred_type *types,
                      const vp_cred_type *t, const char *key)
{
    if (t != NULL ? cli_cred_field(t, key) != NULL : 0)
        return CLI_CREDVAR_FIELD;
    if (is_setting(provider, key))
        return CLI_CREDVAR_SETTING;
    if (t == NULL) {
        for (const vp_cred_type *u = types; u && u->name; u++)
            if (cli_cred_field(u, key) != NULL) {
                char tn[64];
                upper(tn, sizeof(tn), key);
                cli_error("warning: %s%s is ignored: it is a credential field, and %sTYPE is not "
                          "set ('vaultplug cred types %s' lists the types)",
                          prefix, tn, prefix, provider);
                return CLI_CREDVAR_SETTING;
            }
    }

    /* Refused: name the closest field (of the type, else of any type) or setting. */
    closest c = {key, NULL, 0};
    for (const vp_cred_type *u = t ? t : types; u && u->name; u++) {
        for (const vp_cred_field *f = u->fields; f && f->name; f++)
            consider(&c, f->name);
        if (t != NULL)
            break;
    }
    const char *const *s = settings_of(provider);
    for (size_t i = 0; s && i < 6 && s[i]; i++)
        consider(&c, s[i]);
    consider(&c, "type");
    char typed[72], best[72] = "";
    upper(typed, sizeof(typed), key);
    if (c.best != NULL)
        upper(best, sizeof(best), c.best);
    if (t != NULL)
        cli_error("%s%.64s: credential type '%s' of %s has no field '%.64s'%s%s%s%s", prefix, typed,
                  t->name, provider, key, c.best ? "; did you mean " : "", c.best ? prefix : "",
                  best, c.best ? "?" : "");
    else
        cli_error("%s%.64s: %s has no credential field or setting '%.64s'%s%s%s%s", prefix, typed,
                  provider, key, c.best ? "; did you mean " : "", c.best ? prefix : "", best,
                  c.best ? "?" : "");
    fprintf(stderr, "Unset it or correct its name; 'vaultplug cred types %s' lists the fields.\n",
            provider);
    return CLI_CREDVAR_UNKNOWN;
}
