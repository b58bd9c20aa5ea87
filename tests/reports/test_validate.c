/*
 * test_validate.c -- `pippy validate`'s verdict (reports/pp_validate.h):
 * the comparison of a prediction with its run (relative time error, the
 * worst memory error over ranks, the cases that are not compared), the
 * summary's medians and maxima, the progress outcome, the table text and
 * the JSON document.
 */
#define _GNU_SOURCE
#include <check.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tests/pp_test.h"

#include "core/pp_json.h"
#include "reports/pp_validate.h"

static const pp_run_rank RANKS[3] = {{.rank = 0, .peak_bytes = 1000}, {.rank = 1, .peak_bytes = 2000},
                                     {.rank = 2, .peak_bytes = 500}};

START_TEST(test_compare) {
    double peaks[2] = {900, 2000}; /* rank 2 reads peaks[0]: |500 - 900| / 500 = 0.8 */
    pp_validate_row r = {.m = 4};
    ck_assert_int_eq(pp_validate_compare(&r, 5, 0.08, 0.1, 0.07, RANKS, 3, peaks, 2), 1);
    ck_assert_int_eq(r.ok, 1);
    ck_assert_int_eq(r.run_id, 5);
    ck_assert(fabs(r.err_t - 0.2) < 1e-12);
    ck_assert(r.run_pred_s == 0.07);
    ck_assert(fabs(r.mem_err - 0.8) < 1e-12);
    /* No run found: not compared, the prediction kept. */
    pp_validate_row n = {0};
    ck_assert_int_eq(pp_validate_compare(&n, 0, 0.08, 0.1, 0.07, NULL, 0, peaks, 2), 0);
    ck_assert_int_eq(n.ok, 0);
    ck_assert(n.pred_s == 0.08);
    ck_assert(n.meas_s == 0);
    /* A run without a prediction or without a time: not compared. */
    pp_validate_row z = {0};
    ck_assert_int_eq(pp_validate_compare(&z, 3, 0, 0.1, 0, RANKS, 1, peaks, 2), 0);
    ck_assert_int_eq(z.run_id, 3);
    pp_validate_row t = {0};
    ck_assert_int_eq(pp_validate_compare(&t, 3, 0.1, 0, 0, RANKS, 1, peaks, 2), 0);
    /* No predicted peaks: no memory error. */
    pp_validate_row m = {0};
    ck_assert_int_eq(pp_validate_compare(&m, 3, 0.1, 0.1, 0, RANKS, 3, NULL, 0), 1);
    ck_assert(m.mem_err == 0);
    ck_assert(m.err_t == 0);
}
END_TEST

static void rows3(pp_validate_row rows[3]) {
    memset(rows, 0, 3 * sizeof *rows);
    snprintf(rows[0].sched, sizeof rows[0].sched, "gpipe");
    rows[0].m = 2;
    rows[0].run_id = 1;
    rows[0].pred_s = 0.01, rows[0].meas_s = 0.0125, rows[0].err_t = 0.2, rows[0].mem_err = 0.1, rows[0].ok = 1;
    snprintf(rows[1].sched, sizeof rows[1].sched, "1f1b");
    rows[1].m = 2;
    rows[1].run_id = 2;
    rows[1].pred_s = 0.02, rows[1].meas_s = 0.016, rows[1].err_t = -0.25, rows[1].mem_err = 0.3, rows[1].ok = 1;
    snprintf(rows[2].sched, sizeof rows[2].sched, "zbh1");
    rows[2].m = 8;
    rows[2].err_t = 9, rows[2].mem_err = 9; /* not ok: left out */
}

START_TEST(test_summarize) {
    pp_validate_row rows[3];
    rows3(rows);
    pp_validate_stats st;
    pp_err err = {0};
    ck_assert_int_eq(pp_validate_summarize(rows, 3, &st, &err), 0);
    ck_assert_int_eq(st.n, 2);
    ck_assert(fabs(st.med_t - 0.225) < 1e-12);
    ck_assert(fabs(st.worst_t - 0.25) < 1e-12);
    ck_assert(fabs(st.med_m - 0.2) < 1e-12);
    ck_assert(fabs(st.worst_m - 0.3) < 1e-12);
    ck_assert_int_eq(pp_validate_summarize(rows + 2, 1, &st, &err), 0);
    ck_assert_int_eq(st.n, 0);
    ck_assert(isnan(st.med_t) && isnan(st.med_m));
    ck_assert(st.worst_t == 0 && st.worst_m == 0);
}
END_TEST

START_TEST(test_print) {
    pp_validate_row rows[3];
    rows3(rows);
    pp_validate_stats st;
    pp_err err = {0};
    ck_assert_int_eq(pp_validate_summarize(rows, 3, &st, &err), 0);
    char *buf = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&buf, &len);
    pp_validate_print_outcome(f, &rows[0], NULL);
    pp_validate_print_outcome(f, &rows[2], NULL);
    pp_validate_print_outcome(f, &rows[2], "no such plan");
    pp_validate_print(f, rows, 3, &st, 1, "v/validate.log");
    fclose(f);
    ck_assert_str_eq(buf,
                     " predicted 10.000 ms, measured 12.500 ms: +20.0%\n"
                     " no run or prediction found\n"
                     " no such plan\n"
                     "\nschedule        m    run   predicted ms    measured ms     error  memory err\n"
                     "gpipe           2      1         10.000         12.500    +20.0%       10.0%\n"
                     "1f1b            2      2         20.000         16.000    -25.0%       30.0%\n"
                     "\n2 configurations: |predicted - measured| / measured iteration time: median 22.5%, max 25.0%; "
                     "peak memory per rank: median 20.0%, max 30.0%\n"
                     "1 configurations failed (see v/validate.log)\n");
    free(buf);
}
END_TEST

START_TEST(test_json) {
    pp_validate_row rows[3];
    rows3(rows);
    pp_validate_stats st;
    pp_err err = {0};
    ck_assert_int_eq(pp_validate_summarize(rows, 3, &st, &err), 0);
    pp_jw w;
    pp_jw_init(&w);
    pp_validate_json(&w, "gpt2-tiny", 4, 64, 2, "p.db", rows, 3, &st, 1);
    char *text;
    size_t len;
    ck_assert_int_eq(pp_jw_finish(&w, &text, &len, &err), 0);
    pp_json *j;
    ck_assert_msg(pp_json_parse(text, len, "t", &j, &err) == 0, "%s", err.msg);
    ck_assert_str_eq(pp_json_get(j, "model")->str, "gpt2-tiny");
    ck_assert_int_eq(pp_json_get(j, "seq_len")->inum, 64);
    ck_assert_str_eq(pp_json_get(j, "database")->str, "p.db");
    pp_json *c = pp_json_get(j, "configurations");
    ck_assert_int_eq(c->n, 3);
    ck_assert_int_eq(pp_json_get(c->items[0], "run")->inum, 1);
    ck_assert(fabs(pp_json_get(c->items[1], "rel_error")->num + 0.25) < 1e-12);
    ck_assert_int_eq(pp_json_get(c->items[2], "ok")->boolean, 0);
    ck_assert_int_eq(pp_json_get(c->items[2], "run")->type, PP_JSON_NULL);
    ck_assert_int_eq(pp_json_get(c->items[2], "rel_error")->type, PP_JSON_NULL);
    ck_assert(fabs(pp_json_get(j, "iteration_abs_error_median")->num - 0.225) < 1e-12);
    ck_assert(fabs(pp_json_get(j, "memory_error_max")->num - 0.3) < 1e-12);
    ck_assert_int_eq(pp_json_get(j, "failed")->inum, 1);
    pp_json_free(j);
    free(text);
    /* Nothing compared: the summary figures are null. */
    ck_assert_int_eq(pp_validate_summarize(rows + 2, 1, &st, &err), 0);
    pp_jw_init(&w);
    pp_validate_json(&w, "m", 1, 1, 1, "p.db", rows + 2, 1, &st, 1);
    ck_assert_int_eq(pp_jw_finish(&w, &text, &len, &err), 0);
    ck_assert_msg(pp_json_parse(text, len, "t", &j, &err) == 0, "%s", err.msg);
    ck_assert_int_eq(pp_json_get(j, "iteration_abs_error_max")->type, PP_JSON_NULL);
    pp_json_free(j);
    free(text);
}
END_TEST

static Suite *suite(void) {
    Suite *s = suite_create("validate");
    TCase *tc = tcase_create("validate");
    tcase_add_test(tc, test_compare);
    tcase_add_test(tc, test_summarize);
    tcase_add_test(tc, test_print);
    tcase_add_test(tc, test_json);
    suite_add_tcase(s, tc);
    return s;
}

int main(void) { return pp_test_run(suite()); }
