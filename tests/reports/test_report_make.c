/*
 * test_report_make.c -- a report assembled (reports/pp_report_make.h):
 * series built from a callback, the predicted side with its activation
 * timeline, the run's steps, the measured step chosen and its note, the
 * page's input from the parts (with and without a run), the Chrome trace
 * files, and the predicted and measured throughput tables.
 */
#include "core/pp_sched.h"
#include "core/pp_trace.h"
#include "reports/pp_report_make.h"

#include <check.h>

#include "tests/pp_test.h"
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

static pp_trace_event ev(int rank, pp_act_type a, int stage, double t0, double t1) {
    return (pp_trace_event){.rank = rank, .stream = PP_STREAM_COMPUTE, .action = a, .stage = stage, .start = t0,
                            .end = t1};
}

/* Point (10 k + j, 100 k + j). */
static pp_report_point at(const void *ctx, int k, int j) {
    ck_assert_ptr_eq(ctx, (const void *)"ctx");
    return (pp_report_point){10 * k + j, 100 * k + j};
}

START_TEST(series_from_callback) {
    pp_err err = {0};
    pp_report_series *s;
    pp_report_point *q;
    const int n[] = {2, 0, 3};
    static const char *c = "ctx";
    ck_assert_int_eq(pp_report_series_build(3, n, at, c, &s, &q, &err), 0);
    ck_assert_int_eq(s[0].n, 2);
    ck_assert_int_eq(s[1].n, 0);
    ck_assert_int_eq(s[2].n, 3);
    ck_assert_ptr_eq(s[0].pts, q);
    ck_assert_ptr_eq(s[2].pts, q + 2); /* one array, series after series */
    ck_assert_double_eq(s[0].pts[1].x, 1);
    ck_assert_double_eq(s[2].pts[2].x, 22);
    ck_assert_double_eq(s[2].pts[2].y, 202);
    ck_assert_ptr_null(s[0].name);
    free(s), free(q);
    /* No counts: every series empty. */
    ck_assert_int_eq(pp_report_series_build(2, NULL, at, c, &s, &q, &err), 0);
    ck_assert(s[0].n == 0 && s[1].n == 0);
    free(s), free(q);
}
END_TEST

/* Two ranks, one stage each; rank 1 busy 0.25 s beyond its compute. */
typedef struct fixture {
    pp_trace sim;
    double busy[2], end[2], total[2], act[2], stage_t[6];
    pp_report_sim in;
} fixture;

static void fixture_init(fixture *f) {
    pp_err err = {0};
    pp_trace_init(&f->sim);
    ck_assert_int_eq(pp_trace_add(&f->sim, ev(0, PP_ACT_F, 0, 0, 1), &err), 0);
    ck_assert_int_eq(pp_trace_add(&f->sim, ev(1, PP_ACT_F, 1, 1, 2), &err), 0);
    const double busy[] = {1, 1.25}, end[] = {1, 2}, total[] = {10, 20}, act[] = {4, 5};
    const double stage_t[] = {1, 2, 3, 1, 0.5, 0.25};
    memcpy(f->busy, busy, sizeof busy), memcpy(f->end, end, sizeof end), memcpy(f->total, total, sizeof total);
    memcpy(f->act, act, sizeof act), memcpy(f->stage_t, stage_t, sizeof stage_t);
    f->in = (pp_report_sim){.n_ranks = 2, .n_stages = 2, .iteration_s = 2, .tokens_per_s = 500, .trace = &f->sim,
                            .busy = f->busy, .end = f->end, .peak_total_bytes = f->total,
                            .peak_act_bytes = f->act, .stage_t = f->stage_t};
}

static void plan_init(pp_plan *p, pp_plan_stage *st) {
    memset(p, 0, sizeof *p);
    snprintf(p->model.name, sizeof p->model.name, "m");
    snprintf(p->schedule_name, sizeof p->schedule_name, "1f1b");
    p->pp = 2, p->dp = 1, p->n_microbatches = 4, p->micro_batch = 2, p->seq_len = 32, p->global_batch = 8;
    st[0] = (pp_plan_stage){.rank = 0}, st[1] = (pp_plan_stage){.rank = 1};
    p->stages = st, p->n_stages = 2;
}

START_TEST(predicted_only) {
    fixture f;
    fixture_init(&f);
    pp_report_parts o;
    memset(&o, 0, sizeof o);
    pp_err err = {0};
    const int n[] = {1, 0};
    ck_assert_int_eq(pp_report_parts_predict(&o, &f.in, n, at, "ctx", &err), 0);
    ck_assert_ptr_eq(o.sim.act_bytes, o.act);
    ck_assert_int_eq(o.act[0].n, 1);
    ck_assert_int_eq(o.pred.trace.n, 3); /* rank 1's optimizer bar added */
    ck_assert_double_eq(o.pred.memory[0].pts[0].y, 6);   /* 0 + (10 - 4) */
    ck_assert_double_eq(o.pred.stage_fb[1], 5);
    pp_plan p;
    pp_plan_stage st[2];
    plan_init(&p, st);
    snprintf(o.note, sizeof o.note, "no run");
    pp_report_input in;
    ck_assert_int_eq(pp_report_parts_input(&o, &p, "h", &in, &err), 0);
    ck_assert_str_eq(in.plan_hash, "h");
    ck_assert_ptr_eq(in.stage_rank, o.stage_rank);
    ck_assert(in.pred.present && !in.meas.present);
    ck_assert_double_eq(in.pred.iteration_s, 2);
    ck_assert_double_eq(in.pred.tokens_per_s, 500);
    ck_assert_ptr_eq(in.pred.busy_s, f.busy);
    ck_assert_ptr_eq(in.pred.peak_bytes, f.total);
    ck_assert_ptr_eq(in.pred.trace, &o.pred.trace);
    ck_assert_ptr_eq(in.pred_memory, o.pred.memory);
    ck_assert(in.run_id == 0 && in.run_date == NULL && in.run_step == -1);
    ck_assert_double_eq(in.meas.iteration_s, 0);
    ck_assert_double_eq(in.meas.tokens_per_s, 0);
    ck_assert_str_eq(in.note, "no run");
    ck_assert_str_eq(in.step_choice, "");
    ck_assert(in.cost_src == NULL && in.link_src == NULL && in.gnuplot == NULL);
    /* Chrome traces: the predicted one only (the simulator's 2 events). */
    char dir[256], path[512];
    pp_test_tmpdir(dir, sizeof dir, "report_make");
    ck_assert_int_eq(pp_report_parts_chrome(&o, dir, &err), 0);
    struct stat s;
    snprintf(path, sizeof path, "%s/predicted-trace.json", dir);
    ck_assert_int_eq(stat(path, &s), 0);
    ck_assert(s.st_size > 0);
    snprintf(path, sizeof path, "%s/measured-trace.json", dir);
    ck_assert_int_ne(stat(path, &s), 0);
    pp_test_rmtree(dir);
    pp_report_parts_free(&o);
    ck_assert_ptr_null(o.act);
    pp_report_parts_free(&o); /* again: nothing left */
    pp_trace_free(&f.sim);
}
END_TEST

START_TEST(measured_step) {
    fixture f;
    fixture_init(&f);
    pp_report_parts o;
    memset(&o, 0, sizeof o);
    pp_err err = {0};
    ck_assert_int_eq(pp_report_parts_predict(&o, &f.in, NULL, at, "ctx", &err), 0);
    /* Steps 0..2 of 3, 2 and 4 s: step 1 of 1..2 would be the median; asked
     * for step 2, which stored one event; step 0's events are left out of
     * the stage means. */
    const pp_run_event e[] = {
        {0, ev(0, PP_ACT_F, 0, 0, 3)},
        {1, ev(0, PP_ACT_F, 0, 5, 5.5)},
        {2, ev(1, PP_ACT_F, 1, 9, 9.75)},
    };
    const pp_run_rank rows[] = {{.rank = 1, .peak_bytes = 64}};
    const int step_no[] = {0, 1, 2};
    const double step_s[] = {3, 2, 4};
    pp_report_run_data rd = {.ev = e, .n_ev = 3, .ranks = rows, .n_rank_rows = 1, .step = 99, .first_step = 99,
                             .n_steps = 99, .n_stages = 2, .n_ranks = 2};
    ck_assert_int_eq(pp_report_parts_steps(&o, 3, &err), 0);
    ck_assert_int_eq(o.n_steps, 3);
    ck_assert(o.step_no[2] == 0 && o.step_s[2] == 0);
    memcpy(o.step_no, step_no, sizeof step_no), memcpy(o.step_s, step_s, sizeof step_s);
    ck_assert_int_eq(pp_report_parts_measure(&o, &rd, 2, 7, "2026-01-01", &err), 0);
    ck_assert(o.have_run && o.step == 2 && o.run_id == 7);
    ck_assert_double_eq(o.iteration_s, 4);
    ck_assert_str_eq(o.choice, "chosen with --step");
    ck_assert_str_eq(o.note, "");
    ck_assert_int_eq(o.meas.trace.n, 1);
    ck_assert_double_eq(o.meas.trace.ev[0].start, 0); /* rebased */
    ck_assert_double_eq_tol(o.meas.busy[1], 0.75, 1e-12);
    ck_assert_double_eq(o.meas.peak_bytes[1], 64);
    ck_assert(isnan(o.meas.peak_bytes[0]));
    ck_assert_double_eq_tol(o.meas.stage_fb[0], 0.5, 1e-12); /* step 0 left out */
    pp_plan p;
    pp_plan_stage st[2];
    plan_init(&p, st);
    pp_report_input in;
    ck_assert_int_eq(pp_report_parts_input(&o, &p, "h", &in, &err), 0);
    ck_assert(in.meas.present && in.run_id == 7 && in.run_step == 2);
    ck_assert_str_eq(in.run_date, "2026-01-01");
    ck_assert_double_eq(in.meas.iteration_s, 4);
    ck_assert_double_eq(in.meas.tokens_per_s, 64); /* 8 x 32 / 4 */
    ck_assert_ptr_eq(in.meas.trace, &o.meas.trace);
    ck_assert_ptr_eq(in.meas.busy_s, o.meas.busy);
    char dir[256], path[512];
    pp_test_tmpdir(dir, sizeof dir, "report_make");
    ck_assert_int_eq(pp_report_parts_chrome(&o, dir, &err), 0);
    struct stat s;
    snprintf(path, sizeof path, "%s/measured-trace.json", dir);
    ck_assert_int_eq(stat(path, &s), 0);
    pp_test_rmtree(dir);
    /* A folder that is not there: the error of the first file. */
    ck_assert_int_eq(pp_report_parts_chrome(&o, "/nonexistent/dir", &err), -1);
    ck_assert(err.msg[0] != 0);
    pp_report_parts_free(&o);

    /* Median choice; the shown step stored no event: the note says so. */
    memset(&o, 0, sizeof o);
    const pp_run_event e2[] = {{0, ev(0, PP_ACT_F, 0, 0, 3)}};
    rd.ev = e2, rd.n_ev = 1;
    ck_assert_int_eq(pp_report_parts_steps(&o, 3, &err), 0);
    memcpy(o.step_no, step_no, sizeof step_no), memcpy(o.step_s, step_s, sizeof step_s);
    ck_assert_int_eq(pp_report_parts_measure(&o, &rd, -1, 7, "d", &err), 0);
    ck_assert(o.have_run && o.step == 1);
    ck_assert_str_eq(o.note, "Run 7 stored no events for step 1: its timeline is empty.");
    pp_report_parts_free(&o);

    /* A step the run does not have: an error. No step at all: no run shown. */
    memset(&o, 0, sizeof o);
    ck_assert_int_eq(pp_report_parts_steps(&o, 3, &err), 0);
    memcpy(o.step_no, step_no, sizeof step_no), memcpy(o.step_s, step_s, sizeof step_s);
    ck_assert_int_eq(pp_report_parts_measure(&o, &rd, 5, 7, "d", &err), -1);
    ck_assert(!o.have_run);
    ck_assert_int_eq(pp_report_parts_steps(&o, 0, &err), 0);
    ck_assert(o.n_steps == 0 && o.step_no != NULL);
    ck_assert_int_eq(pp_report_parts_measure(&o, &rd, -1, 7, "d", &err), 0);
    ck_assert(!o.have_run);
    ck_assert(o.note[0] != 0);
    pp_report_parts_free(&o);
    pp_trace_free(&f.sim);
}
END_TEST

START_TEST(throughput_tables) {
    pp_err err = {0};
    pp_report_tput t;
    const char *names[] = {"gpipe", "1f1b"};
    const int ms[] = {2, 4, 8};
    const double v[] = {10, -1, 30, 11, 21, -1}; /* -1: a point the search could not make */
    ck_assert_int_eq(pp_report_tput_table(&t, names, 2, ms, 3, v, &err), 0);
    ck_assert_int_eq(t.n, 2);
    ck_assert_ptr_eq(t.series[0].name, names[0]);
    ck_assert_int_eq(t.series[0].n, 2);
    ck_assert_double_eq(t.series[0].pts[1].x, 8);
    ck_assert_double_eq(t.series[0].pts[1].y, 30);
    ck_assert_int_eq(t.series[1].n, 2);
    ck_assert_double_eq(t.series[1].pts[1].x, 4);
    ck_assert_double_eq(t.series[1].pts[1].y, 21);
    pp_report_tput_free(&t);
    /* Measured: runs like the plan (model m, pp 2, dp 1, micro-batch 2,
     * sequence 32); another dp and another model are left out. */
    pp_plan p;
    pp_plan_stage st[2];
    plan_init(&p, st);
    const pp_report_run runs[] = {
        {.plan_hash = "h", .model = "m", .schedule = "1f1b", .status = "ok", .pp = 2, .dp = 1, .micro_batch = 2,
         .seq_len = 32, .n_microbatches = 4, .steps = 3, .tokens_per_s = 100},
        {.plan_hash = "h", .model = "m", .schedule = "1f1b", .status = "ok", .pp = 2, .dp = 2, .micro_batch = 2,
         .seq_len = 32, .n_microbatches = 4, .steps = 3, .tokens_per_s = 999},
        {.plan_hash = "h", .model = "x", .schedule = "gpipe", .status = "ok", .pp = 2, .dp = 1, .micro_batch = 2,
         .seq_len = 32, .n_microbatches = 4, .steps = 3, .tokens_per_s = 999},
    };
    pp_report_parts o;
    memset(&o, 0, sizeof o);
    ck_assert_int_eq(pp_report_parts_measured_tput(&o, runs, 3, &p, &err), 0);
    ck_assert_int_eq(o.tm.n, 1);
    ck_assert_str_eq(o.tm.series[0].name, "1f1b");
    ck_assert_int_eq(o.tm.series[0].n, 1);
    ck_assert_double_eq(o.tm.series[0].pts[0].x, 4);
    ck_assert_double_eq(o.tm.series[0].pts[0].y, 100);
    pp_report_parts_free(&o);
}
END_TEST

static Suite *suite(void) {
    Suite *s = suite_create("report_make");
    TCase *tc = tcase_create("make");
    tcase_add_test(tc, series_from_callback);
    tcase_add_test(tc, predicted_only);
    tcase_add_test(tc, measured_step);
    tcase_add_test(tc, throughput_tables);
    suite_add_tcase(s, tc);
    return s;
}

int main(void) { return pp_test_run(suite()); }
