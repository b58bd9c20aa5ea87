/*
 * test_run_setup.c -- executor/pp_run_setup.h on one rank: a request into
 * the executor's and the loop's options (checkpoint modes, the NaN
 * injection string), rank 0's agreement, and how a rank leaves a run (the
 * status files the launcher reads).
 */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tests/pp_test.h"

#include "core/pp_io.h"
#include "executor/pp_launch.h"
#include "executor/pp_run_setup.h"

static pp_comm *comm;

START_TEST(test_apply_copies_the_request) {
    pp_run_request rq = {.steps = 40, .stop_after = 3, .seed = 99, .data_path = "d.txt", .threads = 3,
                         .backend = 0, .timeout_s = 7.5, .checkpoint_dir = "ck", .checkpoint_every = 5};
    rq.hyper.lr = 0.25;
    pp_exec_opts eo;
    pp_run_opts o;
    pp_run_request_apply(&rq, "abc", NULL, &eo, &o);
    ck_assert_uint_eq(eo.seed, 99);
    ck_assert_str_eq(eo.data_path, "d.txt");
    ck_assert_double_eq(eo.hyper.lr, 0.25);
    ck_assert_int_eq(eo.total_steps, 40);
    ck_assert_int_eq(eo.threads, 3);
    ck_assert_double_eq(eo.timeout_s, 7.5);
    ck_assert_int_eq(eo.nan_rank, -1);
    ck_assert_int_eq(eo.nan_step, -1);
    ck_assert_int_eq(eo.lookahead, pp_exec_defaults().lookahead); /* the rest stays default */
    ck_assert_int_eq(o.steps, 40);
    ck_assert_int_eq(o.stop_after, 3);
    ck_assert_str_eq(o.checkpoint_dir, "ck");
    ck_assert_int_eq(o.checkpoint_every, 5);
    ck_assert_int_eq(o.ckpt_mode, PP_EXEC_CKPT_NEW);
    ck_assert_str_eq(o.plan_hash, "abc");
    rq.overwrite_checkpoint = 1;
    pp_run_request_apply(&rq, "abc", NULL, &eo, &o);
    ck_assert_int_eq(o.ckpt_mode, PP_EXEC_CKPT_OVERWRITE);
    rq.resume = 1; /* resume wins */
    pp_run_request_apply(&rq, "abc", NULL, &eo, &o);
    ck_assert_int_eq(o.ckpt_mode, PP_EXEC_CKPT_RESUME);
}
END_TEST

START_TEST(test_apply_nan_injection) {
    pp_run_request rq = {.steps = 10};
    pp_exec_opts eo;
    pp_run_opts o;
    pp_run_request_apply(&rq, NULL, "1,3", &eo, &o);
    ck_assert_int_eq(eo.nan_rank, 1);
    ck_assert_int_eq(eo.nan_step, 2); /* 1-based given, 0-based kept */
    pp_run_request_apply(&rq, NULL, "garbage", &eo, &o);
    ck_assert_int_eq(eo.nan_rank, -1);
    ck_assert_int_eq(eo.nan_step, -1);
    pp_run_request_apply(&rq, NULL, "2", &eo, &o); /* half a pair: never */
    ck_assert_int_eq(eo.nan_step, -1);
}
END_TEST

START_TEST(test_agree_rank0) {
    pp_err err = {0};
    ck_assert_int_eq(pp_run_agree_rank0(comm, 0, PP_ERR_DB, "others", &err), 0);
    ck_assert_int_eq(err.code, PP_OK);
    pp_err_set(&err, PP_ERR_IO, "rank 0's own reason");
    ck_assert_int_eq(pp_run_agree_rank0(comm, 1, PP_ERR_DB, "others", &err), 1);
    ck_assert_str_eq(err.msg, "rank 0's own reason"); /* rank 0 keeps its reason */
    ck_assert_int_eq(err.code, PP_ERR_IO);
}
END_TEST

static char *slurp(const char *dir, const char *name) {
    char p[4200], *text = NULL;
    size_t len;
    snprintf(p, sizeof p, "%s/%s", dir, name);
    if (pp_io_read_file(p, &text, &len, NULL)) return NULL;
    return text;
}

static void ends(const char *stop, const char *failure, int want_rc, const char *want_err, const char *want_done) {
    char dir[256];
    pp_test_tmpdir(dir, sizeof dir, "run_setup");
    setenv("PIPPY_RUN_STATUS", dir, 1);
    pp_launch_rank_begin(0, "host");
    ck_assert_int_eq(pp_run_rank_end(comm, stop, failure), want_rc);
    char *e = slurp(dir, "rank-0.err"), *d = slurp(dir, "rank-0.done");
    if (want_err) ck_assert_str_eq(e ? e : "(none)", want_err);
    else ck_assert_ptr_null(e);
    if (want_done) ck_assert_str_eq(d ? d : "(none)", want_done);
    else ck_assert_ptr_null(d);
    free(e);
    free(d);
    unsetenv("PIPPY_RUN_STATUS");
    pp_launch_rank_begin(0, "host"); /* no status folder any more */
    pp_test_rmtree(dir);
}

START_TEST(test_rank_end) {
    ends(NULL, NULL, 0, NULL, "ok\n");
    ends("interrupted by SIGINT", NULL, 1, "interrupted by SIGINT", "interrupted\n");
    ends("interrupted by SIGTERM", "ignored", 1, "interrupted by SIGTERM", "interrupted\n");
    ends(NULL, "cannot store", 1, "cannot store", NULL);
}
END_TEST

static Suite *suite(void) {
    Suite *s = suite_create("run_setup");
    TCase *tc = tcase_create("core");
    tcase_add_test(tc, test_apply_copies_the_request);
    tcase_add_test(tc, test_apply_nan_injection);
    tcase_add_test(tc, test_agree_rank0);
    tcase_add_test(tc, test_rank_end);
    suite_add_tcase(s, tc);
    return s;
}

int main(void) {
    pp_err err = {0};
    if (pp_comm_init(NULL, NULL, &comm, &err)) {
        fprintf(stderr, "test_run_setup: %s\n", err.msg);
        return 1;
    }
    int rc = pp_test_run(suite());
    pp_comm_free(comm);
    return rc;
}
