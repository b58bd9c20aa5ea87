/*
 * test_report_print.c -- `pippy report`'s summary and --json document
 * (reports/pp_report_print.h) and the predicted-throughput grid
 * (pp_report_tput_grid / pp_report_tput_add) and the header from a plan
 * (pp_report_input_plan), both reports/pp_report_data.h:
 *   - with a measured side the summary gives both times and the relative
 *     error (measured - predicted) / measured; without, it says so;
 *   - the JSON has null run, step, measured and error without a run, the
 *     figures per rank with one;
 *   - a grid's series fill independently and refuse points past their room;
 *   - the page's header from a plan, each stage's rank included.
 */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tests/pp_test.h"

#include "core/pp_json.h"
#include "reports/pp_report_data.h"
#include "reports/pp_report_print.h"

static const double BUSY[2] = {1.5, 2.5}, PEAK[2] = {100, 200};

static pp_report_input input(int with_run) {
    pp_report_input in = {.plan_hash = "abc", .cost_src = "unit", .link_src = "free", .n_ranks = 2,
                          .note = with_run ? "" : "No run.", .run_id = with_run ? 7 : 0, .run_step = with_run ? 3 : -1,
                          .pred = {.present = 1, .iteration_s = 0.9, .tokens_per_s = 10, .busy_s = BUSY, .peak_bytes = PEAK},
                          .meas = {.present = with_run, .iteration_s = 1.0, .tokens_per_s = 9, .busy_s = BUSY}};
    return in;
}

static char *summary(const pp_report_input *in, int chrome) {
    char *buf = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&buf, &len);
    ck_assert(f != NULL);
    pp_report_print_summary(f, in, "out", chrome);
    fclose(f);
    return buf;
}

static char *json(const pp_report_input *in) {
    pp_err err = {0};
    pp_jw w;
    pp_jw_init(&w);
    pp_report_write_json(&w, in, "plan.json", "out", 1);
    char *text;
    size_t len;
    ck_assert_msg(pp_jw_finish(&w, &text, &len, &err) == 0, "%s", err.msg);
    return text;
}

START_TEST(summary_lines) {
    pp_report_input in = input(1);
    char *t = summary(&in, 1);
    ck_assert_str_eq(t, "predicted 0.9 s per step, measured 1 s (run 7, step 3): error +10.0% ((measured - predicted) / "
                        "measured)\ntraces: out/predicted-trace.json and measured-trace.json\nreport: out/index.html\n");
    free(t);
    in = input(0);
    t = summary(&in, 0);
    ck_assert_str_eq(t, "note: No run.\npredicted 0.9 s per step (no measured run)\nreport: out/index.html\n");
    free(t);
}
END_TEST

START_TEST(json_document) {
    pp_report_input in = input(0);
    char *j = json(&in);
    ck_assert(strstr(j, "\"plan\": \"plan.json\"") != NULL);
    ck_assert(strstr(j, "\"run\": null") != NULL);
    ck_assert(strstr(j, "\"step\": null") != NULL);
    ck_assert(strstr(j, "\"measured\": null") != NULL);
    ck_assert(strstr(j, "\"relative_error\": null") != NULL);
    ck_assert_msg(strstr(j, "\"busy_s\": [1.5, 2.5],\n    \"peak_memory_bytes\": [1e+02, 2e+02]") != NULL, "%s", j);
    ck_assert(strstr(j, "\"note\": \"No run.\"") != NULL);
    ck_assert(strstr(j, "\"report\": \"out/index.html\"") != NULL);
    ck_assert(strstr(j, "\"chrome_traces\": true") != NULL);
    free(j);
    in = input(1);
    j = json(&in);
    ck_assert(strstr(j, "\"run\": 7") != NULL);
    ck_assert(strstr(j, "\"step\": 3") != NULL);
    ck_assert_msg(strstr(j, "\"relative_error\": 0.09999") != NULL, "%s", j);
    ck_assert(strstr(j, "\"measured\": {\n    \"iteration_s\": 1.0,") != NULL);
    /* No measured peaks: zeros, one per rank. */
    ck_assert_msg(strstr(j, "\"peak_memory_bytes\": [0") != NULL, "%s", j);
    free(j);
}
END_TEST

START_TEST(tput_grid) {
    pp_err err = {0};
    pp_report_tput t;
    ck_assert(pp_report_tput_grid(&t, 3, 2, &err) == 0);
    ck_assert_int_eq(t.n, 3);
    ck_assert(pp_report_tput_add(&t, 1, 4, 40) == 0);
    ck_assert(pp_report_tput_add(&t, 1, 8, 80) == 0);
    ck_assert(pp_report_tput_add(&t, 1, 16, 160) == -1); /* full */
    ck_assert(pp_report_tput_add(&t, 3, 4, 1) == -1);    /* no such series */
    ck_assert(pp_report_tput_add(&t, 0, 2, 20) == 0);
    ck_assert_int_eq(t.series[0].n, 1);
    ck_assert_int_eq(t.series[1].n, 2);
    ck_assert_int_eq(t.series[2].n, 0);
    ck_assert_double_eq(t.series[0].pts[0].x, 2);
    ck_assert_double_eq(t.series[1].pts[1].x, 8);
    ck_assert_double_eq(t.series[1].pts[1].y, 80);
    pp_report_tput_free(&t);
    ck_assert(t.series == NULL && t.n == 0);
}
END_TEST

START_TEST(header_from_plan) {
    pp_err err = {0};
    pp_plan p;
    memset(&p, 0, sizeof p);
    snprintf(p.model.name, sizeof p.model.name, "gpt2-tiny");
    snprintf(p.schedule_name, sizeof p.schedule_name, "interleaved");
    p.pp = 2, p.dp = 3, p.n_microbatches = 8, p.micro_batch = 2, p.seq_len = 64, p.global_batch = 48;
    pp_plan_stage st[4] = {{.rank = 0}, {.rank = 1}, {.rank = 0}, {.rank = 1}};
    p.stages = st;
    p.n_stages = 4;
    pp_report_input in = {.note = "kept"};
    int *sr = NULL;
    ck_assert(pp_report_input_plan(&in, &p, "h", &sr, &err) == 0);
    ck_assert_str_eq(in.model, "gpt2-tiny");
    ck_assert_str_eq(in.schedule, "interleaved");
    ck_assert_str_eq(in.plan_hash, "h");
    ck_assert_str_eq(in.note, "kept");
    ck_assert(in.pp == 2 && in.n_ranks == 2 && in.dp == 3 && in.n_stages == 4);
    ck_assert(in.n_microbatches == 8 && in.micro_batch == 2 && in.seq_len == 64 && in.global_batch == 48);
    ck_assert(in.stage_rank == sr);
    ck_assert(sr[0] == 0 && sr[1] == 1 && sr[2] == 0 && sr[3] == 1);
    free(sr);
}
END_TEST

static Suite *print_suite(void) {
    Suite *s = suite_create("report_print");
    TCase *tc = tcase_create("print");
    tcase_add_test(tc, summary_lines);
    tcase_add_test(tc, json_document);
    tcase_add_test(tc, tput_grid);
    tcase_add_test(tc, header_from_plan);
    suite_add_tcase(s, tc);
    return s;
}

int main(void) {
    return pp_test_run(print_suite());
}
