/*
 * aws_testkit_run - run the SDK conformance testkit against aws.so talking to the AWS mock.
 *
 *   aws_testkit_run TESTKIT PLUGIN http|https
 *
 * Starts the mock, seeds it, writes a testkit config (credentials, expected values, canaries,
 * environment pointing the provider at the mock) to a temporary file, runs the testkit and exits
 * with its status.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "aws_test_util.h"

int main(int argc, char **argv)
{
    if (argc != 4) {
        fprintf(stderr, "usage: aws_testkit_run TESTKIT PLUGIN http|https\n");
        return 2;
    }
    int tls = strcmp(argv[3], "https") == 0;
    char err[256];
    mock_aws *m = mock_aws_start(tls, err, sizeof(err));
    if (m == NULL) {
        fprintf(stderr, "aws_testkit_run: %s\n", err);
        return 2;
    }
    if (mock_aws_seed_json(m, aws_test_seed, err, sizeof(err)) != 0) {
        fprintf(stderr, "aws_testkit_run: seed: %s\n", err);
        mock_aws_stop(m);
        return 2;
    }
    /* The testkit's deadline check: a secret that answers only after 3 s. */
    if (mock_aws_seed_json(m,
                           "{\"secrets\":[{\"name\":\"slow/answer\",\"string\":\"late\","
                           "\"latency_ms\":3000}]}",
                           err, sizeof(err)) != 0) {
        fprintf(stderr, "aws_testkit_run: seed: %s\n", err);
        mock_aws_stop(m);
        return 2;
    }
    char path[] = "/tmp/vp-aws-testkit-XXXXXX";
    int fd = mkstemp(path);
    FILE *f = fd >= 0 ? fdopen(fd, "w") : NULL;
    if (f == NULL) {
        perror("aws_testkit_run: config");
        mock_aws_stop(m);
        return 2;
    }
    fprintf(f, "{\n  \"env\": {\"AWS_ENDPOINT_URL\": \"%s\", \"AWS_REGION\": \"us-east-1\",\n",
            mock_aws_url(m));
    if (mock_aws_ca_file(m) != NULL)
        fprintf(f, "    \"AWS_CA_BUNDLE\": \"%s\",\n", mock_aws_ca_file(m));
    fprintf(f,
            "    \"AWS_SHARED_CREDENTIALS_FILE\": \"/nonexistent/credentials\",\n"
            "    \"AWS_CONFIG_FILE\": \"/nonexistent/config\",\n"
            "    \"AWS_EC2_METADATA_DISABLED\": \"true\",\n"
            "    \"AWS_ACCESS_KEY_ID\": \"" KEY_STATIC "\",\n"
            "    \"AWS_SECRET_ACCESS_KEY\": \"" CANARY_STATIC_SK "\"},\n"
            "  \"credentials\": [\n"
            "    {\"name\": \"good\", \"type\": \"temporary\", \"fields\": {\"access_key_id\": "
            "\"" KEY_TEMP "\", \"secret_access_key\": \"" CANARY_TEMP_SK "\", "
            "\"session_token\": \"" CANARY_TEMP_TOKEN "\"}},\n"
            "    {\"name\": \"expired\", \"type\": \"temporary\", \"fields\": {"
            "\"access_key_id\": \"" KEY_EXPIRED "\", \"secret_access_key\": "
            "\"" CANARY_EXP_SK "\", \"session_token\": \"" CANARY_EXP_TOKEN "\"}},\n"
            "    {\"name\": \"nolist\", \"type\": \"temporary\", \"fields\": {"
            "\"access_key_id\": \"" KEY_NOBATCH "\", \"secret_access_key\": "
            "\"" CANARY_NB_SK "\"}}\n"
            "  ],\n"
            "  \"found\": [\n"
            "    {\"ref\": \"aws://good@api/key\", \"value\": \"" CANARY_PLAIN "\", "
            "\"version\": \"a1b2c3d4-1111-4000-8000-000000000001\"},\n"
            "    {\"ref\": \"aws://good@db/main#password\", \"value\": \"" CANARY_PASSWORD "\"},\n"
            "    {\"ref\": \"aws://good@versioned?version_stage=AWSPREVIOUS\", "
            "\"value\": \"old-value\", \"version\": \"11111111-1111-4111-8111-111111111111\"},\n"
            "    {\"ref\": \"aws://api/key\", \"value\": \"" CANARY_PLAIN "\"}\n"
            "  ],\n"
            "  \"not_found\": \"aws://good@db/missing\",\n"
            "  \"auth_error\": \"aws://expired@api/key\",\n"
            "  \"perm_error\": \"aws://denied/secret\",\n"
            "  \"validate_good\": \"good\",\n"
            "  \"validate_bad\": \"expired\",\n"
            /* ListSecrets pages hold 2 names in the mock: err/ and the whole account cross
             * pages, and pages the name filter empties still carry a NextToken. */
            "  \"slow\": \"aws://good@slow/answer\",\n"
            "  \"list\": [\n"
            "    {\"prefix\": \"aws://good@err/\", \"names\": [\"err/html\", \"err/internal\", "
            "\"err/invalid\"]},\n"
            "    {\"prefix\": \"aws://good@db/\", \"names\": [\"db/main\"]},\n"
            "    {\"prefix\": \"aws://good@api/key\", \"names\": [\"api/key\"]},\n"
            "    {\"prefix\": \"aws://good@nothing/\", \"names\": []},\n"
            "    {\"prefix\": \"aws://nolist@\", \"error\": \"VP_EPERM\"},\n"
            "    {\"prefix\": \"aws://expired@\", \"error\": \"VP_EAUTH\"}\n"
            "  ],\n"
            "  \"canaries\": [");
    for (size_t i = 0; aws_test_canaries[i]; i++)
        fprintf(f, "%s\"%s\"", i ? ", " : "", aws_test_canaries[i]);
    fprintf(f, "],\n  \"threads\": 8,\n  \"iterations\": 50,\n  \"timeout_ms\": 20000\n}\n");
    fclose(f);

    fflush(stdout);
    pid_t pid = fork();
    if (pid == 0) {
        execl(argv[1], argv[1], "--plugin", argv[2], "--config", path, (char *)NULL);
        perror("aws_testkit_run: exec");
        _exit(127);
    }
    int st = 0;
    int rc = 2;
    if (pid > 0 && waitpid(pid, &st, 0) == pid && WIFEXITED(st))
        rc = WEXITSTATUS(st);
    unlink(path);
    /* The lists above went through NextToken pages: 5 lists reach the mock (the expired key
     * does not), err/ takes two pages. */
    uint64_t lists = mock_aws_count(m, "ListSecrets");
    if (rc == 0 && lists <= 5) {
        fprintf(stderr, "FAIL ListSecrets was called %llu times: no list crossed a page\n",
                (unsigned long long)lists);
        rc = 1;
    }
    mock_aws_stop(m);
    return rc;
}
