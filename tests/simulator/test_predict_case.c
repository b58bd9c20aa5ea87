/*
 * test_predict_case.c -- simulator/pp_predict_case.h: a plan, a model, a
 * CSV table and a generated table built into a case, checked, laid out
 * and predicted; bad inputs refused with the file named.
 */
#include <check.h>
#include <stdio.h>
#include <string.h>

#include "tests/pp_test.h"

#include "planner/pp_schedgen.h"
#include "simulator/pp_predict_case.h"

static void src(char *buf, size_t n, const char *rel) { snprintf(buf, n, "%s/%s", PP_SOURCE_DIR, rel); }

START_TEST(test_plan_case) {
    char path[4096];
    src(path, sizeof path, "tests/fuzz/seeds/plan/plan-gpt2-1f1b-dp2.json");
    pp_err err = {0};
    pp_predict_case x;
    pp_predict_case_init(&x);
    ck_assert_msg(pp_predict_case_plan(&x, path, &err) == 0, "%s", err.msg);
    ck_assert(x.have_plan && x.have_model);
    ck_assert_int_eq(x.sched.n_ranks, x.plan.schedule.n_ranks);
    ck_assert(x.g.n_ops > 0);
    ck_assert_double_eq(x.tokens, (double)x.plan.global_batch * x.plan.seq_len);
    ck_assert(strstr(x.what, "schedule 1f1b") != NULL);
    ck_assert(strncmp(x.what, "plan ", 5) == 0);
    ck_assert_msg(pp_predict_case_run(&x, 1, 0, &err) == 0, "%s", err.msg);
    ck_assert(x.pred.sim.iteration_s > 0);
    ck_assert_int_eq(x.in.want_critical_path, 1);
    ck_assert_int_eq(x.in.want_trace, 1);
    ck_assert(x.pred.sim.trace.n > 0);
    pp_predict_case_free(&x);
}
END_TEST

START_TEST(test_missing_plan) {
    pp_err err = {0};
    pp_predict_case x;
    pp_predict_case_init(&x);
    ck_assert_int_eq(pp_predict_case_plan(&x, "/nonexistent/plan.json", &err), -1);
    ck_assert(err.code != PP_OK);
    ck_assert(!x.have_plan);
    pp_predict_case_free(&x);
}
END_TEST

START_TEST(test_model_and_generated_table) {
    char path[4096];
    src(path, sizeof path, "configs/models/gpt2-tiny.json");
    pp_err err = {0};
    pp_predict_case x;
    pp_predict_case_init(&x);
    ck_assert_msg(pp_predict_case_model(&x, path, 2, 0, &err) == 0, "%s", err.msg);
    ck_assert(x.have_model);
    ck_assert_int_eq(x.seq, x.cfg.seq_len); /* 0: the config's */
    ck_assert_msg(pp_schedule_generate(PP_SCHEDULE_1F1B, 2, 4, 1, &x.sched, &err) == 0, "%s", err.msg);
    ck_assert_msg(pp_predict_case_layout(&x, NULL, 3, 2, x.seq, &err) == 0, "%s", err.msg);
    ck_assert_double_eq(x.tokens, 2.0 * 4 * 3 * x.seq); /* micro-batch x microbatches x dp x seq */
    ck_assert_ptr_eq(x.in.g, &x.g);
    ck_assert_int_eq(x.in.dp, 3);
    ck_assert_msg(pp_predict_case_run(&x, 0, 1, &err) == 0, "%s", err.msg);
    ck_assert(x.pred.sim.iteration_s > 0);
    ck_assert_int_eq(x.in.want_timeline, 1);
    pp_predict_case_free(&x);

    pp_predict_case_init(&x);
    ck_assert_msg(pp_predict_case_model(&x, path, 1, 16, &err) == 0, "%s", err.msg);
    ck_assert_int_eq(x.seq, 16);
    pp_predict_case_free(&x);
}
END_TEST

START_TEST(test_csv_unit_costs) {
    char path[4096];
    src(path, sizeof path, "tests/fuzz/seeds/schedule/zbv.csv");
    pp_err err = {0};
    pp_predict_case x;
    pp_predict_case_init(&x);
    ck_assert_msg(pp_predict_case_csv(&x, path, &err) == 0, "%s", err.msg);
    ck_assert(strstr(x.what, "2 ranks, 4 stages, 4 microbatches (current naming)") != NULL);
    ck_assert_msg(pp_predict_case_layout(&x, path, 1, 1, 0, &err) == 0, "%s", err.msg);
    ck_assert_ptr_null(x.in.g);           /* no model: unit costs */
    ck_assert_double_eq(x.tokens, 0);     /* and no throughput */
    ck_assert_msg(pp_predict_case_run(&x, 0, 0, &err) == 0, "%s", err.msg);
    ck_assert(strstr(x.pred.cost_source, "unit costs") != NULL);
    /* Unit costs: the busiest rank does 4 microbatches x 2 stages x (F + I + W). */
    ck_assert(x.pred.sim.iteration_s >= 4 * 2 * 3.0 - 1e-9);
    pp_predict_case_free(&x);
}
END_TEST

START_TEST(test_bad_table_names_the_file) {
    pp_err err = {0};
    pp_predict_case x;
    pp_predict_case_init(&x);
    ck_assert_msg(pp_schedule_generate(PP_SCHEDULE_1F1B, 2, 4, 1, &x.sched, &err) == 0, "%s", err.msg);
    x.sched.ranks[0].n = 1; /* rank 0 drops most of its actions */
    ck_assert_int_eq(pp_predict_case_layout(&x, "bad.csv", 1, 1, 0, &err), -1);
    ck_assert_msg(strncmp(err.msg, "bad.csv", 7) == 0, "%s", err.msg);
    pp_predict_case_free(&x);
}
END_TEST

static Suite *suite(void) {
    Suite *s = suite_create("predict_case");
    TCase *tc = tcase_create("core");
    tcase_set_timeout(tc, 60);
    tcase_add_test(tc, test_plan_case);
    tcase_add_test(tc, test_missing_plan);
    tcase_add_test(tc, test_model_and_generated_table);
    tcase_add_test(tc, test_csv_unit_costs);
    tcase_add_test(tc, test_bad_table_names_the_file);
    suite_add_tcase(s, tc);
    return s;
}

int main(void) { return pp_test_run(suite()); }
