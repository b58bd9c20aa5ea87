/*
 * test_launch.c -- the one launcher (executor/pp_launch.h): a plain child's
 * exit status and log, a program that cannot start, an MPI job whose rank
 * is killed (named as died without a word, the status folder kept when
 * given, removed when temporary), and a rank's side: its pid file, the
 * signal noted and written, why it stopped, done and failed files.
 */
#define _GNU_SOURCE
#include <check.h>

#include "tests/pp_test.h"
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "core/pp_io.h"
#include "executor/pp_launch.h"

static char g_dir[256];

static void setup(void) { pp_test_tmpdir(g_dir, sizeof g_dir, "launch_test"); }
static void teardown(void) { pp_test_rmtree(g_dir); }

static char *slurp(const char *path) {
    char *text = NULL;
    size_t n;
    return pp_io_read_file(path, &text, &n, NULL) == 0 ? text : NULL;
}

START_TEST(plain_child_status_and_log) {
    pp_launch_opts o;
    pp_launch_result res;
    pp_err err = {0};
    char log[300];
    snprintf(log, sizeof log, "%s/log.txt", g_dir);
    pp_launch_opts_init(&o, "test");
    o.log_path = log;
    char *ok[] = {"/bin/sh", "-c", "echo one", NULL};
    ck_assert_int_eq(pp_launch_run(ok, &o, &res, &err), 0);
    ck_assert_int_eq(res.exit_code, 0);
    char *three[] = {"/bin/sh", "-c", "echo two; exit 3", NULL};
    ck_assert_int_eq(pp_launch_run(three, &o, &res, &err), 1);
    ck_assert_int_eq(res.exit_code, 3);
    char *text = slurp(log);
    ck_assert_ptr_nonnull(text);
    ck_assert_str_eq(text, "one\ntwo\n"); /* appended, in order */
    free(text);
    char *none[] = {"/no/such/program", NULL};
    ck_assert_int_eq(pp_launch_run(none, &o, &res, &err), 1);
    ck_assert_int_eq(res.exit_code, 127);
    char *sig[] = {"/bin/sh", "-c", "kill -9 $$", NULL};
    ck_assert_int_eq(pp_launch_run(sig, &o, &res, &err), 1);
    ck_assert_int_eq(res.exit_code, 128 + SIGKILL);
}
END_TEST

START_TEST(sibling_and_logged) {
    char self[4096], sib[4200];
    pp_err err = {0};
    ck_assert_int_eq(pp_launch_self(self, sizeof self, &err), 0);
    ck_assert_int_eq(pp_launch_sibling("pippy", sib, sizeof sib, &err), 0);
    char *slash = strrchr(self, '/');
    ck_assert_ptr_nonnull(slash);
    ck_assert_int_eq(strncmp(sib, self, (size_t)(slash - self + 1)), 0); /* the same folder */
    ck_assert_str_eq(sib + (slash - self + 1), "pippy");
    char tiny[4];
    ck_assert_int_eq(pp_launch_sibling("pippy", tiny, sizeof tiny, &err), -1); /* does not fit */
    ck_assert(strstr(err.msg, "too long") != NULL);
    char log[300];
    snprintf(log, sizeof log, "%s/logged.txt", g_dir);
    char *five[] = {"/bin/sh", "-c", "echo out; exit 5", NULL};
    ck_assert_int_eq(pp_launch_logged(five, "test", log, &err), 5);
    char *ok[] = {"/bin/sh", "-c", "echo again", NULL};
    ck_assert_int_eq(pp_launch_logged(ok, "test", log, &err), 0);
    char *none[] = {"/no/such/program", NULL};
    ck_assert_int_eq(pp_launch_logged(none, "test", log, &err), 127);
    char *text = slurp(log);
    ck_assert_ptr_nonnull(text);
    ck_assert_str_eq(text, "out\nagain\n");
    free(text);
}
END_TEST

/* Two ranks under mpirun: both leave their pid file; rank 1 then kills
 * itself. The launcher names it, and the status folder given is kept. */
START_TEST(mpi_job_names_the_rank_that_died) {
    if (system("command -v mpirun >/dev/null 2>&1") != 0) {
        ck_abort_msg("mpirun is missing (openmpi-bin is a dependency)");
    }
    pp_launch_opts o;
    pp_launch_result res;
    pp_err err = {0};
    char status[300];
    snprintf(status, sizeof status, "%s/status", g_dir);
    pp_launch_opts_init(&o, "test");
    o.n_ranks = 2;
    o.status_dir = status;
    char *job[] = {"/bin/sh", "-c",
                   "r=$OMPI_COMM_WORLD_RANK; s=$PIPPY_RUN_STATUS; "
                   "trap 'echo \"15 1\" > $s/rank-$r.sig; exit 1' TERM; "
                   "echo \"$$ $(hostname)\" > $s/rank-$r.pid; "
                   "if [ $r = 1 ]; then sleep 0.5; kill -9 $$; fi; sleep 20 & wait",
                   NULL};
    int rc = pp_launch_run(job, &o, &res, &err);
    ck_assert_int_eq(rc, 1);
    ck_assert_int_ne(res.exit_code, 0);
    ck_assert_int_eq(res.died, 1); /* rank 1; rank 0 was stopped (it left rank-0.sig) */
    ck_assert(res.seconds < 15);   /* mpirun stopped rank 0 rather than wait out its sleep */
    char p[400];
    snprintf(p, sizeof p, "%s/rank-1.pid", status);
    ck_assert_int_eq(access(p, F_OK), 0);
}
END_TEST

START_TEST(a_rank_side) {
    char p[400];
    setenv("PIPPY_RUN_STATUS", g_dir, 1);
    pp_launch_rank_begin(3, "hostA");
    snprintf(p, sizeof p, "%s/rank-3.pid", g_dir);
    char *text = slurp(p), want[64];
    snprintf(want, sizeof want, "%ld hostA\n", (long)getpid());
    ck_assert_ptr_nonnull(text);
    ck_assert_str_eq(text, want);
    free(text);
    ck_assert_int_eq(pp_launch_rank_signal(), 0);
    raise(SIGUSR1);
    ck_assert_int_eq(pp_launch_rank_signal(), SIGUSR1);
    snprintf(p, sizeof p, "%s/rank-3.sig", g_dir);
    text = slurp(p);
    snprintf(want, sizeof want, "%d %ld\n", SIGUSR1, (long)getpid());
    ck_assert_ptr_nonnull(text);
    ck_assert_str_eq(text, want);
    free(text);
    char why[128];
    pp_launch_rank_why(why, sizeof why);
    ck_assert_str_eq(why, "SIGUSR1"); /* the launcher has said nothing */
    snprintf(p, sizeof p, "%s/launcher.sig", g_dir);
    ck_assert_int_eq(pp_io_write_atomic(p, "SIGTERM to pippy run\n", 21, NULL), 0);
    pp_launch_rank_why(why, sizeof why);
    ck_assert_str_eq(why, "SIGTERM to pippy run");
    pp_launch_rank_done("ok\n");
    pp_launch_rank_fail("it broke");
    snprintf(p, sizeof p, "%s/rank-3.done", g_dir);
    text = slurp(p);
    ck_assert_str_eq(text, "ok\n");
    free(text);
    snprintf(p, sizeof p, "%s/rank-3.err", g_dir);
    text = slurp(p);
    ck_assert_str_eq(text, "it broke");
    free(text);
    unsetenv("PIPPY_RUN_STATUS");
    signal(SIGUSR1, SIG_DFL);
    signal(SIGINT, SIG_DFL);
    signal(SIGTERM, SIG_DFL);
}
END_TEST

int main(void) {
    Suite *s = suite_create("launch");
    TCase *tc = tcase_create("all");
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_set_timeout(tc, 60);
    tcase_add_test(tc, plain_child_status_and_log);
    tcase_add_test(tc, sibling_and_logged);
    tcase_add_test(tc, a_rank_side);
    tcase_add_test(tc, mpi_job_names_the_rank_that_died);
    suite_add_tcase(s, tc);
    return pp_test_run(s);
}
