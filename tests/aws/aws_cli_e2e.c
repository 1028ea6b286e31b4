/*
 * aws_cli_e2e - `vaultplug get 'aws://...'` and `vaultplug render` with the three-argument tag,
 * end to end against the AWS mock, for each credential type (the CLI's VAULTPLUG_AWS_* credential
 * variables for `temporary`, `file` and `sso`; the default chain from the environment, a
 * profile, the container endpoint and IMDS). Also checks that stderr never shows a canary.
 *
 *   aws_cli_e2e VAULTPLUG_BINARY PROVIDER_DIR http|https
 */
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "aws_test_util.h"
#include "host.h"

static const char *g_bin, *g_dir;
static char g_home[128];
static int g_failures;

/* Run the CLI with args; stdout into out, stderr into errbuf. Returns the exit status. */
static int run(const char *const *args, char *out, size_t outcap, char *errbuf, size_t errcap)
{
    int po[2], pe[2];
    if (pipe(po) != 0 || pipe(pe) != 0)
        return -1;
    fflush(stdout);
    pid_t pid = fork();
    if (pid == 0) {
        dup2(po[1], 1);
        dup2(pe[1], 2);
        close(po[0]);
        close(pe[0]);
        const char *argv[16] = {g_bin, "--plugin-dir", g_dir};
        size_t n = 3;
        for (size_t i = 0; args[i] && n < 15; i++)
            argv[n++] = args[i];
        argv[n] = NULL;
        execv(g_bin, (char *const *)argv);
        _exit(127);
    }
    close(po[1]);
    close(pe[1]);
    size_t no = 0, ne = 0;
    for (int open_fds = 2; open_fds > 0;) {
        /* The outputs are small: read stdout to the end, then stderr. */
        ssize_t k = read(po[0], out + no, outcap - 1 - no);
        if (k > 0) {
            no += (size_t)k;
            continue;
        }
        open_fds--;
        while ((k = read(pe[0], errbuf + ne, errcap - 1 - ne)) > 0)
            ne += (size_t)k;
        open_fds--;
    }
    out[no] = '\0';
    errbuf[ne] = '\0';
    close(po[0]);
    close(pe[0]);
    int st = 0;
    waitpid(pid, &st, 0);
    return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}

static void check(const char *what, const char *const *args, int want_ok, const char *want)
{
    char out[4096], err[4096];
    int rc = run(args, out, sizeof(out), err, sizeof(err));
    for (size_t i = 0; aws_test_canaries[i]; i++)
        if (strstr(err, aws_test_canaries[i]) != NULL) {
            fprintf(stderr, "FAIL %s: stderr shows a canary\n", what);
            g_failures++;
        }
    int ok = want_ok ? rc == 0 && strcmp(out, want) == 0
                     : rc != 0 && out[0] == '\0' && strstr(err, want) != NULL;
    if (!ok) {
        /* Values are test data, but print lengths only, as the testkit does. */
        fprintf(stderr, "FAIL %s: exit %d, stdout %zu bytes (want %s %zu bytes), stderr: %s\n",
                what, rc, strlen(out), want_ok ? "value of" : "error containing", strlen(want),
                err);
        g_failures++;
    } else {
        printf("ok   %s\n", what);
    }
}

/* An error with exactly this exit status, stderr containing every string of `want`. */
static void check_exit(const char *what, const char *const *args, int want_rc,
                       const char *const *want)
{
    char out[4096], err[4096];
    int rc = run(args, out, sizeof(out), err, sizeof(err));
    int ok = rc == want_rc && out[0] == '\0';
    for (size_t i = 0; want[i]; i++)
        if (strstr(err, want[i]) == NULL)
            ok = 0;
    for (size_t i = 0; aws_test_canaries[i]; i++)
        if (strstr(err, aws_test_canaries[i]) != NULL)
            ok = 0;
    if (!ok) {
        fprintf(stderr, "FAIL %s: exit %d (want %d), stdout %zu bytes, stderr: %s\n", what, rc,
                want_rc, strlen(out), err);
        g_failures++;
    } else {
        printf("ok   %s\n", what);
    }
}

static void clear_creds(void)
{
    static const char *const v[] = {"AWS_ACCESS_KEY_ID",
                                    "AWS_SECRET_ACCESS_KEY",
                                    "AWS_SESSION_TOKEN",
                                    "AWS_PROFILE",
                                    "AWS_DEFAULT_PROFILE",
                                    "AWS_CONTAINER_CREDENTIALS_FULL_URI",
                                    "AWS_CONTAINER_AUTHORIZATION_TOKEN",
                                    "AWS_EC2_METADATA_SERVICE_ENDPOINT",
                                    "VAULTPLUG_AWS_TYPE",
                                    "VAULTPLUG_AWS_ACCESS_KEY_ID",
                                    "VAULTPLUG_AWS_SECRET_ACCESS_KEY",
                                    "VAULTPLUG_AWS_SESSION_TOKEN",
                                    "VAULTPLUG_AWS_SECTION",
                                    "VAULTPLUG_AWS_CONFIG_FILE",
                                    "VAULTPLUG_AWS_CREDENTIALS_FILE",
                                    "VAULTPLUG_AWS_SSO_CACHE_DIR",
                                    "VAULTPLUG_AWS_REGOIN",
                                    NULL};
    for (size_t i = 0; v[i]; i++)
        unsetenv(v[i]);
    setenv("AWS_EC2_METADATA_DISABLED", "true", 1);
}

static void write_file(const char *path, const char *text)
{
    FILE *f = fopen(path, "w");
    if (f != NULL) {
        fputs(text, f);
        fclose(f);
    }
}

static void both_forms(const char *label, const char *tmpl_path)
{
    char what[200];
    snprintf(what, sizeof(what), "%s: vaultplug get aws://api/key", label);
    const char *get[] = {"get", "aws://api/key", NULL};
    check(what, get, 1, CANARY_PLAIN);
    snprintf(what, sizeof(what), "%s: vaultplug get aws://db/main#password", label);
    const char *getk[] = {"get", "aws://db/main#password", NULL};
    check(what, getk, 1, CANARY_PASSWORD);
    snprintf(what, sizeof(what), "%s: vaultplug render {%% vault 'aws', '', '{...kv...}' %%}",
             label);
    const char *render[] = {"render", tmpl_path, NULL};
    check(what, render, 1, CANARY_PASSWORD "|old-value\n");
}

int main(int argc, char **argv)
{
    if (argc != 4) {
        fprintf(stderr, "usage: aws_cli_e2e VAULTPLUG PROVIDER_DIR http|https\n");
        return 2;
    }
    g_bin = argv[1];
    g_dir = argv[2];
    char err[256];
    mock_aws *m = mock_aws_start(strcmp(argv[3], "https") == 0, err, sizeof(err));
    if (m == NULL || mock_aws_seed_json(m, aws_test_seed, err, sizeof(err)) != 0) {
        fprintf(stderr, "aws_cli_e2e: %s\n", err);
        return 2;
    }
    snprintf(g_home, sizeof(g_home), "/tmp/vp-aws-cli-XXXXXX");
    if (mkdtemp(g_home) == NULL)
        return 2;
    char p[1024], cfg[400], cfg2[400], crd[400], cache[400], tmpl[400], vhome[400];
    snprintf(p, sizeof(p), "%s/.aws", g_home);
    mkdir(p, 0700);
    snprintf(crd, sizeof(crd), "%s/.aws/credentials", g_home);
    write_file(crd, "[dev]\naws_access_key_id = " KEY_STATIC
                    "\naws_secret_access_key = " CANARY_STATIC_SK "\n");
    snprintf(cfg, sizeof(cfg), "%s/.aws/config", g_home);
    snprintf(cfg2, sizeof(cfg2), "%s/.aws/config2", g_home);
    write_file(cfg, "[profile reader]\nrole_arn = arn:aws:iam::123456789012:role/reader\n"
                    "source_profile = dev\n"
                    "[profile my-sso]\nsso_session = my-sso\nsso_account_id = 123456789012\n"
                    "sso_role_name = ReadSecrets\n"
                    "[sso-session my-sso]\nsso_start_url = https://example.awsapps.com/start\n"
                    "sso_region = us-east-1\n");
    snprintf(p, sizeof(p), "%s/.aws/sso", g_home);
    mkdir(p, 0700);
    snprintf(cache, sizeof(cache), "%s/.aws/sso/cache", g_home);
    mkdir(cache, 0700);
    const vp_host *h = vp__host_table();
    unsigned char d[20];
    char hex[41];
    h->sha1("my-sso", 6, d);
    h->hex_encode(d, 20, hex);
    snprintf(p, sizeof(p), "%s/%s.json", cache, hex);
    write_file(p,
               "{\"accessToken\":\"" CANARY_SSO_TOKEN "\",\"expiresAt\":\"2099-01-01T00:00:00Z\"}");
    snprintf(tmpl, sizeof(tmpl), "%s/t.tmpl", g_home);
    write_file(tmpl, "{% vault 'aws', '', '{\"SecretId\":\"db/main\",\"SecretType\":\"kv\","
                     "\"SecretKey\":\"password\"}' %}|{% vault 'aws', '', "
                     "'{\"SecretId\":\"versioned\",\"VersionStage\":\"AWSPREVIOUS\"}' %}\n");
    snprintf(vhome, sizeof(vhome), "%s/vaultplug", g_home);
    mkdir(vhome, 0700);

    aws_test_env(m, g_home);
    setenv("VAULTPLUG_HOME", vhome, 1);
    unsetenv("VAULTPLUG_PLUGIN_PATH");
    unsetenv("VAULTPLUG_VAULT_KEY");

    clear_creds();
    setenv("AWS_ACCESS_KEY_ID", KEY_STATIC, 1);
    setenv("AWS_SECRET_ACCESS_KEY", CANARY_STATIC_SK, 1);
    both_forms("chain/environment", tmpl);

    clear_creds();
    setenv("VAULTPLUG_AWS_TYPE", "temporary", 1);
    setenv("VAULTPLUG_AWS_ACCESS_KEY_ID", KEY_TEMP, 1);
    setenv("VAULTPLUG_AWS_SECRET_ACCESS_KEY", CANARY_TEMP_SK, 1);
    setenv("VAULTPLUG_AWS_SESSION_TOKEN", CANARY_TEMP_TOKEN, 1);
    both_forms("temporary", tmpl);

    /* A VAULTPLUG_AWS_* variable that names no field is refused naming the closest one, with
     * and without a type (it was dropped silently and the fetch used another region). */
    setenv("VAULTPLUG_AWS_REGOIN", "eu-west-1", 1);
    const char *typo[] = {"get", "aws://api/key", NULL};
    const char *typo_t[] = {"VAULTPLUG_AWS_REGOIN: credential type 'temporary' of aws has no "
                            "field 'regoin'; did you mean VAULTPLUG_AWS_REGION?",
                            NULL};
    check_exit("temporary: VAULTPLUG_AWS_REGOIN is refused", typo, 2, typo_t);
    clear_creds();
    setenv("AWS_ACCESS_KEY_ID", KEY_STATIC, 1);
    setenv("AWS_SECRET_ACCESS_KEY", CANARY_STATIC_SK, 1);
    setenv("VAULTPLUG_AWS_REGOIN", "eu-west-1", 1);
    const char *typo_n[] = {"VAULTPLUG_AWS_REGOIN: aws has no credential field or setting "
                            "'regoin'; did you mean VAULTPLUG_AWS_REGION?",
                            NULL};
    check_exit("chain: VAULTPLUG_AWS_REGOIN is refused", typo, 2, typo_n);
    unsetenv("VAULTPLUG_AWS_REGOIN");
    /* A field of another type is no field of this one. */
    setenv("VAULTPLUG_AWS_TYPE", "temporary", 1);
    setenv("VAULTPLUG_AWS_ACCESS_KEY_ID", KEY_TEMP, 1);
    setenv("VAULTPLUG_AWS_SECRET_ACCESS_KEY", CANARY_TEMP_SK, 1);
    setenv("VAULTPLUG_AWS_SECTION", "dev", 1);
    const char *other[] = {"credential type 'temporary' of aws has no field 'section'", NULL};
    check_exit("temporary: VAULTPLUG_AWS_SECTION is refused", typo, 2, other);

    clear_creds();
    setenv("VAULTPLUG_AWS_TYPE", "file", 1);
    setenv("VAULTPLUG_AWS_SECTION", "reader", 1);
    setenv("VAULTPLUG_AWS_CREDENTIALS_FILE", crd, 1);
    setenv("VAULTPLUG_AWS_CONFIG_FILE", cfg, 1);
    both_forms("file (assume-role profile)", tmpl);

    clear_creds();
    setenv("VAULTPLUG_AWS_TYPE", "sso", 1);
    setenv("VAULTPLUG_AWS_SECTION", "my-sso", 1);
    setenv("VAULTPLUG_AWS_CONFIG_FILE", cfg, 1);
    setenv("VAULTPLUG_AWS_SSO_CACHE_DIR", cache, 1);
    both_forms("sso", tmpl);

    clear_creds();
    setenv("AWS_SHARED_CREDENTIALS_FILE", crd, 1);
    setenv("AWS_CONFIG_FILE", cfg, 1);
    setenv("AWS_PROFILE", "dev", 1);
    both_forms("chain/profile", tmpl);

    /* A profile that is in neither file stops the chain with the aws CLI's words (exit 2, a
     * setting to fix), before the container endpoint or IMDS is asked. The files are the ones
     * AWS_SHARED_CREDENTIALS_FILE / AWS_CONFIG_FILE name. */
    char url0[300];
    snprintf(url0, sizeof(url0), "%s/ecs/credentials", mock_aws_meta_url(m));
    setenv("AWS_CONTAINER_CREDENTIALS_FULL_URI", url0, 1);
    setenv("AWS_CONTAINER_AUTHORIZATION_TOKEN", CANARY_ECS_TOKEN, 1);
    setenv("AWS_PROFILE", "nosuch", 1);
    const char *getp[] = {"get", "aws://api/key", NULL};
    const char *nosuch_env[] = {"the config profile (nosuch) could not be found", cfg, crd,
                                "AWS_PROFILE", NULL};
    check_exit("chain: AWS_PROFILE=nosuch is an error naming it", getp, 2, nosuch_env);
    unsetenv("AWS_PROFILE");
    setenv("AWS_DEFAULT_PROFILE", "nosuch", 1);
    const char *nosuch_def[] = {"the config profile (nosuch) could not be found",
                                "AWS_DEFAULT_PROFILE", NULL};
    check_exit("chain: AWS_DEFAULT_PROFILE=nosuch is an error naming it", getp, 2, nosuch_def);
    unsetenv("AWS_DEFAULT_PROFILE");
    /* An unnamed "default" that does not exist still falls through (here: to the container). */
    both_forms("chain/container after a missing implicit default profile", tmpl);
    unsetenv("AWS_CONTAINER_CREDENTIALS_FULL_URI");
    unsetenv("AWS_CONTAINER_AUTHORIZATION_TOKEN");

    /* The same for a stored `file` credential's section. */
    clear_creds();
    setenv("VAULTPLUG_AWS_TYPE", "file", 1);
    setenv("VAULTPLUG_AWS_SECTION", "nosuch", 1);
    setenv("VAULTPLUG_AWS_CREDENTIALS_FILE", crd, 1);
    setenv("VAULTPLUG_AWS_CONFIG_FILE", cfg, 1);
    const char *nosuch_file[] = {"the config profile (nosuch) could not be found", "section field",
                                 NULL};
    check_exit("file credential: section=nosuch is an error naming it", getp, 2, nosuch_file);
    /* A role profile whose source_profile is missing is named too (not a fall-through). */
    write_file(cfg2, "[profile orphan]\nrole_arn = arn:aws:iam::123456789012:role/reader\n"
                     "source_profile = gone\n");
    setenv("VAULTPLUG_AWS_SECTION", "orphan", 1);
    setenv("VAULTPLUG_AWS_CONFIG_FILE", cfg2, 1);
    const char *orphan[] = {"source_profile (gone) could not be found", NULL};
    check_exit("file credential: a missing source_profile is an error naming it", getp, 2, orphan);
    clear_creds();
    setenv("AWS_SHARED_CREDENTIALS_FILE", "/nonexistent/aws-credentials", 1);
    setenv("AWS_CONFIG_FILE", "/nonexistent/aws-config", 1);

    clear_creds();
    char url[300];
    snprintf(url, sizeof(url), "%s/ecs/credentials", mock_aws_meta_url(m));
    setenv("AWS_CONTAINER_CREDENTIALS_FULL_URI", url, 1);
    setenv("AWS_CONTAINER_AUTHORIZATION_TOKEN", CANARY_ECS_TOKEN, 1);
    both_forms("chain/container", tmpl);

    clear_creds();
    unsetenv("AWS_EC2_METADATA_DISABLED");
    setenv("AWS_EC2_METADATA_SERVICE_ENDPOINT", mock_aws_meta_url(m), 1);
    both_forms("chain/imds", tmpl);

    clear_creds();
    setenv("AWS_ACCESS_KEY_ID", KEY_STATIC, 1);
    setenv("AWS_SECRET_ACCESS_KEY", CANARY_STATIC_SK, 1);
    const char *missing[] = {"get", "aws://db/missing", NULL};
    check("vaultplug get of a missing secret fails naming it", missing, 0, "db/missing");
    setenv("AWS_SECRET_ACCESS_KEY", "wrong-secret-canary-000", 1);
    const char *bad[] = {"get", "aws://api/key", NULL};
    check("vaultplug get with a wrong key fails", bad, 0, "InvalidSignatureException");

    char cmd[300];
    snprintf(cmd, sizeof(cmd), "rm -rf '%s'", g_home);
    if (system(cmd) != 0)
        fprintf(stderr, "could not remove %s\n", g_home);
    mock_aws_stop(m);
    printf("%d failed\n", g_failures);
    return g_failures ? 1 : 0;
}
