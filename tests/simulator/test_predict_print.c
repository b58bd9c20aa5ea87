/*
 * test_predict_print.c -- a prediction as `pippy sim` prints it
 * (simulator/pp_predict_print.h) and the what-if setup of pp_predict.h:
 *   - the text names what was predicted, its figures and the critical
 *     path's rank changes; the throughput line only with tokens;
 *   - the JSON carries the same figures, the activation timeline only when
 *     asked for, and names the critical path's actions from the table;
 *   - the one-line descriptions of a plan and of a table;
 *   - the layout's samples and tokens, and the what-if unit conversions.
 */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tests/pp_test.h"

#include "core/pp_json.h"
#include "planner/pp_schedgen.h"
#include "simulator/pp_predict.h"
#include "simulator/pp_predict_print.h"

/* 1F1B, p = 2, m = 4, unit costs: iteration (m + p - 1) * 3 = 15 s. */
static void predict_1f1b(pp_sched *s, int timeline, pp_prediction *pr) {
    pp_err err = {0};
    ck_assert(pp_schedule_generate(PP_SCHEDULE_1F1B, 2, 4, 1, s, &err) == 0);
    pp_predict_input in;
    pp_predict_input_init(&in);
    in.sched = s;
    in.want_critical_path = 1;
    in.want_timeline = timeline;
    ck_assert_msg(pp_predict(&in, pr, &err) == 0, "%s", err.msg);
}

static char *text_of(const pp_prediction *pr, double tokens) {
    char *buf = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&buf, &len);
    ck_assert(f != NULL);
    pp_prediction_print_text(f, pr, "the what line", tokens);
    fclose(f);
    return buf;
}

static char *json_of(const pp_prediction *pr, const pp_sched *s) {
    pp_err err = {0};
    pp_jw w;
    pp_jw_init(&w);
    pp_prediction_write_json(&w, pr, "the what line", s);
    char *text;
    size_t len;
    ck_assert_msg(pp_jw_finish(&w, &text, &len, &err) == 0, "%s", err.msg);
    return text;
}

START_TEST(text_figures) {
    pp_sched s;
    pp_prediction pr;
    predict_1f1b(&s, 0, &pr);
    char *t = text_of(&pr, 0);
    ck_assert_msg(strncmp(t, "the what line\ncosts: unit costs", 31) == 0, "%s", t);
    ck_assert_msg(strstr(t, "\niteration time   15 s\n") != NULL, "%s", t);
    ck_assert(strstr(t, "throughput") == NULL);
    ck_assert(strstr(t, "bubble           0.2000 of the total") != NULL);
    ck_assert(strstr(t, "    1           12            3    0.2000") != NULL);
    /* The critical path crosses ranks; it starts at 0 and ends with the step. */
    ck_assert(strstr(t, "rank changes, from t = 0 to 15\n") != NULL);
    free(t);
    t = text_of(&pr, 64);
    ck_assert(strstr(t, "\nthroughput       ") != NULL);
    free(t);
    pp_prediction_free(&pr);
    pp_sched_free(&s);
}
END_TEST

START_TEST(json_figures) {
    pp_sched s;
    pp_prediction pr;
    predict_1f1b(&s, 0, &pr);
    char *j = json_of(&pr, &s);
    ck_assert(strstr(j, "\"what\": \"the what line\"") != NULL);
    ck_assert(strstr(j, "\"iteration_s\": 15.0") != NULL);
    ck_assert(strstr(j, "\"n_actions\": ") != NULL);
    ck_assert(strstr(j, "\"bubble_idle_over_total\": 0.2") != NULL);
    ck_assert(strstr(j, "activation_timeline") == NULL);
    /* The first action on the critical path is rank 0's first forward. */
    ck_assert_msg(strstr(j, "[0, \"0F0\", 0.0, 1.0]") != NULL, "%s", j);
    free(j);
    pp_prediction_free(&pr);
    pp_sched_free(&s);
    predict_1f1b(&s, 1, &pr);
    j = json_of(&pr, &s);
    ck_assert(strstr(j, "\"static_bytes\"") != NULL);
    ck_assert(strstr(j, "\"activation_timeline\"") != NULL);
    free(j);
    pp_prediction_free(&pr);
    pp_sched_free(&s);
}
END_TEST

START_TEST(descriptions) {
    char buf[256];
    pp_plan plan;
    memset(&plan, 0, sizeof plan);
    snprintf(plan.model.name, sizeof plan.model.name, "gpt2-tiny");
    snprintf(plan.schedule_name, sizeof plan.schedule_name, "zbh1");
    plan.pp = 2, plan.dp = 3, plan.n_stages = 4, plan.n_microbatches = 8;
    pp_predict_describe_plan(buf, sizeof buf, "p.json", &plan);
    ck_assert_str_eq(buf, "plan p.json: gpt2-tiny, pp 2 x dp 3, 4 stages, schedule zbh1, 8 microbatches");
    pp_sched s;
    pp_err err = {0};
    ck_assert(pp_schedule_generate(PP_SCHEDULE_INTERLEAVED, 2, 4, 2, &s, &err) == 0);
    pp_predict_describe_table(buf, sizeof buf, "t.csv", &s, 1);
    ck_assert_str_eq(buf, "schedule t.csv: 2 ranks, 4 stages, 4 microbatches (legacy naming)");
    pp_predict_describe_table(buf, sizeof buf, "t.csv", &s, 0);
    ck_assert(strstr(buf, "(current naming)") != NULL);
    pp_sched_free(&s);
}
END_TEST

START_TEST(layout_and_whatif) {
    pp_sched s;
    pp_err err = {0};
    pp_graph g;
    memset(&g, 0, sizeof g);
    ck_assert(pp_schedule_generate(PP_SCHEDULE_GPIPE, 2, 6, 1, &s, &err) == 0);
    pp_predict_input in;
    pp_predict_input_init(&in);
    pp_predict_input_layout(&in, &s, &g, 3, 2, 128);
    ck_assert(in.sched == &s && in.g == &g && in.dp == 3);
    ck_assert_double_eq(in.samples_per_step, 2.0 * 6 * 3);
    ck_assert_double_eq(in.tokens_per_step, 2.0 * 6 * 3 * 128);
    pp_predict_input_layout(&in, &s, NULL, 3, 2, 128);
    ck_assert(in.g == NULL);
    ck_assert_double_eq(in.samples_per_step, 0);
    ck_assert_double_eq(in.tokens_per_step, 0);
    pp_predict_input_whatif(&in, 2, 5, 80);
    ck_assert_double_eq_tol(in.flops_per_s, 2e12, 1);
    ck_assert_double_eq_tol(in.link_alpha_s, 5e-6, 1e-18);
    ck_assert_double_eq_tol(in.link_beta_Bps, 1e10, 1e-3);
    pp_predict_input_whatif(&in, 0, -1, 0);
    ck_assert_double_eq(in.flops_per_s, 0);
    ck_assert_double_eq(in.link_alpha_s, -1);
    ck_assert_double_eq(in.link_beta_Bps, 0);
    pp_predict_input_whatif(&in, 0, 0, 0); /* a zero latency is a what-if figure */
    ck_assert_double_eq(in.link_alpha_s, 0);
    pp_sched_free(&s);
}
END_TEST

static Suite *print_suite(void) {
    Suite *s = suite_create("predict_print");
    TCase *tc = tcase_create("print");
    tcase_add_test(tc, text_figures);
    tcase_add_test(tc, json_figures);
    tcase_add_test(tc, descriptions);
    tcase_add_test(tc, layout_and_whatif);
    suite_add_tcase(s, tc);
    return s;
}

int main(void) {
    return pp_test_run(print_suite());
}
