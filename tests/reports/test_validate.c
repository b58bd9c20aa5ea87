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
#include "reports/pp_validate_cmd.h"

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

START_TEST(test_progress) {
    pp_validate_row r = {.sched = "zbh1", .m = 8};
    char *buf = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&buf, &len);
    pp_validate_print_planning(f, &r);
    pp_validate_print_running(f);
    fclose(f);
    ck_assert_str_eq(buf, "zbh1         m=8   planning... running...");
    free(buf);
}
END_TEST

START_TEST(test_split) {
    pp_validate_list l;
    pp_validate_split("gpipe,,1f1b,zbh1,", &l);
    ck_assert_int_eq(l.n, 3); /* empty items skipped */
    ck_assert_str_eq(l.item[0], "gpipe");
    ck_assert_str_eq(l.item[2], "zbh1");
    pp_validate_split(NULL, &l);
    ck_assert_int_eq(l.n, 0);
    char many[400] = "";
    for (int i = 0; i < 70; i++) strcat(many, "a,");
    pp_validate_split(many, &l);
    ck_assert_int_eq(l.n, 64); /* at most 64 kept */
}
END_TEST

START_TEST(test_counts) {
    int ms[PP_VALIDATE_MAX_M], nm = -1;
    pp_err err = {0};
    ck_assert_int_eq(pp_validate_counts(NULL, 3, ms, &nm, &err), 0);
    ck_assert_int_eq(nm, 4);
    ck_assert_int_eq(ms[0], 3);
    ck_assert_int_eq(ms[3], 24);
    ck_assert_int_eq(pp_validate_counts("2,16", 3, ms, &nm, &err), 0);
    ck_assert_int_eq(nm, 2);
    ck_assert_int_eq(ms[1], 16);
    ck_assert_int_eq(pp_validate_counts("2,x4", 3, ms, &nm, &err), -1);
    ck_assert_str_eq(err.msg, "--microbatches: 'x4' is not an integer");
    ck_assert_int_eq(nm, 1); /* read before the bad one */
    ck_assert_int_eq(pp_validate_counts("4097", 3, ms, &nm, &err), -1);
    ck_assert_str_eq(err.msg, "--microbatches: 4097 is out of range [1, 4096]");
    ck_assert_int_eq(pp_validate_counts("0", 3, ms, &nm, &err), -1);
    ck_assert_str_eq(err.msg, "--microbatches: 0 is out of range [1, 4096]");
    ck_assert_int_eq(pp_validate_counts("1,2,3,4,5,6,7,8,9,10,11,12,13,14,15,16,17,bad", 3, ms, &nm, &err), 0);
    ck_assert_int_eq(nm, PP_VALIDATE_MAX_M); /* further items ignored */
}
END_TEST

START_TEST(test_rows_and_cmds) {
    const char *names[] = {"gpipe", "1f1b"};
    int ms[] = {2, 4, 8};
    pp_validate_row *rows = pp_validate_rows_new(names, 2, ms, 3);
    ck_assert_ptr_nonnull(rows);
    ck_assert_str_eq(rows[0].sched, "gpipe");
    ck_assert_int_eq(rows[2].m, 8);
    ck_assert_str_eq(rows[4].sched, "1f1b");
    ck_assert_int_eq(rows[4].m, 4);
    ck_assert_int_eq(rows[5].ok, 0);
    free(rows);
    pp_validate_cmds c;
    pp_validate_cmds_init(&c, "/bin/pippy", "out", "gpt2-tiny", 4, 64, 2, 8, "db.sqlite");
    ck_assert_str_eq(c.log, "out/validate.log");
    const char *prof[] = {"/bin/pippy", "profile", "--model", "gpt2-tiny", "--micro-batch", "4", "--seq", "64",
                          "--ranks", "2", "--db", "db.sqlite", NULL};
    for (int i = 0; prof[i]; i++) ck_assert_str_eq(c.profile[i], prof[i]);
    ck_assert_ptr_null(c.profile[12]);
    pp_validate_cmds_config(&c, "out", "zbh1", 8);
    const char *pl[] = {"/bin/pippy", "plan", "--model", "gpt2-tiny", "--cluster", "local", "--batch", "32", "--seq",
                        "64", "--pp", "2", "--microbatches", "8", "--schedule", "zbh1", "--db", "db.sqlite", "-o",
                        "out/plan-zbh1-m8.json", NULL};
    for (int i = 0; pl[i]; i++) ck_assert_str_eq(c.plan[i], pl[i]);
    ck_assert_ptr_null(c.plan[20]);
    const char *rn[] = {"/bin/pippy", "run", "--plan", "out/plan-zbh1-m8.json", "--steps", "8", "--db", "db.sqlite",
                        "--log-every", "1000", NULL};
    for (int i = 0; rn[i]; i++) ck_assert_str_eq(c.run[i], rn[i]);
    ck_assert_ptr_null(c.run[10]);
    pp_validate_cmds_config(&c, "out", "gpipe", 2); /* the next configuration replaces it */
    ck_assert_str_eq(c.plan[7], "8");
    ck_assert_str_eq(c.plan[15], "gpipe");
    ck_assert_str_eq(c.run[3], "out/plan-gpipe-m2.json");
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
    tcase_add_test(tc, test_progress);
    tcase_add_test(tc, test_split);
    tcase_add_test(tc, test_counts);
    tcase_add_test(tc, test_rows_and_cmds);
    suite_add_tcase(s, tc);
    return s;
}

int main(void) { return pp_test_run(suite()); }
