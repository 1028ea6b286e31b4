/* Multi-process behaviour: concurrent writers lose no update, and a writer killed with SIGKILL at
 * random instants never leaves a corrupt vault or loses an acknowledged commit. */
#define _DEFAULT_SOURCE /* flock() */
#include <errno.h>
#include <fcntl.h>
#include <sys/file.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <setjmp.h>
#include <stdarg.h>
#include <cmocka.h>

#include <sodium.h>

#include "vault_int.h"
#include "vt_util.h"

#define WRITERS    2
#define PER_WRITER 500

static void test_concurrent_writers(void **state)
{
    vt_dir d;
    vp_vault *v = NULL;
    vp_error err;
    char *key, **names;
    size_t n;
    pid_t pids[WRITERS], reader;
    (void)state;

    vt_dir_make(&d);
    key = vt_create(&d);
    for (int w = 0; w < WRITERS; w++) {
        pids[w] = fork();
        assert_true(pids[w] >= 0);
        if (pids[w] == 0) {
            vp_vault *cv = NULL;
            vp_error cerr;
            char name[32], val[32];
            if (vp_vault_open(d.path, key, &cv, &cerr) != 0)
                _exit(10);
            for (int i = 0; i < PER_WRITER; i++) {
                snprintf(name, sizeof name, "w%d_%d", w, i);
                snprintf(val, sizeof val, "value %d/%d", w, i);
                if (vp_vault_set(cv, name, val, strlen(val), &cerr) != 0) {
                    fprintf(stderr, "writer %d: %s\n", w, cerr.message);
                    _exit(11);
                }
            }
            vp_vault_close(cv);
            _exit(0);
        }
    }
    /* A reader opening the vault over and over while the writers commit must never see a
     * partial or inconsistent file (it takes no lock: rename is atomic). */
    reader = fork();
    assert_true(reader >= 0);
    if (reader == 0) {
        long opens = 0;
        for (;;) {
            vp_vault *rv = NULL;
            vp_error rerr;
            if (vp_vault_open(d.path, key, &rv, &rerr) != 0) {
                fprintf(stderr, "reader: open %ld failed: %s\n", opens, rerr.message);
                _exit(12);
            }
            vp_vault_close(rv);
            opens++;
            if (kill(getppid(), 0) != 0)
                _exit(0);
            if (opens % 16 == 0) {
                /* stop once both writers are done (the parent creates this file) */
                char done[400];
                snprintf(done, sizeof done, "%s/writers-done", d.dir);
                if (access(done, F_OK) == 0) {
                    printf("reader: %ld opens, all consistent\n", opens);
                    fflush(stdout);
                    _exit(0);
                }
            }
        }
    }
    for (int w = 0; w < WRITERS; w++) {
        int st = 0;
        assert_int_equal(waitpid(pids[w], &st, 0), pids[w]);
        assert_true(WIFEXITED(st));
        assert_int_equal(WEXITSTATUS(st), 0);
    }
    {
        char done[400];
        int st = 0;
        snprintf(done, sizeof done, "%s/writers-done", d.dir);
        vt_write(done, "", 0);
        assert_int_equal(waitpid(reader, &st, 0), reader);
        assert_true(WIFEXITED(st));
        assert_int_equal(WEXITSTATUS(st), 0);
    }
    assert_int_equal(vp_vault_open(d.path, key, &v, &err), 0);
    assert_int_equal(vp_vault_list(v, &names, &n, &err), 0);
    print_message("concurrent: %d writers x %d sets -> %zu secrets\n", WRITERS, PER_WRITER, n);
    assert_int_equal(n, WRITERS * PER_WRITER);
    vp_vault_names_free(names, n);
    for (int w = 0; w < WRITERS; w++)
        for (int i = 0; i < PER_WRITER; i++) {
            char name[32], val[32];
            vp_buf out = VP_BUF_INIT;
            snprintf(name, sizeof name, "w%d_%d", w, i);
            snprintf(val, sizeof val, "value %d/%d", w, i);
            assert_int_equal(vp_vault_get(v, name, &out, &err), 0);
            assert_string_equal(out.data, val);
            vp_buf_free(&out);
        }
    vp_vault_close(v);
    free(key);
    vt_dir_remove(&d);
}

/* ---- crash consistency ----
 * Operation i is a pure function of i (set k<i>, overwrite "last", or delete k<i-1>), so the
 * expected vault after the first m operations can be recomputed at any time. */

#define MAXOPS 20000

typedef struct model {
    unsigned char present[MAXOPS];
    long last;
} model;

enum { OP_SET, OP_LAST, OP_DEL };

static int op_kind(const model *m, long i)
{
    if (i % 5 == 4)
        return OP_LAST;
    if (i % 7 == 6 && i > 0 && m->present[i - 1])
        return OP_DEL;
    return OP_SET;
}

static void op_value(long i, char *buf, size_t cap)
{
    int fill = (int)(i % 50);
    snprintf(buf, cap, "value-%ld-%.*s", i, fill,
             "xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx");
}

static void model_apply(model *m, long i)
{
    switch (op_kind(m, i)) {
    case OP_LAST:
        m->last = i;
        break;
    case OP_DEL:
        m->present[i - 1] = 0;
        break;
    default:
        m->present[i] = 1;
    }
}

static void model_at(model *m, long ops)
{
    memset(m, 0, sizeof *m);
    m->last = -1;
    for (long i = 0; i < ops; i++)
        model_apply(m, i);
}

static int do_op(vp_vault *v, model *m, long i, vp_error *err)
{
    char name[32], val[128];
    int rc;
    switch (op_kind(m, i)) {
    case OP_LAST:
        snprintf(val, sizeof val, "%ld", i);
        rc = vp_vault_set(v, "last", val, strlen(val), err);
        break;
    case OP_DEL:
        snprintf(name, sizeof name, "k%ld", i - 1);
        rc = vp_vault_delete(v, name, err);
        break;
    default:
        snprintf(name, sizeof name, "k%ld", i);
        op_value(i, val, sizeof val);
        rc = vp_vault_set(v, name, val, strlen(val), err);
    }
    if (rc == 0)
        model_apply(m, i);
    return rc;
}

/* 1 if the vault holds exactly the state after `ops` operations. */
static int vault_matches(vp_vault *v, long ops, model *m)
{
    char **names = NULL;
    size_t n = 0, want = 0;
    vp_error err;
    int ok = 1;

    model_at(m, ops);
    for (long i = 0; i < ops; i++)
        want += m->present[i];
    want += m->last >= 0;
    if (vp_vault_list(v, &names, &n, &err) != 0 || n != want)
        ok = 0;
    vp_vault_names_free(names, n);
    for (long i = 0; ok && i < ops; i++) {
        char name[32], val[128];
        vp_buf out = VP_BUF_INIT;
        if (!m->present[i])
            continue;
        snprintf(name, sizeof name, "k%ld", i);
        op_value(i, val, sizeof val);
        if (vp_vault_get(v, name, &out, &err) != 0 || strcmp(out.data, val) != 0)
            ok = 0;
        vp_buf_free(&out);
    }
    if (ok && m->last >= 0) {
        char val[32];
        vp_buf out = VP_BUF_INIT;
        snprintf(val, sizeof val, "%ld", m->last);
        if (vp_vault_get(v, "last", &out, &err) != 0 || strcmp(out.data, val) != 0)
            ok = 0;
        vp_buf_free(&out);
    }
    return ok;
}

static long long now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void test_kill9_crash_consistency(void **state)
{
    static model m;
    vt_dir d;
    char *key;
    long applied = 0; /* operations in the committed vault */
    long commits_seen = 0, cycles = 0, corrupt = 0, lost = 0, in_flight_committed = 0;
    long long start = now_ms();
    (void)state;

    vt_dir_make(&d);
    key = vt_create(&d);
    /* Runs until the coverage below is reached; the time cap only stops a hopeless run (a slow
     * sanitizer build on a loaded machine needs far longer than the usual ~15 s). */
    while ((applied < 1000 || cycles < 200) && now_ms() - start < 240000 &&
           applied < MAXOPS - 100) {
        int pfd[2], st = 0;
        long last_ack = -1, a;
        pid_t pid;
        vp_vault *v = NULL;
        vp_error err;

        assert_int_equal(pipe(pfd), 0);
        pid = fork();
        assert_true(pid >= 0);
        if (pid == 0) {
            static model cm;
            vp_vault *cv = NULL;
            vp_error cerr;
            close(pfd[0]);
            if (vp_vault_open(d.path, key, &cv, &cerr) != 0)
                _exit(20);
            model_at(&cm, applied);
            for (long i = applied; i < MAXOPS; i++) {
                if (do_op(cv, &cm, i, &cerr) != 0)
                    _exit(21);
                /* acknowledged = committed and reported */
                if (write(pfd[1], &i, sizeof i) != (ssize_t)sizeof i)
                    _exit(22);
            }
            _exit(0);
        }
        close(pfd[1]);
        {
            /* Kill at a random instant: from "before the first commit" to a few dozen commits
             * in. */
            struct timespec ts = {0, (long)randombytes_uniform(40000) * 1000};
            nanosleep(&ts, NULL);
        }
        kill(pid, SIGKILL);
        assert_int_equal(waitpid(pid, &st, 0), pid);
        if (!(WIFSIGNALED(st) && WTERMSIG(st) == SIGKILL))
            fail_msg("writer ended on its own (status %d)", st);
        while (read(pfd[0], &a, sizeof a) == (ssize_t)sizeof a) {
            assert_int_equal(a, last_ack < 0 ? applied : last_ack + 1);
            last_ack = a;
        }
        close(pfd[0]);
        cycles++;

        /* The vault must open and hold exactly the state after every acknowledged op, or one
         * more (the op in flight when the kill came may have committed). */
        if (vp_vault_open(d.path, key, &v, &err) != 0) {
            corrupt++;
            print_message("cycle %ld: vault does not open: %s\n", cycles, err.message);
            break;
        }
        {
            long acked = last_ack < 0 ? applied : last_ack + 1;
            if (vault_matches(v, acked, &m)) {
                commits_seen += acked - applied;
                applied = acked;
            } else if (vault_matches(v, acked + 1, &m)) {
                commits_seen += acked + 1 - applied;
                applied = acked + 1;
                in_flight_committed++;
            } else {
                lost++;
                print_message("cycle %ld: vault is neither state %ld nor %ld\n", cycles, acked,
                              acked + 1);
            }
        }
        vp_vault_close(v);
        if (lost)
            break;
    }
    print_message("kill -9: %ld cycles, %ld commits, %ld in-flight commits found committed, "
                  "%ld corrupt, %ld lost, %lld ms\n",
                  cycles, commits_seen, in_flight_committed, corrupt, lost, now_ms() - start);
    assert_int_equal(corrupt, 0);
    assert_int_equal(lost, 0);
    assert_true(commits_seen >= 1000);
    free(key);
    vt_dir_remove(&d);
}

/* A writer that cannot get the lock gives up with VP_ETIMEDOUT and writes nothing; temp files
 * left by a crashed writer are removed by the next commit. */
static void test_lock_timeout_and_stale_temp(void **state)
{
    vt_dir d;
    vp_vault *v = NULL;
    vp_error err;
    char *key, lockpath[400], stale[400];
    unsigned char *before, *after;
    size_t bl, al;
    int fd;
    (void)state;

    vt_dir_make(&d);
    key = vt_create(&d);
    assert_int_equal(vp_vault_open(d.path, key, &v, &err), 0);
    snprintf(lockpath, sizeof lockpath, "%s.lock", d.path);
    fd = open(lockpath, O_RDWR);
    assert_true(fd >= 0);
    assert_int_equal(flock(fd, LOCK_EX), 0); /* another open file description: conflicts */
    before = vt_read(d.path, &bl);
    vp__vault_set_lock_timeout_ms(300);
    assert_int_equal(vp_vault_set(v, "a", "b", 1, &err), VP_ETIMEDOUT);
    assert_non_null(strstr(err.message, "locked"));
    after = vt_read(d.path, &al);
    assert_int_equal(al, bl);
    assert_memory_equal(before, after, bl);
    flock(fd, LOCK_UN);
    close(fd);

    snprintf(stale, sizeof stale, "%s.tmp.0123456789abcdef", d.path);
    vt_write(stale, "junk", 4);
    assert_int_equal(vp_vault_set(v, "a", "b", 1, &err), 0);
    assert_int_not_equal(access(stale, F_OK), 0);
    vp__vault_set_lock_timeout_ms(60000);
    vp_vault_close(v);
    free(before);
    free(after);
    free(key);
    vt_dir_remove(&d);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_concurrent_writers),
        cmocka_unit_test(test_kill9_crash_consistency),
        cmocka_unit_test(test_lock_timeout_and_stale_temp),
    };
    if (sodium_init() < 0)
        return 1;
    return cmocka_run_group_tests(tests, NULL, NULL);
}
